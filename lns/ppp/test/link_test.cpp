// Two PPP engines back to back in virtual time through an in-memory link that can drop,
// duplicate and delay packets: LCP + mutual PAP/CHAP + IPCP, failures, keepalive, proxy LCP.
#include "dl/ppp/engine/link.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <deque>
#include <map>

#include "dl/core/event.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/ppp/auth.hpp"
#include "dl/ppp/control.hpp"
#include "dl/ppp/ppp.hpp"

using namespace dl::ppp;
using namespace dl::ppp::engine;
using namespace std::chrono_literals;

namespace {

constexpr std::uint32_t ip(int a, int b, int c, int d) {
    return (std::uint32_t(a) << 24) | (std::uint32_t(b) << 16) | (std::uint32_t(c) << 8) | std::uint32_t(d);
}

struct Endpoint {
    std::unique_ptr<Link> link;
    std::vector<std::pair<std::uint16_t, std::vector<std::uint8_t>>> sent;
    std::optional<NetworkInfo> up;
    std::string down;
    std::vector<Credentials> verified;
    std::uint32_t next_random = 0;
};

// The world: virtual time, one bus, two endpoints A (e.g. LNS) and B (e.g. client), and a wire.
struct World {
    dl::core::VirtualTimeLoop loop;
    dl::core::EventBus bus{loop.clock()};
    dl::core::TimerRegistry registry;
    dl::core::FsmEnv env{&bus, &loop.timers(), &registry};
    Endpoint a, b;
    std::map<std::string, std::string> secrets{{"alice", "s3cret-a"}, {"bob", "s3cret-b"}};
    std::map<std::string, std::uint32_t> framed{{"bob", ip(10, 0, 0, 2)}, {"alice", ip(10, 0, 0, 1)}};
    // Rules: return 0 = deliver, 1 = drop, 2 = duplicate.
    std::function<int(char from, std::uint16_t proto, const std::vector<std::uint8_t>&)> rule;
    bool auto_verify = true;
    bool accept_all = true;
    dl::core::Duration delay = 1ms;

    World() { dl::core::register_well_known_timers(registry); }

    void make(Endpoint& e, char name, LinkConfig cfg, std::uint32_t seed) {
        e.next_random = seed;
        Endpoint* other = name == 'A' ? &b : &a;
        LinkCallbacks cb;
        cb.send = [this, &e, other, name](std::uint16_t proto, std::vector<std::uint8_t> info) {
            e.sent.emplace_back(proto, info);
            const int r = rule ? rule(name, proto, info) : 0;
            if (r == 1) return;
            for (int n = 0; n < (r == 2 ? 2 : 1); ++n)
                loop.timers().arm(delay, [other, proto, info] {
                    if (other->link) other->link->receive(proto, info);
                });
        };
        cb.verify = [this, &e](std::uint32_t ticket, const Credentials& c) {
            e.verified.push_back(c);
            if (!auto_verify) return;
            loop.timers().arm(5ms, [this, &e, ticket, c] {
                VerifyResult r;
                auto it = secrets.find(c.user);
                bool ok = it != secrets.end();
                if (ok && c.method == AuthMethod::pap) ok = c.password == it->second;
                if (ok && c.method == AuthMethod::chap_md5) {
                    auto d = chap_md5_response(c.chap_id, it->second, c.challenge);
                    ok = std::vector<std::uint8_t>(d.begin(), d.end()) == c.response;
                }
                r.accept = ok && accept_all;
                r.message = r.accept ? "welcome" : "denied";
                if (r.accept && framed.count(c.user)) r.framed_ip = framed[c.user];
                e.link->verify_result(ticket, r);
            });
        };
        cb.network_up = [&e](const NetworkInfo& n) { e.up = n; };
        cb.link_down = [&e](std::string_view cause) { e.down = cause; };
        cb.random = [&e] { return e.next_random += 0x01010101; };
        e.link = std::make_unique<Link>(std::move(cfg), std::move(cb), env, std::string(1, name));
    }
};

/// The proxy LCP AVPs of an ICCN (RFC 2661 §4.4.5) as the tests give them: the Last Sent LCP
/// Configure-Request naming `auth` (CHAP-MD5 or PAP) with Magic-Number 0x11223344, the Last
/// Received one with Magic-Number 0x55667788 (and `received_mru` if not 0). Serialized LCP packets.
std::pair<std::vector<std::uint8_t>, std::vector<std::uint8_t>> proxy_lcp(std::uint16_t auth,
                                                                          std::uint16_t received_mru = 0) {
    LCP sent(CpCode::configure_request, 1);
    if (auth == kProtoCHAP) sent.auth_chap_md5();
    else sent.auth_protocol(auth);
    sent.magic_number(0x11223344);
    LCP received(CpCode::configure_request, 1);
    received.magic_number(0x55667788);
    if (received_mru != 0) received.mru(received_mru);
    return {sent.serialize(), received.serialize()};
}

LinkConfig lns_config(AuthPreference pref) {
    LinkConfig c;
    c.require_auth = pref;
    c.name = "alice";
    c.secret = "s3cret-a";
    c.local_ip = ip(10, 0, 0, 1);
    c.dns1 = ip(192, 0, 2, 53);
    c.dns2 = ip(192, 0, 2, 54);
    return c;
}
LinkConfig client_config(AuthPreference pref) {
    LinkConfig c;
    c.require_auth = pref;
    c.name = "bob";
    c.secret = "s3cret-b";
    c.request_dns = true;
    return c;
}

void expect_network(World& w) {
    ASSERT_TRUE(w.a.up.has_value());
    ASSERT_TRUE(w.b.up.has_value());
    EXPECT_EQ(w.a.link->phase(), Phase::network);
    EXPECT_EQ(w.b.link->phase(), Phase::network);
    EXPECT_EQ(w.a.up->local_ip, ip(10, 0, 0, 1));
    EXPECT_EQ(w.a.up->peer_ip, ip(10, 0, 0, 2));
    EXPECT_EQ(w.b.up->local_ip, ip(10, 0, 0, 2));
    EXPECT_EQ(w.b.up->peer_ip, ip(10, 0, 0, 1));
    EXPECT_EQ(w.b.up->dns1, ip(192, 0, 2, 53));
    EXPECT_EQ(w.b.up->dns2, ip(192, 0, 2, 54));
}

}  // namespace

