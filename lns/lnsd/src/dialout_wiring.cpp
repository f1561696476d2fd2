// lnsd dial-out wiring: Manager ports -> RADIUS client and Lns; one call (lns/session CallSession,
// which holds the call's data and PPP link) per L2TP session, found by dial-out key, L2TP handle
// or call number; the sessions' ports over Lns, the RADIUS client and the data plane. See
// dl/lnsd/dialout_wiring.hpp.
#include "dl/lnsd/dialout_wiring.hpp"

#include <algorithm>
#include <charconv>
#include <set>

#include "dl/core/config.hpp"
#include "dl/core/control.hpp"
#include "dl/core/duration.hpp"
#include "dl/core/errors.hpp"
#include "dl/core/event.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/l2tp/types.hpp"
#include "dl/ppp/engine/link.hpp"
#include "dl/radius/client/builders.hpp"
#include "dl/radius/client/client.hpp"
#include "dl/radius/client/ppp_credentials.hpp"
#include "dl/session/call.hpp"

namespace dl::lnsd {

namespace rc = radius::client;
namespace pe = ppp::engine;
namespace eng = l2tp::engine;

/// One L2TP session with its PPP link: its session (lns/session: the call's state and what ends
/// it, its L2TP side, PPP link, early frames, pool address, IPv4 counters, accounting and access
/// routes) and, for a dial-out call, the manager's key the wiring finds it by.
struct DialOutWiring::Call {
    Call(core::FsmEnv env, const session::CallPorts& ports, std::uint64_t call_id, session::CallDirection d,
         session::CallState initial, const std::string& vr, const std::string& profile)
        : session(env, ports, call_id, d, initial, vr, profile) {}
    session::CallSession session;
    std::optional<dialout::SessionKey> key;  ///< dial-out session; none for incoming calls
};

std::size_t DialOutWiring::sizeof_call_record() noexcept { return sizeof(Call); }

namespace {

pe::AuthPreference auth_pref(std::string_view s) {
    if (s == "pap") return pe::AuthPreference::pap;
    if (s == "chap") return pe::AuthPreference::chap;
    if (s == "pap-chap") return pe::AuthPreference::pap_then_chap;
    if (s == "chap-pap") return pe::AuthPreference::chap_then_pap;
    return pe::AuthPreference::none;
}

rc::ServerGroup group_of(const std::vector<RadiusServerConfig>& auth, const std::vector<RadiusServerConfig>& acct) {
    rc::ServerGroup g;
    for (const auto& s : auth) g.authentication.push_back({{s.address.value, s.port}, s.secret, s.require_message_authenticator});
    for (const auto& s : acct) g.accounting.push_back({{s.address.value, s.port}, s.secret, s.require_message_authenticator});
    return g;
}

/// Name of the RADIUS client server group holding a VR's LNS (PPP authentication) servers.
std::string lns_group(std::string_view vr) { return std::string(vr) + "/lns"; }

/// Maps decode_dialout_accept problems to the manager's deny reasons (JunosE "L2TP Dial-Out" Table 75).
dialout::DenyReason deny_reason(const std::vector<std::string>& problems) {
    auto any = [&](std::string_view needle) {
        return std::any_of(problems.begin(), problems.end(),
                           [&](const std::string& p) { return p.find(needle) != std::string::npos; });
    };
    if (any("Service-Type")) return dialout::DenyReason::service_type_not_outbound;
    if (any("no tunnel") || any("No tunnel") || any("tunnel attributes")) return dialout::DenyReason::tunnel_attributes_missing;
    if (any("Tunnel-Type")) return dialout::DenyReason::tunnel_type_not_l2tp;
    if (any("Tunnel-Medium-Type")) return dialout::DenyReason::tunnel_medium_not_ipv4;
    if (any("Tunnel-Server-Endpoint")) return dialout::DenyReason::tunnel_server_endpoint_missing;
    return dialout::DenyReason::invalid_accept;
}

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : "; ") + x;
    return s;
}

/// ERX-Tunnel-Bearer-Type (JunosE "L2TP Dial-Out": 0 name, 1 analog, 2 digital) -> RFC 2661 §4.4.4 Bearer Type bits.
std::uint32_t bearer_bits(std::optional<std::uint32_t> erx) {
    if (!erx) return l2tp::kBearerDigital;
    if (*erx == 1) return l2tp::kBearerAnalog;
    if (*erx == 2) return l2tp::kBearerDigital;
    return 0;
}

std::string ip_text(std::uint32_t a) { return core::Ipv4Address{a}.to_string(); }

/// Lns's name of a call's L2TP session (the call has one: l2tp().session).
CallHandle handle_of(const session::CallSession& s) { return CallHandle{*s.l2tp().session}; }

/// The LAC's authentication of the client from the proxy authentication AVPs (RFC 2661 §4.4.5:
/// Proxy Authen Type 2 CHAP with Challenge/ID/Response, 3 PAP with the password as Response);
/// none when incomplete or of another type.
std::optional<pe::Credentials> proxy_credentials(const eng::IncomingCall& in) {
    if (!in.proxy_authen_type || !in.proxy_authen_name || !in.proxy_authen_response) return std::nullopt;
    pe::Credentials cr;
    cr.user = *in.proxy_authen_name;
    if (*in.proxy_authen_type == 2 && in.proxy_authen_challenge && in.proxy_authen_id) {
        cr.method = pe::AuthMethod::chap_md5;
        cr.chap_id = *in.proxy_authen_id;
        cr.challenge = *in.proxy_authen_challenge;
        cr.response = *in.proxy_authen_response;
        return cr;
    }
    if (*in.proxy_authen_type == 3) {
        cr.method = pe::AuthMethod::pap;
        cr.password.assign(in.proxy_authen_response->begin(), in.proxy_authen_response->end());
        return cr;
    }
    return std::nullopt;
}

}  // namespace

std::vector<TunnelEndpoint> tunnel_endpoints(const rc::DialOutDefinition& def) {
    std::vector<TunnelEndpoint> out;
    out.reserve(def.tunnels.size());
    for (const auto& t : def.tunnels)
        out.push_back({t.tag, t.server_endpoint, t.password, t.preference, t.assignment_id});
    return out;
}

