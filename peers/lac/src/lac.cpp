// lac-emu core: RFC 2661 §7.5.1 LAC outgoing calls placed through the emulated ISDN (lac.hpp).
#include "dl/lac/lac.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

#include <fmt/format.h>

#include "dl/core/fsm.hpp"
#include "dl/ppp/hdlc.hpp"
#include "dl/proto/errors.hpp"
#include "dl/radius/auth.hpp"
#include "dl/radius/client/ppp_credentials.hpp"
#include "dl/radius/tunnel.hpp"

namespace dl::lac {

using namespace std::chrono_literals;
using l2tp::CdnResult;
using l2tp::Q931Cause;
using core::Duration;

namespace {
std::uint32_t pack(l2tp::engine::SessionKey k) { return (std::uint32_t{k.tunnel} << 16) | k.session; }
constexpr std::uint8_t kQ931Release = 0x4D;  // Q.931 message type in which the cause was received
}  // namespace

l2tp::engine::PeerPolicy LnsSecrets::policy_for(core::Ipv4Address address) const {
    auto it = by_address.find(address.value);
    return it == by_address.end() ? fallback : it->second;
}

LnsSecrets load_lns_secrets(const core::ConfigNode& root) {
    LnsSecrets s;
    s.fallback.secret = root.get_string("secret", "");
    s.fallback.hide_avps = root.get_bool("hide_avps", false);
    if (s.fallback.hide_avps && s.fallback.secret.empty()) root["hide_avps"].fail("needs a secret (RFC 2661 §4.3)");
    if (auto peers = root["peers"]; peers.defined() && !peers.is_null()) {
        peers.require_sequence();
        for (std::size_t i = 0; i < peers.size(); ++i) {
            auto p = peers.at(i);
            p.require_map();
            p.allow_keys({"address", "secret", "hide_avps"});
            const auto address = p.at("address").as_ipv4();
            if (s.by_address.count(address.value)) p.at("address").fail("is configured twice");
            l2tp::engine::PeerPolicy pol;
            pol.secret = p.get_string("secret", s.fallback.secret);
            pol.hide_avps = p.get_bool("hide_avps", s.fallback.hide_avps && !pol.secret.empty());
            if (pol.hide_avps && pol.secret.empty()) p["hide_avps"].fail("needs a secret (RFC 2661 §4.3)");
            s.by_address.emplace(address.value, std::move(pol));
        }
    }
    return s;
}

CdnResult cdn_result_for(std::uint8_t c, bool was_connected) noexcept {
    if (was_connected) return CdnResult::LossOfCarrier;
    switch (c) {
    case 17: return CdnResult::Busy;
    case 18:
    case 19: return CdnResult::Timeout;
    case 1:
    case 3:
    case 22:
    case 28: return CdnResult::InvalidDestination;
    case 21:
    case 34:
    case 38:
    case 41:
    case 42:
    case 44:
    case 47: return CdnResult::NoFacilitiesTemporary;
    case 57:
    case 58:
    case 65: return CdnResult::NoFacilitiesPermanent;
    default: return CdnResult::NoCarrier;
    }
}

enum class CS : std::uint8_t { idle, wait_ocrp, dialing, alerting, connected, released };
enum class CE : std::uint8_t { ocrq, timer_expiry, refuse, alerting, connect, release, cdn, hangup };

struct Lac::Call {
    using Spec = core::FsmSpec<Call, CS, CE>;
    using Step = Spec::Step;
    static const Spec& spec() {
        static const Spec s{
            "lac.call",
            {"idle", "wait-ocrp", "dialing", "alerting", "connected", "released"},
            {"OCRQ", "timer-expiry", "refuse", "ALERTING", "CONNECT", "RELEASE", "CDN", "hangup"},
            {{CS::idle, CE::ocrq, CS::wait_ocrp, nullptr, "ocrp-delay"},
             {CS::idle, CE::refuse, CS::released, &Call::on_ended},
             {CS::wait_ocrp, CE::timer_expiry, CS::dialing, &Call::on_dial},
             {CS::wait_ocrp, CE::cdn, CS::released, &Call::on_ended},
             {CS::wait_ocrp, CE::hangup, CS::released, &Call::on_hangup},
             {CS::dialing, CE::alerting, CS::alerting},
             {CS::dialing, CE::connect, CS::connected, &Call::on_connect},
             {CS::alerting, CE::connect, CS::connected, &Call::on_connect},
             {CS::dialing, CE::release, CS::released, &Call::on_release},
             {CS::alerting, CE::release, CS::released, &Call::on_release},
             {CS::connected, CE::release, CS::released, &Call::on_release},
             {CS::dialing, CE::cdn, CS::released, &Call::on_cdn},
             {CS::alerting, CE::cdn, CS::released, &Call::on_cdn},
             {CS::connected, CE::cdn, CS::released, &Call::on_cdn},
             {CS::dialing, CE::hangup, CS::released, &Call::on_hangup},
             {CS::alerting, CE::hangup, CS::released, &Call::on_hangup},
             {CS::connected, CE::hangup, CS::released, &Call::on_hangup}},
            CE::timer_expiry};
        return s;
    }

    Call(Lac& l, SessionKey k, core::FsmEnv env)
        : lac(l), key(k), fsm(spec(), env, *this, fmt::format("{}/{}", k.tunnel, k.session), CS::idle) {}