TEST(Link, MutualPapGoldenLog) {
    World w;
    dl::core::EventRecorder rec(w.bus, {"ppp", ""});
    w.make(w.a, 'A', lns_config(AuthPreference::pap), 0x10000000);
    w.make(w.b, 'B', client_config(AuthPreference::pap), 0x20000000);
    w.b.link->open();
    w.a.link->open();
    w.loop.advance(1s);
    expect_network(w);
    EXPECT_EQ(w.a.link->negotiated().we_authenticate, AuthMethod::pap);
    EXPECT_EQ(w.a.link->negotiated().peer_authenticates, AuthMethod::pap);
    ASSERT_EQ(w.a.verified.size(), 1u);
    EXPECT_EQ(w.a.verified[0].user, "bob");
    EXPECT_EQ(w.a.verified[0].password, "s3cret-b");
    ASSERT_EQ(w.b.verified.size(), 1u);
    EXPECT_EQ(w.b.verified[0].user, "alice");
    EXPECT_EQ(w.a.link->negotiated().peer_name, "bob");
    // The authenticator's and the peer's machines and the phases of A, in order.
    std::string a_log;
    for (const auto& e : rec.events())
        if (e.id.rfind("A", 0) == 0 && (e.entity == "ppp.phase" || e.entity == "ppp.auth"))
            a_log += dl::core::format_golden(e) + "\n";
    EXPECT_EQ(a_log,
              "+0.000000s ppp.phase A: Dead -> Establish on Up (cause=open)\n"
              "+0.002000s ppp.auth A/authenticator: Idle -> Wait-Request on Start-PAP (cause=LCP Opened)\n"
              "+0.002000s ppp.auth A/peer: Idle -> Wait-Result on Start-PAP (cause=LCP Opened)\n"
              "+0.002000s ppp.phase A: Establish -> Authenticate on LCP-Opened (cause=LCP Opened)\n"
              "+0.003000s ppp.auth A/authenticator: Wait-Request -> Verifying on Credentials-Received (cause=Authenticate-Request)\n"
              "+0.008000s ppp.auth A/authenticator: Verifying -> Success on Verify-Accept (cause=verify accepted)\n"
              "+0.009000s ppp.phase A: Authenticate -> Network on Auth-Done (cause=authentication complete)\n"
              "+0.009000s ppp.auth A/peer: Wait-Result -> Success on Success-Received (cause=Authenticate-Ack)\n");
    EXPECT_EQ(rec.count("NOT PERMITTED"), 0u);
    for (const auto& e : rec.events()) EXPECT_TRUE(e.permitted) << dl::core::format_golden(e);
}