DialOutWiring::DialOutWiring(core::TimerQueue& timers, core::TimerRegistry& registry, core::EventBus& bus, Lns& lns,
                             rc::Client& radius, DialOutWiringConfig config, DataPlanePort dataplane)
    : timers_(timers), registry_(registry), bus_(bus), lns_(lns), radius_(radius), cfg_(std::move(config)),
      dp_(std::move(dataplane)), alive_(std::make_shared<bool>(true)),
      routes_(&bus, session::RoutePort{dp_.add_routes, dp_.remove_session, &counters_.route_errors}),
      reap_timer_(timers),
      acct_instance_(new_acct_instance()) {
    dialout::Ports ports;
    ports.authorize = [this](const dialout::SessionKey& k, const std::string& u) { authorize(k, u); };
    ports.place_call = [this](const dialout::SessionKey& k, const rc::DialOutDefinition& d, const dialout::Profile& p) {
        place_call(k, d, p);
    };
    ports.clear_call = [this](const dialout::SessionKey& k, std::string_view r) { clear_call(k, r); };
    ports.forward = [this](const dialout::SessionKey& k, std::span<const std::uint8_t> p) { forward(k, p); };
    manager_ = std::make_unique<dialout::Manager>(bus_, timers_, registry_, std::move(ports));
    for (const auto& v : cfg_.virtual_routers) {
        if (!v.authentication.empty() || !v.accounting.empty())
            radius_.set_servers(v.name, group_of(v.authentication, v.accounting));
        const auto& lns_auth = v.lns_authentication.empty() ? v.authentication : v.lns_authentication;
        if (!lns_auth.empty()) radius_.set_servers(lns_group(v.name), group_of(lns_auth, {}));
    }
    call_ports_.close = [this](session::CallSession& s, const session::CloseOrder& o) { close_call(s.id(), o); };
    call_ports_.closed = [this](session::CallSession& s, const session::CloseOrder& o) { closed_call(s.id(), o); };
    call_ports_.routes = &routes_;
    call_ports_.frames = &counters_;
    // Each call's pool address (session::PoolPort) from its profile's ppp-profiles pool.
    call_ports_.pool.allocate = [this](std::uint64_t, const std::string& profile) -> std::uint32_t {
        const auto it = cfg_.ppp_profiles.find(profile);
        if (it == cfg_.ppp_profiles.end() || !it->second.pool) return 0;
        return pools_.allocate(profile, *it->second.pool, it->second.local_address.value);
    };
    call_ports_.pool.release = [this](std::uint64_t, std::uint32_t a) { pools_.release(a); };
    // Each call's accounting (session::CallAccounting) goes to its VR's accounting servers.
    auto& ap = call_ports_.accounting;
    ap.instance = acct_instance_;
    ap.counters = &counters_;
    ap.enabled = [this](std::uint64_t id) {
        const Call* c = find(id);
        const auto* vr = c ? cfg_.find_vr(c->session.virtual_router()) : nullptr;
        const auto* servers = vr ? radius_.servers(vr->name) : nullptr;
        return vr && !vr->accounting.empty() && servers && !servers->accounting.empty();
    };
    ap.submit = [this](std::uint64_t id, const rc::AccountingRecord& r, std::function<void(rc::Result)> done) {
        const Call* c = find(id);
        const auto* vr = c ? cfg_.find_vr(c->session.virtual_router()) : nullptr;
        if (!vr) throw std::invalid_argument("no virtual router for call " + std::to_string(id));
        auto alive = alive_;
        return radius_.submit(vr->name, rc::Service::accounting,
                              rc::build_accounting_request(r, {vr->nas_ip, vr->nas_identifier}),
                              [this, alive, done = std::move(done)](const rc::Completion& comp) {
                                  if (!*alive) return;
                                  if (comp.result == rc::Result::accept) ++counters_.acct_responses;
                                  else if (comp.result == rc::Result::timeout) ++counters_.acct_timeouts;
                                  done(comp.result);
                              });
    };
    ap.cancel = [this](rc::RequestHandle h) { return radius_.cancel(h); };
    ap.describe = [this](std::uint64_t id, rc::AccountingRecord& r) { describe_for_accounting(id, r); };
    // Each call's PPP authentication (session::CallSession::verify, authenticate_proxy) goes to its
    // VR's LNS RADIUS servers, with what the wiring knows of the call.
    auto& au = call_ports_.auth;
    au.counters = &counters_;
    au.submit = [this](std::uint64_t id, rc::PppAuthRequest req, std::function<void(const rc::Completion&)> done) {
        auto alive = alive_;
        return submit_ppp_auth(id, std::move(req), [alive, done = std::move(done)](const rc::Completion& comp) {
            if (*alive) done(comp);
        });
    };
    au.cancel = [this](rc::RequestHandle h) { return radius_.cancel(h); };
    lns_.on_connected = [this](CallHandle h, const eng::ConnectInfo& i) { on_connected(h, i); };
    lns_.on_disconnected = [this](CallHandle h, const eng::CallFailure& f) { on_disconnected(h, f); };
    lns_.on_ppp_frame = [this](CallHandle h, std::span<const std::uint8_t> b) { on_frame(h, b); };
}

DialOutWiring::~DialOutWiring() {
    *alive_ = false;
    lns_.on_connected = nullptr;
    lns_.on_disconnected = nullptr;
    lns_.on_ppp_frame = nullptr;
    for (auto& [k, h] : aaa_pending_) radius_.cancel(rc::RequestHandle{h.first, h.second});
    calls_.clear();
}

void DialOutWiring::load_dialout(const core::ConfigNode& dialout) {
    if (dialout.defined() && dialout.is_map())
        if (auto ts = dialout["targets"]; ts.defined() && ts.is_sequence())
            for (std::size_t i = 0; i < ts.size(); ++i) {
                const auto t = ts.at(i);
                if (t.is_map() && !cfg_.find_vr(t.get_string("virtual-router", "default")))
                    t["virtual-router"].fail("is not a configured virtual router (virtual-routers[].name)");
            }
    manager_->load(dialout);
    withdrawal_ = load_route_withdrawal(dialout);
    for (const auto& v : cfg_.virtual_routers) manager_->vr_operational(v.name, true);
    for (const auto& t : manager_->show_targets())
        if (auto p = core::Ipv4Prefix::parse(t.value("prefix", "")))
            install_dialout_route(t.value("virtual_router", "default"), *p);
}

void DialOutWiring::install_dialout_route(const std::string& vr, core::Ipv4Prefix prefix) {
    if (!dp_.add_dialout_route) return;
    if (auto err = dp_.add_dialout_route(vr, prefix)) {
        ++counters_.route_errors;
        core::Event e;
        e.entity = "lnsd.route";
        e.id = vr + "/" + prefix.to_string();
        e.event = "kernel-error";
        e.cause = *err;
        bus_.publish(e);
        manager_->target_condition(vr, prefix, dialout::Manager::TargetCondition::route_create_failed, *err);
        return;
    }
    // JunosE "L2TP Dial-Out" Table 73: a target that was down because its dial-out route could not be created
    // is back in service once the route is in the kernel.
    if (manager_->target_state(vr, prefix) == dialout::TargetState::down)
        manager_->target_condition(vr, prefix, dialout::Manager::TargetCondition::resources_available);
}

RouteState DialOutWiring::route_state(const std::string& vr, core::Ipv4Prefix prefix) const {
    auto it = route_guards_.find({vr, prefix});
    return it == route_guards_.end() ? RouteState::announced : it->second->state();
}

