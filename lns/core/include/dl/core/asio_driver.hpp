// Drives a TimerQueue from a Boost.Asio event loop with a single OS timer.
#pragma once

#include <memory>

namespace boost::asio {
class io_context;
}

namespace dl::core {

class TimerQueue;

/// Keeps ONE boost::asio::steady_timer armed at `queue.next_deadline()`; when it expires, runs
/// `queue.run_due(queue.now())` and re-arms. Arming an earlier timer on the queue re-arms the OS
/// timer through TimerQueue::set_wakeup (so the queue must not have another wakeup hook).
/// The queue's clock should be SystemClock (the OS timer waits `deadline - clock.now()`).
/// Both objects must be used from the io_context's thread only. Destroying the driver detaches it.
class AsioTimerDriver {
public:
    AsioTimerDriver(boost::asio::io_context& io, TimerQueue& queue);
    ~AsioTimerDriver();
    AsioTimerDriver(const AsioTimerDriver&) = delete;
    AsioTimerDriver& operator=(const AsioTimerDriver&) = delete;

    /// Re-reads next_deadline() and re-arms the OS timer (called automatically; public for callers
    /// that cancelled many timers and want to avoid an early, harmless wake-up).
    void reschedule();

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace dl::core
