// Dial-out manager: chassis / virtual router / target / session FSM tables and the decision logic.
// Source: JunosE "L2TP Dial-Out" Tables 70-75, "L2TP Dial-Out Process" and "Broadband Access Configuration Guide" Table 77.
#include "dl/dialout/manager.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dl/core/config.hpp"
#include "dl/core/control.hpp"
#include "dl/core/duration.hpp"
#include "dl/core/errors.hpp"
#include "dl/core/event.hpp"
#include "dl/core/fsm.hpp"
#include "dl/radius/client/builders.hpp"

namespace dl::dialout {

using core::Duration;
using core::Ipv4Address;
using core::Ipv4Prefix;
using radius::client::DialOutDefinition;
using std::chrono::seconds;

namespace {
constexpr std::string_view kSessionStates[] = {"authenticating", "connecting", "inService", "inhibited",
                                               "postInhibited",  "dormant",    "pending",   "failed"};
constexpr std::string_view kTargetStates[] = {"inService", "inhibited", "down"};
constexpr std::string_view kVrStates[] = {"inService", "initPending", "down"};
constexpr std::string_view kChassisStates[] = {"inService", "initializationFailed"};

bool is_connecting(SessionState s) { return s == SessionState::authenticating || s == SessionState::connecting; }

/// Counters kept per target, per virtual router and for the chassis (`show` output).
struct Counters {
    std::uint64_t received = 0, buffered = 0, discarded = 0, forwarded = 0, attempts = 0;
    std::uint64_t evicted = 0;  ///< dormant sessions deleted to make room for a new one (caps)
    std::map<std::string, std::uint64_t, std::less<>> discarded_by;  ///< by state / reason
    std::map<std::string, std::uint64_t, std::less<>> failures;      ///< by reason
    void discard(std::string_view why, std::uint64_t n = 1) {
        discarded += n;
        discarded_by[std::string(why)] += n;
    }
    nlohmann::json to_json() const {
        return {{"triggers_received", received}, {"triggers_buffered", buffered},
                {"triggers_discarded", discarded}, {"triggers_forwarded", forwarded},
                {"discarded_by", discarded_by},  {"attempts", attempts},
                {"failures", failures},          {"sessions_evicted", evicted}};
    }
};
}  // namespace

std::string_view to_string(SessionState s) noexcept { return kSessionStates[static_cast<int>(s)]; }
std::string_view to_string(TargetState s) noexcept { return kTargetStates[static_cast<int>(s)]; }
std::string_view to_string(VrState s) noexcept { return kVrStates[static_cast<int>(s)]; }
std::string_view to_string(ChassisState s) noexcept { return kChassisStates[static_cast<int>(s)]; }

std::string_view to_string(DenyReason r) noexcept {
    switch (r) {
        case DenyReason::access_reject: return "access-reject";
        case DenyReason::radius_timeout: return "radius-timeout";
        case DenyReason::service_type_not_outbound: return "service-type-not-outbound";
        case DenyReason::tunnel_attributes_missing: return "tunnel-attributes-missing";
        case DenyReason::tunnel_type_not_l2tp: return "tunnel-type-not-l2tp";
        case DenyReason::tunnel_medium_not_ipv4: return "tunnel-medium-not-ipv4";
        case DenyReason::tunnel_server_endpoint_missing: return "tunnel-server-endpoint-missing";
        case DenyReason::invalid_accept: return "invalid-accept";
        case DenyReason::aaa_timeout: return "aaa-timeout";
    }
    return "?";
}

std::string_view to_string(TriggerOutcome o) noexcept {
    switch (o) {
        case TriggerOutcome::malformed: return "malformed";
        case TriggerOutcome::no_target: return "no-target";
        case TriggerOutcome::chassis_down: return "chassis-down";
        case TriggerOutcome::vr_not_in_service: return "vr-not-in-service";
        case TriggerOutcome::target_not_in_service: return "target-not-in-service";
        case TriggerOutcome::forwarded: return "forwarded";
        case TriggerOutcome::buffered: return "buffered";
        case TriggerOutcome::discarded: return "discarded";
    }
    return "?";
}

// ---- SessionKey -------------------------------------------------------------------------------

std::string SessionKey::to_string() const {
    // One allocation (the prefix and address texts fit the small-string buffer), not one per '+'.
    const std::string t = target.to_string();
    const std::string d = destination.to_string();
    std::string s;
    s.reserve(vr.size() + t.size() + d.size() + 2);
    s.append(vr).append(1, '/').append(t).append(1, '/').append(d);
    return s;
}

std::optional<SessionKey> SessionKey::parse(std::string_view text) {
    const auto first = text.find('/');
    const auto last = text.rfind('/');
    if (first == std::string_view::npos || first == 0 || last <= first) return std::nullopt;
    auto prefix = Ipv4Prefix::parse(text.substr(first + 1, last - first - 1));
    auto dest = Ipv4Address::parse(text.substr(last + 1));
    if (!prefix || !dest || prefix->has_host_bits()) return std::nullopt;
    return SessionKey{std::string(text.substr(0, first)), *prefix, *dest};
}

// ---- Chassis (Table 71) -----------------------------------------------------------------------

enum class ChassisEvent : std::uint8_t { init_failed, resources_available };

class Chassis {
public:
    using Spec = core::FsmSpec<Chassis, ChassisState, ChassisEvent>;
    static const Spec& spec() {
        static const Spec s{"dialout.chassis",
                            {kChassisStates[0], kChassisStates[1]},
                            {"init-failed", "resources-available"},
                            {{ChassisState::inService, ChassisEvent::init_failed, ChassisState::initializationFailed},
                             {ChassisState::initializationFailed, ChassisEvent::resources_available,
                              ChassisState::inService}}};
        return s;
    }
    explicit Chassis(core::FsmEnv env) : fsm(spec(), env, *this, "chassis", ChassisState::inService) {}
    std::string reason;
    Counters counters;
    core::Fsm<Chassis, ChassisState, ChassisEvent> fsm;
};

// ---- Virtual router (Table 72) ----------------------------------------------------------------

enum class VrEvent : std::uint8_t { vr_operational, vr_not_operational, interface_down, interface_up };

class VirtualRouter {
public:
    using Spec = core::FsmSpec<VirtualRouter, VrState, VrEvent>;
    static const Spec& spec() {
        static const Spec s{"dialout.vr",
                            {kVrStates[0], kVrStates[1], kVrStates[2]},
                            {"vr-operational", "vr-not-operational", "interface-down", "interface-up"},
                            {{VrState::initPending, VrEvent::vr_operational, VrState::inService},
                             {VrState::inService, VrEvent::vr_not_operational, VrState::initPending},
                             {VrState::down, VrEvent::vr_not_operational, VrState::initPending},
                             {VrState::inService, VrEvent::interface_down, VrState::down},
                             {VrState::down, VrEvent::interface_up, VrState::inService}}};
        return s;
    }
    VirtualRouter(std::string n, core::FsmEnv env)
        : name(std::move(n)), fsm(spec(), env, *this, name, VrState::initPending) {}
    /// Longest prefix first: key (32 - length) << 32 | network.
    static std::uint64_t order(Ipv4Prefix p) { return (std::uint64_t(32 - p.length) << 32) | p.address.value; }
    Target* match(Ipv4Address a) const;

    std::string name;
    Counters counters;
    std::map<std::uint64_t, std::unique_ptr<Target>> targets;
    core::Fsm<VirtualRouter, VrState, VrEvent> fsm;
};

// ---- Target (Table 73) ------------------------------------------------------------------------

enum class TargetEvent : std::uint8_t {
    resources_exhausted, route_create_failed, resources_available, session_cap_reached, trigger_budget_exhausted,
    sessions_below_cap, timer_expiry
};

/// Order of dormant sessions: when they entered dormant, then a sequence number (same instant).
using DormantOrder = std::pair<core::TimePoint, std::uint64_t>;

/// Why a target is inhibited: the operator's / daemon's condition (target_condition) or one of the
/// manager's own limits, which it lifts by itself.
enum class InhibitCause : std::uint8_t { none, condition, session_cap, trigger_budget };

class Target {
public:
    using Spec = core::FsmSpec<Target, TargetState, TargetEvent>;
    using Step = Spec::Step;
    using S = TargetState;
    using E = TargetEvent;
    // Table 73: inhibited = "cannot obtain sufficient resources to handle triggers"; it "returns to
    // inService when resources are available". The resources are the session caps (per target,
    // per virtual router) and the trigger budget (ChassisConfig).
    static const Spec& spec() {
        static const Spec s{
            "dialout.target",
            {kTargetStates[0], kTargetStates[1], kTargetStates[2]},
            {"resources-exhausted", "route-create-failed", "resources-available", "session-cap-reached",
             "trigger-budget-exhausted", "sessions-below-cap", "timer-expiry"},
            {{S::inService, E::resources_exhausted, S::inhibited, &because<InhibitCause::condition>},
             {S::inService, E::route_create_failed, S::down, &because<InhibitCause::none>},
             {S::inhibited, E::route_create_failed, S::down, &because<InhibitCause::none>},
             {S::inhibited, E::resources_available, S::inService, &because<InhibitCause::none>},
             {S::down, E::resources_available, S::inService, &because<InhibitCause::none>},
             // The manager's limits: one transition each way, never one per trigger.
             {S::inService, E::session_cap_reached, S::inhibited, &because<InhibitCause::session_cap>},
             {S::inService, E::trigger_budget_exhausted, S::inhibited, &budget_exhausted},
             {S::inhibited, E::sessions_below_cap, S::inService, &because<InhibitCause::none>},
             {S::inhibited, E::timer_expiry, S::inService, &budget_refilled}},
            E::timer_expiry};
        return s;
    }
    Target(TargetConfig c, VirtualRouter& v, Manager& mgr, core::FsmEnv env)
        : cfg(std::move(c)), vr(v), m(mgr),
          fsm(spec(), env, *this, cfg.vr + "/" + cfg.prefix.to_string(), TargetState::inService) {}