void DialOutWiring::route_outcome(const dialout::SessionKey& key, bool connected, std::string_view cause) {
    if (withdrawal_.after_failures == 0) return;
    auto it = route_guards_.find({key.vr, key.target});
    if (it == route_guards_.end()) {
        if (connected) return;  // nothing counted yet: announced already
        const auto vr = key.vr;
        const auto prefix = key.target;
        DialOutRouteGuard::Actions a;
        a.withdraw = [this, vr, prefix] {
            ++counters_.route_withdrawals;
            if (dp_.remove_dialout_route) dp_.remove_dialout_route(vr, prefix);
        };
        a.reinstall = [this, vr, prefix] {
            if (!manager_->target_state(vr, prefix)) return;  // removed meanwhile
            ++counters_.route_reinstalls;
            install_dialout_route(vr, prefix);
        };
        it = route_guards_
                 .emplace(std::pair{key.vr, key.target},
                          std::make_unique<DialOutRouteGuard>(core::FsmEnv{&bus_, &timers_, &registry_},
                                                              key.vr + "/" + key.target.to_string(), withdrawal_,
                                                              std::move(a)))
                 .first;
    }
    if (connected) it->second->connected(cause);
    else it->second->unreachable(cause);
}

void DialOutWiring::dialout_interface(const std::string& vr, bool up) {
    if (!cfg_.find_vr(vr)) return;
    if (!up) {
        manager_->vr_interface(vr, false);
        return;
    }
    // The kernel dropped the routes through the interface when it went down: install the VR's
    // dial-out routes again (a failure makes that target down), then the VR is back in service.
    // A route withdrawn by route-withdrawal stays out until its hold-down ends.
    for (const auto& t : manager_->show_targets(vr))
        if (auto p = core::Ipv4Prefix::parse(t.value("prefix", "")); p && route_state(vr, *p) != RouteState::withdrawn)
            install_dialout_route(vr, *p);
    manager_->vr_interface(vr, true);
}

DialOutWiring::Call* DialOutWiring::find(std::uint64_t id) const {
    auto it = calls_.find(id);
    return it == calls_.end() ? nullptr : it->second.get();
}

DialOutWiring::Call* DialOutWiring::find(const CallHandle& h) const {
    auto it = by_handle_.find({h.key.tunnel, h.key.session});
    return it == by_handle_.end() ? nullptr : find(it->second);
}

// ---- AAA port (JunosE "L2TP Dial-Out" "Access-Request Message", "Access-Accept Message", Table 75) ----

void DialOutWiring::authorize(const dialout::SessionKey& key, const std::string& user) {
    const auto* vr = cfg_.find_vr(key.vr);
    ++counters_.aaa_requests;
    if (!vr || !radius_.servers(key.vr) || radius_.servers(key.vr)->authentication.empty()) {
        manager_->deny(key, dialout::DenyReason::radius_timeout,
                       "no RADIUS authentication server for virtual router " + key.vr);
        return;
    }
    rc::NasInfo nas{vr->nas_ip, vr->nas_identifier};
    auto alive = alive_;
    try {
        auto h = radius_.submit(key.vr, rc::Service::authentication, rc::build_dialout_access_request(user, nas),
                                [this, alive, key](const rc::Completion& c) {
                                    if (!*alive) return;
                                    aaa_pending_.erase(key);
                                    switch (c.result) {
                                        case rc::Result::cancelled: return;
                                        case rc::Result::timeout:
                                            ++counters_.aaa_timeouts;
                                            route_outcome(key, false, "no home RADIUS server answered");
                                            manager_->deny(key, dialout::DenyReason::radius_timeout);
                                            return;
                                        case rc::Result::reject:
                                            ++counters_.aaa_rejects;
                                            manager_->deny(key, dialout::DenyReason::access_reject);
                                            return;
                                        case rc::Result::accept: break;
                                    }
                                    auto d = rc::decode_dialout_accept(*c.reply, c.server ? c.server->secret : "",
                                                                       c.request_authenticator);
                                    if (!d.ok()) {
                                        ++counters_.aaa_invalid;
                                        manager_->deny(key, deny_reason(d.problems), join(d.problems));
                                        return;
                                    }
                                    ++counters_.aaa_accepts;
                                    manager_->grant(key, *d.value);
                                });
        aaa_pending_[key] = {h.slot, h.generation};
    } catch (const std::exception& e) {
        manager_->deny(key, dialout::DenyReason::invalid_accept, e.what());
    }
}

// ---- call port ----

void DialOutWiring::place_call(const dialout::SessionKey& key, const rc::DialOutDefinition& def,
                               const dialout::Profile& profile) {
    if (auto old = by_key_.find(key); old != by_key_.end()) drop_call(old->second, false, "replaced");
    auto c = new_call(session::CallDirection::dial_out, session::CallState::placing, key.vr, profile.name);
    c->key = key;
    eng::OutgoingCall oc;
    oc.called_number = def.dial_out_number;  // ERX-Dial-Out-Number (VSA 35) -> Called Number (§4.4.5)
    oc.min_bps = def.minimum_bps.value_or(0);  // ERX 39/40 -> Minimum/Maximum BPS, not interpreted
    oc.max_bps = def.maximum_bps.value_or(0);
    oc.bearer_type = bearer_bits(def.bearer_type);  // ERX 41 -> Bearer Type
    // Framing Type (§4.4.3): async PPP for an analog bearer (modem), sync for digital (ISDN B channel).
    oc.framing_type = oc.bearer_type == l2tp::kBearerAnalog ? l2tp::kFramingAsync : l2tp::kFramingSync;
    const auto id = c->session.id();
    auto alive = alive_;
    // The definition and profile are copied into the completion: the manager's copy may go away.
    auto done = [this, alive, id, key, def, profile](const OutgoingResult& r) {
        if (!*alive) return;
        Call* call = find(id);
        if (!call || !call->session.live()) {  // cleared meanwhile
            if (r.ok) lns_.clear_session(r.call.key.tunnel, r.call.key.session);
            return;
        }
        if (!r.ok) {
            ++counters_.calls_failed;
            const auto q931 = r.failure.q931 ? r.failure.q931->cause_code : std::uint16_t{0};
            by_key_.erase(key);
            call->session.call_failed(r.reason);
            calls_.erase(id);
            --live_calls_;  // live until now (checked above), failed or not: it leaves calls_
            if (r.no_lac_answered) route_outcome(key, false, "no LAC answered: " + r.reason);
            manager_->call_failed(key, r.failure.result, q931, r.reason);
            return;
        }
        ++counters_.calls_connected;
        route_outcome(key, true, "OCCN from " + r.endpoint);
        call->session.l2tp().session = r.call.key;
        call->session.l2tp().lac = r.endpoint;
        by_handle_[{r.call.key.tunnel, r.call.key.session}] = id;
        // Frames of the L2TP session that came before this completion: the call's now.
        if (auto u = unclaimed_frames_.find({r.call.key.tunnel, r.call.key.session}); u != unclaimed_frames_.end()) {
            call->session.adopt_early_frames(std::move(u->second));
            unclaimed_frames_.erase(u);
        }
        call->session.l2tp_up("OCCN " + std::to_string(r.call.key.tunnel) + "/" + std::to_string(r.call.key.session) +
                              " from " + r.endpoint);
        manager_->call_connected(key);  // may clear the call
        if ((call = find(id)) == nullptr || call->session.state() != session::CallState::ppp) return;
        start_link(*call, profile, &def, nullptr);
    };
    ++counters_.calls_placed;
    by_key_[key] = id;
    calls_[id] = std::move(c);
    ++live_calls_;
    calls_[id]->session.start(key.to_string());
    calls_[id]->session.l2tp().outgoing = lns_.place_outgoing_call(tunnel_endpoints(def), oc, std::move(done));
}

