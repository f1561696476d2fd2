#include "dl/proto/decode.hpp"

#include <gtest/gtest.h>
#include <tins/ip.h>
#include <tins/tcp.h>
#include <tins/rawpdu.h>
#include <tins/sniffer.h>
#include <tins/udp.h>

#include <map>
#include <string>

#include "dl/l2tp/builders.hpp"
#include "dl/l2tp/l2tp.hpp"
#include "dl/ppp/ppp.hpp"
#include "dl/proto/errors.hpp"
#include "dl/radius/radius.hpp"

using namespace dl;

namespace {
struct Tally {
    std::map<std::string, int> decoded;
    int malformed = 0;
    int other = 0;
    int l2tp_data_with_ppp = 0;
};

Tally decode_capture(const std::string& name) {
    Tally t;
    Tins::FileSniffer sniffer(std::string(DL_SHARED_DIR) + "/captures/" + name);
    sniffer.sniff_loop([&](Tins::PDU& pkt) {
        try {
            Tins::PDU* pdu = proto::decode_packet(pkt);
            if (!pdu) {
                ++t.other;
                return true;
            }
            auto* udp = pkt.find_pdu<Tins::UDP>();
            ++t.decoded[std::string(proto::to_string(proto::classify_udp(udp->sport(), udp->dport())))];
            if (auto* l = pkt.find_pdu<l2tp::L2TP>(); l && l->is_data() && pkt.find_pdu<ppp::PPP>()) {
                ++t.l2tp_data_with_ppp;
            }
        } catch (const proto::ParseError&) {
            ++t.malformed;
        }
        return true;
    });
    return t;
}
}  // namespace

TEST(Decode, ClassifiesByWellKnownPort) {
    EXPECT_EQ(proto::classify_udp(1701, 1701), proto::UdpProtocol::l2tp);
    EXPECT_EQ(proto::classify_udp(40000, 1812), proto::UdpProtocol::radius_auth);
    EXPECT_EQ(proto::classify_udp(1813, 40000), proto::UdpProtocol::radius_acct);
    EXPECT_EQ(proto::classify_udp(1645, 5000), proto::UdpProtocol::radius_auth);
    EXPECT_EQ(proto::classify_udp(3799, 6000), proto::UdpProtocol::radius_dynauth);
    EXPECT_EQ(proto::classify_udp(53, 6000), proto::UdpProtocol::unknown);
}

TEST(Decode, CraftedPacketRoundTripsThroughLibtins) {
    // IP() / UDP(1701, 1701) / L2TP(...) as a user crafts it, serialised, then decoded back.
    l2tp::OcrqParams p;
    p.called_number = "5551001";
    p.assigned_session_id = 7;
    p.call_serial_number = 42;
    p.header.tunnel_id = 9;
    p.min_bps = 56000;
    p.max_bps = 64000;
    auto ocrq = l2tp::make_ocrq(p);
    p.header.tunnel_id = 9;
    Tins::IP ip = Tins::IP("198.51.100.2", "198.51.100.1") / Tins::UDP(1701, 1701) / ocrq;
    auto wire = ip.serialize();
    Tins::IP back(wire.data(), static_cast<std::uint32_t>(wire.size()));
    auto* pdu = proto::decode_packet(back);
    ASSERT_NE(pdu, nullptr);
    auto* msg = back.find_pdu<l2tp::L2TP>();
    ASSERT_NE(msg, nullptr);
    EXPECT_EQ(msg->message_type(), static_cast<std::uint16_t>(l2tp::MessageType::OCRQ));
    EXPECT_EQ(msg->called_number(), std::optional<std::string>("5551001"));
    EXPECT_EQ(msg->tunnel_id(), 9);
}

TEST(Decode, UnknownPortIsLeftRaw) {
    Tins::IP ip = Tins::IP("192.0.2.1", "192.0.2.2") / Tins::UDP(53, 5353) / Tins::RawPDU("abc");
    EXPECT_EQ(proto::decode_packet(ip), nullptr);
    EXPECT_NE(ip.find_pdu<Tins::RawPDU>(), nullptr);
}

