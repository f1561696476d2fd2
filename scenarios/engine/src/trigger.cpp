// Trigger injector (trigger.hpp): libtins builds the packets; malformations are applied to octets.
#include "dl/scenario/trigger.hpp"

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include <tins/icmp.h>
#include <tins/ip.h>
#include <tins/ip_address.h>
#include <tins/rawpdu.h>
#include <tins/tcp.h>
#include <tins/udp.h>

namespace dl::scenario {

namespace {

Tins::IP ip_header(const IpFields& f) {
    try {
        Tins::IP ip{Tins::IPv4Address(f.dst), Tins::IPv4Address(f.src)};
        ip.ttl(f.ttl);
        ip.id(f.id);
        return ip;
    } catch (const std::exception&) {
        throw std::invalid_argument("trigger: bad IPv4 address (src '" + f.src + "', dst '" + f.dst + "')");
    }
}

std::vector<std::uint8_t> serialise(Tins::PDU& pdu) { return pdu.serialize(); }

}  // namespace

std::vector<std::uint8_t> craft_udp(const IpFields& ip, std::uint16_t sport, std::uint16_t dport,
                                    std::span<const std::uint8_t> payload) {
    auto pkt = ip_header(ip) / Tins::UDP(dport, sport) / Tins::RawPDU(payload.data(), static_cast<std::uint32_t>(payload.size()));
    return serialise(pkt);
}

std::vector<std::uint8_t> craft_icmp_echo(const IpFields& ip, std::uint16_t ident, std::uint16_t seq,
                                          std::span<const std::uint8_t> payload) {
    Tins::ICMP icmp(Tins::ICMP::ECHO_REQUEST);
    icmp.id(ident);
    icmp.sequence(seq);
    auto pkt = ip_header(ip) / icmp / Tins::RawPDU(payload.data(), static_cast<std::uint32_t>(payload.size()));
    return serialise(pkt);
}

std::vector<std::uint8_t> craft_tcp_syn(const IpFields& ip, std::uint16_t sport, std::uint16_t dport, std::uint32_t isn) {
    Tins::TCP tcp(dport, sport);
    tcp.flags(Tins::TCP::SYN);
    tcp.seq(isn);
    tcp.window(64240);
    auto pkt = ip_header(ip) / tcp;
    return serialise(pkt);
}

std::string_view to_string(Malformation m) noexcept {
    switch (m) {
    case Malformation::bad_ihl: return "bad-ihl";
    case Malformation::truncated: return "truncated";
    case Malformation::bad_checksum: return "bad-checksum";
    }
    return "bad-ihl";
}

Malformation malformation_from_string(std::string_view s) {
    for (auto m : {Malformation::bad_ihl, Malformation::truncated, Malformation::bad_checksum})
        if (to_string(m) == s) return m;
    throw std::invalid_argument("malformation '" + std::string(s) + "' is not one of bad-ihl, truncated, bad-checksum");
}

std::uint16_t ipv4_header_checksum(std::span<const std::uint8_t> h) {
    const std::size_t len = std::min<std::size_t>(h.size(), static_cast<std::size_t>(h[0] & 0x0f) * 4);
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i + 1 < len; i += 2) {
        if (i == 10) continue;  // the checksum field itself counts as zero (RFC 791 §3.1)
        sum += static_cast<std::uint32_t>(h[i] << 8 | h[i + 1]);
    }
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum & 0xffff);
}

std::vector<std::uint8_t> malform(std::span<const std::uint8_t> packet, Malformation m) {
    if (packet.size() < 20 || (packet[0] >> 4) != 4)
        throw std::invalid_argument("malform: not an IPv4 packet (" + std::to_string(packet.size()) + " octets)");
    std::vector<std::uint8_t> out(packet.begin(), packet.end());
    auto put_checksum = [&](std::uint16_t c) {
        out[10] = static_cast<std::uint8_t>(c >> 8);
        out[11] = static_cast<std::uint8_t>(c & 0xff);
    };
    switch (m) {
    case Malformation::bad_ihl:
        out[0] = 0x44;  // version 4, IHL 4 words (16 octets): below the minimum of 5
        put_checksum(ipv4_header_checksum(out));
        break;
    case Malformation::truncated:
        out.resize(std::max<std::size_t>(20, out.size() / 2));  // Total Length (octets 2-3) unchanged
        break;
    case Malformation::bad_checksum:
        put_checksum(static_cast<std::uint16_t>(~ipv4_header_checksum(out)));
        break;
    }
    return out;
}

std::size_t send_ipv4(int fd, std::span<const std::uint8_t> packet, const std::string& next_hop_mac) {
    if (packet.size() < 20) throw std::invalid_argument("send_ipv4: shorter than an IPv4 header");
    sockaddr_storage ss{};
    socklen_t sl = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sl) != 0)
        throw std::system_error(errno, std::generic_category(), "send_ipv4: getsockname");
    ssize_t n = -1;
    if (ss.ss_family == AF_PACKET) {
        auto ll = *reinterpret_cast<sockaddr_ll*>(&ss);  // ifindex of the interface the socket is bound to
        if (ll.sll_ifindex == 0) throw std::invalid_argument("send_ipv4: the AF_PACKET socket is not bound to an interface");
        unsigned mac[6];
        if (std::sscanf(next_hop_mac.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x", &mac[0], &mac[1], &mac[2], &mac[3], &mac[4],
                        &mac[5]) != 6)
            throw std::invalid_argument("send_ipv4: next_hop_mac '" + next_hop_mac + "' is not aa:bb:cc:dd:ee:ff");
        ll.sll_family = AF_PACKET;
        ll.sll_protocol = htons(ETH_P_IP);
        ll.sll_halen = 6;
        for (int i = 0; i < 6; ++i) ll.sll_addr[i] = static_cast<unsigned char>(mac[i]);
        n = ::sendto(fd, packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&ll), sizeof ll);
    } else {
        sockaddr_in to{};
        to.sin_family = AF_INET;
        std::memcpy(&to.sin_addr, packet.data() + 16, 4);
        n = ::sendto(fd, packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    }
    if (n < 0) throw std::system_error(errno, std::generic_category(), "send_ipv4: sendto");
    return static_cast<std::size_t>(n);
}

}  // namespace dl::scenario
