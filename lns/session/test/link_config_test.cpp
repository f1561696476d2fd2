// The call's PPP link configuration from its snapshot (link_config) and CallSession::start_ppp:
// the Access-Accept's PPP credentials and ERX-PPP-Auth-Protocol, the host name as the fallback
// name, addresses and DNS, the incoming authentication modes, and proxy PAP refused while CHAP is
// required.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>

#include "dl/core/event.hpp"
#include "dl/session/call.hpp"

using namespace dl::session;
namespace pe = dl::ppp::engine;

namespace {

TEST(LinkConfig, ProfileAndHostName) {
    LinkSnapshot s;
    s.mru = 1400;
    s.require_auth = pe::AuthPreference::pap;
    s.keepalive = std::chrono::seconds(10);
    s.hostname = "lns-1";
    const auto lc = link_config(s);
    EXPECT_EQ(lc.mru, 1400);
    EXPECT_EQ(lc.require_auth, pe::AuthPreference::pap);
    EXPECT_EQ(lc.echo_interval, std::chrono::seconds(10));
    EXPECT_EQ(lc.name, "lns-1") << "no other name: the host name (RFC 1994 §4.1)";
}

TEST(LinkConfig, AcceptCredentialsAndAuthProtocol) {
    struct Case { std::optional<std::uint32_t> ap; bool pap, chap, prefer_pap; };
    for (const auto& k : {Case{std::nullopt, true, true, true}, Case{1, true, false, false}, Case{2, false, true, false},
                          Case{3, true, true, true}, Case{4, true, true, false}, Case{0, false, false, false}}) {
        LinkSnapshot s;
        s.hostname = "lns-1";
        s.accept = LinkSnapshot::AcceptCredentials{"site-a", "pw", k.ap};
        const auto lc = link_config(s);
        EXPECT_EQ(lc.name, "site-a");
        EXPECT_EQ(lc.secret, "pw");
        EXPECT_EQ(lc.allow_pap, k.pap) << k.ap.value_or(99);
        EXPECT_EQ(lc.allow_chap, k.chap) << k.ap.value_or(99);
        EXPECT_EQ(lc.prefer_pap, k.prefer_pap) << k.ap.value_or(99);
    }
    LinkSnapshot s;
    s.hostname = "lns-1";
    s.accept = LinkSnapshot::AcceptCredentials{};
    EXPECT_EQ(link_config(s).name, "lns-1") << "no ERX-PPP-Username: the host name";
}

TEST(LinkConfig, AddressingAndDns) {
    LinkSnapshot s;
    s.addressing = LinkSnapshot::Addressing{0x0A000001, 0x08080808, 0x08080404, 0x0A000002, 3};
    auto lc = link_config(s);  // incoming: DNS always
    EXPECT_EQ(lc.local_ip, 0x0A000001u);
    EXPECT_EQ(lc.peer_ip, 0x0A000002u);
    EXPECT_EQ(lc.dns1, 0x08080808u);
    EXPECT_EQ(lc.dns2, 0x08080404u);
    EXPECT_EQ(lc.echo_failures, 3);
    s.accept = LinkSnapshot::AcceptCredentials{};
    lc = link_config(s);  // dial-out without ipcp-dns
    EXPECT_EQ(lc.dns1, 0u);
    EXPECT_EQ(lc.local_ip, 0x0A000001u);
    s.ipcp_dns = true;
    EXPECT_EQ(link_config(s).dns1, 0x08080808u);
}

TEST(LinkConfig, IncomingModes) {
    LinkSnapshot s;
    s.require_auth = pe::AuthPreference::pap;
    s.incoming = LinkSnapshot::Incoming{IncomingAuthMode::mandatory_chap, {}};
    EXPECT_EQ(link_config(s).require_auth, pe::AuthPreference::chap);
    s.incoming = LinkSnapshot::Incoming{IncomingAuthMode::proxy, {}};
    s.incoming->call.proxy_authen_type = 2;
    EXPECT_EQ(link_config(s).require_auth, pe::AuthPreference::chap) << "the LAC's CHAP";
    s.incoming->mode = IncomingAuthMode::lcp_renegotiation;
    EXPECT_EQ(link_config(s).require_auth, pe::AuthPreference::pap);
}

struct World {
    dl::core::VirtualTimeLoop loop;
    dl::core::EventBus bus{loop.clock()};
    dl::core::FsmEnv env{&bus, &loop.timers(), nullptr};
    AuthCounters counters;
    CallPorts ports;
    std::vector<std::uint16_t> sent;
    World() { ports.auth.counters = &counters; }
    pe::LinkCallbacks callbacks() {
        pe::LinkCallbacks cb;
        cb.send = [this](std::uint16_t p, std::vector<std::uint8_t>) { sent.push_back(p); };
        cb.random = [] { return 0x01020304u; };
        return cb;
    }
};

TEST(StartPpp, OpensTheLink) {
    World w;
    CallSession c(w.env, w.ports, 7, CallDirection::incoming, CallState::ppp);
    c.start("ICCN 1/2");
    LinkSnapshot s;
    s.incoming = LinkSnapshot::Incoming{IncomingAuthMode::lcp_renegotiation, {}};
    auto* l = c.start_ppp(s, w.callbacks(), "1/2");
    ASSERT_NE(l, nullptr);
    EXPECT_EQ(c.link(), l);
    ASSERT_EQ(w.sent.size(), 1u) << "LCP negotiates from the start";
    EXPECT_EQ(w.sent[0], 0xC021);
}

TEST(StartPpp, ProxyPapWhileChapIsRequiredIsRefused) {
    World w;
    CallSession c(w.env, w.ports, 7, CallDirection::incoming, CallState::ppp);
    c.start("ICCN 1/2");
    LinkSnapshot s;
    s.require_auth = pe::AuthPreference::chap;
    s.incoming = LinkSnapshot::Incoming{IncomingAuthMode::proxy, {}};
    s.incoming->call.proxy_authen_type = 3;
    s.incoming->call.proxy_authen_name = "alice";
    EXPECT_EQ(c.start_ppp(s, w.callbacks(), "1/2"), nullptr);
    EXPECT_TRUE(w.sent.empty()) << "the link is never opened";
    EXPECT_EQ(c.state(), CallState::releasing);
    EXPECT_EQ(w.counters.ppp_auth_rejects, 1u);
}

// Huawei "L2TP Session Establishment": a LAC that authenticated the user with MSCHAP v1 / v2 sends no
// usable proxy authentication (RFC 2661 §4.4.5 Proxy Authen Type 5, or none at all): the LNS
// renegotiates LCP with the client and authenticates it itself, even when the proxy LCP alone would
// have been acceptable (here the LAC's request names CHAP-MD5), instead of waiting in Authenticate
// for a proxy authentication that never comes.
// req: LNS.proxy-mschap
TEST(StartPpp, ProxyMschapIsRenegotiatedNotAwaited) {
    const std::vector<std::uint8_t> lac_chap_md5{3, 5, 0xC2, 0x23, 0x05, 5, 6, 0x1A, 0xC0, 0xFF, 0xEE};
    const std::vector<std::uint8_t> lac_mschap{3, 5, 0xC2, 0x23, 0x80, 5, 6, 0x1A, 0xC0, 0xFF, 0xEE};
    const std::vector<std::uint8_t> client{5, 6, 0x11, 0x22, 0x33, 0x44};
    for (const auto& lac_req : {lac_chap_md5, lac_mschap}) {
        World w;
        CallSession c(w.env, w.ports, 7, CallDirection::incoming, CallState::ppp);
        c.start("ICCN 1/2");
        std::vector<std::string> events;
        w.bus.subscribe({}, [&](const dl::core::Event& e) { events.push_back(e.event); });
        LinkSnapshot s;
        s.require_auth = pe::AuthPreference::chap;
        s.incoming = LinkSnapshot::Incoming{IncomingAuthMode::proxy, {}};
        auto& in = s.incoming->call;
        in.last_sent_lcp_confreq = lac_req;
        in.last_received_lcp_confreq = client;
        in.proxy_authen_type = 5;  // Microsoft CHAP Version 1: nothing the LNS can verify
        in.proxy_authen_name = "alice";
        auto* l = c.start_ppp(s, w.callbacks(), "1/2");
        ASSERT_NE(l, nullptr);
        ASSERT_EQ(w.sent.size(), 1u) << "LCP renegotiated with the client: our Configure-Request";
        EXPECT_EQ(w.sent[0], 0xC021);
        EXPECT_NE(l->phase(), pe::Phase::authenticate) << "not waiting for a proxy authentication";
        EXPECT_EQ(c.state(), CallState::ppp);
        EXPECT_NE(std::find(events.begin(), events.end(), "proxy-authentication-unusable"), events.end());
    }
}

// RFC 2661 §4.4.5: a LAC may send the Proxy LCP AVPs without any proxy authentication AVP. The proxy
// LCP naming CHAP-MD5 is kept and the LNS challenges the client itself (RFC 1994 §3: the authenticator
// sends the Challenge); naming PAP, LCP is renegotiated, since a client whose Authenticate-Request the
// LAC already acknowledged sends no other (RFC 1334 §2.2.1). Never a link waiting in Authenticate for a
// proxy authentication that will not come.
// req: LNS.proxy
TEST(StartPpp, ProxyLcpWithoutProxyAuthenticationIsNotAwaited) {
    const std::vector<std::uint8_t> client{5, 6, 0x11, 0x22, 0x33, 0x44};
    struct Case { std::vector<std::uint8_t> lac_req; pe::AuthPreference pref; std::uint16_t first; pe::Phase phase; };
    for (const auto& k : {Case{{3, 5, 0xC2, 0x23, 0x05, 5, 6, 0x1A, 0xC0, 0xFF, 0xEE}, pe::AuthPreference::chap, 0xC223,
                               pe::Phase::authenticate},
                          Case{{3, 4, 0xC0, 0x23, 5, 6, 0x1A, 0xC0, 0xFF, 0xEE}, pe::AuthPreference::pap, 0xC021,
                               pe::Phase::establish}}) {
        World w;
        CallSession c(w.env, w.ports, 7, CallDirection::incoming, CallState::ppp);
        c.start("ICCN 1/2");
        LinkSnapshot s;
        s.require_auth = k.pref;
        s.incoming = LinkSnapshot::Incoming{IncomingAuthMode::proxy, {}};
        s.incoming->call.last_sent_lcp_confreq = k.lac_req;
        s.incoming->call.last_received_lcp_confreq = client;
        auto* l = c.start_ppp(s, w.callbacks(), "1/2");
        ASSERT_NE(l, nullptr);
        ASSERT_EQ(w.sent.size(), 1u) << "CHAP Challenge, or LCP Configure-Request: the LNS authenticates the client";
        EXPECT_EQ(w.sent[0], k.first);
        EXPECT_EQ(l->phase(), k.phase);
    }
}

// req: LNS.proxy-mschap, LNS.proxy
TEST(StartPpp, ProxyCredentialsOnlyOfTypesTheLnsCanVerify) {
    dl::l2tp::engine::IncomingCall in;
    EXPECT_TRUE(proxy_lcp_usable(in, pe::AuthPreference::chap)) << "no Proxy Authen Type: the proxy LCP decides";
    in.proxy_authen_name = "alice";
    in.proxy_authen_type = 4;
    EXPECT_FALSE(proxy_credentials(in, pe::AuthPreference::none));
    EXPECT_TRUE(proxy_lcp_usable(in, pe::AuthPreference::none)) << "No Authentication: the proxy LCP decides";
    in.proxy_authen_type = 2;
    EXPECT_FALSE(proxy_lcp_usable(in, pe::AuthPreference::chap)) << "CHAP without Challenge / ID / Response";
    in.proxy_authen_id = 1;
    in.proxy_authen_challenge = std::vector<std::uint8_t>(16, 1);
    in.proxy_authen_response = std::vector<std::uint8_t>(16, 2);
    auto cr = proxy_credentials(in, pe::AuthPreference::chap);
    ASSERT_TRUE(cr);
    EXPECT_EQ(cr->method, pe::AuthMethod::chap_md5);
    EXPECT_EQ(cr->user, "alice");
    in.proxy_authen_type = 3;
    EXPECT_FALSE(proxy_credentials(in, pe::AuthPreference::chap)) << "PAP while CHAP is required";
    ASSERT_TRUE(proxy_credentials(in, pe::AuthPreference::pap));
    EXPECT_EQ(proxy_credentials(in, pe::AuthPreference::pap)->method, pe::AuthMethod::pap);
    for (std::uint16_t t : {1, 5, 6}) {
        in.proxy_authen_type = t;
        EXPECT_FALSE(proxy_lcp_usable(in, pe::AuthPreference::chap)) << t;
    }
}

}  // namespace
