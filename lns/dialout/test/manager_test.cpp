// Dial-out manager in virtual time: golden event logs for every state and transition of JunosE "L2TP Dial-Out"
// Tables 71-74 and JunosE "Broadband Access Configuration Guide" Table 77.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "dl/core/config.hpp"
#include "dl/core/control.hpp"
#include "dl/core/errors.hpp"
#include "dl/core/event.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/dialout/manager.hpp"
#include "dl/radius/client/builders.hpp"

using namespace std::chrono_literals;
using dl::core::ConfigError;
using dl::core::ConfigNode;
using dl::core::Duration;
using dl::core::EventRecorder;
using dl::core::Ipv4Address;
using dl::core::Ipv4Prefix;
using dl::core::TimePoint;
using dl::radius::client::DialOutDefinition;
using namespace dl::dialout;

namespace {

Ipv4Prefix P(const char* s) { return *Ipv4Prefix::parse(s); }
Ipv4Address A(const char* s) { return *Ipv4Address::parse(s); }

/// An IPv4 header (RFC 791 §3.1) from 203.0.113.10 to `dst`, plus `extra` payload octets.
std::vector<std::uint8_t> ip(const char* dst, std::size_t extra = 0) {
    std::vector<std::uint8_t> p(20 + extra, 0);
    p[0] = 0x45;
    p[2] = static_cast<std::uint8_t>(p.size() >> 8);
    p[3] = static_cast<std::uint8_t>(p.size());
    p[8] = 64;
    p[9] = 1;
    p[12] = 203, p[13] = 0, p[14] = 113, p[15] = 10;
    const auto d = A(dst).value;
    p[16] = std::uint8_t(d >> 24), p[17] = std::uint8_t(d >> 16), p[18] = std::uint8_t(d >> 8), p[19] = std::uint8_t(d);
    return p;
}

DialOutDefinition good_definition() {
    DialOutDefinition d;
    d.service_type = 5;
    dl::radius::client::TunnelDefinition t;
    t.tag = 1;
    t.type = 3;
    t.medium = 1;
    t.server_endpoint = "192.0.2.2";
    d.tunnels.push_back(t);
    d.dial_out_number = "0301234567";
    d.ppp_username = "lns";
    d.ppp_password = "secret";
    d.ppp_auth_protocol = 2;
    return d;
}

SessionKey K(const char* vr, const char* prefix, const char* dst) { return {vr, P(prefix), A(dst)}; }

struct World {
    dl::core::VirtualTimeLoop loop;
    dl::core::EventBus bus{loop.clock()};
    dl::core::TimerRegistry registry;
    std::vector<std::pair<SessionKey, std::string>> authorized;
    std::vector<std::pair<SessionKey, std::string>> placed;  // key, profile name
    std::vector<std::pair<SessionKey, std::string>> cleared;
    std::vector<std::pair<SessionKey, std::size_t>> forwarded;
    EventRecorder rec{bus, {"dialout.session", ""}};
    Manager m;

    Ports ports() {
        Ports p;
        p.authorize = [this](const SessionKey& k, const std::string& u) { authorized.emplace_back(k, u); };
        p.place_call = [this](const SessionKey& k, const DialOutDefinition& d, const Profile& pr) {
            EXPECT_EQ(d.dial_out_number, "0301234567");
            placed.emplace_back(k, pr.name);
        };
        p.clear_call = [this](const SessionKey& k, std::string_view r) { cleared.emplace_back(k, std::string(r)); };
        p.forward = [this](const SessionKey& k, std::span<const std::uint8_t> pk) { forwarded.emplace_back(k, pk.size()); };
        return p;
    }
    explicit World(ChassisConfig c = {}) : m(bus, loop.timers(), registry, ports(), c) {
        m.set_profile({"dialout-default"});
        m.add_target({"default", P("10.10.0.0/16"), "L2TP-dial-out.de.dt", "dialout-default", "0.0.0.0:65000"});
        m.vr_operational("default", true);
    }
    void at(Duration t) { loop.advance_to(TimePoint{t}); }
    TriggerOutcome trig(const char* dst, const char* vr = "default", std::size_t extra = 0) {
        return m.trigger(vr, ip(dst, extra));
    }
    std::string golden() const { return rec.text(); }
    std::optional<SessionState> state(const char* dst) const { return m.session_state(K("default", "10.10.0.0/16", dst)); }
};

const SessionKey k1 = K("default", "10.10.0.0/16", "10.10.1.1");

}  // namespace

// ---- Access-Request User-Name (JunosE "L2TP Dial-Out" "Access-Request Message") ------------------------------

TEST(DialOutUserName, SeedExampleWithRouteDistinguisher) {
    EXPECT_EQ(Manager::user_name("0.0.0.0:65000", A("10.10.1.1"), "L2TP-dial-out.de.dt"),
              "0.0.0.0:65000/10.10.1.1@L2TP-dial-out.de.dt");
}

TEST(DialOutUserName, WithoutRouteDistinguisherNoSlash) {
    EXPECT_EQ(Manager::user_name("", A("10.10.1.1"), "L2TP-dial-out.de.dt"), "10.10.1.1@L2TP-dial-out.de.dt");
}

TEST(DialOutUserName, ReachesTheAaaPort) {
    World w;
    w.m.add_target({"default", P("172.16.0.0/12"), "plain.example", "dialout-default", ""});
    EXPECT_EQ(w.trig("10.10.1.1"), TriggerOutcome::buffered);
    EXPECT_EQ(w.trig("172.16.5.5"), TriggerOutcome::buffered);
    ASSERT_EQ(w.authorized.size(), 2u);
    EXPECT_EQ(w.authorized[0].second, "0.0.0.0:65000/10.10.1.1@L2TP-dial-out.de.dt");
    EXPECT_EQ(w.authorized[0].first, k1);
    EXPECT_EQ(w.authorized[1].second, "172.16.5.5@plain.example");
}

TEST(DialOutRouteDistinguisher, Rfc4364Forms) {
    EXPECT_TRUE(Manager::valid_route_distinguisher("0.0.0.0:65000"));
    EXPECT_TRUE(Manager::valid_route_distinguisher("65000:4294967295"));
    EXPECT_TRUE(Manager::valid_route_distinguisher("4200000000:65535"));
    EXPECT_FALSE(Manager::valid_route_distinguisher("4200000000:65536"));
    EXPECT_FALSE(Manager::valid_route_distinguisher("1.2.3.4:65536"));
    EXPECT_FALSE(Manager::valid_route_distinguisher("65000"));
    EXPECT_FALSE(Manager::valid_route_distinguisher(":1"));
    EXPECT_FALSE(Manager::valid_route_distinguisher("1:"));
    EXPECT_FALSE(Manager::valid_route_distinguisher("x:1"));
}

TEST(DialOutSessionKey, TextRoundTrip) {
    EXPECT_EQ(k1.to_string(), "default/10.10.0.0/16/10.10.1.1");
    EXPECT_EQ(SessionKey::parse("default/10.10.0.0/16/10.10.1.1"), k1);
    EXPECT_FALSE(SessionKey::parse("default/10.10.0.0/16"));
    EXPECT_FALSE(SessionKey::parse("/10.10.0.0/16/10.10.1.1"));
    EXPECT_FALSE(SessionKey::parse("default/10.10.0.1/16/10.10.1.1"));
}

TEST(DialOutTrigger, Ipv4DestinationParsing) {
    EXPECT_EQ(Manager::ipv4_destination(ip("10.10.1.1")), A("10.10.1.1"));
    auto p = ip("10.10.1.1");
    p[0] = 0x65;  // IPv6 version nibble
    EXPECT_FALSE(Manager::ipv4_destination(p));
    p[0] = 0x44;  // IHL 4 words < 5
    EXPECT_FALSE(Manager::ipv4_destination(p));
    p[0] = 0x46;  // IHL 24 octets > 20 present
    EXPECT_FALSE(Manager::ipv4_destination(p));
    EXPECT_FALSE(Manager::ipv4_destination(std::span<const std::uint8_t>(p.data(), 19)));
}

TEST(DialOutTrigger, MalformedAndNonTriggersCounted) {
    World w;
    std::vector<std::uint8_t> junk{1, 2, 3};
    EXPECT_EQ(w.m.trigger("default", junk), TriggerOutcome::malformed);
    EXPECT_EQ(w.trig("192.168.1.1"), TriggerOutcome::no_target);
    EXPECT_EQ(w.trig("10.10.1.1", "other-vr"), TriggerOutcome::no_target);
    const auto c = w.m.show_chassis();
    EXPECT_EQ(c["malformed_triggers"], 1);
    EXPECT_EQ(c["not_triggers"], 2);
    EXPECT_EQ(w.m.session_count(), 0u);
}

// ---- the successful path (Table 74 authenticating -> connecting -> inService) -----------------

TEST(DialOutSession, SuccessfulDialOutGoldenLog) {
    World w;
    EXPECT_EQ(w.trig("10.10.1.1"), TriggerOutcome::buffered);
    w.at(1s);
    EXPECT_EQ(w.trig("10.10.1.1"), TriggerOutcome::buffered);  // still authenticating
    w.m.grant(k1, good_definition());
    ASSERT_EQ(w.placed.size(), 1u);
    EXPECT_EQ(w.placed[0].second, "dialout-default");
    w.at(3s);
    EXPECT_EQ(w.trig("10.10.1.1"), TriggerOutcome::discarded);  // connecting: discarded
    w.m.call_connected(k1);
    w.at(4s);
    w.m.access_route_installed(k1, {P("10.10.1.1/32")});
    EXPECT_EQ(w.state("10.10.1.1"), SessionState::inService);
    ASSERT_EQ(w.forwarded.size(), 2u);  // the two buffered triggers
    EXPECT_EQ(w.trig("10.10.1.1"), TriggerOutcome::forwarded);
    EXPECT_EQ(w.forwarded.size(), 3u);
    w.at(100s);
    w.m.call_closed(k1, "CDN result 3");
    EXPECT_EQ(w.state("10.10.1.1"), SessionState::dormant);
    w.at(400s);  // dormant 300 s expires at 400 s: deleted
    EXPECT_FALSE(w.state("10.10.1.1"));
    EXPECT_EQ(w.golden(),
              "+0.000000s dialout.session default/10.10.0.0/16/10.10.1.1:  -> authenticating on trigger (cause=10.10.1.1 buffered 1/4) [timer trigger=30s]\n"
              "+1.000000s dialout.session default/10.10.0.0/16/10.10.1.1: authenticating -> authenticating on trigger (cause=10.10.1.1 buffered 2/4)\n"
              "+1.000000s dialout.session default/10.10.0.0/16/10.10.1.1: authenticating -> connecting on aaa-grant (cause=Access-Accept LAC 192.0.2.2) [timer trigger=30s]\n"
              "+3.000000s dialout.session default/10.10.0.0/16/10.10.1.1: connecting -> connecting on trigger (cause=10.10.1.1 discarded in connecting)\n"
              "+3.000000s dialout.session default/10.10.0.0/16/10.10.1.1: connecting -> connecting on call-connected (cause=outgoing call connected)\n"
              "+4.000000s dialout.session default/10.10.0.0/16/10.10.1.1: connecting -> inService on route-verified (cause=access route 10.10.1.1/32 forwards 10.10.1.1)\n"
              "+4.000000s dialout.session default/10.10.0.0/16/10.10.1.1: inService -> inService on trigger (cause=forwarded)\n"
              "+100.000000s dialout.session default/10.10.0.0/16/10.10.1.1: inService -> dormant on call-closed (cause=CDN result 3) [timer dormant=5m]\n"
              "+400.000000s dialout.session default/10.10.0.0/16/10.10.1.1: dormant -> dormant on timer-expiry (cause=dormant expired)\n");
    const auto t = w.m.show_targets()[0]["counters"];
    EXPECT_EQ(t["triggers_received"], 4);
    EXPECT_EQ(t["triggers_buffered"], 2);
    EXPECT_EQ(t["triggers_discarded"], 1);
    EXPECT_EQ(t["triggers_forwarded"], 3);
    EXPECT_EQ(t["attempts"], 1);
}

