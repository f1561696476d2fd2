// The per-call session FSM of lnsd. See dl/session/call.hpp.
#include "dl/session/call.hpp"

#include <stdexcept>

namespace dl::session {

using S = CallState;
using E = CallEvent;

std::string_view to_string(CallState s) noexcept {
    switch (s) {
        case S::placing: return "placing";
        case S::proxy_auth: return "proxy-auth";
        case S::ppp: return "ppp";
        case S::network_up: return "network-up";
        case S::releasing: return "releasing";
        case S::closing: return "closing";
        case S::failed: return "failed";
    }
    return "?";
}

std::string_view to_string(CallDirection d) noexcept {
    return d == CallDirection::dial_out ? "dial-out" : "incoming";
}

const CallSession::Spec& CallSession::spec() {
    // Rows: {state, event, next, action, timer}. Closing and failed are final: the owner reaps the
    // record (closing after CallPorts::close, failed at once). The teardown itself runs in the
    // observer on entering closing, with the state already closing, so that anything the teardown
    // makes happen (the PPP link's own link-down, a manager that clears the call again) finds the
    // call closing and is ignored.
    static const Spec s{
        "session.call",
        {"placing", "proxy-auth", "ppp", "network-up", "releasing", "closing", "failed"},
        {"place", "l2tp-up", "call-failed", "proxy-accepted", "proxy-unavailable", "network-up", "refused", "link-down",
         "l2tp-down", "clear", "timer-expiry"},
        {
            // dial-out: Lns places the call over the Access-Accept's tunnel endpoints (RFC 2661 §5.5)
            {S::placing, E::l2tp_up, S::ppp},
            {S::placing, E::call_failed, S::failed},
            {S::placing, E::clear, S::closing},
            // incoming, mandatory CHAP: the LAC's proxy authentication at AAA first (Huawei
            // "L2TP Session Establishment" steps 10-14)
            {S::proxy_auth, E::proxy_accepted, S::ppp},
            {S::proxy_auth, E::proxy_unavailable, S::ppp},
            {S::proxy_auth, E::refused, S::releasing, &CallSession::arm_release},
            {S::proxy_auth, E::l2tp_down, S::closing},
            {S::proxy_auth, E::clear, S::closing},
            // PPP: LCP, authentication, IPCP (RFC 1661 §3.2 phases)
            {S::ppp, E::network_up, S::network_up},
            {S::ppp, E::refused, S::releasing, &CallSession::arm_release},
            {S::ppp, E::link_down, S::releasing, &CallSession::arm_release},
            {S::ppp, E::l2tp_down, S::closing},
            {S::ppp, E::clear, S::closing},
            // IPCP opened: access routes and accounting (JunosE "L2TP Dial-Out" "Route Installation",
            // RFC 2866 Start); IPCP may open again (routes re-installed, Start not repeated)
            {S::network_up, E::network_up, S::network_up},
            {S::network_up, E::link_down, S::releasing, &CallSession::arm_release},
            {S::network_up, E::l2tp_down, S::closing},
            {S::network_up, E::clear, S::closing},
            // the end decided inside an upcall: teardown on the next turn of the loop
            {S::releasing, E::timer_expiry, S::closing},
            {S::releasing, E::l2tp_down, S::closing},
            {S::releasing, E::clear, S::closing},
        },
        E::timer_expiry,
        &CallSession::observe};
    return s;
}

CallSession::CallSession(core::FsmEnv env, const CallPorts& ports, std::uint64_t id, CallDirection direction,
                         CallState initial)
    : ports_(&ports), id_(id), direction_(direction),
      accounting_(env.timers ? *env.timers : throw std::invalid_argument("session.call: no TimerQueue"),
                  ports.accounting, id),
      fsm_(spec(), env, *this, std::to_string(id), initial), env_(env), answer_timer_(*env.timers) {
    const bool ok = direction == CallDirection::dial_out ? initial == S::placing
                                                         : (initial == S::proxy_auth || initial == S::ppp);
    if (!ok)
        throw std::invalid_argument("session.call: a " + std::string(to_string(direction)) + " call cannot be born in " +
                                    std::string(to_string(initial)));
}

void CallSession::start(std::string_view cause) {
    fsm_.start(direction_ == CallDirection::dial_out ? E::place : E::l2tp_up, cause);
}

/// `call-release`: zero delay, not configurable. It only moves the teardown out of the upcall that
/// decided it (a PPP link is never taken down inside its own callback).
void CallSession::arm_release(CallSession&, Spec::Step& st) { st.arm("call-release", core::Duration::zero()); }

void CallSession::observe(CallSession& s, const Spec::Change& c) {
    if (!c.permitted || c.to != S::closing || (c.from && *c.from == S::closing)) return;
    s.accounting_.stop(s.order_.reason);  // RFC 2866 Stop first, while the call still has its counters
    if (s.ports_->routes) s.ports_->routes->remove(s.routes_vr_, s.id_, s.routes_);
    s.routes_.clear();
    if (s.ports_->close) s.ports_->close(s, s.order_);
    if (s.link_) s.link_->lower_down(s.order_.reason);  // its own link-down finds the call closing
    if (s.ports_->closed) s.ports_->closed(s, s.order_);
}

bool CallSession::input(CallEvent e, std::string_view cause) {
    if (!fsm_.allowed(e)) return false;
    return fsm_.dispatch(e, cause);
}

ppp::engine::Link& CallSession::open_link(ppp::engine::LinkConfig config, ppp::engine::LinkCallbacks callbacks,
                                          std::string link_id) {
    if (link_) throw std::logic_error("session.call " + std::to_string(id_) + ": the PPP link is already open");
    link_ = std::make_unique<ppp::engine::Link>(std::move(config), std::move(callbacks), env_, std::move(link_id));
    return *link_;
}

bool CallSession::receive_ppp(std::span<const std::uint8_t> frame) {
    if (!link_) return false;
    // RFC 2661 §3.1 / RFC 1662 §3.1: Address and Control (FF 03) may precede the PPP Protocol.
    if (frame.size() >= 2 && frame[0] == 0xFF && frame[1] == 0x03) frame = frame.subspan(2);
    link_->receive(frame);
    return true;
}

void CallSession::answer_verify(std::uint32_t ticket, ppp::engine::VerifyResult result) {
    answers_.emplace_back(ticket, std::move(result));
    if (answer_timer_.armed()) return;
    answer_timer_.start(core::Duration::zero(), [this] {
        const auto due = std::move(answers_);
        answers_.clear();
        for (const auto& [t, v] : due)
            if (link_) link_->verify_result(t, v);
    });
}

const std::vector<core::Ipv4Prefix>& CallSession::install_routes(const std::string& vr,
                                                                std::vector<core::Ipv4Prefix> framed_routes,
                                                                std::uint32_t peer) {
    if (!ports_->routes) return routes_;
    routes_vr_ = vr;
    routes_ = ports_->routes->install(vr, id_, std::move(framed_routes), peer);
    return routes_;
}

bool CallSession::l2tp_up(std::string_view cause) { return input(E::l2tp_up, cause); }
bool CallSession::call_failed(std::string_view cause) { return input(E::call_failed, cause); }
bool CallSession::proxy_accepted(std::string_view cause) { return input(E::proxy_accepted, cause); }
bool CallSession::proxy_unavailable(std::string_view cause) { return input(E::proxy_unavailable, cause); }
bool CallSession::network_up(std::string_view cause) { return input(E::network_up, cause); }

bool CallSession::refuse(CloseOrder order) {
    if (!fsm_.allowed(E::refused)) return false;
    order_ = std::move(order);
    return fsm_.dispatch(E::refused, order_.reason);
}

bool CallSession::link_down(CloseOrder order) {
    if (!fsm_.allowed(E::link_down)) return false;
    order_ = std::move(order);
    return fsm_.dispatch(E::link_down, order_.reason);
}

bool CallSession::l2tp_down(CloseOrder order) {
    if (!fsm_.allowed(E::l2tp_down)) return false;
    order_ = std::move(order);
    order_.l2tp_gone = true;
    return fsm_.dispatch(E::l2tp_down, order_.reason);
}

bool CallSession::clear(CloseOrder order) {
    if (!fsm_.allowed(E::clear)) return false;
    order_ = std::move(order);
    return fsm_.dispatch(E::clear, order_.reason);
}

}  // namespace dl::session