    template <InhibitCause C>
    static void because(Target& t, Step&) { t.inhibit_cause = C; }
    // The "trigger-refill" timer runs until the bucket is full again.
    static void budget_exhausted(Target& t, Step& st) {
        t.inhibit_cause = InhibitCause::trigger_budget;
        const auto& c = t.m.config_;
        const double missing = std::max(0.0, double(c.trigger_burst) - t.tokens);
        st.arm("trigger-refill", std::chrono::ceil<Duration>(std::chrono::duration<double>(missing / c.trigger_rate)));
    }
    // Budget refilled; if a session cap was reached meanwhile the target stays inhibited for it.
    static void budget_refilled(Target& t, Step& st) {
        t.refill(t.m.timers_.now());
        if (t.m.over_session_cap(t)) {
            st.next = S::inhibited;
            st.no_timer();
            t.inhibit_cause = InhibitCause::session_cap;
            return;
        }
        t.inhibit_cause = InhibitCause::none;
    }
    /// Token bucket: adds rate x elapsed, up to the burst.
    void refill(core::TimePoint now) {
        const auto& c = m.config_;
        const double elapsed = std::chrono::duration<double>(now - refilled).count();
        tokens = std::min(double(c.trigger_burst), tokens + elapsed * c.trigger_rate);
        refilled = now;
    }

    static std::uint64_t route_key(Ipv4Prefix p) { return (std::uint64_t(p.length) << 32) | p.network().address.value; }
    /// Session whose access route covers `a`, longest prefix first (33 lookups, not a scan).
    Session* access_route_for(Ipv4Address a) const {
        if (access_routes.empty()) return nullptr;
        for (int len = 32; len >= 0; --len) {
            const Ipv4Prefix p{a, static_cast<std::uint8_t>(len)};
            auto it = access_routes.find(route_key(p));
            if (it != access_routes.end()) return it->second;
        }
        return nullptr;
    }

    TargetConfig cfg;
    VirtualRouter& vr;
    Manager& m;
    Counters counters;
    InhibitCause inhibit_cause = InhibitCause::none;
    std::uint64_t route_failures_while_down = 0;  ///< route_create_failed again while down
    double tokens = 0;              ///< trigger budget (set to the burst when added)
    core::TimePoint refilled{};     ///< last refill()
    std::multimap<std::uint64_t, Session*> access_routes;  ///< of sessions in inService
    /// Sessions in dormant, oldest entry into dormant first: the ones a session cap may evict.
    /// Declared before `sessions`, whose destructors take themselves out of it.
    std::map<DormantOrder, Session*> dormant;
    std::map<std::uint32_t, std::unique_ptr<Session>> sessions;
    core::Fsm<Target, TargetState, TargetEvent> fsm;
};

Target* VirtualRouter::match(Ipv4Address a) const {
    for (const auto& [k, t] : targets)
        if (t->cfg.prefix.contains(a)) return t.get();
    return nullptr;
}

// ---- Session (Tables 74, 77) ------------------------------------------------------------------

enum class SessionEvent : std::uint8_t {
    trigger, aaa_grant, aaa_deny, call_connected, call_failed, call_closed, route_verified, route_mismatch,
    slot_available, reset, timer_expiry, evict
};

class Session {
public:
    using Spec = core::FsmSpec<Session, SessionState, SessionEvent>;
    using Step = Spec::Step;
    using S = SessionState;
    using E = SessionEvent;

    static const Spec& spec();

    // Born in `initial` (authenticating or pending, see begin()): a new session never passes
    // through dormant.
    Session(Manager& mgr, Target& tgt, SessionKey k, core::FsmEnv env, S initial)
        : m(mgr), t(tgt), key(std::move(k)), fsm(spec(), env, *this, key.to_string(), initial) {}
    ~Session() { leave_dormant(); }
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    /// Keeps Target::dormant in step with the state (called on every transition).
    void enter_dormant() {
        if (dormant_since) return;
        dormant_since = DormantOrder{m.timers_.now(), ++m.dormant_seq_};
        t.dormant.emplace(*dormant_since, this);
    }
    void leave_dormant() {
        if (!dormant_since) return;
        t.dormant.erase(*dormant_since);
        dormant_since.reset();
    }

    // Every row's action runs through A<F>: F decides, then the connecting-slot bookkeeping.
    template <void (*F)(Session&, Step&)>
    static void A(Session& s, Step& st) {
        F(s, st);
        s.m.session_left_or_entered(s, st.from, st.next);
    }

    // JunosE "L2TP Dial-Out" Table 74 authenticating: "New sessions start in the authenticating state" — or, at
    // the maximum of connecting sessions, in pending (JunosE "Broadband Access Configuration Guide" Table 77). Called once, right after
    // construction in that state, instead of a transition: does what dormant + trigger does
    // (authenticate()) and starts the FSM there (core::Fsm::start): one creation event with no
    // previous state (from "", to the state, event "trigger"), the trigger timer running as the
    // state timer of authenticating (its expiry is the row authenticating + timer-expiry).
    void begin(std::string_view cause) {
        if (fsm.state() == S::pending) {
            m.pending_queue_.push_back(key);
            ++m.pending_;
            fsm.start(E::trigger, cause);
            return;
        }
        Step st{S::authenticating, E::trigger, S::authenticating, cause, {}, std::nullopt};
        start_authentication(*this, st);  // sets st.timer = "trigger"
        ++m.connecting_;
        fsm.start(E::trigger, cause, st.timer, st.timer_duration);
    }
    /// The running state timer, if any.
    const core::Timer* state_timer() const noexcept { return fsm.timer().armed() ? &fsm.timer() : nullptr; }
    std::string_view state_timer_name() const noexcept { return fsm.timer_name(); }
    static void none(Session&, Step&) {}

