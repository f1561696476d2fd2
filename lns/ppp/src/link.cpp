// PPP link engine: LCP and IPCP policies over the shared RFC 1661 §4 automaton, PAP/CHAP in both
// directions, phase machine (RFC 1661 §3.2), keepalive, Protocol-Reject, proxy LCP/authentication.
#include "dl/ppp/engine/link.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "dl/core/event.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/ppp/auth.hpp"
#include "dl/ppp/ppp.hpp"
#include "dl/proto/crypto.hpp"
#include "dl/proto/errors.hpp"

namespace dl::ppp::engine {

std::string_view to_string(Phase p) noexcept {
    constexpr std::array<std::string_view, 5> n{"Dead", "Establish", "Authenticate", "Network", "Terminate"};
    return n[static_cast<std::size_t>(p)];
}

namespace {
std::uint32_t be32(std::span<const std::uint8_t> v) {
    return v.size() < 4 ? 0 : (std::uint32_t(v[0]) << 24) | (std::uint32_t(v[1]) << 16) | (std::uint32_t(v[2]) << 8) | v[3];
}
std::uint16_t be16(std::span<const std::uint8_t> v) { return v.size() < 2 ? 0 : std::uint16_t((v[0] << 8) | v[1]); }
std::vector<std::uint8_t> put32(std::uint32_t x) {
    return {std::uint8_t(x >> 24), std::uint8_t(x >> 16), std::uint8_t(x >> 8), std::uint8_t(x)};
}
std::vector<std::uint8_t> put16(std::uint16_t x) { return {std::uint8_t(x >> 8), std::uint8_t(x)}; }
std::vector<std::uint8_t> auth_value(AuthMethod m) {
    if (m == AuthMethod::pap) return {0xc0, 0x23};
    return {0xc2, 0x23, kChapMd5};
}
AuthMethod auth_of(std::span<const std::uint8_t> v) {
    if (v.size() == 2 && be16(v) == kProtoPAP) return AuthMethod::pap;
    if (v.size() == 3 && be16(v) == kProtoCHAP && v[2] == kChapMd5) return AuthMethod::chap_md5;
    return AuthMethod::none;
}

// ---- Phase machine (RFC 1661 §3.2) -------------------------------------------------------------
enum class PhEvent : std::uint8_t { up, lcp_opened, auth_done, lcp_down, lcp_finished };

// ---- Authentication machines (RFC 1334 §2, RFC 1994 §2) ------------------------------------------
enum class AuState : std::uint8_t { idle, wait_request, wait_response, verifying, success, failure };
enum class AuEvent : std::uint8_t { start_pap, start_chap, response, accept, reject, timeout, rechallenge, stop, proxy };
enum class PeState : std::uint8_t { idle, wait_challenge, wait_result, success, failure };
enum class PeEvent : std::uint8_t { start_pap, start_chap, challenge, success, failure, timeout, stop };
}  // namespace

struct Link::Impl {
    Link& link;

    // LCP policy (RFC 1661 §6, RFC 1662 §7.1).
    struct Lcp final : CpPolicy {
        Impl* im;
        std::uint32_t magic = 0;
        AuthMethod asking = AuthMethod::none;  // auth protocol in our request
        std::uint16_t mru = 1500;
        std::uint8_t rejected = 0;  // bit per option type we must stop sending (types < 8)
        void build_request(std::vector<CpOption>& out) override {
            const LinkConfig& c = im->link.cfg_;
            if (mru != 1500 && !(rejected & (1u << lcp_opt::mru))) out.push_back({lcp_opt::mru, put16(mru)});
            if (c.accm && !(rejected & (1u << lcp_opt::accm))) out.push_back({lcp_opt::accm, put32(*c.accm)});
            if (asking != AuthMethod::none) out.push_back({lcp_opt::auth_protocol, auth_value(asking)});
            if (!(rejected & (1u << lcp_opt::magic_number))) out.push_back({lcp_opt::magic_number, put32(magic)});
            if (c.request_pfc && !(rejected & (1u << lcp_opt::pfc))) out.push_back({lcp_opt::pfc, {}});
            if (c.request_acfc && !(rejected & (1u << 0))) out.push_back({lcp_opt::acfc, {}});
        }
        CrVerdict check_request(const std::vector<CpOption>& in, std::vector<CpOption>& reply, bool allow_nak) override {
            return im->lcp_check(in, reply, allow_nak);
        }
        void on_ack(const std::vector<CpOption>& acked) override {
            im->link.neg_.local_magic = magic;
            im->link.neg_.we_authenticate = AuthMethod::none;
            im->link.neg_.recv_accm = 0xFFFFFFFF;
            for (const auto& o : acked) {
                if (o.type == lcp_opt::auth_protocol) im->link.neg_.we_authenticate = auth_of(o.value);
                if (o.type == lcp_opt::accm && o.value.size() == 4) im->link.neg_.recv_accm = be32(o.value);
            }
        }
        void on_nak(const std::vector<CpOption>& opts, bool reject) override { im->lcp_nak(opts, reject); }
        CpEvent classify_extra(const ControlPacket& p) override { return im->lcp_extra(static_cast<const LCP&>(p)); }
        void send_echo_reply(const ControlPacket& p) override {
            const auto& req = static_cast<const LCP&>(p);
            if (req.code() != static_cast<std::uint8_t>(CpCode::echo_request)) return;
            LCP rep(CpCode::echo_reply, req.identifier());
            rep.magic_number(magic);
            rep.echo_data(req.echo_data());
            im->send(kProtoLCP, rep.serialize());
        }
        void this_layer_up() override { im->phase.dispatch(PhEvent::lcp_opened, "LCP Opened"); }
        void this_layer_down() override { im->phase.dispatch(PhEvent::lcp_down, "LCP left Opened"); }
        void this_layer_started() override {}
        void this_layer_finished() override { im->phase.dispatch(PhEvent::lcp_finished, "LCP finished"); }
        void send(std::vector<std::uint8_t> p) override { im->send(kProtoLCP, std::move(p)); }
    } lcp_policy;