TEST(Decode, MalformedPayloadThrowsAndLeavesPacketUnchanged) {
    const std::uint8_t junk[] = {0xc8, 0x02, 0x00, 0xff, 0, 1, 0, 0, 0, 0, 0, 0};
    Tins::IP ip = Tins::IP("192.0.2.1", "192.0.2.2") / Tins::UDP(1701, 1701) / Tins::RawPDU(junk, sizeof junk);
    EXPECT_THROW(proto::decode_packet(ip), proto::ParseError);
    EXPECT_NE(ip.find_pdu<Tins::RawPDU>(), nullptr);
}

TEST(Decode, JnetpcapL2tpCaptureDecodesWithPppInsideData) {
    auto t = decode_capture("jnetpcap_test-l2tp.pcap");
    EXPECT_EQ(t.malformed, 0);
    EXPECT_EQ(t.decoded["l2tp"], 168) << "every frame of the capture is L2TP";
    EXPECT_GT(t.l2tp_data_with_ppp, 100) << "data messages should carry decoded PPP";
}

TEST(Decode, RadiusCapturesDecode) {
    for (const char* name : {"tcpdump_RADIUS.pcap", "tcpdump_RADIUS-RFC4675.pcap", "tcpdump_RADIUS-RFC5176.pcap",
                             "tcpdump_RADIUS-RFC3162.pcap", "tcpdump_RADIUS-RFC5580.pcap", "arkime_radius.pcap"}) {
        auto t = decode_capture(name);
        int radius = t.decoded["radius-auth"] + t.decoded["radius-acct"] + t.decoded["radius-dynauth"];
        EXPECT_GT(radius, 0) << name;
        EXPECT_EQ(t.malformed, 0) << name;
    }
}

TEST(Decode, OverflowingAvpCaptureIsRejectedFrameByFrame) {
    auto t = decode_capture("tcpdump_l2tp-avp-overflow.pcap");
    EXPECT_EQ(t.decoded["l2tp"], 0) << "no overflowing frame may decode";
    EXPECT_EQ(t.malformed, 16);
}

TEST(Decode, RewriteIpv4ReplacesAddressesAndRecomputesChecksums) {
    // A captured TCP SYN (a dial-out's trigger) moved to other addresses: libtins parses the result
    // with valid checksums, the ports, flags, sequence number and TTL are those of the original.
    Tins::IP ip = Tins::IP("10.1.1.1", "172.16.0.9") / Tins::TCP(443, 40000);
    ip.ttl(17);
    ip.rfind_pdu<Tins::TCP>().flags(Tins::TCP::SYN);
    ip.rfind_pdu<Tins::TCP>().seq(123456);
    const auto wire = ip.serialize();
    const auto out = proto::rewrite_ipv4(wire, "203.0.113.10", "10.10.1.1");
    Tins::IP back(out.data(), static_cast<std::uint32_t>(out.size()));
    EXPECT_EQ(back.src_addr(), Tins::IPv4Address("203.0.113.10"));
    EXPECT_EQ(back.dst_addr(), Tins::IPv4Address("10.10.1.1"));
    EXPECT_EQ(back.ttl(), 17);
    const auto& tcp = back.rfind_pdu<Tins::TCP>();
    EXPECT_EQ(tcp.dport(), 443);
    EXPECT_EQ(tcp.sport(), 40000);
    EXPECT_EQ(tcp.seq(), 123456u);
    EXPECT_EQ(tcp.flags(), Tins::TCP::SYN);
    // the checksums are those libtins computes for the new addresses, not the captured ones
    Tins::IP again = back;
    EXPECT_EQ(again.serialize(), out);
    EXPECT_NE(out, wire);
    std::uint32_t sum = 0;  // RFC 791 §3.1: the one's complement sum of the header is 0xffff
    for (std::size_t i = 0; i < 20; i += 2) sum += static_cast<std::uint32_t>(out[i] << 8 | out[i + 1]);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    EXPECT_EQ(sum, 0xffffu);
}

TEST(Decode, RewriteIpv4RefusesWhatIsNotIpv4) {
    const std::uint8_t junk[] = {0x60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    EXPECT_THROW(proto::rewrite_ipv4(junk, "1.2.3.4", "5.6.7.8"), std::invalid_argument);
    Tins::IP ip = Tins::IP("10.1.1.1", "172.16.0.9") / Tins::UDP(1, 2);
    const auto wire = ip.serialize();
    EXPECT_THROW(proto::rewrite_ipv4(wire, "not-an-address", "5.6.7.8"), std::invalid_argument);
}