void DialOutWiring::clear_call(const dialout::SessionKey& key, std::string_view reason) {
    if (auto a = aaa_pending_.find(key); a != aaa_pending_.end()) {
        const rc::RequestHandle h{a->second.first, a->second.second};
        aaa_pending_.erase(a);
        radius_.cancel(h);
        // The authenticating timer expired (session inhibited) before a home RADIUS server answered.
        if (manager_->session_state(key) == dialout::SessionState::inhibited)
            route_outcome(key, false, "authenticating timer expired before a home RADIUS server answered");
    }
    if (auto it = by_key_.find(key); it != by_key_.end()) {
        // The connecting timer expired (the session is inhibited now, JunosE "L2TP Dial-Out"
        // Table 74) while the call was still being placed and no LAC had answered for it.
        if (const Call* c = find(it->second); c && c->session.state() == session::CallState::placing &&
                                              manager_->session_state(key) == dialout::SessionState::inhibited &&
                                              !(c->session.l2tp().outgoing &&
                                                lns_.outgoing_call_answered(c->session.l2tp().outgoing)))
            route_outcome(key, false, "connecting timer expired before any LAC answered");
        drop_call(it->second, false, reason);
    }
}

void DialOutWiring::forward(const dialout::SessionKey& key, std::span<const std::uint8_t> packet) {
    Call* c = nullptr;
    if (auto it = by_key_.find(key); it != by_key_.end()) c = find(it->second);
    if (!c) {  // covered by another session's access route
        if (auto d = dialout::Manager::ipv4_destination(packet))
            if (auto id = route_lookup(key.vr, *d)) c = find(*id);
    }
    if (c) send_ipv4(*c, packet);
    else ++counters_.frames_dropped;
}

std::unique_ptr<DialOutWiring::Call> DialOutWiring::new_call(session::CallDirection direction,
                                                             session::CallState initial, const std::string& vr,
                                                             const std::string& profile) {
    return std::make_unique<Call>(core::FsmEnv{&bus_, &timers_, &registry_}, call_ports_, next_call_++, direction,
                                  initial, vr, profile);
}

/// Clears a live call (its session FSM -> closing, which runs close_call); ignored when the call is
/// already closing.
void DialOutWiring::drop_call(std::uint64_t id, bool tell_manager, std::string_view reason, l2tp::CdnResult cdn) {
    if (Call* c = find(id)) c->session.clear({std::string(reason), tell_manager, cdn});
}

/// CallPorts::close: the call's session entered closing (and sent the accounting Stop, removed the
/// access routes): its keys are forgotten and its L2TP session cleared (CDN via Lns: Result `o.cdn`,
/// 3 unless the PPP client stopped answering LCP Echo, then 1 with the reason as Error Message;
/// nothing when the L2TP session is already gone). The session then takes its PPP link down.
void DialOutWiring::close_call(std::uint64_t id, const session::CloseOrder& o) {
    Call* c = find(id);
    if (!c) return;
    --live_calls_;  // entered closing: once per call (CallPorts::close)
    // accounting Stop and the access routes: already done by the session
    if (c->key) {
        if (auto it = by_key_.find(*c->key); it != by_key_.end() && it->second == id) by_key_.erase(it);
    }
    const auto& l2 = c->session.l2tp();
    if (l2.session) by_handle_.erase({l2.session->tunnel, l2.session->session});
    if (!o.l2tp_gone) {
        if (l2.outgoing) lns_.cancel_outgoing_call(l2.outgoing);
        else if (l2.session) {
            if (o.cdn == l2tp::CdnResult::Administrative) lns_.clear_session(l2.session->tunnel, l2.session->session);
            else lns_.clear_session(l2.session->tunnel, l2.session->session, o.cdn, o.reason);
        }
    }
}

/// CallPorts::closed: after the PPP link is down, counted; the record is reaped on the next turn
/// (so no callback runs on a dead Link); the manager told (call_closed) when asked.
void DialOutWiring::closed_call(std::uint64_t id, const session::CloseOrder& o) {
    Call* c = find(id);
    if (!c) return;
    ++counters_.calls_closed;
    const auto key = c->key;
    reap_.push_back(id);
    if (!reap_timer_.armed())
        reap_timer_.start(core::Duration::zero(), [this] {
            const auto ids = std::move(reap_);
            reap_.clear();
            for (const auto i : ids) calls_.erase(i);
        });
    if (o.tell_manager && key) manager_->call_closed(*key, o.reason);
}

// ---- Lns hooks ----

void DialOutWiring::on_connected(CallHandle h, const eng::ConnectInfo& info) {
    if (!info.incoming) return;  // outgoing: the place_outgoing_call completion creates the link
    const auto& in = *info.incoming;
    std::string lac;
    // Huawei "L2TP Session Establishment" steps 10-14, mandatory CHAP: the proxy authentication data goes to AAA first
    // (session state proxy-auth); only when it is accepted does the LNS start PPP and challenge the
    // user itself (CHAP, verified through AAA again). A rejection gives no session (CDN). Frames
    // meanwhile wait in the session (CallSession::l2tp_frame).
    std::optional<pe::Credentials> cr;
    if (incoming_mode(h, &lac) == IncomingAuthMode::mandatory_chap) cr = proxy_credentials(in);
    auto c = new_call(session::CallDirection::incoming, cr ? session::CallState::proxy_auth : session::CallState::ppp,
                      cfg_.incoming_vr, cfg_.incoming_profile);
    const auto id = c->session.id();
    auto& l2 = c->session.l2tp();
    l2.session = h.key;
    l2.lac = lac;
    l2.calling = in.calling_number.value_or("");
    l2.called = in.called_number.value_or("");
    l2.connect_info = std::to_string(info.tx_connect_speed);
    if (info.rx_connect_speed) l2.connect_info += "/" + std::to_string(*info.rx_connect_speed);
    l2.lac_host = lns_.peer_host_name(h.key.tunnel);
    by_handle_[{h.key.tunnel, h.key.session}] = id;
    calls_[id] = std::move(c);
    ++live_calls_;
    ++counters_.incoming_links;
    dialout::Profile p;
    p.name = cfg_.incoming_profile;
    p.authentication = cfg_.incoming_authentication;
    // LCP keepalive on incoming calls too (RFC 1661 §5.8 Echo-Request): the incoming profile's
    // `keepalive` / `echo-failures` (ppp-profiles), 30 s / 5 when it has none.
    p.keepalive = std::chrono::seconds(30);
    if (auto it = cfg_.ppp_profiles.find(cfg_.incoming_profile); it != cfg_.ppp_profiles.end())
        p.keepalive = it->second.keepalive;
    Call& call = *calls_[id];
    const std::string sid = std::to_string(h.key.tunnel) + "/" + std::to_string(h.key.session);
    call.session.start("ICCN " + sid);
    if (cr) {
        // the session asks AAA and starts PPP once accepted (or when there is no server to ask)
        call.session.authenticate_proxy(*cr, sid, [this, id, p, info] {
            if (Call* cc = find(id)) start_link(*cc, p, nullptr, &info);
        });
        return;
    }
    start_link(call, p, nullptr, &info);
}

