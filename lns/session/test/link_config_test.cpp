// The call's PPP link configuration from its snapshot (link_config) and CallSession::start_ppp:
// the Access-Accept's PPP credentials and ERX-PPP-Auth-Protocol, the host name as the fallback
// name, addresses and DNS, the incoming authentication modes, and proxy PAP refused while CHAP is
// required.
#include <gtest/gtest.h>

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

}  // namespace