// req: L2TP.sli
TEST(Link, NegotiatedAccmsReportedWhenLcpOpens) {
    // RFC 1662 §7.1: each side's Configure-Request ACCM says what it wants escaped towards it; an
    // LNS reports both to the LAC in an SLI (RFC 2661 §6.14) once LCP is Opened.
    World w;
    LinkConfig client = client_config(AuthPreference::none);
    client.accm = 0x000A0000;  // the client wants XON/XOFF escaped
    LinkConfig lns = lns_config(AuthPreference::none);
    lns.accm = 0;
    w.make(w.a, 'A', lns, 0x10000000);
    w.make(w.b, 'B', client, 0x20000000);
    std::vector<std::pair<std::uint32_t, std::uint32_t>> opened;
    // lcp_opened is a LinkConfig-time callback: rebuild A with it.
    LinkCallbacks cb;
    {
        Endpoint& e = w.a;
        Endpoint* other = &w.b;
        cb.send = [&w, &e, other](std::uint16_t proto, std::vector<std::uint8_t> info) {
            e.sent.emplace_back(proto, info);
            w.loop.timers().arm(w.delay, [other, proto, info] {
                if (other->link) other->link->receive(proto, info);
            });
        };
        cb.random = [&e] { return e.next_random += 0x01010101; };
        cb.lcp_opened = [&opened](const Negotiated& n) { opened.emplace_back(n.send_accm, n.recv_accm); };
        e.link = std::make_unique<Link>(lns, std::move(cb), w.env, "A");
    }
    w.a.link->open();
    w.b.link->open();
    w.loop.advance(1s);
    ASSERT_EQ(w.a.link->lcp_state(), CpState::opened);
    ASSERT_EQ(opened.size(), 1u);
    EXPECT_EQ(opened[0].first, 0x000A0000u) << "send ACCM: the client's request";
    EXPECT_EQ(opened[0].second, 0u) << "receive ACCM: ours, acked";
    EXPECT_EQ(w.a.link->negotiated().send_accm, 0x000A0000u);
}

TEST(Link, MutualChap) {
    World w;
    w.make(w.a, 'A', lns_config(AuthPreference::chap), 0x10000000);
    w.make(w.b, 'B', client_config(AuthPreference::chap), 0x20000000);
    w.a.link->open();
    w.b.link->open();
    w.loop.advance(1s);
    expect_network(w);
    EXPECT_EQ(w.a.link->negotiated().we_authenticate, AuthMethod::chap_md5);
    EXPECT_EQ(w.b.link->negotiated().we_authenticate, AuthMethod::chap_md5);
    ASSERT_EQ(w.a.verified.size(), 1u);
    EXPECT_EQ(w.a.verified[0].method, AuthMethod::chap_md5);
    EXPECT_EQ(w.a.verified[0].challenge.size(), 16u);
    EXPECT_EQ(w.a.verified[0].response.size(), 16u);
    EXPECT_EQ(w.b.verified.size(), 1u);
}

TEST(Link, PapThenChapFallsBackWhenThePeerNaksToChap) {
    World w;
    auto cc = client_config(AuthPreference::none);
    cc.allow_pap = false;
    w.make(w.a, 'A', lns_config(AuthPreference::pap_then_chap), 0x10000000);
    w.make(w.b, 'B', cc, 0x20000000);
    dl::core::EventRecorder rec(w.bus, {"ppp.lcp", ""});
    w.a.link->open();
    w.b.link->open();
    w.loop.advance(1s);
    expect_network(w);
    EXPECT_EQ(w.a.link->negotiated().we_authenticate, AuthMethod::chap_md5);
    EXPECT_EQ(rec.count("auth-fallback"), 1u);
}

// req: T75.ppp-auth-protocol
TEST(Link, PeerNaksAnUnsupportedAuthProtocolInItsOrderOfPreference) {
    // The authenticator asks for EAP (0xC227); we Nak with the first protocol of our order:
    // PAP for PAP-CHAP (prefer_pap), CHAP for CHAP-PAP, PAP when only PAP is allowed (RFC 1661 §6.2).
    struct Case {
        bool pap, chap, prefer_pap;
        std::uint16_t nak;
    };
    for (const Case c : {Case{true, true, true, 0xC023}, Case{true, true, false, 0xC223}, Case{true, false, false, 0xC023},
                         Case{false, true, true, 0xC223}}) {
        World w;
        auto cfg = client_config(AuthPreference::none);
        cfg.allow_pap = c.pap;
        cfg.allow_chap = c.chap;
        cfg.prefer_pap = c.prefer_pap;
        w.make(w.a, 'A', cfg, 0x10000000);
        w.a.link->open();
        w.a.sent.clear();
        w.a.link->receive(std::vector<std::uint8_t>{0xC0, 0x21, 1, 7, 0, 14, 3, 4, 0xC2, 0x27, 5, 6, 0x12, 0x34, 0x56, 0x78});
        const std::string what = "pap=" + std::to_string(c.pap) + " chap=" + std::to_string(c.chap) +
                                 " prefer_pap=" + std::to_string(c.prefer_pap);
        bool found = false;
        for (const auto& [proto, info] : w.a.sent) {
            if (proto != 0xC021 || info.size() < 8 || info[0] != 3) continue;  // Configure-Nak
            found = true;
            EXPECT_EQ(info[1], 7) << what << ": Nak echoes the Identifier";
            EXPECT_EQ(info[4], 3) << what << ": Authentication-Protocol option";
            EXPECT_EQ((info[6] << 8) | info[7], c.nak) << what;
        }
        EXPECT_TRUE(found) << what << ": no Configure-Nak sent";
    }
}

