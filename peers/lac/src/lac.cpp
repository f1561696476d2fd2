// lac-emu core: RFC 2661 §7.5.1 LAC outgoing calls placed through the emulated ISDN (lac.hpp).
#include "dl/lac/lac.hpp"

#include <chrono>

#include <fmt/format.h>

#include "dl/core/fsm.hpp"
#include "dl/ppp/hdlc.hpp"
#include "dl/proto/errors.hpp"

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
             {CS::idle, CE::refuse, CS::released},
             {CS::wait_ocrp, CE::timer_expiry, CS::dialing, &Call::on_dial},
             {CS::wait_ocrp, CE::cdn, CS::released},
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
        l.refs_[c.ref] = pack(c.key);
        std::optional<std::uint32_t> speed;
        if (c.max_bps) speed = c.max_bps;
        l.isdn_send_(isdn::Message::setup(c.ref, c.called, l.cfg_.number, c.bearer, c.subaddress, speed));
    }
    static void on_connect(Call& c, Step&) {
        Lac& l = c.lac;
        const std::uint32_t framing = c.bearer == isdn::Bearer::digital ? l2tp::kFramingSync : l2tp::kFramingAsync;
        if (c.bearer == isdn::Bearer::analog) c.deframer = std::make_unique<ppp::AsyncDeframer>();
        if (l.engine_) l.engine_->call_connected(c.key, c.speed, framing);
        ++l.counters_.connected;
    }
    static void on_release(Call& c, Step& st) {
        Lac& l = c.lac;
        const bool was_connected = st.from == CS::connected;
        const CdnResult r = cdn_result_for(c.cause, was_connected);
        if (l.engine_)
            l.engine_->disconnect(c.key, r, std::nullopt,
                                  Q931Cause{c.cause, kQ931Release, fmt::format("ISDN RELEASE cause {}", c.cause)});
        if (c.ref) l.isdn_send_(isdn::Message::simple(isdn::MessageType::release_complete, c.ref));
        if (!was_connected) ++l.counters_.failed;
    }
    static void on_cdn(Call& c, Step&) {
        ++c.lac.counters_.cleared_by_lns;
        if (c.ref) c.lac.isdn_send_(isdn::Message::release(c.ref, isdn::cause::normal_clearing));
    }
    static void on_hangup(Call& c, Step&) {
        Lac& l = c.lac;
        if (c.ref) l.isdn_send_(isdn::Message::release(c.ref, isdn::cause::normal_clearing));
        if (l.engine_)
            l.engine_->disconnect(c.key, CdnResult::Administrative, std::nullopt,
                                  Q931Cause{isdn::cause::normal_clearing, kQ931Release, "operator hang-up"});
    }

    Lac& lac;
    SessionKey key;
    std::uint16_t ref = 0;  // our ISDN call reference (0: no call placed)
    isdn::Bearer bearer = isdn::Bearer::digital;
    std::uint8_t cause = 0;
    std::uint32_t max_bps = 0;
    std::uint32_t speed = 0;
    l2tp::Accm accm{};
    std::string called, subaddress;
    std::unique_ptr<ppp::AsyncDeframer> deframer;  // analog bearer only
    core::Fsm<Call, CS, CE> fsm;
};

// ---------------------------------------------------------------------------------------------
// Incoming calls (RFC 2661 §7.4.1; seed 003 "Sequence of Events on the LAC"): the client calls us;
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
    std::optional<std::vector<std::uint8_t>> initial_received, last_received, last_sent;  // LCP CONFREQ options
    std::optional<SessionKey> key;
    bool handing_off = false;  // decided to tunnel: only the authentication result still goes out
    bool ended = false;
    InCall(Lac& l, std::uint16_t r, isdn::Bearer b) : lac(l), ref(r), bearer(b) {}
};

namespace {
constexpr std::uint16_t kProtoLcp = 0xC021, kProtoPap = 0xC023, kProtoChap = 0xC223;
}

void Lac::send_b_channel_incoming(InCall& c, std::span<const std::uint8_t> ppp_frame) {
    std::vector<std::uint8_t> out = c.bearer == isdn::Bearer::digital ? ppp::encode_sync(ppp_frame)
                                                                      : ppp::encode_async(ppp_frame);
    isdn_send_(isdn::Message::data(c.ref, out));
}