    // dormant / postInhibited / pending + trigger: a valid trigger starts authentication, unless the
    // chassis already has the maximum of connecting sessions (Table 77 pending).
    static void authenticate(Session& s, Step& st) {
        if (s.m.connecting_ >= s.m.config_.max_connecting_sessions) {
            st.next = S::pending;
            st.no_timer();
            s.m.pending_queue_.push_back(s.key);
            return;
        }
        start_authentication(s, st);
    }
    static void start_authentication(Session& s, Step& st) {
        st.next = S::authenticating;
        // Not in JunosE "L2TP Dial-Out": a guard so that a lost AAA answer never leaves the session stuck; the
        // RADIUS client's own timeouts (radius-retry x retries) normally answer first with a deny.
        st.arm("trigger");
        ++s.attempts;
        ++s.t.counters.attempts;
        ++s.m.chassis_->counters.attempts;
        s.def.reset();
        s.access_route.clear();
        s.call_placed = s.call_up = false;
        s.aaa_outstanding = true;
        const SessionKey k = s.key;
        std::string user = Manager::user_name(s.t.cfg.route_distinguisher, k.destination, s.t.cfg.domain);
        Manager& mgr = s.m;
        s.m.defer([&mgr, k, user] {
            if (mgr.ports_.authorize) mgr.ports_.authorize(k, user);
        });
    }
    // authenticating + aaa-grant: outgoing call; connecting timer = chassis trigger timer.
    static void connect(Session& s, Step& st) {
        st.arm("trigger");
        s.aaa_outstanding = false;
        s.call_placed = true;
        const SessionKey k = s.key;
        Manager& mgr = s.m;
        s.m.defer([&mgr, k] {
            Session* x = mgr.find_session(k);
            if (!x || x->fsm.state() != S::connecting || !x->def || !mgr.ports_.place_call) return;
            const Profile* p = mgr.find_profile(x->t.cfg.profile);
            const Profile fallback{x->t.cfg.profile};
            mgr.ports_.place_call(k, *x->def, p ? *p : fallback);
        });
    }
    // -> inhibited. JunosE "L2TP Dial-Out" Table 74 "inhibited": "If it is the first time, the inhibited timer is
    // initialized to the chassis-wide trigger value. If it is reentering the state, the inhibited
    // timer is initialized to 2 times the previous value of the inhibited timer, up to a maximum of
    // 8 times the chassis-wide trigger value ... 30, 60, 120, 240."
    // Interpretation: the "previous value" is the session's inhibited value as it stands, i.e. after
    // the halvings of postInhibited ("reduces the inhibited timer by a factor of 2"); it is zero for
    // a session that never was inhibited or that reached dormant (its value ran down to zero), which
    // makes that entry a "first time". Immediate re-entries (a trigger during the first postInhibited
    // period) therefore give 30, 60, 120, 240, 240 s.
    static void inhibit(Session& s, Step& st) {
        const Duration trig = s.m.registry_.get("trigger");
        s.inhibited = s.inhibited == Duration::zero() ? trig : std::min(2 * s.inhibited, 8 * trig);
        st.arm("inhibited", s.inhibited);
        s.last_failure = std::string(st.cause);
        if ((s.call_placed || s.aaa_outstanding) && st.event == E::timer_expiry)
            clear(s, s.call_placed ? "connecting timer expired" : "authenticating timer expired");
        s.call_placed = s.call_up = s.aaa_outstanding = false;
        s.def.reset();
        s.drop_buffer("inhibited");
    }
    // inhibited -> postInhibited. Seed: "The inhibited timer is reused to control the amount of time
    // the session stays in postInhibited state. In this state the timer repeatedly times out and
    // reduces the inhibited timer by a factor of 2 on each iteration. Once the inhibited timer
    // reaches zero, the session transitions to dormant."
    // Interpretation: the first postInhibited period lasts the current inhibited value V; each expiry
    // halves V in whole seconds (JunosE timers are in seconds) and re-arms it: 30 -> 15, 7, 3, 1, 0.
    // So postInhibited lasts 30+15+7+3+1 = 56 s after a 30 s inhibited period.
    static void post_enter(Session& s, Step& st) {
        s.post_entered = s.m.timers_.now();
        st.arm("inhibited", s.inhibited);
    }
    static void post_tick(Session& s, Step& st) {
        s.inhibited = std::chrono::duration_cast<seconds>(s.inhibited / 2);
        if (s.inhibited > Duration::zero()) {
            st.arm("inhibited", s.inhibited);
            return;
        }
        // Seed: "The dormant timer is initialized to the chassis-wide dormant timer value, minus the
        // time the session spent in the postInhibited state" (never below zero: then it expires at once).
        st.next = S::dormant;
        const Duration spent = s.m.timers_.now() - s.post_entered;
        st.arm("dormant", std::max(Duration::zero(), s.m.registry_.get("dormant") - spent));
    }
    static void in_service(Session& s, Step&) {
        s.inhibited = Duration::zero();
        for (const auto& p : s.access_route) s.t.access_routes.emplace(Target::route_key(p), &s);
        s.release_buffer();
    }
    static void route_failed(Session& s, Step& st) {
        st.no_timer();
        s.last_failure = std::string(st.cause);
    }
    static void closed(Session& s, Step& st) {
        s.inhibited = Duration::zero();
        s.call_placed = s.call_up = false;
        s.def.reset();
        s.withdraw_routes();
        st.arm("dormant");
    }
    static void call_up_noted(Session& s, Step&) { s.call_up = true; }
    static void call_gone(Session& s, Step&) { s.call_placed = s.call_up = false; }
    // Table 77 pending: "pending sessions can transition to the dormant state"; optionally straight
    // to authenticating (ChassisConfig::pending_to_authenticating).
    static void release_pending(Session& s, Step& st) {
        if (s.m.config_.pending_to_authenticating) {
            start_authentication(s, st);
            return;
        }
        s.drop_buffer("pending");
        st.arm("dormant");
    }
    // `l2tp dial-out session reset`: the only way out of failed; from any other state too.
    static void reset(Session& s, Step& st) {
        // An Access-Request still outstanding (authenticating) is withdrawn too: its answer must
        // not act on the session, and its retransmissions stop.
        if (s.call_placed || s.aaa_outstanding) clear(s, "session reset");
        s.call_placed = s.call_up = s.aaa_outstanding = false;
        s.def.reset();
        s.withdraw_routes();
        s.inhibited = Duration::zero();
        s.drop_buffer("reset");
        st.arm("dormant");
    }
    // dormant: "If the dormant timer expires, the session is deleted."
    static void remove(Session& s, Step& st) {
        st.no_timer();
        s.drop_buffer("deleted");
        if (s.call_placed || s.aaa_outstanding) clear(s, "session deleted");
        const SessionKey k = s.key;
        Manager& mgr = s.m;
        Session* self = &s;
        s.m.defer([&mgr, k, self] {
            Target* tg = mgr.find_target(k.vr, k.target);
            if (!tg) return;
            auto it = tg->sessions.find(k.destination.value);
            if (it != tg->sessions.end() && it->second.get() == self && self->fsm.state() == S::dormant) {
                tg->sessions.erase(it);
                mgr.sessions_ended(tg->vr);
            }
        });
    }

    // dormant + evict: no call, no AAA request (dormant has none); the buffered triggers go.
    static void evicted(Session& s, Step& st) {
        st.no_timer();
        s.drop_buffer("evicted");
    }

    static void clear(Session& s, std::string reason) {
        const SessionKey k = s.key;
        Manager& mgr = s.m;
        s.m.defer([&mgr, k, reason] {
            if (mgr.ports_.clear_call) mgr.ports_.clear_call(k, reason);
        });
    }
    void withdraw_routes() {
        for (const auto& p : access_route) {
            auto [a, b] = t.access_routes.equal_range(Target::route_key(p));
            while (a != b) a = a->second == this ? t.access_routes.erase(a) : std::next(a);
        }
        access_route.clear();
    }
    void drop_buffer(std::string_view why) {
        if (buffer.empty()) return;
        const auto n = buffer.size();
        discarded += static_cast<std::uint32_t>(n);
        t.counters.discard(why, n);
        m.chassis_->counters.discard(why, n);
        buffer.clear();
        buffer.shrink_to_fit();
    }
    void release_buffer() {
        if (buffer.empty()) return;
        auto packets = std::make_shared<std::vector<std::vector<std::uint8_t>>>(std::move(buffer));
        buffer = {};
        forwarded += static_cast<std::uint32_t>(packets->size());
        t.counters.forwarded += packets->size();
        m.chassis_->counters.forwarded += packets->size();
        const SessionKey k = key;
        Manager& mgr = m;
        m.defer([&mgr, k, packets] {
            if (!mgr.ports_.forward) return;
            for (const auto& p : *packets) mgr.ports_.forward(k, p);
        });
    }