TEST(Link, StrictPapClosesWhenThePeerRefusesPap) {
    World w;
    auto cc = client_config(AuthPreference::none);
    cc.allow_pap = false;
    w.make(w.a, 'A', lns_config(AuthPreference::pap), 0x10000000);
    w.make(w.b, 'B', cc, 0x20000000);
    w.a.link->open();
    w.b.link->open();
    w.loop.advance(30s);
    EXPECT_EQ(w.a.link->phase(), Phase::dead);
    EXPECT_EQ(w.a.down, "peer refuses PAP");
    EXPECT_FALSE(w.a.up);
}

TEST(Link, ChapFailureClosesBothEnds) {
    World w;
    w.secrets["bob"] = "wrong";
    w.make(w.a, 'A', lns_config(AuthPreference::chap), 0x10000000);
    w.make(w.b, 'B', client_config(AuthPreference::none), 0x20000000);
    w.a.link->open();
    w.b.link->open();
    w.loop.advance(30s);
    EXPECT_EQ(w.a.link->phase(), Phase::dead);
    EXPECT_EQ(w.a.down, "authentication failed: denied");
    EXPECT_EQ(w.a.link->counters().auth_failures, 1u);
    EXPECT_EQ(w.b.link->phase(), Phase::dead);
    EXPECT_EQ(w.b.down, "authentication by the peer failed");
    EXPECT_FALSE(w.a.up);
    EXPECT_FALSE(w.b.up);
    EXPECT_TRUE(w.loop.timers().empty());
}

TEST(Link, ChapRechallengeAtTheConfiguredInterval) {
    World w;
    auto ac = lns_config(AuthPreference::chap);
    ac.rechallenge = 10s;
    w.make(w.a, 'A', ac, 0x10000000);
    w.make(w.b, 'B', client_config(AuthPreference::none), 0x20000000);
    w.a.link->open();
    w.b.link->open();
    w.loop.advance(35s);
    expect_network(w);
    EXPECT_EQ(w.a.verified.size(), 4u);  // t=0, 10, 20, 30 s
    EXPECT_NE(w.a.verified[0].challenge, w.a.verified[1].challenge);
    // A rechallenge that fails brings the link down.
    w.accept_all = false;
    w.loop.advance(10s);
    EXPECT_EQ(w.a.link->phase(), Phase::dead);
    EXPECT_EQ(w.b.link->phase(), Phase::dead);
}

TEST(Link, IpcpRejectOfDnsWhenNoneIsConfigured) {
    World w;
    auto ac = lns_config(AuthPreference::none);
    ac.dns1 = ac.dns2 = 0;
    ac.peer_ip = ip(10, 0, 0, 9);
    w.make(w.a, 'A', ac, 0x10000000);
    w.make(w.b, 'B', client_config(AuthPreference::none), 0x20000000);
    w.a.link->open();
    w.b.link->open();
    w.loop.advance(1s);
    ASSERT_TRUE(w.b.up);
    EXPECT_EQ(w.b.up->local_ip, ip(10, 0, 0, 9));  // Nak of 0.0.0.0 with the configured address
    EXPECT_EQ(w.b.up->dns1, 0u);
    EXPECT_EQ(w.b.up->dns2, 0u);
    bool saw_reject = false, saw_nak = false;
    for (const auto& [proto, info] : w.a.sent)
        if (proto == kProtoIPCP) {
            saw_reject |= info[0] == 4;
            saw_nak |= info[0] == 3;
        }
    EXPECT_TRUE(saw_reject);
    EXPECT_TRUE(saw_nak);
}

