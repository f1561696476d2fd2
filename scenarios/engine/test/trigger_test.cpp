// The trigger injector's crafting (libtins) and malformations; sending is proved in the lab
// (tests/conformance/dialout/test_impairment.py).
#include <gtest/gtest.h>

#include <tins/icmp.h>
#include <tins/ip.h>
#include <tins/tcp.h>
#include <tins/udp.h>

#include "dl/scenario/trigger.hpp"

using namespace dl::scenario;

namespace {
const IpFields kIp{"203.0.113.10", "10.10.1.1", 64, 7};
const std::vector<std::uint8_t> kPayload{'h', 'i'};
}  // namespace

// req: LAB.trigger-injector
TEST(Trigger, UdpParsesBackWithTheChosenFields) {
    auto b = craft_udp(kIp, 40000, 9, kPayload);
    Tins::IP ip(b.data(), static_cast<std::uint32_t>(b.size()));
    EXPECT_EQ(ip.src_addr().to_string(), "203.0.113.10");
    EXPECT_EQ(ip.dst_addr().to_string(), "10.10.1.1");
    EXPECT_EQ(ip.ttl(), 64);
    EXPECT_EQ(ip.id(), 7);
    ASSERT_NE(ip.find_pdu<Tins::UDP>(), nullptr);
    EXPECT_EQ(ip.find_pdu<Tins::UDP>()->dport(), 9);
    EXPECT_EQ(ip.find_pdu<Tins::UDP>()->sport(), 40000);
    EXPECT_EQ(b.size(), 20u + 8u + 2u);
    EXPECT_EQ(ipv4_header_checksum(b), static_cast<std::uint16_t>(b[10] << 8 | b[11])) << "valid header checksum";
}

// req: LAB.trigger-injector
TEST(Trigger, IcmpEchoAndTcpSyn) {
    auto e = craft_icmp_echo(kIp, 0x1234, 5, kPayload);
    Tins::IP ip(e.data(), static_cast<std::uint32_t>(e.size()));
    ASSERT_NE(ip.find_pdu<Tins::ICMP>(), nullptr);
    EXPECT_EQ(ip.find_pdu<Tins::ICMP>()->type(), Tins::ICMP::ECHO_REQUEST);
    EXPECT_EQ(ip.find_pdu<Tins::ICMP>()->id(), 0x1234);
    auto s = craft_tcp_syn(kIp, 40001, 80, 1000);
    Tins::IP ip2(s.data(), static_cast<std::uint32_t>(s.size()));
    ASSERT_NE(ip2.find_pdu<Tins::TCP>(), nullptr);
    EXPECT_EQ(ip2.find_pdu<Tins::TCP>()->flags(), Tins::TCP::SYN);
    EXPECT_EQ(ip2.find_pdu<Tins::TCP>()->seq(), 1000u);
}

// req: LAB.trigger-injector
TEST(Trigger, MalformationsBreakExactlyWhatTheyName) {
    const auto good = craft_udp(kIp, 40000, 9, kPayload);
    const auto ihl = malform(good, Malformation::bad_ihl);
    EXPECT_EQ(ihl[0] & 0x0f, 4) << "IHL below 5";
    EXPECT_EQ(ipv4_header_checksum(ihl), static_cast<std::uint16_t>(ihl[10] << 8 | ihl[11])) << "only the IHL is wrong";
    const auto cut = malform(good, Malformation::truncated);
    EXPECT_LT(cut.size(), good.size());
    EXPECT_EQ(cut[2] << 8 | cut[3], static_cast<int>(good.size())) << "Total Length still claims the whole packet";
    const auto sum = malform(good, Malformation::bad_checksum);
    EXPECT_NE(ipv4_header_checksum(sum), static_cast<std::uint16_t>(sum[10] << 8 | sum[11]));
    EXPECT_EQ(malformation_from_string("bad-checksum"), Malformation::bad_checksum);
    EXPECT_THROW(malformation_from_string("bad"), std::invalid_argument);
    EXPECT_THROW(malform(std::vector<std::uint8_t>{0x60, 0}, Malformation::bad_ihl), std::invalid_argument);
    EXPECT_THROW(craft_udp({"not-an-address", "10.10.1.1"}, 1, 2, kPayload), std::invalid_argument);
}
