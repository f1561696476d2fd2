// Trigger injector: IPv4 packets crafted with libtins — UDP, ICMP echo, TCP SYN with the
// chosen addresses, ports and payload — and malformed variants, sent from a lab host through a raw
// socket the caller opened in that host's namespace. A packet for a dial-out route is what starts a
// dial-out (JunosE "L2TP Dial-Out" Table 70, "trigger").
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dl::scenario {

/// Fields common to every crafted packet. Addresses are dotted IPv4 text.
struct IpFields {
    std::string src;
    std::string dst;
    std::uint8_t ttl = 64;
    std::uint16_t id = 1;
};

/// IPv4 + UDP + payload (RFC 791, RFC 768), checksums computed. Throws std::invalid_argument for a
/// bad address.
std::vector<std::uint8_t> craft_udp(const IpFields& ip, std::uint16_t sport, std::uint16_t dport,
                                    std::span<const std::uint8_t> payload);
/// IPv4 + ICMP echo request (RFC 792) with identifier, sequence number and payload.
std::vector<std::uint8_t> craft_icmp_echo(const IpFields& ip, std::uint16_t ident, std::uint16_t seq,
                                          std::span<const std::uint8_t> payload);
/// IPv4 + TCP SYN (RFC 793) with sequence number `isn`, window 64240, no options.
std::vector<std::uint8_t> craft_tcp_syn(const IpFields& ip, std::uint16_t sport, std::uint16_t dport,
                                        std::uint32_t isn);

/// Ways to break a well-formed IPv4 packet (RFC 791 §3.1; RFC 1122 §3.2.1 says a host discards them):
///  bad_ihl: IHL 4 (< 5 words, header checksum recomputed so only the IHL is wrong);
///  truncated: half the octets kept, Total Length still claims the whole;
///  bad_checksum: header checksum inverted.
enum class Malformation { bad_ihl, truncated, bad_checksum };

/// Name <-> value ("bad-ihl", "truncated", "bad-checksum"); from_string throws std::invalid_argument.
std::string_view to_string(Malformation m) noexcept;
Malformation malformation_from_string(std::string_view s);

/// A copy of `packet` broken as `m`. Throws std::invalid_argument if `packet` is not an IPv4 header.
std::vector<std::uint8_t> malform(std::span<const std::uint8_t> packet, Malformation m);

/// RFC 1071 Internet checksum of the IPv4 header (first IHL*4 octets), as it should be in octets 10-11.
std::uint16_t ipv4_header_checksum(std::span<const std::uint8_t> header);

/// Sends `packet` through `fd`: an AF_INET SOCK_RAW IPPROTO_RAW socket (the kernel routes it by the
/// destination address in the header, and fills in checksum and total length: RFC-valid packets
/// only), or an AF_PACKET SOCK_DGRAM socket bound to an interface (the octets go out unchanged to
/// `next_hop_mac`, "aa:bb:cc:dd:ee:ff": the way to put a malformed packet on the wire). Returns the
/// octets sent; throws std::system_error on failure, std::invalid_argument for a bad MAC.
std::size_t send_ipv4(int fd, std::span<const std::uint8_t> packet, const std::string& next_hop_mac = "");

}  // namespace dl::scenario
