#include "dl/loadgen/b_channel.hpp"

#include <gtest/gtest.h>

namespace dl::loadgen {
namespace {

using isdn::Bearer;
using isdn::Message;
using isdn::MessageType;

// The exchange's view of one call: the LAC calls 5551000 on its reference 7, the exchange offers it
// to the CPE on its reference 3 (flagged 0x8003), the CPE answers, the exchange connects the LAC.
void connect_call(BChannelBridge& b, std::uint16_t lac_ref, std::uint16_t cpe_ref, const std::string& number) {
    b.from_caller(Message::setup(lac_ref, number, "1701", Bearer::digital));
    b.to_callee(Message::setup(cpe_ref, number, "1701", Bearer::digital));
    b.from_callee(Message::connect(cpe_ref, 64000));
    b.to_callee(Message::simple(MessageType::connect_ack, cpe_ref));
    b.to_caller(Message::connect(lac_ref, 64000));
}

TEST(BChannelBridge, RoutesDataOnlyOnceTheCallerIsConnected) {
    BChannelBridge b;
    b.from_caller(Message::setup(7, "5551000", "1701", Bearer::digital));
    EXPECT_FALSE(b.callee_of(7));
    b.to_callee(Message::setup(0x8003, "5551000", "1701", Bearer::digital));
    EXPECT_FALSE(b.callee_of(7)) << "offered, not answered: DATA still goes to the exchange";
    EXPECT_FALSE(b.caller_of(0x8003));
    b.to_caller(Message::connect(7, 64000));
    EXPECT_EQ(b.callee_of(7), std::optional<std::uint16_t>(0x8003));
    EXPECT_EQ(b.caller_of(0x8003), std::optional<std::uint16_t>(7));
    EXPECT_EQ(b.active(), 1u);
}

TEST(BChannelBridge, PairsBySetupNumberWhenSeveralCallsInterleave) {
    BChannelBridge b;
    b.from_caller(Message::setup(1, "100", "1701", Bearer::digital));
    b.from_caller(Message::setup(2, "200", "1701", Bearer::digital));
    b.to_callee(Message::setup(0x8001, "200", "1701", Bearer::digital));
    b.to_callee(Message::setup(0x8002, "100", "1701", Bearer::digital));
    b.to_caller(Message::connect(1, 64000));
    b.to_caller(Message::connect(2, 64000));
    EXPECT_EQ(b.callee_of(1), std::optional<std::uint16_t>(0x8002));
    EXPECT_EQ(b.callee_of(2), std::optional<std::uint16_t>(0x8001));
    EXPECT_EQ(b.caller_of(0x8001), std::optional<std::uint16_t>(2));
}

TEST(BChannelBridge, ARefusedNumberIsNeverPaired) {
    BChannelBridge b;
    b.from_caller(Message::setup(4, "999", "1701", Bearer::digital));
    b.to_caller(Message::release(4, isdn::cause::unallocated_number));
    b.to_caller(Message::connect(4, 64000));  // a stray CONNECT cannot activate an unpaired call
    EXPECT_FALSE(b.callee_of(4));
    EXPECT_EQ(b.pairs(), 0u);
}

TEST(BChannelBridge, AReleaseFromEitherSideUnpairs) {
    for (int side = 0; side < 4; ++side) {
        BChannelBridge b;
        connect_call(b, 7, 0x8003, "5551000");
        ASSERT_TRUE(b.callee_of(7));
        switch (side) {
        case 0: b.from_caller(Message::release(7, 16)); break;
        case 1: b.to_caller(Message::release(7, 16)); break;
        case 2: b.from_callee(Message::release(0x8003, 16)); break;
        default: b.to_callee(Message::simple(MessageType::release_complete, 0x8003)); break;
        }
        EXPECT_FALSE(b.callee_of(7)) << side;
        EXPECT_FALSE(b.caller_of(0x8003)) << side;
        EXPECT_EQ(b.active(), 0u) << side;
        EXPECT_EQ(b.pairs(), 0u) << side;
    }
}

TEST(BChannelBridge, AReusedReferenceReplacesTheOldPair) {
    BChannelBridge b;
    connect_call(b, 7, 0x8003, "100");
    connect_call(b, 7, 0x8004, "200");  // the LAC reused 7 (its old call ended unseen)
    EXPECT_EQ(b.callee_of(7), std::optional<std::uint16_t>(0x8004));
    EXPECT_FALSE(b.caller_of(0x8003));
    EXPECT_EQ(b.active(), 1u);
    EXPECT_EQ(b.pairs(), 1u);
}

}  // namespace
}  // namespace dl::loadgen