IncomingAuthMode DialOutWiring::incoming_mode(const CallHandle& h, std::string* lac_text, bool* untrusted) {
    std::optional<core::Ipv4Address> lac;
    std::optional<IncomingAuthMode> for_lac;
    // Mode per LAC (peer address of the tunnel) if configured.
    const auto sessions = lns_.show_sessions(std::to_string(h.key.tunnel) + "/" + std::to_string(h.key.session), false);
    if (!sessions.empty())
        if (auto a = core::Ipv4Address::parse(sessions[0].value("destination", ""))) {
            // The LAC: Tunnel-Client-Endpoint of the PPP Access-Request and accounting (RFC 2868 §3.3).
            if (lac_text && lac_text->empty()) *lac_text = a->to_string();
            if (auto m = cfg_.incoming_peer_modes.find(a->value); m != cfg_.incoming_peer_modes.end())
                for_lac = m->second;
            lac = *a;
        }
    // RFC 2661 §9.3: proxy mode only from a LAC marked trusted (session::incoming_mode).
    const PeerConfig* pc = lac ? lns_.config().find_peer(*lac) : nullptr;
    const auto m = session::incoming_mode(cfg_.incoming_mode, for_lac, pc && pc->trusted);
    if (untrusted) *untrusted = m.untrusted;
    return m.mode;
}

void DialOutWiring::on_disconnected(CallHandle h, const eng::CallFailure& f) {
    unclaimed_frames_.erase({h.key.tunnel, h.key.session});
    Call* c = find(h);
    if (!c) return;
    // The session's call-closed event names what the CDN said, as call_failed does for a call that
    // never connected: RFC 2661 §4.4.2 Result Code, §4.4.10 Q.931 Cause Code, the Error Message.
    std::string why = "CDN result " + std::to_string(f.result);
    if (f.q931) why += " q931 " + std::to_string(f.q931->cause_code);
    if (f.message) why += " " + *f.message;
    c->session.l2tp_down({why, true});  // the L2TP session is gone: nothing to cancel or clear
}

void DialOutWiring::on_frame(CallHandle h, std::span<const std::uint8_t> frame) {
    if (Call* c = find(h)) {
        c->session.l2tp_frame(frame);  // to the link, or held until it opens
        return;
    }
    // An outgoing call's frames may arrive between OCCN and the deferred completion, before the
    // wiring knows whose L2TP session it is: held for the call the completion binds it to.
    unclaimed_frames_[{h.key.tunnel, h.key.session}].hold(frame, call_ports_.early_frames_max, &counters_);
}

// ---- PPP ----

void DialOutWiring::start_link(Call& c, const dialout::Profile& profile, const rc::DialOutDefinition* def,
                               const eng::ConnectInfo* info) {
    // The snapshot the session configures the link from (session::link_config).
    session::LinkSnapshot snap;
    snap.mru = profile.mru;
    snap.require_auth = auth_pref(profile.authentication);
    snap.keepalive = profile.keepalive;
    snap.ipcp_dns = profile.ipcp_dns;
    snap.hostname = lns_.config().hostname;
    if (def) snap.accept = session::LinkSnapshot::AcceptCredentials{def->ppp_username, def->ppp_password,
                                                                     def->ppp_auth_protocol};
    if (auto it = cfg_.ppp_profiles.find(c.session.profile()); it != cfg_.ppp_profiles.end()) {
        const auto& pp = it->second;
        session::LinkSnapshot::Addressing a;
        a.local_ip = pp.local_address.value;
        a.dns1 = pp.dns1.value;
        a.dns2 = pp.dns2.value;
        a.echo_failures = pp.echo_failures;
        a.pool = pp.pool.has_value();  // the session takes the address (session::PoolPort)
        snap.addressing = a;
    }
    if (info && c.session.l2tp().session) {
        bool untrusted = false;
        auto& l2 = c.session.l2tp();
        const IncomingAuthMode mode = incoming_mode(handle_of(c.session), &l2.lac, &untrusted);
        if (untrusted && info->incoming && info->incoming->proxy_authen_type) {
            ++counters_.proxy_untrusted;
            core::Event e;
            e.entity = "lnsd.incoming";
            e.id = c.session.l2tp_label();
            e.event = "proxy-authentication-untrusted";
            e.cause = "LAC " + l2.lac + " is not marked trusted: LCP renegotiated, user authenticated by the LNS";
            bus_.publish(e);
        }
        snap.incoming = session::LinkSnapshot::Incoming{mode, info->incoming.value_or(eng::IncomingCall{})};
    }
    const auto id = c.session.id();
    pe::LinkCallbacks cb;
    cb.send = [this, id](std::uint16_t proto, std::vector<std::uint8_t> info_bytes) {
        Call* cc = find(id);
        if (!cc || !cc->session.l2tp().session) return;
        std::vector<std::uint8_t> f;
        f.reserve(info_bytes.size() + 4);
        f.insert(f.end(), {0xFF, 0x03, static_cast<std::uint8_t>(proto >> 8), static_cast<std::uint8_t>(proto)});
        f.insert(f.end(), info_bytes.begin(), info_bytes.end());
        lns_.send_ppp(handle_of(cc->session), f);
    };
    cb.verify = [this, id](std::uint32_t ticket, const pe::Credentials& cr) {
        if (Call* cc = find(id)) cc->session.verify(ticket, cr);
    };
    // RFC 2661 §6.14: the LNS tells the LAC the ACCMs LCP negotiated (SLI), each time LCP opens.
    cb.lcp_opened = [this, id](const pe::Negotiated& n) {
        Call* cc = find(id);
        if (!cc || !cc->session.l2tp().session) return;
        if (lns_.set_link_info(handle_of(cc->session), {n.send_accm, n.recv_accm})) ++counters_.sli_sent;
        lns_.set_peer_mru(handle_of(cc->session), n.peer_mru);  // RFC 1661 §6.1: bounds IP towards it
    };
    cb.network_up = [this, id](const pe::NetworkInfo& n) { network_up(id, n); };
    // A client that stopped answering LCP Echo-Requests is gone: CDN Result 1 (loss of carrier,
    // RFC 2661 §4.4.2) naming the cause; any other PPP end stays administrative (Result 3). The
    // session tears the call down on the next turn (releasing): never inside the Link's callback.
    cb.link_down = [this, id](std::string_view cause) {
        if (Call* cc = find(id))
            cc->session.link_down({"PPP: " + std::string(cause), true,
                                   cause == "echo timeout" ? l2tp::CdnResult::LossOfCarrier
                                                           : l2tp::CdnResult::Administrative});
    };
    cb.deliver = [this, id](std::uint16_t proto, std::span<const std::uint8_t> pkt) {
        Call* cc = find(id);
        if (!cc || proto != 0x0021) return;  // RFC 1332 §2: IPv4 datagrams
        cc->session.count_ipv4_in(pkt.size());
        ++counters_.session_to_tun;
        if (dp_.to_tun) dp_.to_tun(cc->session.virtual_router(), pkt);
    };
    // The session takes its pool address, opens the link (or refuses proxy PAP while CHAP is
    // required) and gives it the frames held meanwhile.
    c.session.start_ppp(std::move(snap), std::move(cb), c.session.l2tp_label());
}

