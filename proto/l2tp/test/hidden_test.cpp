// RFC 2661 §4.3 hidden AVPs and §4.4.3 / §5.1.1 tunnel authentication.
#include <gtest/gtest.h>

#include "dl/l2tp/builders.hpp"
#include "dl/l2tp/hidden.hpp"
#include "dl/l2tp/l2tp.hpp"
#include "dl/l2tp/validate.hpp"
#include "dl/testing/bytes.hpp"

namespace dl::l2tp {
namespace {

using dl::testing::hex;

std::vector<std::uint8_t> rv16() { return hex("000102030405060708090a0b0c0d0e0f"); }

// Vectors computed independently (Python hashlib) from the §4.3 formula:
// c1 = subformat[0:16] xor MD5(type ‖ secret ‖ RV), c2 = subformat[16:32] xor MD5(secret ‖ c1) …
// req: L2TP.hidden
TEST(Hidden, HandComputedSingleBlock) {
    // Assigned Tunnel ID (type 9) = 0x0001, secret "secret", no padding: subformat 00 02 00 01
    const auto h = hide_value(9, "secret", rv16(), hex("0001"), {});
    EXPECT_EQ(h, hex("be6a1dc6"));
    EXPECT_EQ(unhide_value(9, "secret", rv16(), h), hex("0001"));
}

// req: L2TP.hidden
TEST(Hidden, HandComputedTwoBlocksWithPadding) {
    // Proxy Authen Response (type 33), 20 octets 0x40..0x53, 3 pad octets of 0: 25-octet subformat
    std::vector<std::uint8_t> value;
    for (int i = 0x40; i < 0x54; ++i) value.push_back(static_cast<std::uint8_t>(i));
    const auto h = hide_value(33, "secret", rv16(), value, hex("000000"));
    EXPECT_EQ(h, hex("f26f90aef72399c1516d8ca8bd2dc863a606c62fce63c87c43"));
    EXPECT_EQ(unhide_value(33, "secret", rv16(), h), value);
}

// req: L2TP.hidden
TEST(Hidden, UnhideRejectsBadOriginalLength) {
    EXPECT_EQ(unhide_value(9, "secret", rv16(), hex("00")), std::nullopt);
    // with the wrong secret the decoded length is garbage (deterministic for these inputs)
    const auto h = hide_value(9, "secret", rv16(), hex("0001"), {});
    EXPECT_EQ(unhide_value(9, "wrong", rv16(), h), std::nullopt);
}

// req: L2TP.hidden
TEST(Hidden, MessageRoundTripWithInsertedRandomVector) {
    OcrqParams p;
    p.header = {7, 0, 3, 4};
    p.called_number = "0301234567";
    p.min_bps = 56000;
    p.max_bps = 64000;
    p.assigned_session_id = 0x22;
    p.call_serial_number = 99;
    L2TP m = make_ocrq(p);
    m.set_hidden(AvpType::CalledNumber);
    EXPECT_EQ(m.pending_hidden(), 1u);
    EXPECT_THROW((void)m.serialize(), std::logic_error);
    HideOptions o;
    o.random_vector = rv16();
    o.pad_length = 5;
    o.pad_byte = 0;
    m.set_hiding("tunnel-secret", o);
    EXPECT_EQ(m.pending_hidden(), 0u);
    ASSERT_EQ(m.avps().size(), 9u);
    ASSERT_TRUE(m.avps()[7].is(AvpType::RandomVector));  // inserted just before the hidden AVP
    ASSERT_TRUE(m.avps()[8].is(AvpType::CalledNumber));
    EXPECT_EQ(m.called_number(), "0301234567");          // cleartext still readable on the sender
    const auto bytes = m.serialize();
    EXPECT_NO_THROW(validate(m));

    L2TP r(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
    const Avp* cn = r.find(AvpType::CalledNumber);
    ASSERT_NE(cn, nullptr);
    EXPECT_TRUE(cn->hidden());
    EXPECT_EQ(cn->hidden_state(), HiddenState::undecodable);
    EXPECT_EQ(cn->undecodable_reason(), "no secret given");
    EXPECT_EQ(cn->length(), 6 + 2 + 10 + 5);
    EXPECT_EQ(r.called_number(), std::nullopt);
    EXPECT_EQ(r.minimum_bps(), 56000u);  // rest of the message usable
    EXPECT_NO_THROW(validate(r));

    EXPECT_EQ(r.unhide("tunnel-secret"), 1u);
    cn = r.find(AvpType::CalledNumber);
    EXPECT_EQ(cn->hidden_state(), HiddenState::decoded);
    EXPECT_EQ(r.called_number(), "0301234567");
    EXPECT_EQ(r.serialize(), bytes);  // ciphertext re-emitted byte-exact
    EXPECT_EQ(r.unhide("tunnel-secret"), 0u);
}

// req: L2TP.hidden
TEST(Hidden, WrongSecretMarksUndecodableAndKeepsMessage) {
    L2TP m = make_ocrp({{1, 2, 0, 0}, 0x33, 77});
    m.set_hidden(AvpType::PhysicalChannelId);
    HideOptions o;
    o.random_vector = rv16();
    o.pad_length = 0;
    m.set_hiding("right", o);
    const auto bytes = m.serialize();
    L2TP r(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
    EXPECT_EQ(r.unhide("wrong"), 0u);
    const Avp* a = r.find(AvpType::PhysicalChannelId);
    EXPECT_EQ(a->hidden_state(), HiddenState::undecodable);
    EXPECT_NE(a->undecodable_reason().find("bad original length"), std::string_view::npos);
    EXPECT_EQ(r.assigned_session_id(), 0x33);
    EXPECT_EQ(r.unhide("right"), 1u);
    EXPECT_EQ(r.physical_channel_id(), 77u);
}

// req: L2TP.hidden
TEST(Hidden, NoPrecedingRandomVector) {
    // HELLO-less SCCCN: Message Type, hidden Challenge Response (no RV anywhere)
    auto b = hex("c8 02 00 2c 00 01 00 00 00 00 00 00 80 08 0000 0000 0003 "
                 "c0 18 0000 000d 000102030405060708090a0b0c0d0e0f1011");
    L2TP r(b.data(), static_cast<std::uint32_t>(b.size()));
    EXPECT_EQ(r.unhide("s"), 0u);
    EXPECT_EQ(r.find(AvpType::ChallengeResponse)->undecodable_reason(), "no preceding Random Vector AVP");
    auto err = check(r);
    ASSERT_TRUE(err);
    EXPECT_EQ(err->source(), "RFC 2661 §4.3");
    EXPECT_EQ(r.serialize(), b);
}

// req: L2TP.hidden
TEST(Hidden, ClosestPrecedingRandomVectorIsUsed) {
    L2TP m = make_control(MessageType::ICCN, {1, 2, 0, 0});
    HideOptions o;
    o.pad_length = 2;
    m.set_hiding("k", o);
    m.set_random_vector(hex("11111111"));
    m.add_avp(0, static_cast<std::uint16_t>(AvpType::ProxyAuthenName), Avp::kHidden,
              std::vector<std::uint8_t>{'a', 'l', 'i', 'c', 'e'});
    m.add_avp(0, static_cast<std::uint16_t>(AvpType::RandomVector), Avp::kMandatory, hex("22222222"));
    m.add_avp(0, static_cast<std::uint16_t>(AvpType::ProxyAuthenResponse), Avp::kHidden,
              std::vector<std::uint8_t>{'p', 'w'});
    // second hidden AVP is hidden with the second RV: check by decoding directly
    const Avp& resp = m.avps()[4];
    EXPECT_EQ(unhide_value(33, "k", hex("22222222"), resp.wire_value()), (std::vector<std::uint8_t>{'p', 'w'}));
    const auto bytes = m.serialize();
    L2TP r(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
    EXPECT_EQ(r.unhide("k"), 2u);
    EXPECT_EQ(r.proxy_authen_name(), "alice");
    EXPECT_EQ(r.proxy_authen_response(), (std::vector<std::uint8_t>{'p', 'w'}));
    EXPECT_EQ(r.random_vector(), hex("22222222"));
}

// req: L2TP.hidden
TEST(Hidden, RandomDefaultsStillDecode) {
    L2TP m = make_icrq({{1, 0, 0, 0}, 5, 6, std::nullopt, std::nullopt, std::string("555"), std::nullopt,
                        std::nullopt});
    m.set_hidden(AvpType::CallingNumber);
    m.set_hidden(AvpType::CallSerialNumber);
    m.set_hiding("x");
    const auto bytes = m.serialize();
    L2TP r(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
    EXPECT_EQ(r.unhide("x"), 2u);
    EXPECT_EQ(r.calling_number(), "555");
    EXPECT_EQ(r.call_serial_number(), 6u);
    EXPECT_EQ(r.random_vector()->size(), 16u);
    EXPECT_NO_THROW(validate(r));
}

// req: L2TP.hidden
TEST(Hidden, HidingForbiddenAvpRejected) {
    L2TP m = make_sccrq({});
    EXPECT_THROW(m.set_hidden(AvpType::HostName), std::invalid_argument);
    EXPECT_THROW(m.set_hidden(AvpType::Challenge), std::invalid_argument);  // absent
}

// req: L2TP.tunnel-auth
TEST(TunnelAuth, ChallengeResponseVector) {
    // README vector: SCCRP Challenge answered in SCCCN with the empty secret (type 3)
    const auto r = challenge_response(3, "", hex("b6649877b09c81bf59f12f80d3793d8c"));
    EXPECT_EQ(std::vector<std::uint8_t>(r.begin(), r.end()), hex("c36008af9229c3ebe1df454feaa77e29"));
    const auto r2 = challenge_response(2, "", hex("b6649877b09c81bf59f12f80d3793d8c"));
    EXPECT_NE(std::vector<std::uint8_t>(r2.begin(), r2.end()), hex("c36008af9229c3ebe1df454feaa77e29"));
}

}  // namespace
}  // namespace dl::l2tp