TEST(DialOutSession, ConnectingTimerExpiryClearsCallAndInhibits) {
    World w;
    w.trig("10.10.1.1");
    w.m.grant(k1, good_definition());
    w.at(29s);
    EXPECT_EQ(w.m.session_timer(k1)->first, "trigger");
    EXPECT_EQ(w.m.session_timer(k1)->second, 1s);
    w.at(30s);
    EXPECT_EQ(w.state("10.10.1.1"), SessionState::inhibited);
    ASSERT_EQ(w.cleared.size(), 1u);
    EXPECT_EQ(w.cleared[0].second, "connecting timer expired");
    EXPECT_EQ(w.m.session_timer(k1)->first, "inhibited");
    EXPECT_EQ(w.m.session_timer(k1)->second, 30s);
    // A late OCCN in inhibited is not permitted: counted, state unchanged.
    w.m.call_connected(k1);
    EXPECT_EQ(w.state("10.10.1.1"), SessionState::inhibited);
    EXPECT_EQ(w.m.show_session(k1)["not_permitted"], 1);
    EXPECT_EQ(w.m.show_targets()[0]["counters"]["failures"].dump(), "{}");  // timeout is no deny
}

TEST(DialOutSession, CallFailureWithResultAndQ931Cause) {
    World w;
    w.trig("10.10.1.1");
    w.m.grant(k1, good_definition());
    w.at(2s);
    w.m.call_failed(k1, 2, 17, "busy");
    EXPECT_EQ(w.state("10.10.1.1"), SessionState::inhibited);
    EXPECT_EQ(w.rec.lines().back(),
              "+2.000000s dialout.session default/10.10.0.0/16/10.10.1.1: connecting -> inhibited on call-failed (cause=call-failed: result 2 q931 17 busy) [timer inhibited=30s]");
    EXPECT_EQ(w.m.show_targets()[0]["counters"]["failures"]["call-failed"], 1);
    EXPECT_TRUE(w.cleared.empty());  // the call failed by itself: nothing to clear
}

// ---- inhibited / postInhibited / dormant (Table 74) --------------------------------------------

// Immediate re-entries: a trigger during the first postInhibited period re-authenticates, AAA denies
// again, the inhibited value doubles: 30, 60, 120, 240, then stays at 240 (8 x trigger).
TEST(DialOutSession, BackoffSequence30_60_120_240_240) {
    World w;
    std::vector<Duration> seen;
    w.trig("10.10.1.1");
    for (int i = 0; i < 5; ++i) {
        w.m.deny(k1, DenyReason::access_reject);
        ASSERT_EQ(w.state("10.10.1.1"), SessionState::inhibited);
        seen.push_back(*w.m.session_inhibited_value(k1));
        EXPECT_EQ(w.m.session_timer(k1)->second, seen.back());
        EXPECT_EQ(w.trig("10.10.1.1"), TriggerOutcome::discarded);  // inhibited discards
        w.loop.advance(seen.back());                                 // -> postInhibited
        ASSERT_EQ(w.state("10.10.1.1"), SessionState::postInhibited);
        EXPECT_EQ(w.trig("10.10.1.1"), TriggerOutcome::buffered);  // -> authenticating
        ASSERT_EQ(w.state("10.10.1.1"), SessionState::authenticating);
    }
    EXPECT_EQ(seen, (std::vector<Duration>{30s, 60s, 120s, 240s, 240s}));
    EXPECT_EQ(w.m.show_targets()[0]["counters"]["failures"]["access-reject"], 5);
    EXPECT_EQ(w.m.show_targets()[0]["counters"]["attempts"], 6);
}

// Halving in postInhibited and the dormant arithmetic: inhibited 30 s; postInhibited re-arms 30, 15,
// 7, 3, 1 (whole seconds) = 56 s; dormant = 300 - 56 = 244 s; expiry deletes the session.
TEST(DialOutSession, PostInhibitedHalvingAndDormantArithmeticGolden) {
    World w;
    w.trig("10.10.1.1");
    w.m.deny(k1, DenyReason::radius_timeout, "3 servers");
    w.rec.clear();
    w.at(30s);
    EXPECT_EQ(w.state("10.10.1.1"), SessionState::postInhibited);
    w.at(86s);
    EXPECT_EQ(w.state("10.10.1.1"), SessionState::dormant);
    EXPECT_EQ(w.m.session_timer(k1)->second, 244s);
    EXPECT_EQ(*w.m.session_inhibited_value(k1), 0s);
    w.at(86s + 243s);
    EXPECT_EQ(w.state("10.10.1.1"), SessionState::dormant);
    w.at(86s + 244s);
    EXPECT_FALSE(w.state("10.10.1.1"));
    EXPECT_EQ(w.golden(),
              "+30.000000s dialout.session default/10.10.0.0/16/10.10.1.1: inhibited -> postInhibited on timer-expiry (cause=inhibited expired) [timer inhibited=30s]\n"
              "+60.000000s dialout.session default/10.10.0.0/16/10.10.1.1: postInhibited -> postInhibited on timer-expiry (cause=inhibited expired) [timer inhibited=15s]\n"
              "+75.000000s dialout.session default/10.10.0.0/16/10.10.1.1: postInhibited -> postInhibited on timer-expiry (cause=inhibited expired) [timer inhibited=7s]\n"
              "+82.000000s dialout.session default/10.10.0.0/16/10.10.1.1: postInhibited -> postInhibited on timer-expiry (cause=inhibited expired) [timer inhibited=3s]\n"
              "+85.000000s dialout.session default/10.10.0.0/16/10.10.1.1: postInhibited -> postInhibited on timer-expiry (cause=inhibited expired) [timer inhibited=1s]\n"
              "+86.000000s dialout.session default/10.10.0.0/16/10.10.1.1: postInhibited -> dormant on timer-expiry (cause=inhibited expired) [timer dormant=244s]\n"
              "+330.000000s dialout.session default/10.10.0.0/16/10.10.1.1: dormant -> dormant on timer-expiry (cause=dormant expired)\n");
}

// A trigger after some halvings re-enters inhibited at twice the decayed value (15 s -> 30 s), and a
// session that reached dormant starts again at the trigger value ("first time").
TEST(DialOutSession, DecayedReentryAndDormantRestartsAtTriggerValue) {
    World w;
    w.trig("10.10.1.1");
    w.m.deny(k1, DenyReason::access_reject);  // 30
    w.m.deny(k1, DenyReason::access_reject);  // not permitted in inhibited
    EXPECT_EQ(w.m.show_session(k1)["not_permitted"], 1);
    w.at(61s);                                 // postInhibited since 30 s, first halving at 60 s: V = 15
    EXPECT_EQ(*w.m.session_inhibited_value(k1), 15s);
    w.trig("10.10.1.1");
    w.m.deny(k1, DenyReason::access_reject);
    EXPECT_EQ(*w.m.session_inhibited_value(k1), 30s);
    w.at(200s);  // inhibited 61..91, postInhibited 91..147, dormant from 147 (244 s)
    ASSERT_EQ(w.state("10.10.1.1"), SessionState::dormant);
    w.trig("10.10.1.1");
    w.m.deny(k1, DenyReason::access_reject);
    EXPECT_EQ(*w.m.session_inhibited_value(k1), 30s);
}

TEST(DialOutSession, DormantTimerNeverNegative) {
    World w;
    w.m.set_timer("dormant", 60s);  // shorter than the postInhibited period after a 240 s inhibition
    w.trig("10.10.1.1");
    for (int i = 0; i < 4; ++i) {  // 30, 60, 120, 240
        w.m.deny(k1, DenyReason::access_reject);
        w.loop.advance(*w.m.session_inhibited_value(k1));
        if (i < 3) w.trig("10.10.1.1");
    }
    ASSERT_EQ(w.state("10.10.1.1"), SessionState::postInhibited);
    // postInhibited: 240+120+60+30+15+7+3+1 = 476 s > 60 s dormant: dormant timer 0, deleted at once.
    w.loop.advance(476s);
    EXPECT_FALSE(w.state("10.10.1.1"));
    EXPECT_NE(w.golden().find("postInhibited -> dormant on timer-expiry (cause=inhibited expired) [timer dormant=0s]"),
              std::string::npos);
}

// ---- AAA deny reasons (Table 75) ---------------------------------------------------------------

TEST(DialOutAaa, EachDenyReasonInhibitsWithItsCause) {
    struct Case {
        const char* name;
        std::function<void(DialOutDefinition&)> mutate;
        const char* cause;
    };
    const std::vector<Case> cases{
        {"service-type", [](DialOutDefinition& d) { d.service_type = 2; }, "service-type-not-outbound: Service-Type 2"},
        {"no-tunnels", [](DialOutDefinition& d) { d.tunnels.clear(); }, "tunnel-attributes-missing"},
        {"type", [](DialOutDefinition& d) { d.tunnels[0].type = 1; }, "tunnel-type-not-l2tp: tag 1: Tunnel-Type 1"},
        {"medium", [](DialOutDefinition& d) { d.tunnels[0].medium = 2; }, "tunnel-medium-not-ipv4: tag 1: Tunnel-Medium-Type 2"},
        {"endpoint", [](DialOutDefinition& d) { d.tunnels[0].server_endpoint.clear(); }, "tunnel-server-endpoint-missing: tag 1"},
    };
    for (const auto& c : cases) {
        World w;
        w.trig("10.10.1.1");
        auto d = good_definition();
        c.mutate(d);
        w.m.grant(k1, d);
        EXPECT_EQ(w.state("10.10.1.1"), SessionState::inhibited) << c.name;
        EXPECT_TRUE(w.placed.empty()) << c.name;
        EXPECT_NE(w.golden().find(std::string("authenticating -> inhibited on aaa-deny (cause=") + c.cause + ")"),
                  std::string::npos)
            << c.name << "\n" << w.golden();
    }
    for (auto r : {DenyReason::access_reject, DenyReason::radius_timeout, DenyReason::invalid_accept}) {
        World w;
        w.trig("10.10.1.1");
        w.m.deny(k1, r, r == DenyReason::invalid_accept ? "ERX-Dial-Out-Number missing" : "");
        EXPECT_EQ(w.state("10.10.1.1"), SessionState::inhibited);
        EXPECT_EQ(w.m.show_chassis()["counters"]["failures"][std::string(to_string(r))], 1);
    }
}

