// RFC 2661 §3.1 header: golden bytes for each variant, and every malformed header rejected.
#include <gtest/gtest.h>
#include <tins/rawpdu.h>

#include "dl/l2tp/builders.hpp"
#include "dl/l2tp/l2tp.hpp"
#include "dl/proto/errors.hpp"
#include "dl/testing/bytes.hpp"

namespace dl::l2tp {
namespace {

using dl::testing::hex;
using dl::proto::ParseError;

L2TP parse(const std::vector<std::uint8_t>& b) { return L2TP(b.data(), static_cast<std::uint32_t>(b.size())); }

// req: L2TP.header
TEST(Header, ZlbGoldenBytes) {
    L2TP m = make_zlb(0x1234, 0x5678, 3, 7);
    EXPECT_EQ(m.serialize(), hex("c8 02 00 0c 12 34 56 78 00 03 00 07"));
    EXPECT_TRUE(m.is_zlb());
}

// req: L2TP.header
TEST(Header, ParseZlb) {
    const auto b = hex("c8 02 00 0c 12 34 56 78 00 03 00 07");
    L2TP m = parse(b);
    EXPECT_TRUE(m.is_control());
    EXPECT_TRUE(m.is_zlb());
    EXPECT_EQ(m.version(), 2);
    EXPECT_EQ(m.length_field(), 12);
    EXPECT_EQ(m.tunnel_id(), 0x1234);
    EXPECT_EQ(m.session_id(), 0x5678);
    EXPECT_EQ(m.ns(), 3);
    EXPECT_EQ(m.nr(), 7);
    EXPECT_EQ(m.serialize(), b);
}

// req: L2TP.header
TEST(Header, DataMinimalGoldenBytes) {
    const auto ppp = hex("ff 03 c0 21 09 01 00 08 00 00 00 01");
    L2TP m = make_data(1, 2, ppp);
    EXPECT_EQ(m.serialize(), hex("00 02 00 01 00 02 ff 03 c0 21 09 01 00 08 00 00 00 01"));
    L2TP p = parse(m.serialize());
    EXPECT_TRUE(p.is_data());
    EXPECT_FALSE(p.has_length());
    EXPECT_FALSE(p.has_sequence());
    EXPECT_EQ(std::vector<std::uint8_t>(p.payload().begin(), p.payload().end()), ppp);
    ASSERT_NE(p.find_pdu<Tins::RawPDU>(), nullptr);
}

// req: L2TP.header
TEST(Header, DataAllOptionalFieldsGoldenBytes) {
    DataOptions o;
    o.ns_nr = std::make_pair<std::uint16_t, std::uint16_t>(5, 9);
    o.length = true;
    o.offset_pad = hex("aa bb");
    o.priority = true;
    L2TP m = make_data(0x0102, 0x0304, hex("ff 03 00 21 45"), o);
    // T=0 L=1 S=1 O=1 P=1 -> 0x4b; Length = 2+2+4+4+2+2+5 = 21
    const auto want = hex("4b 02 00 15 01 02 03 04 00 05 00 09 00 02 aa bb ff 03 00 21 45");
    EXPECT_EQ(m.serialize(), want);
    L2TP p = parse(want);
    EXPECT_TRUE(p.priority());
    EXPECT_EQ(p.offset_size(), 2);
    EXPECT_EQ(p.ns(), 5);
    EXPECT_EQ(p.nr(), 9);
    EXPECT_EQ(p.payload().size(), 5u);
    EXPECT_EQ(p.serialize(), want);
}

// req: L2TP.header
TEST(Header, DataWithSequenceOnly) {
    L2TP m = make_data(7, 8, hex("ff 03"), std::uint16_t{1}, std::uint16_t{0});
    EXPECT_EQ(m.serialize(), hex("08 02 00 07 00 08 00 01 00 00 ff 03"));
}

// req: L2TP.header
TEST(Header, DataWithZeroOffsetAndNoPayload) {
    const auto b = hex("02 02 00 07 00 08 00 00");
    L2TP p = parse(b);
    EXPECT_TRUE(p.has_offset());
    EXPECT_EQ(p.offset_size(), 0);
    EXPECT_TRUE(p.payload().empty());
    EXPECT_EQ(p.serialize(), b);
}

// req: L2TP.header
TEST(Header, ReservedBitsKeptForByteExactOutput) {
    // x bits of the first octet (0x34) and the high nibble of the second are ignored on receipt (§3.1)
    const auto b = hex("34 f2 00 01 00 02 ff");
    L2TP p = parse(b);
    EXPECT_EQ(p.version(), 2);
    EXPECT_NE(p.reserved_bits(), 0);
    EXPECT_EQ(p.serialize(), b);
}

// req: L2TP.header
TEST(Header, TrailingOctetsAfterLengthIgnored) {
    const auto b = hex("c8 02 00 0c 00 01 00 00 00 00 00 00 de ad");
    L2TP p = parse(b);
    EXPECT_TRUE(p.is_zlb());
    EXPECT_EQ(p.trailing_octets(), 2u);
    EXPECT_EQ(p.serialize(), hex("c8 02 00 0c 00 01 00 00 00 00 00 00"));
    // data message: payload stops at Length
    L2TP d = parse(hex("40 02 00 0a 00 01 00 02 ff 03 aa"));
    EXPECT_EQ(d.payload().size(), 2u);
}

// req: L2TP.header
TEST(Header, SetControlForcesFlags) {
    L2TP m = L2TP::data_message(1, 2);
    m.set_offset(hex("00"));
    m.set_priority(true);
    m.set_control(true);
    EXPECT_TRUE(m.has_length());
    EXPECT_TRUE(m.has_sequence());
    EXPECT_FALSE(m.has_offset());
    EXPECT_FALSE(m.priority());
}

// req: L2TP.header
TEST(Header, CloneAndCopyAreIndependent) {
    L2TP m = make_data(1, 2, hex("01 02 03"));
    std::unique_ptr<L2TP> c(m.clone());
    EXPECT_EQ(c->serialize(), m.serialize());
    L2TP copy = m;
    copy.set_payload(hex("09"));
    EXPECT_EQ(m.payload().size(), 3u);
    L2TP moved = std::move(copy);
    EXPECT_EQ(moved.payload().size(), 1u);
    L2TP assigned = make_data(3, 4, hex("aa bb"));
    assigned = m;
    EXPECT_EQ(assigned.payload().size(), 3u);
    assigned = std::move(moved);
    EXPECT_EQ(assigned.payload().size(), 1u);
    L2TP ctl = make_zlb(1, 1, 1, 1);
    ctl.set_host_name("h");
    L2TP ctl2;
    ctl2 = ctl;
    EXPECT_EQ(ctl2.host_name(), "h");  // AVP values re-pointed at the copy's own buffer
    EXPECT_EQ(L2TP::pdu_flag, static_cast<Tins::PDU::PDUType>(Tins::PDU::USER_DEFINED_PDU + 1));
    EXPECT_EQ(m.pdu_type(), L2TP::pdu_flag);
}

struct Bad {
    const char* name;
    const char* bytes;
    const char* field;
};

class MalformedHeader : public ::testing::TestWithParam<Bad> {};

// req: L2TP.header
TEST_P(MalformedHeader, RejectedWithParseError) {
    const auto b = hex(GetParam().bytes);
    try {
        L2TP p(b.data(), static_cast<std::uint32_t>(b.size()));
        FAIL() << "accepted " << GetParam().name;
    } catch (const ParseError& e) {
        EXPECT_EQ(e.protocol(), dl::proto::Protocol::l2tp);
        EXPECT_EQ(e.field(), GetParam().field) << e.what();
        EXPECT_NE(e.source().find("RFC 2661"), std::string::npos);
    }
}

INSTANTIATE_TEST_SUITE_P(
    Rfc2661s31, MalformedHeader,
    ::testing::Values(Bad{"empty", "", "header"}, Bad{"five_octets", "00 02 00 01 00", "header"},
                      Bad{"ver1_l2f", "c8 01 00 0c 00 00 00 00 00 00 00 00", "header.ver"},
                      Bad{"ver3_l2tpv3", "c8 03 00 0c 00 00 00 00 00 00 00 00", "header.ver"},
                      Bad{"ver0", "00 00 00 01 00 02", "header.ver"},
                      Bad{"control_without_L", "88 02 00 00 00 00 00 00 00 00", "header.flags"},
                      Bad{"control_without_S", "c0 02 00 08 00 00 00 00", "header.flags"},
                      Bad{"control_with_O", "ca 02 00 0e 00 00 00 00 00 00 00 00 00 00", "header.flags"},
                      Bad{"control_with_P", "c9 02 00 0c 00 00 00 00 00 00 00 00", "header.flags"},
                      Bad{"length_beyond_datagram", "c8 02 00 0d 00 00 00 00 00 00 00 00", "header.length"},
                      Bad{"length_below_header", "c8 02 00 02 00 00 00 00 00 00 00 00", "header.length"},
                      Bad{"length_cuts_ns", "c8 02 00 0a 00 00 00 00 00 00 00 00", "header.ns"},
                      Bad{"truncated_ids", "40 02 00 06 00 00 00 00", "header.tunnel_id"},
                      Bad{"truncated_ns", "08 02 00 00 00 00 00 01", "header.ns"},
                      Bad{"truncated_offset_size", "02 02 00 00 00 00 00", "header.offset_size"},
                      Bad{"offset_past_end", "02 02 00 00 00 00 00 05 aa bb", "header.offset_pad"},
                      Bad{"avp_header_truncated", "c8 02 00 10 00 00 00 00 00 00 00 00 80 08 00 00", "avp[0]"},
                      Bad{"avp_length_below_6", "c8 02 00 12 00 00 00 00 00 00 00 00 80 05 00 00 00 00",
                          "avp[0].length"},
                      Bad{"avp_length_overflow", "c8 02 00 14 00 00 00 00 00 00 00 00 80 0a 00 00 00 00 00 01",
                          "avp[0].length"},
                      Bad{"avp_length_10bit_overflow",
                          "c8 02 00 14 00 00 00 00 00 00 00 00 83 ff 00 00 00 00 00 01", "avp[0].length"},
                      Bad{"second_avp_overflow",
                          "c8 02 00 1a 00 00 00 00 00 00 00 00 80 08 00 00 00 00 00 01 80 09 00 00 00 07",
                          "avp[1].length"}),
    [](const auto& pinfo) { return std::string(pinfo.param.name); });

}  // namespace
}  // namespace dl::l2tp
