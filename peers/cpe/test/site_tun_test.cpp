// Privileged test of cpe-emu's TUN glue (site_tun.hpp) in a fresh network namespace "dl-<random>-cpe":
// address and routes appear at creation, a datagram routed into the TUN reaches from_tun, a packet
// written to the TUN reaches a kernel socket, and the routes go away with the SiteTun. Skipped
// (with the reason) without root, /dev/net/tun or iproute2.
#include "dl/cpe/site_tun.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "dl/dataplane/netns.hpp"

using namespace dl;

namespace {

std::string shell(const std::string& cmd) {
    std::string out;
    std::unique_ptr<FILE, int (*)(FILE*)> f(::popen(cmd.c_str(), "r"), ::pclose);
    if (!f) return out;
    char buf[512];
    while (std::fgets(buf, sizeof buf, f.get())) out += buf;
    return out;
}

sockaddr_in sin(const char* addr, std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, addr, &a.sin_addr);
    return a;
}

/// IPv4/UDP packet, valid header checksum, UDP checksum 0 (RFC 768: none).
std::vector<std::uint8_t> udp_packet(const char* src, const char* dst, std::uint16_t dport, const std::string& payload) {
    std::vector<std::uint8_t> p(28 + payload.size(), 0);
    p[0] = 0x45;
    p[2] = static_cast<std::uint8_t>(p.size() >> 8), p[3] = static_cast<std::uint8_t>(p.size());
    p[8] = 64, p[9] = 17;
    ::inet_pton(AF_INET, src, &p[12]);
    ::inet_pton(AF_INET, dst, &p[16]);
    std::uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) sum += (p[i] << 8) | p[i + 1];
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    p[10] = static_cast<std::uint8_t>(~sum >> 8), p[11] = static_cast<std::uint8_t>(~sum);
    p[20] = 0x30, p[21] = 0x39;  // source port 12345
    p[22] = static_cast<std::uint8_t>(dport >> 8), p[23] = static_cast<std::uint8_t>(dport);
    p[24] = static_cast<std::uint8_t>((8 + payload.size()) >> 8), p[25] = static_cast<std::uint8_t>(8 + payload.size());
    std::memcpy(&p[28], payload.data(), payload.size());
    return p;
}

}  // namespace

TEST(CpeSiteTun, RoutesAddressAndPacketsBothWaysInANamespace) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) for netns and TUN";
    if (::access("/dev/net/tun", R_OK | W_OK) != 0) GTEST_SKIP() << "/dev/net/tun is not available";
    if (shell("ip -V 2>&1").find("iproute2") == std::string::npos) GTEST_SKIP() << "iproute2 (ip) not found";
    dataplane::ScopedNetns ns(dataplane::ScopedNetns::random_name("cpe"));
    ns.run([] {
        boost::asio::io_context io;
        auto factory = cpe::make_asio_tun_factory(io, 8);
        cpe::TunConfig cfg = cpe::TunConfig::from_json(nlohmann::json{{"name", "cpe0"}, {"routes", {"192.0.2.0/24"}}});
        std::vector<std::vector<std::uint8_t>> read;
        cpe::TunRequest req{"5551001", cfg, 0xC6120002, 0xC6120001,
                            [&](std::span<const std::uint8_t> p) { read.emplace_back(p.begin(), p.end()); }};
        auto tun = factory(req);
        const auto routes = shell("ip -4 route show");
        EXPECT_NE(routes.find("192.0.2.0/24 dev cpe0"), std::string::npos) << routes;
        EXPECT_NE(routes.find("198.18.0.1 dev cpe0"), std::string::npos) << routes;
        EXPECT_NE(shell("ip -4 addr show dev cpe0").find("198.18.0.2/32"), std::string::npos);

        // Kernel -> TUN -> from_tun: a datagram to 192.0.2.7 is routed into the TUN.
        const int udp = ::socket(AF_INET, SOCK_DGRAM, 0);
        ASSERT_GE(udp, 0);
        const sockaddr_in bind_to = sin("198.18.0.2", 4000);
        ASSERT_EQ(::bind(udp, reinterpret_cast<const sockaddr*>(&bind_to), sizeof bind_to), 0) << std::strerror(errno);
        const sockaddr_in to = sin("192.0.2.7", 9);
        ASSERT_EQ(::sendto(udp, "hello", 5, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to), 5);
        // (The fresh namespace may also send IPv6 router solicitations into the TUN: look for ours.)
        auto ours = [&] {
            for (const auto& p : read)
                if (p.size() == 33 && (p[0] >> 4) == 4 && p[16] == 192 && p[17] == 0 && p[18] == 2 && p[19] == 7) return true;
            return false;
        };
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (!ours() && std::chrono::steady_clock::now() < deadline) io.run_one_for(std::chrono::milliseconds(100));
        EXPECT_TRUE(ours()) << read.size() << " packets read, none to 192.0.2.7";

        // write -> TUN -> kernel socket: an answer from 192.0.2.7 to 198.18.0.2:4000.
        EXPECT_TRUE(tun->write(udp_packet("192.0.2.7", "198.18.0.2", 4000, "world")));
        timeval tv{2, 0};
        ::setsockopt(udp, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char buf[64] = {};
        EXPECT_EQ(::recv(udp, buf, sizeof buf, 0), 5);
        EXPECT_STREQ(buf, "world");
        ::close(udp);

        tun.reset();
        EXPECT_EQ(shell("ip -4 route show").find("192.0.2.0/24"), std::string::npos);
        EXPECT_EQ(shell("ip link show cpe0 2>&1").find("state"), std::string::npos);
    });
}
