// PPP encapsulation (RFC 1661 §2) as a libtins PDU: Protocol field + inner PDU.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include <tins/pdu.h>

namespace Tins {
class IP;
}

namespace dl::ppp {

/// PPP Protocol field values used here (RFC 1661 §2, IANA "PPP DLL Protocol Numbers").
inline constexpr std::uint16_t kProtoIPv4 = 0x0021;  ///< Internet Protocol (RFC 1332 §2.1)
inline constexpr std::uint16_t kProtoIPCP = 0x8021;  ///< IP Control Protocol (RFC 1332)
inline constexpr std::uint16_t kProtoCCP = 0x80fd;   ///< Compression Control Protocol (kept raw)
inline constexpr std::uint16_t kProtoLCP = 0xc021;   ///< Link Control Protocol (RFC 1661 §5)
inline constexpr std::uint16_t kProtoPAP = 0xc023;   ///< Password Authentication (RFC 1334 §2)
inline constexpr std::uint16_t kProtoLQR = 0xc025;   ///< Link Quality Report (RFC 1989)
inline constexpr std::uint16_t kProtoCHAP = 0xc223;  ///< Challenge-Handshake Auth (RFC 1994)

/// Builds the PDU for the Information field of a PPP frame with Protocol `protocol`:
/// LCP, IPCP, PAP, CHAP, else Tins::RawPDU. Throws dl::proto::ParseError (Protocol::ppp) when the
/// inner packet is malformed. Caller owns the result. `size` may be 0 (RawPDU only).
Tins::PDU* make_ppp_inner(std::uint16_t protocol, const std::uint8_t* data, std::uint32_t size);

/// A PPP frame (RFC 1661 §2): Protocol (1 or 2 octets) + Information (inner PDU) [+ Padding,
/// kept inside the inner PDU's bytes for RawPDU]. It starts after HDLC Address/Control.
///
/// Protocol-Field-Compression (RFC 1661 §6.5): a Protocol value below 0x0100 may be sent as one
/// octet; on parse an odd first octet means the compressed form, which is remembered so the frame
/// re-serialises byte-exact.
///
/// Serialisation: if the inner PDU is LCP/IPCP/PAP/CHAP the Protocol field is set from it.
class PPP : public Tins::PDU {
public:
    static const PDU::PDUType pdu_flag = static_cast<PDU::PDUType>(PDU::USER_DEFINED_PDU + 10);

    /// A frame with the given Protocol and no inner PDU; `compress` requests the 1-octet form
    /// (honoured only if protocol < 0x100).
    explicit PPP(std::uint16_t protocol = 0, bool compress = false);

    /// Parses Protocol + Information. Throws dl::proto::ParseError: empty input, a Protocol field
    /// that is not odd in its last octet / even in its first (RFC 1661 §2), or a malformed inner
    /// control/authentication packet.
    PPP(const std::uint8_t* data, std::uint32_t size);

    /// Parses a frame that may still start with Address/Control 0xff 0x03 (RFC 1662 §3.1), as in
    /// L2TP data messages (RFC 2661 §3.2). Throws ParseError as the constructor, or on 0xff
    /// followed by anything but 0x03.
    static PPP from_hdlc_payload(std::span<const std::uint8_t> data);

    std::uint16_t protocol() const noexcept { return protocol_; }
    void protocol(std::uint16_t p) noexcept { protocol_ = p; }
    /// True if the Protocol field is (to be) sent as a single octet (RFC 1661 §6.5).
    bool protocol_compressed() const noexcept { return compressed_ && protocol_ < 0x100; }
    void protocol_compressed(bool c) noexcept { compressed_ = c; }

    /// If Protocol is 0x0021 and the inner PDU holds bytes, parses them as Tins::IP (libtins may
    /// throw Tins::malformed_packet). Returns nullptr otherwise.
    std::unique_ptr<Tins::IP> ipv4() const;

    std::uint32_t header_size() const override;
    PDU::PDUType pdu_type() const override { return pdu_flag; }
    PPP* clone() const override { return new PPP(*this); }

private:
    void write_serialization(std::uint8_t* buffer, std::uint32_t total_sz) override;
    std::uint16_t effective_protocol() const noexcept;

    std::uint16_t protocol_ = 0;
    bool compressed_ = false;
};

}  // namespace dl::ppp