TEST(Link, MagicNumberLoopIsDetected) {
    World w;
    // A looped-back line: A receives what it sends.
    LinkCallbacks cb;
    Link* self = nullptr;
    std::uint32_t r = 0;
    cb.random = [&r] { return r += 0x01010101; };
    cb.send = [&](std::uint16_t proto, std::vector<std::uint8_t> info) {
        w.loop.timers().arm(1ms, [&self, proto, info] { self->receive(proto, info); });
    };
    Link a(lns_config(AuthPreference::none), cb, w.env, "loop");
    self = &a;
    a.open();
    w.loop.advance(2s);
    EXPECT_GE(a.counters().magic_loops, 1u);
    EXPECT_NE(a.lcp_state(), CpState::opened);
}

TEST(Link, EchoFailureTakesTheLinkDown) {
    World w;
    auto ac = lns_config(AuthPreference::none);
    ac.echo_interval = 10s;
    ac.echo_failures = 3;
    w.make(w.a, 'A', ac, 0x10000000);
    w.make(w.b, 'B', client_config(AuthPreference::none), 0x20000000);
    w.a.link->open();
    w.b.link->open();
    w.loop.advance(25s);
    EXPECT_EQ(w.a.link->phase(), Phase::network);
    EXPECT_EQ(w.a.link->counters().echo_sent, 2u);
    EXPECT_EQ(w.a.link->counters().echo_replies, 2u);
    w.rule = [](char from, std::uint16_t, const std::vector<std::uint8_t>&) { return from == 'B' ? 1 : 0; };
    w.loop.advance(60s);
    EXPECT_EQ(w.a.link->phase(), Phase::dead);
    EXPECT_EQ(w.a.down, "echo timeout");
}

TEST(Link, ProtocolRejectBothWays) {
    World w;
    auto ac = lns_config(AuthPreference::none);
    ac.ipcp = false;  // A does not run IPCP: it Protocol-Rejects B's IPCP
    w.make(w.a, 'A', ac, 0x10000000);
    w.make(w.b, 'B', client_config(AuthPreference::none), 0x20000000);
    w.a.link->open();
    w.b.link->open();
    w.loop.advance(1s);
    EXPECT_EQ(w.a.link->phase(), Phase::network);
    EXPECT_GE(w.a.link->counters().protocol_rejects_sent, 1u);
    EXPECT_GE(w.b.link->counters().protocol_rejects_received, 1u);
    EXPECT_EQ(w.b.link->ipcp_state(), CpState::stopped);
    EXPECT_EQ(w.b.link->lcp_state(), CpState::opened);
    // An unknown protocol (IPv6CP) is rejected too, with the protocol number in the reject.
    w.a.sent.clear();
    w.a.link->receive(std::vector<std::uint8_t>{0x80, 0x57, 1, 1, 0, 4});
    ASSERT_EQ(w.a.sent.size(), 1u);
    LCP rej(w.a.sent[0].second.data(), static_cast<std::uint32_t>(w.a.sent[0].second.size()));
    EXPECT_EQ(rej.code(), 8);
    EXPECT_EQ(rej.rejected_protocol(), 0x8057);
}

TEST(Link, SurvivesLossAndDuplicates) {
    World w;
    int n = 0;
    w.rule = [&n](char, std::uint16_t, const std::vector<std::uint8_t>&) {
        ++n;
        return n % 5 == 0 ? 1 : n % 3 == 0 ? 2 : 0;
    };
    dl::core::EventRecorder rec(w.bus, {"ppp", ""});
    w.make(w.a, 'A', lns_config(AuthPreference::chap), 0x10000000);
    w.make(w.b, 'B', client_config(AuthPreference::pap), 0x20000000);
    w.a.link->open();
    w.b.link->open();
    w.loop.advance(60s);
    if (getenv("DUMP")) std::printf("%s", rec.text().c_str());
    EXPECT_EQ(w.a.link->lcp_state(), CpState::opened);
    EXPECT_EQ(w.b.link->lcp_state(), CpState::opened);
    EXPECT_EQ(w.a.link->ipcp_state(), CpState::opened);
    EXPECT_EQ(w.b.link->ipcp_state(), CpState::opened);
    expect_network(w);
}

