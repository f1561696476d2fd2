// The impairment rule engine in virtual time: classification, selection, the four actions, counters.
#include <gtest/gtest.h>

#include "dl/l2tp/builders.hpp"
#include "dl/l2tp/l2tp.hpp"
#include "dl/radius/radius.hpp"
#include "dl/scenario/impairment.hpp"

using namespace dl::scenario;
using namespace std::chrono_literals;

namespace {

std::vector<std::uint8_t> l2tp_msg(dl::l2tp::MessageType t, std::uint16_t ns) {
    dl::l2tp::ControlHeader h;
    h.tunnel_id = 3;
    h.ns = ns;
    return dl::l2tp::make_control(t, h).serialize();
}
std::vector<std::uint8_t> zlb(std::uint16_t ns) {
    return dl::l2tp::make_zlb(3, 0, ns, 1).serialize();
}
std::vector<std::uint8_t> access_request(std::uint8_t id) {
    dl::radius::Radius r(dl::radius::Code::Access_Request, id);
    return r.serialize();
}

const TimePoint t0{};

Rule rule(std::string name, std::string message, Action a, Select s = {}) {
    Rule r;
    r.name = std::move(name);
    r.match.message = std::move(message);
    r.action = a;
    r.select = s;
    return r;
}

std::vector<std::string> whats(const std::vector<Emission>& es) {
    std::vector<std::string> out;
    for (const auto& e : es) out.push_back(e.what);
    return out;
}

}  // namespace

// req: LAB.impairment
TEST(Classify, NamesL2tpControlZlbAndRadiusCodes) {
    EXPECT_EQ(classify(1701, 1701, l2tp_msg(dl::l2tp::MessageType::OCRQ, 1)).message, "OCRQ");
    EXPECT_EQ(classify(1701, 1701, zlb(2)).message, "ZLB");
    EXPECT_EQ(classify(40000, 1812, access_request(7)).message, "Access-Request");
    EXPECT_EQ(classify(40000, 1812, access_request(7)).protocol, "radius-auth");
    const std::vector<std::uint8_t> junk{0xc8, 0x02, 0x00};
    EXPECT_EQ(classify(1701, 1701, junk).message, "malformed") << "a truncated L2TP header must not throw";
    EXPECT_EQ(classify(5000, 5001, junk).protocol, "unknown");
}

// req: LAB.impairment
TEST(ImpairmentEngine, DropsOnlyTheFirstOcrqAndCountsIt) {
    ImpairmentEngine e({rule("drop-first-ocrq", "OCRQ", Action::drop, {Select::Kind::nth, 1})});
    e.submit(Direction::forward, 1701, 1701, l2tp_msg(dl::l2tp::MessageType::SCCRQ, 0), t0);
    e.submit(Direction::forward, 1701, 1701, l2tp_msg(dl::l2tp::MessageType::OCRQ, 2), t0);
    e.submit(Direction::forward, 1701, 1701, l2tp_msg(dl::l2tp::MessageType::OCRQ, 2), t0 + 1s);  // retransmission
    auto out = e.take_due(t0 + 1s);
    EXPECT_EQ(whats(out), (std::vector<std::string>{"l2tp SCCRQ", "l2tp OCRQ"})) << "the retransmitted OCRQ passes";
    EXPECT_EQ(e.counters()[0].matched, 2u);
    EXPECT_EQ(e.counters()[0].applied, 1u);
    EXPECT_EQ(e.history()[1].outcome, "dropped by drop-first-ocrq");
}

// req: LAB.impairment
TEST(ImpairmentEngine, EveryKthAndDirectionFilter) {
    Rule r = rule("every-2nd-zlb", "zlb", Action::drop, {Select::Kind::every, 2});
    r.match.direction = Direction::reverse;
    ImpairmentEngine e({r});
    for (std::uint16_t i = 0; i < 4; ++i) e.submit(Direction::reverse, 1701, 1701, zlb(i), t0);
    e.submit(Direction::forward, 1701, 1701, zlb(9), t0);  // other direction: not matched
    EXPECT_EQ(e.take_due(t0).size(), 3u);
    EXPECT_EQ(e.counters()[0].matched, 4u);
    EXPECT_EQ(e.counters()[0].applied, 2u);
}

