// Public captures (../shared/captures, README.md there): parse, re-serialise byte-exact, tunnel
// authentication vector, hidden-and-undecodable AVP, overflowing AVP lengths rejected.
#include <gtest/gtest.h>

#include <map>

#include "dl/l2tp/hidden.hpp"
#include "dl/l2tp/l2tp.hpp"
#include "dl/l2tp/validate.hpp"
#include "dl/proto/errors.hpp"
#include "dl/testing/bytes.hpp"
#include "dl/testing/capture.hpp"

namespace dl::l2tp {
namespace {

using dl::testing::hex;

const std::string kCaptures = std::string(DL_SHARED_DIR) + "/captures/";

L2TP parse(const dl::testing::Datagram& d) {
    return L2TP(d.payload.data(), static_cast<std::uint32_t>(d.payload.size()));
}

// req: L2TP.header, L2TP.avp
TEST(Capture, JnetpcapEveryL2tpPacketParsesAndReserialisesByteExact) {
    std::size_t frames = 0;
    const auto dgrams = dl::testing::read_udp(kCaptures + "jnetpcap_test-l2tp.pcap", &frames);
    EXPECT_EQ(frames, 168u);
    std::size_t l2tp = 0, control = 0, zlb = 0, data = 0;
    std::map<std::uint16_t, int> types;
    for (const auto& d : dgrams) {
        if (d.sport != kUdpPort && d.dport != kUdpPort) continue;
        ++l2tp;
        SCOPED_TRACE("frame " + std::to_string(d.frame));
        L2TP m = parse(d);
        EXPECT_EQ(m.serialize(), d.payload);
        EXPECT_EQ(m.trailing_octets(), 0u);
        if (m.is_data()) {
            ++data;
            ASSERT_GE(m.payload().size(), 2u);
            EXPECT_EQ(m.payload()[0], 0xff);  // PPP address/control (RFC 1662) kept for the PPP module
            continue;
        }
        ++control;
        if (m.is_zlb()) {
            ++zlb;
            continue;
        }
        types[*m.message_type()]++;
        m.unhide("");  // tunnel secret is the empty string
        EXPECT_NO_THROW(validate(m)) << message_name(*m.message_type());
    }
    EXPECT_EQ(l2tp, 168u);  // every frame is L2TP on UDP 1701
    EXPECT_GT(data, 100u);
    EXPECT_GT(zlb, 0u);
    for (auto t : {MessageType::SCCRQ, MessageType::SCCRP, MessageType::SCCCN, MessageType::StopCCN,
                   MessageType::ICRQ, MessageType::ICRP, MessageType::ICCN, MessageType::CDN}) {
        EXPECT_GT(types[static_cast<std::uint16_t>(t)], 0) << message_name(t);
    }
}

// req: L2TP.tunnel-auth
TEST(Capture, JnetpcapTunnelAuthentication) {
    const auto dgrams = dl::testing::read_udp(kCaptures + "jnetpcap_test-l2tp.pcap");
    std::optional<std::vector<std::uint8_t>> challenge;
    std::optional<std::array<std::uint8_t, 16>> response;
    for (const auto& d : dgrams) {
        L2TP m = parse(d);
        if (m.is_data() || m.is_zlb()) continue;
        if (m.message_type() == 2 && m.challenge()) challenge = m.challenge();
        if (m.message_type() == 3 && challenge) {
            response = m.challenge_response();
            break;
        }
    }
    ASSERT_TRUE(challenge);
    ASSERT_TRUE(response);
    EXPECT_EQ(*challenge, hex("b6649877b09c81bf59f12f80d3793d8c"));
    EXPECT_EQ(std::vector<std::uint8_t>(response->begin(), response->end()), hex("c36008af9229c3ebe1df454feaa77e29"));
    EXPECT_EQ(challenge_response(3, "", *challenge), *response);
}

// req: L2TP.incoming
TEST(Capture, JnetpcapIccnProxyAuthen) {
    for (const auto& d : dl::testing::read_udp(kCaptures + "jnetpcap_test-l2tp.pcap")) {
        L2TP m = parse(d);
        if (m.is_control() && !m.is_zlb() && m.message_type() == 12) {
            EXPECT_TRUE(m.proxy_authen_type());
            EXPECT_TRUE(m.tx_connect_speed());
            EXPECT_TRUE(m.framing_type());
            return;
        }
    }
    FAIL() << "no ICCN";
}

// req: L2TP.header, L2TP.avp
TEST(Capture, PacketnetDataMessageParses) {
    const auto dgrams = dl::testing::read_udp(kCaptures + "packetnet_l2tp.pcap");
    ASSERT_EQ(dgrams.size(), 1u);  // inside PPPoE/PPP/IPv4
    L2TP m = parse(dgrams[0]);
    EXPECT_TRUE(m.is_data());
    EXPECT_TRUE(m.has_offset());
    EXPECT_TRUE(m.priority());
    EXPECT_EQ(m.tunnel_id(), 0x4a32);
    EXPECT_EQ(m.session_id(), 0xd35e);
    EXPECT_EQ(m.offset_size(), 0);
    ASSERT_GE(m.payload().size(), 4u);
    EXPECT_EQ(m.payload()[2], 0xc0);  // LCP 0xc021
    EXPECT_EQ(m.payload()[3], 0x21);
    EXPECT_EQ(m.serialize(), dgrams[0].payload);
}

// req: L2TP.hidden
TEST(Capture, BngblasterSccrqHiddenChallengeUndecodable) {
    const auto dgrams = dl::testing::read_udp(kCaptures + "bngblaster_l2tp_sccrq.pcap");  // Ethernet/MPLS/IPv4
    ASSERT_EQ(dgrams.size(), 1u);
    L2TP m = parse(dgrams[0]);
    EXPECT_EQ(m.message_type(), 1);
    const Avp* c = m.find(AvpType::Challenge);
    ASSERT_NE(c, nullptr);
    EXPECT_TRUE(c->hidden());
    EXPECT_EQ(c->hidden_state(), HiddenState::undecodable);
    EXPECT_EQ(c->undecodable_reason(), "no secret given");
    EXPECT_EQ(m.challenge(), std::nullopt);
    EXPECT_TRUE(m.random_vector());
    EXPECT_EQ(m.protocol_version(), (ProtocolVersion{1, 0}));
    EXPECT_TRUE(m.host_name());
    EXPECT_TRUE(m.framing_capabilities());
    EXPECT_TRUE(m.assigned_tunnel_id());
    EXPECT_NO_THROW(validate(m));
    // a guessed secret does not decode it (or decodes garbage): either way the message stays usable
    m.unhide("guess");
    EXPECT_TRUE(m.host_name());
    EXPECT_EQ(m.serialize(), dgrams[0].payload);
}

// req: L2TP.header, L2TP.avp
TEST(Capture, TcpdumpAvpOverflowEveryL2tpFrameRejected) {
    std::size_t frames = 0;
    const auto dgrams = dl::testing::read_udp(kCaptures + "tcpdump_l2tp-avp-overflow.pcap", &frames);
    EXPECT_EQ(frames, 20u);
    std::size_t on_1701 = 0;
    for (const auto& d : dgrams) {
        if (d.dport != kUdpPort && d.sport != kUdpPort) continue;
        ++on_1701;
        SCOPED_TRACE("frame " + std::to_string(d.frame));
        EXPECT_THROW(parse(d), dl::proto::ParseError);
    }
    EXPECT_EQ(on_1701, 16u);  // the other 4 frames are not UDP to 1701 (bad UDP length, bogus Ethernet)
}

}  // namespace
}  // namespace dl::l2tp
