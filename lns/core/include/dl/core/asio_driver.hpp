// Drives a TimerQueue from a Boost.Asio event loop with a single OS timer.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

namespace boost::asio {
class io_context;
}

namespace dl::core {

class TimerQueue;

/// Keeps ONE boost::asio::steady_timer armed at `queue.next_deadline()`; when it expires, runs
/// `queue.run_due(queue.now())` and re-arms. Arming an earlier timer on the queue re-arms the OS
/// timer through TimerQueue::set_wakeup (so the queue must not have another wakeup hook). When the
/// earliest deadline moves later (its timer cancelled, a later one armed in its place) the OS timer
/// is left waiting for the earlier one: it wakes up once early, finds nothing due and is re-armed
/// then — one spurious wake-up instead of a re-arm (a timerfd_settime system call, Asio's epoll
/// reactor) each time a short timer is cancelled and replaced, which lnsd does several times per
/// dial-out call (RADIUS, PPP restart, L2TP delayed-ZLB timers).
/// A timer already due when it is armed (a zero delay: work deferred to the loop, which lnsd's
/// engines use several times per dial-out call) does not go through the OS timer: one run of the
/// due timers is posted on the io_context (boost::asio::post, after the handlers already queued;
/// at most one waits), saving the OS timer's arm, its reset after the wake-up and the wake-up.
/// The queue's clock should be SystemClock (the OS timer waits `deadline - clock.now()`).
/// Both objects must be used from the io_context's thread only. Destroying the driver detaches it.
class AsioTimerDriver {
public:
    AsioTimerDriver(boost::asio::io_context& io, TimerQueue& queue);
    ~AsioTimerDriver();
    AsioTimerDriver(const AsioTimerDriver&) = delete;
    AsioTimerDriver& operator=(const AsioTimerDriver&) = delete;

    /// Re-reads next_deadline() and re-arms the OS timer at it, even when that is later than the
    /// deadline it waits for (called automatically, without that; public for callers that
    /// cancelled many timers and want to avoid an early, harmless wake-up).
    void reschedule();

    /// Hands the runs of already-due timers to the owner instead of posting them on the
    /// io_context: `request` is called (once until the next run_due()) when a run is needed, and
    /// the owner calls run_due() soon after, from the io_context's thread — lnsd does at the end
    /// of each handler (dl::lnsd::PassEnd), so a zero-delay timer costs no posted handler and no
    /// extra pass of the reactor. An empty `request` posts them again (the default). A run that was
    /// posted before this call still runs once; one requested before an empty `request` is posted.
    void defer_due_runs(std::function<void()> request);
    /// Runs the already-due timers if a run was requested (defer_due_runs) and not yet run, then
    /// re-arms. Returns whether it ran. A timer callback's exception propagates (after the re-arm).
    bool run_due();

    /// Times the OS timer was armed (Asio steady_timer::expires_after).
    std::uint64_t arms() const noexcept;
    /// Wake-ups of the OS timer that found no queue timer due (its deadline had moved later).
    std::uint64_t early_wakeups() const noexcept;
    /// Runs of already-due timers posted on the io_context (or requested from the owner,
    /// defer_due_runs) instead of arming the OS timer.
    std::uint64_t posted_runs() const noexcept;

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace dl::core