    // IPCP policy (RFC 1332 §3, RFC 1877).
    struct Ipcp final : CpPolicy {
        Impl* im;
        std::uint32_t local = 0, dns1 = 0, dns2 = 0;  // what we request
        std::uint8_t rejected = 0;                     // 1 ip, 2 dns1, 4 dns2
        std::uint32_t peer = 0;                        // what the peer's acked request carried
        void build_request(std::vector<CpOption>& out) override {
            if (!(rejected & 1)) out.push_back({ipcp_opt::ip_address, put32(local)});
            if (im->link.cfg_.request_dns) {
                if (!(rejected & 2)) out.push_back({ipcp_opt::primary_dns, put32(dns1)});
                if (!(rejected & 4)) out.push_back({ipcp_opt::secondary_dns, put32(dns2)});
            }
        }
        CrVerdict check_request(const std::vector<CpOption>& in, std::vector<CpOption>& reply, bool allow_nak) override {
            return im->ipcp_check(in, reply, allow_nak);
        }
        void on_ack(const std::vector<CpOption>&) override {}
        void on_nak(const std::vector<CpOption>& opts, bool reject) override {
            for (const auto& o : opts) {
                const std::uint8_t bit = o.type == ipcp_opt::ip_address ? 1 : o.type == ipcp_opt::primary_dns ? 2
                                       : o.type == ipcp_opt::secondary_dns ? 4 : 0;
                if (reject) {
                    rejected |= bit;
                } else if (o.value.size() == 4) {
                    if (bit == 1) local = be32(o.value);
                    if (bit == 2) dns1 = be32(o.value);
                    if (bit == 4) dns2 = be32(o.value);
                }
            }
        }
        CpEvent classify_extra(const ControlPacket&) override { return CpEvent::ruc; }
        void this_layer_up() override { im->ipcp_up(); }
        void this_layer_down() override {}
        void this_layer_finished() override {}
        void send(std::vector<std::uint8_t> p) override { im->send(kProtoIPCP, std::move(p)); }
    } ipcp_policy;

    using PhaseSpec = dl::core::FsmSpec<Impl, Phase, PhEvent>;
    using AuSpec = dl::core::FsmSpec<Impl, AuState, AuEvent>;
    using PeSpec = dl::core::FsmSpec<Impl, PeState, PeEvent>;

    Automaton lcp;
    Automaton ipcp;
    dl::core::Fsm<Impl, Phase, PhEvent> phase;
    dl::core::Fsm<Impl, AuState, AuEvent> auth;   // we as authenticator
    dl::core::Fsm<Impl, PeState, PeEvent> peer;   // we as peer
    dl::core::Timer auth_timer, peer_timer, echo_timer;
    Credentials pending;            // authenticator: last credentials received
    std::vector<std::uint8_t> peer_challenge;  // peer: last challenge (for retransmitted responses)
    std::uint32_t ticket = 0;       // current verify() ticket (0 = none outstanding)
    std::uint32_t next_ticket = 0;
    std::uint8_t auth_tries = 0, peer_tries = 0, echo_missed = 0, auth_id = 0, peer_id = 0, echo_id = 0;
    std::uint32_t assigned_peer_ip = 0, assigned_dns1 = 0, assigned_dns2 = 0;
    bool we_done = false, peer_done = false, proxy_auth = false;
    std::string down_cause;

    static const PhaseSpec& phase_spec();
    static const AuSpec& auth_spec();
    static const PeSpec& peer_spec();

    explicit Impl(Link& l)
        : link(l),
          lcp_policy{},
          ipcp_policy{},
          lcp("ppp.lcp", ControlProtocol::lcp, lcp_policy, l.env_, l.id_, l.cfg_.limits),
          ipcp("ppp.ipcp", ControlProtocol::ipcp, ipcp_policy, l.env_, l.id_, l.cfg_.limits),
          phase(phase_spec(), l.env_, *this, l.id_, Phase::dead),
          auth(auth_spec(), l.env_, *this, l.id_ + "/authenticator", AuState::idle),
          peer(peer_spec(), l.env_, *this, l.id_ + "/peer", PeState::idle) {
        lcp_policy.im = this;
        ipcp_policy.im = this;
        if (l.env_.timers) {
            auth_timer.bind(*l.env_.timers);
            peer_timer.bind(*l.env_.timers);
            echo_timer.bind(*l.env_.timers);
        }
        reset();
    }

    /// Negotiation state back to the configuration (a new link, or a re-open from Dead).
    void reset() {
        const LinkConfig& c = link.cfg_;
        lcp_policy.mru = c.mru;
        lcp_policy.magic = random32();
        lcp_policy.rejected = 0;
        lcp_policy.asking = first_auth();
        ipcp_policy.local = c.local_ip;
        ipcp_policy.dns1 = ipcp_policy.dns2 = 0;
        ipcp_policy.rejected = 0;
        ipcp_policy.peer = 0;
        assigned_peer_ip = c.peer_ip;
        assigned_dns1 = c.dns1;
        assigned_dns2 = c.dns2;
        proxy_auth = false;
        we_done = peer_done = false;
        down_cause.clear();
        link.neg_ = {};
    }

