// RFC 1661 §2 (PPP encapsulation) and §6.5 (Protocol-Field-Compression) as a libtins PDU.
#include "dl/ppp/ppp.hpp"

#include <fmt/format.h>
#include <tins/ip.h>
#include <tins/rawpdu.h>

#include "dl/ppp/auth.hpp"
#include "dl/ppp/control.hpp"
#include "dl/proto/errors.hpp"

namespace dl::ppp {

using dl::proto::ParseError;
using dl::proto::Protocol;

Tins::PDU* make_ppp_inner(std::uint16_t protocol, const std::uint8_t* data, std::uint32_t size) {
    switch (protocol) {
        case kProtoLCP: return new LCP(data, size);
        case kProtoIPCP: return new IPCP(data, size);
        case kProtoPAP: return new PAP(data, size);
        case kProtoCHAP: return new CHAP(data, size);
        default: return new Tins::RawPDU(data, size);
    }
}

PPP::PPP(std::uint16_t protocol, bool compress) : protocol_(protocol), compressed_(compress) {}

PPP::PPP(const std::uint8_t* data, std::uint32_t size) {
    if (data == nullptr || size == 0) {
        throw ParseError(Protocol::ppp, "protocol", "empty frame: no Protocol field",
                         "RFC 1661 §2", 0);
    }
    std::uint32_t hl = 0;
    if (data[0] & 1) {
        // RFC 1661 §6.5: a single odd octet is a compressed Protocol field (high octet 0).
        protocol_ = data[0];
        compressed_ = true;
        hl = 1;
    } else {
        if (size < 2) {
            throw ParseError(Protocol::ppp, "protocol", "1 octet, even: Protocol field truncated",
                             "RFC 1661 §2", 0);
        }
        if ((data[1] & 1) == 0) {
            throw ParseError(Protocol::ppp, "protocol",
                             fmt::format("0x{:02x}{:02x}: the least significant octet must be odd",
                                         data[0], data[1]),
                             "RFC 1661 §2", 1);
        }
        protocol_ = static_cast<std::uint16_t>((data[0] << 8) | data[1]);
        hl = 2;
    }
    if (size > hl) inner_pdu(make_ppp_inner(protocol_, data + hl, size - hl));
}

PPP PPP::from_hdlc_payload(std::span<const std::uint8_t> data) {
    std::size_t off = 0;
    if (!data.empty() && data[0] == 0xff) {
        if (data.size() < 2 || data[1] != 0x03) {
            throw ParseError(Protocol::hdlc, "control", "Address 0xff not followed by Control 0x03",
                             "RFC 1662 §3.1", 1);
        }
        off = 2;
    }
    return PPP(data.data() + off, static_cast<std::uint32_t>(data.size() - off));
}

std::unique_ptr<Tins::IP> PPP::ipv4() const {
    if (protocol_ != kProtoIPv4) return nullptr;
    const auto* raw = find_pdu<Tins::RawPDU>();
    if (raw == nullptr || raw->payload().empty()) return nullptr;
    return std::make_unique<Tins::IP>(raw->payload().data(),
                                      static_cast<std::uint32_t>(raw->payload().size()));
}

std::uint16_t PPP::effective_protocol() const noexcept {
    if (const PDU* in = inner_pdu()) {
        // The Protocol field follows the inner PDU when it is one of ours.
        switch (static_cast<int>(in->pdu_type())) {
            case LCP::pdu_flag: return kProtoLCP;
            case IPCP::pdu_flag: return kProtoIPCP;
            case PAP::pdu_flag: return kProtoPAP;
            case CHAP::pdu_flag: return kProtoCHAP;
            default: break;
        }
    }
    return protocol_;
}

std::uint32_t PPP::header_size() const {
    return compressed_ && effective_protocol() < 0x100 ? 1 : 2;
}

void PPP::write_serialization(std::uint8_t* buffer, std::uint32_t total_sz) {
    protocol_ = effective_protocol();
    if (total_sz < header_size()) throw std::length_error("PPP buffer too small");
    if (protocol_compressed()) {
        buffer[0] = static_cast<std::uint8_t>(protocol_);
    } else {
        buffer[0] = static_cast<std::uint8_t>(protocol_ >> 8);
        buffer[1] = static_cast<std::uint8_t>(protocol_ & 0xff);
    }
}

}  // namespace dl::ppp
