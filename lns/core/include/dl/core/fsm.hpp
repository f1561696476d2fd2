// Table-driven finite state machines (docs/architecture.md "FSM tables"; modelled on libosmocore's
// osmo_fsm). Each FSM is an explicit table of {state, event} -> {next state, action, timer} over
// `enum class` states and events with names. Light on templates: the table, lookup, timers and
// events live in non-template FsmSpecBase / FsmBase (fsm.cpp); FsmSpec<> and Fsm<> only cast types.
//
// Worked example (a door with an auto-close timer; see test/fsm_test.cpp for the full version):
//
//   enum class DoorState { closed, open };
//   enum class DoorEvent { push, pull, timer_expiry };
//   struct Door {
//       using Spec = dl::core::FsmSpec<Door, DoorState, DoorEvent>;
//       static const Spec& spec() {
//           static const Spec s{"toy.door", {"closed", "open"}, {"push", "pull", "timer-expiry"},
//               {{DoorState::closed, DoorEvent::push,         DoorState::open,   &Door::on_open, "door-close"},
//                {DoorState::open,   DoorEvent::pull,         DoorState::closed},
//                {DoorState::open,   DoorEvent::timer_expiry, DoorState::closed}},
//               DoorEvent::timer_expiry};
//           return s;
//       }
//       static void on_open(Door& d, Spec::Step&) { ++d.opened; }
//       Door(dl::core::FsmEnv env) : fsm(spec(), env, *this, "d1", DoorState::closed) {}
//       int opened = 0;
//       dl::core::Fsm<Door, DoorState, DoorEvent> fsm;
//   };
//   door.fsm.dispatch(DoorEvent::push, "button");  // closed -> open, arms "door-close"
//   door.fsm.dispatch(DoorEvent::push, "button");  // not permitted in open: event + counter
//
// An instance that is born in a working state rather than idle (a dial-out session is born in
// authenticating with its trigger timer running, JunosE "L2TP Dial-Out" Table 74) is constructed in that state
// and then start()ed: its state timer is armed and one creation event {from "", to the state} is
// published, without a transition row:
//
//   Door d(env, "d2", DoorState::open);
//   d.fsm.start(DoorEvent::push, "installed open", "door-close");  // " -> open on push [timer door-close=10s]"
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dl/core/clock.hpp"
#include "dl/core/timer_queue.hpp"

namespace dl::core {

class EventBus;
class TimerRegistry;

/// Services an FSM instance uses; all optional except as noted:
///  - bus: where transition and "not permitted" events go (none: nothing published);
///  - timers: queue for the state timer (required if any row arms a timer);
///  - registry: where a row's timer name gets its duration (required unless actions give durations).
struct FsmEnv {
    EventBus* bus = nullptr;
    TimerQueue* timers = nullptr;
    const TimerRegistry* registry = nullptr;
};

namespace detail {
using FsmRawAction = void (*)();
struct FsmRawRow {
    std::uint16_t state;
    std::uint16_t event;
    std::uint16_t next;
    FsmRawAction action;
    std::string timer;
};
struct FsmRawChange {
    bool born;  ///< start(): no `from`
    std::uint16_t from;
    std::uint16_t to;
    std::uint16_t event;
    std::string_view cause;
    bool permitted;
};
struct FsmRawStep {
    std::uint16_t from;
    std::uint16_t event;
    std::uint16_t next;
    std::string_view cause;
    std::string timer;
    std::optional<Duration> timer_duration;
};
}  // namespace detail

/// What an action sees and may change while a transition is running.
///  - from, event, cause: the input;
///  - next: the row's next state; an action may redirect it (a guard, e.g. postInhibited ->
///    dormant once the inhibited timer reaches zero);
///  - timer / timer_duration: the timer armed on entering `next` (row's timer, duration from the
///    registry); arm() / no_timer() change it.
template <class S, class E>
struct FsmStep {
    S from;
    E event;
    S next;
    std::string_view cause;
    std::string timer;
    std::optional<Duration> timer_duration;  ///< nullopt: registry value of `timer`

    /// Arm registry timer `name` on entering `next`, for `d` (default: the registry's value).
    void arm(std::string_view name, std::optional<Duration> d = std::nullopt) {
        timer = name;
        timer_duration = d;
    }
    void no_timer() {
        timer.clear();
        timer_duration.reset();
    }
};

/// One change of an FSM instance as its owner's observer sees it (FsmSpec's `observer`), typed:
///  - a transition: from -> to on event (to == from for a self-transition), permitted;
///  - a refusal: no row for {from, event}: to == from, permitted false;
///  - a birth (Fsm::start): from is nullopt, to is the initial state.
/// The cause is only valid during the call. The observer runs before the change's Event is
/// published, so a subscriber of the bus sees the owner's state already updated.
template <class S, class E>
struct FsmChange {
    std::optional<S> from;
    S to;
    E event;
    std::string_view cause;
    bool permitted = true;
};

/// Non-template part of an FSM table. Construct through FsmSpec<>. Immutable after construction
/// except for the not-permitted counter.
class FsmSpecBase {
public:
    static constexpr std::uint16_t kNoEvent = 0xFFFF;