    AuthMethod first_auth() const {
        switch (link.cfg_.require_auth) {
            case AuthPreference::pap:
            case AuthPreference::pap_then_chap: return AuthMethod::pap;
            case AuthPreference::chap:
            case AuthPreference::chap_then_pap: return AuthMethod::chap_md5;
            default: return AuthMethod::none;
        }
    }
    std::uint32_t random32() {
        if (link.cb_.random) return link.cb_.random();
        std::uint32_t v = 0;
        while (v == 0) {
            std::array<std::uint8_t, 4> b;
            dl::proto::crypto::random_fill(b);
            v = be32(b);
        }
        return v;
    }
    dl::core::Duration restart_interval() const {
        return link.env_.registry && link.env_.registry->contains("ppp-restart") ? link.env_.registry->get("ppp-restart")
                                                                                 : std::chrono::seconds(3);
    }
    void send(std::uint16_t proto, std::vector<std::uint8_t> info) {
        if (link.cb_.send) link.cb_.send(proto, std::move(info));
    }
    void publish(std::string_view entity, std::string_view event, std::string cause) {
        if (!link.env_.bus) return;
        dl::core::Event e;
        e.entity = entity;
        e.id = link.id_;
        e.event = event;
        e.cause = std::move(cause);
        link.env_.bus->publish(std::move(e));
    }

    // --- LCP option judgement ------------------------------------------------------------------
    CrVerdict lcp_check(const std::vector<CpOption>& in, std::vector<CpOption>& reply, bool allow_nak) {
        const LinkConfig& c = link.cfg_;
        std::vector<CpOption> naks, rejects;
        AuthMethod peer_auth = AuthMethod::none;
        std::uint16_t peer_mru = 1500;
        std::uint32_t peer_magic = 0;
        bool pfc = false, acfc = false;
        std::uint32_t send_accm = 0xFFFFFFFF;  // RFC 1662 §7.1 default
        for (const auto& o : in) {
            switch (o.type) {
                case lcp_opt::mru:
                    peer_mru = be16(o.value);
                    if (peer_mru < 128) naks.push_back({lcp_opt::mru, put16(1500)});  // RFC 1661 §6.1
                    break;
                case lcp_opt::accm:
                    if (o.value.size() == 4) send_accm = be32(o.value);
                    break;
                case lcp_opt::auth_protocol: {
                    // The peer wants to authenticate us (RFC 1661 §6.2): Nak with one we support.
                    peer_auth = auth_of(o.value);
                    const bool ok = (peer_auth == AuthMethod::pap && c.allow_pap) ||
                                    (peer_auth == AuthMethod::chap_md5 && c.allow_chap);
                    if (!ok) {
                        const bool pap_first = c.allow_pap && (c.prefer_pap || !c.allow_chap);
                        if (pap_first) naks.push_back({lcp_opt::auth_protocol, auth_value(AuthMethod::pap)});
                        else if (c.allow_chap) naks.push_back({lcp_opt::auth_protocol, auth_value(AuthMethod::chap_md5)});
                        else rejects.push_back(o);
                    }
                    break;
                }
                case lcp_opt::magic_number:
                    peer_magic = be32(o.value);
                    if (peer_magic == 0 || peer_magic == lcp_policy.magic) {
                        // RFC 1661 §6.4: possibly a looped-back link: Nak with another value and
                        // choose a new magic of our own.
                        if (peer_magic != 0) {
                            ++link.counters_.magic_loops;
                            publish("ppp.lcp", "magic-loop", "Configure-Request carries our Magic-Number");
                            lcp_policy.magic = random32();
                        }
                        naks.push_back({lcp_opt::magic_number, put32(random32())});
                    }
                    break;
                case lcp_opt::pfc: pfc = true; break;
                case lcp_opt::acfc: acfc = true; break;
                default: rejects.push_back(o); break;
            }
        }
        if (!rejects.empty() || (!naks.empty() && !allow_nak)) {
            if (rejects.empty())
                for (const auto& n : naks)
                    for (const auto& o : in)
                        if (o.type == n.type) rejects.push_back(o);
            reply = std::move(rejects);
            return CrVerdict::reject;
        }
        if (!naks.empty()) {
            reply = std::move(naks);
            return CrVerdict::nak;
        }
        Negotiated& n = link.neg_;
        n.peer_mru = peer_mru;
        n.peer_magic = peer_magic;
        n.peer_authenticates = peer_auth;
        n.pfc = pfc;
        n.acfc = acfc;
        n.send_accm = send_accm;
        return CrVerdict::ack;
    }

    void lcp_nak(const std::vector<CpOption>& opts, bool reject) {
        for (const auto& o : opts) {
            if (o.type == lcp_opt::auth_protocol) {
                if (reject) {
                    // The peer refuses to be authenticated: fatal when we require it.
                    fail_lcp("peer rejected Authentication-Protocol " + std::string(to_string(lcp_policy.asking)));
                    return;
                }
                const AuthMethod wanted = auth_of(o.value);
                const auto pref = link.cfg_.require_auth;
                const bool fallback = (pref == AuthPreference::pap_then_chap && lcp_policy.asking == AuthMethod::pap &&
                                       wanted == AuthMethod::chap_md5) ||
                                      (pref == AuthPreference::chap_then_pap &&
                                       lcp_policy.asking == AuthMethod::chap_md5 && wanted == AuthMethod::pap);
                if (fallback) {
                    publish("ppp.lcp", "auth-fallback",
                            std::string(to_string(lcp_policy.asking)) + " -> " + std::string(to_string(wanted)));
                    lcp_policy.asking = wanted;
                } else if (wanted != lcp_policy.asking) {
                    fail_lcp("peer refuses " + std::string(to_string(lcp_policy.asking)));
                    return;
                }
                continue;
            }
            if (reject) {
                if (o.type < 8) lcp_policy.rejected |= std::uint8_t(1u << (o.type == lcp_opt::acfc ? 0 : o.type));
                continue;
            }
            if (o.type == lcp_opt::mru && o.value.size() == 2) lcp_policy.mru = be16(o.value);
            if (o.type == lcp_opt::magic_number) lcp_policy.magic = random32();  // §6.4
        }
    }

    void fail_lcp(std::string cause) {
        down_cause = cause;
        lcp.close(cause);
    }

