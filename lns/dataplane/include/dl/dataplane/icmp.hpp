// ICMP Destination Unreachable, code 4 "fragmentation needed and DF set" (RFC 792; RFC 1191 §4
// Next-Hop MTU; as a router, RFC 1812 §4.3.2.7 / §5.2.7.1) for an IPv4 packet with DF set that is
// longer than the MRU of the PPP peer it is for (RFC 1661 §6.1): the sender learns the path MTU
// instead of losing the packet silently. Rate-limited by a token bucket (RFC 1812 §4.3.2.8).
// Sans allocation and sans I/O: the caller writes the message where it belongs (lnsd: the TUN
// of the virtual router the packet came from).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "dl/core/clock.hpp"

namespace dl::dataplane {

/// Largest Fragmentation Needed message: IPv4 header (20) + ICMP header (8) + the quoted IPv4
/// header (≤ 60, RFC 791 IHL) + the first 64 bits of its data (RFC 792).
inline constexpr std::size_t kIcmpFragNeededMax = 20 + 8 + 60 + 8;

/// Why a packet gets no ICMP error although it was refused (RFC 1812 §4.3.2.7 "When Not to Send
/// ICMP Errors"), or `none` when it gets one.
enum class IcmpRefusal : std::uint8_t {
    none,
    malformed,          ///< not a well-formed IPv4 header (version, IHL, Total Length)
    icmp_error,         ///< the packet is itself an ICMP error message (types 3, 4, 5, 11, 12)
    not_first_fragment, ///< Fragment Offset is not zero
    not_unicast,        ///< destination broadcast or multicast, or source not a single host
                        ///< (0/8, 127/8, 224/4 and above)
    no_source,          ///< `source` is not a single-host address (e.g. 0.0.0.0: none configured)
    output_too_small,   ///< `out` shorter than the message
};

/// Writes into `out` the IPv4 datagram "Destination Unreachable, fragmentation needed and DF set"
/// (type 3, code 4) from `source` (host order) to the source of `original`, carrying
/// `next_hop_mtu` in the low-order 16 bits of the second word of the ICMP header (RFC 1191 §4)
/// and quoting the original's IPv4 header plus the first 8 octets of its data (RFC 792; fewer
/// if the datagram has fewer). Header: TTL 64, no options, Identification 0, DF clear; both
/// checksums set (RFC 1071). Returns the octets written, 0 when refused (`*why` says why).
std::size_t write_icmp_frag_needed(std::span<const std::uint8_t> original, std::uint32_t source,
                                   std::uint16_t next_hop_mtu, std::span<std::uint8_t> out,
                                   IcmpRefusal* why = nullptr) noexcept;

/// A token bucket: `rate` tokens per second up to `burst`; full at the start. rate 0: never allows
/// (the feature is off). Time comes from the caller's clock (`now`). No allocation, O(1).
class TokenBucket {
public:
    /// rate: tokens per second (≥ 0); burst: bucket depth (≥ 1 when rate > 0).
    TokenBucket(double rate, double burst) noexcept : rate_(rate), burst_(burst), tokens_(burst) {}
    /// Takes one token if there is one at `now` (time never going backwards is assumed; an earlier
    /// `now` adds nothing).
    bool take(core::TimePoint now) noexcept;
    double rate() const noexcept { return rate_; }
    double burst() const noexcept { return burst_; }

private:
    double rate_, burst_, tokens_;
    core::TimePoint last_{};
    bool started_ = false;
};

/// Counters of FragNeededSender.
struct FragNeededCounters {
    std::uint64_t sent = 0;          ///< messages built (the caller writes them out)
    std::uint64_t rate_limited = 0;  ///< refused packets the bucket had no token for
    std::uint64_t not_sent = 0;      ///< refused packets that must get no ICMP error (RFC 1812 §4.3.2.7)
};

/// Builds rate-limited Fragmentation Needed messages into its own buffer: make() returns a view of
/// the message (valid until the next make()) or an empty span (counted). One per data plane; not
/// thread-safe.
class FragNeededSender {
public:
    /// rate: messages per second (0: none are sent); burst: bucket depth.
    FragNeededSender(double rate, double burst) noexcept : bucket_(rate, burst) {}
    std::span<const std::uint8_t> make(std::span<const std::uint8_t> original, std::uint32_t source,
                                       std::uint16_t next_hop_mtu, core::TimePoint now) noexcept;
    const FragNeededCounters& counters() const noexcept { return counters_; }

private:
    TokenBucket bucket_;
    FragNeededCounters counters_;
    std::array<std::uint8_t, kIcmpFragNeededMax> buf_{};
};

}  // namespace dl::dataplane