TEST(Link, ProxyLcpAcceptedThenProxyAuthentication) {
    World w;
    dl::core::EventRecorder rec(w.bus, {"ppp", ""});
    w.make(w.a, 'A', lns_config(AuthPreference::chap), 0x10000000);
    const auto [sent, received] = proxy_lcp(kProtoCHAP, 1460);
    EXPECT_TRUE(w.a.link->open_with_proxy_lcp(sent, received, AuthMethod::chap_md5));
    EXPECT_EQ(w.a.link->lcp_state(), CpState::opened);
    EXPECT_EQ(w.a.link->phase(), Phase::authenticate);
    EXPECT_EQ(w.a.link->negotiated().peer_mru, 1460);
    EXPECT_TRUE(w.a.sent.empty());  // nothing renegotiated
    Credentials c;
    c.method = AuthMethod::chap_md5;
    c.user = "bob";
    c.chap_id = 7;
    c.challenge = std::vector<std::uint8_t>(16, 0xab);
    auto d = chap_md5_response(7, "s3cret-b", c.challenge);
    c.response.assign(d.begin(), d.end());
    w.a.link->proxy_authentication(c);
    w.loop.advance(100ms);
    EXPECT_EQ(w.a.link->phase(), Phase::network);
    ASSERT_FALSE(w.a.sent.empty());
    EXPECT_EQ(w.a.sent[0].first, kProtoIPCP);  // IPCP Configure-Request, no CHAP packet
    if (getenv("DUMP")) std::printf("%s", rec.text().c_str());
    EXPECT_EQ(rec.text(),
              "+0.000000s ppp.lcp A: proxy-lcp-accepted (cause=proxied LCP options acceptable)\n"
              "+0.000000s ppp.phase A: Dead -> Establish on Up (cause=proxy LCP)\n"
              "+0.000000s ppp.lcp A: Initial -> Starting on Open (cause=proxy LCP)\n"
              "+0.000000s ppp.lcp A: Starting -> Req-Sent on Up (cause=proxy LCP)\n"
              "+0.000000s ppp.lcp A: Req-Sent -> Ack-Rcvd on RCA (cause=proxy LCP)\n"
              "+0.000000s ppp.phase A: Establish -> Authenticate on LCP-Opened (cause=LCP Opened)\n"
              "+0.000000s ppp.lcp A: Ack-Rcvd -> Opened on RCR+ (cause=proxy LCP)\n"
              "+0.000000s ppp.auth A/authenticator: Idle -> Verifying on Proxy-Credentials (cause=proxy authentication)\n"
              "+0.005000s ppp.ipcp A: Initial -> Starting on Open (cause=administrative open)\n"
              "+0.005000s ppp.ipcp A: Starting -> Req-Sent on Up (cause=lower layer up)\n"
              "+0.005000s ppp.phase A: Authenticate -> Network on Auth-Done (cause=authentication complete)\n"
              "+0.005000s ppp.auth A/authenticator: Verifying -> Success on Verify-Accept (cause=verify accepted)\n");
}

TEST(Link, ProxyLcpNotAcceptableRenegotiates) {
    World w;
    w.make(w.a, 'A', lns_config(AuthPreference::chap), 0x10000000);
    const auto [sent, received] = proxy_lcp(kProtoPAP);  // we demand CHAP: PAP by the LAC is not acceptable
    EXPECT_FALSE(w.a.link->open_with_proxy_lcp(sent, received, AuthMethod::none));
    EXPECT_EQ(w.a.link->lcp_state(), CpState::req_sent);
    ASSERT_FALSE(w.a.sent.empty());
    EXPECT_EQ(w.a.sent[0].first, kProtoLCP);
    EXPECT_EQ(w.a.sent[0].second[0], 1);  // Configure-Request
}

// RFC 2661 §4.4.5: proxy LCP AVPs without proxy authentication AVPs. The LAC's request names CHAP-MD5:
// LCP stays Opened from the proxy LCP and the LNS sends its own Challenge (RFC 1994 §3) instead of
// waiting in Authenticate; the client's Response is verified and the link reaches Network.
TEST(Link, ProxyLcpWithoutProxyAuthenticationChallenges) {
    World w;
    dl::core::EventRecorder rec(w.bus, {"ppp", ""});
    w.make(w.a, 'A', lns_config(AuthPreference::chap), 0x10000000);
    const auto [sent, received] = proxy_lcp(kProtoCHAP);
    EXPECT_TRUE(w.a.link->open_with_proxy_lcp(sent, received, AuthMethod::none));
    EXPECT_EQ(w.a.link->lcp_state(), CpState::opened);
    EXPECT_EQ(w.a.link->phase(), Phase::authenticate);
    ASSERT_EQ(w.a.sent.size(), 1u) << "the LNS's own CHAP Challenge, no LCP";
    ASSERT_EQ(w.a.sent[0].first, kProtoCHAP);
    CHAP challenge(w.a.sent[0].second.data(), static_cast<std::uint32_t>(w.a.sent[0].second.size()));
    ASSERT_EQ(challenge.code(), ChapCode::challenge);
    CHAP response(ChapCode::response, challenge.identifier());
    const auto d = chap_md5_response(challenge.identifier(), "s3cret-b", challenge.value());
    response.value(d);
    response.name("bob");
    w.a.link->receive(kProtoCHAP, response.serialize());
    w.loop.advance(100ms);
    ASSERT_EQ(w.a.verified.size(), 1u);
    EXPECT_EQ(w.a.verified[0].user, "bob");
    EXPECT_EQ(w.a.link->phase(), Phase::network);
    ASSERT_GE(w.a.sent.size(), 3u);
    EXPECT_EQ(w.a.sent[1].first, kProtoCHAP);
    EXPECT_EQ(w.a.sent[1].second[0], 3);  // Success
    EXPECT_EQ(w.a.sent[2].first, kProtoIPCP);
    EXPECT_NE(rec.text().find("proxy-lcp-accepted (cause=proxied LCP options acceptable, no proxy CHAP authentication"),
              std::string::npos)
        << rec.text();
}