    CpEvent lcp_extra(const LCP& p) {
        switch (static_cast<CpCode>(p.code())) {
            case CpCode::protocol_reject: {
                ++link.counters_.protocol_rejects_received;
                const auto proto = p.rejected_protocol().value_or(0);
                if (proto == kProtoLCP) return CpEvent::rxj_minus;  // RFC 1661 §5.7: catastrophic
                if (proto == kProtoIPCP) ipcp.dispatch(CpEvent::rxj_minus, "Protocol-Reject of IPCP");
                return CpEvent::rxj_plus;
            }
            case CpCode::echo_reply:
                if (p.magic_number() && *p.magic_number() == lcp_policy.magic && lcp_policy.magic != 0) {
                    ++link.counters_.magic_loops;  // our own Echo-Request looped back (§5.8)
                } else {
                    ++link.counters_.echo_replies;
                    echo_missed = 0;
                }
                return CpEvent::rxr;
            default: return CpEvent::rxr;  // Echo-Request, Discard-Request, Identification, Time-Remaining
        }
    }

    // --- IPCP option judgement (RFC 1332 §3.3, RFC 1877) --------------------------------------------
    CrVerdict ipcp_check(const std::vector<CpOption>& in, std::vector<CpOption>& reply, bool allow_nak) {
        std::vector<CpOption> naks, rejects;
        std::uint32_t peer_ip = 0;
        for (const auto& o : in) {
            const std::uint32_t v = be32(o.value);
            if (o.type == ipcp_opt::ip_address && o.value.size() == 4) {
                peer_ip = v;
                if (assigned_peer_ip != 0 && v != assigned_peer_ip) naks.push_back({o.type, put32(assigned_peer_ip)});
                else if (assigned_peer_ip == 0 && v == 0) rejects.push_back(o);  // nothing to assign
            } else if ((o.type == ipcp_opt::primary_dns || o.type == ipcp_opt::secondary_dns) && o.value.size() == 4) {
                const std::uint32_t ours = o.type == ipcp_opt::primary_dns ? assigned_dns1 : assigned_dns2;
                if (ours == 0) rejects.push_back(o);
                else if (v != ours) naks.push_back({o.type, put32(ours)});
            } else {
                rejects.push_back(o);
            }
        }
        if (!rejects.empty() || (!naks.empty() && !allow_nak)) {
            if (rejects.empty())
                for (const auto& n : naks)
                    for (const auto& o : in)
                        if (o.type == n.type) rejects.push_back(o);
            reply = std::move(rejects);
            return CrVerdict::reject;
        }
        if (!naks.empty()) {
            reply = std::move(naks);
            return CrVerdict::nak;
        }
        ipcp_policy.peer = peer_ip;
        return CrVerdict::ack;
    }

    void ipcp_up() {
        NetworkInfo& n = link.neg_.network;
        n.local_ip = ipcp_policy.local;
        n.peer_ip = ipcp_policy.peer;
        n.dns1 = link.cfg_.request_dns ? ipcp_policy.dns1 : assigned_dns1;
        n.dns2 = link.cfg_.request_dns ? ipcp_policy.dns2 : assigned_dns2;
        if (link.cb_.network_up) link.cb_.network_up(n);
    }

    // --- Phase actions ------------------------------------------------------------------------------
    static void on_lcp_opened(Impl& im, PhaseSpec::Step& st) {
        im.we_done = im.link.neg_.we_authenticate == AuthMethod::none;
        im.peer_done = im.link.neg_.peer_authenticates == AuthMethod::none;
        im.start_echo();
        if (im.link.cb_.lcp_opened) im.link.cb_.lcp_opened(im.link.neg_);
        if (im.we_done && im.peer_done) {
            st.next = Phase::network;
            im.start_network();
            return;
        }
        if (!im.we_done && !im.proxy_auth)
            im.auth.dispatch(im.link.neg_.we_authenticate == AuthMethod::pap ? AuEvent::start_pap : AuEvent::start_chap,
                             "LCP Opened");
        if (!im.peer_done)
            im.peer.dispatch(im.link.neg_.peer_authenticates == AuthMethod::pap ? PeEvent::start_pap
                                                                              : PeEvent::start_chap,
                             "LCP Opened");
    }
    static void on_auth_done(Impl& im, PhaseSpec::Step&) { im.start_network(); }
    static void on_lcp_down(Impl& im, PhaseSpec::Step&) {
        im.stop_upper("LCP down");
    }
    static void on_finished(Impl& im, PhaseSpec::Step&) {
        im.stop_upper("LCP finished");
        if (im.link.cb_.link_down) im.link.cb_.link_down(im.down_cause.empty() ? "LCP finished" : im.down_cause);
    }
    void stop_upper(std::string_view cause) {
        echo_timer.cancel();
        auth_timer.cancel();
        peer_timer.cancel();
        ticket = 0;
        auth.dispatch(AuEvent::stop, cause);
        peer.dispatch(PeEvent::stop, cause);
        if (ipcp.state() != CpState::initial && ipcp.state() != CpState::starting) ipcp.down();
        if (ipcp.state() == CpState::starting) ipcp.close(cause);
    }
    void start_network() {
        if (!link.cfg_.ipcp) return;
        ipcp.open();
        ipcp.up();
    }
    void maybe_auth_done() {
        if (we_done && peer_done && phase.state() == Phase::authenticate)
            phase.dispatch(PhEvent::auth_done, "authentication complete");
    }

    // --- Keepalive (RFC 1661 §5.8) ---------------------------------------------------------------
    void start_echo() {
        if (link.cfg_.echo_interval.count() <= 0 || !link.env_.timers) return;
        echo_missed = 0;
        echo_timer.start(link.cfg_.echo_interval, [this] { on_echo_timer(); });
    }
    void on_echo_timer() {
        if (lcp.state() != CpState::opened) return;
        if (echo_missed >= link.cfg_.echo_failures) {
            publish("ppp.lcp", "echo-timeout", std::to_string(echo_missed) + " Echo-Requests unanswered");
            down_cause = "echo timeout";
            lcp.close("echo timeout");
            return;
        }
        ++echo_missed;
        LCP req(CpCode::echo_request, ++echo_id);
        req.magic_number(lcp_policy.magic);
        ++link.counters_.echo_sent;
        send(kProtoLCP, req.serialize());
        echo_timer.start(link.cfg_.echo_interval, [this] { on_echo_timer(); });
    }