    // OCRP, then SETUP to the exchange (§7.5.1: the LAC answers OCRQ, then places the call).
    static void on_dial(Call& c, Step&) {
        Lac& l = c.lac;
        if (!l.engine_ || !l.engine_->accept(c.key)) return;
        c.ref = l.allocate_ref();
        c.placed_ref = c.ref;
        l.refs_[c.ref] = pack(c.key);
        std::optional<std::uint32_t> speed;
        if (c.max_bps) speed = c.max_bps;
        l.isdn_send_(isdn::Message::setup(c.ref, c.called, l.cfg_.number, c.bearer, c.subaddress, speed));
    }
    static void on_connect(Call& c, Step&) {
        Lac& l = c.lac;
        const std::uint32_t framing = c.bearer == isdn::Bearer::digital ? l2tp::kFramingSync : l2tp::kFramingAsync;
        if (c.bearer == isdn::Bearer::analog) c.deframer = std::make_unique<ppp::AsyncDeframer>();
        c.framing = framing;
        if (l.engine_) l.engine_->call_connected(c.key, c.speed, framing);
        ++l.counters_.connected;
    }
    // Every transition into released runs exactly one of on_ended / on_release / on_cdn / on_hangup,
    // each of which tells the LAC first (channel count, reap).
    static void on_ended(Call& c, Step&) { c.lac.call_released(c); }
    static void on_release(Call& c, Step& st) {
        Lac& l = c.lac;
        l.call_released(c);
        const bool was_connected = st.from == CS::connected;
        const CdnResult r = cdn_result_for(c.cause, was_connected);
        if (l.engine_)
            l.engine_->disconnect(c.key, r, std::nullopt,
                                  Q931Cause{c.cause, kQ931Release, fmt::format("ISDN RELEASE cause {}", c.cause)});
        if (c.ref) l.isdn_send_(isdn::Message::simple(isdn::MessageType::release_complete, c.ref));
        if (!was_connected) ++l.counters_.failed;
    }
    static void on_cdn(Call& c, Step&) {
        c.lac.call_released(c);
        ++c.lac.counters_.cleared_by_lns;
        if (c.ref) c.lac.isdn_send_(isdn::Message::release(c.ref, isdn::cause::normal_clearing));
    }
    static void on_hangup(Call& c, Step&) {
        Lac& l = c.lac;
        l.call_released(c);
        if (c.ref) l.isdn_send_(isdn::Message::release(c.ref, c.hangup_cause));
        if (l.engine_)
            l.engine_->disconnect(c.key, c.hangup_result, std::nullopt,
                                  Q931Cause{c.hangup_cause, kQ931Release, "operator hang-up"});
    }

