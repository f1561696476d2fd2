#include "dl/core/fsm.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "dl/core/duration.hpp"
#include "dl/core/event.hpp"
#include "dl/core/timer_registry.hpp"

namespace dl::core {

// ---- FsmSpecBase ------------------------------------------------------------------------------

FsmSpecBase::FsmSpecBase(std::string entity, std::vector<std::string> states, std::vector<std::string> events,
                         std::vector<detail::FsmRawRow> rows, std::uint16_t timeout_event, Invoke invoke,
                         detail::FsmRawAction observer, Observe observe)
    : entity_(std::move(entity)),
      states_(std::move(states)),
      events_(std::move(events)),
      rows_(std::move(rows)),
      timeout_event_(timeout_event),
      invoke_(invoke),
      observer_(observer),
      observe_(observe) {
    const auto bad = [this](const std::string& why) {
        return std::invalid_argument(fmt::format("FSM '{}': {}", entity_, why));
    };
    if (entity_.empty()) throw std::invalid_argument("FSM: empty entity name");
    if (states_.empty() || events_.empty()) throw bad("needs at least one state and one event");
    if (states_.size() >= kNoEvent) throw bad("too many states");
    if (events_.size() > 64) throw bad("more than 64 events (the allowed-event mask is 64 bits)");
    for (const auto& n : states_)
        if (n.empty()) throw bad("empty state name");
    for (const auto& n : events_)
        if (n.empty()) throw bad("empty event name");
    if (timeout_event_ != kNoEvent && timeout_event_ >= events_.size()) throw bad("timeout event out of range");
    index_.assign(states_.size() * events_.size(), -1);
    masks_.assign(states_.size(), 0);
    for (std::size_t i = 0; i < rows_.size(); ++i) {
        const auto& r = rows_[i];
        if (r.state >= states_.size() || r.next >= states_.size() || r.event >= events_.size())
            throw bad(fmt::format("row {}: state or event out of range", i));
        auto& slot = index_[r.state * events_.size() + r.event];
        if (slot != -1)
            throw bad(fmt::format("row {}: second row for {{{}, {}}}", i, states_[r.state], events_[r.event]));
        slot = static_cast<std::int32_t>(i);
        masks_[r.state] |= std::uint64_t{1} << r.event;
        if (!r.timer.empty() && timeout_event_ == kNoEvent)
            throw bad(fmt::format("row {} arms timer '{}' but the FSM has no timeout event", i, r.timer));
    }
}

std::string_view FsmSpecBase::state_name(std::uint16_t s) const {
    if (s >= states_.size()) throw std::out_of_range(fmt::format("FSM '{}': state {} out of range", entity_, s));
    return states_[s];
}

std::string_view FsmSpecBase::event_name(std::uint16_t e) const {
    if (e >= events_.size()) throw std::out_of_range(fmt::format("FSM '{}': event {} out of range", entity_, e));
    return events_[e];
}

std::uint64_t FsmSpecBase::allowed_mask(std::uint16_t s) const {
    if (s >= states_.size()) throw std::out_of_range(fmt::format("FSM '{}': state {} out of range", entity_, s));
    return masks_[s];
}

bool FsmSpecBase::allowed(std::uint16_t s, std::uint16_t e) const noexcept { return find(s, e) != nullptr; }

const detail::FsmRawRow* FsmSpecBase::find(std::uint16_t s, std::uint16_t e) const noexcept {
    if (s >= states_.size() || e >= events_.size()) return nullptr;
    const std::int32_t i = index_[s * events_.size() + e];
    return i < 0 ? nullptr : &rows_[static_cast<std::size_t>(i)];
}

std::string FsmSpecBase::describe() const {
    std::string out;
    for (const auto& r : rows_) {
        out += fmt::format("{} + {} -> {}", states_[r.state], events_[r.event], states_[r.next]);
        if (r.action != nullptr) out += " (action)";
        if (!r.timer.empty()) out += fmt::format(" [timer {}]", r.timer);
        out += '\n';
    }
    return out;
}

// ---- FsmBase ----------------------------------------------------------------------------------

FsmBase::FsmBase(const FsmSpecBase& spec, FsmEnv env, void* owner, std::string id, std::uint16_t initial)
    : spec_(&spec), env_(env), owner_(owner), id_(std::move(id)), state_(initial) {
    if (initial >= spec.state_count())
        throw std::invalid_argument(fmt::format("FSM '{}': initial state {} out of range", spec.entity(), initial));
    if (env_.timers != nullptr) timer_.bind(*env_.timers);
}

bool FsmBase::dispatch_raw(std::uint16_t event, std::string_view cause) {
    if (event >= spec_->event_count())
        throw std::out_of_range(fmt::format("FSM '{}': event {} out of range", spec_->entity(), event));
    if (in_dispatch_) {
        pending_.emplace_back(event, std::string(cause));
        return false;
    }
    started_ = true;
    bool result = false;
    in_dispatch_ = true;
    try {
        result = process(event, cause);
        for (std::size_t i = 0; i < pending_.size(); ++i) {  // pending_ may grow while we iterate
            const auto [ev, c] = pending_[i];
            process(ev, c);
        }
    } catch (...) {
        pending_.clear();
        in_dispatch_ = false;
        throw;
    }
    pending_.clear();
    pending_.shrink_to_fit();  // 100 000 idle instances should not keep queue capacity
    in_dispatch_ = false;
    return result;
}

void FsmBase::start_raw(std::uint16_t event, std::string_view cause, std::string_view timer,
                        std::optional<Duration> d) {
    if (event >= spec_->event_count())
        throw std::out_of_range(fmt::format("FSM '{}': event {} out of range", spec_->entity(), event));
    if (started_)
        throw std::logic_error(fmt::format("FSM '{}' {}: start() after start() or dispatch()", spec_->entity(), id_));
    Duration dur{};
    if (!timer.empty()) {
        if (spec_->timeout_event_ == FsmSpecBase::kNoEvent)
            throw std::logic_error(fmt::format("FSM '{}': start() with timer '{}' but the FSM has no timeout event",
                                               spec_->entity(), timer));
        if (timer_.queue() == nullptr)
            throw std::logic_error(
                fmt::format("FSM '{}': timer '{}' but no TimerQueue in FsmEnv", spec_->entity(), timer));
        if (d) {
            dur = *d;
        } else if (env_.registry != nullptr) {
            dur = env_.registry->get(std::string(timer));
        } else {
            throw std::logic_error(fmt::format("FSM '{}': timer '{}' has no duration and FsmEnv has no registry",
                                               spec_->entity(), timer));
        }
    }
    started_ = true;
    std::optional<TimerArmed> armed;
    if (!timer.empty()) {
        timer_.start(dur, [this] { on_timeout(); });
        timer_name_ = std::string(timer);
        armed = TimerArmed{timer_name_, dur};
    }
    observe({true, state_, state_, event, cause, true});
    if (env_.bus != nullptr && env_.bus->has_subscribers()) {
        Event e;
        e.entity = spec_->entity();
        e.id = id_;
        e.to = spec_->states_[state_];
        e.event = spec_->events_[event];
        e.cause = std::string(cause);
        e.timer = std::move(armed);
        env_.bus->publish(std::move(e));
    }
}

bool FsmBase::process(std::uint16_t event, std::string_view cause) {
    const detail::FsmRawRow* row = spec_->find(state_, event);
    if (row == nullptr) {
        ++not_permitted_;
        spec_->not_permitted_.fetch_add(1, std::memory_order_relaxed);
        observe({false, state_, state_, event, cause, false});
        if (env_.bus != nullptr && env_.bus->has_subscribers()) {
            Event e;
            e.entity = spec_->entity();
            e.id = id_;
            e.from = spec_->states_[state_];
            e.to = e.from;
            e.event = spec_->events_[event];
            e.cause = std::string(cause);
            e.permitted = false;
            env_.bus->publish(std::move(e));
        }
        return false;
    }

    detail::FsmRawStep step{state_, event, row->next, cause, row->timer, std::nullopt};
    if (row->action != nullptr) spec_->invoke_(row->action, owner_, step);
    if (step.next >= spec_->state_count())
        throw std::logic_error(fmt::format("FSM '{}': action redirected to state {} out of range", spec_->entity(),
                                           step.next));

    // Resolve the timer before changing anything, so a configuration error leaves the FSM as it was.
    Duration d{};
    if (!step.timer.empty()) {
        if (timer_.queue() == nullptr)
            throw std::logic_error(fmt::format("FSM '{}': timer '{}' but no TimerQueue in FsmEnv", spec_->entity(),
                                               step.timer));
        if (step.timer_duration) {
            d = *step.timer_duration;
        } else if (env_.registry != nullptr) {
            d = env_.registry->get(step.timer);
        } else {
            throw std::logic_error(fmt::format("FSM '{}': timer '{}' has no duration and FsmEnv has no registry",
                                               spec_->entity(), step.timer));
        }
    }

    const std::uint16_t from = state_;
    if (step.next != from || !step.timer.empty()) {
        timer_.cancel();
        timer_name_.clear();
    }
    state_ = step.next;

    std::optional<TimerArmed> armed;
    if (!step.timer.empty()) {
        timer_.start(d, [this] { on_timeout(); });
        timer_name_ = step.timer;
        armed = TimerArmed{step.timer, d};
    }

    observe({false, from, state_, event, cause, true});
    if (env_.bus != nullptr && env_.bus->has_subscribers()) {
        Event e;
        e.entity = spec_->entity();
        e.id = id_;
        e.from = spec_->states_[from];
        e.to = spec_->states_[state_];
        e.event = spec_->events_[event];
        e.cause = std::string(cause);
        e.timer = std::move(armed);
        env_.bus->publish(std::move(e));
    }
    return true;
}

void FsmBase::on_timeout() {
    const std::string cause = timer_name_ + " expired";
    dispatch_raw(spec_->timeout_event_, cause);
}

}  // namespace dl::core