    // --- Authenticator (we check the peer) -----------------------------------------------------------
    void send_challenge() {
        pending = {};
        pending.method = AuthMethod::chap_md5;
        pending.chap_id = ++auth_id;
        pending.challenge.resize(16);
        for (std::size_t i = 0; i < 16; i += 4) {
            const auto r = put32(random32());
            std::copy(r.begin(), r.end(), pending.challenge.begin() + static_cast<std::ptrdiff_t>(i));
        }
        resend_challenge();
    }
    void resend_challenge() {
        CHAP c(ChapCode::challenge, pending.chap_id);
        c.value(pending.challenge);
        c.name(link.cfg_.name);
        send(kProtoCHAP, c.serialize());
        auth_timer.start(restart_interval(), [this] { auth.dispatch(AuEvent::timeout, "ppp-restart expired"); });
    }
    static void au_start_pap(Impl& im, AuSpec::Step&) {
        im.auth_timer.start(im.link.cfg_.auth_timeout, [&im] { im.auth.dispatch(AuEvent::timeout, "auth timeout"); });
    }
    static void au_start_chap(Impl& im, AuSpec::Step&) {
        im.auth_tries = 1;
        im.send_challenge();
    }
    static void au_response(Impl& im, AuSpec::Step&) {
        im.auth_timer.cancel();
        im.ticket = ++im.next_ticket;
        if (im.ticket == 0) im.ticket = ++im.next_ticket;
        if (im.link.cb_.verify) im.link.cb_.verify(im.ticket, im.pending);
    }
    static void au_timeout(Impl& im, AuSpec::Step& st) {
        if (st.from == AuState::wait_response && im.auth_tries < im.link.cfg_.auth_retries) {
            ++im.auth_tries;
            im.resend_challenge();
            return;
        }
        st.next = AuState::failure;
        ++im.link.counters_.auth_failures;
        im.fail_lcp("authentication timeout");
    }
    static void au_accept(Impl& im, AuSpec::Step&) {
        im.reply_result(true, im.result_message);
        im.link.neg_.peer_name = im.pending.user;
        if (!im.we_done) {
            im.we_done = true;
            im.maybe_auth_done();
        }
        if (im.pending.method == AuthMethod::chap_md5 && im.link.cfg_.rechallenge.count() > 0)
            im.auth_timer.start(im.link.cfg_.rechallenge, [&im] { im.auth.dispatch(AuEvent::rechallenge, "rechallenge"); });
    }
    static void au_reject(Impl& im, AuSpec::Step&) {
        im.reply_result(false, im.result_message);
        ++im.link.counters_.auth_failures;
        im.fail_lcp("authentication failed: " + (im.result_message.empty() ? std::string("rejected") : im.result_message));
    }
    static void au_repeat(Impl& im, AuSpec::Step& st) {
        // Retransmitted request/response after the decision: repeat the answer (RFC 1334 §2.2.1,
        // RFC 1994 §4.2), without asking verify() again.
        im.reply_result(st.from == AuState::success, im.result_message);
    }
    static void au_rechallenge(Impl& im, AuSpec::Step&) {
        im.auth_tries = 1;
        im.send_challenge();
    }
    static void au_stop(Impl& im, AuSpec::Step&) {
        im.auth_timer.cancel();
        im.ticket = 0;
    }
    std::string result_message;
    void reply_result(bool ok, const std::string& msg) {
        if (proxy_auth) return;  // proxy authentication: the LAC already answered (RFC 2661 §4.4.5)
        if (pending.method == AuthMethod::pap) {
            PAP r(ok ? PapCode::authenticate_ack : PapCode::authenticate_nak, pending.chap_id);
            r.message(msg.substr(0, 255));
            send(kProtoPAP, r.serialize());
        } else if (pending.method == AuthMethod::chap_md5) {
            CHAP r(ok ? ChapCode::success : ChapCode::failure, pending.chap_id);
            r.message(msg);
            send(kProtoCHAP, r.serialize());
        }
    }

    // --- Peer (the peer checks us) --------------------------------------------------------------------
    void send_pap_request() {
        PAP r(PapCode::authenticate_request, peer_id);
        r.peer_id(link.cfg_.name.substr(0, 255));
        r.password(link.cfg_.secret.substr(0, 255));
        send(kProtoPAP, r.serialize());
        peer_timer.start(restart_interval(), [this] { peer.dispatch(PeEvent::timeout, "ppp-restart expired"); });
    }
    static void pe_start_pap(Impl& im, PeSpec::Step&) {
        im.peer_tries = 1;
        im.peer_id = static_cast<std::uint8_t>(im.random32());
        im.send_pap_request();
    }
    static void pe_start_chap(Impl& im, PeSpec::Step&) {
        im.peer_timer.start(im.link.cfg_.auth_timeout, [&im] { im.peer.dispatch(PeEvent::timeout, "auth timeout"); });
    }
    static void pe_challenge(Impl& im, PeSpec::Step&) {
        im.peer_tries = 1;
        im.send_chap_response();
    }
    void send_chap_response() {
        // RFC 1994 §4.2: the Success may be lost, so the peer repeats its Response (the
        // authenticator answers repeated Responses) until a Success/Failure arrives.
        Impl& im = *this;
        const auto digest = chap_md5_response(im.peer_id, im.link.cfg_.secret, im.peer_challenge);
        CHAP r(ChapCode::response, im.peer_id);
        r.value(digest);
        r.name(im.link.cfg_.name);
        im.send(kProtoCHAP, r.serialize());
        im.peer_timer.start(restart_interval(), [&im] { im.peer.dispatch(PeEvent::timeout, "ppp-restart expired"); });
    }
    static void pe_timeout(Impl& im, PeSpec::Step& st) {
        if (st.from == PeState::wait_result && im.peer_tries < im.link.cfg_.auth_retries) {
            ++im.peer_tries;
            if (im.link.neg_.peer_authenticates == AuthMethod::pap) im.send_pap_request();
            else im.send_chap_response();
            return;
        }
        st.next = PeState::failure;
        im.fail_lcp("no answer from the authenticator");
    }
    static void pe_success(Impl& im, PeSpec::Step&) {
        im.peer_timer.cancel();
        if (!im.peer_done) {
            im.peer_done = true;
            im.maybe_auth_done();
        }
    }
    static void pe_failure(Impl& im, PeSpec::Step&) {
        im.peer_timer.cancel();
        im.fail_lcp("authentication by the peer failed");
    }
    static void pe_stop(Impl& im, PeSpec::Step&) { im.peer_timer.cancel(); }