TEST(DialOutAaa, NoAnswerWithinTriggerTimerIsAnAaaTimeout) {
    World w;
    w.trig("10.10.1.1");
    w.at(30s);
    EXPECT_EQ(w.state("10.10.1.1"), SessionState::inhibited);
    EXPECT_NE(w.golden().find("authenticating -> inhibited on timer-expiry (cause=trigger expired) [timer inhibited=30s]"),
              std::string::npos);
    // The Access-Request still outstanding is withdrawn (lnsd cancels it: no more retransmissions).
    ASSERT_EQ(w.cleared.size(), 1u);
    EXPECT_EQ(w.cleared[0].second, "authenticating timer expired");
    // The late grant is not permitted any more.
    w.m.grant(k1, good_definition());
    EXPECT_TRUE(w.placed.empty());
    EXPECT_EQ(w.m.show_session(k1)["not_permitted"], 1);
}

// ---- birth of a session (Table 74: "New sessions start in the authenticating state") ----------

TEST(DialOutSession, NewSessionIsBornAuthenticatingWithNoPreviousState) {
    World w;
    EXPECT_EQ(w.trig("10.10.1.1"), TriggerOutcome::buffered);
    ASSERT_EQ(w.rec.events().size(), 1u);
    const auto& e = w.rec.events().front();
    EXPECT_EQ(e.entity, "dialout.session");
    EXPECT_EQ(e.id, "default/10.10.0.0/16/10.10.1.1");
    EXPECT_EQ(e.from, "");
    EXPECT_EQ(e.to, "authenticating");
    EXPECT_EQ(e.event, "trigger");
    EXPECT_EQ(e.cause, "10.10.1.1 buffered 1/4");
    ASSERT_TRUE(e.timer);
    EXPECT_EQ(*e.timer, (dl::core::TimerArmed{"trigger", 30s}));
    EXPECT_EQ(w.state("10.10.1.1"), SessionState::authenticating);
    EXPECT_EQ(w.m.connecting_sessions(), 1u);
    ASSERT_EQ(w.authorized.size(), 1u);
    const auto timer = w.m.session_timer(k1);
    ASSERT_TRUE(timer);
    EXPECT_EQ(timer->first, "trigger");
    EXPECT_EQ(timer->second, 30s);
    EXPECT_EQ(w.m.show_session(k1)["timer"]["name"], "trigger");
    EXPECT_EQ(w.m.show_session(k1)["counters"]["attempts"], 1);
    // The birth trigger timer is the state timer of authenticating: a second trigger keeps it.
    w.at(10s);
    w.trig("10.10.1.1");
    EXPECT_EQ(w.m.session_timer(k1)->second, 20s);
    w.at(30s);
    EXPECT_EQ(w.state("10.10.1.1"), SessionState::inhibited);
    EXPECT_EQ(w.m.connecting_sessions(), 0u);
    EXPECT_EQ(w.golden(),
              "+0.000000s dialout.session default/10.10.0.0/16/10.10.1.1:  -> authenticating on trigger (cause=10.10.1.1 buffered 1/4) [timer trigger=30s]\n"
              "+10.000000s dialout.session default/10.10.0.0/16/10.10.1.1: authenticating -> authenticating on trigger (cause=10.10.1.1 buffered 2/4)\n"
              "+30.000000s dialout.session default/10.10.0.0/16/10.10.1.1: authenticating -> inhibited on timer-expiry (cause=trigger expired) [timer inhibited=30s]\n");
    EXPECT_EQ(w.m.session_timer(k1)->first, "inhibited");
}

TEST(DialOutSession, BirthTimerEndsWithTheFirstAuthenticatingPeriod) {
    World w;
    w.trig("10.10.1.1");
    w.m.grant(k1, good_definition());  // connecting: its own trigger timer from now
    w.at(20s);
    EXPECT_EQ(w.m.session_timer(k1)->second, 10s);
    w.m.call_connected(k1);
    w.m.access_route_installed(k1, {P("10.10.1.1/32")});
    w.at(100s);  // neither timer fires in inService
    EXPECT_EQ(w.state("10.10.1.1"), SessionState::inService);
    EXPECT_FALSE(w.m.session_timer(k1));
    EXPECT_EQ(w.m.show_session(k1)["not_permitted"], 0);
    World r;
    r.trig("10.10.1.1");
    r.m.session_reset(k1);  // authenticating -> dormant: dormant timer only
    r.at(31s);
    EXPECT_EQ(r.state("10.10.1.1"), SessionState::dormant);
    EXPECT_EQ(r.m.session_timer(k1)->first, "dormant");
}

TEST(DialOutSession, TriggerOnDormantSessionStillLogsDormantToAuthenticating) {
    World w;
    w.trig("10.10.1.1");
    w.m.session_reset(k1);  // authenticating -> dormant; the session stays (dormant timer)
    ASSERT_EQ(w.state("10.10.1.1"), SessionState::dormant);
    w.at(5s);
    w.trig("10.10.1.1");
    EXPECT_EQ(w.rec.lines().back(),
              "+5.000000s dialout.session default/10.10.0.0/16/10.10.1.1: dormant -> authenticating on trigger (cause=10.10.1.1 buffered 1/4) [timer trigger=30s]");
    EXPECT_EQ(w.rec.events().back().from, "dormant");
}

TEST(DialOutPending, NewSessionAtTheMaximumIsBornPending) {
    ChassisConfig c;
    c.max_connecting_sessions = 1;
    World w(c);
    w.trig("10.10.1.1");
    w.rec.clear();
    EXPECT_EQ(w.trig("10.10.2.2"), TriggerOutcome::buffered);
    ASSERT_EQ(w.rec.events().size(), 1u);
    const auto& e = w.rec.events().front();
    EXPECT_EQ(e.id, "default/10.10.0.0/16/10.10.2.2");
    EXPECT_EQ(e.from, "");
    EXPECT_EQ(e.to, "pending");
    EXPECT_EQ(e.event, "trigger");
    EXPECT_FALSE(e.timer);
    EXPECT_EQ(w.state("10.10.2.2"), SessionState::pending);
    EXPECT_FALSE(w.m.session_timer(K("default", "10.10.0.0/16", "10.10.2.2")));
    EXPECT_EQ(w.m.connecting_sessions(), 1u);
    EXPECT_EQ(w.m.show_chassis()["pending_sessions"], 1);
    EXPECT_EQ(w.authorized.size(), 1u);
    EXPECT_EQ(w.golden(),
              "+0.000000s dialout.session default/10.10.0.0/16/10.10.2.2:  -> pending on trigger (cause=10.10.2.2 buffered 1/4)\n");
}

// ---- pending (Table 77) ------------------------------------------------------------------------

TEST(DialOutPending, MaximumOneGoesToDormantGolden) {
    ChassisConfig c;
    c.max_connecting_sessions = 1;
    World w(c);
    w.trig("10.10.1.1");
    w.at(1s);
    EXPECT_EQ(w.trig("10.10.2.2"), TriggerOutcome::buffered);
    EXPECT_EQ(w.state("10.10.2.2"), SessionState::pending);
    EXPECT_EQ(w.trig("10.10.2.2"), TriggerOutcome::discarded);
    EXPECT_EQ(w.authorized.size(), 1u);
    w.m.grant(k1, good_definition());  // still a connecting session
    EXPECT_EQ(w.state("10.10.2.2"), SessionState::pending);
    w.at(5s);
    w.m.call_failed(k1, 2, 0);
    EXPECT_EQ(w.state("10.10.2.2"), SessionState::dormant);
    EXPECT_EQ(w.authorized.size(), 1u);
    EXPECT_EQ(w.m.session_timer(K("default", "10.10.0.0/16", "10.10.2.2"))->second, 300s);
    w.at(6s);
    EXPECT_EQ(w.trig("10.10.2.2"), TriggerOutcome::buffered);
    EXPECT_EQ(w.state("10.10.2.2"), SessionState::authenticating);
    const std::string g = w.golden();
    EXPECT_NE(g.find("+1.000000s dialout.session default/10.10.0.0/16/10.10.2.2:  -> pending on trigger (cause=10.10.2.2 buffered 1/4)\n"
                     "+1.000000s dialout.session default/10.10.0.0/16/10.10.2.2: pending -> pending on trigger (cause=10.10.2.2 discarded in pending)\n"),
              std::string::npos) << g;
    EXPECT_NE(g.find("+5.000000s dialout.session default/10.10.0.0/16/10.10.1.1: connecting -> inhibited on call-failed (cause=call-failed: result 2 q931 0) [timer inhibited=30s]\n"
                     "+5.000000s dialout.session default/10.10.0.0/16/10.10.2.2: pending -> dormant on slot-available (cause=connecting sessions below the maximum) [timer dormant=5m]\n"
                     "+6.000000s dialout.session default/10.10.0.0/16/10.10.2.2: dormant -> authenticating on trigger (cause=10.10.2.2 buffered 1/4) [timer trigger=30s]\n"),
              std::string::npos) << g;
    EXPECT_EQ(w.m.show_targets()[0]["counters"]["discarded_by"]["pending"], 2);  // 1 in pending + 1 buffered dropped
}

TEST(DialOutPending, MaximumTwoStraightToAuthenticating) {
    ChassisConfig c;
    c.max_connecting_sessions = 2;
    c.pending_to_authenticating = true;
    World w(c);
    w.trig("10.10.1.1");
    w.trig("10.10.1.2");
    w.trig("10.10.1.3");
    w.trig("10.10.1.4");
    EXPECT_EQ(w.m.connecting_sessions(), 2u);
    EXPECT_EQ(w.state("10.10.1.3"), SessionState::pending);
    EXPECT_EQ(w.state("10.10.1.4"), SessionState::pending);
    EXPECT_EQ(w.m.show_chassis()["pending_sessions"], 2);
    w.m.deny(k1, DenyReason::access_reject);  // one slot frees: the oldest pending authenticates
    EXPECT_EQ(w.state("10.10.1.3"), SessionState::authenticating);
    EXPECT_EQ(w.state("10.10.1.4"), SessionState::pending);
    ASSERT_EQ(w.authorized.size(), 3u);
    EXPECT_EQ(w.authorized[2].second, "0.0.0.0:65000/10.10.1.3@L2TP-dial-out.de.dt");
    EXPECT_EQ(w.m.connecting_sessions(), 2u);
    // 10.10.1.3 kept its buffered trigger and releases it on inService.
    const auto k3 = K("default", "10.10.0.0/16", "10.10.1.3");
    w.m.grant(k3, good_definition());
    w.m.access_route_installed(k3, {P("10.10.1.0/24")});
    EXPECT_EQ(w.state("10.10.1.3"), SessionState::inService);
    EXPECT_EQ(w.state("10.10.1.4"), SessionState::authenticating);
    ASSERT_EQ(w.forwarded.size(), 1u);
    EXPECT_EQ(w.forwarded[0].first, k3);
}

