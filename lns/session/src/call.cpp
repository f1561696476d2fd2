// The per-call session FSM of lnsd. See dl/session/call.hpp.
#include "dl/session/call.hpp"

#include <stdexcept>
#include <utility>

#include "dl/core/event.hpp"

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
                         CallState initial, std::string vr, std::string profile)
    : ports_(&ports), id_(id), direction_(direction), vr_(std::move(vr)), profile_(std::move(profile)),
      accounting_(env.timers ? *env.timers : throw std::invalid_argument("session.call: no TimerQueue"),
                  ports.accounting, id),
      alive_(std::make_shared<bool>(true)),
      fsm_(spec(), env, *this, std::to_string(id), initial), env_(env), answer_timer_(*env.timers) {
    const bool ok = direction == CallDirection::dial_out ? initial == S::placing
                                                         : (initial == S::proxy_auth || initial == S::ppp);
    if (!ok)
        throw std::invalid_argument("session.call: a " + std::string(to_string(direction)) + " call cannot be born in " +
                                    std::string(to_string(initial)));
}

CallSession::~CallSession() {
    *alive_ = false;
    release_pool();  // a call destroyed without closing (the owner going away)
}

void CallSession::release_pool() {
    const auto a = std::exchange(pool_ip_, 0);
    if (a && ports_->pool.release) ports_->pool.release(id_, a);
}

void CallSession::start(std::string_view cause) {
    fsm_.start(direction_ == CallDirection::dial_out ? E::place : E::l2tp_up, cause);
}

/// `call-release`: zero delay, not configurable. It only moves the teardown out of the upcall that
/// decided it (a PPP link is never taken down inside its own callback).
void CallSession::arm_release(CallSession&, Spec::Step& st) { st.arm("call-release", core::Duration::zero()); }

void CallSession::observe(CallSession& s, const Spec::Change& c) {
    if (!c.permitted || c.to != S::closing || (c.from && *c.from == S::closing)) return;
    // AAA requests still out are of no use now (their completions find the call closing).
    const auto pending = std::move(s.auth_pending_);
    s.auth_pending_.clear();
    if (s.ports_->auth.cancel)
        for (const auto h : pending) s.ports_->auth.cancel(h);
    s.accounting_.stop(s.order_.reason);  // RFC 2866 Stop first, while the call still has its counters
    if (s.ports_->routes) s.ports_->routes->remove(s.routes_vr_, s.id_, s.routes_);
    s.routes_.clear();
    if (s.ports_->close) s.ports_->close(s, s.order_);
    if (s.link_) s.link_->lower_down(s.order_.reason);  // its own link-down finds the call closing
    s.release_pool();  // the link no longer uses the address
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

std::string CallSession::l2tp_label() const {
    if (!l2tp_.session) return std::to_string(id_);
    return std::to_string(l2tp_.session->tunnel) + "/" + std::to_string(l2tp_.session->session);
}

void CallSession::l2tp_frame(std::span<const std::uint8_t> frame) {
    if (link_) {
        receive_ppp(frame);
        return;
    }
    early_.hold(frame, ports_->early_frames_max, ports_->frames);
}

void CallSession::adopt_early_frames(EarlyFrames frames) { early_.append(std::move(frames)); }

void CallSession::describe(radius::client::AccountingRecord& r) const {
    r.user_name = authorisation_.user;
    r.classes = authorisation_.classes;
    if (link_ && link_->negotiated().network.peer_ip) r.framed_ip = core::Ipv4Address{link_->negotiated().network.peer_ip};
    r.output_packets = static_cast<std::uint32_t>(ipv4_.packets_out);
    r.input_packets = static_cast<std::uint32_t>(ipv4_.packets_in);
    r.output_octets = ipv4_.octets_out;
    r.input_octets = ipv4_.octets_in;
    if (l2tp_.session) {
        r.tunnel_connection = l2tp_label();
        radius::client::CallTunnel t;
        t.client_endpoint = l2tp_.lac;
        r.tunnel = t;
    }
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

// ---- PPP authentication through AAA ----

namespace {

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : "; ") + x;
    return s;
}

}  // namespace

void CallSession::count(std::uint64_t AuthCounters::*counter) const {
    if (ports_->auth.counters) ++(ports_->auth.counters->*counter);
}