// The LAC's request names PAP and no proxy PAP follows: the client, acknowledged by the LAC, sends no
// other Authenticate-Request (RFC 1334 §2.2.1), so LCP is renegotiated and the client authenticates
// again; both ends reach Network.
TEST(Link, ProxyLcpNamingPapWithoutProxyAuthenticationRenegotiates) {
    World w;
    w.make(w.a, 'A', lns_config(AuthPreference::pap), 0x10000000);
    w.make(w.b, 'B', client_config(AuthPreference::pap), 0x20000000);
    const auto [sent, received] = proxy_lcp(kProtoPAP);
    EXPECT_FALSE(w.a.link->open_with_proxy_lcp(sent, received, AuthMethod::none));
    EXPECT_EQ(w.a.link->lcp_state(), CpState::req_sent);
    ASSERT_FALSE(w.a.sent.empty());
    EXPECT_EQ(w.a.sent[0].first, kProtoLCP);
    w.b.link->open();
    w.loop.advance(1s);
    expect_network(w);
    ASSERT_EQ(w.a.verified.size(), 1u);
    EXPECT_EQ(w.a.verified[0].method, AuthMethod::pap);
    EXPECT_EQ(w.a.verified[0].user, "bob");
}

TEST(Link, MalformedInputIsCounted) {
    World w;
    w.make(w.a, 'A', lns_config(AuthPreference::pap), 0x10000000);
    w.a.link->open();
    w.a.link->receive(std::vector<std::uint8_t>{});
    w.a.link->receive(std::vector<std::uint8_t>{0xc0});
    w.a.link->receive(std::vector<std::uint8_t>{0xc0, 0x21, 1});
    w.a.link->receive(std::vector<std::uint8_t>{0xc0, 0x23, 1, 1, 0, 4});  // PAP before Authenticate
    EXPECT_EQ(w.a.link->counters().malformed, 2u);
    EXPECT_EQ(w.a.link->lcp().counters().malformed, 1u);
    EXPECT_EQ(w.a.link->counters().discarded, 1u);
    EXPECT_EQ(w.a.link->lcp_state(), CpState::req_sent);
}

TEST(Link, SizeofPerLink) {
    std::printf("sizeof(Link)=%zu footprint=%zu sizeof(Automaton)=%zu\n", sizeof(Link), Link::footprint(),
                sizeof(Automaton));
    EXPECT_LT(Link::footprint(), 4096u);  // within the 8 KiB per-session budget of the LNS
}

TEST(Link, ChapThenPapFallsBackWhenThePeerNaksToPap) {
    World w;
    auto cc = client_config(AuthPreference::none);
    cc.allow_chap = false;
    w.make(w.a, 'A', lns_config(AuthPreference::chap_then_pap), 0x10000000);
    w.make(w.b, 'B', cc, 0x20000000);
    w.a.link->open();
    w.b.link->open();
    w.loop.advance(1s);
    expect_network(w);
    EXPECT_EQ(w.a.link->negotiated().we_authenticate, AuthMethod::pap);
    ASSERT_EQ(w.a.verified.size(), 1u);
    EXPECT_EQ(w.a.verified[0].method, AuthMethod::pap);
}