/// session::AuthPort::submit: the PPP authentication Access-Request (RFC 2865 §5.2 PAP / §5.3
/// CHAP, RFC 2868 tunnel attributes) of a call's credentials (mapped by rc::ppp_auth_request) to its
/// VR's LNS RADIUS servers. An empty handle when there is no server or the request cannot be built
/// (nothing submitted, `done` never called).
rc::RequestHandle DialOutWiring::submit_ppp_auth(std::uint64_t id, rc::PppAuthRequest req,
                                                 std::function<void(const rc::Completion&)> done) {
    const Call* c = find(id);
    const auto* vr = c ? cfg_.find_vr(c->session.virtual_router()) : nullptr;
    if (!vr || !radius_.servers(lns_group(vr->name))) return {};
    if (req.tunnel) {  // the session filled the LAC's side (and the station ids): ours
        req.tunnel->server_endpoint = lns_.config().local_address.to_string();
        req.tunnel->server_auth_id = lns_.config().hostname;  // RFC 2868 §3.10
    }
    try {
        auto prepared = rc::build_ppp_access_request(req, {vr->nas_ip, vr->nas_identifier});
        return radius_.submit(lns_group(vr->name), rc::Service::authentication, std::move(prepared.packet), std::move(done),
                              prepared.user_password);
    } catch (const std::exception&) {
        return {};
    }
}

void DialOutWiring::network_up(std::uint64_t id, const pe::NetworkInfo& n) {
    Call* c = find(id);
    if (!c || !c->session.network_up("IPCP up, peer " + ip_text(n.peer_ip))) return;
    // JunosE "L2TP Dial-Out" "Route Installation": Framed-Route (and Framed-IP-Address as a host route) become
    // the session's access routes.
    const auto& az = c->session.authorisation();
    const auto& vr = c->session.virtual_router();
    const auto installed = c->session.install_routes(vr, az.routes, n.peer_ip ? n.peer_ip : az.framed_ip);
    const auto* vrc = cfg_.find_vr(vr);
    c->session.accounting().start(session::interim_period(vrc ? vrc->accounting_interim : std::nullopt,
                                                          az.acct_interim_interval));
    if (c->key) manager_->access_route_installed(*c->key, installed);
}

/// session::AccountingPort::describe: the call's part of the record (CallSession::describe: user,
/// Class, address, IPv4 counters, Acct-Tunnel-Connection, the LAC) and our tunnel endpoint
/// (RFC 2867 §4.1 Tunnel-Server-Endpoint).
void DialOutWiring::describe_for_accounting(std::uint64_t id, rc::AccountingRecord& r) const {
    const Call* c = find(id);
    if (!c) return;
    c->session.describe(r);
    if (r.tunnel) r.tunnel->server_endpoint = lns_.config().local_address.to_string();
}

std::optional<std::uint64_t> DialOutWiring::route_lookup(const std::string& vr, core::Ipv4Address d) const {
    return routes_.lookup(vr, d);
}

// ---- data plane ----

void DialOutWiring::send_ipv4(Call& c, std::span<const std::uint8_t> packet) {
    // The session is network-up from network_up (IPCP This-Layer-Up, RFC 1661 §4.4), before the
    // automaton records Opened: a buffered trigger released from there must pass.
    if (!c.session.ipv4_ready()) {
        ++counters_.frames_dropped;
        return;
    }
    // PPP FF 03 00 21 (RFC 1662 §3.1, RFC 1332 §2) + L2TP, framed in a copy by the data path.
    if (lns_.send_ipv4(handle_of(c.session), packet)) {
        c.session.count_ipv4_out(packet.size());
        ++counters_.tun_to_session;
    } else {
        ++counters_.frames_dropped;
    }
}

void DialOutWiring::to_session(std::uint64_t call, std::span<const std::uint8_t> packet) {
    ++counters_.tun_in;
    if (Call* c = find(call)) send_ipv4(*c, packet);
    else ++counters_.frames_dropped;
}

void DialOutWiring::to_session(std::uint64_t call, dataplane::Packet& packet) {
    ++counters_.tun_in;
    Call* c = find(call);
    if (!c || !c->session.ipv4_ready()) {  // as send_ipv4
        ++counters_.frames_dropped;
        return;
    }
    // Framed in the packet's headroom and queued; the TUN batch's end flushes (sendmmsg).
    const std::size_t octets = packet.bytes().size();  // the IPv4 packet, before PPP + L2TP
    if (lns_.send_ipv4(handle_of(c->session), packet)) {
        c->session.count_ipv4_out(octets);  // RFC 2866 §5.4 Acct-Output-Octets
        ++counters_.tun_to_session;
    } else {
        ++counters_.frames_dropped;
    }
}

void DialOutWiring::tun_packet(const std::string& vr, std::span<const std::uint8_t> packet) {
    ++counters_.tun_in;
    auto d = dialout::Manager::ipv4_destination(packet);
    if (!d) {
        ++counters_.frames_dropped;
        return;
    }
    if (auto id = route_lookup(vr, *d))
        if (Call* c = find(*id)) {
            send_ipv4(*c, packet);
            return;
        }
    ++counters_.tun_no_route;
    manager_->trigger(vr, packet);
}

// ---- show / control ----

