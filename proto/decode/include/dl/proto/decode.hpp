// The one place that maps UDP ports to this project's codecs, so packets read or captured with
// libtins decode to dl::l2tp::L2TP (with dl::ppp::PPP inside data messages) and dl::radius::Radius.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include <tins/pdu.h>

namespace Tins {
class UDP;
}

namespace dl::proto {

/// What a UDP datagram carries, judged by its ports (either end).
enum class UdpProtocol {
    unknown,
    l2tp,          ///< 1701 (RFC 2661 §8.1)
    radius_auth,   ///< 1812, and the historical 1645 (RFC 2865 §3)
    radius_acct,   ///< 1813, and the historical 1646 (RFC 2866 §3)
    radius_dynauth ///< 3799 (RFC 5176 §3)
};

/// Name for logs ("l2tp", "radius-auth", …).
std::string_view to_string(UdpProtocol p) noexcept;

/// Classifies by port: the lower-numbered well-known port of (sport, dport) wins.
UdpProtocol classify_udp(std::uint16_t sport, std::uint16_t dport) noexcept;

/// Decodes one UDP payload with the codec its ports select. For an L2TP data message whose payload
/// is PPP (RFC 2661 §3.2: optionally starting with Address/Control 0xff 0x03), the L2TP PDU's
/// inner PDU becomes a dl::ppp::PPP. Returns nullptr for a port no codec handles.
/// Throws dl::proto::ParseError for a malformed payload (the caller counts and drops it).
/// Note: the PPP layer is for inspection; a decoded data message re-serialises without the
/// Address/Control octets.
std::unique_ptr<Tins::PDU> decode_udp_payload(std::uint16_t sport, std::uint16_t dport,
                                              std::span<const std::uint8_t> payload);

/// In place: if `udp`'s inner PDU is a Tins::RawPDU on a known port, replaces it with the decoded
/// PDU and returns that PDU; returns nullptr if nothing was decoded. Throws ParseError as above
/// (and leaves `udp` unchanged).
Tins::PDU* decode_udp(Tins::UDP& udp);

/// Convenience: finds the first UDP layer in `packet` and applies decode_udp to it.
Tins::PDU* decode_packet(Tins::PDU& packet);

/// `packet` (an IPv4 packet, RFC 791, header first) with its Source and Destination Address
/// replaced (dotted quads `src`, `dst`) and re-serialised by libtins: the header checksum (RFC 791
/// §3.1) and the TCP, UDP and ICMP checksums are recomputed (TCP's and UDP's cover the new
/// addresses through their pseudo-header, RFC 793 §3.1, RFC 768); TTL, Identification, options,
/// ports and payload are kept. Used to replay a captured packet (a dial-out's trigger) from a lab
/// host. Throws std::invalid_argument (naming the rule) when libtins cannot parse `packet` as IPv4
/// or an address is not a dotted quad.
std::vector<std::uint8_t> rewrite_ipv4(std::span<const std::uint8_t> packet, std::string_view src,
                                       std::string_view dst);

}  // namespace dl::proto
