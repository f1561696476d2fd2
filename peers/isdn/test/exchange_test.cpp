// The exchange's call model in virtual time: every per-number behaviour, B-channel relay,
// hang-up, detach, fault injection, malformed input; golden event logs of the call FSM.
#include "dl/isdn/exchange.hpp"

#include <gtest/gtest.h>

#include "dl/core/event.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/core/timer_registry.hpp"

using namespace dl::isdn;
using namespace std::chrono_literals;

namespace {
constexpr Exchange::EndpointId kLac = 1, kCpe = 2;

class ExchangeTest : public ::testing::Test {
protected:
    dl::core::VirtualTimeLoop loop;
    dl::core::EventBus bus{loop.clock()};
    dl::core::EventRecorder calls{bus, {"isdn.call", ""}};
    dl::core::TimerRegistry registry;
    std::vector<std::pair<Exchange::EndpointId, Message>> out;
    Exchange ex{bus, loop.timers(), registry, [this](Exchange::EndpointId ep, const Message& m) { out.emplace_back(ep, m); }};

    void SetUp() override {
        ex.attach(kLac, "lac");
        ex.attach(kCpe, "cpe");
        ex.receive(kLac, Message::reg({"1701"}));
        ex.receive(kCpe, Message::reg({"5551000"}));
        out.clear();
    }
    // Sent messages as "<ep> <describe>" lines, then cleared.
    std::vector<std::string> take() {
        std::vector<std::string> v;
        for (auto& [ep, m] : out) v.push_back(std::to_string(ep) + " " + m.describe());
        out.clear();
        return v;
    }
    void dial(std::string number, Bearer b = Bearer::digital) {
        ex.receive(kLac, Message::setup(1, std::move(number), "1701", b, "7"));
    }
    void policy(std::string number, Behaviour b, dl::core::Duration d = {}) {
        NumberPolicy p;
        p.behaviour = b;
        p.delay = d;
        ex.set_policy(number, p);
    }
};
using V = std::vector<std::string>;
}  // namespace

TEST_F(ExchangeTest, AnswerConnectsAndRelaysBChannel) {
    dial("5551000");
    EXPECT_EQ(take(), (V{"1 ALERTING ref=0x0001",
                         "2 SETUP ref=0x8001 called=5551000 calling=1701 subaddress=7 bearer=digital"}));
    ex.receive(kCpe, Message::simple(MessageType::alerting, 0x8001));
    ex.receive(kCpe, Message::simple(MessageType::connect, 0x8001));
    EXPECT_EQ(take(), (V{"1 CONNECT ref=0x0001 speed=64000", "2 CONNECT ACKNOWLEDGE ref=0x8001"}));
    const std::vector<std::uint8_t> frame{0xFF, 0x03, 0xC0, 0x21, 0x01};
    ex.receive(kLac, Message::data(1, frame));
    ex.receive(kCpe, Message::data(0x8001, frame));
    EXPECT_EQ(take(), (V{"2 DATA ref=0x8001 bytes=5", "1 DATA ref=0x0001 bytes=5"}));
    EXPECT_EQ(ex.state()["calls"][0]["state"], "Active");
    loop.advance(10s);
    ex.receive(kCpe, Message::release(0x8001, cause::normal_clearing));
    EXPECT_EQ(take(), (V{"1 RELEASE ref=0x0001 cause=16", "2 RELEASE COMPLETE ref=0x8001"}));
    loop.advance(0s);
    EXPECT_EQ(ex.call_count(), 0u);
    EXPECT_EQ(calls.text(),
              "+0.000000s isdn.call c1: Null -> Call-Delivered on SETUP (cause=1701 -> 5551000 digital) [timer no-answer=30s]\n"
              "+0.000000s isdn.call c1: Call-Delivered -> Call-Delivered on ALERTING (cause=callee)\n"
              "+0.000000s isdn.call c1: Call-Delivered -> Active on CONNECT (cause=callee)\n"
              "+10.000000s isdn.call c1: Active -> Null on RELEASE (cause=callee normal call clearing (16))\n");
    EXPECT_EQ(ex.counters().data_relayed, 2u);
}

TEST_F(ExchangeTest, RefusalsCarryTheirQ850Cause) {
    const std::vector<std::pair<Behaviour, int>> cases{
        {Behaviour::busy, 17}, {Behaviour::reject, 21}, {Behaviour::unallocated, 1}};
    for (auto [b, want] : cases) {
        policy("5551000", b);
        dial("5551000");
        EXPECT_EQ(take(), (V{"1 RELEASE ref=0x0001 cause=" + std::to_string(want)})) << to_string(b);
        loop.advance(0s);
    }
    dial("999");  // nobody registered, no policy
    EXPECT_EQ(take(), (V{"1 RELEASE ref=0x0001 cause=1"}));
    ex.receive(kLac, Message::setup(2, "", "1701", Bearer::digital));
    EXPECT_EQ(take(), (V{"1 RELEASE ref=0x0002 cause=28"}));
    EXPECT_EQ(ex.counters().refused, 5u);
    EXPECT_EQ(calls.lines()[0], "+0.000000s isdn.call c1: Null -> Null on SETUP (cause=1701 -> 5551000 digital)");
}

