// Hot-path framing of IPv4 in PPP in L2TP data messages, in place and without allocation
// (the libtins codec in proto/l2tp is for control messages and tests; this is for every packet).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "dl/dataplane/packet_batch.hpp"

namespace dl::dataplane {

/// PPP protocol numbers used here (RFC 1661 §2, RFC 1332 §2).
inline constexpr std::uint16_t kPppIpv4 = 0x0021;

/// How the LNS frames PPP inside L2TP data messages for one session.
///  - acfc: Address-and-Control-Field-Compression negotiated (RFC 1661 §6.6): omit FF 03.
///  - pfc: Protocol-Field-Compression negotiated (RFC 1661 §6.5): one-octet protocol 0x21.
///  - sequence: carry Ns/Nr (RFC 2661 §3.1 S bit, required when the peer sent Sequencing Required,
///    §5.4); `ns` is then incremented by prepend_l2tp_ppp for every frame.
struct DataEncap {
    std::uint16_t tunnel_id = 0;   ///< peer's Assigned Tunnel ID
    std::uint16_t session_id = 0;  ///< peer's Assigned Session ID
    bool acfc = false;
    bool pfc = false;
    bool sequence = false;
    std::uint16_t ns = 0;
};

/// Largest header prepend_l2tp_ppp writes: L2TP 10 (flags, tunnel, session, Ns, Nr) + PPP 4.
inline constexpr std::size_t kMaxEncapHeader = 14;

/// Prepends the PPP header (RFC 1662 §3.1 address/control unless acfc, protocol 0x0021) and the
/// L2TP data header (RFC 2661 §3.1: T=0, L=0, O=0, Ver=2, Tunnel ID, Session ID, Ns/Nr if
/// `sequence`) in the packet's headroom. Returns the octets added (6..14), or 0 if the headroom
/// is too small (packet unchanged). Increments `encap.ns` when sequencing.
std::size_t prepend_l2tp_ppp(Packet& packet, DataEncap& encap) noexcept;

/// Prepends only the L2TP data header (RFC 2661 §3.1: T=0, L=0, O=0, Ver=2, Tunnel ID, Session
/// ID, Ns/Nr if `encap.sequence`) before a packet that already is a PPP frame (e.g. LCP or IPCP
/// from the PPP engine). Returns the octets added (6 or 10), or 0 if the headroom is too small
/// (packet unchanged). Increments `encap.ns` when sequencing.
std::size_t prepend_l2tp(Packet& packet, DataEncap& encap) noexcept;

/// Why a received datagram is not an IPv4 packet for a session.
enum class DecapError : std::uint8_t {
    none,
    truncated,        ///< shorter than the header its flags announce
    control_message,  ///< T=1: belongs to the control connection (RFC 2661 §3.1)
    bad_version,      ///< Ver ≠ 2
    bad_length,       ///< L set and Length < header or > datagram
    bad_offset,       ///< Offset Size runs past the end
    not_ipv4,         ///< PPP protocol is not 0x0021 (LCP, IPCP, … go to the PPP engine)
};
std::string_view to_string(DecapError e) noexcept;

/// An L2TP data message split into its parts (RFC 2661 §3.1). Spans point into the datagram.
struct DataMessage {
    std::uint16_t tunnel_id = 0;
    std::uint16_t session_id = 0;
    std::optional<std::uint16_t> ns, nr;
    std::span<const std::uint8_t> ppp;  ///< the PPP frame (after any Offset padding)
};

/// parse_l2tp_data for every header form (Length, Ns/Nr, Offset; the errors). Use parse_l2tp_data.
std::optional<DataMessage> parse_l2tp_data_any(std::span<const std::uint8_t> datagram,
                                               DecapError* error = nullptr) noexcept;

/// Parses the L2TP data header. On error returns nullopt and sets `error` (if non-null).
/// Never reads outside `datagram`. Trailing octets beyond Length are excluded from `ppp`.
/// The plain header (RFC 2661 §3.1: T, L, S and O clear, Ver 2; what LACs send without
/// sequencing) is taken here, inline in the caller's per-packet loop; every other form by
/// parse_l2tp_data_any, with the same result.
inline std::optional<DataMessage> parse_l2tp_data(std::span<const std::uint8_t> datagram,
                                                  DecapError* error = nullptr) noexcept {
    if (datagram.size() >= 6 && (datagram[0] & 0xCA) == 0 && (datagram[1] & 0x0F) == 2) {  // not T, L, S, O
        if (error) *error = DecapError::none;
        DataMessage m;
        m.tunnel_id = static_cast<std::uint16_t>((datagram[2] << 8) | datagram[3]);
        m.session_id = static_cast<std::uint16_t>((datagram[4] << 8) | datagram[5]);
        m.ppp = datagram.subspan(6);
        return m;
    }
    return parse_l2tp_data_any(datagram, error);
}

/// Splits a PPP frame (address/control optional, protocol 1 or 2 octets, RFC 1661 §6.5/§6.6) into
/// protocol and information field. nullopt (error = truncated) if too short.
struct PppFrame {
    std::uint16_t protocol = 0;
    std::span<const std::uint8_t> information;
};
std::optional<PppFrame> parse_ppp(std::span<const std::uint8_t> frame, DecapError* error = nullptr) noexcept;

/// Both steps: the IPv4 packet inside an L2TP data message, or nullopt with `error`
/// (not_ipv4 for PPP control protocols, which the caller hands to the PPP engine).
std::optional<std::span<const std::uint8_t>> decap_l2tp_ppp_ipv4(std::span<const std::uint8_t> datagram,
                                                                 DataMessage* message = nullptr,
                                                                 DecapError* error = nullptr) noexcept;

/// The IPv4 destination address (host order) of a packet, nullopt if it is not IPv4 (version 4,
/// IHL ≥ 5, ≥ 20 octets).
std::optional<std::uint32_t> ipv4_destination(std::span<const std::uint8_t> packet) noexcept;

}  // namespace dl::dataplane