radius::client::RequestHandle CallSession::submit_auth(radius::client::PppAuthRequest request,
                                                       std::function<void(const radius::client::Completion&)> done) {
    if (!ports_->auth.submit) return {};
    if (l2tp_.session) {  // what the call's L2TP session tells AAA; the owner adds its own side
        radius::client::CallTunnel t;
        t.client_endpoint = l2tp_.lac;
        t.client_auth_id = l2tp_.lac_host;           // RFC 2868 §3.9: the LAC's Host Name
        request.tunnel = t;
        request.calling_station_id = l2tp_.calling;  // RFC 2865 §5.31 from the ICRQ
        request.called_station_id = l2tp_.called;    // §5.30
        request.connect_info = l2tp_.connect_info;   // RFC 2869 §5.11 from the ICCN
        request.nas_port_id = "l2tp " + l2tp_label();
    }
    std::weak_ptr<bool> alive = alive_;
    // The completion forgets its handle (it is no longer out) before the caller's `done` runs.
    auto slot = std::make_shared<radius::client::RequestHandle>();
    auto h = ports_->auth.submit(id_, std::move(request),
                                 [this, alive, slot, done = std::move(done)](const radius::client::Completion& c) {
                                     auto a = alive.lock();
                                     if (!a || !*a) return;
                                     std::erase_if(auth_pending_, [&](const radius::client::RequestHandle& p) {
                                         return p.slot == slot->slot && p.generation == slot->generation;
                                     });
                                     done(c);
                                 });
    *slot = h;
    if (h) auth_pending_.push_back(h);
    return h;
}

/// Credentials that cannot become an Access-Request (rc::ppp_auth_request): counted as a rejection
/// and as refused, event `lnsd.ppp <id> credentials-refused` naming the problem; nothing is sent.
void CallSession::refuse_credentials(const ppp::engine::Credentials& cr, const radius::client::PppCredentialsError& err) {
    count(&AuthCounters::ppp_auth_rejects);
    count(&AuthCounters::ppp_auth_refused);
    if (!env_.bus) return;
    core::Event e;
    e.entity = "lnsd.ppp";
    e.id = std::to_string(id_);
    e.event = "credentials-refused";
    e.cause = cr.user + ": " + err.message;
    e.extra = {{"problem", std::string(radius::client::to_string(err.problem))}, {"user", cr.user},
               {"method", std::string(ppp::engine::to_string(cr.method))}};
    env_.bus->publish(e);
}

void CallSession::verify(std::uint32_t ticket, const ppp::engine::Credentials& cr) {
    namespace rc = radius::client;
    count(&AuthCounters::ppp_auth_requests);
    // One mapping of the credentials for lnsd, cpe-emu and lac-emu: what RADIUS cannot carry (a CHAP
    // response not of 16 octets, an empty user, ...) is answered here with a reject, never sent.
    auto m = rc::ppp_auth_request(cr);
    if (!m.ok()) {
        refuse_credentials(cr, *m.error);
        answer_verify(ticket, {false, m.error->message});
        return;
    }
    const std::string user = cr.user;
    const auto h = submit_auth(std::move(*m.request), [this, ticket, user](const rc::Completion& comp) {
        if (comp.result == rc::Result::cancelled) return;
        if (comp.result != rc::Result::accept) {
            count(&AuthCounters::ppp_auth_rejects);
            answer_verify(ticket, {false, std::string("RADIUS ") + std::string(rc::to_string(comp.result))});
            return;
        }
        auto a = ports_->auth.decode ? ports_->auth.decode(comp) : rc::decode_ppp_authorisation(*comp.reply);
        if (!a.ok()) {
            count(&AuthCounters::ppp_auth_rejects);
            answer_verify(ticket, {false, join(a.problems)});
            return;
        }
        count(&AuthCounters::ppp_auth_accepts);
        authorisation_.user = user;
        authorisation_.routes.clear();
        for (const auto& r : a.value->routes) authorisation_.routes.push_back(r.prefix.network());
        authorisation_.framed_ip = a.value->framed_ip ? a.value->framed_ip->value : 0;
        authorisation_.acct_interim_interval = a.value->acct_interim_interval;
        authorisation_.classes = a.value->classes;
        answer_verify(ticket, {true, "", authorisation_.framed_ip, 0, 0});
    });
    if (!h) {
        count(&AuthCounters::ppp_auth_rejects);
        answer_verify(ticket, {false, "no LNS RADIUS server for virtual router " + vr_ + " or an unencodable Access-Request"});
    }
}

