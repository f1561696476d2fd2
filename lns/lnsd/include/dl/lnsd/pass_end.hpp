// The end of each handler of lnsd's event loop: where the work that lnsd defers "to the end of the
// pass" runs — already-due timers (zero-delay timers: effects deferred out of a call stack) and the
// senders' flushes (one sendmmsg per socket for what the handler queued) — before the loop polls
// its sockets again.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "dl/lnsd/pass_flush.hpp"

namespace boost::asio {
class io_context;
}

namespace dl::core {
class AsioTimerDriver;
}

namespace dl::lnsd {

/// Runs the work deferred to the end of a handler, after every handler of the io_context.
///
/// Why not a posted handler: Boost.Asio runs its reactor (an `epoll_wait` with no timeout) before
/// any handler posted by the handlers of the same pass, so every posted link of a chain — a RADIUS
/// answer whose effect is a zero-delay timer, whose effect queues an L2TP message, whose flush is
/// posted — cost one system call and one trip through the scheduler. Here the whole chain runs
/// right after the handler that started it: the due timers first (their effects queue datagrams),
/// then the flushes (one `sendmmsg` per socket), again until nothing is queued.
///
/// drive() replaces io_context::run(). post() is a PassFlush::Post (DataPath::defer_flush,
/// PassSender::defer, UdpEndpoint::defer_sends): what it queues runs in run(); a PassFlush keeps at
/// most one flush queued, so the queue holds at most one entry per sender. Nothing is allocated per
/// post while at most `reserve` works wait (the PassFlush works hold one pointer: std::function's
/// small buffer). Not thread-safe: the loop's thread only. The PassEnd must outlive the senders
/// that post to it, or they must stop posting (PassFlush::defer with an empty Post) first.
class PassEnd {
public:
    /// `reserve`: works that may wait at once without an allocation (≥ the number of senders).
    explicit PassEnd(std::size_t reserve = 16);
    /// Gives the due runs back to the driver (it posts them again): it may outlive this object.
    ~PassEnd();
    PassEnd(const PassEnd&) = delete;
    PassEnd& operator=(const PassEnd&) = delete;

    /// A PassFlush::Post that queues its work here (run by run(), after the due timers).
    PassFlush::Post post();
    /// The timer driver whose already-due runs this PassEnd takes over
    /// (AsioTimerDriver::defer_due_runs); nullptr: none.
    void drive_timers(core::AsioTimerDriver* driver);

    /// Runs the due timers (if the driver asked for a run), then the queued works, and again until
    /// nothing is queued. Returns the number of rounds that ran something (0: nothing was queued).
    /// A work or timer that throws leaves the rest queued for the next run() and propagates.
    std::size_t run();
    /// io_context::run() with run() after every handler (and once before the first): returns when
    /// `io` is stopped or out of work; an exception from a handler or a work propagates.
    void drive(boost::asio::io_context& io);
    /// drive() with interrupt moderation: after a wake-up that found work, the loop handles what is
    /// ready, then sleeps `moderation` (the CPU idles while datagrams queue in the sockets) and
    /// handles what came meanwhile in one pass, and so on while each sleep found work; a sleep that
    /// found nothing returns to blocking. Fewer wake-ups per datagram, at up to `moderation` more
    /// latency per step; zero: drive(io).
    void drive(boost::asio::io_context& io, std::chrono::nanoseconds moderation);

    /// Works queued and not yet run.
    std::size_t queued() const noexcept { return queued_.size(); }

private:
    std::vector<std::function<void()>> queued_, running_;
    core::AsioTimerDriver* driver_ = nullptr;
    bool timers_due_ = false;
};

}  // namespace dl::lnsd