    FsmSpecBase(const FsmSpecBase&) = delete;
    FsmSpecBase& operator=(const FsmSpecBase&) = delete;

    /// Entity name used in events ("dialout.session").
    const std::string& entity() const noexcept { return entity_; }
    std::size_t state_count() const noexcept { return states_.size(); }
    std::size_t event_count() const noexcept { return events_.size(); }
    std::string_view state_name(std::uint16_t s) const;
    std::string_view event_name(std::uint16_t e) const;
    /// Bit e set when event e has a row in state s.
    std::uint64_t allowed_mask(std::uint16_t s) const;
    bool allowed(std::uint16_t s, std::uint16_t e) const noexcept;
    /// Events refused by any instance of this FSM since start.
    std::uint64_t not_permitted_count() const noexcept { return not_permitted_.load(std::memory_order_relaxed); }
    /// The table as text, one row per line: "connecting + timer-expiry -> inhibited [timer trigger]".
    std::string describe() const;

protected:
    using Invoke = void (*)(detail::FsmRawAction, void* owner, detail::FsmRawStep&);
    using Observe = void (*)(detail::FsmRawAction, void* owner, const detail::FsmRawChange&);
    /// std::invalid_argument on: empty names, more than 64 events, a row whose state/event/next is
    /// out of range, two rows for the same {state, event}, a timeout event out of range.
    FsmSpecBase(std::string entity, std::vector<std::string> states, std::vector<std::string> events,
                std::vector<detail::FsmRawRow> rows, std::uint16_t timeout_event, Invoke invoke,
                detail::FsmRawAction observer = nullptr, Observe observe = nullptr);
    ~FsmSpecBase() = default;

private:
    friend class FsmBase;
    const detail::FsmRawRow* find(std::uint16_t s, std::uint16_t e) const noexcept;

    std::string entity_;
    std::vector<std::string> states_;
    std::vector<std::string> events_;
    std::vector<detail::FsmRawRow> rows_;
    std::vector<std::int32_t> index_;  // [state * events + event] -> row, -1 = not permitted
    std::vector<std::uint64_t> masks_;
    std::uint16_t timeout_event_;
    Invoke invoke_;
    detail::FsmRawAction observer_;
    Observe observe_;
    mutable std::atomic<std::uint64_t> not_permitted_{0};
};

/// An FSM table over owner type Owner, `enum class` states S and events E (values 0..n-1).
/// Names are indexed by the enum values. Rows: {state, event, next, action (may be null), timer
/// name (may be empty)}. `timeout_event` is dispatched when the state timer expires. `observer`
/// (optional) is called with every change of every instance (FsmChange): how an owner turns its
/// FSMs' transitions into typed upcalls to its own owner, where events are only for logs.
template <class Owner, class S, class E>
class FsmSpec final : public FsmSpecBase {
public:
    using Step = FsmStep<S, E>;
    using Change = FsmChange<S, E>;
    using Action = void (*)(Owner&, Step&);
    using Observer = void (*)(Owner&, const Change&);
    struct Row {
        S state;
        E event;
        S next;
        Action action = nullptr;
        std::string_view timer = {};
    };

    FsmSpec(std::string_view entity, std::initializer_list<std::string_view> state_names,
            std::initializer_list<std::string_view> event_names, std::initializer_list<Row> rows,
            std::optional<E> timeout_event = std::nullopt, Observer observer = nullptr)
        : FsmSpecBase(std::string(entity), {state_names.begin(), state_names.end()},
                      {event_names.begin(), event_names.end()}, convert(rows),
                      timeout_event ? static_cast<std::uint16_t>(*timeout_event) : kNoEvent, &invoke,
                      reinterpret_cast<detail::FsmRawAction>(observer), observer ? &observe : nullptr) {}