    Manager& m;
    Target& t;
    SessionKey key;
    Duration inhibited{};            ///< current inhibited value (0: next inhibition is a first time)
    core::TimePoint post_entered{};  ///< when postInhibited was entered
    core::TimePoint created{};
    std::vector<std::vector<std::uint8_t>> buffer;
    std::unique_ptr<DialOutDefinition> def;  ///< from the first Access-Accept; only while needed
    std::vector<Ipv4Prefix> access_route;
    std::string last_failure;
    std::uint32_t received = 0, buffered = 0, discarded = 0, forwarded = 0, attempts = 0;
    bool call_placed = false, call_up = false;
    bool aaa_outstanding = false;  ///< Access-Request sent, no grant / deny yet (authenticating)
    std::optional<DormantOrder> dormant_since;  ///< key in Target::dormant while dormant
    core::Fsm<Session, SessionState, SessionEvent> fsm;
};

const Session::Spec& Session::spec() {
    static const Spec s{
        "dialout.session",
        {kSessionStates[0], kSessionStates[1], kSessionStates[2], kSessionStates[3], kSessionStates[4],
         kSessionStates[5], kSessionStates[6], kSessionStates[7]},
        {"trigger", "aaa-grant", "aaa-deny", "call-connected", "call-failed", "call-closed", "route-verified",
         "route-mismatch", "slot-available", "reset", "timer-expiry", "evict"},
        {
            // authenticating (Table 74): waiting for AAA; triggers buffered.
            {S::authenticating, E::trigger, S::authenticating, &A<none>},
            {S::authenticating, E::aaa_grant, S::connecting, &A<connect>},
            {S::authenticating, E::aaa_deny, S::inhibited, &A<inhibit>},
            {S::authenticating, E::timer_expiry, S::inhibited, &A<inhibit>},
            {S::authenticating, E::reset, S::dormant, &A<reset>},
            // connecting: connecting timer = trigger timer; triggers discarded.
            {S::connecting, E::trigger, S::connecting, &A<none>},
            {S::connecting, E::call_connected, S::connecting, &A<call_up_noted>},
            {S::connecting, E::route_verified, S::inService, &A<in_service>},
            {S::connecting, E::route_mismatch, S::failed, &A<route_failed>},
            {S::connecting, E::call_failed, S::inhibited, &A<inhibit>},
            {S::connecting, E::call_closed, S::inhibited, &A<inhibit>},
            {S::connecting, E::timer_expiry, S::inhibited, &A<inhibit>},
            {S::connecting, E::reset, S::dormant, &A<reset>},
            // inService: until the outgoing call closes.
            {S::inService, E::trigger, S::inService, &A<none>},
            {S::inService, E::call_closed, S::dormant, &A<closed>},
            {S::inService, E::reset, S::dormant, &A<reset>},
            // inhibited: triggers discarded; then postInhibited.
            {S::inhibited, E::trigger, S::inhibited, &A<none>},
            {S::inhibited, E::timer_expiry, S::postInhibited, &A<post_enter>},
            {S::inhibited, E::reset, S::dormant, &A<reset>},
            // postInhibited: halving; a trigger re-authenticates.
            {S::postInhibited, E::trigger, S::authenticating, &A<authenticate>},
            {S::postInhibited, E::timer_expiry, S::postInhibited, &A<post_tick>},
            {S::postInhibited, E::reset, S::dormant, &A<reset>},
            // dormant: a trigger re-authenticates; expiry deletes.
            {S::dormant, E::trigger, S::authenticating, &A<authenticate>},
            {S::dormant, E::timer_expiry, S::dormant, &A<remove>},
            {S::dormant, E::reset, S::dormant, &A<remove>},
            // A session cap reached: the oldest dormant session makes room for a new one (the
            // manager deletes it right after this row; see Manager::room_for_session).
            {S::dormant, E::evict, S::dormant, &A<evicted>},
            // pending (Table 77): triggers discarded until a connecting slot frees.
            {S::pending, E::trigger, S::pending, &A<none>},
            {S::pending, E::slot_available, S::dormant, &A<release_pending>},
            {S::pending, E::reset, S::dormant, &A<reset>},
            // failed (Table 77): triggers buffered or discarded; only reset leaves it.
            {S::failed, E::trigger, S::failed, &A<none>},
            {S::failed, E::call_closed, S::failed, &A<call_gone>},
            {S::failed, E::reset, S::dormant, &A<reset>},
        },
        E::timer_expiry};
    return s;
}

// ---- Manager ----------------------------------------------------------------------------------

struct Manager::Guard {
    Manager& m;
    explicit Guard(Manager& mm) : m(mm) { ++m.depth_; }
    ~Guard() {
        if (m.depth_ == 1) m.drain();
        --m.depth_;
    }
};

Manager::Manager(core::EventBus& bus, core::TimerQueue& timers, core::TimerRegistry& registry, Ports ports,
                 ChassisConfig config)
    : bus_(bus), timers_(timers), registry_(registry), ports_(std::move(ports)), config_(config),
      drain_timer_(timers) {
    core::register_well_known_timers(registry_);
    validate_chassis_config(config_);
    chassis_ = std::make_unique<Chassis>(core::FsmEnv{&bus_, &timers_, &registry_});
}

Manager::~Manager() {
    // Sessions first (they refer to targets), then targets, then routers.
    for (auto& [n, vr] : vrs_)
        for (auto& [k, t] : vr->targets) t->sessions.clear();
    vrs_.clear();
}

void Manager::defer(std::function<void()> fn) {
    effects_.push_back(std::move(fn));
    if (depth_ == 0 && !drain_timer_.armed())
        drain_timer_.start(Duration::zero(), [this] { Guard g(*this); });
}

void Manager::drain() {
    while (!effects_.empty()) {
        auto fn = std::move(effects_.front());
        effects_.pop_front();
        try {
            fn();
        } catch (const std::exception& e) {
            core::Event ev;
            ev.entity = "dialout.chassis";
            ev.id = "chassis";
            ev.event = "port-error";
            ev.cause = e.what();
            bus_.publish(std::move(ev));
        }
    }
}

void Manager::require_chassis(std::string_view command) const {
    if (chassis_->fsm.state() == ChassisState::initializationFailed)
        throw DialOutError(fmt::format("dial-out {} refused: chassis is initializationFailed ({})", command,
                                       chassis_->reason));
}

VirtualRouter& Manager::vr_or_create(const std::string& name) {
    auto it = vrs_.find(name);
    if (it != vrs_.end()) return *it->second;
    auto vr = std::make_unique<VirtualRouter>(name, core::FsmEnv{&bus_, &timers_, &registry_});
    return *vrs_.emplace(name, std::move(vr)).first->second;
}

VirtualRouter* Manager::find_vr(std::string_view name) const {
    auto it = vrs_.find(name);
    return it == vrs_.end() ? nullptr : it->second.get();
}

Target* Manager::find_target(std::string_view vr, Ipv4Prefix prefix) const {
    VirtualRouter* v = find_vr(vr);
    if (!v) return nullptr;
    auto it = v->targets.find(VirtualRouter::order(prefix));
    return it == v->targets.end() ? nullptr : it->second.get();
}

Session* Manager::find_session(const SessionKey& key) const {
    Target* t = find_target(key.vr, key.target);
    if (!t) return nullptr;
    auto it = t->sessions.find(key.destination.value);
    return it == t->sessions.end() ? nullptr : it->second.get();
}

const Profile* Manager::find_profile(std::string_view name) const {
    auto it = profiles_.find(name);
    return it == profiles_.end() ? nullptr : &it->second;
}

bool Manager::valid_route_distinguisher(std::string_view rd) noexcept {
    // RFC 4364 §4.2: type 0 "asn2:nn32", type 1 "a.b.c.d:nn16", type 2 "asn4:nn16".
    const auto colon = rd.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == rd.size()) return false;
    const auto admin = rd.substr(0, colon);
    const auto num = rd.substr(colon + 1);
    auto parse_u = [](std::string_view s, std::uint64_t& v) {
        if (s.empty() || s.size() > 10) return false;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        return ec == std::errc{} && p == s.data() + s.size();
    };
    std::uint64_t n = 0;
    if (!parse_u(num, n)) return false;
    if (Ipv4Address::parse(admin)) return n <= 0xFFFF;
    std::uint64_t asn = 0;
    if (!parse_u(admin, asn) || asn > 0xFFFFFFFFull) return false;
    return asn <= 0xFFFF ? n <= 0xFFFFFFFFull : n <= 0xFFFF;
}

std::string Manager::user_name(std::string_view rd, Ipv4Address destination, std::string_view domain) {
    // JunosE "L2TP Dial-Out" "Access-Request Message": [MPLS RD]/{trigger destination address}@domain-name.
    if (rd.empty()) return fmt::format("{}@{}", destination.to_string(), domain);
    return fmt::format("{}/{}@{}", rd, destination.to_string(), domain);
}

std::optional<Ipv4Address> Manager::ipv4_destination(std::span<const std::uint8_t> p) noexcept {
    // RFC 791 §3.1: version 4, IHL >= 5 words, destination at octets 16..19.
    if (p.size() < 20 || (p[0] >> 4) != 4) return std::nullopt;
    const std::size_t ihl = std::size_t(p[0] & 0x0F) * 4;
    if (ihl < 20 || ihl > p.size()) return std::nullopt;
    return Ipv4Address{(std::uint32_t(p[16]) << 24) | (std::uint32_t(p[17]) << 16) | (std::uint32_t(p[18]) << 8) |
                       std::uint32_t(p[19])};
}

std::size_t Manager::session_footprint() noexcept { return sizeof(Session); }
std::string Manager::session_table() { return Session::spec().describe(); }

void Manager::validate_target(const TargetConfig& t, std::string_view path) const {
    const std::string p(path);
    if (t.vr.empty() || t.vr.find('/') != std::string::npos)
        throw core::ConfigError(p + ".virtual-router", t.vr, "must be a non-empty name without '/'");
    if (t.prefix.has_host_bits())
        throw core::ConfigError(p + ".prefix", t.prefix.to_string(), "has bits set beyond the prefix length");
    if (t.domain.empty()) throw core::ConfigError(p + ".domain", "", "must not be empty");
    if (!find_profile(t.profile)) {
        std::string known;
        for (const auto& [n, pr] : profiles_) known += (known.empty() ? "" : ", ") + n;
        throw core::ConfigError(p + ".profile", t.profile, "is not a known profile (known: " + known + ")");
    }
    if (!t.route_distinguisher.empty() && !valid_route_distinguisher(t.route_distinguisher))
        throw core::ConfigError(p + ".route-distinguisher", t.route_distinguisher,
                                "is not a route distinguisher (write ASN:nn or a.b.c.d:nn, RFC 4364 §4.2)");
    if (find_target(t.vr, t.prefix))
        throw core::ConfigError(p + ".prefix", t.prefix.to_string(),
                                "duplicates the target " + t.vr + "/" + t.prefix.to_string());
}

