// LineRelay: answering, the digital bearer's sync <-> async conversion (RFC 1662 §4 / §5) in both
// directions, the analog bearer's transparent relay, busy while in a call, release.
#include "dl/cpe/line_relay.hpp"

#include <gtest/gtest.h>

using namespace dl;
using isdn::Message;
using isdn::MessageType;

namespace {
struct Rig {
    std::vector<Message> sent;
    std::vector<std::uint8_t> line;
    cpe::LineRelay relay{"5551001", 64000, 1500, [this](const Message& m) { sent.push_back(m); },
                         [this](std::span<const std::uint8_t> b) { line.insert(line.end(), b.begin(), b.end()); }};
};
// LCP Configure-Request id 1, no options: Protocol c021 + Code/Id/Length.
const std::vector<std::uint8_t> kLcp{0xc0, 0x21, 0x01, 0x01, 0x00, 0x04};
}  // namespace

TEST(LineRelay, RegistersAndAnswersItsNumber) {
    Rig r;
    r.relay.start();
    ASSERT_EQ(r.sent.size(), 1u);
    EXPECT_EQ(r.sent[0].type, MessageType::reg);
    r.relay.isdn_receive(Message::setup(7, "5551001", "1701", isdn::Bearer::digital));
    ASSERT_EQ(r.sent.size(), 3u);
    EXPECT_EQ(r.sent[1].type, MessageType::alerting);
    EXPECT_EQ(r.sent[2].type, MessageType::connect);
    EXPECT_EQ(r.sent[2].speed, 64000u);
    EXPECT_TRUE(r.relay.in_call());
    // a second call while busy: RELEASE 17
    r.relay.isdn_receive(Message::setup(8, "5551001", "1701", isdn::Bearer::digital));
    EXPECT_EQ(r.sent.back().type, MessageType::release);
    EXPECT_EQ(r.sent.back().cause, isdn::cause::user_busy);
    EXPECT_EQ(r.relay.counters().calls_refused, 1u);
}

TEST(LineRelay, DigitalBearerConvertsSyncFramesToAsyncAndBack) {
    Rig r;
    r.relay.isdn_receive(Message::setup(7, "5551001", "1701", isdn::Bearer::digital));
    r.relay.isdn_receive(Message::data(7, ppp::encode_sync(kLcp)));
    EXPECT_EQ(r.line, ppp::encode_async(kLcp));
    // the line's async bytes, split mid-frame, come out as one sync frame
    const auto async = ppp::encode_async(kLcp);
    const std::size_t before = r.sent.size();
    r.relay.line_receive(std::span(async).first(5));
    EXPECT_EQ(r.sent.size(), before);
    r.relay.line_receive(std::span(async).subspan(5));
    ASSERT_EQ(r.sent.size(), before + 1);
    EXPECT_EQ(r.sent.back().type, MessageType::data);
    EXPECT_EQ(r.sent.back().payload, ppp::encode_sync(kLcp));
    // a sync frame with a bad FCS is counted, nothing written
    auto bad = ppp::encode_sync(kLcp);
    bad.back() ^= 0xff;
    r.line.clear();
    r.relay.isdn_receive(Message::data(7, bad));
    EXPECT_TRUE(r.line.empty());
    EXPECT_EQ(r.relay.counters().bad_sync_frames, 1u);
}

TEST(LineRelay, AnalogBearerRelaysTheByteStream) {
    Rig r;
    r.relay.isdn_receive(Message::setup(9, "5551001", "1701", isdn::Bearer::analog));
    const std::vector<std::uint8_t> bytes{0x7e, 0xff, 0x7d, 0x23};
    r.relay.isdn_receive(Message::data(9, bytes));
    EXPECT_EQ(r.line, bytes);
    r.relay.line_receive(bytes);
    EXPECT_EQ(r.sent.back().payload, bytes);
}

TEST(LineRelay, ReleaseEndsTheCallAndIdleLineOctetsAreCounted) {
    Rig r;
    r.relay.isdn_receive(Message::setup(7, "5551001", "1701", isdn::Bearer::digital));
    r.relay.isdn_receive(Message::release(7, 16));
    EXPECT_EQ(r.sent.back().type, MessageType::release_complete);
    EXPECT_FALSE(r.relay.in_call());
    r.relay.line_receive(ppp::encode_async(kLcp));
    EXPECT_EQ(r.relay.counters().line_octets_idle, ppp::encode_async(kLcp).size());
    EXPECT_FALSE(r.relay.hangup(16));
    r.relay.isdn_receive(Message::setup(8, "5551009", "1701", isdn::Bearer::digital));
    EXPECT_EQ(r.sent.back().cause, isdn::cause::unallocated_number);
}