    // --- Receive paths for PAP and CHAP ------------------------------------------------------------
    void receive_pap(std::span<const std::uint8_t> info) {
        std::unique_ptr<PAP> p;
        try {
            p = std::make_unique<PAP>(info.data(), static_cast<std::uint32_t>(info.size()));
        } catch (const dl::proto::ParseError& e) {
            ++link.counters_.malformed;
            publish("ppp.auth", "malformed", e.what());
            return;
        }
        if (p->code() == PapCode::authenticate_request) {
            if (link.neg_.we_authenticate != AuthMethod::pap) { ++link.counters_.discarded; return; }
            const AuState s = auth.state();
            if (s == AuState::wait_request) {
                pending = {};
                pending.method = AuthMethod::pap;
                pending.user = p->peer_id();
                pending.password = p->password();
                pending.chap_id = p->identifier();
            } else {
                pending.chap_id = p->identifier();
            }
            auth.dispatch(AuEvent::response, "Authenticate-Request");
        } else {
            if (link.neg_.peer_authenticates != AuthMethod::pap || p->identifier() != peer_id) {
                ++link.counters_.discarded;
                return;
            }
            peer.dispatch(p->code() == PapCode::authenticate_ack ? PeEvent::success : PeEvent::failure,
                          p->code() == PapCode::authenticate_ack ? "Authenticate-Ack" : "Authenticate-Nak");
        }
    }
    void receive_chap(std::span<const std::uint8_t> info) {
        std::unique_ptr<CHAP> c;
        try {
            c = std::make_unique<CHAP>(info.data(), static_cast<std::uint32_t>(info.size()));
        } catch (const dl::proto::ParseError& e) {
            ++link.counters_.malformed;
            publish("ppp.auth", "malformed", e.what());
            return;
        }
        switch (c->code()) {
            case ChapCode::challenge:
                if (link.neg_.peer_authenticates != AuthMethod::chap_md5) { ++link.counters_.discarded; return; }
                peer_id = c->identifier();
                peer_challenge = c->value();
                peer.dispatch(PeEvent::challenge, "Challenge");
                return;
            case ChapCode::response:
                if (link.neg_.we_authenticate != AuthMethod::chap_md5 || c->identifier() != pending.chap_id) {
                    ++link.counters_.discarded;  // RFC 1994 §4.1: Identifier must match the Challenge
                    return;
                }
                if (auth.state() == AuState::wait_response) {
                    pending.user = c->name();
                    pending.response = c->value();
                }
                auth.dispatch(AuEvent::response, "Response");
                return;
            case ChapCode::success:
            case ChapCode::failure:
                if (link.neg_.peer_authenticates != AuthMethod::chap_md5 || c->identifier() != peer_id) {
                    ++link.counters_.discarded;
                    return;
                }
                peer.dispatch(c->code() == ChapCode::success ? PeEvent::success : PeEvent::failure,
                              c->code() == ChapCode::success ? "Success" : "Failure");
                return;
        }
    }
};

const Link::Impl::PhaseSpec& Link::Impl::phase_spec() {
    using P = Phase;
    using E = PhEvent;
    static const PhaseSpec s{
        "ppp.phase",
        {"Dead", "Establish", "Authenticate", "Network", "Terminate"},
        {"Up", "LCP-Opened", "Auth-Done", "LCP-Down", "LCP-Finished"},
        {{P::dead, E::up, P::establish},
         {P::dead, E::lcp_finished, P::dead, &Impl::on_finished},
         {P::establish, E::lcp_opened, P::authenticate, &Impl::on_lcp_opened},
         {P::establish, E::lcp_down, P::establish, &Impl::on_lcp_down},
         {P::establish, E::lcp_finished, P::dead, &Impl::on_finished},
         {P::authenticate, E::auth_done, P::network, &Impl::on_auth_done},
         {P::authenticate, E::lcp_down, P::terminate, &Impl::on_lcp_down},
         {P::authenticate, E::lcp_finished, P::dead, &Impl::on_finished},
         {P::network, E::lcp_down, P::terminate, &Impl::on_lcp_down},
         {P::network, E::lcp_finished, P::dead, &Impl::on_finished},
         {P::terminate, E::lcp_opened, P::authenticate, &Impl::on_lcp_opened},
         {P::terminate, E::lcp_down, P::terminate},
         {P::terminate, E::lcp_finished, P::dead, &Impl::on_finished},
         {P::terminate, E::up, P::establish}}};
    return s;
}

const Link::Impl::AuSpec& Link::Impl::auth_spec() {
    using S = AuState;
    using E = AuEvent;
    static const AuSpec s{
        "ppp.auth",
        {"Idle", "Wait-Request", "Wait-Response", "Verifying", "Success", "Failure"},
        {"Start-PAP", "Start-CHAP", "Credentials-Received", "Verify-Accept", "Verify-Reject", "Timeout", "Rechallenge",
         "Stop", "Proxy-Credentials"},
        {{S::idle, E::start_pap, S::wait_request, &Impl::au_start_pap},
         {S::idle, E::start_chap, S::wait_response, &Impl::au_start_chap},
         {S::wait_request, E::response, S::verifying, &Impl::au_response},
         {S::wait_request, E::timeout, S::failure, &Impl::au_timeout},
         {S::wait_response, E::response, S::verifying, &Impl::au_response},
         {S::wait_response, E::timeout, S::wait_response, &Impl::au_timeout},
         {S::verifying, E::response, S::verifying},
         {S::verifying, E::accept, S::success, &Impl::au_accept},
         {S::verifying, E::reject, S::failure, &Impl::au_reject},
         {S::success, E::response, S::success, &Impl::au_repeat},
         {S::success, E::rechallenge, S::wait_response, &Impl::au_rechallenge},
         {S::failure, E::response, S::failure, &Impl::au_repeat},
         {S::idle, E::stop, S::idle},
         {S::idle, E::proxy, S::verifying, &Impl::au_response},
         {S::wait_request, E::stop, S::idle, &Impl::au_stop},
         {S::wait_response, E::stop, S::idle, &Impl::au_stop},
         {S::verifying, E::stop, S::idle, &Impl::au_stop},
         {S::success, E::stop, S::idle, &Impl::au_stop},
         {S::failure, E::stop, S::idle, &Impl::au_stop}}};
    return s;
}

const Link::Impl::PeSpec& Link::Impl::peer_spec() {
    using S = PeState;
    using E = PeEvent;
    static const PeSpec s{
        "ppp.auth",
        {"Idle", "Wait-Challenge", "Wait-Result", "Success", "Failure"},
        {"Start-PAP", "Start-CHAP", "Challenge-Received", "Success-Received", "Failure-Received", "Timeout", "Stop"},
        {{S::idle, E::start_pap, S::wait_result, &Impl::pe_start_pap},
         {S::idle, E::start_chap, S::wait_challenge, &Impl::pe_start_chap},
         {S::wait_challenge, E::challenge, S::wait_result, &Impl::pe_challenge},
         {S::wait_challenge, E::timeout, S::failure, &Impl::pe_timeout},
         {S::wait_result, E::challenge, S::wait_result, &Impl::pe_challenge},
         {S::wait_result, E::success, S::success, &Impl::pe_success},
         {S::wait_result, E::failure, S::failure, &Impl::pe_failure},
         {S::wait_result, E::timeout, S::wait_result, &Impl::pe_timeout},
         {S::success, E::challenge, S::wait_result, &Impl::pe_challenge},
         {S::success, E::success, S::success},
         {S::idle, E::stop, S::idle},
         {S::wait_challenge, E::stop, S::idle, &Impl::pe_stop},
         {S::wait_result, E::stop, S::idle, &Impl::pe_stop},
         {S::success, E::stop, S::idle, &Impl::pe_stop},
         {S::failure, E::stop, S::idle, &Impl::pe_stop}}};
    return s;
}

Link::Link(LinkConfig config, LinkCallbacks callbacks, dl::core::FsmEnv env, std::string id)
    : cfg_(std::move(config)),
      cb_(std::move(callbacks)),
      env_(env),
      id_(std::move(id)),
      impl_(std::make_unique<Impl>(*this)),
      lcp_(impl_->lcp),
      ipcp_(impl_->ipcp) {}

Link::~Link() = default;

std::size_t Link::footprint() noexcept { return sizeof(Link) + sizeof(Impl); }

Phase Link::phase() const noexcept { return impl_->phase.state(); }

void Link::open() {
    if (phase() == Phase::dead) impl_->reset();
    impl_->phase.dispatch(PhEvent::up, "open");
    lcp_.open();
    // The lower layer is already up when LCP sits in Closed/Stopped (re-open after a close).
    if (lcp_.state() == CpState::initial || lcp_.state() == CpState::starting) lcp_.up();
}

void Link::close(std::string_view cause) {
    if (impl_->down_cause.empty()) impl_->down_cause = cause;
    lcp_.close(cause);
}

void Link::lower_down(std::string_view cause) {
    if (impl_->down_cause.empty()) impl_->down_cause = cause;
    if (lcp_.state() != CpState::initial && lcp_.state() != CpState::starting) lcp_.down();
    // RFC 1661 §3.2: lower layer gone -> Dead; close so that a later Up does not restart.
    lcp_.close(cause);
    if (phase() != Phase::dead) impl_->phase.dispatch(PhEvent::lcp_finished, cause);
}

void Link::receive(std::span<const std::uint8_t> packet) {
    // Protocol field (RFC 1661 §2): odd last octet; a first octet that is odd means the
    // compressed 1-octet form (§6.5).
    if (packet.empty()) {
        ++counters_.malformed;
        return;
    }
    if (packet[0] & 1) {
        receive(packet[0], packet.subspan(1));
        return;
    }
    if (packet.size() < 2 || !(packet[1] & 1)) {
        ++counters_.malformed;
        return;
    }
    receive(be16(packet), packet.subspan(2));
}

void Link::receive(std::uint16_t protocol, std::span<const std::uint8_t> info) {
    Impl& im = *impl_;
    if (protocol == kProtoLCP) {
        lcp_.receive(info);
        return;
    }
    const Phase ph = phase();
    // RFC 1661 §3.2/§3.4: only LCP before Authenticate; only LCP and auth before Network.
    if (ph == Phase::dead || ph == Phase::establish || ph == Phase::terminate) {
        ++counters_.discarded;
        return;
    }
    if (protocol == kProtoPAP) {
        im.receive_pap(info);
        return;
    }
    if (protocol == kProtoCHAP) {
        im.receive_chap(info);
        return;
    }
    if (ph != Phase::network) {
        ++counters_.discarded;
        return;
    }
    if (protocol == kProtoIPCP && cfg_.ipcp) {
        ipcp_.receive(info);
        return;
    }
    if (protocol == kProtoIPv4 && cfg_.ipcp) {
        if (ipcp_.state() == CpState::opened && cb_.deliver) cb_.deliver(protocol, info);
        else ++counters_.discarded;
        return;
    }
    // RFC 1661 §5.7: Protocol-Reject, Rejected-Information truncated to fit the peer's MRU.
    if (lcp_.state() != CpState::opened) {
        ++counters_.discarded;
        return;
    }
    LCP rej(CpCode::protocol_reject, static_cast<std::uint8_t>(im.random32()));
    const std::size_t room = neg_.peer_mru > 6 ? neg_.peer_mru - 6u : 0u;
    rej.protocol_reject(protocol, info.first(std::min(info.size(), room)));
    ++counters_.protocol_rejects_sent;
    im.send(kProtoLCP, rej.serialize());
}

bool Link::verify_result(std::uint32_t ticket, const VerifyResult& result) {
    Impl& im = *impl_;
    if (ticket == 0 || ticket != im.ticket) return false;
    im.ticket = 0;
    im.result_message = result.message;
    if (result.accept) {
        if (result.framed_ip) im.assigned_peer_ip = result.framed_ip;
        if (result.dns1) im.assigned_dns1 = result.dns1;
        if (result.dns2) im.assigned_dns2 = result.dns2;
    }
    im.auth.dispatch(result.accept ? AuEvent::accept : AuEvent::reject, result.accept ? "verify accepted" : "verify rejected");
    return true;
}

bool Link::open_with_proxy_lcp(std::span<const std::uint8_t> last_sent, std::span<const std::uint8_t> last_received,
                               AuthMethod proxy_auth) {
    Impl& im = *impl_;
    if (phase() == Phase::dead) im.reset();
    auto options_of = [](std::span<const std::uint8_t> b) -> std::optional<std::vector<CpOption>> {
        // Accept a full LCP Configure-Request or the bare option list.
        try {
            if (b.size() >= 4 && b[0] == 1 && be16(b.subspan(2)) <= b.size()) {
                LCP p(b.data(), static_cast<std::uint32_t>(b.size()));
                return p.options();
            }
            std::vector<std::uint8_t> pkt{1, 0, 0, 0};
            pkt.insert(pkt.end(), b.begin(), b.end());
            if (pkt.size() > 0xffff) return std::nullopt;
            pkt[2] = std::uint8_t(pkt.size() >> 8);
            pkt[3] = std::uint8_t(pkt.size());
            LCP p(pkt.data(), static_cast<std::uint32_t>(pkt.size()));
            return p.options();
        } catch (const dl::proto::ParseError&) {
            return std::nullopt;
        }
    };
    auto sent = options_of(last_sent);        // the LAC's request = our side of the link
    auto received = options_of(last_received);  // the client's request = the peer's side
    bool ok = sent && received;
    std::vector<CpOption> reply;
    if (ok) ok = im.lcp_check(*received, reply, true) == CrVerdict::ack;
    AuthMethod ours = AuthMethod::none;
    if (ok) {
        for (const auto& o : *sent) {
            if (o.type == lcp_opt::auth_protocol) ours = auth_of(o.value);
            else if (o.type == lcp_opt::magic_number) im.lcp_policy.magic = be32(o.value);
            else if (o.type == lcp_opt::mru) im.lcp_policy.mru = be16(o.value);
            else if (o.type == lcp_opt::accm && o.value.size() == 4) neg_.recv_accm = be32(o.value);
            else if (o.type != lcp_opt::accm && o.type != lcp_opt::pfc && o.type != lcp_opt::acfc) ok = false;
        }
        // The authentication the LAC asked for must be one our preference allows.
        const auto pref = cfg_.require_auth;
        const bool allowed = (pref == AuthPreference::none && ours == AuthMethod::none) ||
                             (ours == AuthMethod::pap && pref != AuthPreference::chap && pref != AuthPreference::none) ||
                             (ours == AuthMethod::chap_md5 && pref != AuthPreference::pap && pref != AuthPreference::none);
        ok = ok && allowed;
    }
    // No proxy authentication of the kind the LAC negotiated will follow: CHAP-MD5 is run by us on
    // the proxy LCP (the authenticator may Challenge at any time, RFC 1994 §3); a PAP client already
    // acknowledged by the LAC sends no new Authenticate-Request (RFC 1334 §2.2.1): renegotiate.
    const bool awaited = ok && ours != AuthMethod::none && proxy_auth == ours;
    const bool pap_unproved = ok && ours == AuthMethod::pap && !awaited;
    im.publish("ppp.lcp", ok && !pap_unproved ? "proxy-lcp-accepted" : "proxy-lcp-renegotiate",
               !ok            ? "proxied LCP options not acceptable"
               : pap_unproved ? "proxied LCP names PAP, no proxy PAP authentication"
               : ours == AuthMethod::chap_md5 && !awaited
                   ? "proxied LCP options acceptable, no proxy CHAP authentication: CHAP by the LNS"
                   : "proxied LCP options acceptable");
    if (!ok || pap_unproved) {
        open();
        return false;
    }
    neg_.we_authenticate = ours;
    neg_.local_magic = im.lcp_policy.magic;
    im.down_cause.clear();
    im.proxy_auth = awaited;  // wait for proxy_authentication() instead of a new exchange
    im.phase.dispatch(PhEvent::up, "proxy LCP");
    return lcp_.force_opened("proxy LCP");
}

void Link::proxy_authentication(Credentials credentials) {
    Impl& im = *impl_;
    if (neg_.we_authenticate == AuthMethod::none || credentials.method != neg_.we_authenticate ||
        phase() != Phase::authenticate) {
        ++counters_.discarded;
        return;
    }
    im.pending = std::move(credentials);
    im.auth.dispatch(AuEvent::proxy, "proxy authentication");  // Idle -> Verifying, calls verify()
}

}  // namespace dl::ppp::engine