    Lac& lac;
    SessionKey key;
    std::uint16_t ref = 0;  // our ISDN call reference (0: no call placed, or nothing left to complete)
    std::uint16_t placed_ref = 0;  // the reference refs_ knows this call by (kept when ref is zeroed)
    isdn::Bearer bearer = isdn::Bearer::digital;
    std::uint8_t cause = 0;
    std::uint32_t max_bps = 0;
    std::uint32_t speed = 0;
    l2tp::engine::OutgoingCall ocrq;  // as received (RFC 2661 §6.9), for `show state` and events
    std::uint32_t framing = 0;        // Framing Type sent in the OCCN (§6.11): sync digital, async analog
    l2tp::Accm accm{};
    CdnResult hangup_result = CdnResult::Administrative;          // hangup(): CDN Result Code
    std::uint8_t hangup_cause = isdn::cause::normal_clearing;    // hangup(): Q.850 cause
    std::string called, subaddress;
    std::unique_ptr<ppp::AsyncDeframer> deframer;  // analog bearer only
    core::Fsm<Call, CS, CE> fsm;
};

// ---------------------------------------------------------------------------------------------
// Incoming calls (RFC 2661 §7.4.1; JunosE "Implementing L2TP" "Sequence of Events on the LAC"): the client calls us;
// we run LCP and PAP/CHAP with it (lns/ppp Link as authenticator), decide by domain whether and
// where to tunnel, then ICRQ / ICRP / ICCN with proxy LCP and proxy authentication AVPs (§4.4.5),
// and bridge the B-channel to the session.

struct Lac::InCall {
    Lac& lac;
    std::uint16_t ref;
    isdn::Bearer bearer;
    std::string calling, called;
    std::uint32_t speed = 0;
    std::unique_ptr<ppp::engine::Link> link;       // until the call is tunnelled
    std::unique_ptr<ppp::AsyncDeframer> deframer;  // analog only
    l2tp::Accm accm{};  // from the LNS's SLI once tunnelled (RFC 2661 §6.15); defaults: all escaped
    std::optional<std::vector<std::uint8_t>> initial_received, last_received, last_sent;  // LCP CONFREQ options
    std::optional<SessionKey> key;
    bool handing_off = false;  // decided to tunnel: only the authentication result still goes out
    bool ended = false;
    std::uint64_t serial = 0;                    // tells a reused call reference from this call
    radius::client::RequestHandle radius;        // the Access-Request in flight (RADIUS domains)
    InCall(Lac& l, std::uint16_t r, isdn::Bearer b) : lac(l), ref(r), bearer(b) {}
};

namespace {
constexpr std::uint16_t kProtoLcp = 0xC021, kProtoPap = 0xC023, kProtoChap = 0xC223;
}

void Lac::send_b_channel_incoming(InCall& c, std::span<const std::uint8_t> ppp_frame) {
    std::vector<std::uint8_t> out;
    if (c.bearer == isdn::Bearer::digital) {
        out = ppp::encode_sync(ppp_frame);
    } else {
        // RFC 1662 §7.1: the Send ACCM the LNS gave in SLI (§6.15); LCP codes 1-7 are still sent
        // with every control character escaped (encode_async, RFC 1661 §5).
        ppp::AsyncOptions o;
        o.accm = c.accm.send_accm;
        out = ppp::encode_async(ppp_frame, o);
    }
    isdn_send_(isdn::Message::data(c.ref, out));
}

void Lac::on_incoming_setup(const isdn::Message& m) {
    if (!cfg_.incoming || m.called != cfg_.number || in_by_ref_.count(m.call_ref)) {
        isdn_send_(isdn::Message::release(m.call_ref, isdn::cause::call_rejected));
        return;
    }
    const std::size_t active = in_by_ref_.size() + active_calls_;
    if (active >= cfg_.channels) {
        isdn_send_(isdn::Message::release(m.call_ref, isdn::cause::user_busy));
        return;
    }
    ++counters_.incoming;
    auto owned = std::make_unique<InCall>(*this, m.call_ref, m.bearer.value_or(isdn::Bearer::digital));
    InCall& c = *owned;
    c.serial = ++next_in_serial_;
    in_by_ref_.emplace(m.call_ref, std::move(owned));
    c.calling = m.calling;
    c.called = m.called;
    if (c.bearer == isdn::Bearer::analog) c.deframer = std::make_unique<ppp::AsyncDeframer>();

    ppp::engine::LinkConfig lc;
    lc.name = cfg_.name;
    lc.require_auth = cfg_.incoming_auth;
    lc.allow_pap = lc.allow_chap = false;  // we do not authenticate ourselves to the client
    ppp::engine::LinkCallbacks cb;
    InCall* cp = &c;
    cb.send = [this, cp](std::uint16_t proto, std::vector<std::uint8_t> info) {
        if (cp->ended) return;
        if (cp->handing_off && proto != kProtoPap && proto != kProtoChap) return;
        if (proto == kProtoLcp && info.size() >= 4 && info[0] == 1)
            cp->last_sent = std::vector<std::uint8_t>(info.begin() + 4, info.end());
        std::vector<std::uint8_t> f{static_cast<std::uint8_t>(proto >> 8), static_cast<std::uint8_t>(proto)};
        f.insert(f.end(), info.begin(), info.end());
        send_b_channel_incoming(*cp, f);
    };
    cb.verify = [this, cp](std::uint32_t ticket, const ppp::engine::Credentials& cr) { incoming_verify(*cp, ticket, cr); };
    cb.link_down = [this, cp](std::string_view) {
        if (cp->handing_off) return;
        timers_.arm(Duration::zero(), [this, cp] {
            if (!cp->ended) end_incoming(*cp, isdn::cause::normal_clearing, std::nullopt);
        });
    };
    c.link = std::make_unique<ppp::engine::Link>(lc, cb, core::FsmEnv{&bus_, &timers_, &registry_},
                                                 fmt::format("in/{}", m.call_ref & 0x7FFF));
    bus_.publish({.entity = "lac.incoming", .id = c.link->id(), .event = "setup",
                  .cause = fmt::format("from {} {}", c.calling, to_string(c.bearer))});
    c.speed = m.speed.value_or(c.bearer == isdn::Bearer::digital ? 64000 : 33600);
    isdn::Message conn = isdn::Message::connect(m.call_ref, c.speed);
    isdn_send_(conn);
    c.link->open();
}

void Lac::incoming_data(InCall& c, std::span<const std::uint8_t> payload) {
    std::vector<std::vector<std::uint8_t>> frames;
    if (c.bearer == isdn::Bearer::digital) {
        try {
            auto f = ppp::decode_sync(payload);
            frames.emplace_back(f.begin(), f.end());
        } catch (const proto::ParseError&) {
            ++counters_.bad_b_frames;
            return;
        }
    } else if (c.deframer) {
        frames = c.deframer->feed(payload);
    }
    for (auto& f : frames) {
        if (c.key) {  // tunnelled: bridge to the session
            std::vector<std::uint8_t> l2{0xFF, 0x03};
            l2.insert(l2.end(), f.begin(), f.end());
            if (engine_ && engine_->send_ppp(*c.key, l2)) ++counters_.frames_to_l2tp;
            continue;
        }
        if (!c.link || c.handing_off) continue;
        if (f.size() >= 6 && f[0] == 0xC0 && f[1] == 0x21 && f[2] == 1) {  // LCP Configure-Request
            std::vector<std::uint8_t> opts(f.begin() + 6, f.end());
            if (!c.initial_received) c.initial_received = opts;
            c.last_received = opts;
        }
        c.link->receive(f);
    }
}

void Lac::incoming_verify(InCall& c, std::uint32_t ticket, const ppp::engine::Credentials& cr) {
    // JunosE "Implementing L2TP": "By using either a local database related to the domain name or RADIUS
    // authentication, the router determines either to terminate or to tunnel the PPP connection."
    const auto at = cr.user.rfind('@');
    const std::string domain = at == std::string::npos ? std::string{} : cr.user.substr(at + 1);
    // The exact domain first (local table, then RADIUS), then "*" the same way.
    for (const std::string& key : {domain, std::string("*")}) {
        if (auto it = cfg_.domains.find(key); it != cfg_.domains.end()) {
            tunnel_incoming(c, ticket, cr, it->second, fmt::format("domain '{}' from the local table", key));
            return;
        }
        if (cfg_.radius_domains.count(key)) {
            ask_radius(c, ticket, cr);
            return;
        }
    }
    refuse_incoming(c, ticket, counters_.refused_domain, "no tunnel for domain '" + domain + "'");
}

void Lac::refuse_incoming(InCall& c, std::uint32_t ticket, std::uint64_t& counter, std::string reason) {
    ++counter;
    bus_.publish({.entity = "lac.incoming", .id = c.link ? c.link->id() : fmt::format("in/{}", c.ref & 0x7FFF),
                  .event = "refused", .cause = reason});
    // The client hears Authentication Failure (PAP Authenticate-Nak / CHAP Failure), then LCP
    // Terminate; the Link's link_down releases the ISDN call (end_incoming).
    InCall* cp = &c;
    timers_.arm(Duration::zero(), [cp, ticket, reason] {
        if (!cp->ended && cp->link) cp->link->verify_result(ticket, {false, reason});
    });
}

void Lac::bind_radius(radius::client::Client& client, PeerResolver resolve) {
    radius_ = &client;
    resolve_ = std::move(resolve);
}

void Lac::ask_radius(InCall& c, std::uint32_t ticket, const ppp::engine::Credentials& cr) {
    if (!radius_ || !resolve_) {
        refuse_incoming(c, ticket, counters_.refused_radius_timeout, "no RADIUS client");
        return;
    }
    // RFC 2865 §5.2 / §5.3 / §5.40 credentials, §5.6 Framed, §5.7 PPP, §5.30 / §5.31 numbers,
    // §5.41 NAS-Port-Type of the ISDN bearer, NAS-Port = our side of the call reference.
    auto m = radius::client::ppp_auth_request(cr);
    if (!m.ok()) {
        refuse_incoming(c, ticket, counters_.refused_radius_reject, m.error->message);
        return;
    }
    radius::client::PppAuthRequest& q = *m.request;
    q.calling_station_id = c.calling;
    q.called_station_id = c.called;
    q.nas_port = c.ref & 0x7FFFu;
    radius::client::PreparedRequest req;
    try {
        req = radius::client::build_ppp_access_request(q, cfg_.radius_nas);
    } catch (const std::exception& e) {
        refuse_incoming(c, ticket, counters_.refused_radius_reject, std::string("cannot ask RADIUS: ") + e.what());
        return;
    }
    req.packet.remove(static_cast<std::uint8_t>(radius::AttributeType::NAS_Port_Type));
    req.packet.add_integer(radius::AttributeType::NAS_Port_Type, c.bearer == isdn::Bearer::digital ? 2u : 0u);
    ++counters_.radius_requests;
    bus_.publish({.entity = "lac.incoming", .id = c.link->id(), .event = "radius-request",
                  .cause = fmt::format("user '{}' {}", cr.user,
                                       cr.method == ppp::engine::AuthMethod::chap_md5 ? "CHAP" : "PAP")});
    const std::uint16_t ref = c.ref;
    const std::uint64_t serial = c.serial;
    auto done = [this, ref, serial, ticket, cr](const radius::client::Completion& comp) {
        if (closing_) return;
        auto it = in_by_ref_.find(ref);
        if (it == in_by_ref_.end() || it->second->serial != serial || it->second->ended) return;
        it->second->radius = {};
        radius_answered(*it->second, ticket, cr, comp);
    };
    try {
        c.radius = radius_->submit(cfg_.radius_vr, radius::client::Service::authentication, std::move(req.packet),
                                   std::move(done), std::move(req.user_password));
    } catch (const std::exception& e) {
        refuse_incoming(c, ticket, counters_.refused_radius_timeout, std::string("cannot ask RADIUS: ") + e.what());
    }
}

void Lac::radius_answered(InCall& c, std::uint32_t ticket, const ppp::engine::Credentials& cr,
                          const radius::client::Completion& done) {
    using radius::client::Result;
    switch (done.result) {
    case Result::cancelled: return;
    case Result::timeout:
        refuse_incoming(c, ticket, counters_.refused_radius_timeout,
                        fmt::format("RADIUS: no answer ({} transmissions)", done.transmissions));
        return;
    case Result::reject: refuse_incoming(c, ticket, counters_.refused_radius_reject, "RADIUS: Access-Reject"); return;
    case Result::accept: break;
    }
    ++counters_.radius_accepts;
    const IncomingTunnels t = decode_incoming_tunnels(*done.reply, done.server->secret, done.request_authenticator);
    std::string why;
    for (const auto& p : t.problems) why += (why.empty() ? "" : "; ") + p;
    if (t.tunnels.empty()) {
        refuse_incoming(c, ticket, counters_.refused_radius_no_tunnel,
                        "RADIUS: Access-Accept without a usable tunnel" + (why.empty() ? std::string{} : ": " + why));
        return;
    }
    // RFC 2868 §3.8: the most preferred tunnel the shell can reach.
    std::string refusals;
    for (const RadiusTunnel& tun : t.tunnels) {
        PeerChoice pc = resolve_(tun);
        if (pc.peer) {
            std::string how = fmt::format("RADIUS tag {} Tunnel-Server-Endpoint {}", tun.tag, tun.server_endpoint);
            if (tun.preference) how += fmt::format(" Tunnel-Preference {}", *tun.preference);
            if (tun.assignment_id) how += " Tunnel-Assignment-Id " + *tun.assignment_id;
            if (tun.client_auth_id) how += " Tunnel-Client-Auth-Id " + *tun.client_auth_id;
            if (tun.password) how += " with Tunnel-Password";
            tunnel_incoming(c, ticket, cr, *pc.peer, std::move(how));
            return;
        }
        refusals += (refusals.empty() ? "" : "; ") + fmt::format("{}: {}", tun.server_endpoint, pc.refusal);
    }
    refuse_incoming(c, ticket, counters_.refused_radius_endpoint, "RADIUS: no usable tunnel endpoint: " + refusals);
}

IncomingTunnels decode_incoming_tunnels(const radius::Radius& acc, std::string_view secret,
                                        const radius::Authenticator& request_auth) {
    IncomingTunnels out;
    // RFC 2868 §3: attributes with the same tag describe one tunnel (proto/radius groups them).
    auto grouped = radius::decode_tagged_tunnels(acc, secret, request_auth);
    out.problems = std::move(grouped.problems);
    auto& by_tag = grouped.tunnels;
    if (by_tag.empty()) out.problems.push_back("no tunnel attributes (Tunnel-Type, Tunnel-Medium-Type, Tunnel-Server-Endpoint)");
    for (auto& t : by_tag) {
        if (t.password_undecryptable) continue;  // unusable (named in problems)
        const std::string who = fmt::format("tag {}: ", t.tag);
        if (t.type != radius::kTunnelTypeL2tp) {
            out.problems.push_back(who + (t.type ? fmt::format("Tunnel-Type is {}, not L2TP (3)", t.type) : "Tunnel-Type missing"));
            continue;
        }
        if (t.medium != radius::kTunnelMediumIpv4) {
            out.problems.push_back(
                who + (t.medium ? fmt::format("Tunnel-Medium-Type is {}, not IPv4 (1)", t.medium) : "Tunnel-Medium-Type missing"));
            continue;
        }
        if (t.server_endpoint.empty()) {
            out.problems.push_back(who + "Tunnel-Server-Endpoint missing");
            continue;
        }
        out.tunnels.push_back(std::move(t));
    }
    std::stable_sort(out.tunnels.begin(), out.tunnels.end(), [](const RadiusTunnel& a, const RadiusTunnel& b) {
        return a.preference.value_or(0) < b.preference.value_or(0);
    });
    return out;
}

void Lac::tunnel_incoming(InCall& c, std::uint32_t ticket, const ppp::engine::Credentials& creds,
                          l2tp::engine::PeerId peer, std::string how) {
    InCall* cp = &c;
    timers_.arm(Duration::zero(), [this, cp, ticket, peer, creds, how = std::move(how)] {
        if (cp->ended || !cp->link) return;
        // The LNS takes the result of this authentication as given (proxy authentication,
        // RFC 2661 §4.4.5); the client hears Success from us, then nothing more from this Link.
        cp->handing_off = true;
        cp->link->verify_result(ticket, {true, "tunnelled"});
        l2tp::engine::IncomingCall ic;
        ic.calling_number = cp->calling;
        ic.called_number = cp->called;
        ic.tx_connect_speed = cp->speed;
        ic.framing_type = cp->bearer == isdn::Bearer::digital ? l2tp::kFramingSync : l2tp::kFramingAsync;
        ic.initial_received_lcp_confreq = cp->initial_received;
        ic.last_received_lcp_confreq = cp->last_received;
        ic.last_sent_lcp_confreq = cp->last_sent;
        ic.proxy_authen_name = creds.user;
        if (creds.method == ppp::engine::AuthMethod::chap_md5) {
            ic.proxy_authen_type = static_cast<std::uint16_t>(l2tp::ProxyAuthenType::Chap);
            ic.proxy_authen_id = creds.chap_id;
            ic.proxy_authen_challenge = creds.challenge;
            ic.proxy_authen_response = creds.response;
        } else {
            ic.proxy_authen_type = static_cast<std::uint16_t>(l2tp::ProxyAuthenType::Pap);
            ic.proxy_authen_response = std::vector<std::uint8_t>(creds.password.begin(), creds.password.end());
        }
        bus_.publish({.entity = "lac.incoming", .id = cp->link->id(), .event = "tunnel",
                      .cause = fmt::format("to peer {} ({})", peer, how)});
        if (engine_) {
            cp->key = engine_->place_incoming_call(peer, ic);
            in_by_key_[pack(*cp->key)] = cp;
            ++counters_.tunnelled;
        }
        // Retire our Link without a Terminate exchange (the LNS continues the PPP session).
        auto dead = std::move(cp->link);
        timers_.arm(Duration::zero(), [d = std::shared_ptr<ppp::engine::Link>(std::move(dead))] {});
    });
}

void Lac::end_incoming(InCall& c, std::optional<std::uint8_t> release_cause, std::optional<IncomingCdn> cdn) {
    if (c.ended) return;
    c.ended = true;
    if (c.radius && radius_) radius_->cancel(std::exchange(c.radius, {}));
    if (release_cause) isdn_send_(isdn::Message::release(c.ref, *release_cause));
    if (c.key) {
        if (cdn && engine_)
            engine_->disconnect(*c.key, cdn->result, std::nullopt, Q931Cause{cdn->q850_cause, kQ931Release, cdn->message});
        in_by_key_.erase(pack(*c.key));
    }
    auto it = in_by_ref_.find(c.ref);
    if (it != in_by_ref_.end()) {
        in_doomed_.push_back(std::move(it->second));
        in_by_ref_.erase(it);
    }
    schedule_reap();
}

Lac::Lac(core::TimerQueue& timers, core::TimerRegistry& registry, core::EventBus& bus, LacConfig cfg, IsdnSend isdn_send)
    : timers_(timers), registry_(registry), bus_(bus), cfg_(std::move(cfg)), isdn_send_(std::move(isdn_send)),
      reap_timer_(timers) {
    if (!registry_.contains("ocrp-delay"))
        registry_.add({"ocrp-delay", 0s, 0s, 1min, "lac-emu: time between OCRQ and OCRP/SETUP (answer delay)"});
}

Lac::~Lac() {
    closing_ = true;
    if (radius_)
        for (auto& [ref, c] : in_by_ref_)
            if (c->radius) radius_->cancel(std::exchange(c->radius, {}));
}

/// The OCRQ's AVPs as received (RFC 2661 §6.9): called_number, sub_address, min_bps, max_bps,
/// bearer_type (§4.4.4 bits: 1 digital, 2 analog), framing_type (bits: 1 sync, 2 async), call_serial.
namespace {
nlohmann::json ocrq_json(const l2tp::engine::OutgoingCall& oc) {
    return {{"called_number", oc.called_number}, {"sub_address", oc.sub_address.value_or("")},
            {"min_bps", oc.min_bps}, {"max_bps", oc.max_bps}, {"bearer_type", oc.bearer_type},
            {"framing_type", oc.framing_type}, {"call_serial", oc.call_serial_number}};
}
}  // namespace

std::size_t Lac::call_footprint() noexcept { return sizeof(Call); }

l2tp::engine::EngineCallbacks Lac::callbacks(std::function<void(l2tp::engine::PeerId, std::vector<std::uint8_t>)> udp_send) {
    l2tp::engine::EngineCallbacks cb;
    cb.send = std::move(udp_send);
    cb.ocrq = [this](SessionKey k, const l2tp::engine::OutgoingCall& oc) { on_ocrq(k, oc); };
    cb.call_ended = [this](SessionKey k, const l2tp::engine::CallFailure& f) { on_call_ended(k, f); };
    cb.ppp_frame = [this](SessionKey k, std::span<const std::uint8_t> f) { on_ppp(k, f); };
    cb.sli = [this](SessionKey k, const l2tp::Accm& a) { on_sli(k, a); };
    cb.connected = [this](SessionKey k, const l2tp::engine::ConnectInfo&) {
        if (auto in = in_by_key_.find(pack(k)); in != in_by_key_.end())
            bus_.publish({.entity = "lac.incoming", .id = fmt::format("{}/{}", k.tunnel, k.session), .event = "ICCN-sent"});
    };
    return cb;
}

void Lac::start() { isdn_send_(isdn::Message::reg({cfg_.number})); }

std::uint16_t Lac::allocate_ref() {
    // Not one of our calls' references, nor one the exchange gave a call it delivered to us: the
    // exchange (isdn-emu) ignores a SETUP whose call reference value is in use on the endpoint
    // whichever side allocated it (Q.931 §5.8.3.2 f), so an outgoing call placed while an
    // incoming call with the same value was up got no answer at all.
    for (int i = 0; i < 0x8000; ++i) {
        next_ref_ = static_cast<std::uint16_t>((next_ref_ + 1) & 0x7FFF);
        if (next_ref_ != 0 && !refs_.count(next_ref_) && !in_by_ref_.count(next_ref_) &&
            !in_by_ref_.count(static_cast<std::uint16_t>(next_ref_ | 0x8000u)))
            return next_ref_;
    }
    return 0;
}

void Lac::on_ocrq(SessionKey k, const l2tp::engine::OutgoingCall& oc) {
    ++counters_.ocrq;
    auto owned = std::make_unique<Call>(*this, k, core::FsmEnv{&bus_, &timers_, &registry_});
    Call& c = *owned;
    c.called = oc.called_number;
    c.subaddress = oc.sub_address.value_or("");
    c.ocrq = oc;
    // What the LNS put in the OCRQ (§6.9; the dial-out ERX VSAs of JunosE "L2TP Dial-Out" Table 75 land here).
    // Built only for a subscriber: the JSON costs more than the rest of the OCRQ's handling.
    if (bus_.has_subscribers())
        bus_.publish({.entity = "lac.outgoing", .id = c.fsm.id(), .event = "OCRQ-received",
                      .cause = fmt::format("called {}", oc.called_number), .extra = ocrq_json(oc)});
    // Bearer Type 0 (neither A nor D, as xl2tpd sends): unspecified, any bearer we have will do.
    const std::uint32_t wanted = oc.bearer_type ? oc.bearer_type : cfg_.bearer_capabilities;
    c.bearer = (wanted & l2tp::kBearerDigital) ? isdn::Bearer::digital : isdn::Bearer::analog;
    c.max_bps = oc.max_bps;
    const std::size_t active = active_calls_;  // outgoing calls not released (channels in use)
    calls_.emplace(pack(k), std::move(owned));
    ++active_calls_;

    // §7.5.1 idle + OCRQ: "Unacceptable: send CDN". Decided after the engine's receive() returns.
    std::optional<std::pair<CdnResult, std::uint8_t>> refuse;
    std::string why;
    if (refuse_next_) {
        refuse = refuse_next_;
        refuse_next_.reset();
        ++counters_.refused_injected;
        why = "injected";
    } else if (active >= cfg_.channels) {
        refuse = {CdnResult::NoFacilitiesTemporary, isdn::cause::no_channel};
        ++counters_.refused_capacity;
        why = fmt::format("all {} channels busy", cfg_.channels);
    } else if ((wanted & cfg_.bearer_capabilities) == 0) {
        refuse = {CdnResult::NoFacilitiesPermanent, isdn::cause::bearer_not_available};
        ++counters_.refused_bearer;
        why = fmt::format("bearer type {} not supported", oc.bearer_type);
    } else if (!isdn::valid_number(c.called)) {
        refuse = {CdnResult::InvalidDestination, isdn::cause::invalid_number_format};
        why = "called number '" + c.called + "' is not 1..32 digits";
    }
    if (refuse) {
        c.cause = refuse->second;
        c.fsm.dispatch(CE::refuse, why);
        const auto [r, q] = *refuse;
        // The engine is inside receive(): send the CDN from a zero-delay timer.
        timers_.arm(Duration::zero(), [this, k, r = r, q = q] {
            if (engine_) engine_->disconnect(k, r, std::nullopt, Q931Cause{q, 0, "lac-emu: call refused"});
        });
        schedule_reap();
        return;
    }
    c.fsm.dispatch(CE::ocrq, fmt::format("called {} {}", c.called, to_string(c.bearer)));
}

Lac::Call* Lac::by_ref(std::uint16_t ref) {
    auto it = refs_.find(ref & 0x7FFF);
    if (it == refs_.end()) return nullptr;
    auto c = calls_.find(it->second);
    return c == calls_.end() ? nullptr : c->second.get();
}

void Lac::isdn_receive(const isdn::Message& m) {
    using isdn::MessageType;
    if (m.type == MessageType::registered || m.type == MessageType::connect_ack) return;
    if (m.type == MessageType::setup) {
        on_incoming_setup(m);
        return;
    }
    if (m.call_ref & 0x8000u) {  // a call the exchange delivered to us: incoming (§7.4.1)
        auto it = in_by_ref_.find(m.call_ref);
        if (it == in_by_ref_.end()) return;
        InCall& ic = *it->second;
        if (m.type == MessageType::data) incoming_data(ic, m.payload);
        else if (m.type == MessageType::release || m.type == MessageType::release_complete) {
            if (m.type == MessageType::release)
                isdn_send_(isdn::Message::simple(MessageType::release_complete, m.call_ref));
            const std::uint8_t cause = m.cause.value_or(isdn::cause::normal_clearing);
            end_incoming(ic, std::nullopt,
                         IncomingCdn{CdnResult::LossOfCarrier, cause, fmt::format("client released, cause {}", cause)});
        }
        return;
    }
    Call* c = by_ref(m.call_ref);
    if (!c) return;
    switch (m.type) {
    case MessageType::alerting: c->fsm.dispatch(CE::alerting, "exchange"); break;
    case MessageType::connect:
        c->speed = m.speed.value_or(c->bearer == isdn::Bearer::digital ? 64000 : 33600);
        c->fsm.dispatch(CE::connect, fmt::format("{} bit/s", c->speed));
        break;
    case MessageType::release:
    case MessageType::release_complete:
        c->cause = m.cause.value_or(isdn::cause::normal_clearing);
        if (m.type == MessageType::release_complete) c->ref = 0;  // nothing to complete
        c->fsm.dispatch(CE::release, fmt::format("cause {}", c->cause));
        schedule_reap();
        break;
    case MessageType::data: {
        if (c->fsm.state() != CS::connected || !engine_) return;
        auto forward = [&](std::span<const std::uint8_t> ppp) {
            std::vector<std::uint8_t> f{0xFF, 0x03};  // RFC 2661 §3.1 / RFC 1662 §3.1 Address, Control
            f.insert(f.end(), ppp.begin(), ppp.end());
            if (engine_->send_ppp(c->key, f)) ++counters_.frames_to_l2tp;
        };
        if (c->bearer == isdn::Bearer::digital) {
            try {
                forward(ppp::decode_sync(m.payload));
            } catch (const proto::ParseError&) {
                ++counters_.bad_b_frames;
            }
        } else if (c->deframer) {
            std::span<const std::uint8_t> in(m.payload);
            while (auto f = c->deframer->next(in)) forward(*f);
        }
        break;
    }
    default: break;
    }
}

void Lac::on_call_ended(SessionKey k, const l2tp::engine::CallFailure& f) {
    // Our own disconnect() (RELEASE from the exchange, hang-up, refusal, incoming call ended): the
    // call was ended here and its ISDN side already handled — no second RELEASE to the exchange.
    if (f.ended_by == l2tp::engine::CallEndedBy::local_disconnect) return;
    if (auto in = in_by_key_.find(pack(k)); in != in_by_key_.end()) {
        end_incoming(*in->second, isdn::cause::normal_clearing, std::nullopt);
        return;
    }
    auto it = calls_.find(pack(k));
    if (it == calls_.end()) return;
    it->second->fsm.dispatch(CE::cdn, fmt::format("CDN result {}", f.result));
    schedule_reap();
}

void Lac::on_ppp(SessionKey k, std::span<const std::uint8_t> frame) {
    if (auto in = in_by_key_.find(pack(k)); in != in_by_key_.end()) {
        if (frame.size() >= 2 && frame[0] == 0xFF && frame[1] == 0x03) frame = frame.subspan(2);
        if (!frame.empty()) send_b_channel_incoming(*in->second, frame);
        return;
    }
    auto it = calls_.find(pack(k));
    if (it == calls_.end() || it->second->fsm.state() != CS::connected) return;
    Call& c = *it->second;
    if (frame.size() >= 2 && frame[0] == 0xFF && frame[1] == 0x03) frame = frame.subspan(2);
    if (frame.empty()) return;
    std::vector<std::uint8_t> out;
    if (c.bearer == isdn::Bearer::digital) {
        out = ppp::encode_sync(frame);
    } else {
        ppp::AsyncOptions o;
        o.accm = c.accm.send_accm;
        out = ppp::encode_async(frame, o);
    }
    isdn_send_(isdn::Message::data(c.ref, out));
    ++counters_.frames_to_b;
}

void Lac::on_sli(SessionKey k, const l2tp::Accm& accm) {
    // RFC 2661 §6.15 SLI: Send ACCM for what we put on the B-channel, Receive ACCM for what we
    // accept from it (RFC 1662 §7.1), for outgoing and tunnelled incoming calls alike.
    auto apply_receive = [&accm](ppp::AsyncDeframer* d) {
        if (!d) return;
        ppp::DeframerOptions o = d->options();
        o.accm = accm.receive_accm;
        d->set_options(o);
    };
    if (auto in = in_by_key_.find(pack(k)); in != in_by_key_.end()) {
        in->second->accm = accm;
        apply_receive(in->second->deframer.get());
        bus_.publish({.entity = "lac.incoming", .id = fmt::format("{}/{}", k.tunnel, k.session), .event = "SLI",
                      .cause = fmt::format("send ACCM {:#010x} receive ACCM {:#010x}", accm.send_accm, accm.receive_accm)});
        return;
    }
    auto it = calls_.find(pack(k));
    if (it == calls_.end()) return;
    it->second->accm = accm;
    apply_receive(it->second->deframer.get());
}

void Lac::isdn_down() {
    std::vector<InCall*> ins;
    for (auto& [r, ic] : in_by_ref_) ins.push_back(ic.get());
    for (InCall* ic : ins)
        end_incoming(*ic, std::nullopt,
                     IncomingCdn{CdnResult::LossOfCarrier, isdn::cause::destination_out_of_order,
                                 "exchange connection lost"});
    for (auto& [id, c] : calls_) {
        if (c->fsm.state() == CS::released) continue;
        c->ref = 0;
        c->cause = isdn::cause::destination_out_of_order;
        if (c->fsm.allowed(CE::release)) c->fsm.dispatch(CE::release, "exchange connection lost");
        else c->fsm.dispatch(CE::hangup, "exchange connection lost");
    }
    schedule_reap();
}

void Lac::refuse_next(CdnResult result, std::uint8_t q850_cause) { refuse_next_ = {result, q850_cause}; }

bool Lac::hangup(SessionKey key, CdnResult result, std::uint8_t q850_cause) {
    const std::string why = fmt::format("operator hang-up, cause {}", q850_cause);
    if (auto in = in_by_key_.find(pack(key)); in != in_by_key_.end()) {
        // §7.4.1 incoming call, tunnelled: we are the LAC the client dialled, so we clear both legs.
        InCall& c = *in->second;
        bus_.publish({.entity = "lac.incoming", .id = fmt::format("{}/{}", key.tunnel, key.session),
                      .event = "hangup", .cause = why});
        ++counters_.hangups;
        end_incoming(c, q850_cause, IncomingCdn{result, q850_cause, why});
        return true;
    }
    auto it = calls_.find(pack(key));
    if (it == calls_.end() || !it->second->fsm.allowed(CE::hangup)) return false;
    it->second->hangup_result = result;
    it->second->hangup_cause = q850_cause;
    if (!it->second->fsm.dispatch(CE::hangup, why)) return false;
    ++counters_.hangups;
    schedule_reap();
    return true;
}

void Lac::schedule_reap() {
    if (!reap_timer_.armed()) reap_timer_.start(Duration::zero(), [this] {
        in_doomed_.clear();
        reap();
    });
}

void Lac::call_released(Call& c) {
    --active_calls_;
    reap_candidates_.push_back(pack(c.key));
    schedule_reap();
}

void Lac::reap() {
    // Only calls that entered released since the last reap: O(released), not O(calls).
    std::vector<std::uint32_t> candidates;
    candidates.swap(reap_candidates_);
    for (const std::uint32_t id : candidates) {
        auto it = calls_.find(id);
        if (it == calls_.end() || it->second->fsm.state() != CS::released) continue;
        if (const std::uint16_t r = it->second->placed_ref) {
            auto ref = refs_.find(r);
            if (ref != refs_.end() && ref->second == id) refs_.erase(ref);
        }
        calls_.erase(it);
    }
}

nlohmann::json Lac::state() const {
    nlohmann::json calls = nlohmann::json::array();
    for (const auto& [id, c] : calls_)
        calls.push_back({{"id", c->fsm.id()},
                         {"state", std::string(c->fsm.state_name())},
                         {"called", c->called},
                         {"subaddress", c->subaddress},
                         {"bearer", std::string(to_string(c->bearer))},
                         {"isdn_ref", c->ref},
                         {"speed", c->speed},
                         {"ocrq", ocrq_json(c->ocrq)},
                         {"framing", c->framing == 0                   ? ""
                                     : c->framing == l2tp::kFramingSync ? "sync"
                                                                        : "async"}});
    nlohmann::json incoming = nlohmann::json::array();
    for (const auto& [ref, c] : in_by_ref_)
        incoming.push_back({{"id", fmt::format("in/{}", ref & 0x7FFF)},
                            {"call", c->key ? fmt::format("{}/{}", c->key->tunnel, c->key->session) : std::string{}},
                            {"calling", c->calling},
                            {"called", c->called},
                            {"bearer", std::string(to_string(c->bearer))},
                            {"speed", c->speed},
                            {"send_accm", c->accm.send_accm},
                            {"receive_accm", c->accm.receive_accm}});
    const auto& k = counters_;
    return {{"calls", calls},
            {"incoming", incoming},
            {"counters",
             {{"ocrq", k.ocrq}, {"refused_capacity", k.refused_capacity}, {"refused_bearer", k.refused_bearer},
              {"refused_injected", k.refused_injected}, {"connected", k.connected}, {"failed", k.failed},
              {"cleared_by_lns", k.cleared_by_lns}, {"frames_to_b", k.frames_to_b},
              {"frames_to_l2tp", k.frames_to_l2tp}, {"bad_b_frames", k.bad_b_frames},
              // incoming calls (§7.4.1): answered, tunnelled (ICRQ sent), refused for the domain / by RADIUS
              {"incoming", k.incoming}, {"tunnelled", k.tunnelled}, {"refused_domain", k.refused_domain},
              {"radius_requests", k.radius_requests}, {"radius_accepts", k.radius_accepts},
              {"refused_radius_reject", k.refused_radius_reject},
              {"refused_radius_no_tunnel", k.refused_radius_no_tunnel},
              {"refused_radius_timeout", k.refused_radius_timeout},
              {"refused_radius_endpoint", k.refused_radius_endpoint}, {"hangups", k.hangups}}}};
}

}  // namespace dl::lac
