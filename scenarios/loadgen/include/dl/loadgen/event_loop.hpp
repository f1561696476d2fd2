// The load generator's event loop: posted handlers, the TimerQueue and its sockets' readiness in
// one epoll_pwait2(2) per pass, without a re-arm system call per wake-up and without an OS timer.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "dl/core/timer_queue.hpp"

namespace dl::loadgen {

/// Runs a generator's work on one thread: handlers posted on `io` (boost::asio::post; `io` is used
/// as a handler queue only — no Asio socket or timer may be created on it, so it has no reactor
/// and io.poll() makes no system call), the timers of `timers` (whose clock must be SystemClock's
/// steady clock), and the sockets given to watch().
///
/// Why not io_context::run() with Asio sockets and core::AsioTimerDriver: in Boost 1.74 every
/// re-arm of a socket's readiness wait costs an epoll_ctl(EPOLL_CTL_MOD) (a speculative receive
/// costs a recvfrom(2) that finds nothing instead), and the OS timer a timerfd_settime(2) per
/// change of the earliest deadline plus one to reset it after it fires. Here a socket is
/// registered once, level-triggered (EPOLLIN), and the earliest timer deadline is the wait's
/// timeout (nanoseconds, epoll_pwait2; where the kernel or valgrind lacks it, epoll_wait with the
/// timeout rounded up to a millisecond): a pass costs one epoll_pwait2 plus the I/O its handlers
/// do. A readiness handler need not empty its socket: what it leaves is reported on the next pass.
///
/// One pass: run every ready posted handler (`io.poll()`, including those they post), then the
/// pass-end hooks (at_pass_end), then wait
/// until a watched socket is readable or the earliest timer is due (no wait when one is due
/// already), then call the handler of every readable socket, then run every due timer; the
/// handlers these post run at the start of the next pass, together (so the datagrams both queue
/// leave in one posted flush). run() returns when `io` is stopped
/// (io.stop(), from any handler). std::system_error when epoll cannot be created, a socket
/// cannot be registered or the wait fails. Not thread-safe.
class EventLoop {
public:
    using Ready = std::function<void()>;
    struct Counters {
        std::uint64_t passes = 0;        ///< iterations of run()
        std::uint64_t waits = 0;         ///< epoll_pwait2 calls
        std::uint64_t ready = 0;         ///< readiness handlers called
        std::uint64_t timer_runs = 0;    ///< TimerQueue::run_due calls that fired a timer
        std::uint64_t registrations = 0; ///< epoll_ctl(EPOLL_CTL_ADD) calls (one per watch())
    };

    EventLoop(boost::asio::io_context& io, core::TimerQueue& timers);
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    /// Calls `on_readable` on every pass in which `fd` has data (level-triggered): the handler
    /// reads what it wants. The descriptor stays the caller's; unwatch() before closing it.
    void watch(int fd, Ready on_readable);
    /// Stops watching `fd` (no-op if not watched).
    void unwatch(int fd) noexcept;
    /// Calls `hook` on every pass once the posted handlers have run (io.poll() found none left),
    /// before the wait: e.g. a send queue's flush, one system call for everything the pass queued.
    /// Hooks run in the order added; one must not post (what it posts waits for the next wake-up).
    void at_pass_end(std::function<void()> hook) { pass_end_.push_back(std::move(hook)); }
    /// Runs passes until `io` is stopped; returns the number of passes.
    std::uint64_t run();

    const Counters& counters() const noexcept { return counters_; }

private:
    boost::asio::io_context& io_;
    core::TimerQueue& timers_;
    int epoll_fd_ = -1;
    bool pwait2_ = true;  ///< epoll_pwait2 available (else epoll_wait, millisecond timeouts)
    struct Watch {
        int fd = -1;
        Ready on_readable;
    };
    std::vector<std::function<void()>> pass_end_;
    std::deque<Watch> watches_;  ///< epoll_event.data.u32 is the index (deque: a watch() from a handler moves none)
    Counters counters_;
};

}  // namespace dl::loadgen