// ---- failed and reset (Table 77) ---------------------------------------------------------------

TEST(DialOutFailed, RouteMismatchBuffersThenResetGolden) {
    ChassisConfig c;
    c.trigger_buffer = 2;
    World w(c);
    w.trig("10.10.1.1");
    w.m.grant(k1, good_definition());
    w.m.call_connected(k1);
    w.at(2s);
    w.m.access_route_installed(k1, {P("10.20.0.0/16")});
    EXPECT_EQ(w.state("10.10.1.1"), SessionState::failed);
    EXPECT_FALSE(w.m.session_timer(k1));
    // The trigger buffered in authenticating is still held (never forwarded): one more fits.
    EXPECT_EQ(w.trig("10.10.1.1"), TriggerOutcome::buffered);
    EXPECT_EQ(w.trig("10.10.1.1"), TriggerOutcome::discarded);  // limit 2
    EXPECT_EQ(w.trig("10.10.1.1"), TriggerOutcome::discarded);
    w.at(1000s);
    EXPECT_EQ(w.state("10.10.1.1"), SessionState::failed);  // no timer leaves failed
    w.m.call_closed(k1);                                    // not even the call closing
    EXPECT_EQ(w.state("10.10.1.1"), SessionState::failed);
    w.m.session_reset(k1);
    EXPECT_EQ(w.state("10.10.1.1"), SessionState::dormant);
    EXPECT_TRUE(w.cleared.empty());  // the call had already closed
    EXPECT_THROW(w.m.session_reset(K("default", "10.10.0.0/16", "10.10.9.9")), DialOutError);
    const auto t = w.m.show_targets()[0]["counters"];
    EXPECT_EQ(t["failures"]["route-mismatch"], 1);
    EXPECT_EQ(t["discarded_by"]["buffer-full"], 2);
    EXPECT_EQ(t["discarded_by"]["reset"], 2);
    EXPECT_EQ(w.golden(),
              "+0.000000s dialout.session default/10.10.0.0/16/10.10.1.1:  -> authenticating on trigger (cause=10.10.1.1 buffered 1/2) [timer trigger=30s]\n"
              "+0.000000s dialout.session default/10.10.0.0/16/10.10.1.1: authenticating -> connecting on aaa-grant (cause=Access-Accept LAC 192.0.2.2) [timer trigger=30s]\n"
              "+0.000000s dialout.session default/10.10.0.0/16/10.10.1.1: connecting -> connecting on call-connected (cause=outgoing call connected)\n"
              "+2.000000s dialout.session default/10.10.0.0/16/10.10.1.1: connecting -> failed on route-mismatch (cause=access route 10.20.0.0/16 does not forward 10.10.1.1)\n"
              "+2.000000s dialout.session default/10.10.0.0/16/10.10.1.1: failed -> failed on trigger (cause=10.10.1.1 buffered 2/2)\n"
              "+2.000000s dialout.session default/10.10.0.0/16/10.10.1.1: failed -> failed on trigger (cause=10.10.1.1 discarded: buffer full)\n"
              "+2.000000s dialout.session default/10.10.0.0/16/10.10.1.1: failed -> failed on trigger (cause=10.10.1.1 discarded: buffer full)\n"
              "+1000.000000s dialout.session default/10.10.0.0/16/10.10.1.1: failed -> failed on call-closed (cause=call closed)\n"
              "+1000.000000s dialout.session default/10.10.0.0/16/10.10.1.1: failed -> dormant on reset (cause=l2tp dial-out session reset) [timer dormant=5m]\n");
}

TEST(DialOutFailed, ResetWhileCallUpClearsTheCall) {
    World w;
    w.trig("10.10.1.1");
    w.m.grant(k1, good_definition());
    w.m.access_route_installed(k1, {});
    ASSERT_EQ(w.state("10.10.1.1"), SessionState::failed);
    w.m.session_reset(k1);
    ASSERT_EQ(w.cleared.size(), 1u);
    EXPECT_EQ(w.cleared[0].second, "session reset");
    w.m.session_reset(k1);  // reset of a dormant session deletes it
    EXPECT_FALSE(w.state("10.10.1.1"));
}

// ---- trigger buffering per state --------------------------------------------------------------

TEST(DialOutTrigger, BufferLimitsAndDiscardCountingPerState) {
    ChassisConfig c;
    c.trigger_buffer = 2;
    c.trigger_max_bytes = 100;
    World w(c);
    EXPECT_EQ(w.trig("10.10.1.1"), TriggerOutcome::buffered);
    EXPECT_EQ(w.trig("10.10.1.1", "default", 200), TriggerOutcome::discarded);  // too long
    EXPECT_EQ(w.trig("10.10.1.1"), TriggerOutcome::buffered);
    EXPECT_EQ(w.trig("10.10.1.1"), TriggerOutcome::discarded);  // buffer full
    w.m.grant(k1, good_definition());
    EXPECT_EQ(w.trig("10.10.1.1"), TriggerOutcome::discarded);  // connecting
    w.m.call_failed(k1, 2);                                     // buffered ones dropped
    EXPECT_EQ(w.trig("10.10.1.1"), TriggerOutcome::discarded);  // inhibited
    const auto s = w.m.show_session(k1);
    EXPECT_EQ(s["counters"]["triggers_received"], 6);
    EXPECT_EQ(s["counters"]["triggers_buffered"], 2);
    EXPECT_EQ(s["counters"]["triggers_discarded"], 6);  // 4 on arrival + 2 dropped on inhibition
    const auto t = w.m.show_targets()[0]["counters"]["discarded_by"];
    EXPECT_EQ(t["too-long"], 1);
    EXPECT_EQ(t["buffer-full"], 1);
    EXPECT_EQ(t["connecting"], 1);
    EXPECT_EQ(t["inhibited"], 3);
    EXPECT_TRUE(w.forwarded.empty());
}

// ---- access route narrower than the dial-out route (JunosE "L2TP Dial-Out" "Route Installation") -------------

TEST(DialOutRoute, NarrowAccessRouteLeavesOtherDestinationsTriggering) {
    World w;
    w.trig("10.10.1.1");
    w.m.grant(k1, good_definition());
    w.m.access_route_installed(k1, {P("10.10.1.0/24"), P("192.0.2.77/32")});
    ASSERT_EQ(w.state("10.10.1.1"), SessionState::inService);
    EXPECT_EQ(w.trig("10.10.1.7"), TriggerOutcome::forwarded);  // covered by the access route
    EXPECT_FALSE(w.state("10.10.1.7"));
    EXPECT_EQ(w.trig("10.10.2.1"), TriggerOutcome::buffered);  // outside: a new dial-out session
    EXPECT_EQ(w.state("10.10.2.1"), SessionState::authenticating);
    ASSERT_EQ(w.authorized.size(), 2u);
    EXPECT_EQ(w.authorized[1].second, "0.0.0.0:65000/10.10.2.1@L2TP-dial-out.de.dt");
    // Once the call closes the access route is withdrawn: 10.10.1.7 triggers its own session.
    w.m.call_closed(k1);
    EXPECT_EQ(w.trig("10.10.1.7"), TriggerOutcome::buffered);
    EXPECT_EQ(w.state("10.10.1.7"), SessionState::authenticating);
    EXPECT_EQ(w.m.show_targets()[0]["counters"]["triggers_forwarded"], 2);  // buffered one + 10.10.1.7
}

// ---- two virtual routers with the same prefix ---------------------------------------------------

TEST(DialOutVr, TwoVirtualRoutersSamePrefixAreIndependent) {
    World w;
    w.m.add_target({"vr2", P("10.10.0.0/16"), "other.example", "dialout-default", "65001:7"});
    w.m.vr_operational("vr2", true);
    w.trig("10.10.1.1");
    w.trig("10.10.1.1", "vr2");
    ASSERT_EQ(w.authorized.size(), 2u);
    EXPECT_EQ(w.authorized[0].first.vr, "default");
    EXPECT_EQ(w.authorized[1].first.vr, "vr2");
    EXPECT_EQ(w.authorized[1].second, "65001:7/10.10.1.1@other.example");
    const auto k2 = K("vr2", "10.10.0.0/16", "10.10.1.1");
    w.m.deny(k2, DenyReason::access_reject);
    EXPECT_EQ(w.m.session_state(k2), SessionState::inhibited);
    EXPECT_EQ(w.state("10.10.1.1"), SessionState::authenticating);
    EXPECT_EQ(w.m.session_count(), 2u);
}

TEST(DialOutVr, LongestPrefixMatchWithinAVirtualRouter) {
    World w;
    w.m.add_target({"default", P("10.10.1.0/24"), "narrow.example", "dialout-default", ""});
    w.trig("10.10.1.1");
    w.trig("10.10.2.1");
    ASSERT_EQ(w.authorized.size(), 2u);
    EXPECT_EQ(w.authorized[0].first.target, P("10.10.1.0/24"));
    EXPECT_EQ(w.authorized[0].second, "10.10.1.1@narrow.example");
    EXPECT_EQ(w.authorized[1].first.target, P("10.10.0.0/16"));
}

TEST(DialOutVr, InitPendingAndDownDiscardTriggersGolden) {
    World w;
    EventRecorder vrrec(w.bus, {"dialout.vr", ""});
    w.m.add_target({"vr2", P("10.10.0.0/16"), "d", "dialout-default", ""});
    EXPECT_EQ(w.m.vr_state("vr2"), VrState::initPending);
    EXPECT_EQ(w.trig("10.10.1.1", "vr2"), TriggerOutcome::vr_not_in_service);
    w.m.vr_operational("vr2", true);
    w.m.vr_interface("vr2", false);
    EXPECT_EQ(w.m.vr_state("vr2"), VrState::down);
    EXPECT_EQ(w.trig("10.10.1.1", "vr2"), TriggerOutcome::vr_not_in_service);
    w.m.vr_interface("vr2", true);
    EXPECT_EQ(w.trig("10.10.1.1", "vr2"), TriggerOutcome::buffered);
    w.m.vr_interface("vr2", true);  // not permitted in inService
    w.m.vr_operational("vr2", false);
    EXPECT_EQ(vrrec.text(),
              "+0.000000s dialout.vr vr2: initPending -> inService on vr-operational (cause=virtual router operational)\n"
              "+0.000000s dialout.vr vr2: inService -> down on interface-down (cause=dial-out interface down)\n"
              "+0.000000s dialout.vr vr2: down -> inService on interface-up (cause=dial-out interface up)\n"
              "+0.000000s dialout.vr vr2: inService: interface-up NOT PERMITTED (cause=dial-out interface up)\n"
              "+0.000000s dialout.vr vr2: inService -> initPending on vr-not-operational (cause=virtual router not operational)\n");
    const auto v = w.m.show_virtual_routers("vr2")[0];
    EXPECT_EQ(v["state"], "initPending");
    EXPECT_EQ(v["counters"]["discarded_by"]["vr-initPending"], 1);
    EXPECT_EQ(v["counters"]["discarded_by"]["vr-down"], 1);
}