nlohmann::json DialOutWiring::call_json(const Call& c, bool detail) const {
    const auto& s = c.session;
    const pe::Link* link = s.link();
    nlohmann::json j = {{"id", s.id()},
                        {"virtual-router", s.virtual_router()},
                        {"direction", c.key ? "dial-out" : "incoming"},
                        {"state", std::string(s.state_name())},
                        {"l2tp-session", s.l2tp().session ? s.l2tp_label() : std::string("-")},
                        {"phase", link ? std::string(pe::to_string(link->phase())) : std::string("-")},
                        {"user", c.session.authorisation().user}};
    if (c.key) j["dial-out-session"] = c.key->to_string();
    if (link) j["peer-ip"] = ip_text(link->negotiated().network.peer_ip);
    if (detail) {
        j["profile"] = s.profile();
        j["lac"] = s.l2tp().lac;
        if (link) {
            const auto& n = link->negotiated();
            const auto& k = link->counters();
            j["lcp"] = std::string(to_string(link->lcp_state()));
            j["ipcp"] = std::string(to_string(link->ipcp_state()));
            j["local-ip"] = ip_text(n.network.local_ip);
            j["peer-mru"] = n.peer_mru;
            j["we-authenticate"] = std::string(pe::to_string(n.we_authenticate));
            j["peer-authenticates"] = std::string(pe::to_string(n.peer_authenticates));
            const auto& ip = s.ipv4();
            j["counters"] = {{"malformed", k.malformed},   {"discarded", k.discarded},
                             {"echo-sent", k.echo_sent},   {"echo-replies", k.echo_replies},
                             {"auth-failures", k.auth_failures}, {"packets-in", ip.packets_in},
                             {"packets-out", ip.packets_out}, {"octets-in", ip.octets_in},
                             {"octets-out", ip.octets_out}};
        }
        const auto& acct = c.session.accounting();
        j["accounting"] = {{"started", acct.started()},
                           {"interim-interval-s", std::chrono::duration_cast<std::chrono::seconds>(acct.interim()).count()},
                           {"interims-sent", acct.interims_sent()}};
        auto routes = nlohmann::json::array();
        for (const auto& p : c.session.access_routes()) routes.push_back(p.to_string());
        j["access-routes"] = routes;
    }
    return j;
}

nlohmann::json DialOutWiring::show_ppp(const std::string& id, bool detail, const core::ListPage& page) const {
    auto out = nlohmann::json::array();
    if (!id.empty()) {
        // One call, by its id or its L2TP "tunnel/session": a map look-up, not a walk over every
        // call (100 000 of them: docs/performance.md "Scale in one lnsd").
        const Call* found = nullptr;
        const auto slash = id.find('/');
        if (slash == std::string::npos) {
            std::uint64_t n = 0;
            const auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), n);
            if (ec == std::errc() && end == id.data() + id.size())
                if (auto it = calls_.find(n); it != calls_.end()) found = it->second.get();
        } else {
            std::uint32_t t = 0, sid = 0;
            const char* b = id.data();
            const char* e = id.data() + id.size();
            const auto r1 = std::from_chars(b, b + slash, t);
            const auto r2 = std::from_chars(b + slash + 1, e, sid);
            if (r1.ec == std::errc() && r1.ptr == b + slash && r2.ec == std::errc() && r2.ptr == e && t <= 0xFFFF &&
                sid <= 0xFFFF)
                if (auto h = by_handle_.find({static_cast<std::uint16_t>(t), static_cast<std::uint16_t>(sid)});
                    h != by_handle_.end())
                    if (auto it = calls_.find(h->second); it != calls_.end()) found = it->second.get();
        }
        if (!found || !found->session.live()) throw core::ControlError("no PPP session " + id);
        out.push_back(call_json(*found, true));
        return out;
    }
    auto it = calls_.begin();
    if (page.after) {
        std::uint64_t n = 0;
        const auto& a = *page.after;
        const auto [end, ec] = std::from_chars(a.data(), a.data() + a.size(), n);
        if (ec != std::errc() || end != a.data() + a.size()) throw core::ControlArgError("after", "'" + a + "' is not a PPP call id");
        it = calls_.upper_bound(n);
    }
    core::ListPageBuilder page_out(page, live_calls_, "show ppp");
    for (; it != calls_.end(); ++it) {
        if (!it->second->session.live()) continue;
        if (!page_out.room()) {
            page_out.more();
            break;
        }
        page_out.add(call_json(*it->second, detail), std::to_string(it->first));
    }
    return std::move(page_out).finish();
}

