// PPP encapsulation PDU (RFC 1661 §2, §6.5): Protocol field, inner PDU selection, errors.
#include "dl/ppp/ppp.hpp"

#include <gtest/gtest.h>
#include <tins/ip.h>
#include <tins/rawpdu.h>

#include "dl/ppp/auth.hpp"
#include "dl/ppp/control.hpp"
#include "dl/ppp/hdlc.hpp"
#include "dl/proto/errors.hpp"
#include "dl/testing/bytes.hpp"

namespace dl::ppp {
namespace {

using dl::proto::ParseError;
using dl::testing::Bytes;
using dl::testing::hex;

PPP parse(const Bytes& b) { return PPP(b.data(), static_cast<std::uint32_t>(b.size())); }

TEST(Ppp, InnerChosenByProtocol) {
    auto l = parse(hex("c0 21 09 01 00 08 00 00 00 01"));
    EXPECT_EQ(l.protocol(), kProtoLCP);
    ASSERT_NE(l.find_pdu<LCP>(), nullptr);
    EXPECT_EQ(l.find_pdu<LCP>()->magic_number(), 1u);
    EXPECT_NE(parse(hex("80 21 01 01 00 04")).find_pdu<IPCP>(), nullptr);
    EXPECT_NE(parse(hex("c0 23 02 01 00 05 00")).find_pdu<PAP>(), nullptr);
    EXPECT_NE(parse(hex("c2 23 04 01 00 04")).find_pdu<CHAP>(), nullptr);
    auto c = parse(hex("80 fd 01 01 00 04"));
    EXPECT_EQ(c.protocol(), kProtoCCP);
    ASSERT_NE(c.find_pdu<Tins::RawPDU>(), nullptr);
    EXPECT_EQ(c.find_pdu<Tins::RawPDU>()->payload(), hex("01 01 00 04"));
    EXPECT_EQ(c.serialize(), hex("80 fd 01 01 00 04"));
    EXPECT_EQ(parse(hex("00 3d")).inner_pdu(), nullptr);  // no Information
}

TEST(Ppp, ProtocolFieldCompression) {
    // RFC 1661 §6.5: 0x21 alone is the compressed IPv4 Protocol field.
    const Bytes ip = hex("21 45 00 00 14 00 01 00 00 40 00 f9 e5 0a 00 00 01 0a 00 00 02");
    auto p = parse(ip);
    EXPECT_EQ(p.protocol(), kProtoIPv4);
    EXPECT_TRUE(p.protocol_compressed());
    EXPECT_EQ(p.header_size(), 1u);
    EXPECT_EQ(p.serialize(), ip);
    auto v4 = p.ipv4();
    ASSERT_TRUE(v4);
    EXPECT_EQ(v4->dst_addr(), Tins::IPv4Address("10.0.0.2"));
    p.protocol_compressed(false);
    EXPECT_EQ(p.serialize()[0], 0x00);
    EXPECT_EQ(p.serialize()[1], 0x21);
    // Compression is never applied to values >= 0x100.
    PPP l(kProtoLCP, true);
    l.inner_pdu(LCP(CpCode::terminate_ack, 1));
    EXPECT_EQ(l.serialize(), hex("c0 21 06 01 00 04"));
}

TEST(Ppp, ProtocolFollowsInnerPdu) {
    PPP p;  // protocol 0
    p /= PAP(PapCode::authenticate_ack, 3);
    EXPECT_EQ(p.serialize(), hex("c0 23 02 03 00 05 00"));
    PPP q;
    q /= IPCP(CpCode::terminate_request, 2);
    EXPECT_EQ(q.serialize(), hex("80 21 05 02 00 04"));
    PPP r;
    r /= CHAP(ChapCode::failure, 1);
    EXPECT_EQ(r.serialize(), hex("c2 23 04 01 00 04"));
    PPP s(0x0057);
    s /= Tins::RawPDU(hex("60 00"));
    EXPECT_EQ(s.serialize(), hex("00 57 60 00"));
    std::unique_ptr<PPP> c(r.clone());
    EXPECT_EQ(c->serialize(), r.serialize());
}

TEST(Ppp, FromHdlcPayloadAndSyncRoundTrip) {
    const Bytes frame = hex("ff 03 c0 21 05 01 00 04");
    auto p = PPP::from_hdlc_payload(frame);
    EXPECT_EQ(p.find_pdu<LCP>()->code_name(), "Terminate-Request");
    auto q = PPP::from_hdlc_payload(hex("c0 21 05 01 00 04"));  // ACFC
    EXPECT_EQ(q.serialize(), hex("c0 21 05 01 00 04"));
    EXPECT_THROW(PPP::from_hdlc_payload(hex("ff 13 c0 21 05 01 00 04")), ParseError);
    EXPECT_THROW(PPP::from_hdlc_payload(hex("ff")), ParseError);
    // HDLC sync framing around a PPP PDU.
    const Bytes wire = encode_sync(p.serialize());
    auto back = decode_sync(wire);
    EXPECT_EQ(PPP(back.data(), static_cast<std::uint32_t>(back.size())).serialize(), p.serialize());
}

TEST(Ppp, MalformedIsParseError) {
    EXPECT_THROW(parse(Bytes{}), ParseError);
    EXPECT_THROW(parse(hex("c0")), ParseError);        // even first octet, then nothing
    EXPECT_THROW(parse(hex("c0 22 01")), ParseError);  // even Protocol (RFC 1661 §2)
    EXPECT_THROW(parse(hex("c0 21 01 01 00")), ParseError);            // LCP truncated
    EXPECT_THROW(parse(hex("c0 23 01 01 00 05 09")), ParseError);      // PAP peer-id overruns
    EXPECT_THROW(parse(hex("c2 23 01 01 00 05 00")), ParseError);      // CHAP Value-Size 0
    EXPECT_THROW(parse(hex("80 21 01 01 00 06 03 06")), ParseError);   // IPCP option overruns
    try {
        parse(hex("c0 22 01"));
    } catch (const ParseError& e) {
        EXPECT_EQ(e.field(), "protocol");
        EXPECT_EQ(e.source(), "RFC 1661 §2");
    }
}

}  // namespace
}  // namespace dl::ppp