// req: LAB.impairment
TEST(ImpairmentEngine, ProbabilityIsReproducibleWithTheSeed) {
    auto run = [](std::uint64_t seed) {
        ImpairmentEngine e({rule("p", "", Action::drop, {Select::Kind::probability, 1, 0.5, seed})});
        for (int i = 0; i < 200; ++i) e.submit(Direction::forward, 1701, 1701, zlb(1), t0);
        return e.counters()[0].applied;
    };
    const auto a = run(42);
    EXPECT_EQ(a, run(42)) << "same seed, same drops";
    EXPECT_GT(a, 60u);
    EXPECT_LT(a, 140u) << "p = 0.5 of 200";
    EXPECT_NE(a, run(43)) << "(another seed gives another sequence)";
}

// req: LAB.impairment
TEST(ImpairmentEngine, DelayHoldsOneDatagramUntilItsTime) {
    Rule r = rule("delay-ar", "Access-Request", Action::delay);
    r.delay = 250ms;
    ImpairmentEngine e({r});
    e.submit(Direction::forward, 40000, 1812, access_request(1), t0);
    e.submit(Direction::forward, 1701, 1701, zlb(1), t0 + 10ms);
    EXPECT_EQ(whats(e.take_due(t0 + 10ms)), std::vector<std::string>{"l2tp ZLB"}) << "the delayed one does not block others";
    ASSERT_TRUE(e.next_due());
    EXPECT_EQ(*e.next_due(), t0 + 250ms);
    EXPECT_TRUE(e.take_due(t0 + 249ms).empty());
    EXPECT_EQ(whats(e.take_due(t0 + 250ms)), std::vector<std::string>{"radius-auth Access-Request"});
    EXPECT_FALSE(e.next_due());
}

// req: LAB.impairment
TEST(ImpairmentEngine, DuplicateSendsTwoIdenticalCopies) {
    ImpairmentEngine e({rule("dup-sccrp", "SCCRP", Action::duplicate)});
    const auto m = l2tp_msg(dl::l2tp::MessageType::SCCRP, 0);
    e.submit(Direction::reverse, 1701, 1701, m, t0);
    auto out = e.take_due(t0);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].bytes, m);
    EXPECT_EQ(out[1].bytes, m);
    EXPECT_EQ(e.counters()[0].applied, 1u);
}

// req: LAB.impairment
TEST(ImpairmentEngine, ReorderReleasesTheHeldOneAfterTheNext) {
    ImpairmentEngine e({rule("swap", "SCCRQ", Action::reorder)});
    e.submit(Direction::forward, 1701, 1701, l2tp_msg(dl::l2tp::MessageType::SCCRQ, 0), t0);
    EXPECT_TRUE(e.take_due(t0).empty()) << "held";
    e.submit(Direction::reverse, 1701, 1701, zlb(0), t0 + 1ms);  // other direction: does not release it
    EXPECT_EQ(whats(e.take_due(t0 + 1ms)), std::vector<std::string>{"l2tp ZLB"});
    e.submit(Direction::forward, 1701, 1701, l2tp_msg(dl::l2tp::MessageType::HELLO, 1), t0 + 2ms);
    EXPECT_EQ(whats(e.take_due(t0 + 2ms)), (std::vector<std::string>{"l2tp HELLO", "l2tp SCCRQ"}));
    EXPECT_EQ(e.pending(), 0u);
}

// req: LAB.impairment
TEST(ImpairmentEngine, ReorderReleasesAfterTheHoldWhenNothingFollows) {
    Rule r = rule("swap", "SCCRQ", Action::reorder);
    r.hold = 300ms;
    ImpairmentEngine e({r});
    e.submit(Direction::forward, 1701, 1701, l2tp_msg(dl::l2tp::MessageType::SCCRQ, 0), t0);
    EXPECT_TRUE(e.take_due(t0 + 299ms).empty());
    EXPECT_EQ(e.take_due(t0 + 300ms).size(), 1u) << "nothing is lost";
    EXPECT_EQ(e.history().back().outcome, "released after the hold time");
}

// req: LAB.impairment
TEST(ImpairmentEngine, BadRulesNameTheRuleAndTheProblem) {
    try {
        ImpairmentEngine e({rule("r0", "", Action::drop, {Select::Kind::nth, 0})});
        FAIL() << "nth 0 accepted";
    } catch (const std::invalid_argument& x) {
        EXPECT_NE(std::string(x.what()).find("'r0'"), std::string::npos) << x.what();
    }
    EXPECT_THROW(ImpairmentEngine({rule("p", "", Action::drop, {Select::Kind::probability, 1, 1.5, 0})}),
                 std::invalid_argument);
    Rule d = rule("d", "", Action::delay);
    d.delay = -1ms;
    EXPECT_THROW(ImpairmentEngine({d}), std::invalid_argument);
}
