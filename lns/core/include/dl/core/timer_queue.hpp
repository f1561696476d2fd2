// One queue of timers for a whole process: 100 000 sessions never own an OS timer or a thread each;
// their timers are entries in a TimerQueue (docs/architecture.md "Timers registry").
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <vector>

#include "dl/core/clock.hpp"

namespace dl::core {

/// Handle to one armed timer in a TimerQueue. 8 bytes; copyable. A handle whose timer has fired or
/// been cancelled stays harmless: its generation no longer matches, so cancel() is a no-op and the
/// callback can never run twice or run after cancel ("never a dangling callback").
struct TimerId {
    std::uint32_t slot = 0;
    std::uint32_t generation = 0;  ///< 0 = never armed
    explicit operator bool() const noexcept { return generation != 0; }
    friend bool operator==(TimerId, TimerId) = default;
};

/// A min-heap of (deadline, arming sequence, callback) driven by an injected Clock.
///
/// - arm / arm_at: O(log n). cancel: O(log n) (indexed heap: each slot knows its heap position).
/// - run_due(now): fires every timer with deadline <= now, in deadline order and, for equal
///   deadlines, in arming order. A callback may arm and cancel timers re-entrantly (including its
///   own handle, which is already invalid when the callback runs); timers it arms with a deadline
///   <= now fire in the same call, after those already due with an earlier (deadline, sequence).
/// - Memory: about 64 bytes per armed timer (slot with callback + heap entry); slots are reused.
/// - Not thread-safe: one queue belongs to one event loop thread.
class TimerQueue {
public:
    using Callback = std::function<void()>;

    explicit TimerQueue(const Clock& clock) noexcept : clock_(&clock) {}
    TimerQueue(const TimerQueue&) = delete;
    TimerQueue& operator=(const TimerQueue&) = delete;

    const Clock& clock() const noexcept { return *clock_; }
    TimePoint now() const noexcept { return clock_->now(); }

    /// Arms a timer firing at `deadline` (a deadline in the past fires on the next run_due).
    TimerId arm_at(TimePoint deadline, Callback cb);
    /// Arms a timer firing `delay` after clock().now().
    TimerId arm(Duration delay, Callback cb) { return arm_at(clock_->now() + delay, std::move(cb)); }

    /// Cancels the timer; returns true if it was armed (false for fired, cancelled or null handles).
    bool cancel(TimerId id) noexcept;
    bool armed(TimerId id) const noexcept;
    /// Deadline of an armed timer; nullopt if the handle is not armed.
    std::optional<TimePoint> deadline(TimerId id) const noexcept;

    /// Earliest deadline among armed timers; nullopt when empty.
    std::optional<TimePoint> next_deadline() const noexcept;

    /// Fires due timers (deadline <= now) in (deadline, sequence) order, at most `limit` of them.
    /// Returns the number fired. An exception from a callback propagates; the queue stays valid.
    std::size_t run_due(TimePoint now, std::size_t limit = std::numeric_limits<std::size_t>::max());

    std::size_t size() const noexcept { return heap_.size(); }
    bool empty() const noexcept { return heap_.empty(); }
    /// Bytes held by the queue's own arrays (capacity), excluding heap memory owned by callbacks.
    std::size_t memory_bytes() const noexcept;
    void reserve(std::size_t n);

    /// Hook called when arming makes the new timer the earliest one, outside run_due; an event-loop
    /// driver (AsioTimerDriver) uses it to re-arm its single OS timer. Empty function = none.
    void set_wakeup(std::function<void()> hook) { wakeup_ = std::move(hook); }

private:
    struct Slot {
        Callback cb;
        std::uint32_t heap_pos = 0;  ///< index in heap_ when armed; next free slot when free
        std::uint32_t generation = 1;
    };
    struct Entry {
        std::int64_t deadline_ns;
        std::uint64_t seq;
        std::uint32_t slot;
    };
    static bool before(const Entry& a, const Entry& b) noexcept {
        return a.deadline_ns != b.deadline_ns ? a.deadline_ns < b.deadline_ns : a.seq < b.seq;
    }
    void sift_up(std::size_t i) noexcept;
    void sift_down(std::size_t i) noexcept;
    void place(std::size_t i, const Entry& e) noexcept;
    void remove_at(std::size_t i) noexcept;
    void free_slot(std::uint32_t s) noexcept;

