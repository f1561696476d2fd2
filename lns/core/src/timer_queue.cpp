#include "dl/core/timer_queue.hpp"

#include <stdexcept>
#include <utility>

namespace dl::core {

// ---- TimerQueue: an indexed binary min-heap over (deadline, seq) ----------------------------

void TimerQueue::place(std::size_t i, const Entry& e) noexcept {
    heap_[i] = e;
    slots_[e.slot].heap_pos = static_cast<std::uint32_t>(i);
}

void TimerQueue::sift_up(std::size_t i) noexcept {
    const Entry e = heap_[i];
    while (i > 0) {
        const std::size_t parent = (i - 1) / 2;
        if (!before(e, heap_[parent])) break;
        place(i, heap_[parent]);
        i = parent;
    }
    place(i, e);
}

void TimerQueue::sift_down(std::size_t i) noexcept {
    const std::size_t n = heap_.size();
    const Entry e = heap_[i];
    for (;;) {
        std::size_t child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && before(heap_[child + 1], heap_[child])) ++child;
        if (!before(heap_[child], e)) break;
        place(i, heap_[child]);
        i = child;
    }
    place(i, e);
}

void TimerQueue::remove_at(std::size_t i) noexcept {
    const std::size_t last = heap_.size() - 1;
    if (i != last) {
        const Entry moved = heap_[last];
        heap_.pop_back();
        place(i, moved);
        if (i > 0 && before(moved, heap_[(i - 1) / 2])) {
            sift_up(i);
        } else {
            sift_down(i);
        }
    } else {
        heap_.pop_back();
    }
}

void TimerQueue::free_slot(std::uint32_t s) noexcept {
    Slot& slot = slots_[s];
    slot.cb = nullptr;
    if (++slot.generation == 0) slot.generation = 1;  // 0 is reserved for null handles
    slot.heap_pos = free_head_;
    free_head_ = s;
}

TimerId TimerQueue::arm_at(TimePoint deadline, Callback cb) {
    if (!cb) throw std::invalid_argument("TimerQueue::arm_at: empty callback");
    std::uint32_t s;
    if (free_head_ != kNoSlot) {
        s = free_head_;
        free_head_ = slots_[s].heap_pos;
    } else {
        if (slots_.size() >= kNoSlot - 1) throw std::length_error("TimerQueue: too many timers");
        s = static_cast<std::uint32_t>(slots_.size());
        slots_.emplace_back();
    }
    slots_[s].cb = std::move(cb);
    heap_.push_back(Entry{to_ns(deadline), next_seq_++, s});
    sift_up(heap_.size() - 1);
    const TimerId id{s, slots_[s].generation};
    if (!in_run_ && wakeup_ && slots_[s].heap_pos == 0) wakeup_();
    return id;
}

bool TimerQueue::armed(TimerId id) const noexcept {
    return id.generation != 0 && id.slot < slots_.size() && slots_[id.slot].generation == id.generation &&
           slots_[id.slot].cb != nullptr;
}

bool TimerQueue::cancel(TimerId id) noexcept {
    if (!armed(id)) return false;
    remove_at(slots_[id.slot].heap_pos);
    free_slot(id.slot);
    return true;
}

std::optional<TimePoint> TimerQueue::deadline(TimerId id) const noexcept {
    if (!armed(id)) return std::nullopt;
    return TimePoint{Duration{heap_[slots_[id.slot].heap_pos].deadline_ns}};
}

std::optional<TimePoint> TimerQueue::next_deadline() const noexcept {
    if (heap_.empty()) return std::nullopt;
    return TimePoint{Duration{heap_.front().deadline_ns}};
}