    std::string_view name(S s) const { return state_name(static_cast<std::uint16_t>(s)); }
    std::string_view name(E e) const { return event_name(static_cast<std::uint16_t>(e)); }

private:
    static std::vector<detail::FsmRawRow> convert(std::initializer_list<Row> rows) {
        std::vector<detail::FsmRawRow> out;
        out.reserve(rows.size());
        for (const Row& r : rows)
            out.push_back({static_cast<std::uint16_t>(r.state), static_cast<std::uint16_t>(r.event),
                           static_cast<std::uint16_t>(r.next), reinterpret_cast<detail::FsmRawAction>(r.action),
                           std::string(r.timer)});
        return out;
    }
    static void invoke(detail::FsmRawAction raw, void* owner, detail::FsmRawStep& st) {
        Step step{static_cast<S>(st.from), static_cast<E>(st.event), static_cast<S>(st.next), st.cause,
                  std::move(st.timer), st.timer_duration};
        reinterpret_cast<Action>(raw)(*static_cast<Owner*>(owner), step);
        st.next = static_cast<std::uint16_t>(step.next);
        st.timer = std::move(step.timer);
        st.timer_duration = step.timer_duration;
    }
    static void observe(detail::FsmRawAction raw, void* owner, const detail::FsmRawChange& c) {
        const Change change{c.born ? std::nullopt : std::optional<S>(static_cast<S>(c.from)), static_cast<S>(c.to),
                            static_cast<E>(c.event), c.cause, c.permitted};
        reinterpret_cast<Observer>(raw)(*static_cast<Owner*>(owner), change);
    }
};

/// Non-template part of one FSM instance: current state, the state timer, counters.
///
/// dispatch(event, cause):
///  1. no row for {state, event}: publishes an Event with permitted=false (from = to = state),
///     increments this instance's and the spec's not-permitted counters, returns false;
///  2. otherwise runs the row's action (which may redirect next state / timer), then:
///     if the state changes, or a timer is to be armed, the running state timer is cancelled;
///     the state becomes `next`; the timer (if any) is armed; one Event {from, to, event, cause,
///     timer} is published; returns true. A self-transition without a timer keeps the running timer.
///  Events the action publishes itself come before the transition's event. A dispatch() called
///  re-entrantly (from an action or a subscriber) is queued and runs after the current one.
///  The state timer's expiry dispatches the spec's timeout event with cause "<timer> expired".
/// Not copyable or movable (the timer callback refers to it); the owner must outlive it.
class FsmBase {
public:
    FsmBase(const FsmBase&) = delete;
    FsmBase& operator=(const FsmBase&) = delete;

    const FsmSpecBase& spec() const noexcept { return *spec_; }
    const std::string& id() const noexcept { return id_; }
    void set_id(std::string id) { id_ = std::move(id); }
    std::string_view state_name() const { return spec_->state_name(state_); }
    /// Events refused by this instance.
    std::uint64_t not_permitted_count() const noexcept { return not_permitted_; }
    /// The state timer (read-only; armed by transitions).
    const Timer& timer() const noexcept { return timer_; }
    /// Registry name of the running state timer ("" if none armed).
    std::string_view timer_name() const noexcept { return timer_.armed() ? std::string_view(timer_name_) : ""; }

protected:
    FsmBase(const FsmSpecBase& spec, FsmEnv env, void* owner, std::string id, std::uint16_t initial);
    ~FsmBase() = default;
    bool dispatch_raw(std::uint16_t event, std::string_view cause);
    /// The creation of an instance born in its constructor's initial state (see Fsm::start):
    /// arms `timer` (duration `d`, else the registry's value) as the state timer and publishes one
    /// Event {from "", to the initial state, event, cause, timer}. No row is looked up and no
    /// action runs. std::logic_error when the instance was already started or has dispatched an
    /// event, when `timer` is set but the spec has no timeout event, no TimerQueue is bound, or no
    /// duration can be found (then nothing changed); std::out_of_range for an event out of range.
    void start_raw(std::uint16_t event, std::string_view cause, std::string_view timer, std::optional<Duration> d);
    std::uint16_t state_raw() const noexcept { return state_; }

private:
    bool process(std::uint16_t event, std::string_view cause);
    void on_timeout();
    void observe(const detail::FsmRawChange& c) const {
        if (spec_->observe_ != nullptr) spec_->observe_(spec_->observer_, owner_, c);
    }

    const FsmSpecBase* spec_;
    FsmEnv env_;
    void* owner_;
    std::string id_;
    Timer timer_;
    std::string timer_name_;
    std::vector<std::pair<std::uint16_t, std::string>> pending_;
    std::uint32_t not_permitted_ = 0;
    std::uint16_t state_;
    bool in_dispatch_ = false;
    bool started_ = false;  ///< start() ran or an event was dispatched: start() is no longer allowed
};

/// A typed FSM instance. Typically a member of its Owner, constructed with `*this`.
template <class Owner, class S, class E>
class Fsm final : public FsmBase {
public:
    using Spec = FsmSpec<Owner, S, E>;
    Fsm(const Spec& spec, FsmEnv env, Owner& owner, std::string id, S initial)
        : FsmBase(spec, env, &owner, std::move(id), static_cast<std::uint16_t>(initial)) {}

    S state() const noexcept { return static_cast<S>(state_raw()); }
    /// Birth in the constructor's initial state: start the state timer `timer` (registry name;
    /// duration `d`, default the registry's value; "" = no timer) and publish the creation event
    /// {from "", to state(), `event`, `cause`, timer}; its expiry dispatches the timeout event as
    /// any state timer does. At most once, before any dispatch(); errors: see FsmBase::start_raw.
    void start(E event, std::string_view cause = {}, std::string_view timer = {},
               std::optional<Duration> d = std::nullopt) {
        start_raw(static_cast<std::uint16_t>(event), cause, timer, d);
    }
    /// See FsmBase. Returns false if the event is not permitted in the current state (or queued).
    bool dispatch(E event, std::string_view cause = {}) { return dispatch_raw(static_cast<std::uint16_t>(event), cause); }
    bool allowed(E event) const noexcept { return spec().allowed(state_raw(), static_cast<std::uint16_t>(event)); }
};

}  // namespace dl::core
