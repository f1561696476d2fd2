// Codec of the Q.931-modelled signalling between isdn-emu and its subscribers.
#include "dl/isdn/message.hpp"

#include <gtest/gtest.h>

using namespace dl::isdn;
using Bytes = std::vector<std::uint8_t>;

TEST(IsdnMessage, SetupGoldenBytes) {
    Message m = Message::setup(0x0001, "5551000", "1701", Bearer::analog, "12", 28800);
    const Bytes want{0x05, 0x00, 0x01,                                      // SETUP, call ref 1
                     0x04, 0x01, 0x01,                                      // bearer analog
                     0x6C, 0x04, '1', '7', '0', '1',                        // calling
                     0x70, 0x07, '5', '5', '5', '1', '0', '0', '0',         // called
                     0x71, 0x02, '1', '2',                                  // subaddress
                     0x7E, 0x04, 0x00, 0x00, 0x70, 0x80};                   // speed 28800
    EXPECT_EQ(m.encode(), want);
    Message d = Message::decode(want);
    EXPECT_EQ(d.type, MessageType::setup);
    EXPECT_EQ(d.call_ref, 1);
    EXPECT_EQ(d.called, "5551000");
    EXPECT_EQ(d.calling, "1701");
    EXPECT_EQ(d.subaddress, "12");
    EXPECT_EQ(d.bearer, Bearer::analog);
    EXPECT_EQ(d.speed, 28800u);
    EXPECT_EQ(d.describe(), "SETUP ref=0x0001 called=5551000 calling=1701 subaddress=12 bearer=analog speed=28800");
}

TEST(IsdnMessage, ReleaseAndDataRoundTrip) {
    const Bytes rel{0x4D, 0x80, 0x07, 0x08, 0x01, 17};
    EXPECT_EQ(Message::release(0x8007, cause::user_busy).encode(), rel);
    EXPECT_EQ(Message::decode(rel).cause, 17);
    const Bytes payload{0x7E, 0xFF, 0x03, 0xC0, 0x21};
    Message d = Message::data(3, payload);
    Bytes enc = d.encode();
    EXPECT_EQ(enc.size(), 8u);
    EXPECT_EQ(Message::decode(enc).payload, payload);
    Message r = Message::reg({"100", "101", "*9#"});
    EXPECT_EQ(Message::decode(r.encode()).numbers, (std::vector<std::string>{"100", "101", "*9#"}));
    EXPECT_EQ(Message::decode(Message::connect(2, 64000).encode()).speed, 64000u);
}

TEST(IsdnMessage, UnknownIeIgnored) {
    const Bytes b{0x01, 0x00, 0x02, 0x1E, 0x02, 0xAA, 0xBB};  // ALERTING + Progress indicator
    Message m = Message::decode(b);
    EXPECT_EQ(m.type, MessageType::alerting);
    EXPECT_EQ(m.call_ref, 2);
}

TEST(IsdnMessage, MalformedRejected) {
    const std::vector<std::pair<Bytes, std::string>> bad{
        {{}, "header"},
        {{0x05, 0x00}, "header"},
        {{0x33, 0x00, 0x01}, "message type"},
        {{0x05, 0x00, 0x01, 0x70}, "ie header"},
        {{0x05, 0x00, 0x01, 0x70, 0x05, '1'}, "ie 0x70.length"},
        {{0x05, 0x00, 0x01, 0x70, 0x01, 'x'}, "called party number"},
        {{0x05, 0x00, 0x01, 0x70, 0x00}, "called party number"},
        {{0x05, 0x00, 0x01, 0x04, 0x02, 0, 0}, "bearer capability"},
        {{0x05, 0x00, 0x01, 0x04, 0x01, 9}, "bearer capability"},
        {{0x05, 0x00, 0x01, 0x08, 0x01, 1, 0x08, 0x01, 1}, "cause"},
        {{0x07, 0x00, 0x01, 0x7E, 0x02, 0, 0}, "line speed"},
    };
    for (const auto& [b, field] : bad) {
        try {
            Message::decode(b);
            ADD_FAILURE() << "accepted " << b.size() << " octets";
        } catch (const DecodeError& e) {
            EXPECT_EQ(e.field(), field);
        }
    }
}

TEST(IsdnMessage, EncodeRejectsBadNumbers) {
    EXPECT_THROW(Message::setup(1, "12a", "", Bearer::digital).encode(), std::invalid_argument);
    EXPECT_THROW(Message::setup(1, std::string(33, '1'), "", Bearer::digital).encode(), std::invalid_argument);
    EXPECT_TRUE(valid_number("0123456789*#"));
    EXPECT_FALSE(valid_number(""));
}

TEST(IsdnMessage, TooManyNumbersRejected) {
    Bytes b{0xF0, 0, 0};
    for (int i = 0; i < 1025; ++i) b.insert(b.end(), {0x7D, 1, '1'});
    EXPECT_THROW(Message::decode(b), DecodeError);
}