    const Clock* clock_;
    std::vector<Slot> slots_;
    std::vector<Entry> heap_;
    std::uint32_t free_head_ = kNoSlot;
    std::uint64_t next_seq_ = 0;
    bool in_run_ = false;
    std::function<void()> wakeup_;
    static constexpr std::uint32_t kNoSlot = std::numeric_limits<std::uint32_t>::max();
};

/// A per-entity timer handle (24 bytes): at most one pending expiry, cancelled on destruction, so
/// an entity that is destroyed never gets a callback. Movable (the armed timer moves with it),
/// not copyable. Capture only what outlives the Timer in the callback (normally the owner `this`).
class Timer {
public:
    Timer() noexcept = default;
    explicit Timer(TimerQueue& q) noexcept : q_(&q) {}
    ~Timer() { cancel(); }
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;
    Timer(Timer&& o) noexcept : q_(o.q_), id_(o.id_), armed_for_(o.armed_for_) { o.id_ = {}; }
    Timer& operator=(Timer&& o) noexcept;

    /// Attaches to a queue (cancels anything armed on the previous queue).
    void bind(TimerQueue& q) noexcept;
    TimerQueue* queue() const noexcept { return q_; }

    /// (Re)arms: cancels a pending expiry, then fires `cb` after `d`. Needs a bound queue
    /// (std::logic_error otherwise).
    void start(Duration d, TimerQueue::Callback cb);
    /// (Re)arms at an absolute deadline; armed_for() becomes deadline - now.
    void start_at(TimePoint deadline, TimerQueue::Callback cb);
    /// Cancels; true if it was armed.
    bool cancel() noexcept;
    bool armed() const noexcept { return q_ != nullptr && q_->armed(id_); }
    /// Time left until expiry (>= 0); zero when not armed.
    Duration remaining() const noexcept;
    std::optional<TimePoint> deadline() const noexcept;
    /// The duration passed to the last start() (kept after expiry; for events and `show`).
    Duration armed_for() const noexcept { return armed_for_; }

private:
    TimerQueue* q_ = nullptr;
    TimerId id_{};
    Duration armed_for_{};
};
static_assert(sizeof(Timer) <= 32, "Timer must stay small: one per entity, 100 000 entities");

/// Virtual time for unit tests: a VirtualClock plus a TimerQueue on it. advance(d) moves the clock
/// to each due deadline in turn and fires the timers there, so callbacks see now() == their deadline.
class VirtualTimeLoop {
public:
    explicit VirtualTimeLoop(WallTime wall_base = WallTime{}) : clock_(wall_base), timers_(clock_) {}

    VirtualClock& clock() noexcept { return clock_; }
    TimerQueue& timers() noexcept { return timers_; }
    TimePoint now() const noexcept { return clock_.now(); }

    /// Advances virtual time by d (>= 0), firing everything due on the way; returns timers fired.
    /// Throws std::runtime_error if more than `max_fires` fire (a callback re-arming itself with
    /// zero delay would otherwise spin forever).
    std::size_t advance(Duration d, std::size_t max_fires = 10'000'000);
    /// Same, to an absolute time t >= now().
    std::size_t advance_to(TimePoint t, std::size_t max_fires = 10'000'000);
    /// Fires timers until the queue is empty or `horizon` of virtual time has passed.
    std::size_t run_until_idle(Duration horizon = std::chrono::hours(24 * 365));

private:
    VirtualClock clock_;
    TimerQueue timers_;
};

}  // namespace dl::core