ppp::engine::Link* CallSession::start_ppp(LinkSnapshot snapshot, ppp::engine::LinkCallbacks callbacks,
                                          std::string link_id) {
    namespace pe = ppp::engine;
    if (snapshot.addressing && snapshot.addressing->pool && !pool_ip_ && ports_->pool.allocate)
        pool_ip_ = ports_->pool.allocate(id_, profile_);
    if (snapshot.addressing && snapshot.addressing->pool) snapshot.addressing->pool_ip = pool_ip_;
    const pe::LinkConfig lc = link_config(snapshot);
    const std::string label = link_id;
    pe::Link& link = open_link(lc, std::move(callbacks), std::move(link_id));
    bool opened = false;  // open_with_proxy_lcp() opens LCP itself, Opened or renegotiating
    if (snapshot.incoming && snapshot.incoming->mode == IncomingAuthMode::proxy) {
        const auto& in = snapshot.incoming->call;
        // Huawei "L2TP Session Establishment": the LNS's configured authentication may not be stronger than the LAC's: proxy
        // PAP (Proxy Authen Type 3, RFC 2661 §4.4.5) while CHAP is required gives no session.
        if (proxy_pap_refused(IncomingAuthMode::proxy, lc.require_auth, in.proxy_authen_type)) {
            count(&AuthCounters::ppp_auth_rejects);
            refuse({"proxy PAP but CHAP required (stronger than LAC)"});  // not inside the engine's upcall
            return nullptr;
        }
        // RFC 2661 §4.4.5 Proxy LCP: start Opened when the LAC's negotiation suits our policy and its
        // proxy authentication is one we can verify; a LAC that authenticated with MSCHAP v1 / v2 sends
        // none we can (Huawei "L2TP Session Establishment"): LCP renegotiated, the user authenticated again.
        if (in.last_sent_lcp_confreq && in.last_received_lcp_confreq) {
            if (proxy_lcp_usable(in, lc.require_auth)) {
                opened = true;
                // No usable proxy authentication (none sent, or No Authentication): the link does not wait
                // for one but authenticates the client itself (CHAP) or renegotiates (PAP).
                auto cr = proxy_credentials(in, lc.require_auth);
                const bool proxied = link.open_with_proxy_lcp(*in.last_sent_lcp_confreq, *in.last_received_lcp_confreq,
                                                              cr ? cr->method : pe::AuthMethod::none);
                if (proxied && cr) link.proxy_authentication(std::move(*cr));
            } else if (env_.bus) {
                core::Event e;
                e.entity = "lnsd.incoming";
                e.id = label;
                e.event = "proxy-authentication-unusable";
                e.cause = "Proxy Authen Type " + std::to_string(*in.proxy_authen_type) +
                          ": LCP renegotiated, the user authenticated by the LNS";
                env_.bus->publish(e);
            }
        }
    }
    if (!opened) link.open();
    // The frames that came before the link, in arrival order (the link outlives this loop: it
    // goes with the session only).
    for (const auto& f : early_.take()) receive_ppp(f);
    return &link;
}

bool CallSession::authenticate_proxy(const ppp::engine::Credentials& cr, std::string label,
                                     std::function<void()> start_ppp) {
    namespace rc = radius::client;
    if (state() != S::proxy_auth) return false;
    auto publish = [this, label](std::string_view event, std::string cause) {
        if (!env_.bus) return;
        core::Event e;
        e.entity = "lnsd.incoming";
        e.id = label;
        e.event = std::string(event);
        e.cause = std::move(cause);
        env_.bus->publish(e);
    };
    // Proxy credentials RADIUS cannot be asked with (e.g. a 17-octet CHAP response) are a
    // rejection: no session (RFC 2865 §5.3; rc::ppp_auth_request names the problem).
    auto m = rc::ppp_auth_request(cr);
    if (!m.ok()) {
        refuse_credentials(cr, *m.error);
        publish("proxy-authentication-rejected", cr.user + ": " + m.error->message);
        refuse({"mandatory CHAP: proxy authentication refused"});
        return true;
    }
    const auto h = submit_auth(std::move(*m.request), [this, publish, start_ppp, user = cr.user](const rc::Completion& comp) {
        if (comp.result == rc::Result::cancelled || state() != S::proxy_auth) return;
        const std::string cause = user + ": RADIUS " + std::string(rc::to_string(comp.result));
        if (comp.result != rc::Result::accept) {
            count(&AuthCounters::ppp_auth_rejects);
            publish("proxy-authentication-rejected", cause);
            refuse({"mandatory CHAP: proxy authentication rejected"});
            return;
        }
        count(&AuthCounters::ppp_auth_accepts);
        publish("proxy-authentication-accepted", cause);
        proxy_accepted(cause);
        if (start_ppp) start_ppp();
    });
    if (h) {
        count(&AuthCounters::ppp_auth_requests);
        return true;
    }
    proxy_unavailable("no LNS RADIUS server for virtual router " + vr_ +
                      " or an unencodable Access-Request: PPP authenticates");
    if (start_ppp) start_ppp();
    return true;
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