// ---- target inhibited / down (Table 73) --------------------------------------------------------

TEST(DialOutTarget, InhibitedAndDownDiscardTriggersButSpareRunningSessions) {
    World w;
    EventRecorder trec(w.bus, {"dialout.target", ""});
    const auto net = P("10.10.0.0/16");
    w.trig("10.10.1.1");
    w.m.grant(k1, good_definition());  // connecting
    w.m.target_condition("default", net, Manager::TargetCondition::resources_exhausted);
    EXPECT_EQ(w.m.target_state("default", net), TargetState::inhibited);
    EXPECT_EQ(w.trig("10.10.2.2"), TriggerOutcome::target_not_in_service);
    EXPECT_FALSE(w.state("10.10.2.2"));
    w.m.access_route_installed(k1, {P("10.10.1.1/32")});  // the connecting session is unaffected
    EXPECT_EQ(w.state("10.10.1.1"), SessionState::inService);
    EXPECT_EQ(w.trig("10.10.1.1"), TriggerOutcome::forwarded);
    w.m.target_condition("default", net, Manager::TargetCondition::route_create_failed);
    EXPECT_EQ(w.m.target_state("default", net), TargetState::down);
    EXPECT_EQ(w.trig("10.10.2.2"), TriggerOutcome::target_not_in_service);
    w.m.target_condition("default", net, Manager::TargetCondition::resources_available);
    EXPECT_EQ(w.trig("10.10.2.2"), TriggerOutcome::buffered);
    w.m.target_condition("default", net, Manager::TargetCondition::resources_available);  // not permitted
    EXPECT_EQ(trec.text(),
              "+0.000000s dialout.target default/10.10.0.0/16: inService -> inhibited on resources-exhausted (cause=insufficient resources to handle triggers)\n"
              "+0.000000s dialout.target default/10.10.0.0/16: inhibited -> down on route-create-failed (cause=cannot create the dial-out route)\n"
              "+0.000000s dialout.target default/10.10.0.0/16: down -> inService on resources-available (cause=resources available)\n"
              "+0.000000s dialout.target default/10.10.0.0/16: inService: resources-available NOT PERMITTED (cause=resources available)\n");
    const auto t = w.m.show_targets()[0]["counters"]["discarded_by"];
    EXPECT_EQ(t["target-inhibited"], 1);
    EXPECT_EQ(t["target-down"], 1);
    // inhibited -> inService directly as well.
    w.m.target_condition("default", net, Manager::TargetCondition::resources_exhausted);
    w.m.target_condition("default", net, Manager::TargetCondition::resources_available);
    EXPECT_EQ(w.m.target_state("default", net), TargetState::inService);
    EXPECT_THROW(w.m.target_condition("default", P("10.99.0.0/16"), Manager::TargetCondition::resources_available),
                 DialOutError);
}

// Table 73 down: one transition with the daemon's cause; a route that still fails while the target
// is down (retried at every link-up) makes no further event, only a count.
TEST(DialOutTarget, RouteThatStillFailsWhileDownIsOneTransitionWithItsCause) {
    World w;
    EventRecorder trec(w.bus, {"dialout.target", ""});
    const auto net = P("10.10.0.0/16");
    const char* why = "add route 10.10.0.0/16 dev dlo0 table 254: Network is down";
    for (int i = 0; i < 3; ++i)
        w.m.target_condition("default", net, Manager::TargetCondition::route_create_failed, why);
    EXPECT_EQ(w.m.target_state("default", net), TargetState::down);
    w.m.target_condition("default", net, Manager::TargetCondition::resources_available);
    EXPECT_EQ(trec.text(),
              "+0.000000s dialout.target default/10.10.0.0/16: inService -> down on route-create-failed (cause=add route 10.10.0.0/16 dev dlo0 table 254: Network is down)\n"
              "+0.000000s dialout.target default/10.10.0.0/16: down -> inService on resources-available (cause=resources available)\n");
    EXPECT_EQ(w.m.show_targets()[0]["route_failures_while_down"], 2);
}

// ---- target inhibited by the limits (Table 73, driven by the caps and the trigger budget) -------

TEST(DialOutTargetLimits, SessionCapInhibitsOnceAndRecoversWhenASessionBecomesDormant) {
    ChassisConfig c;
    c.max_sessions_per_target = 2;
    World w(c);
    EventRecorder trec(w.bus, {"dialout.target", ""});
    const auto net = P("10.10.0.0/16");
    EXPECT_EQ(w.trig("10.10.1.1"), TriggerOutcome::buffered);
    EXPECT_EQ(w.trig("10.10.2.2"), TriggerOutcome::buffered);
    // A trigger flood to new destinations: one transition, no session, every trigger counted.
    for (int i = 0; i < 100; ++i) {
        const std::string d = "10.10.3." + std::to_string(i);
        EXPECT_EQ(w.trig(d.c_str()), TriggerOutcome::target_not_in_service);
    }
    EXPECT_EQ(w.m.session_count(), 2u);
    EXPECT_EQ(w.m.target_state("default", net), TargetState::inhibited);
    EXPECT_EQ(w.authorized.size(), 2u);
    // A session that goes dormant (here by reset) can be evicted: the resource is free at once, not
    // after the dormant timer (300 s).
    w.at(10s);
    w.m.session_reset(k1);
    EXPECT_EQ(w.m.target_state("default", net), TargetState::inService);
    EXPECT_EQ(w.m.session_count(), 2u);
    EXPECT_EQ(w.trig("10.10.4.4"), TriggerOutcome::buffered);
    EXPECT_EQ(w.state("10.10.1.1"), std::nullopt);  // evicted
    EXPECT_EQ(trec.text(),
              "+0.000000s dialout.target default/10.10.0.0/16: inService -> inhibited on session-cap-reached (cause=2 sessions (max-sessions-per-target 2), 2 in the virtual router (max-sessions-per-virtual-router 4000))\n"
              "+10.000000s dialout.target default/10.10.0.0/16: inhibited -> inService on sessions-below-cap (cause=2 sessions, 2 in the virtual router, 1 dormant: room under the caps)\n");
    const auto t = w.m.show_targets()[0]["counters"]["discarded_by"];
    EXPECT_EQ(t["session-cap"], 1);
    EXPECT_EQ(t["target-inhibited"], 99);
    EXPECT_EQ(w.m.show_chassis()["counters"]["discarded_by"]["session-cap"], 1);
}

// A target at its cap after a trigger flood: once its sessions are dormant (JunosE "L2TP Dial-Out"
// Table 74: no call, no AAA request, kept only for analysis) they no longer hold it inhibited for
// their 300 s; a trigger to a new destination deletes the oldest dormant session and is served.
TEST(DialOutTargetLimits, OldestDormantSessionIsEvictedAtTheSessionCap) {
    ChassisConfig c;
    c.max_sessions_per_target = 2;
    World w(c);
    EventRecorder trec(w.bus, {"dialout.target", ""});
    const auto net = P("10.10.0.0/16");
    const auto k2 = K("default", "10.10.0.0/16", "10.10.2.2");
    EXPECT_EQ(w.trig("10.10.1.1"), TriggerOutcome::buffered);
    EXPECT_EQ(w.trig("10.10.2.2"), TriggerOutcome::buffered);
    for (int i = 0; i < 50; ++i) {
        const std::string d = "10.10.3." + std::to_string(i);
        EXPECT_EQ(w.trig(d.c_str()), TriggerOutcome::target_not_in_service);
    }
    w.m.deny(k1, DenyReason::access_reject);  // inhibited 30 s, postInhibited 56 s: dormant at 86 s
    w.at(5s);
    w.m.deny(k2, DenyReason::access_reject);  // dormant at 91 s
    // inhibited and postInhibited sessions are a back-off, not room: still inhibited.
    w.at(85s);
    EXPECT_EQ(w.m.target_state("default", net), TargetState::inhibited);
    EXPECT_EQ(w.trig("10.10.4.4"), TriggerOutcome::target_not_in_service);
    w.at(86s);
    EXPECT_EQ(w.state("10.10.1.1"), SessionState::dormant);
    EXPECT_EQ(w.m.target_state("default", net), TargetState::inService);
    w.at(100s);
    EXPECT_EQ(w.trig("10.10.5.5"), TriggerOutcome::buffered);  // served: 10.10.1.1 (oldest dormant) deleted
    EXPECT_EQ(w.state("10.10.1.1"), std::nullopt);
    EXPECT_EQ(w.state("10.10.2.2"), SessionState::dormant);
    EXPECT_EQ(w.state("10.10.5.5"), SessionState::authenticating);
    EXPECT_EQ(w.m.session_count(), 2u);
    EXPECT_EQ(w.trig("10.10.6.6"), TriggerOutcome::buffered);  // 10.10.2.2 goes too
    EXPECT_EQ(w.state("10.10.2.2"), std::nullopt);
    // Nothing dormant left: the cap inhibits again, once.
    EXPECT_EQ(w.trig("10.10.7.7"), TriggerOutcome::target_not_in_service);
    EXPECT_EQ(w.m.target_state("default", net), TargetState::inhibited);
    EXPECT_EQ(trec.text(),
              "+0.000000s dialout.target default/10.10.0.0/16: inService -> inhibited on session-cap-reached (cause=2 sessions (max-sessions-per-target 2), 2 in the virtual router (max-sessions-per-virtual-router 4000))\n"
              "+86.000000s dialout.target default/10.10.0.0/16: inhibited -> inService on sessions-below-cap (cause=2 sessions, 2 in the virtual router, 1 dormant: room under the caps)\n"
              "+100.000000s dialout.target default/10.10.0.0/16: inService -> inhibited on session-cap-reached (cause=2 sessions (max-sessions-per-target 2), 2 in the virtual router (max-sessions-per-virtual-router 4000))\n");
    const std::string g = w.golden();
    EXPECT_NE(g.find("+100.000000s dialout.session default/10.10.0.0/16/10.10.1.1: dormant -> dormant on evict (cause=evicted for 10.10.5.5: 2 sessions (max-sessions-per-target 2), 2 in the virtual router (max-sessions-per-virtual-router 4000))\n"
                     "+100.000000s dialout.session default/10.10.0.0/16/10.10.5.5:  -> authenticating on trigger"),
              std::string::npos)
        << g;
    EXPECT_NE(g.find("dialout.session default/10.10.0.0/16/10.10.2.2: dormant -> dormant on evict"), std::string::npos);
    const auto t = w.m.show_targets()[0]["counters"];
    EXPECT_EQ(t["sessions_evicted"], 2);
    EXPECT_EQ(t["discarded_by"]["session-cap"], 2);
    EXPECT_EQ(w.m.show_chassis()["counters"]["sessions_evicted"], 2);
    EXPECT_EQ(w.m.show_virtual_routers("default")[0]["counters"]["sessions_evicted"], 2);
}

