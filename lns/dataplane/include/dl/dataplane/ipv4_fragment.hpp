// IPv4 fragmentation (RFC 791 §2.3 "Fragmentation", §3.2 "Fragmentation and reassembly"; as a
// router, RFC 1812 §4.2.2.7) for packets longer than the largest frame a PPP peer receives
// (its MRU, RFC 1661 §6.1). Sans allocation: the caller gives the output buffer of each fragment.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace dl::dataplane {

/// How a packet fits a link of `mtu` octets (the IPv4 packet, i.e. the PPP Information field).
enum class FragmentVerdict : std::uint8_t {
    fits,            ///< length ≤ mtu: send as is
    fragment,        ///< longer, DF clear: split into `count` fragments
    dont_fragment,   ///< longer, DF set: must not be split (RFC 791 §3.1 Flags); drop, count
    unsplittable,    ///< mtu too small for the header plus 8 octets of data (RFC 791 §3.2)
    malformed,       ///< not an IPv4 header this code can split (version, IHL, Total Length, options)
};

/// The plan for one packet: `count` fragments of `chunk` data octets each (the last shorter),
/// each behind a copy of the `header_len`-octet header.
struct FragmentPlan {
    FragmentVerdict verdict = FragmentVerdict::malformed;
    std::size_t header_len = 0;
    std::size_t chunk = 0;   ///< data octets per fragment, a multiple of 8 (RFC 791 Fragment Offset unit)
    std::size_t count = 0;   ///< fragments (1 when it fits)
};

/// Classifies `packet` (an IPv4 datagram, Total Length ≤ packet.size(); trailing octets ignored)
/// for a link of `mtu` octets. Never reads outside `packet`.
FragmentPlan plan_ipv4_fragments(std::span<const std::uint8_t> packet, std::size_t mtu) noexcept;

/// Octets of fragment `k` (< plan.count) of a `fragment` plan.
std::size_t ipv4_fragment_size(std::span<const std::uint8_t> packet, const FragmentPlan& plan, std::size_t k) noexcept;

/// Writes fragment `k` (< plan.count) of `packet` into `out` (≥ ipv4_fragment_size octets): the
/// header with Total Length, More Fragments, Fragment Offset and Header Checksum set (RFC 791
/// §3.1); after the first fragment, options without the copied flag are overwritten with
/// No Operation (RFC 791 §3.1 "Options": only copied options are repeated). A packet that is
/// itself a fragment keeps its offset base and its MF on the last piece. Returns the octets
/// written, 0 if `out` is too small or k is out of range.
std::size_t write_ipv4_fragment(std::span<const std::uint8_t> packet, const FragmentPlan& plan, std::size_t k,
                                std::span<std::uint8_t> out) noexcept;

/// The Internet checksum (RFC 1071) of an IPv4 header with its checksum field zeroed.
std::uint16_t ipv4_header_checksum(std::span<const std::uint8_t> header) noexcept;

}  // namespace dl::dataplane