void DialOutWiring::register_commands(core::ControlServer& server) {
    auto str = [](const nlohmann::json& a, const char* k) -> std::string {
        if (!a.contains(k)) return {};
        return a[k].is_string() ? a[k].get<std::string>() : a[k].dump();
    };
    auto guard = [](auto fn) {
        return [fn](const nlohmann::json& a) -> nlohmann::json {
            try {
                return fn(a);
            } catch (const core::ControlError&) {
                throw;
            } catch (const std::exception& e) {
                throw core::ControlError(e.what());
            }
        };
    };
    server.add_handler("show l2tp dial-out", guard([this](const nlohmann::json&) {
                           return nlohmann::json{{"chassis", manager_->show_chassis()},
                                                 {"virtual-routers", manager_->show_virtual_routers()},
                                                 {"targets", manager_->show_targets()}};
                       }),
                       "dial-out summary");
    server.add_handler("show l2tp dial-out chassis", guard([this](const nlohmann::json&) {
                           auto j = manager_->show_chassis();
                           const auto& k = counters_;
                           j["wiring"] = {{"aaa-requests", k.aaa_requests},   {"aaa-accepts", k.aaa_accepts},
                                          {"aaa-rejects", k.aaa_rejects},     {"aaa-timeouts", k.aaa_timeouts},
                                          {"aaa-invalid", k.aaa_invalid},     {"calls-placed", k.calls_placed},
                                          {"calls-connected", k.calls_connected}, {"calls-failed", k.calls_failed},
                                          {"calls-closed", k.calls_closed},   {"tun-in", k.tun_in},
                                          {"tun-no-route", k.tun_no_route},   {"route-errors", k.route_errors},
                                          {"acct-requests", k.acct_requests}, {"acct-responses", k.acct_responses},
                                          {"acct-timeouts", k.acct_timeouts}, {"acct-interims", k.acct_interims},
                                          {"ppp-auth-requests", k.ppp_auth_requests},
                                          {"ppp-auth-accepts", k.ppp_auth_accepts},
                                          {"ppp-auth-rejects", k.ppp_auth_rejects},
                                          {"ppp-auth-refused", k.ppp_auth_refused},
                                          {"sli-sent", k.sli_sent},
                                          {"proxy-untrusted", k.proxy_untrusted},
                                          {"acct-on", k.acct_on},             {"acct-off", k.acct_off},
                                          {"route-withdrawals", k.route_withdrawals},
                                          {"route-reinstalls", k.route_reinstalls}};
                           j["acct-instance"] = acct_instance_;
                           // Replies the RADIUS client dropped, by reason (counted, never logged per packet).
                           const auto& d = radius_.counters().dropped;
                           j["radius-dropped"] = {{"malformed", d.malformed},
                                                  {"wrong-source", d.wrong_source},
                                                  {"unknown-identifier", d.unknown_identifier},
                                                  {"duplicate", d.duplicate},
                                                  {"unexpected-code", d.unexpected_code},
                                                  {"bad-authenticator", d.bad_authenticator},
                                                  {"bad-message-authenticator", d.bad_message_authenticator},
                                                  {"missing-message-authenticator", d.missing_message_authenticator}};
                           return j;
                       }),
                       "dial-out chassis state, timers and counters");
    server.add_handler("show l2tp dial-out virtual-router",
                       guard([this, str](const nlohmann::json& a) { return manager_->show_virtual_routers(str(a, "id")); }),
                       "dial-out virtual routers: [id]");
    server.add_handler("show l2tp dial-out target",
                       guard([this, str](const nlohmann::json& a) {
                           // Each target with its route state (route-withdrawal: announced,
                           // withdrawn, probation); paged or not (core::ListPage).
                           auto j = manager_->show_targets(str(a, "id"), core::ListPage::parse(a));
                           auto& items = j.is_array() ? j : j["items"];
                           for (auto& t : items)
                               if (auto p = core::Ipv4Prefix::parse(t.value("prefix", "")))
                                   t["route"] = to_string(route_state(t.value("virtual_router", "default"), *p));
                           return j;
                       }),
                       "dial-out targets: [virtual router] [limit=N] [after=VR/PREFIX]");
    server.add_handler("show l2tp dial-out session", guard([this, str](const nlohmann::json& a) {
                           const auto id = str(a, "id");
                           if (id.empty()) return manager_->show_sessions(a.value("detail", false), core::ListPage::parse(a));
                           auto k = dialout::SessionKey::parse(id);
                           if (!k) throw core::ControlError("session '" + id + "' is not <vr>/<prefix>/<destination>");
                           return manager_->show_session(*k);
                       }),
                       "dial-out sessions: [key] [detail] [limit=N] [after=KEY]");
    server.add_handler("l2tp dial-out session reset", guard([this, str](const nlohmann::json& a) {
                           const auto id = str(a, "id");
                           auto k = dialout::SessionKey::parse(id);
                           if (!k) throw core::ControlError("session '" + id + "' is not <vr>/<prefix>/<destination>");
                           manager_->session_reset(*k);
                           return nlohmann::json{{"reset", id}};
                       }),
                       "reset a dial-out session: id");
    server.add_handler("l2tp dial-out target add", guard([this, str](const nlohmann::json& a) {
                           dialout::TargetConfig t;
                           t.vr = a.value("virtual-router", std::string("default"));
                           if (!cfg_.find_vr(t.vr)) throw core::ControlError("virtual router '" + t.vr + "' is not configured");
                           auto p = core::Ipv4Prefix::parse(str(a, "prefix"));
                           if (!p || p->has_host_bits()) throw core::ControlError("prefix '" + str(a, "prefix") + "' is not an IPv4 prefix");
                           t.prefix = *p;
                           t.domain = str(a, "domain");
                           t.profile = str(a, "profile");
                           t.route_distinguisher = str(a, "route-distinguisher");
                           manager_->add_target(t);
                           manager_->vr_operational(t.vr, true);
                           install_dialout_route(t.vr, t.prefix);
                           return nlohmann::json{{"added", t.vr + "/" + t.prefix.to_string()}};
                       }),
                       "add a dial-out route: virtual-router, prefix, domain, profile, [route-distinguisher]");
    server.add_handler("l2tp dial-out target remove", guard([this, str](const nlohmann::json& a) {
                           const auto vr = a.value("virtual-router", std::string("default"));
                           auto p = core::Ipv4Prefix::parse(str(a, "prefix"));
                           if (!p) throw core::ControlError("prefix '" + str(a, "prefix") + "' is not an IPv4 prefix");
                           manager_->remove_target(vr, *p);
                           route_guards_.erase({vr, *p});
                           if (dp_.remove_dialout_route) dp_.remove_dialout_route(vr, *p);
                           return nlohmann::json{{"removed", vr + "/" + p->to_string()}};
                       }),
                       "remove a dial-out route: virtual-router, prefix");
    server.add_handler("l2tp dial-out timer", guard([this, str](const nlohmann::json& a) {
                           // Chassis timers at run time: running timers keep their deadline.
                           const auto name = str(a, "name");
                           if (name != "trigger" && name != "dormant")
                               throw core::ControlError("timer '" + name + "' is not a dial-out timer (trigger, dormant)");
                           const auto d = core::parse_duration(str(a, "value"), "value");
                           manager_->set_timer(name, d);
                           return nlohmann::json{{"timer", name}, {"value", core::format_duration(d)}};
                       }),
                       "set a chassis dial-out timer: name=trigger|dormant value=DURATION");
    server.add_handler("l2tp dial-out profile", guard([this, str](const nlohmann::json& a) {
                           // Profiles at run time: new calls use them, placed sessions keep theirs.
                           dialout::Profile p;
                           p.name = str(a, "name");
                           if (p.name.empty()) throw core::ControlError("which profile? (name=)");
                           if (a.contains("mru")) p.mru = static_cast<std::uint16_t>(std::stoul(str(a, "mru")));
                           if (a.contains("authentication")) {
                               p.authentication = str(a, "authentication");
                               static const std::set<std::string> ok{"none", "pap", "chap", "pap-chap", "chap-pap"};
                               if (!ok.count(p.authentication))
                                   throw core::ControlError("authentication '" + p.authentication +
                                                            "' is not none|pap|chap|pap-chap|chap-pap");
                           }
                           if (a.contains("keepalive")) p.keepalive = core::parse_duration(str(a, "keepalive"), "keepalive");
                           if (a.contains("ipcp-dns")) p.ipcp_dns = str(a, "ipcp-dns") == "true";
                           if (p.mru < 64) throw core::ControlError("mru must be >= 64 (RFC 1661 §6.1)");
                           manager_->set_profile(p);
                           return nlohmann::json{{"profile", p.name}};
                       }),
                       "add or replace a dial-out profile: name= [mru=] [authentication=] [keepalive=] [ipcp-dns=]");
    server.add_handler("show ppp", guard([this, str](const nlohmann::json& a) {
                           return show_ppp(str(a, "id"), a.value("detail", false), core::ListPage::parse(a));
                       }),
                       "PPP links: [id] [detail] [limit=N] [after=ID]");
    server.add_handler("show ppp session", guard([this, str](const nlohmann::json& a) {
                           return show_ppp(str(a, "id"), a.value("detail", false), core::ListPage::parse(a));
                       }),
                       "PPP links: [id | tunnel/session] [detail] [limit=N] [after=ID]");
    register_fault_injection(server);
}

}  // namespace dl::lnsd