void Manager::add_target(const TargetConfig& t) {
    Guard g(*this);
    require_chassis("target add");
    validate_target(t, "dialout.targets");
    VirtualRouter& vr = vr_or_create(t.vr);
    auto nt = std::make_unique<Target>(t, vr, *this, core::FsmEnv{&bus_, &timers_, &registry_});
    nt->tokens = config_.trigger_burst;
    nt->refilled = timers_.now();
    vr.targets.emplace(VirtualRouter::order(t.prefix), std::move(nt));
    core::Event ev;
    ev.entity = "dialout.target";
    ev.id = t.vr + "/" + t.prefix.to_string();
    ev.event = "added";
    ev.cause = fmt::format("domain {} profile {}{}", t.domain, t.profile,
                           t.route_distinguisher.empty() ? "" : " rd " + t.route_distinguisher);
    bus_.publish(std::move(ev));
}

void Manager::remove_target(std::string_view vr, Ipv4Prefix prefix) {
    Guard g(*this);
    require_chassis("target remove");
    VirtualRouter* v = find_vr(vr);
    Target* t = v ? find_target(vr, prefix) : nullptr;
    if (!t) throw DialOutError(fmt::format("dial-out target {}/{} does not exist", vr, prefix.to_string()));
    for (auto& [d, s] : t->sessions) {
        if (s->call_placed || s->aaa_outstanding) Session::clear(*s, "target removed");
        if (is_connecting(s->fsm.state())) {
            --connecting_;
            defer([this] { promote_pending(); });
        }
        if (s->fsm.state() == SessionState::pending) --pending_;
    }
    const std::string id = t->fsm.id();
    const bool had_sessions = !t->sessions.empty();
    v->targets.erase(VirtualRouter::order(prefix));
    if (had_sessions) sessions_ended(*v);
    core::Event ev;
    ev.entity = "dialout.target";
    ev.id = id;
    ev.event = "removed";
    bus_.publish(std::move(ev));
}

void Manager::set_profile(Profile p) {
    Guard g(*this);
    require_chassis("profile");
    if (p.name.empty()) throw core::ConfigError("dialout.profiles", "", "a profile needs a name");
    profiles_[p.name] = std::move(p);
}

void Manager::set_timer(std::string_view name, Duration d) {
    Guard g(*this);
    require_chassis("timer");
    if (name != "trigger" && name != "dormant")
        throw core::ConfigError(fmt::format("dialout.timers.{}", name), std::string(name),
                                "is not a dial-out timer (known: dormant, trigger)");
    registry_.set(name, d, fmt::format("dialout.timers.{}", name));
}

void Manager::validate_chassis_config(const ChassisConfig& c) {
    auto at_least_1 = [](std::string_view key, std::uint32_t v) {
        if (v == 0) throw core::ConfigError(fmt::format("dialout.{}", key), "0", "must be at least 1");
    };
    at_least_1("max-connecting-sessions", c.max_connecting_sessions);
    at_least_1("max-sessions-per-target", c.max_sessions_per_target);
    at_least_1("max-sessions-per-virtual-router", c.max_sessions_per_virtual_router);
    at_least_1("trigger-rate", c.trigger_rate);
    at_least_1("trigger-burst", c.trigger_burst);
    at_least_1("max-pending-sessions", c.max_pending_sessions);
    if (c.max_sessions_per_target > c.max_sessions_per_virtual_router)
        throw core::ConfigError("dialout.max-sessions-per-target", std::to_string(c.max_sessions_per_target),
                                fmt::format("must not exceed max-sessions-per-virtual-router ({})",
                                            c.max_sessions_per_virtual_router));
}

void Manager::set_chassis_config(const ChassisConfig& c) {
    Guard g(*this);
    require_chassis("chassis configuration");
    validate_chassis_config(c);
    config_ = c;
    defer([this] { promote_pending(); });
}

void Manager::load(const core::ConfigNode& node) {
    Guard g(*this);
    require_chassis("configuration");
    if (!node.defined()) return;
    node.require_map();
    node.allow_keys({"timers", "max-connecting-sessions", "trigger-buffer", "trigger-max-bytes",
                     "pending-to-authenticating", "max-sessions-per-target", "max-sessions-per-virtual-router",
                     "trigger-rate", "trigger-burst", "max-pending-sessions", "profiles", "targets",
                     "route-withdrawal"});  // read by lnsd (dl/lnsd/route_withdrawal.hpp)
    core::TimerRegistry timers = registry_;
    if (node.has("timers")) {
        const auto tn = node["timers"];
        tn.require_map();
        tn.allow_keys({"trigger", "dormant"});
        timers.load(tn);
    }
    ChassisConfig c = config_;
    c.max_connecting_sessions =
        static_cast<std::uint32_t>(node.get_int("max-connecting-sessions", c.max_connecting_sessions, 1, 1'000'000));
    c.trigger_buffer = static_cast<std::uint32_t>(node.get_int("trigger-buffer", c.trigger_buffer, 0, 1024));
    c.trigger_max_bytes =
        static_cast<std::uint32_t>(node.get_int("trigger-max-bytes", c.trigger_max_bytes, 20, 65535));
    c.pending_to_authenticating = node.get_bool("pending-to-authenticating", c.pending_to_authenticating);
    auto u32 = [&](const char* key, std::uint32_t v) {
        return static_cast<std::uint32_t>(node.get_int(key, v, 1, 1'000'000));
    };
    c.max_sessions_per_target = u32("max-sessions-per-target", c.max_sessions_per_target);
    c.max_sessions_per_virtual_router = u32("max-sessions-per-virtual-router", c.max_sessions_per_virtual_router);
    c.trigger_rate = u32("trigger-rate", c.trigger_rate);
    c.trigger_burst = u32("trigger-burst", c.trigger_burst);
    c.max_pending_sessions = u32("max-pending-sessions", c.max_pending_sessions);
    if (c.max_sessions_per_target > c.max_sessions_per_virtual_router)
        node.at(node.has("max-sessions-per-target") ? "max-sessions-per-target" : "max-sessions-per-virtual-router")
            .fail(fmt::format("max-sessions-per-target ({}) must not exceed max-sessions-per-virtual-router ({})",
                              c.max_sessions_per_target, c.max_sessions_per_virtual_router));

    auto saved_profiles = profiles_;
    std::vector<TargetConfig> targets;
    try {
        if (node.has("profiles")) {
            const auto pn = node["profiles"];
            pn.require_map();
            for (const auto& name : pn.keys()) {
                const auto e = pn[name];
                Profile p{name};
                if (!e.is_null()) {
                    e.require_map();
                    e.allow_keys({"mru", "authentication", "keepalive", "ipcp-dns"});
                    p.mru = static_cast<std::uint16_t>(e.get_int("mru", p.mru, 64, 65535));
                    if (e.has("authentication")) {
                        static const std::vector<std::string_view> kAuth{"none", "pap", "chap", "pap-chap",
                                                                         "chap-pap"};
                        p.authentication = std::string(kAuth[e["authentication"].as_enum(kAuth)]);
                    }
                    p.keepalive = e.get_duration("keepalive", p.keepalive);
                    p.ipcp_dns = e.get_bool("ipcp-dns", p.ipcp_dns);
                }
                profiles_[name] = std::move(p);
            }
        }
        if (node.has("targets")) {
            const auto tl = node["targets"];
            tl.require_sequence();
            for (std::size_t i = 0; i < tl.size(); ++i) {
                const auto e = tl.at(i);
                e.require_map();
                e.allow_keys({"virtual-router", "prefix", "domain", "profile", "route-distinguisher"});
                TargetConfig t;
                t.vr = e.get_string("virtual-router", "default");
                t.prefix = e.at("prefix").as_ipv4_prefix();
                t.domain = e.at("domain").as_string();
                t.profile = e.at("profile").as_string();
                t.route_distinguisher = e.get_string("route-distinguisher", "");
                validate_target(t, e.path());
                for (const auto& o : targets)
                    if (o.vr == t.vr && o.prefix == t.prefix)
                        e.at("prefix").fail("duplicates the target " + t.vr + "/" + t.prefix.to_string());
                targets.push_back(std::move(t));
            }
        }
    } catch (...) {
        profiles_ = std::move(saved_profiles);
        throw;
    }
    registry_ = timers;
    config_ = c;
    for (const auto& t : targets) add_target(t);
}

void Manager::chassis_initialization_failed(std::string_view reason) {
    Guard g(*this);
    chassis_->reason = std::string(reason);
    chassis_->fsm.dispatch(ChassisEvent::init_failed, reason);
}

void Manager::chassis_resources_available() {
    Guard g(*this);
    if (chassis_->fsm.dispatch(ChassisEvent::resources_available, "resources available")) chassis_->reason.clear();
}

void Manager::vr_operational(std::string_view vr, bool operational) {
    Guard g(*this);
    require_chassis("virtual-router");
    VirtualRouter& v = vr_or_create(std::string(vr));
    v.fsm.dispatch(operational ? VrEvent::vr_operational : VrEvent::vr_not_operational,
                   operational ? "virtual router operational" : "virtual router not operational");
}

