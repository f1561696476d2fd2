// The per-call session FSM in virtual time: golden event logs of each path through the table
// (dial-out, incoming with and without proxy authentication at AAA, the ends) and the rules the
// owner relies on (teardown once, after the state is closing; nothing after destruction).
#include "dl/session/call.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "dl/core/event.hpp"
#include "dl/core/timer_queue.hpp"

using namespace dl::session;
using namespace std::chrono_literals;
using dl::core::EventRecorder;

namespace {

struct World {
    dl::core::VirtualTimeLoop loop;
    dl::core::EventBus bus{loop.clock()};
    dl::core::FsmEnv env{&bus, &loop.timers(), nullptr};
    std::vector<CloseOrder> closed;
    std::vector<CallState> state_at_close;
    std::function<void(CallSession&)> on_close;  ///< re-entrant inputs from the teardown
    CallPorts ports{[this](CallSession& c, const CloseOrder& o) {
        closed.push_back(o);
        state_at_close.push_back(c.state());
        if (on_close) on_close(c);
    }};

    std::unique_ptr<CallSession> make(CallDirection d, CallState s, std::uint64_t id = 7) {
        return std::make_unique<CallSession>(env, ports, id, d, s);
    }
};

TEST(CallSession, DialOutGoldenLog) {
    World w;
    EventRecorder rec(w.bus, {"session.call", ""});
    auto c = w.make(CallDirection::dial_out, CallState::placing);
    c->start("default/10.0.0.0/8/10.1.2.3");
    EXPECT_TRUE(c->live());
    EXPECT_FALSE(c->carries_ipv4());
    EXPECT_TRUE(c->l2tp_up("lac 192.0.2.2"));
    EXPECT_TRUE(c->network_up("peer 10.1.2.3"));
    EXPECT_TRUE(c->carries_ipv4());
    EXPECT_TRUE(c->network_up("IPCP again"));  // routes re-installed; still network-up
    EXPECT_TRUE(c->clear({"session reset", true}));
    EXPECT_EQ(c->state(), CallState::closing);
    EXPECT_FALSE(c->live());
    EXPECT_FALSE(c->carries_ipv4());
    ASSERT_EQ(w.closed.size(), 1u);
    EXPECT_EQ(w.closed[0].reason, "session reset");
    EXPECT_TRUE(w.closed[0].tell_manager);
    EXPECT_FALSE(w.closed[0].l2tp_gone);
    EXPECT_EQ(w.state_at_close[0], CallState::closing) << "the teardown sees the call closing";
    EXPECT_EQ(rec.text(),
              "+0.000000s session.call 7:  -> placing on place (cause=default/10.0.0.0/8/10.1.2.3)\n"
              "+0.000000s session.call 7: placing -> ppp on l2tp-up (cause=lac 192.0.2.2)\n"
              "+0.000000s session.call 7: ppp -> network-up on network-up (cause=peer 10.1.2.3)\n"
              "+0.000000s session.call 7: network-up -> network-up on network-up (cause=IPCP again)\n"
              "+0.000000s session.call 7: network-up -> closing on clear (cause=session reset)\n");
}

TEST(CallSession, OutgoingCallFailsWithoutTeardown) {
    World w;
    auto c = w.make(CallDirection::dial_out, CallState::placing);
    c->start("k");
    EXPECT_FALSE(c->network_up("too early")) << "no IPCP before the call is up";
    EXPECT_TRUE(c->call_failed("CDN result 2"));
    EXPECT_EQ(c->state(), CallState::failed);
    EXPECT_FALSE(c->live());
    EXPECT_FALSE(c->clear({"late clear"}));
    EXPECT_TRUE(w.closed.empty()) << "a failed call holds nothing to tear down";
}

TEST(CallSession, ClearWhilePlacing) {
    World w;
    auto c = w.make(CallDirection::dial_out, CallState::placing);
    c->start("k");
    EXPECT_TRUE(c->clear({"replaced"}));
    ASSERT_EQ(w.closed.size(), 1u);
    EXPECT_EQ(w.closed[0].reason, "replaced");
    EXPECT_FALSE(c->l2tp_up("OCCN after the clear")) << "a late OCCN does not revive the call";
}

TEST(CallSession, LinkDownTearsDownOnTheNextTurn) {
    World w;
    EventRecorder rec(w.bus, {"session.call", ""});
    auto c = w.make(CallDirection::incoming, CallState::ppp, 3);
    c->start("ICCN 1/2");
    ASSERT_TRUE(c->network_up("IPCP"));
    EXPECT_TRUE(c->link_down({"PPP: echo timeout", true, dl::l2tp::CdnResult::LossOfCarrier}));
    EXPECT_EQ(c->state(), CallState::releasing);
    EXPECT_FALSE(c->carries_ipv4());
    EXPECT_TRUE(c->live());
    EXPECT_TRUE(w.closed.empty()) << "never inside the PPP link's own callback";
    EXPECT_EQ(c->fsm().timer_name(), "call-release");
    EXPECT_FALSE(c->link_down({"again"})) << "one end per call";
    w.loop.run_until_idle();
    EXPECT_EQ(c->state(), CallState::closing);
    ASSERT_EQ(w.closed.size(), 1u);
    EXPECT_EQ(w.closed[0].reason, "PPP: echo timeout");
    EXPECT_EQ(w.closed[0].cdn, dl::l2tp::CdnResult::LossOfCarrier);
    EXPECT_TRUE(w.closed[0].tell_manager);
    EXPECT_EQ(rec.text(),
              "+0.000000s session.call 3:  -> ppp on l2tp-up (cause=ICCN 1/2)\n"
              "+0.000000s session.call 3: ppp -> network-up on network-up (cause=IPCP)\n"
              "+0.000000s session.call 3: network-up -> releasing on link-down (cause=PPP: echo timeout) "
              "[timer call-release=0s]\n"
              "+0.000000s session.call 3: releasing -> closing on timer-expiry (cause=call-release expired)\n");
}

TEST(CallSession, CdnWhileReleasingWinsAndTearsDownOnce) {
    World w;
    auto c = w.make(CallDirection::incoming, CallState::ppp);
    c->start("ICCN");
    ASSERT_TRUE(c->link_down({"PPP: LCP down", true}));
    EXPECT_TRUE(c->l2tp_down({"CDN result 1", true}));
    ASSERT_EQ(w.closed.size(), 1u);
    EXPECT_EQ(w.closed[0].reason, "CDN result 1");
    EXPECT_TRUE(w.closed[0].l2tp_gone) << "nothing to clear: the LAC already sent the CDN";
    EXPECT_TRUE(w.loop.timers().empty()) << "call-release cancelled on leaving releasing";
    w.loop.run_until_idle();
    EXPECT_EQ(w.closed.size(), 1u);
}

TEST(CallSession, MandatoryChapProxyAuthentication) {
    World w;
    EventRecorder rec(w.bus, {"session.call", ""});
    auto ok = w.make(CallDirection::incoming, CallState::proxy_auth, 1);
    ok->start("ICCN");
    EXPECT_FALSE(ok->network_up("IPCP")) << "no PPP before AAA accepted the proxy data";
    EXPECT_TRUE(ok->proxy_accepted("RADIUS accept"));
    EXPECT_EQ(ok->state(), CallState::ppp);

    auto no_server = w.make(CallDirection::incoming, CallState::proxy_auth, 2);
    no_server->start("ICCN");
    EXPECT_TRUE(no_server->proxy_unavailable("no LNS RADIUS server"));
    EXPECT_EQ(no_server->state(), CallState::ppp);

    auto rejected = w.make(CallDirection::incoming, CallState::proxy_auth, 3);
    rejected->start("ICCN");
    EXPECT_TRUE(rejected->refuse({"mandatory CHAP: proxy authentication rejected"}));
    EXPECT_EQ(rejected->state(), CallState::releasing);
    w.loop.run_until_idle();
    EXPECT_EQ(rejected->state(), CallState::closing);
    ASSERT_EQ(w.closed.size(), 1u);
    EXPECT_FALSE(w.closed[0].tell_manager);
    EXPECT_EQ(w.closed[0].cdn, dl::l2tp::CdnResult::Administrative);
    EXPECT_EQ(rec.count("refused"), 1u);
}

TEST(CallSession, InputsFromTheTeardownAreIgnored) {
    World w;
    EventRecorder rec(w.bus, {"session.call", ""});
    auto c = w.make(CallDirection::dial_out, CallState::placing);
    c->start("k");
    ASSERT_TRUE(c->l2tp_up("OCCN"));
    // The PPP link's lower-down reports link-down, the manager clears the call again.
    w.on_close = [](CallSession& s) {
        EXPECT_FALSE(s.link_down({"PPP: lower layer down"}));
        EXPECT_FALSE(s.clear({"cleared again"}));
    };
    EXPECT_TRUE(c->clear({"administrative"}));
    EXPECT_EQ(w.closed.size(), 1u);
    EXPECT_EQ(c->fsm().not_permitted_count(), 0u) << "ignored, not refused";
    for (const auto& e : rec.events()) EXPECT_TRUE(e.permitted) << e.event;
    EXPECT_EQ(rec.count(), 3u);
}

TEST(CallSession, DestroyedWhileReleasingRunsNothing) {
    World w;
    auto c = w.make(CallDirection::incoming, CallState::ppp);
    c->start("ICCN");
    ASSERT_TRUE(c->link_down({"PPP: LCP down"}));
    c.reset();  // the owner went away (lnsd stopping)
    EXPECT_EQ(w.loop.run_until_idle(), 0u);
    EXPECT_TRUE(w.closed.empty());
}

TEST(CallSession, BirthStatesAreCheckedAndTheTableIsComplete) {
    World w;
    EXPECT_THROW(w.make(CallDirection::dial_out, CallState::ppp), std::invalid_argument);
    EXPECT_THROW(w.make(CallDirection::incoming, CallState::placing), std::invalid_argument);
    EXPECT_THROW(w.make(CallDirection::incoming, CallState::network_up), std::invalid_argument);
    const auto& spec = CallSession::spec();
    EXPECT_EQ(spec.entity(), "session.call");
    // Every live state can be cleared and learns of a CDN; the final states take nothing.
    for (auto s : {CallState::proxy_auth, CallState::ppp, CallState::network_up, CallState::releasing}) {
        EXPECT_TRUE(spec.allowed(static_cast<std::uint16_t>(s), static_cast<std::uint16_t>(CallEvent::clear)))
            << to_string(s);
        EXPECT_TRUE(spec.allowed(static_cast<std::uint16_t>(s), static_cast<std::uint16_t>(CallEvent::l2tp_down)))
            << to_string(s);
    }
    EXPECT_EQ(spec.allowed_mask(static_cast<std::uint16_t>(CallState::closing)), 0u);
    EXPECT_EQ(spec.allowed_mask(static_cast<std::uint16_t>(CallState::failed)), 0u);
    EXPECT_NE(spec.describe().find("releasing + timer-expiry -> closing"), std::string::npos) << spec.describe();
}

}  // namespace