std::size_t TimerQueue::run_due(TimePoint now, std::size_t limit) {
    const std::int64_t now_ns = to_ns(now);
    std::size_t fired = 0;
    const bool outer = !in_run_;
    in_run_ = true;
    struct Reset {
        bool& flag;
        bool outer;
        ~Reset() {
            if (outer) flag = false;
        }
    } reset{in_run_, outer};
    while (fired < limit && !heap_.empty() && heap_.front().deadline_ns <= now_ns) {
        const std::uint32_t s = heap_.front().slot;
        remove_at(0);
        Callback cb = std::move(slots_[s].cb);
        free_slot(s);  // the handle is invalid before the callback runs: cancel() in it is a no-op
        ++fired;
        cb();
    }
    return fired;
}

std::size_t TimerQueue::memory_bytes() const noexcept {
    return sizeof(*this) + slots_.capacity() * sizeof(Slot) + heap_.capacity() * sizeof(Entry);
}

void TimerQueue::reserve(std::size_t n) {
    slots_.reserve(n);
    heap_.reserve(n);
}

// ---- Timer ------------------------------------------------------------------------------------

Timer& Timer::operator=(Timer&& o) noexcept {
    if (this != &o) {
        cancel();
        q_ = o.q_;
        id_ = o.id_;
        armed_for_ = o.armed_for_;
        o.id_ = {};
    }
    return *this;
}

void Timer::bind(TimerQueue& q) noexcept {
    cancel();
    q_ = &q;
}

void Timer::start(Duration d, TimerQueue::Callback cb) {
    if (q_ == nullptr) throw std::logic_error("Timer::start: not bound to a TimerQueue");
    cancel();
    armed_for_ = d;
    id_ = q_->arm(d, std::move(cb));
}

void Timer::start_at(TimePoint deadline, TimerQueue::Callback cb) {
    if (q_ == nullptr) throw std::logic_error("Timer::start_at: not bound to a TimerQueue");
    cancel();
    armed_for_ = deadline - q_->now();
    id_ = q_->arm_at(deadline, std::move(cb));
}

bool Timer::cancel() noexcept {
    if (q_ == nullptr) return false;
    const bool was = q_->cancel(id_);
    id_ = {};
    return was;
}

Duration Timer::remaining() const noexcept {
    const auto dl = deadline();
    if (!dl) return Duration::zero();
    const Duration left = *dl - q_->now();
    return left > Duration::zero() ? left : Duration::zero();
}

std::optional<TimePoint> Timer::deadline() const noexcept {
    if (q_ == nullptr) return std::nullopt;
    return q_->deadline(id_);
}

// ---- VirtualTimeLoop --------------------------------------------------------------------------

std::size_t VirtualTimeLoop::advance(Duration d, std::size_t max_fires) {
    if (d < Duration::zero()) throw std::invalid_argument("VirtualTimeLoop::advance: negative duration");
    return advance_to(clock_.now() + d, max_fires);
}

std::size_t VirtualTimeLoop::advance_to(TimePoint t, std::size_t max_fires) {
    if (t < clock_.now()) throw std::invalid_argument("VirtualTimeLoop::advance_to: time in the past");
    std::size_t fired = 0;
    for (;;) {
        const auto next = timers_.next_deadline();
        if (!next || *next > t) break;
        if (*next > clock_.now()) clock_.set(*next);
        // One timer at a time so that a timer armed by a callback for an earlier (deadline, seq)
        // than the rest still fires first, with the clock at its own deadline.
        fired += timers_.run_due(clock_.now(), 1);
        if (fired > max_fires) {
            throw std::runtime_error("VirtualTimeLoop: more than max_fires timers fired; a timer re-arming "
                                     "itself with zero delay?");
        }
    }
    clock_.set(t);
    return fired;
}

std::size_t VirtualTimeLoop::run_until_idle(Duration horizon) {
    std::size_t fired = 0;
    const TimePoint end = clock_.now() + horizon;
    while (const auto next = timers_.next_deadline()) {
        if (*next > end) break;
        fired += advance_to(std::max(*next, clock_.now()));
    }
    return fired;
}

}  // namespace dl::core