// Only dormant sessions are evicted: failed (kept until reset), inhibited / postInhibited
// (back-off), pending (queued), authenticating / connecting / inService (a call in progress) stay.
TEST(DialOutTargetLimits, OnlyDormantSessionsAreEvicted) {
    ChassisConfig c;
    c.max_sessions_per_target = 3;
    World w(c);
    const auto k2 = K("default", "10.10.0.0/16", "10.10.2.2");
    const auto k3 = K("default", "10.10.0.0/16", "10.10.3.3");
    w.trig("10.10.1.1");
    w.trig("10.10.2.2");
    w.trig("10.10.3.3");
    w.m.grant(k1, good_definition());
    w.m.access_route_installed(k1, {P("10.10.9.9/32")});  // does not forward 10.10.1.1: failed
    w.m.grant(k2, good_definition());
    w.m.access_route_installed(k2, {P("10.10.2.2/32")});  // inService
    w.m.deny(k3, DenyReason::access_reject);             // inhibited, then postInhibited
    for (Duration at : {1s, 31s, 60s, 85s}) {
        w.at(at);
        EXPECT_EQ(w.trig("10.10.4.4"), TriggerOutcome::target_not_in_service) << at.count();
        EXPECT_EQ(w.m.session_count(), 3u);
    }
    EXPECT_EQ(w.state("10.10.1.1"), SessionState::failed);
    EXPECT_EQ(w.state("10.10.2.2"), SessionState::inService);
    EXPECT_EQ(w.state("10.10.3.3"), SessionState::postInhibited);
    w.at(86s);  // 10.10.3.3 dormant
    EXPECT_EQ(w.trig("10.10.4.4"), TriggerOutcome::buffered);
    EXPECT_EQ(w.state("10.10.3.3"), std::nullopt);
    EXPECT_EQ(w.state("10.10.1.1"), SessionState::failed);
    EXPECT_EQ(w.state("10.10.2.2"), SessionState::inService);
}

// At the virtual router's cap, the oldest dormant session of any of its targets makes room.
TEST(DialOutTargetLimits, VirtualRouterCapEvictsTheRoutersOldestDormantSession) {
    ChassisConfig c;
    c.max_sessions_per_target = 2;
    c.max_sessions_per_virtual_router = 2;
    World w(c);
    w.m.add_target({"default", P("172.16.0.0/12"), "b.example", "dialout-default", ""});
    const auto kb = K("default", "172.16.0.0/12", "172.16.1.1");
    w.trig("172.16.1.1");
    w.trig("10.10.1.1");
    w.m.session_reset(kb);  // dormant first
    w.m.session_reset(k1);
    EXPECT_EQ(w.trig("10.10.2.2"), TriggerOutcome::buffered);
    EXPECT_EQ(w.m.session_state(kb), std::nullopt);  // the other target's, older
    EXPECT_EQ(w.state("10.10.1.1"), SessionState::dormant);
    EXPECT_EQ(w.m.show_targets()[1]["counters"]["sessions_evicted"], 1);
}

TEST(DialOutTargetLimits, VirtualRouterCapInhibitsEveryTargetThatNeedsASession) {
    ChassisConfig c;
    c.max_sessions_per_target = 2;
    c.max_sessions_per_virtual_router = 2;
    World w(c);
    w.m.add_target({"default", P("172.16.0.0/12"), "b.example", "dialout-default", ""});
    w.m.add_target({"vr2", P("172.16.0.0/12"), "c.example", "dialout-default", ""});
    w.m.vr_operational("vr2", true);
    EventRecorder trec(w.bus, {"dialout.target", ""});
    EXPECT_EQ(w.trig("10.10.1.1"), TriggerOutcome::buffered);
    EXPECT_EQ(w.trig("172.16.1.1"), TriggerOutcome::buffered);
    EXPECT_EQ(w.trig("172.16.2.2"), TriggerOutcome::target_not_in_service);
    EXPECT_EQ(w.trig("10.10.2.2"), TriggerOutcome::target_not_in_service);
    EXPECT_EQ(w.trig("172.16.2.2", "vr2"), TriggerOutcome::buffered);  // another virtual router
    w.at(10s);
    w.m.session_reset(k1);  // k1 dormant, so evictable: both targets of the router recover
    EXPECT_EQ(w.m.target_state("default", P("10.10.0.0/16")), TargetState::inService);
    EXPECT_EQ(w.m.target_state("default", P("172.16.0.0/12")), TargetState::inService);
    EXPECT_EQ(trec.text(),
              "+0.000000s dialout.target default/172.16.0.0/12: inService -> inhibited on session-cap-reached (cause=1 sessions (max-sessions-per-target 2), 2 in the virtual router (max-sessions-per-virtual-router 2))\n"
              "+0.000000s dialout.target default/10.10.0.0/16: inService -> inhibited on session-cap-reached (cause=1 sessions (max-sessions-per-target 2), 2 in the virtual router (max-sessions-per-virtual-router 2))\n"
              "+10.000000s dialout.target default/10.10.0.0/16: inhibited -> inService on sessions-below-cap (cause=1 sessions, 2 in the virtual router, 1 dormant: room under the caps)\n"
              "+10.000000s dialout.target default/172.16.0.0/12: inhibited -> inService on sessions-below-cap (cause=1 sessions, 2 in the virtual router, 1 dormant: room under the caps)\n");
}

TEST(DialOutTargetLimits, TriggerBudgetInhibitsOnceAndRefillTimerRestoresInService) {
    ChassisConfig c;
    c.trigger_rate = 10;  // per second
    c.trigger_burst = 5;
    World w(c);
    EventRecorder trec(w.bus, {"dialout.target", ""});
    const auto net = P("10.10.0.0/16");
    for (int i = 0; i < 5; ++i) {
        const std::string d = "10.10.1." + std::to_string(i);
        EXPECT_EQ(w.trig(d.c_str()), TriggerOutcome::buffered);
    }
    for (int i = 0; i < 1000; ++i) EXPECT_EQ(w.trig("10.10.1.0"), TriggerOutcome::target_not_in_service);
    EXPECT_EQ(w.m.target_state("default", net), TargetState::inhibited);
    // A session already inService keeps forwarding: forwarded triggers take no token.
    // Empty bucket refills to the burst in 5 / 10 s = 500 ms.
    w.at(499ms);
    EXPECT_EQ(w.m.target_state("default", net), TargetState::inhibited);
    w.at(500ms);
    EXPECT_EQ(w.m.target_state("default", net), TargetState::inService);
    EXPECT_EQ(w.trig("10.10.1.9"), TriggerOutcome::buffered);
    EXPECT_EQ(trec.text(),
              "+0.000000s dialout.target default/10.10.0.0/16: inService -> inhibited on trigger-budget-exhausted (cause=trigger budget empty (trigger-rate 10/s, trigger-burst 5)) [timer trigger-refill=500ms]\n"
              "+0.500000s dialout.target default/10.10.0.0/16: inhibited -> inService on timer-expiry (cause=trigger-refill expired)\n");
    const auto t = w.m.show_targets()[0]["counters"];
    EXPECT_EQ(t["discarded_by"]["trigger-rate"], 1);
    EXPECT_EQ(t["discarded_by"]["target-inhibited"], 999);
    EXPECT_EQ(t["triggers_received"], 1006);
}

TEST(DialOutTargetLimits, ForwardedTriggersTakeNoTokenAndRefillStaysInhibitedAtTheSessionCap) {
    ChassisConfig c;
    c.trigger_rate = 1;
    c.trigger_burst = 2;
    c.max_sessions_per_target = 2;
    World w(c);
    EventRecorder trec(w.bus, {"dialout.target", ""});
    const auto net = P("10.10.0.0/16");
    w.trig("10.10.1.1");
    w.m.grant(k1, good_definition());
    w.m.access_route_installed(k1, {P("10.10.1.1/32")});
    for (int i = 0; i < 50; ++i) EXPECT_EQ(w.trig("10.10.1.1"), TriggerOutcome::forwarded);
    EXPECT_EQ(w.trig("10.10.2.2"), TriggerOutcome::buffered);             // second token
    EXPECT_EQ(w.trig("10.10.2.2"), TriggerOutcome::target_not_in_service);  // budget empty
    EXPECT_EQ(w.trig("10.10.1.1"), TriggerOutcome::forwarded);              // inService session spared
    w.at(2s);  // refilled, but two sessions = the cap: stays inhibited, now for the sessions
    EXPECT_EQ(w.m.target_state("default", net), TargetState::inhibited);
    w.at(3s);
    w.m.session_reset(K("default", "10.10.0.0/16", "10.10.2.2"));  // dormant: evictable
    EXPECT_EQ(w.m.target_state("default", net), TargetState::inService);
    EXPECT_EQ(trec.text(),
              "+0.000000s dialout.target default/10.10.0.0/16: inService -> inhibited on trigger-budget-exhausted (cause=trigger budget empty (trigger-rate 1/s, trigger-burst 2)) [timer trigger-refill=2s]\n"
              "+2.000000s dialout.target default/10.10.0.0/16: inhibited -> inhibited on timer-expiry (cause=trigger-refill expired)\n"
              "+3.000000s dialout.target default/10.10.0.0/16: inhibited -> inService on sessions-below-cap (cause=2 sessions, 2 in the virtual router, 1 dormant: room under the caps)\n");
}

TEST(DialOutPending, PendingSessionsBoundedAndDiscardsCounted) {
    ChassisConfig c;
    c.max_connecting_sessions = 1;
    c.max_pending_sessions = 2;
    World w(c);
    EXPECT_EQ(w.trig("10.10.1.1"), TriggerOutcome::buffered);  // authenticating
    EXPECT_EQ(w.trig("10.10.2.2"), TriggerOutcome::buffered);  // pending
    EXPECT_EQ(w.trig("10.10.3.3"), TriggerOutcome::buffered);  // pending
    for (int i = 0; i < 20; ++i) {
        const std::string d = "10.10.4." + std::to_string(i);
        EXPECT_EQ(w.trig(d.c_str()), TriggerOutcome::discarded);
    }
    EXPECT_EQ(w.m.session_count(), 3u);
    EXPECT_EQ(w.m.show_chassis()["pending_sessions"], 2);
    EXPECT_EQ(w.m.show_chassis()["counters"]["discarded_by"]["pending-full"], 20);
    EXPECT_EQ(w.state("10.10.4.0"), std::nullopt);
    w.m.deny(k1, DenyReason::access_reject);  // the slot frees: one pending session leaves pending
    EXPECT_EQ(w.m.show_chassis()["pending_sessions"], 1);
    EXPECT_EQ(w.state("10.10.2.2"), SessionState::dormant);
}