TEST(Link, AdministrativeCloseTerminatesBothEnds) {
    World w;
    auto ac = lns_config(AuthPreference::none);
    ac.peer_ip = ip(10, 0, 0, 2);
    w.make(w.a, 'A', ac, 0x10000000);
    w.make(w.b, 'B', client_config(AuthPreference::none), 0x20000000);
    w.a.link->open();
    w.b.link->open();
    w.loop.advance(1s);
    ASSERT_EQ(w.a.link->phase(), Phase::network);
    dl::core::EventRecorder rec(w.bus, {"ppp.lcp", ""}, w.loop.now());
    w.a.link->close("admin");
    w.loop.advance(10s);
    EXPECT_EQ(w.a.link->phase(), Phase::dead);
    EXPECT_EQ(w.a.down, "admin");
    EXPECT_EQ(w.a.link->lcp_state(), CpState::closed);
    // B got Terminate-Request: Opened -> Stopping (zrc), then Stopped after the restart timer.
    EXPECT_EQ(w.b.link->lcp_state(), CpState::stopped);
    EXPECT_EQ(w.b.link->phase(), Phase::dead);
    EXPECT_EQ(rec.text(),
              "+0.000000s ppp.lcp A: Opened -> Closing on Close (cause=admin)\n"
              "+0.001000s ppp.lcp B: Opened -> Stopping on RTR (cause=Terminate-Request)\n"
              "+0.002000s ppp.lcp A: Closing -> Closed on RTA (cause=Terminate-Ack)\n"
              "+3.001000s ppp.lcp B: Stopping -> Stopped on TO- (cause=ppp-restart expired, counter exhausted)\n");
    EXPECT_TRUE(w.loop.timers().empty());
    // Re-open both: a new negotiation to Network, nothing "not permitted".
    w.a.up.reset();
    w.b.up.reset();
    w.a.link->open();
    w.b.link->open();
    w.loop.advance(1s);
    expect_network(w);
    EXPECT_EQ(w.a.link->lcp().fsm().not_permitted_count(), 0u);
    EXPECT_EQ(w.b.link->lcp().fsm().not_permitted_count(), 0u);
}

TEST(Link, UnknownLcpCodeIsCodeRejectedAndTheSenderCarriesOn) {
    World w;
    w.make(w.a, 'A', lns_config(AuthPreference::none), 0x10000000);
    w.make(w.b, 'B', client_config(AuthPreference::none), 0x20000000);
    w.a.link->open();
    w.b.link->open();
    w.loop.advance(1s);
    w.a.sent.clear();
    w.a.link->receive(kProtoLCP, std::vector<std::uint8_t>{0x2a, 7, 0, 6, 0xde, 0xad});
    ASSERT_EQ(w.a.sent.size(), 1u);
    EXPECT_EQ(w.a.sent[0].second[0], 7);  // Code-Reject carrying the packet
    EXPECT_EQ(std::vector<std::uint8_t>(w.a.sent[0].second.begin() + 4, w.a.sent[0].second.end()),
              (std::vector<std::uint8_t>{0x2a, 7, 0, 6, 0xde, 0xad}));
    w.loop.advance(1s);
    // B received a Code-Reject of code 0x2a (> 7): RXJ+, stays Opened.
    EXPECT_EQ(w.b.link->lcp_state(), CpState::opened);
    EXPECT_EQ(w.a.link->lcp().counters().code_rejects_sent, 1u);
    // Discard-Request and Echo-Request are answered / ignored in Opened.
    w.a.sent.clear();
    w.a.link->receive(kProtoLCP, std::vector<std::uint8_t>{11, 1, 0, 8, 0, 0, 0, 0});
    EXPECT_TRUE(w.a.sent.empty());
    w.a.link->receive(kProtoLCP, std::vector<std::uint8_t>{9, 5, 0, 10, 0, 0, 0, 0, 'h', 'i'});
    ASSERT_EQ(w.a.sent.size(), 1u);
    LCP reply(w.a.sent[0].second.data(), static_cast<std::uint32_t>(w.a.sent[0].second.size()));
    EXPECT_EQ(reply.code(), 10);
    EXPECT_EQ(reply.identifier(), 5);
    EXPECT_EQ(reply.magic_number(), w.a.link->negotiated().local_magic);
}

TEST(Link, LowerLayerDownGoesDeadWithoutTerminate) {
    World w;
    w.make(w.a, 'A', lns_config(AuthPreference::chap), 0x10000000);
    w.make(w.b, 'B', client_config(AuthPreference::none), 0x20000000);
    w.a.link->open();
    w.b.link->open();
    w.loop.advance(1s);
    ASSERT_EQ(w.a.link->phase(), Phase::network);
    w.a.sent.clear();
    w.a.link->lower_down("carrier lost");
    EXPECT_EQ(w.a.link->phase(), Phase::dead);
    EXPECT_EQ(w.a.down, "carrier lost");
    EXPECT_TRUE(w.a.sent.empty());  // no Terminate-Request on a dead lower layer
    EXPECT_EQ(w.a.link->lcp_state(), CpState::initial);
    EXPECT_EQ(w.a.link->ipcp_state(), CpState::initial);
    EXPECT_EQ(w.a.link->lcp().fsm().not_permitted_count(), 0u);
    // Stale verify answers are ignored after the link went down.
    EXPECT_FALSE(w.a.link->verify_result(1, VerifyResult{true}));
}