void Lac::on_incoming_setup(const isdn::Message& m) {
    if (!cfg_.incoming || m.called != cfg_.number || in_by_ref_.count(m.call_ref)) {
        isdn_send_(isdn::Message::release(m.call_ref, isdn::cause::call_rejected));
        return;
    }
    std::size_t active = in_by_ref_.size();
    for (const auto& [id, c] : calls_)
        if (c->fsm.state() != CS::released) ++active;
    if (active >= cfg_.channels) {
        isdn_send_(isdn::Message::release(m.call_ref, isdn::cause::user_busy));
        return;
    }
    ++counters_.incoming;
    auto owned = std::make_unique<InCall>(*this, m.call_ref, m.bearer.value_or(isdn::Bearer::digital));
    InCall& c = *owned;
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
            if (!cp->ended) end_incoming(*cp, isdn::cause::normal_clearing, false);
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
    // Seed 003: "By using a local database related to the domain name … the router determines
    // either to terminate or to tunnel the PPP connection."
    const auto at = cr.user.rfind('@');
    const std::string domain = at == std::string::npos ? std::string{} : cr.user.substr(at + 1);
    auto it = cfg_.domains.find(domain);
    if (it == cfg_.domains.end()) it = cfg_.domains.find("*");
    InCall* cp = &c;
    if (it == cfg_.domains.end()) {
        ++counters_.refused_domain;
        bus_.publish({.entity = "lac.incoming", .id = c.link->id(), .event = "refused",
                      .cause = "no tunnel for domain '" + domain + "'"});
        timers_.arm(Duration::zero(), [cp, ticket] {
            if (cp->link) cp->link->verify_result(ticket, {false, "no service for this domain"});
        });
        return;
    }
    const l2tp::engine::PeerId peer = it->second;
    ppp::engine::Credentials creds = cr;
    timers_.arm(Duration::zero(), [this, cp, ticket, peer, creds] {
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
        tunnel_incoming(*cp, peer);
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

void Lac::tunnel_incoming(InCall& c, l2tp::engine::PeerId peer) {
    bus_.publish({.entity = "lac.incoming", .id = c.link ? c.link->id() : std::string{}, .event = "tunnel",
                  .cause = fmt::format("to peer {}", peer)});
}

void Lac::end_incoming(InCall& c, std::optional<std::uint8_t> release_cause, bool send_cdn) {
    if (c.ended) return;
    c.ended = true;
    if (release_cause) isdn_send_(isdn::Message::release(c.ref, *release_cause));
    if (c.key) {
        if (send_cdn && engine_)
            engine_->disconnect(*c.key, l2tp::CdnResult::LossOfCarrier, std::nullopt,
                                Q931Cause{isdn::cause::normal_clearing, kQ931Release, "client hung up"});
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

Lac::~Lac() = default;

std::size_t Lac::call_footprint() noexcept { return sizeof(Call); }

l2tp::engine::EngineCallbacks Lac::callbacks(std::function<void(l2tp::engine::PeerId, std::vector<std::uint8_t>)> udp_send) {
    l2tp::engine::EngineCallbacks cb;
    cb.send = std::move(udp_send);
    cb.ocrq = [this](SessionKey k, const l2tp::engine::OutgoingCall& oc) { on_ocrq(k, oc); };
    cb.failed = [this](SessionKey k, const l2tp::engine::CallFailure& f) { on_failed(k, f); };
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
    for (int i = 0; i < 0x8000; ++i) {
        next_ref_ = static_cast<std::uint16_t>((next_ref_ + 1) & 0x7FFF);
        if (next_ref_ != 0 && !refs_.count(next_ref_)) return next_ref_;
    }
    return 0;
}

void Lac::on_ocrq(SessionKey k, const l2tp::engine::OutgoingCall& oc) {
    ++counters_.ocrq;
    auto owned = std::make_unique<Call>(*this, k, core::FsmEnv{&bus_, &timers_, &registry_});
    Call& c = *owned;
    c.called = oc.called_number;
    c.subaddress = oc.sub_address.value_or("");
    // Bearer Type 0 (neither A nor D, as xl2tpd sends): unspecified, any bearer we have will do.
    const std::uint32_t wanted = oc.bearer_type ? oc.bearer_type : cfg_.bearer_capabilities;
    c.bearer = (wanted & l2tp::kBearerDigital) ? isdn::Bearer::digital : isdn::Bearer::analog;
    c.max_bps = oc.max_bps;
    std::size_t active = 0;
    for (const auto& [id, other] : calls_)
        if (other->fsm.state() != CS::released) ++active;
    calls_.emplace(pack(k), std::move(owned));

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
            end_incoming(ic, std::nullopt, true);
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

void Lac::on_failed(SessionKey k, const l2tp::engine::CallFailure& f) {
    if (auto in = in_by_key_.find(pack(k)); in != in_by_key_.end()) {
        end_incoming(*in->second, isdn::cause::normal_clearing, false);
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
    auto it = calls_.find(pack(k));
    if (it == calls_.end()) return;
    it->second->accm = accm;
    if (it->second->deframer) {
        ppp::DeframerOptions o = it->second->deframer->options();
        o.accm = accm.receive_accm;
        it->second->deframer->set_options(o);
    }
}

void Lac::isdn_down() {
    std::vector<InCall*> ins;
    for (auto& [r, ic] : in_by_ref_) ins.push_back(ic.get());
    for (InCall* ic : ins) end_incoming(*ic, std::nullopt, true);
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

bool Lac::hangup(SessionKey key) {
    auto it = calls_.find(pack(key));
    if (it == calls_.end() || !it->second->fsm.dispatch(CE::hangup, "operator")) return false;
    schedule_reap();
    return true;
}

void Lac::schedule_reap() {
    if (!reap_timer_.armed()) reap_timer_.start(Duration::zero(), [this] {
        in_doomed_.clear();
        reap();
    });
}

void Lac::reap() {
    for (auto it = calls_.begin(); it != calls_.end();) {
        if (it->second->fsm.state() == CS::released) {
            if (it->second->ref) refs_.erase(it->second->ref);
            for (auto r = refs_.begin(); r != refs_.end();)
                r = r->second == it->first ? refs_.erase(r) : std::next(r);
            it = calls_.erase(it);
        } else {
            ++it;
        }
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
                         {"speed", c->speed}});
    const auto& k = counters_;
    return {{"calls", calls},
            {"counters",
             {{"ocrq", k.ocrq}, {"refused_capacity", k.refused_capacity}, {"refused_bearer", k.refused_bearer},
              {"refused_injected", k.refused_injected}, {"connected", k.connected}, {"failed", k.failed},
              {"cleared_by_lns", k.cleared_by_lns}, {"frames_to_b", k.frames_to_b},
              {"frames_to_l2tp", k.frames_to_l2tp}, {"bad_b_frames", k.bad_b_frames}}}};
}

}  // namespace dl::lac