void Manager::vr_interface(std::string_view vr, bool up) {
    Guard g(*this);
    require_chassis("virtual-router");
    VirtualRouter& v = vr_or_create(std::string(vr));
    v.fsm.dispatch(up ? VrEvent::interface_up : VrEvent::interface_down,
                   up ? "dial-out interface up" : "dial-out interface down");
}

void Manager::target_condition(std::string_view vr, Ipv4Prefix prefix, TargetCondition c, std::string_view detail) {
    Guard g(*this);
    Target* t = find_target(vr, prefix);
    if (!t) throw DialOutError(fmt::format("dial-out target {}/{} does not exist", vr, prefix.to_string()));
    switch (c) {
        case TargetCondition::resources_exhausted:
            t->fsm.dispatch(TargetEvent::resources_exhausted, "insufficient resources to handle triggers");
            break;
        case TargetCondition::route_create_failed:
            // Table 73 down, one transition: a route that still cannot be created (the daemon
            // retries it, e.g. at every link-up) leaves a down target as it is, without an event.
            if (t->fsm.state() == TargetState::down) {
                ++t->route_failures_while_down;
                break;
            }
            t->fsm.dispatch(TargetEvent::route_create_failed,
                            detail.empty() ? std::string_view("cannot create the dial-out route") : detail);
            break;
        case TargetCondition::resources_available:
            t->fsm.dispatch(TargetEvent::resources_available, "resources available");
            break;
    }
}

void Manager::session_left_or_entered(Session& s, SessionState from, SessionState to) {
    if ((from == SessionState::pending) != (to == SessionState::pending)) {
        if (to == SessionState::pending) ++pending_;
        else --pending_;
    }
    if (to == SessionState::dormant && from != SessionState::dormant) {
        s.enter_dormant();
        // A dormant session can be evicted: a target inhibited by a session cap has room again.
        defer([this, vr = s.key.vr] {
            if (VirtualRouter* v = find_vr(vr)) sessions_ended(*v);
        });
    } else if (from == SessionState::dormant && to != SessionState::dormant) {
        s.leave_dormant();
    }
    const bool a = is_connecting(from), b = is_connecting(to);
    if (a == b) return;
    if (b) {
        ++connecting_;
    } else {
        --connecting_;
        defer([this] { promote_pending(); });
    }
}

void Manager::promote_pending() {
    // Table 77 pending: "until other sessions transition out of the connecting state". One pending
    // session moves on per free connecting slot, in arrival order.
    std::uint32_t moved = 0;
    while (!pending_queue_.empty() && connecting_ + moved < config_.max_connecting_sessions) {
        const SessionKey key = pending_queue_.front();
        pending_queue_.pop_front();
        Session* s = find_session(key);
        if (!s || s->fsm.state() != SessionState::pending) continue;
        if (!config_.pending_to_authenticating) ++moved;  // to dormant: occupies no slot
        s->fsm.dispatch(SessionEvent::slot_available, "connecting sessions below the maximum");
    }
}

std::size_t Manager::vr_sessions(const VirtualRouter& vr) {
    std::size_t n = 0;
    for (const auto& [k, t] : vr.targets) n += t->sessions.size();
    return n;
}

Manager::Room Manager::room_for_session(const Target& t) const {
    // JunosE "L2TP Dial-Out" Table 74 dormant: a session with no call and no AAA request, kept only
    // "to allow analysis of a dial-out session before it is deleted" -- the one kind a cap may
    // delete early. Every other state is a call in progress (authenticating, connecting,
    // inService), a back-off that must run out (inhibited, postInhibited: deleting it would let
    // the destination thrash), a queued trigger (pending) or an error kept until reset (failed).
    const bool target_full = t.sessions.size() >= config_.max_sessions_per_target;
    const bool vr_full = vr_sessions(t.vr) >= config_.max_sessions_per_virtual_router;
    if (!target_full && !vr_full) return {true, nullptr};
    if (target_full) {  // a session of this target also counts for its router
        if (t.dormant.empty()) return {false, nullptr};
        return {true, t.dormant.begin()->second};
    }
    Session* oldest = nullptr;
    for (const auto& [k, o] : t.vr.targets)
        if (!o->dormant.empty() && (!oldest || o->dormant.begin()->first < *oldest->dormant_since))
            oldest = o->dormant.begin()->second;
    return {oldest != nullptr, oldest};
}

bool Manager::over_session_cap(const Target& t) const { return !room_for_session(t).fits; }

void Manager::evict(Session& victim, const SessionKey& for_key) {
    Target& vt = victim.t;
    const SessionKey k = victim.key;
    victim.fsm.dispatch(SessionEvent::evict,
                        fmt::format("evicted for {}: {} sessions (max-sessions-per-target {}), {} in the virtual "
                                    "router (max-sessions-per-virtual-router {})",
                                    for_key.destination.to_string(), vt.sessions.size(),
                                    config_.max_sessions_per_target, vr_sessions(vt.vr),
                                    config_.max_sessions_per_virtual_router));
    ++vt.counters.evicted;
    ++vt.vr.counters.evicted;
    ++chassis_->counters.evicted;
    vt.sessions.erase(k.destination.value);  // deferred effects look sessions up by key
}

void Manager::sessions_ended(VirtualRouter& vr) {
    for (auto& [k, t] : vr.targets)
        if (t->fsm.state() == TargetState::inhibited && t->inhibit_cause == InhibitCause::session_cap &&
            !over_session_cap(*t)) {
            std::size_t dormant = 0;
            for (const auto& [n, o] : vr.targets) dormant += o->dormant.size();
            t->fsm.dispatch(TargetEvent::sessions_below_cap,
                            fmt::format("{} sessions, {} in the virtual router, {} dormant: room under the caps",
                                        t->sessions.size(), vr_sessions(vr), dormant));
        }
}

void Manager::count_failure(Target& t, std::string_view reason) {
    ++t.counters.failures[std::string(reason)];
    ++chassis_->counters.failures[std::string(reason)];
}

TriggerOutcome Manager::trigger(std::string_view vr_name, std::span<const std::uint8_t> packet) {
    Guard g(*this);
    const auto dest = ipv4_destination(packet);
    if (!dest) {
        ++malformed_triggers_;
        return TriggerOutcome::malformed;
    }
    VirtualRouter* vr = find_vr(vr_name);
    Target* t = vr ? vr->match(*dest) : nullptr;
    if (!t) {
        ++not_triggers_;
        return TriggerOutcome::no_target;
    }
    Counters& cc = chassis_->counters;
    ++t->counters.received;
    ++vr->counters.received;
    ++cc.received;
    auto discard_all = [&](std::string_view why) {
        t->counters.discard(why);
        vr->counters.discard(why);
        cc.discard(why);
    };
    if (chassis_->fsm.state() != ChassisState::inService) {
        discard_all("chassis-initializationFailed");
        return TriggerOutcome::chassis_down;
    }
    if (vr->fsm.state() != VrState::inService) {
        discard_all(fmt::format("vr-{}", to_string(vr->fsm.state())));
        return TriggerOutcome::vr_not_in_service;
    }
    auto it = t->sessions.find(dest->value);
    Session* s = it == t->sessions.end() ? nullptr : it->second.get();
    if (!s) {
        // JunosE "L2TP Dial-Out" "Route Installation": an access route that does not encompass the dial-out route
        // leaves other destinations triggering new sessions; destinations it covers are forwarded.
        if (Session* o = t->access_route_for(*dest)) {
            ++t->counters.forwarded;
            ++cc.forwarded;
            if (ports_.forward) ports_.forward(o->key, packet);
            return TriggerOutcome::forwarded;
        }
    }
    if (t->fsm.state() != TargetState::inService && !(s && s->fsm.state() == SessionState::inService)) {
        discard_all(fmt::format("target-{}", to_string(t->fsm.state())));
        return TriggerOutcome::target_not_in_service;
    }
    // Table 73 inhibited, driven by the limits: the trigger that finds a cap reached or the budget
    // empty makes the one transition; the triggers after it are discarded as target-inhibited above.
    Room room{true, nullptr};
    if (!s || s->fsm.state() != SessionState::inService) {
        if (!s) room = room_for_session(*t);
        if (!room.fits) {
            discard_all("session-cap");
            t->fsm.dispatch(TargetEvent::session_cap_reached,
                            fmt::format("{} sessions (max-sessions-per-target {}), {} in the virtual router "
                                        "(max-sessions-per-virtual-router {})",
                                        t->sessions.size(), config_.max_sessions_per_target, vr_sessions(*vr),
                                        config_.max_sessions_per_virtual_router));
            return TriggerOutcome::target_not_in_service;
        }
        t->refill(timers_.now());
        if (t->tokens < 1.0) {
            discard_all("trigger-rate");
            t->fsm.dispatch(TargetEvent::trigger_budget_exhausted,
                            fmt::format("trigger budget empty (trigger-rate {}/s, trigger-burst {})",
                                        config_.trigger_rate, config_.trigger_burst));
            return TriggerOutcome::target_not_in_service;
        }
        t->tokens -= 1.0;
        // Table 77 pending, bounded: a trigger that would make one more session pending is discarded.
        const bool would_pend = connecting_ >= config_.max_connecting_sessions &&
                                (!s || s->fsm.state() == SessionState::dormant ||
                                 s->fsm.state() == SessionState::postInhibited);
        if (would_pend && pending_ >= config_.max_pending_sessions) {
            if (s) ++s->discarded;
            discard_all("pending-full");
            return TriggerOutcome::discarded;
        }
    }
    const bool created = !s;
    if (created) {
        if (room.evict) evict(*room.evict, SessionKey{vr->name, t->cfg.prefix, *dest});
        // JunosE "L2TP Dial-Out" Table 74: "New sessions start in the authenticating state"; JunosE "Broadband Access Configuration Guide" Table 77:
        // pending when the chassis already has the maximum of connecting sessions.
        SessionKey key{vr->name, t->cfg.prefix, *dest};
        const SessionState born = connecting_ >= config_.max_connecting_sessions ? SessionState::pending
                                                                                 : SessionState::authenticating;
        auto ns = std::make_unique<Session>(*this, *t, key, core::FsmEnv{&bus_, &timers_, &registry_}, born);
        ns->created = timers_.now();
        s = t->sessions.emplace(dest->value, std::move(ns)).first->second.get();
    }
    ++s->received;
    // The trigger that creates a session is buffered, also when it is born pending (it is the trigger
    // a pending session authenticates with under pending-to-authenticating).
    const SessionState st = created ? SessionState::authenticating : s->fsm.state();
    auto discard = [&](std::string_view why) {
        ++s->discarded;
        discard_all(why);
    };
    TriggerOutcome out = TriggerOutcome::discarded;
    std::string cause;
    switch (st) {
        case SessionState::inService:
            ++s->forwarded;
            ++t->counters.forwarded;
            ++cc.forwarded;
            if (ports_.forward) ports_.forward(s->key, packet);
            out = TriggerOutcome::forwarded;
            cause = "forwarded";
            break;
        case SessionState::authenticating:
        case SessionState::failed:
        case SessionState::dormant:
        case SessionState::postInhibited:
            if (s->buffer.size() < config_.trigger_buffer && packet.size() <= config_.trigger_max_bytes) {
                s->buffer.emplace_back(packet.begin(), packet.end());
                ++s->buffered;
                ++t->counters.buffered;
                ++cc.buffered;
                out = TriggerOutcome::buffered;
                cause = fmt::format("{} buffered {}/{}", dest->to_string(), s->buffer.size(), config_.trigger_buffer);
            } else {
                discard(packet.size() > config_.trigger_max_bytes ? "too-long" : "buffer-full");
                cause = fmt::format("{} discarded: {}", dest->to_string(),
                                    packet.size() > config_.trigger_max_bytes ? "too long" : "buffer full");
            }
            break;
        case SessionState::connecting:
        case SessionState::inhibited:
        case SessionState::pending:
            discard(to_string(st));
            cause = fmt::format("{} discarded in {}", dest->to_string(), to_string(st));
            break;
    }
    if (created)
        s->begin(cause);
    else
        s->fsm.dispatch(SessionEvent::trigger, cause);
    return out;
}