TEST_F(ExchangeTest, NoAnswerReleasesWithCause19AfterTimer) {
    registry.set("no-answer", 20s);
    dial("5551000");
    take();
    loop.advance(19s);
    EXPECT_TRUE(take().empty());
    loop.advance(1s);
    EXPECT_EQ(take(), (V{"1 RELEASE ref=0x0001 cause=19", "2 RELEASE ref=0x8001 cause=102"}));
    EXPECT_EQ(calls.lines().back(),
              "+20.000000s isdn.call c1: Call-Delivered -> Null on timer-expiry (cause=no-answer expired)");
}

TEST_F(ExchangeTest, NoAnswerPolicyNeverDeliversTheCall) {
    policy("5551000", Behaviour::no_answer);
    dial("5551000");
    EXPECT_EQ(take(), (V{"1 ALERTING ref=0x0001"}));
    loop.advance(30s);
    EXPECT_EQ(take(), (V{"1 RELEASE ref=0x0001 cause=19"}));
}

TEST_F(ExchangeTest, AnswerAfterHoldsConnectUntilDelay) {
    policy("5551000", Behaviour::answer_after, 5s);
    dial("5551000", Bearer::analog);
    take();
    ex.receive(kCpe, Message::connect(0x8001, 31200));
    EXPECT_TRUE(take().empty());
    loop.advance(4999ms);
    EXPECT_TRUE(take().empty());
    loop.advance(1ms);
    EXPECT_EQ(take(), (V{"1 CONNECT ref=0x0001 speed=31200", "2 CONNECT ACKNOWLEDGE ref=0x8001"}));
    EXPECT_EQ(calls.lines()[2],
              "+5.000000s isdn.call c1: Call-Delivered -> Active on timer-expiry (cause=answer-delay expired)");
}

TEST_F(ExchangeTest, AnswerAfterThenCalleeAnswersLate) {
    policy("5551000", Behaviour::answer_after, 2s);
    dial("5551000");
    take();
    loop.advance(2s);
    EXPECT_TRUE(take().empty());
    EXPECT_EQ(ex.state()["calls"][0]["timer"], "no-answer");
    loop.advance(3s);
    ex.receive(kCpe, Message::simple(MessageType::connect, 0x8001));
    EXPECT_EQ(take(), (V{"1 CONNECT ref=0x0001 speed=64000", "2 CONNECT ACKNOWLEDGE ref=0x8001"}));
}

TEST_F(ExchangeTest, ExchangeAnswersConfiguredUnregisteredNumber) {
    policy("4000", Behaviour::answer_after, 1s);
    dial("4000", Bearer::analog);
    EXPECT_EQ(take(), (V{"1 ALERTING ref=0x0001"}));
    loop.advance(1s);
    EXPECT_EQ(take(), (V{"1 CONNECT ref=0x0001 speed=33600"}));
    ex.receive(kLac, Message::data(1, std::vector<std::uint8_t>{1, 2, 3}));
    EXPECT_EQ(ex.counters().data_sunk, 1u);
    EXPECT_TRUE(take().empty());
}

TEST_F(ExchangeTest, DropAfterReleasesBothSides) {
    NumberPolicy p;
    p.behaviour = Behaviour::drop_after;
    p.delay = 7s;
    p.cause = cause::temporary_failure;
    ex.set_policy("5551000", p);
    dial("5551000");
    ex.receive(kCpe, Message::simple(MessageType::connect, 0x8001));
    take();
    loop.advance(7s);
    EXPECT_EQ(take(), (V{"1 RELEASE ref=0x0001 cause=41", "2 RELEASE ref=0x8001 cause=41"}));
    EXPECT_EQ(calls.lines().back(), "+7.000000s isdn.call c1: Active -> Null on timer-expiry (cause=drop expired)");
}

TEST_F(ExchangeTest, ChannelsLimitGivesBusy) {
    NumberPolicy p;
    p.channels = 1;
    ex.set_policy("5551000", p);
    dial("5551000");
    ex.receive(kLac, Message::setup(2, "5551000", "1701", Bearer::digital));
    EXPECT_EQ(take(), (V{"1 ALERTING ref=0x0001",
                         "2 SETUP ref=0x8001 called=5551000 calling=1701 subaddress=7 bearer=digital",
                         "1 RELEASE ref=0x0002 cause=17"}));
}

TEST_F(ExchangeTest, BearerRestriction) {
    NumberPolicy p;
    p.only_bearer = Bearer::analog;
    ex.set_policy("5551000", p);
    dial("5551000", Bearer::digital);
    EXPECT_EQ(take(), (V{"1 RELEASE ref=0x0001 cause=58"}));
}

