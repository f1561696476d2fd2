// FSM tables: golden event logs of toy FSMs in virtual time (docs/architecture.md "FSM tables").
#include "dl/core/fsm.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "dl/core/event.hpp"
#include "dl/core/timer_registry.hpp"

using namespace dl::core;
using namespace std::chrono_literals;

namespace {

// ---- The door of the header's worked example ---------------------------------------------------

enum class DoorState { closed, open };
enum class DoorEvent { push, pull, timer_expiry };

struct Door {
    using Spec = FsmSpec<Door, DoorState, DoorEvent>;
    static const Spec& spec() {
        static const Spec s{"toy.door",
                            {"closed", "open"},
                            {"push", "pull", "timer-expiry"},
                            {{DoorState::closed, DoorEvent::push, DoorState::open, &Door::on_open, "door-close"},
                             {DoorState::open, DoorEvent::pull, DoorState::closed},
                             {DoorState::open, DoorEvent::timer_expiry, DoorState::closed}},
                            DoorEvent::timer_expiry};
        return s;
    }
    static void on_open(Door& d, Spec::Step&) { ++d.opened; }
    Door(FsmEnv env, std::string id, DoorState initial = DoorState::closed)
        : fsm(spec(), env, *this, std::move(id), initial) {}
    int opened = 0;
    Fsm<Door, DoorState, DoorEvent> fsm;
};

struct World {
    VirtualTimeLoop loop;
    EventBus bus{loop.clock()};
    TimerRegistry registry;
    FsmEnv env{&bus, &loop.timers(), &registry};
    World() {
        register_well_known_timers(registry);
        registry.add({"door-close", 10s, 1s, 1min, "toy"});
    }
};

TEST(Fsm, DoorGoldenLog) {
    World w;
    EventRecorder rec(w.bus);
    Door door(w.env, "d1");
    EXPECT_EQ(door.fsm.state(), DoorState::closed);
    EXPECT_TRUE(door.fsm.allowed(DoorEvent::push));
    EXPECT_FALSE(door.fsm.allowed(DoorEvent::pull));

    EXPECT_TRUE(door.fsm.dispatch(DoorEvent::push, "button"));
    EXPECT_EQ(door.fsm.timer_name(), "door-close");
    w.loop.advance(2s);
    EXPECT_FALSE(door.fsm.dispatch(DoorEvent::push, "button"));  // not permitted in open
    EXPECT_EQ(door.fsm.timer().remaining(), 8s);                 // and the timer is untouched
    w.loop.advance(8s);                                          // auto-close
    EXPECT_EQ(door.fsm.state(), DoorState::closed);
    EXPECT_EQ(door.fsm.timer_name(), "");
    door.fsm.dispatch(DoorEvent::push);
    w.loop.advance(1s);
    door.fsm.dispatch(DoorEvent::pull, "hand");  // closes before the timer: timer cancelled
    EXPECT_TRUE(w.loop.timers().empty());

    EXPECT_EQ(rec.text(),
              "+0.000000s toy.door d1: closed -> open on push (cause=button) [timer door-close=10s]\n"
              "+2.000000s toy.door d1: open: push NOT PERMITTED (cause=button)\n"
              "+10.000000s toy.door d1: open -> closed on timer-expiry (cause=door-close expired)\n"
              "+10.000000s toy.door d1: closed -> open on push [timer door-close=10s]\n"
              "+11.000000s toy.door d1: open -> closed on pull (cause=hand)\n");
    EXPECT_EQ(door.opened, 2);
    EXPECT_EQ(door.fsm.not_permitted_count(), 1u);
}

// An instance born in a working state: start() arms that state's timer and publishes one creation
// event (from "", no row, no action); its expiry goes through the table like any state timer.
TEST(Fsm, StartInInitialStateWithTimerGoldenLog) {
    World w;
    EventRecorder rec(w.bus);
    Door door(w.env, "d2", DoorState::open);
    door.fsm.start(DoorEvent::push, "installed open", "door-close");
    EXPECT_EQ(door.fsm.state(), DoorState::open) << "start() keeps the constructor's state";
    EXPECT_EQ(door.fsm.timer_name(), "door-close") << "the initial state's timer runs";
    EXPECT_EQ(door.fsm.timer().remaining(), 10s) << "registry value of door-close";
    EXPECT_EQ(door.opened, 0) << "no row action runs on creation";
    w.loop.advance(10s);  // the birth timer expires into open + timer-expiry
    EXPECT_EQ(door.fsm.state(), DoorState::closed) << "expiry of the creation timer dispatches timer-expiry";

    Door other(w.env, "d3", DoorState::open);
    other.fsm.start(DoorEvent::push, "short", "door-close", 3s);  // explicit duration, no registry look-up
    Door idle(w.env, "d4");
    idle.fsm.start(DoorEvent::pull);  // no timer: only the creation event
    EXPECT_EQ(idle.fsm.timer_name(), "") << "start() without a timer arms nothing";
    w.loop.advance(3s);
    EXPECT_EQ(other.fsm.state(), DoorState::closed) << "explicit creation timer duration used";
    EXPECT_TRUE(w.loop.timers().empty()) << "no timer left running";

    EXPECT_EQ(rec.text(),
              "+0.000000s toy.door d2:  -> open on push (cause=installed open) [timer door-close=10s]\n"
              "+10.000000s toy.door d2: open -> closed on timer-expiry (cause=door-close expired)\n"
              "+10.000000s toy.door d3:  -> open on push (cause=short) [timer door-close=3s]\n"
              "+10.000000s toy.door d4:  -> closed on pull\n"
              "+13.000000s toy.door d3: open -> closed on timer-expiry (cause=door-close expired)\n");
    const Event& born = rec.events().front();
    EXPECT_EQ(born.from, "") << "a creation has no previous state";
    EXPECT_EQ(born.to, "open");
    EXPECT_EQ(born.timer, (TimerArmed{"door-close", 10s}));
}

TEST(Fsm, StartIsOnceAndBeforeAnyDispatch) {
    World w;
    EventRecorder rec(w.bus);
    Door a(w.env, "a", DoorState::open);
    a.fsm.start(DoorEvent::push);
    EXPECT_THROW(a.fsm.start(DoorEvent::push), std::logic_error) << "second start()";
    Door b(w.env, "b");
    b.fsm.dispatch(DoorEvent::push);
    EXPECT_THROW(b.fsm.start(DoorEvent::push), std::logic_error) << "start() after dispatch()";
    Door c(w.env, "c");
    EXPECT_THROW(c.fsm.start(static_cast<DoorEvent>(7)), std::out_of_range);
    // Errors leave the instance unstarted and without a timer: a corrected start() works.
    Door no_queue(FsmEnv{&w.bus, nullptr, &w.registry}, "q", DoorState::open);
    EXPECT_THROW(no_queue.fsm.start(DoorEvent::push, "", "door-close"), std::logic_error);
    Door no_registry(FsmEnv{&w.bus, &w.loop.timers(), nullptr}, "r", DoorState::open);
    EXPECT_THROW(no_registry.fsm.start(DoorEvent::push, "", "door-close"), std::logic_error);
    no_registry.fsm.start(DoorEvent::push, "", "door-close", 2s);
    EXPECT_EQ(no_registry.fsm.timer().remaining(), 2s) << "start() usable after a failed one";
    // A spec without a timeout event cannot run a state timer.
    EXPECT_EQ(rec.events().size(), 3u) << "only the successful starts and the dispatch published";
}

TEST(Fsm, NotPermittedIsCountedPerInstanceAndPerSpec) {
    World w;
    Door a(w.env, "a"), b(w.env, "b");
    const auto before = Door::spec().not_permitted_count();
    a.fsm.dispatch(DoorEvent::pull);
    a.fsm.dispatch(DoorEvent::timer_expiry);
    b.fsm.dispatch(DoorEvent::pull);
    EXPECT_EQ(a.fsm.not_permitted_count(), 2u);
    EXPECT_EQ(b.fsm.not_permitted_count(), 1u);
    EXPECT_EQ(Door::spec().not_permitted_count() - before, 3u);
    // Without any subscriber (or bus) the counter still moves: never dropped silently.
    Door c(FsmEnv{nullptr, &w.loop.timers(), &w.registry}, "c");
    c.fsm.dispatch(DoorEvent::pull);
    EXPECT_EQ(c.fsm.not_permitted_count(), 1u);
}

TEST(Fsm, SpecTableIntrospection) {
    const auto& s = Door::spec();
    EXPECT_EQ(s.entity(), "toy.door");
    EXPECT_EQ(s.state_count(), 2u);
    EXPECT_EQ(s.event_count(), 3u);
    EXPECT_EQ(s.name(DoorState::open), "open");
    EXPECT_EQ(s.name(DoorEvent::timer_expiry), "timer-expiry");
    EXPECT_EQ(s.allowed_mask(0), 0b001u);
    EXPECT_EQ(s.allowed_mask(1), 0b110u);
    EXPECT_EQ(s.describe(),
              "closed + push -> open (action) [timer door-close]\n"
              "open + pull -> closed\n"
              "open + timer-expiry -> closed\n");
    EXPECT_THROW(s.state_name(2), std::out_of_range);
}

TEST(Fsm, SpecValidation) {
    using Spec = FsmSpec<Door, DoorState, DoorEvent>;
    EXPECT_THROW((Spec{"x", {"closed", "open"}, {"push", "pull", "t"},
                       {{DoorState::closed, DoorEvent::push, DoorState::open},
                        {DoorState::closed, DoorEvent::push, DoorState::closed}}}),
                 std::invalid_argument);  // two rows for one {state, event}
    EXPECT_THROW((Spec{"x", {"closed"}, {"push", "pull", "t"}, {{DoorState::closed, DoorEvent::push, DoorState::open}}}),
                 std::invalid_argument);  // state out of range
    EXPECT_THROW((Spec{"x", {"closed", "open"}, {"push", "pull", "t"},
                       {{DoorState::closed, DoorEvent::push, DoorState::open, nullptr, "door-close"}}}),
                 std::invalid_argument);  // timer without a timeout event
    EXPECT_THROW((Spec{"", {"closed", "open"}, {"push", "pull", "t"}, {}}), std::invalid_argument);
    EXPECT_THROW((Spec{"x", {"closed", ""}, {"push", "pull", "t"}, {}}), std::invalid_argument);
}

// ---- A toy dial-out session (JunosE L2TP Dial-Out, Table 74) with a timer-driven path ----------
// connecting: the connecting timer is the chassis trigger timer; on expiry -> inhibited, whose timer
// is the trigger value the first time and twice the previous value (capped at 8x trigger) on
// re-entry; postInhibited halves it on each expiry and goes to dormant when it reaches zero.

enum class SState { dormant, authenticating, connecting, inService, inhibited, postInhibited };
enum class SEvent { trigger, auth_ok, auth_fail, call_up, timer_expiry };

struct Session {
    using Spec = FsmSpec<Session, SState, SEvent>;
    static const Spec& spec() {
        static const Spec s{
            "dialout.session",
            {"dormant", "authenticating", "connecting", "inService", "inhibited", "postInhibited"},
            {"trigger", "auth-ok", "auth-fail", "call-up", "timer-expiry"},
            {
                {SState::dormant, SEvent::trigger, SState::authenticating},
                {SState::dormant, SEvent::timer_expiry, SState::dormant, &Session::on_delete},
                {SState::authenticating, SEvent::auth_ok, SState::connecting, nullptr, "trigger"},
                {SState::authenticating, SEvent::auth_fail, SState::inhibited, &Session::enter_inhibited},
                {SState::connecting, SEvent::trigger, SState::connecting},  // discarded, timer runs on
                {SState::connecting, SEvent::call_up, SState::inService},
                {SState::connecting, SEvent::timer_expiry, SState::inhibited, &Session::enter_inhibited},
                {SState::inhibited, SEvent::trigger, SState::inhibited},
                {SState::inhibited, SEvent::timer_expiry, SState::postInhibited, &Session::post_inhibited_tick},
                {SState::postInhibited, SEvent::timer_expiry, SState::postInhibited, &Session::post_inhibited_tick},
                {SState::postInhibited, SEvent::trigger, SState::authenticating},
            },
            SEvent::timer_expiry};
        return s;
    }