void Manager::grant(const SessionKey& key, const DialOutDefinition& def) {
    Guard g(*this);
    Session* s = find_session(key);
    if (!s) {
        ++unknown_upcalls_;
        return;
    }
    // JunosE "L2TP Dial-Out" "Access-Accept Message" / Table 75: "If tunnel attributes are excluded from the
    // Access-Accept message or the returned Service-Type attribute is not set to outbound, the
    // dial-out session is denied."
    std::optional<DenyReason> bad;
    std::string detail;
    if (def.service_type != 5) {
        bad = DenyReason::service_type_not_outbound;
        detail = fmt::format("Service-Type {}", def.service_type);
    } else if (def.tunnels.empty()) {
        bad = DenyReason::tunnel_attributes_missing;
    } else {
        for (const auto& tu : def.tunnels) {
            if (tu.type != 3) {
                bad = DenyReason::tunnel_type_not_l2tp;
                detail = fmt::format("tag {}: Tunnel-Type {}", tu.tag, tu.type);
            } else if (tu.medium != 1) {
                bad = DenyReason::tunnel_medium_not_ipv4;
                detail = fmt::format("tag {}: Tunnel-Medium-Type {}", tu.tag, tu.medium);
            } else if (tu.server_endpoint.empty()) {
                bad = DenyReason::tunnel_server_endpoint_missing;
                detail = fmt::format("tag {}", tu.tag);
            }
            if (bad) break;
        }
    }
    if (bad) {
        deny(key, *bad, detail);
        return;
    }
    if (!s->fsm.allowed(SessionEvent::aaa_grant)) {
        s->fsm.dispatch(SessionEvent::aaa_grant, "Access-Accept");  // counted as not permitted
        return;
    }
    s->def = std::make_unique<DialOutDefinition>(def);
    s->fsm.dispatch(SessionEvent::aaa_grant,
                    fmt::format("Access-Accept LAC {}", def.tunnels.front().server_endpoint));
}

void Manager::deny(const SessionKey& key, DenyReason reason, std::string_view detail) {
    Guard g(*this);
    Session* s = find_session(key);
    if (!s) {
        ++unknown_upcalls_;
        return;
    }
    const std::string cause =
        detail.empty() ? std::string(to_string(reason)) : fmt::format("{}: {}", to_string(reason), detail);
    if (s->fsm.allowed(SessionEvent::aaa_deny)) count_failure(s->t, to_string(reason));
    s->fsm.dispatch(SessionEvent::aaa_deny, cause);
}

void Manager::call_connected(const SessionKey& key) {
    Guard g(*this);
    Session* s = find_session(key);
    if (!s) {
        ++unknown_upcalls_;
        return;
    }
    s->fsm.dispatch(SessionEvent::call_connected, "outgoing call connected");
}

void Manager::call_failed(const SessionKey& key, std::uint16_t result_code, std::uint16_t q931_cause,
                          std::string_view message) {
    Guard g(*this);
    Session* s = find_session(key);
    if (!s) {
        ++unknown_upcalls_;
        return;
    }
    if (s->fsm.allowed(SessionEvent::call_failed)) count_failure(s->t, "call-failed");
    // RFC 2661 §4.4.2 Result Code; Q.931 cause (RFC 2661 §4.4.5 Q.931 Cause Code AVP).
    s->fsm.dispatch(SessionEvent::call_failed,
                    fmt::format("call-failed: result {} q931 {}{}{}", result_code, q931_cause,
                                message.empty() ? "" : " ", message));
}

void Manager::call_closed(const SessionKey& key, std::string_view reason) {
    Guard g(*this);
    Session* s = find_session(key);
    if (!s) {
        ++unknown_upcalls_;
        return;
    }
    if (s->fsm.state() == SessionState::connecting) count_failure(s->t, "call-closed");
    s->fsm.dispatch(SessionEvent::call_closed, reason.empty() ? std::string_view("call closed") : reason);
}

void Manager::access_route_installed(const SessionKey& key, std::vector<Ipv4Prefix> prefixes) {
    Guard g(*this);
    Session* s = find_session(key);
    if (!s) {
        ++unknown_upcalls_;
        return;
    }
    std::string text;
    bool covers = false;
    for (const auto& p : prefixes) {
        text += (text.empty() ? "" : " ") + p.to_string();
        covers = covers || p.contains(key.destination);
    }
    if (!s->fsm.allowed(SessionEvent::route_verified)) {
        s->fsm.dispatch(SessionEvent::route_verified, "access route " + text);  // not permitted
        return;
    }
    s->access_route = std::move(prefixes);
    if (covers) {
        s->fsm.dispatch(SessionEvent::route_verified,
                        fmt::format("access route {} forwards {}", text, key.destination.to_string()));
    } else {
        count_failure(s->t, "route-mismatch");
        s->fsm.dispatch(SessionEvent::route_mismatch,
                        fmt::format("access route {} does not forward {}", text.empty() ? "(none)" : text,
                                    key.destination.to_string()));
    }
}

void Manager::session_reset(const SessionKey& key) {
    Guard g(*this);
    require_chassis("session reset");
    Session* s = find_session(key);
    if (!s) throw DialOutError("dial-out session " + key.to_string() + " does not exist");
    s->fsm.dispatch(SessionEvent::reset, "l2tp dial-out session reset");
}

// ---- introspection and show ---------------------------------------------------------------------

ChassisState Manager::chassis_state() const noexcept { return chassis_->fsm.state(); }

std::optional<VrState> Manager::vr_state(std::string_view vr) const {
    const VirtualRouter* v = find_vr(vr);
    if (!v) return std::nullopt;
    return v->fsm.state();
}

std::optional<TargetState> Manager::target_state(std::string_view vr, Ipv4Prefix prefix) const {
    const Target* t = find_target(vr, prefix);
    if (!t) return std::nullopt;
    return t->fsm.state();
}

