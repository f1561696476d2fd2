// LCP / IPCP (RFC 1661 §5-§6, RFC 1570, RFC 1332, RFC 1877): golden bytes, accessors, errors.
#include "dl/ppp/control.hpp"

#include <gtest/gtest.h>

#include "dl/ppp/ppp.hpp"
#include "dl/proto/errors.hpp"
#include "dl/testing/bytes.hpp"
#include "test_util.hpp"

namespace dl::ppp {
namespace {

using dl::proto::ParseError;
using dl::testing::Bytes;
using dl::testing::hex;
using dl::testing::str;

template <typename T>
T parse(const Bytes& b) {
    return T(b.data(), static_cast<std::uint32_t>(b.size()));
}

template <typename T>
Bytes ser(T& p) {
    return p.serialize();
}

// Configure-Request, id 1: MRU 1500, ACCM 0, Auth CHAP-MD5, Magic 0x12345678, PFC, ACFC.
const Bytes kCfgReq = hex(
    "01 01 00 1d  01 04 05 dc  02 06 00 00 00 00  03 05 c2 23 05  05 06 12 34 56 78"
    "  07 02  08 02");

// req: PPP.lcp, PPP.ipcp
TEST(Lcp, ConfigureRequestGoldenBuild) {
    LCP p(CpCode::configure_request, 1);
    p.mru(1500);
    p.accm(0);
    p.auth_chap_md5();
    p.magic_number(0x12345678);
    p.pfc(true);
    p.acfc(true);
    EXPECT_EQ(ser(p), kCfgReq);
    EXPECT_EQ(p.length(), 0x1d);
}

// req: PPP.lcp, PPP.ipcp
TEST(Lcp, ConfigureRequestGoldenParse) {
    auto p = parse<LCP>(kCfgReq);
    EXPECT_EQ(p.code(), 1);
    EXPECT_EQ(p.code_name(), "Configure-Request");
    EXPECT_EQ(p.identifier(), 1);
    EXPECT_EQ(p.options().size(), 6u);
    EXPECT_EQ(p.mru(), 1500);
    EXPECT_EQ(p.accm(), 0u);
    ASSERT_TRUE(p.auth_protocol());
    EXPECT_EQ(p.auth_protocol()->protocol, kProtoCHAP);
    EXPECT_EQ(p.auth_protocol()->data, Bytes{kChapMd5});
    EXPECT_EQ(p.magic_number(), 0x12345678u);
    EXPECT_TRUE(p.pfc());
    EXPECT_TRUE(p.acfc());
    EXPECT_FALSE(p.quality_protocol());
    EXPECT_EQ(ser(p), kCfgReq);
    // Modify in place: set replaces, remove drops.
    p.mru(1400);
    p.acfc(false);
    EXPECT_EQ(p.mru(), 1400);
    EXPECT_FALSE(p.acfc());
    EXPECT_EQ(p.options().size(), 5u);
}

// req: PPP.lcp, PPP.ipcp
TEST(Lcp, AckNakRejectCarryOptions) {
    // Configure-Nak suggesting MRU 1492; Configure-Reject of PAP auth and Quality-Protocol (LQR).
    const Bytes nak = hex("03 02 00 08 01 04 05 d4");
    auto n = parse<LCP>(nak);
    EXPECT_EQ(n.code_name(), "Configure-Nak");
    EXPECT_EQ(n.mru(), 1492);
    EXPECT_EQ(ser(n), nak);
    const Bytes rej = hex("04 03 00 10 03 04 c0 23 04 08 c0 25 00 00 00 0a");
    auto r = parse<LCP>(rej);
    EXPECT_EQ(r.auth_protocol()->protocol, kProtoPAP);
    EXPECT_TRUE(r.auth_protocol()->data.empty());
    EXPECT_EQ(r.quality_protocol()->protocol, kProtoLQR);
    EXPECT_EQ(r.quality_protocol()->data, hex("00 00 00 0a"));
    EXPECT_EQ(ser(r), rej);
    LCP b(CpCode::configure_ack, 4);
    b.auth_protocol(kProtoPAP);
    EXPECT_EQ(ser(b), hex("02 04 00 08 03 04 c0 23"));
}

// req: PPP.lcp, PPP.ipcp
TEST(Lcp, UnknownAndRfc1570OptionsAreKept) {
    // Callback (13, RFC 1570 §2.3) op 6, and unknown type 0x42 with 3 value octets.
    const Bytes b = hex("01 09 00 0c 0d 03 06 42 05 aa bb cc");
    auto p = parse<LCP>(b);
    ASSERT_EQ(p.options().size(), 2u);
    EXPECT_EQ(p.options()[0].type, lcp_opt::callback);
    EXPECT_EQ(p.options()[1].type, 0x42);
    EXPECT_EQ(p.options()[1].value, hex("aa bb cc"));
    EXPECT_EQ(find_option_spec(ControlProtocol::lcp, 0x42), nullptr);
    EXPECT_EQ(find_option_spec(ControlProtocol::lcp, 13)->name, "Callback");
    EXPECT_EQ(ser(p), b);
}

// req: PPP.lcp, PPP.ipcp
TEST(Lcp, TerminateAndCodeReject) {
    const Bytes t = hex("05 07 00 08 42 79 65 21");  // Terminate-Request "Bye!"
    auto p = parse<LCP>(t);
    EXPECT_EQ(p.data(), str("Bye!"));
    EXPECT_EQ(ser(p), t);
    LCP ta(CpCode::terminate_ack, 7);
    EXPECT_EQ(ser(ta), hex("06 07 00 04"));
    const Bytes cr = hex("07 02 00 08 0e 01 00 04");  // Code-Reject of a code-14 packet
    auto c = parse<LCP>(cr);
    EXPECT_EQ(c.code_name(), "Code-Reject");
    EXPECT_EQ(Bytes(c.rejected_packet().begin(), c.rejected_packet().end()), hex("0e 01 00 04"));
    EXPECT_EQ(ser(c), cr);
}

// req: PPP.lcp, PPP.ipcp
TEST(Lcp, ProtocolReject) {
    const Bytes b = hex("08 03 00 0a 80 fd 01 01 00 04");  // rejects CCP Configure-Request
    auto p = parse<LCP>(b);
    EXPECT_EQ(p.rejected_protocol(), kProtoCCP);
    EXPECT_EQ(Bytes(p.rejected_information().begin(), p.rejected_information().end()),
              hex("01 01 00 04"));
    EXPECT_EQ(ser(p), b);
    LCP q(CpCode::configure_request, 3);
    q.protocol_reject(kProtoCCP, hex("01 01 00 04"));
    EXPECT_EQ(ser(q), b);
}

// req: PPP.lcp, PPP.ipcp
TEST(Lcp, EchoDiscardIdentificationTimeRemaining) {
    const Bytes echo = hex("09 07 00 0c 12 34 56 78 de ad be ef");
    auto e = parse<LCP>(echo);
    EXPECT_EQ(e.code_name(), "Echo-Request");
    EXPECT_EQ(e.magic_number(), 0x12345678u);
    EXPECT_EQ(Bytes(e.echo_data().begin(), e.echo_data().end()), hex("de ad be ef"));
    EXPECT_EQ(ser(e), echo);

    LCP r(CpCode::echo_reply, 7);
    EXPECT_EQ(ser(r), hex("0a 07 00 08 00 00 00 00"));
    r.magic_number(0x87654321);
    r.echo_data(hex("de ad be ef"));
    EXPECT_EQ(ser(r), hex("0a 07 00 0c 87 65 43 21 de ad be ef"));

    LCP dr(CpCode::discard_request, 1);
    dr.magic_number(1);
    EXPECT_EQ(ser(dr), hex("0b 01 00 08 00 00 00 01"));

    const Bytes id = hex("0c 01 00 0d 00 00 00 00 68 65 6c 6c 6f");  // Identification "hello"
    auto i = parse<LCP>(id);
    EXPECT_EQ(i.code_name(), "Identification");
    EXPECT_EQ(Bytes(i.echo_data().begin(), i.echo_data().end()), str("hello"));
    EXPECT_EQ(ser(i), id);

    const Bytes tr = hex("0d 02 00 0e 11 22 33 44 00 00 0e 10 61 62");  // 3600 s, "ab"
    auto t = parse<LCP>(tr);
    EXPECT_EQ(t.code_name(), "Time-Remaining");
    EXPECT_EQ(t.magic_number(), 0x11223344u);
    EXPECT_EQ(t.seconds_remaining(), 3600u);
    EXPECT_EQ(Bytes(t.echo_data().begin(), t.echo_data().end()), str("ab"));
    EXPECT_EQ(ser(t), tr);
    LCP t2(CpCode::time_remaining, 2);
    t2.magic_number(0x11223344);
    t2.seconds_remaining(3600);
    t2.echo_data(str("ab"));
    EXPECT_EQ(ser(t2), tr);
}

// req: PPP.lcp, PPP.ipcp
TEST(Lcp, UnknownCodeIsKeptForCodeReject) {
    const Bytes b = hex("20 05 00 06 ab cd");
    auto p = parse<LCP>(b);
    EXPECT_FALSE(p.known_code());
    EXPECT_EQ(p.code_name(), "Unknown");
    EXPECT_EQ(p.data(), hex("ab cd"));
    EXPECT_EQ(ser(p), b);
}

// req: PPP.lcp, PPP.ipcp
TEST(Lcp, PaddingAfterLengthIsIgnored) {
    auto p = parse<LCP>(hex("09 01 00 08 00 00 00 01 00 00 00"));
    EXPECT_EQ(ser(p), hex("09 01 00 08 00 00 00 01"));
}

// req: PPP.lcp, PPP.ipcp
TEST(Ipcp, GoldenBuildAndParse) {
    // Configure-Request: IP-Compression-Protocol VJ (max-slot 15, comp-slot 1), IP-Address
    // 10.0.0.1, Primary-DNS 192.0.2.53, Primary-NBNS 192.0.2.137, Secondary-DNS 198.51.100.53,
    // Secondary-NBNS 198.51.100.137.
    const Bytes b = hex(
        "01 05 00 28  02 06 00 2d 0f 01  03 06 0a 00 00 01  81 06 c0 00 02 35"
        "  80 06 c0 00 02 89  83 06 c6 33 64 35  82 06 c6 33 64 89");
    auto p = parse<IPCP>(b);
    EXPECT_EQ(p.code_name(), "Configure-Request");
    EXPECT_EQ(p.ip_address(), 0x0a000001u);
    EXPECT_EQ(p.primary_dns(), 0xc0000235u);
    EXPECT_EQ(p.primary_nbns(), 0xc0000289u);
    EXPECT_EQ(p.secondary_dns(), 0xc6336435u);
    EXPECT_EQ(p.secondary_nbns(), 0xc6336489u);
    EXPECT_EQ(p.ip_compression_protocol()->protocol, 0x002d);
    EXPECT_EQ(p.ip_compression_protocol()->data, hex("0f 01"));
    EXPECT_EQ(ser(p), b);

    IPCP q(CpCode::configure_request, 5);
    q.add_option(ipcp_opt::ip_compression_protocol, hex("00 2d 0f 01"));
    q.ip_address(0x0a000001);
    q.primary_dns(0xc0000235);
    q.primary_nbns(0xc0000289);
    q.secondary_dns(0xc6336435);
    q.secondary_nbns(0xc6336489);
    EXPECT_EQ(ser(q), b);
}

// req: PPP.lcp, PPP.ipcp
TEST(Ipcp, DeprecatedIpAddressesAndNak) {
    const Bytes b = hex("03 01 00 0e 01 0a 0a 00 00 01 0a 00 00 02");
    auto p = parse<IPCP>(b);
    ASSERT_TRUE(p.ip_addresses());
    EXPECT_EQ(p.ip_addresses()->first, 0x0a000001u);
    EXPECT_EQ(p.ip_addresses()->second, 0x0a000002u);
    EXPECT_EQ(ser(p), b);
    // LCP-only codes are unknown in IPCP (RFC 1332 §2: codes 1-7 only).
    auto e = parse<IPCP>(hex("09 01 00 08 00 00 00 00"));
    EXPECT_FALSE(e.known_code());
    EXPECT_EQ(find_option_spec(ControlProtocol::ipcp, 129)->source, "RFC 1877 §1.1");
}

struct BadCase {
    const char* what;
    bool lcp;
    const char* hex;
    const char* field_contains;
    const char* source;
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.what << ": " << c.hex; }

class ControlMalformed : public ::testing::TestWithParam<BadCase> {};

// req: PPP.lcp, PPP.ipcp
TEST_P(ControlMalformed, IsParseError) {
    const auto& c = GetParam();
    const Bytes b = hex(c.hex);
    try {
        if (c.lcp) parse<LCP>(b); else parse<IPCP>(b);
        FAIL() << c.what << ": no ParseError";
    } catch (const ParseError& e) {
        EXPECT_EQ(e.protocol(), dl::proto::Protocol::ppp) << c.what;
        EXPECT_NE(e.field().find(c.field_contains), std::string::npos) << c.what << ": " << e.what();
        EXPECT_EQ(e.source(), c.source) << c.what << ": " << e.what();
    }
}

INSTANTIATE_TEST_SUITE_P(
    All, ControlMalformed,
    ::testing::Values(
        BadCase{"empty", true, "", "header", "RFC 1661 §5"},
        BadCase{"3 octets", true, "01 01 00", "header", "RFC 1661 §5"},
        BadCase{"length below 4", true, "01 01 00 03", "length", "RFC 1661 §5"},
        BadCase{"length beyond buffer", true, "01 01 00 09 01 04 05 dc", "length", "RFC 1661 §5"},
        BadCase{"option header truncated", true, "01 01 00 05 01", "option[0]", "RFC 1661 §6"},
        BadCase{"option length 0", true, "01 01 00 06 01 00", "option[0]", "RFC 1661 §6"},
        BadCase{"option length 1", true, "01 01 00 06 42 01", "option[0] type 66", "RFC 1661 §6"},
        BadCase{"option overruns", true, "01 01 00 07 01 04 05", "option[0]", "RFC 1661 §6"},
        BadCase{"MRU length 3", true, "01 01 00 07 01 03 05", "Maximum-Receive-Unit", "RFC 1661 §6.1"},
        BadCase{"MRU length 5", true, "01 01 00 09 01 05 05 dc 00", "option[0] Maximum-Receive-Unit(1)", "RFC 1661 §6.1"},
        BadCase{"ACCM length 4", true, "01 01 00 08 02 04 00 00", "Async-Control", "RFC 1662 §7.1"},
        BadCase{"Auth length 3", true, "01 01 00 07 03 03 c0", "Authentication-Protocol", "RFC 1661 §6.2"},
        BadCase{"CHAP without algorithm", true, "01 01 00 08 03 04 c2 23", "Authentication-Protocol", "RFC 1994 §3"},
        BadCase{"Quality length 2", true, "01 01 00 06 04 02", "Quality-Protocol", "RFC 1661 §6.3"},
        BadCase{"Magic length 4", true, "01 01 00 08 05 04 00 00", "Magic-Number", "RFC 1661 §6.4"},
        BadCase{"PFC with value", true, "01 01 00 07 07 03 00", "Protocol-Field-Compression", "RFC 1661 §6.5"},
        BadCase{"ACFC with value", true, "01 01 00 07 08 03 00", "Address-and-Control", "RFC 1661 §6.6"},
        BadCase{"second option bad", true, "01 01 00 0a 07 02 05 04 00 00", "option[1] Magic-Number", "RFC 1661 §6.4"},
        BadCase{"FCS-Alternatives length 2", true, "01 01 00 06 09 02", "FCS-Alternatives", "RFC 1570 §2.1"},
        BadCase{"Protocol-Reject short", true, "08 01 00 05 c0", "data", "RFC 1661 §5.7"},
        BadCase{"Echo without magic", true, "09 01 00 06 00 00", "data", "RFC 1661 §5.8"},
        BadCase{"Discard without magic", true, "0b 01 00 04", "data", "RFC 1661 §5.9"},
        BadCase{"Identification short", true, "0c 01 00 07 00 00 00", "data", "RFC 1570 §1.1"},
        BadCase{"Time-Remaining short", true, "0d 01 00 0a 00 00 00 00 00 00", "data", "RFC 1570 §1.2"},
        BadCase{"IPCP header", false, "01 01", "ipcp.header", "RFC 1661 §5"},
        BadCase{"IP-Address length 4", false, "01 01 00 08 03 04 0a 00", "IP-Address", "RFC 1332 §3.3"},
        BadCase{"IP-Addresses length 6", false, "01 01 00 0a 01 06 0a 00 00 01", "IP-Addresses", "RFC 1332 §3.1"},
        BadCase{"IP-Compression length 3", false, "01 01 00 07 02 03 00", "IP-Compression-Protocol", "RFC 1332 §3.2"},
        BadCase{"Primary DNS length 5", false, "01 01 00 09 81 05 01 02 03", "Primary-DNS", "RFC 1877 §1.1"},
        BadCase{"Secondary NBNS length 7", false, "01 01 00 0b 82 07 01 02 03 04 05", "Secondary-NBNS", "RFC 1877 §1.4"}),
    [](const auto& p) { return test::param_name(p.param.what); });

// req: PPP.lcp, PPP.ipcp
TEST(ControlTables, DeclarativeRegistry) {
    EXPECT_EQ(code_table(ControlProtocol::lcp).size(), 13u);
    EXPECT_EQ(code_table(ControlProtocol::ipcp).size(), 7u);
    for (auto p : {ControlProtocol::lcp, ControlProtocol::ipcp}) {
        for (const auto& o : option_table(p)) {
            EXPECT_GE(o.min_len, 2) << o.name;
            EXPECT_LE(o.min_len, o.max_len) << o.name;
            EXPECT_FALSE(o.source.empty()) << o.name;
            EXPECT_EQ(find_option_spec(p, o.type), &o);
        }
    }
    EXPECT_EQ(find_code(ControlProtocol::lcp, 13)->source, "RFC 1570 §1.2");
    EXPECT_EQ(find_code(ControlProtocol::ipcp, 8), nullptr);
}

// req: PPP.lcp, PPP.ipcp
TEST(Lcp, CloneAndLongOptionValues) {
    LCP p(CpCode::configure_request, 9);
    p.mru(1500);
    std::unique_ptr<LCP> c(p.clone());
    EXPECT_EQ(c->serialize(), p.serialize());
    EXPECT_THROW(p.add_option(0x42, Bytes(254, 0)), std::length_error);
    EXPECT_NO_THROW(p.add_option(0x42, Bytes(253, 0)));
    EXPECT_EQ(parse<LCP>(p.serialize()).options().back().value.size(), 253u);
}

// serialize_control writes the same octets as the LCP / IPCP objects, without building one.
// req: PPP.lcp, PPP.ipcp
TEST(SerializeControl, GoldenBytesAndSameAsThePduForEveryKindOfData) {
    // Configure-Request of the golden packet above, from its option list alone.
    const LCP golden = parse<LCP>(kCfgReq);
    Bytes out = hex("aa bb");  // appends: what was there stays
    serialize_control(ControlProtocol::lcp, 1, 1, golden.options(), {}, out);
    EXPECT_EQ(out, dl::testing::cat(hex("aa bb"), kCfgReq));

    // Options for codes 1-4 (data ignored), data for the others (options ignored), both protocols.
    const std::vector<CpOption> opts = {{3, {10, 0, 0, 1}}, {129, {8, 8, 8, 8}}, {0x55, {}}};
    const Bytes data = hex("de ad be ef 01");
    for (ControlProtocol proto : {ControlProtocol::lcp, ControlProtocol::ipcp}) {
        for (std::uint8_t code = 1; code <= 13; ++code) {
            Bytes mine;
            serialize_control(proto, code, 7, opts, data, mine);
            Bytes theirs;
            if (proto == ControlProtocol::lcp) {
                LCP p(static_cast<CpCode>(code), 7);
                p.options() = opts;
                p.data(data);
                theirs = p.serialize();
            } else {
                IPCP p(static_cast<CpCode>(code), 7);
                p.options() = opts;
                p.data(data);
                theirs = p.serialize();
            }
            EXPECT_EQ(mine, theirs) << "protocol " << static_cast<int>(proto) << " code " << int(code);
        }
    }
    // Terminate-Ack with no data: 4 octets (RFC 1661 §5.5).
    Bytes ack;
    serialize_control(ControlProtocol::ipcp, 6, 0x42, {}, {}, ack);
    EXPECT_EQ(ack, hex("06 42 00 04"));
    // Over 65535 octets: length_error, nothing appended.
    Bytes big;
    const std::vector<std::uint8_t> huge(70000, 0);
    EXPECT_THROW(serialize_control(ControlProtocol::lcp, 9, 1, {}, huge, big), std::length_error);
    EXPECT_TRUE(big.empty());
}

}  // namespace
}  // namespace dl::ppp