// ---- chassis initializationFailed (Table 71) ---------------------------------------------------

TEST(DialOutChassis, InitializationFailedRefusesConfigurationAndDialling) {
    World w;
    EventRecorder crec(w.bus, {"dialout.chassis", ""});
    w.m.chassis_initialization_failed("no memory for the dial-out session pool");
    EXPECT_EQ(w.m.chassis_state(), ChassisState::initializationFailed);
    try {
        w.m.add_target({"default", P("10.20.0.0/16"), "d", "dialout-default", ""});
        FAIL() << "add_target must fail";
    } catch (const DialOutError& e) {
        EXPECT_STREQ(e.what(),
                     "dial-out target add refused: chassis is initializationFailed (no memory for the dial-out session pool)");
    }
    EXPECT_THROW(w.m.set_profile({"p2"}), DialOutError);
    EXPECT_THROW(w.m.set_timer("trigger", 10s), DialOutError);
    EXPECT_THROW(w.m.remove_target("default", P("10.10.0.0/16")), DialOutError);
    EXPECT_THROW(w.m.load(ConfigNode::parse("trigger-buffer: 3")), DialOutError);
    EXPECT_THROW(w.m.vr_operational("x", true), DialOutError);
    EXPECT_EQ(w.trig("10.10.1.1"), TriggerOutcome::chassis_down);
    EXPECT_TRUE(w.authorized.empty());
    EXPECT_EQ(w.m.show_chassis()["state"], "initializationFailed");
    w.m.chassis_resources_available();
    EXPECT_EQ(w.trig("10.10.1.1"), TriggerOutcome::buffered);
    EXPECT_EQ(crec.text(),
              "+0.000000s dialout.chassis chassis: inService -> initializationFailed on init-failed (cause=no memory for the dial-out session pool)\n"
              "+0.000000s dialout.chassis chassis: initializationFailed -> inService on resources-available (cause=resources available)\n");
}

// ---- configuration and run-time changes -------------------------------------------------------

TEST(DialOutConfig, LoadsYaml) {
    dl::core::VirtualTimeLoop loop;
    dl::core::EventBus bus(loop.clock());
    dl::core::TimerRegistry reg;
    Manager m(bus, loop.timers(), reg, {});
    m.load(ConfigNode::parse(R"(
timers: {trigger: 20s, dormant: 10m}
max-connecting-sessions: 7
trigger-buffer: 3
pending-to-authenticating: true
max-sessions-per-target: 50
max-sessions-per-virtual-router: 60
trigger-rate: 20
trigger-burst: 40
max-pending-sessions: 9
profiles:
  isdn: {mru: 1492, authentication: pap-chap, keepalive: 10s, ipcp-dns: true}
  plain:
targets:
  - {prefix: 10.10.0.0/16, domain: L2TP-dial-out.de.dt, profile: isdn, route-distinguisher: "0.0.0.0:65000"}
  - {virtual-router: vr2, prefix: 10.10.0.0/16, domain: b.example, profile: plain}
)", "dialout.yaml"));
    EXPECT_EQ(reg.get("trigger"), 20s);
    EXPECT_EQ(reg.get("dormant"), 600s);
    EXPECT_EQ(m.chassis_config().max_connecting_sessions, 7u);
    EXPECT_EQ(m.chassis_config().trigger_buffer, 3u);
    EXPECT_TRUE(m.chassis_config().pending_to_authenticating);
    EXPECT_EQ(m.chassis_config().max_sessions_per_target, 50u);
    EXPECT_EQ(m.chassis_config().max_sessions_per_virtual_router, 60u);
    EXPECT_EQ(m.chassis_config().trigger_rate, 20u);
    EXPECT_EQ(m.chassis_config().trigger_burst, 40u);
    EXPECT_EQ(m.chassis_config().max_pending_sessions, 9u);
    const auto t = m.show_targets();
    ASSERT_EQ(t.size(), 2u);
    EXPECT_EQ(t[0]["route_distinguisher"], "0.0.0.0:65000");
    EXPECT_EQ(t[1]["virtual_router"], "vr2");
    EXPECT_EQ(m.vr_state("vr2"), VrState::initPending);
}

TEST(DialOutConfig, ErrorsNameKeyValueAndRule) {
    const std::vector<std::pair<std::string, std::string>> cases{
        {"targets: [{prefix: 10.10.0.0/16, domain: d, profile: nope}]",
         "targets[0].profile: 'nope' is not a known profile (known: p)"},
        {"targets: [{prefix: 10.10.0.0/16, domain: d, profile: p, route-distinguisher: 'x'}]",
         "targets[0].route-distinguisher: 'x' is not a route distinguisher (write ASN:nn or a.b.c.d:nn, RFC 4364 §4.2)"},
        {"targets: [{prefix: 10.10.0.0/16, domain: d, profile: p}, {prefix: 10.10.0.0/16, domain: e, profile: p}]",
         "targets[1].prefix: '10.10.0.0/16' duplicates the target default/10.10.0.0/16"},
        {"targets: [{prefix: 10.10.0.0/16, domain: '', profile: p}]", "targets[0].domain: must not be empty"},
        {"max-connecting-sessions: 0", "max-connecting-sessions: '0' is out of range [1..1000000]"},
        {"max-sessions-per-target: 0", "max-sessions-per-target: '0' is out of range [1..1000000]"},
        {"max-sessions-per-virtual-router: 0", "max-sessions-per-virtual-router: '0' is out of range [1..1000000]"},
        {"trigger-rate: 0", "trigger-rate: '0' is out of range [1..1000000]"},
        {"trigger-burst: 0", "trigger-burst: '0' is out of range [1..1000000]"},
        {"max-pending-sessions: 0", "max-pending-sessions: '0' is out of range [1..1000000]"},
        {"{max-sessions-per-target: 10, max-sessions-per-virtual-router: 5}",
         "max-sessions-per-target: '10' max-sessions-per-target (10) must not exceed max-sessions-per-virtual-router (5)"},
        {"timers: {trigger: 2h}", "timers.trigger: '2h' is above the maximum 1h"},
        {"timers: {hello: 2s}", "timers.hello: 'hello' is not a known key (known: trigger, dormant)"},
        {"frobnicate: 1", "frobnicate: 'frobnicate' is not a known key"},
    };
    for (const auto& [yaml, msg] : cases) {
        dl::core::VirtualTimeLoop loop;
        dl::core::EventBus bus(loop.clock());
        dl::core::TimerRegistry reg;
        Manager m(bus, loop.timers(), reg, {});
        m.set_profile({"p"});
        try {
            m.load(ConfigNode::parse(yaml));
            ADD_FAILURE() << "accepted: " << yaml;
        } catch (const ConfigError& e) {
            EXPECT_NE(std::string(e.what()).find(msg), std::string::npos) << e.what() << "\n  want: " << msg;
        }
        EXPECT_EQ(m.show_targets().size(), 0u) << yaml;  // nothing applied
        EXPECT_EQ(reg.get("trigger"), 30s);
    }
}

TEST(DialOutConfig, RunTimeChangesKeepSessionsInService) {
    World w;
    w.trig("10.10.1.1");
    w.m.grant(k1, good_definition());
    w.m.access_route_installed(k1, {P("10.10.1.1/32")});
    w.trig("10.10.2.2");
    w.m.grant(K("default", "10.10.0.0/16", "10.10.2.2"), good_definition());  // connecting, timer 30 s
    w.m.set_timer("trigger", 10s);
    Profile p{"dialout-default"};
    p.mru = 1400;
    w.m.set_profile(p);
    EXPECT_EQ(w.state("10.10.1.1"), SessionState::inService);
    EXPECT_EQ(w.m.session_timer(K("default", "10.10.0.0/16", "10.10.2.2"))->second, 30s);  // running timer kept
    w.at(30s);
    EXPECT_EQ(w.m.session_inhibited_value(K("default", "10.10.0.0/16", "10.10.2.2")), 10s);  // new value next time
    EXPECT_EQ(w.state("10.10.1.1"), SessionState::inService);
    EXPECT_THROW(w.m.set_timer("hello", 1s), ConfigError);
    EXPECT_THROW(w.m.set_timer("trigger", 0s), ConfigError);
}

TEST(DialOutConfig, AddAndRemoveTargetsAtRunTime) {
    World w;
    w.m.add_target({"default", P("172.16.0.0/12"), "x.example", "dialout-default", ""});
    EXPECT_THROW(w.m.add_target({"default", P("172.16.0.0/12"), "x.example", "dialout-default", ""}), ConfigError);
    EXPECT_THROW(w.m.add_target({"default", P("172.17.0.0/16"), "x", "unknown-profile", ""}), ConfigError);
    w.trig("172.16.1.1");
    w.m.grant(K("default", "172.16.0.0/12", "172.16.1.1"), good_definition());
    EXPECT_EQ(w.m.connecting_sessions(), 1u);
    w.m.remove_target("default", P("172.16.0.0/12"));
    EXPECT_EQ(w.m.connecting_sessions(), 0u);
    ASSERT_EQ(w.cleared.size(), 1u);
    EXPECT_EQ(w.cleared[0].second, "target removed");
    EXPECT_EQ(w.trig("172.16.1.1"), TriggerOutcome::no_target);
    EXPECT_THROW(w.m.remove_target("default", P("172.16.0.0/12")), DialOutError);
    w.at(100s);  // no dangling timer of the removed session fires
    EXPECT_EQ(w.m.session_count(), 0u);
}

// ---- show ------------------------------------------------------------------------------------

TEST(DialOutShow, SessionDetailAndChassis) {
    World w;
    w.trig("10.10.1.1");
    w.m.grant(k1, good_definition());
    w.at(12s);
    const auto s = w.m.show_session(k1);
    EXPECT_EQ(s["state"], "connecting");
    EXPECT_EQ(s["timer"]["name"], "trigger");
    EXPECT_EQ(s["timer"]["remaining"], "18s");
    EXPECT_EQ(s["user_name"], "0.0.0.0:65000/10.10.1.1@L2TP-dial-out.de.dt");
    EXPECT_EQ(s["lac"], "192.0.2.2");
    EXPECT_EQ(s["dial_out_number"], "0301234567");
    EXPECT_EQ(s["counters"]["attempts"], 1);
    const auto list = w.m.show_sessions();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0]["session"], "default/10.10.0.0/16/10.10.1.1");
    EXPECT_FALSE(list[0].contains("counters"));
    const auto c = w.m.show_chassis();
    EXPECT_EQ(c["state"], "inService");
    EXPECT_EQ(c["timers"]["trigger"], "30s");
    EXPECT_EQ(c["timers"]["dormant"], "5m");
    EXPECT_EQ(c["connecting_sessions"], 1);
    EXPECT_EQ(c["counters"]["triggers_received"], 1);
    EXPECT_THROW(w.m.show_session(K("default", "10.10.0.0/16", "10.10.3.3")), DialOutError);
}