TEST_F(ExchangeTest, RefuseNextAndHangup) {
    ex.refuse_next(cause::no_channel);
    dial("5551000");
    EXPECT_EQ(take(), (V{"1 RELEASE ref=0x0001 cause=34"}));
    loop.advance(0s);
    dial("5551000");
    ex.receive(kCpe, Message::simple(MessageType::connect, 0x8001));
    take();
    EXPECT_FALSE(ex.hangup("c9"));
    EXPECT_TRUE(ex.hangup("c2", cause::normal_unspecified));
    EXPECT_EQ(take(), (V{"1 RELEASE ref=0x0001 cause=31", "2 RELEASE ref=0x8001 cause=31"}));
}

TEST_F(ExchangeTest, CallerReleaseWhileRinging) {
    dial("5551000");
    take();
    ex.receive(kLac, Message::release(1, cause::normal_clearing));
    EXPECT_EQ(take(), (V{"2 RELEASE ref=0x8001 cause=16", "1 RELEASE COMPLETE ref=0x0001"}));
    // A late CONNECT from the callee refers to a call that is gone: Q.931 §5.8.3.2 cause 81.
    loop.advance(0s);
    ex.receive(kCpe, Message::simple(MessageType::connect, 0x8001));
    EXPECT_EQ(take(), (V{"2 RELEASE COMPLETE ref=0x8001 cause=81"}));
    EXPECT_EQ(ex.counters().unknown_call_ref, 1u);
}

TEST_F(ExchangeTest, CalleeRejectForwardsItsCause) {
    dial("5551000");
    take();
    ex.receive(kCpe, Message::release(0x8001, cause::call_rejected));
    EXPECT_EQ(take(), (V{"1 RELEASE ref=0x0001 cause=21", "2 RELEASE COMPLETE ref=0x8001"}));
}

TEST_F(ExchangeTest, DetachReleasesCallsWithCause27) {
    dial("5551000");
    ex.receive(kCpe, Message::simple(MessageType::connect, 0x8001));
    take();
    ex.detach(kCpe);
    EXPECT_EQ(take(), (V{"1 RELEASE ref=0x0001 cause=27"}));
    loop.advance(0s);
    dial("5551000");  // its number is gone
    EXPECT_EQ(take(), (V{"1 RELEASE ref=0x0001 cause=1"}));
}

TEST_F(ExchangeTest, DuplicateRegistrationRefused) {
    ex.receive(kLac, Message::reg({"5551000", "1702"}));
    auto v = take();
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0], "1 REGISTERED ref=0x0000 cause=21 numbers=1");
    EXPECT_EQ(ex.state()["endpoints"][0]["numbers"], (nlohmann::json{"1701", "1702"}));
}

TEST_F(ExchangeTest, MalformedAndMisplacedInputCounted) {
    dl::core::EventRecorder ep{bus, {"isdn.endpoint", ""}};
    ex.receive_bytes(kLac, std::vector<std::uint8_t>{0x05, 0x00});
    EXPECT_EQ(ex.counters().malformed, 1u);
    ASSERT_EQ(ep.events().size(), 1u);
    EXPECT_EQ(ep.events()[0].event, "malformed");
    dial("5551000");
    take();
    ex.receive(kLac, Message::setup(1, "5551000", "1701", Bearer::digital));  // call ref in use
    ex.receive(kLac, Message::data(1, std::vector<std::uint8_t>{1}));          // not active yet
    ex.receive(kLac, Message::simple(MessageType::connect, 1));                 // caller cannot CONNECT
    EXPECT_TRUE(take().empty());
    EXPECT_EQ(ex.counters().data_dropped, 1u);
    EXPECT_EQ(ex.counters().unknown_call_ref, 2u);
}

TEST_F(ExchangeTest, PolicyJson) {
    auto p = NumberPolicy::from_json({{"behaviour", "drop-after"}, {"delay", "1m30s"}, {"cause", 41}, {"bearer", "analog"}});
    EXPECT_EQ(p.behaviour, Behaviour::drop_after);
    EXPECT_EQ(p.delay, 90s);
    EXPECT_EQ(p.to_json()["delay"], "90s");
    EXPECT_EQ(NumberPolicy::from_json({{"delay", 2.5}}).delay, 2500ms);
    EXPECT_THROW(NumberPolicy::from_json({{"behaviour", "sing"}}), std::invalid_argument);
    EXPECT_THROW(NumberPolicy::from_json({{"cause", 300}}), std::invalid_argument);
    EXPECT_THROW(NumberPolicy::from_json({{"delay", "5"}}), std::invalid_argument);
    EXPECT_THROW(ex.set_policy("12x", {}), std::invalid_argument);
}

TEST_F(ExchangeTest, Footprint) {
    EXPECT_LE(Exchange::call_footprint(), 512u);
    RecordProperty("call_bytes", static_cast<int>(Exchange::call_footprint()));
}