    Session(World& w, std::string id) : world(w), fsm(spec(), w.env, *this, std::move(id), SState::dormant) {}

    static void enter_inhibited(Session& s, Spec::Step& step) {
        const Duration trigger = s.world.registry.get("trigger");
        s.inhibited = s.inhibited == Duration::zero() ? trigger : std::min(2 * s.inhibited, 8 * trigger);
        step.arm("inhibited", s.inhibited);
    }
    static void post_inhibited_tick(Session& s, Spec::Step& step) {
        s.post = std::chrono::duration_cast<std::chrono::seconds>((step.from == SState::inhibited ? s.inhibited : s.post) / 2);
        if (s.post == Duration::zero()) {
            step.next = SState::dormant;  // guard: redirect
            step.arm("dormant");          // registry value
        } else {
            step.arm("inhibited", s.post);
        }
    }
    static void on_delete(Session& s, Spec::Step&) { s.deleted = true; }

    World& world;
    Duration inhibited{};
    Duration post{};
    bool deleted = false;
    Fsm<Session, SState, SEvent> fsm;
};

TEST(Fsm, DialoutToyGoldenLogInVirtualTime) {
    World w;
    EventRecorder rec(w.bus, {"dialout", ""});
    Session s(w, "default/10.10.0.0/16/10.10.1.1");
    const auto at = [&](Duration t) { w.loop.advance_to(TimePoint{t}); };

    s.fsm.dispatch(SEvent::trigger, "ICMP 203.0.113.10 > 10.10.1.1");
    at(1s);
    s.fsm.dispatch(SEvent::auth_ok, "Access-Accept");
    at(5s);
    s.fsm.dispatch(SEvent::trigger, "discarded");
    EXPECT_EQ(s.fsm.timer().remaining(), 26s);  // self-transition without a timer keeps it
    at(40s);                                     // connecting timer expired at 31s
    EXPECT_EQ(s.fsm.state(), SState::inhibited);
    s.fsm.dispatch(SEvent::call_up, "OCCN");  // not permitted in inhibited
    at(100s);                                 // 61 -> postInhibited 15, 76: 7, 83: 3, 86: 1, 87: dormant
    EXPECT_EQ(s.fsm.state(), SState::dormant);
    s.fsm.dispatch(SEvent::trigger, "ICMP");  // leaves dormant: dormant timer cancelled
    at(101s);
    s.fsm.dispatch(SEvent::auth_fail, "Access-Reject");  // re-entry: 2 x 30s
    EXPECT_EQ(w.loop.timers().size(), 1u);

    EXPECT_EQ(rec.text(),
              "+0.000000s dialout.session default/10.10.0.0/16/10.10.1.1: dormant -> authenticating on trigger (cause=ICMP 203.0.113.10 > 10.10.1.1)\n"
              "+1.000000s dialout.session default/10.10.0.0/16/10.10.1.1: authenticating -> connecting on auth-ok (cause=Access-Accept) [timer trigger=30s]\n"
              "+5.000000s dialout.session default/10.10.0.0/16/10.10.1.1: connecting -> connecting on trigger (cause=discarded)\n"
              "+31.000000s dialout.session default/10.10.0.0/16/10.10.1.1: connecting -> inhibited on timer-expiry (cause=trigger expired) [timer inhibited=30s]\n"
              "+40.000000s dialout.session default/10.10.0.0/16/10.10.1.1: inhibited: call-up NOT PERMITTED (cause=OCCN)\n"
              "+61.000000s dialout.session default/10.10.0.0/16/10.10.1.1: inhibited -> postInhibited on timer-expiry (cause=inhibited expired) [timer inhibited=15s]\n"
              "+76.000000s dialout.session default/10.10.0.0/16/10.10.1.1: postInhibited -> postInhibited on timer-expiry (cause=inhibited expired) [timer inhibited=7s]\n"
              "+83.000000s dialout.session default/10.10.0.0/16/10.10.1.1: postInhibited -> postInhibited on timer-expiry (cause=inhibited expired) [timer inhibited=3s]\n"
              "+86.000000s dialout.session default/10.10.0.0/16/10.10.1.1: postInhibited -> postInhibited on timer-expiry (cause=inhibited expired) [timer inhibited=1s]\n"
              "+87.000000s dialout.session default/10.10.0.0/16/10.10.1.1: postInhibited -> dormant on timer-expiry (cause=inhibited expired) [timer dormant=5m]\n"
              "+100.000000s dialout.session default/10.10.0.0/16/10.10.1.1: dormant -> authenticating on trigger (cause=ICMP)\n"
              "+101.000000s dialout.session default/10.10.0.0/16/10.10.1.1: authenticating -> inhibited on auth-fail (cause=Access-Reject) [timer inhibited=1m]\n");
    EXPECT_EQ(s.fsm.not_permitted_count(), 1u);
    EXPECT_FALSE(s.deleted);
}

TEST(Fsm, DormantTimerExpiryAndConfiguredTimerValues) {
    World w;
    w.registry.set("trigger", "10s");
    w.registry.set("dormant", "20s");
    EventRecorder rec(w.bus);
    Session s(w, "vr-b/10.10.1.1");
    s.fsm.dispatch(SEvent::trigger);
    s.fsm.dispatch(SEvent::auth_ok);
    w.loop.advance(10s);  // connecting -> inhibited 10s
    w.loop.advance(10s);  // -> postInhibited 5s
    w.loop.advance(5s);   // -> 2s
    w.loop.advance(2s);   // -> 1s
    w.loop.advance(1s);   // -> dormant 20s
    EXPECT_EQ(s.fsm.state(), SState::dormant);
    EXPECT_FALSE(s.deleted);
    w.loop.advance(20s);
    EXPECT_TRUE(s.deleted);
    ASSERT_GE(rec.events().size(), 2u);
    const Event& last = rec.events().back();
    EXPECT_EQ(last.from, "dormant");
    EXPECT_EQ(last.to, "dormant");
    EXPECT_EQ(last.event, "timer-expiry");
    EXPECT_EQ(last.time_ns, 48'000'000'000);
    EXPECT_EQ(rec.events()[1].timer, (TimerArmed{"trigger", 10s}));
}

// An action that dispatches re-entrantly: the inner event is queued and runs after the outer
// transition has completed and been published.
enum class PState { a, b, c };
enum class PEvent { go, next };
struct Chain {
    using Spec = FsmSpec<Chain, PState, PEvent>;
    static const Spec& spec() {
        static const Spec s{"toy.chain",
                            {"a", "b", "c"},
                            {"go", "next"},
                            {{PState::a, PEvent::go, PState::b, &Chain::kick}, {PState::b, PEvent::next, PState::c}}};
        return s;
    }
    static void kick(Chain& c, Spec::Step&) {
        EXPECT_FALSE(c.fsm.dispatch(PEvent::next, "from action"));  // queued
        EXPECT_EQ(c.fsm.state(), PState::a);                         // not yet changed
    }
    explicit Chain(FsmEnv env) : fsm(spec(), env, *this, "c1", PState::a) {}
    Fsm<Chain, PState, PEvent> fsm;
};

TEST(Fsm, ReentrantDispatchIsQueued) {
    World w;
    EventRecorder rec(w.bus);
    Chain c(w.env);
    EXPECT_TRUE(c.fsm.dispatch(PEvent::go));
    EXPECT_EQ(c.fsm.state(), PState::c);
    EXPECT_EQ(rec.text(),
              "+0.000000s toy.chain c1: a -> b on go\n"
              "+0.000000s toy.chain c1: b -> c on next (cause=from action)\n");
}

TEST(Fsm, StartWithTimerNeedsATimeoutEvent) {
    World w;
    Chain c(w.env);
    EXPECT_THROW(c.fsm.start(PEvent::go, "", "door-close"), std::logic_error) << "toy.chain has no timeout event";
    c.fsm.start(PEvent::go, "born");  // without a timer it is fine
    EXPECT_EQ(c.fsm.state(), PState::a);
}

TEST(Fsm, MissingTimerServicesAreReported) {
    World w;
    Door no_queue(FsmEnv{&w.bus, nullptr, &w.registry}, "x");
    EXPECT_THROW(no_queue.fsm.dispatch(DoorEvent::push), std::logic_error);
    Door no_registry(FsmEnv{&w.bus, &w.loop.timers(), nullptr}, "y");
    EXPECT_THROW(no_registry.fsm.dispatch(DoorEvent::push), std::logic_error);
    // After an exception the instance is still usable.
    EXPECT_FALSE(no_registry.fsm.dispatch(DoorEvent::pull));
}

TEST(Fsm, InstanceIsSmall) {
    // 100 000 sessions with <= 8 KiB state each: an FSM instance is a small part of that.
    EXPECT_LE(sizeof(Fsm<Door, DoorState, DoorEvent>), 192u);
}

// ---- The spec's observer: typed changes for the owner, before the change's event -----------------

enum class LampState { off, on };
enum class LampEvent { toggle, burn_out };

struct Lamp {
    using Spec = FsmSpec<Lamp, LampState, LampEvent>;
    static const Spec& spec() {
        static const Spec s{"toy.lamp",
                            {"off", "on"},
                            {"toggle", "burn-out"},
                            {{LampState::off, LampEvent::toggle, LampState::on},
                             {LampState::on, LampEvent::toggle, LampState::off},
                             {LampState::on, LampEvent::burn_out, LampState::on}},
                            std::nullopt,
                            &Lamp::on_change};
        return s;
    }
    static void on_change(Lamp& l, const Spec::Change& c) {
        std::string line = c.from ? std::string(spec().name(*c.from)) : std::string("(born)");
        line += " -> " + std::string(spec().name(c.to)) + " on " + std::string(spec().name(c.event));
        if (!c.permitted) line += " NOT PERMITTED";
        line += " (" + std::string(c.cause) + ")";
        l.changes.push_back(line);
    }
    Lamp(FsmEnv env, std::string id, LampState initial = LampState::off)
        : fsm(spec(), env, *this, std::move(id), initial) {}
    std::vector<std::string> changes;
    Fsm<Lamp, LampState, LampEvent> fsm;
};

TEST(Fsm, ObserverSeesEveryChangeTypedBeforeItsEvent) {
    World w;
    Lamp lamp(w.env, "l1");
    std::vector<std::size_t> seen_at_event;  // the observer's count when each event is published
    w.bus.subscribe({"toy.lamp", ""}, [&](const Event&) { seen_at_event.push_back(lamp.changes.size()); });
    EXPECT_TRUE(lamp.fsm.dispatch(LampEvent::toggle, "switch"));
    EXPECT_TRUE(lamp.fsm.dispatch(LampEvent::burn_out, "filament"));
    EXPECT_TRUE(lamp.fsm.dispatch(LampEvent::toggle, "switch"));
    EXPECT_FALSE(lamp.fsm.dispatch(LampEvent::burn_out, "dark"));
    Lamp born(w.env, "l2", LampState::on);
    born.fsm.start(LampEvent::toggle, "installed lit");
    EXPECT_EQ(lamp.changes, (std::vector<std::string>{"off -> on on toggle (switch)", "on -> on on burn-out (filament)",
                                                      "on -> off on toggle (switch)",
                                                      "off -> off on burn-out NOT PERMITTED (dark)"}));
    EXPECT_EQ(born.changes, (std::vector<std::string>{"(born) -> on on toggle (installed lit)"}));
    EXPECT_EQ(seen_at_event, (std::vector<std::size_t>{1, 2, 3, 4, 4}));  // the last is l2's birth
}

}  // namespace