std::optional<SessionState> Manager::session_state(const SessionKey& key) const {
    const Session* s = find_session(key);
    if (!s) return std::nullopt;
    return s->fsm.state();
}

std::optional<std::pair<std::string, Duration>> Manager::session_timer(const SessionKey& key) const {
    const Session* s = find_session(key);
    const core::Timer* tm = s ? s->state_timer() : nullptr;
    if (!tm) return std::nullopt;
    return std::pair<std::string, Duration>{std::string(s->state_timer_name()), tm->remaining()};
}

std::optional<Duration> Manager::session_inhibited_value(const SessionKey& key) const {
    const Session* s = find_session(key);
    if (!s) return std::nullopt;
    return s->inhibited;
}

std::size_t Manager::session_count() const noexcept {
    std::size_t n = 0;
    for (const auto& [name, vr] : vrs_)
        for (const auto& [k, t] : vr->targets) n += t->sessions.size();
    return n;
}

namespace {
nlohmann::json timer_json(const Session& s) {
    const core::Timer* tm = s.state_timer();
    if (!tm) return nullptr;
    return {{"name", std::string(s.state_timer_name())},
            {"remaining", core::format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(tm->remaining()))},
            {"remaining_ns", tm->remaining().count()}};
}

nlohmann::json session_json(const Session& s, bool detail, core::TimePoint now) {
    nlohmann::json j = {{"session", s.key.to_string()},
                        {"state", std::string(to_string(s.fsm.state()))},
                        {"timer", timer_json(s)}};
    if (!detail) return j;
    j["virtual_router"] = s.key.vr;
    j["target"] = s.key.target.to_string();
    j["destination"] = s.key.destination.to_string();
    j["user_name"] = Manager::user_name(s.t.cfg.route_distinguisher, s.key.destination, s.t.cfg.domain);
    j["inhibited_value"] = core::format_duration(s.inhibited);
    j["age"] = core::format_duration(std::chrono::duration_cast<seconds>(now - s.created));
    j["counters"] = {{"triggers_received", s.received}, {"triggers_buffered", s.buffered},
                     {"triggers_discarded", s.discarded}, {"triggers_forwarded", s.forwarded},
                     {"attempts", s.attempts},           {"buffer", s.buffer.size()}};
    j["last_failure"] = s.last_failure;
    j["not_permitted"] = s.fsm.not_permitted_count();
    nlohmann::json routes = nlohmann::json::array();
    for (const auto& p : s.access_route) routes.push_back(p.to_string());
    j["access_route"] = routes;
    j["call"] = {{"placed", s.call_placed}, {"connected", s.call_up}};
    if (s.def) {
        j["lac"] = s.def->tunnels.empty() ? "" : s.def->tunnels.front().server_endpoint;
        j["dial_out_number"] = s.def->dial_out_number;
    }
    return j;
}
}  // namespace

nlohmann::json Manager::show_chassis() const {
    nlohmann::json j = {{"state", std::string(to_string(chassis_->fsm.state()))},
                        {"reason", chassis_->reason},
                        {"timers",
                         {{"trigger", core::format_duration(registry_.get("trigger"))},
                          {"dormant", core::format_duration(registry_.get("dormant"))}}},
                        {"max_connecting_sessions", config_.max_connecting_sessions},
                        {"connecting_sessions", connecting_},
                        {"pending_sessions", pending_},
                        {"trigger_buffer", config_.trigger_buffer},
                        {"pending_to_authenticating", config_.pending_to_authenticating},
                        {"max_pending_sessions", config_.max_pending_sessions},
                        {"max_sessions_per_target", config_.max_sessions_per_target},
                        {"max_sessions_per_virtual_router", config_.max_sessions_per_virtual_router},
                        {"trigger_rate", config_.trigger_rate},
                        {"trigger_burst", config_.trigger_burst},
                        {"virtual_routers", vrs_.size()},
                        {"sessions", session_count()},
                        {"not_triggers", not_triggers_},
                        {"malformed_triggers", malformed_triggers_},
                        {"unknown_upcalls", unknown_upcalls_},
                        {"not_permitted", Session::spec().not_permitted_count()},
                        {"counters", chassis_->counters.to_json()}};
    return j;
}

nlohmann::json Manager::show_virtual_routers(std::string_view name) const {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& [n, vr] : vrs_) {
        if (!name.empty() && n != name) continue;
        a.push_back({{"virtual_router", n},
                     {"state", std::string(to_string(vr->fsm.state()))},
                     {"targets", vr->targets.size()},
                     {"counters", vr->counters.to_json()}});
    }
    return a;
}

namespace {
nlohmann::json target_json(const std::string& vr, const Target& t) {
    return {{"target", t.fsm.id()},
            {"virtual_router", vr},
            {"prefix", t.cfg.prefix.to_string()},
            {"domain", t.cfg.domain},
            {"profile", t.cfg.profile},
            {"route_distinguisher", t.cfg.route_distinguisher},
            {"state", std::string(to_string(t.fsm.state()))},
            {"sessions", t.sessions.size()},
            {"route_failures_while_down", t.route_failures_while_down},
            {"counters", t.counters.to_json()}};
}
}  // namespace

nlohmann::json Manager::show_targets(std::string_view vrname) const {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& [n, vr] : vrs_) {
        if (!vrname.empty() && n != vrname) continue;
        for (const auto& [k, t] : vr->targets) a.push_back(target_json(n, *t));
    }
    return a;
}

nlohmann::json Manager::show_targets(std::string_view vrname, const core::ListPage& page) const {
    std::optional<std::pair<std::string_view, std::uint64_t>> after;  // vr, VirtualRouter::order
    if (page.after) {
        const std::string_view a = *page.after;
        const auto slash = a.find('/');
        const auto p = slash == std::string_view::npos ? std::nullopt : Ipv4Prefix::parse(a.substr(slash + 1));
        if (slash == 0 || !p || p->has_host_bits())
            throw core::ControlArgError("after", "'" + *page.after + "' is not a dial-out target <vr>/<prefix>");
        after = std::pair{a.substr(0, slash), VirtualRouter::order(*p)};
    }
    std::size_t total = 0;
    for (const auto& [n, vr] : vrs_)
        if (vrname.empty() || n == vrname) total += vr->targets.size();
    core::ListPageBuilder out(page, total, "show l2tp dial-out target");
    for (auto vit = after ? vrs_.lower_bound(after->first) : vrs_.begin(); vit != vrs_.end(); ++vit) {
        const auto& [n, vr] = *vit;
        if (!vrname.empty() && n != vrname) continue;
        const bool same_vr = after && n == after->first;
        for (auto tit = same_vr ? vr->targets.upper_bound(after->second) : vr->targets.begin(); tit != vr->targets.end();
             ++tit) {
            if (!out.room()) {
                out.more();
                return std::move(out).finish();
            }
            out.add(target_json(n, *tit->second), tit->second->fsm.id());
        }
    }
    return std::move(out).finish();
}

nlohmann::json Manager::show_sessions(bool detail) const {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& [n, vr] : vrs_)
        for (const auto& [k, t] : vr->targets)
            for (const auto& [d, s] : t->sessions) a.push_back(session_json(*s, detail, timers_.now()));
    return a;
}

nlohmann::json Manager::show_sessions(bool detail, const core::ListPage& page) const {
    std::optional<SessionKey> after;
    if (page.after) {
        after = SessionKey::parse(*page.after);
        if (!after)
            throw core::ControlArgError("after",
                                        "'" + *page.after + "' is not a dial-out session <vr>/<prefix>/<destination>");
    }
    std::size_t total = 0;  // O(targets), not a walk over every session
    for (const auto& [n, vr] : vrs_)
        for (const auto& [k, t] : vr->targets) total += t->sessions.size();
    core::ListPageBuilder out(page, total, "show l2tp dial-out session");
    const auto now = timers_.now();
    for (auto vit = after ? vrs_.lower_bound(after->vr) : vrs_.begin(); vit != vrs_.end(); ++vit) {
        const auto& vr = *vit->second;
        const bool same_vr = after && vit->first == after->vr;
        const auto order = same_vr ? VirtualRouter::order(after->target) : 0;
        for (auto tit = same_vr ? vr.targets.lower_bound(order) : vr.targets.begin(); tit != vr.targets.end(); ++tit) {
            const auto& t = *tit->second;
            const bool same_target = same_vr && tit->first == order;
            for (auto sit = same_target ? t.sessions.upper_bound(after->destination.value) : t.sessions.begin();
                 sit != t.sessions.end(); ++sit) {
                if (!out.room()) {
                    out.more();
                    return std::move(out).finish();
                }
                out.add(session_json(*sit->second, detail, now), sit->second->key.to_string());
            }
        }
    }
    return std::move(out).finish();
}

nlohmann::json Manager::show_session(const SessionKey& key) const {
    const Session* s = find_session(key);
    if (!s) throw DialOutError("dial-out session " + key.to_string() + " does not exist");
    return session_json(*s, true, timers_.now());
}

}  // namespace dl::dialout
