// RFC 2661 §4.1 AVP framing and §4.4 AVP values: golden bytes for every typed accessor (hand-assembled
// from the §4.4 layouts), registry contents, unknown / vendor / reserved-bit AVPs.
#include <gtest/gtest.h>

#include <functional>

#include "dl/l2tp/builders.hpp"
#include "dl/l2tp/l2tp.hpp"
#include "dl/l2tp/registry.hpp"
#include "dl/l2tp/validate.hpp"
#include "dl/proto/errors.hpp"
#include "dl/testing/bytes.hpp"

namespace dl::l2tp {
namespace {

using dl::testing::hex;

struct AvpCase {
    const char* name;
    std::function<void(L2TP&)> set;
    const char* avp_bytes;  // the AVP as it must appear after the 12-octet control header
    std::function<void(const L2TP&)> check;
};

std::vector<std::uint8_t> v(std::initializer_list<std::uint8_t> l) { return l; }

const std::vector<AvpCase>& cases() {
    static const std::vector<AvpCase> c = {
        {"MessageType", [](L2TP& m) { m.set_message_type(MessageType::SCCRQ); }, "80 08 0000 0000 0001",
         [](const L2TP& m) { EXPECT_EQ(m.message_type(), 1); }},
        {"ResultCode", [](L2TP& m) { m.set_result_code({2, 8, "x"}); }, "80 0b 0000 0001 0002 0008 78",
         [](const L2TP& m) { EXPECT_EQ(m.result_code(), (ResultCode{2, 8, "x"})); }},
        {"ResultCodeOnly", [](L2TP& m) { m.set_result_code({1, std::nullopt, std::nullopt}); },
         "80 08 0000 0001 0001",
         [](const L2TP& m) { EXPECT_EQ(m.result_code(), (ResultCode{1, std::nullopt, std::nullopt})); }},
        {"ResultCodeWithError", [](L2TP& m) { m.set_result_code({2, 6, std::nullopt}); }, "80 0a 0000 0001 0002 0006",
         [](const L2TP& m) { EXPECT_EQ(m.result_code(), (ResultCode{2, 6, std::nullopt})); }},
        {"ProtocolVersion", [](L2TP& m) { m.set_protocol_version(); }, "80 08 0000 0002 01 00",
         [](const L2TP& m) { EXPECT_EQ(m.protocol_version(), (ProtocolVersion{1, 0})); }},
        {"FramingCapabilities", [](L2TP& m) { m.set_framing_capabilities(kFramingAsync | kFramingSync); },
         "80 0a 0000 0003 00000003", [](const L2TP& m) { EXPECT_EQ(m.framing_capabilities(), 3u); }},
        {"BearerCapabilities", [](L2TP& m) { m.set_bearer_capabilities(kBearerDigital); }, "80 0a 0000 0004 00000001",
         [](const L2TP& m) { EXPECT_EQ(m.bearer_capabilities(), 1u); }},
        {"TieBreaker", [](L2TP& m) { m.set_tie_breaker(0x0102030405060708ull); }, "00 0e 0000 0005 0102030405060708",
         [](const L2TP& m) { EXPECT_EQ(m.tie_breaker(), 0x0102030405060708ull); }},
        {"FirmwareRevision", [](L2TP& m) { m.set_firmware_revision(0x0680); }, "00 08 0000 0006 0680",
         [](const L2TP& m) { EXPECT_EQ(m.firmware_revision(), 0x0680); }},
        {"HostName", [](L2TP& m) { m.set_host_name("lns"); }, "80 09 0000 0007 6c6e73",
         [](const L2TP& m) { EXPECT_EQ(m.host_name(), "lns"); }},
        {"VendorName", [](L2TP& m) { m.set_vendor_name("dl"); }, "00 08 0000 0008 646c",
         [](const L2TP& m) { EXPECT_EQ(m.vendor_name(), "dl"); }},
        {"AssignedTunnelId", [](L2TP& m) { m.set_assigned_tunnel_id(0x0cb9); }, "80 08 0000 0009 0cb9",
         [](const L2TP& m) { EXPECT_EQ(m.assigned_tunnel_id(), 0x0cb9); }},
        {"ReceiveWindowSize", [](L2TP& m) { m.set_receive_window_size(8); }, "80 08 0000 000a 0008",
         [](const L2TP& m) { EXPECT_EQ(m.receive_window_size(), 8); }},
        {"Challenge", [](L2TP& m) { m.set_challenge(v({1, 2, 3})); }, "80 09 0000 000b 010203",
         [](const L2TP& m) { EXPECT_EQ(m.challenge(), v({1, 2, 3})); }},
        {"Q931CauseCode", [](L2TP& m) { m.set_q931_cause_code({0x0011, 0x45, "busy"}); },
         "80 0d 0000 000c 0011 45 62757379",
         [](const L2TP& m) { EXPECT_EQ(m.q931_cause_code(), (Q931Cause{0x11, 0x45, "busy"})); }},
        {"ChallengeResponse",
         [](L2TP& m) {
             std::array<std::uint8_t, 16> r{};
             for (int i = 0; i < 16; ++i) r[i] = static_cast<std::uint8_t>(i);
             m.set_challenge_response(r);
         },
         "80 16 0000 000d 000102030405060708090a0b0c0d0e0f",
         [](const L2TP& m) { EXPECT_EQ((*m.challenge_response())[15], 15); }},
        {"AssignedSessionId", [](L2TP& m) { m.set_assigned_session_id(1); }, "80 08 0000 000e 0001",
         [](const L2TP& m) { EXPECT_EQ(m.assigned_session_id(), 1); }},
        {"CallSerialNumber", [](L2TP& m) { m.set_call_serial_number(0x01020304); }, "80 0a 0000 000f 01020304",
         [](const L2TP& m) { EXPECT_EQ(m.call_serial_number(), 0x01020304u); }},
        {"MinimumBps", [](L2TP& m) { m.set_minimum_bps(64000); }, "80 0a 0000 0010 0000fa00",
         [](const L2TP& m) { EXPECT_EQ(m.minimum_bps(), 64000u); }},
        {"MaximumBps", [](L2TP& m) { m.set_maximum_bps(128000); }, "80 0a 0000 0011 0001f400",
         [](const L2TP& m) { EXPECT_EQ(m.maximum_bps(), 128000u); }},
        {"BearerType", [](L2TP& m) { m.set_bearer_type(kBearerDigital); }, "80 0a 0000 0012 00000001",
         [](const L2TP& m) { EXPECT_EQ(m.bearer_type(), 1u); }},
        {"FramingType", [](L2TP& m) { m.set_framing_type(kFramingSync); }, "80 0a 0000 0013 00000001",
         [](const L2TP& m) { EXPECT_EQ(m.framing_type(), 1u); }},
        {"CalledNumber", [](L2TP& m) { m.set_called_number("123"); }, "80 09 0000 0015 313233",
         [](const L2TP& m) { EXPECT_EQ(m.called_number(), "123"); }},
        {"CallingNumber", [](L2TP& m) { m.set_calling_number("456"); }, "80 09 0000 0016 343536",
         [](const L2TP& m) { EXPECT_EQ(m.calling_number(), "456"); }},
        {"SubAddress", [](L2TP& m) { m.set_sub_address("7"); }, "80 07 0000 0017 37",
         [](const L2TP& m) { EXPECT_EQ(m.sub_address(), "7"); }},
        {"TxConnectSpeed", [](L2TP& m) { m.set_tx_connect_speed(64000); }, "80 0a 0000 0018 0000fa00",
         [](const L2TP& m) { EXPECT_EQ(m.tx_connect_speed(), 64000u); }},
        {"PhysicalChannelId", [](L2TP& m) { m.set_physical_channel_id(5); }, "00 0a 0000 0019 00000005",
         [](const L2TP& m) { EXPECT_EQ(m.physical_channel_id(), 5u); }},
        {"InitialReceivedLcpConfreq", [](L2TP& m) { m.set_initial_received_lcp_confreq(v({1, 4, 5, 0xdc})); },
         "00 0a 0000 001a 010405dc",
         [](const L2TP& m) { EXPECT_EQ(m.initial_received_lcp_confreq(), v({1, 4, 5, 0xdc})); }},
        {"LastSentLcpConfreq", [](L2TP& m) { m.set_last_sent_lcp_confreq(v({1, 4, 5, 0xdc})); },
         "00 0a 0000 001b 010405dc",
         [](const L2TP& m) { EXPECT_EQ(m.last_sent_lcp_confreq(), v({1, 4, 5, 0xdc})); }},
        {"LastReceivedLcpConfreq", [](L2TP& m) { m.set_last_received_lcp_confreq(v({1, 4, 5, 0xdc})); },
         "00 0a 0000 001c 010405dc",
         [](const L2TP& m) { EXPECT_EQ(m.last_received_lcp_confreq(), v({1, 4, 5, 0xdc})); }},
        {"ProxyAuthenType", [](L2TP& m) { m.set_proxy_authen_type(ProxyAuthenType::Chap); }, "00 08 0000 001d 0002",
         [](const L2TP& m) { EXPECT_EQ(m.proxy_authen_type(), 2); }},
        {"ProxyAuthenName", [](L2TP& m) { m.set_proxy_authen_name("bob"); }, "00 09 0000 001e 626f62",
         [](const L2TP& m) { EXPECT_EQ(m.proxy_authen_name(), "bob"); }},
        {"ProxyAuthenChallenge", [](L2TP& m) { m.set_proxy_authen_challenge(v({0xaa, 0xbb})); },
         "00 08 0000 001f aabb", [](const L2TP& m) { EXPECT_EQ(m.proxy_authen_challenge(), v({0xaa, 0xbb})); }},
        {"ProxyAuthenId", [](L2TP& m) { m.set_proxy_authen_id(7); }, "00 08 0000 0020 0007",
         [](const L2TP& m) { EXPECT_EQ(m.proxy_authen_id(), 7); }},
        {"ProxyAuthenResponse", [](L2TP& m) { m.set_proxy_authen_response(v({0xcc})); }, "00 07 0000 0021 cc",
         [](const L2TP& m) { EXPECT_EQ(m.proxy_authen_response(), v({0xcc})); }},
        {"CallErrors", [](L2TP& m) { m.set_call_errors({1, 2, 3, 4, 5, 6}); },
         "80 20 0000 0022 0000 00000001 00000002 00000003 00000004 00000005 00000006",
         [](const L2TP& m) { EXPECT_EQ(m.call_errors(), (CallErrors{1, 2, 3, 4, 5, 6})); }},
        {"Accm", [](L2TP& m) { m.set_accm({0x0000000a, 0xffffffff}); }, "80 10 0000 0023 0000 0000000a ffffffff",
         [](const L2TP& m) { EXPECT_EQ(m.accm(), (Accm{0xa, 0xffffffff})); }},
        {"RandomVector", [](L2TP& m) { m.set_random_vector(v({1, 2, 3, 4})); }, "80 0a 0000 0024 01020304",
         [](const L2TP& m) { EXPECT_EQ(m.random_vector(), v({1, 2, 3, 4})); }},
        {"PrivateGroupId", [](L2TP& m) { m.set_private_group_id(v({'g', '1'})); }, "00 08 0000 0025 6731",
         [](const L2TP& m) { EXPECT_EQ(m.private_group_id(), v({'g', '1'})); }},
        {"RxConnectSpeed", [](L2TP& m) { m.set_rx_connect_speed(33600); }, "00 0a 0000 0026 00008340",
         [](const L2TP& m) { EXPECT_EQ(m.rx_connect_speed(), 33600u); }},
        {"SequencingRequired", [](L2TP& m) { m.set_sequencing_required(true); }, "80 06 0000 0027",
         [](const L2TP& m) { EXPECT_TRUE(m.sequencing_required()); }},
    };
    return c;
}

class AvpGolden : public ::testing::TestWithParam<std::size_t> {};

// req: L2TP.avp
TEST_P(AvpGolden, EncodeDecode) {
    const AvpCase& c = cases()[GetParam()];
    L2TP m;
    c.set(m);
    const auto bytes = m.serialize();
    ASSERT_GE(bytes.size(), 12u);
    EXPECT_EQ(std::vector<std::uint8_t>(bytes.begin() + 12, bytes.end()), hex(c.avp_bytes)) << c.name;
    L2TP p(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
    ASSERT_EQ(p.avps().size(), 1u);
    EXPECT_TRUE(p.avps()[0].recognized());
    c.check(p);
    EXPECT_EQ(p.serialize(), bytes);
}

INSTANTIATE_TEST_SUITE_P(Rfc2661s44, AvpGolden, ::testing::Range<std::size_t>(0, 41),
                         [](const auto& pinfo) { return std::string(cases()[pinfo.param].name); });

// req: L2TP.avp
TEST(AvpGoldenTable, CoversEveryRegistryEntry) {
    EXPECT_EQ(cases().size(), 41u);
    EXPECT_EQ(avp_registry().size(), 39u);  // 0-39 except 20
}

// req: L2TP.avp
TEST(Registry, MessagesAndAvps) {
    EXPECT_EQ(message_name(1), "SCCRQ");
    EXPECT_EQ(message_name(MessageType::StopCCN), "StopCCN");
    EXPECT_EQ(message_name(MessageType::HELLO), "HELLO");
    EXPECT_EQ(message_name(7), "OCRQ");
    EXPECT_EQ(message_name(16), "SLI");
    EXPECT_EQ(message_name(5), "reserved");
    EXPECT_EQ(message_name(13), "reserved");
    EXPECT_EQ(message_name(0), "reserved");
    EXPECT_EQ(message_name(17), "unknown");
    EXPECT_EQ(message_registry().size(), 14u);
    for (const auto& m : message_registry()) EXPECT_EQ(message_info(m.type), &m);
    EXPECT_EQ(avp_name(AvpType::ChallengeResponse), "Challenge Response");
    EXPECT_EQ(avp_info(20), nullptr);
    EXPECT_EQ(avp_info(40), nullptr);
    EXPECT_EQ(avp_info(AvpType::TieBreaker)->m, MRule::must_be_0);
    EXPECT_FALSE(avp_info(AvpType::HostName)->may_hide);
    EXPECT_TRUE(avp_info(AvpType::ProxyAuthenResponse)->may_hide);
    EXPECT_EQ(message_info(MessageType::OCRQ)->required.size(), 7u);
    EXPECT_EQ(to_string(CdnResult::Busy), "Call failed due to detection of a busy signal");
    EXPECT_EQ(to_string(StopCcnResult::FsmError), "Finite State Machine error");
    EXPECT_EQ(to_string(GeneralError::UnknownMandatoryAvp).substr(0, 7), "Session");
}

// req: L2TP.avp
TEST(Avp, TenBitLength) {
    L2TP m;
    m.set_host_name(std::string(300, 'h'));
    const auto b = m.serialize();
    EXPECT_EQ(b[12], 0x81);  // M + high bits of 306
    EXPECT_EQ(b[13], 0x32);
    L2TP p(b.data(), static_cast<std::uint32_t>(b.size()));
    EXPECT_EQ(p.host_name()->size(), 300u);
    EXPECT_THROW(m.set_host_name(std::string(1018, 'h')), std::length_error);
}

// req: L2TP.avp
TEST(Avp, VendorAvpKeptOpaqueAndByteExact) {
    const auto b = hex("c8 02 00 1e 00 01 00 00 00 00 00 00 80 08 0000 0000 0006 "
                       "00 0a 0137 0001 deadbeef");
    L2TP p(b.data(), static_cast<std::uint32_t>(b.size()));
    ASSERT_EQ(p.avps().size(), 2u);
    const Avp& a = p.avps()[1];
    EXPECT_EQ(a.vendor_id(), 0x137);
    EXPECT_EQ(a.type(), 1);
    EXPECT_FALSE(a.recognized());
    EXPECT_EQ(p.result_code(), std::nullopt);  // vendor type 1 is not the IETF Result Code
    EXPECT_EQ(first_unknown_mandatory_avp(p), nullptr);
    EXPECT_NO_THROW(validate(p));
    EXPECT_EQ(p.serialize(), b);
}

// req: L2TP.avp
TEST(Avp, UnknownMandatoryReported) {
    const auto b = hex("c8 02 00 1c 00 01 00 00 00 00 00 00 80 08 0000 0000 0006 "
                       "80 08 0000 0063 0001");  // IETF type 99, M set
    L2TP p(b.data(), static_cast<std::uint32_t>(b.size()));
    const Avp* u = first_unknown_mandatory_avp(p);
    ASSERT_NE(u, nullptr);
    EXPECT_EQ(u->type(), 99);
    try {
        validate(p);
        FAIL();
    } catch (const UnknownMandatoryAvp& e) {
        EXPECT_EQ(e.attribute_type(), 99);
        EXPECT_FALSE(e.session_scope());  // HELLO is a tunnel message: StopCCN
        EXPECT_EQ(e.message(), "HELLO");
        EXPECT_EQ(e.source(), "RFC 2661 §4.1");
    }
    EXPECT_EQ(p.serialize(), b);
}

// req: L2TP.avp
TEST(Avp, ReservedBitMakesAvpUnrecognized) {
    // Host Name with M and a reserved bit set (0x84): treated as unrecognised (§4.1)
    const auto b = hex("c8 02 00 1d 00 01 00 00 00 00 00 00 80 08 0000 0000 0006 84 09 0000 0007 6c6e73");
    L2TP p(b.data(), static_cast<std::uint32_t>(b.size()));
    EXPECT_EQ(p.avps()[1].reserved_bits(), 1);
    EXPECT_FALSE(p.avps()[1].recognized());
    EXPECT_EQ(p.host_name(), std::nullopt);
    EXPECT_EQ(first_unknown_mandatory_avp(p), &p.avps()[1]);
    EXPECT_THROW(validate(p), UnknownMandatoryAvp);
    EXPECT_EQ(p.serialize(), b);
}

// req: L2TP.avp
TEST(Avp, WrongValueLengthGetterThrowsParseError) {
    // Assigned Tunnel ID with 3 octets
    const auto b = hex("c8 02 00 1d 00 01 00 00 00 00 00 00 80 08 0000 0000 0006 80 09 0000 0009 000102");
    L2TP p(b.data(), static_cast<std::uint32_t>(b.size()));
    EXPECT_THROW((void)p.assigned_tunnel_id(), dl::proto::ParseError);
    auto err = check(p);
    ASSERT_TRUE(err);
    EXPECT_EQ(err->item(), "Assigned Tunnel ID");
    EXPECT_EQ(p.serialize(), b);
}

// req: L2TP.avp
TEST(Avp, SetReplacesAndMessageTypeGoesFirst) {
    L2TP m;
    m.set_host_name("a");
    m.set_message_type(MessageType::SCCRQ);
    m.set_host_name("bb");
    ASSERT_EQ(m.avps().size(), 2u);
    EXPECT_TRUE(m.avps()[0].is(AvpType::MessageType));
    EXPECT_EQ(m.host_name(), "bb");
    EXPECT_EQ(m.remove_avp(AvpType::HostName), 1u);
    EXPECT_EQ(m.host_name(), std::nullopt);
    m.set_sequencing_required(true);
    m.set_sequencing_required(false);
    EXPECT_FALSE(m.sequencing_required());
}

// req: L2TP.avp
TEST(Avp, ManyAvpsKeepValuesAcrossArenaGrowth) {
    L2TP m;
    m.set_message_type(MessageType::ICCN);
    for (int i = 0; i < 200; ++i) m.add_avp(9, static_cast<std::uint16_t>(i), 0, std::vector<std::uint8_t>(50, static_cast<std::uint8_t>(i)));
    for (int i = 0; i < 200; ++i) EXPECT_EQ(m.avps()[i + 1].value()[49], static_cast<std::uint8_t>(i));
}

}  // namespace
}  // namespace dl::l2tp