TEST(DialOutShow, FootprintWithinBudget) {
    // The whole LNS budget is 8 KiB per session; the dial-out share must stay well below 1 KiB.
    EXPECT_LT(Manager::session_footprint(), 1024u);
    RecordProperty("session_bytes", static_cast<int>(Manager::session_footprint()));
}

// ---- re-entrant ports ------------------------------------------------------------------------

TEST(DialOutPorts, SynchronousAnswersFromInsidePortsAreSafe) {
    dl::core::VirtualTimeLoop loop;
    dl::core::EventBus bus(loop.clock());
    dl::core::TimerRegistry reg;
    EventRecorder rec(bus, {"dialout.session", ""});
    Manager* mp = nullptr;
    int forwarded = 0;
    Ports p;
    p.authorize = [&](const SessionKey& k, const std::string&) { mp->grant(k, good_definition()); };
    p.place_call = [&](const SessionKey& k, const DialOutDefinition&, const Profile&) {
        mp->call_connected(k);
        mp->access_route_installed(k, {k.target});
    };
    p.forward = [&](const SessionKey&, std::span<const std::uint8_t>) { ++forwarded; };
    Manager m(bus, loop.timers(), reg, p);
    mp = &m;
    m.set_profile({"p"});
    m.add_target({"default", P("10.10.0.0/16"), "d", "p", ""});
    m.vr_operational("default", true);
    EXPECT_EQ(m.trigger("default", ip("10.10.1.1")), TriggerOutcome::buffered);
    EXPECT_EQ(m.session_state(k1), SessionState::inService);
    EXPECT_EQ(forwarded, 1);
    EXPECT_EQ(rec.count("route-verified"), 1u);
    EXPECT_EQ(m.connecting_sessions(), 0u);
}

// ---- reset from every state; the table itself -------------------------------------------------

TEST(DialOutSession, ResetFromEveryStateGoesDormant) {
    struct Case {
        const char* state;
        std::function<void(World&)> drive;
        bool clears;
    };
    const std::vector<Case> cases{
        // the outstanding Access-Request is withdrawn (clear_call cancels it in lnsd)
        {"authenticating", [](World& w) { w.trig("10.10.1.1"); }, true},
        {"connecting", [](World& w) { w.trig("10.10.1.1"); w.m.grant(k1, good_definition()); }, true},
        {"inService",
         [](World& w) {
             w.trig("10.10.1.1");
             w.m.grant(k1, good_definition());
             w.m.access_route_installed(k1, {P("10.10.0.0/16")});
         },
         true},
        {"inhibited", [](World& w) { w.trig("10.10.1.1"); w.m.deny(k1, DenyReason::access_reject); }, false},
        {"postInhibited",
         [](World& w) {
             w.trig("10.10.1.1");
             w.m.deny(k1, DenyReason::access_reject);
             w.at(31s);
         },
         false},
        {"failed",
         [](World& w) {
             w.trig("10.10.1.1");
             w.m.grant(k1, good_definition());
             w.m.access_route_installed(k1, {P("10.99.0.0/16")});
         },
         true},
    };
    for (const auto& c : cases) {
        World w;
        c.drive(w);
        ASSERT_EQ(to_string(*w.state("10.10.1.1")), c.state);
        w.m.session_reset(k1);
        EXPECT_EQ(w.state("10.10.1.1"), SessionState::dormant) << c.state;
        EXPECT_EQ(w.rec.lines().back().substr(w.rec.lines().back().find(": ") + 2),
                  std::string(c.state) + " -> dormant on reset (cause=l2tp dial-out session reset) [timer dormant=5m]");
        EXPECT_EQ(w.cleared.size(), c.clears ? 1u : 0u) << c.state;
        EXPECT_EQ(*w.m.session_inhibited_value(k1), 0s);
        EXPECT_EQ(w.m.connecting_sessions(), 0u) << c.state;
    }
    // pending
    ChassisConfig one;
    one.max_connecting_sessions = 1;
    World w(one);
    w.trig("10.10.9.9");
    w.trig("10.10.1.1");
    ASSERT_EQ(w.state("10.10.1.1"), SessionState::pending);
    w.m.session_reset(k1);
    EXPECT_EQ(w.state("10.10.1.1"), SessionState::dormant);
    EXPECT_EQ(w.m.connecting_sessions(), 1u);
}

TEST(DialOutSession, ConnectingCallClosedBeforeRouteInhibits) {
    World w;
    w.trig("10.10.1.1");
    w.m.grant(k1, good_definition());
    w.m.call_connected(k1);
    w.m.call_closed(k1, "CDN result 1");
    EXPECT_EQ(w.state("10.10.1.1"), SessionState::inhibited);
    EXPECT_EQ(w.m.show_targets()[0]["counters"]["failures"]["call-closed"], 1);
}

TEST(DialOutSession, UnknownUpcallsAreCountedAndIgnored) {
    World w;
    const auto k = K("default", "10.10.0.0/16", "10.10.7.7");
    w.m.grant(k, good_definition());
    w.m.deny(k, DenyReason::access_reject);
    w.m.call_connected(k);
    w.m.call_failed(k, 2);
    w.m.call_closed(k);
    w.m.access_route_installed(k, {});
    EXPECT_EQ(w.m.show_chassis()["unknown_upcalls"], 6);
    EXPECT_EQ(w.m.session_count(), 0u);
}

TEST(DialOutSession, TableMatchesTables74And77) {
    EXPECT_EQ(Manager::session_table(),
              "authenticating + trigger -> authenticating (action)\n"
              "authenticating + aaa-grant -> connecting (action)\n"
              "authenticating + aaa-deny -> inhibited (action)\n"
              "authenticating + timer-expiry -> inhibited (action)\n"
              "authenticating + reset -> dormant (action)\n"
              "connecting + trigger -> connecting (action)\n"
              "connecting + call-connected -> connecting (action)\n"
              "connecting + route-verified -> inService (action)\n"
              "connecting + route-mismatch -> failed (action)\n"
              "connecting + call-failed -> inhibited (action)\n"
              "connecting + call-closed -> inhibited (action)\n"
              "connecting + timer-expiry -> inhibited (action)\n"
              "connecting + reset -> dormant (action)\n"
              "inService + trigger -> inService (action)\n"
              "inService + call-closed -> dormant (action)\n"
              "inService + reset -> dormant (action)\n"
              "inhibited + trigger -> inhibited (action)\n"
              "inhibited + timer-expiry -> postInhibited (action)\n"
              "inhibited + reset -> dormant (action)\n"
              "postInhibited + trigger -> authenticating (action)\n"
              "postInhibited + timer-expiry -> postInhibited (action)\n"
              "postInhibited + reset -> dormant (action)\n"
              "dormant + trigger -> authenticating (action)\n"
              "dormant + timer-expiry -> dormant (action)\n"
              "dormant + reset -> dormant (action)\n"
              "dormant + evict -> dormant (action)\n"
              "pending + trigger -> pending (action)\n"
              "pending + slot-available -> dormant (action)\n"
              "pending + reset -> dormant (action)\n"
              "failed + trigger -> failed (action)\n"
              "failed + call-closed -> failed (action)\n"
              "failed + reset -> dormant (action)\n");
}

// ---- paged listings (show l2tp dial-out session / target with limit, after) ---------------------

TEST(DialOutShow, SessionsAndTargetsPageInKeyOrderAfterAKey) {
    World w;
    w.m.add_target({"default", P("10.10.1.0/24"), "d", "dialout-default", ""});
    w.m.add_target({"default", P("172.16.0.0/12"), "d", "dialout-default", ""});
    for (const char* d : {"172.16.0.1", "10.10.3.3", "10.10.1.2", "10.10.2.1", "10.10.1.1"})
        ASSERT_EQ(w.trig(d), TriggerOutcome::buffered) << d;
    // Longest prefix first within a virtual router, then by destination.
    const std::vector<std::string> order{"default/10.10.1.0/24/10.10.1.1", "default/10.10.1.0/24/10.10.1.2",
                                         "default/10.10.0.0/16/10.10.2.1", "default/10.10.0.0/16/10.10.3.3",
                                         "default/172.16.0.0/12/172.16.0.1"};
    std::vector<std::string> seen;
    nlohmann::json page = w.m.show_sessions(false, dl::core::ListPage::parse({{"limit", 2}}));
    for (int pages = 1;; ++pages) {
        ASSERT_LE(pages, 3);
        EXPECT_EQ(page["total"], 5);
        for (const auto& s : page["items"]) seen.push_back(s["session"]);
        if (page["next"].is_null()) break;
        EXPECT_EQ(page["next"], seen.back());
        page = w.m.show_sessions(false, dl::core::ListPage::parse({{"limit", 2}, {"after", page["next"]}}));
    }
    EXPECT_EQ(seen, order);
    // A key whose target is not there (10.10.0.0/20 would come between /24 and /16): from the next target on.
    const auto gap = w.m.show_sessions(false, dl::core::ListPage::parse({{"after", "default/10.10.0.0/20/10.10.0.5"}}));
    ASSERT_EQ(gap["items"].size(), 3u) << gap.dump();
    EXPECT_EQ(gap["items"][0]["session"], order[2]);
    EXPECT_EQ(w.m.show_sessions(false, dl::core::ListPage::parse({{"after", "a/10.0.0.0/8/10.0.0.1"}}))["items"].size(), 5u);
    EXPECT_TRUE(w.m.show_sessions(false, dl::core::ListPage::parse({{"after", "z/10.0.0.0/8/10.0.0.1"}}))["items"].empty());
    try {
        w.m.show_sessions(false, dl::core::ListPage::parse({{"after", "default/10.10.1.1"}}));
        ADD_FAILURE() << "a key that is not a session key was accepted";
    } catch (const dl::core::ControlArgError& e) {
        EXPECT_EQ(e.param(), "after");
    }
    // Unpaged, the plain array as before.
    EXPECT_EQ(w.m.show_sessions(false, dl::core::ListPage{}).size(), 5u);

    const auto t1 = w.m.show_targets("", dl::core::ListPage::parse({{"limit", 1}}));
    ASSERT_EQ(t1["items"].size(), 1u);
    EXPECT_EQ(t1["total"], 3);
    EXPECT_EQ(t1["next"], "default/10.10.1.0/24");
    const auto t2 = w.m.show_targets("", dl::core::ListPage::parse({{"limit", 5}, {"after", t1["next"]}}));
    ASSERT_EQ(t2["items"].size(), 2u);
    EXPECT_EQ(t2["items"][0]["target"], "default/10.10.0.0/16");
    EXPECT_EQ(t2["items"][1]["target"], "default/172.16.0.0/12");
    EXPECT_TRUE(t2["next"].is_null());
    EXPECT_THROW(w.m.show_targets("", dl::core::ListPage::parse({{"after", "default/10.10.1.1/24"}})),
                 dl::core::ControlArgError);
    EXPECT_TRUE(w.m.show_targets("other", dl::core::ListPage::parse({{"limit", 5}}))["items"].empty());
}
