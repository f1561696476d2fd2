#include "dl/proto/decode.hpp"

#include <tins/exceptions.h>
#include <tins/ip.h>
#include <tins/rawpdu.h>
#include <tins/udp.h>

#include <stdexcept>
#include <string>

#include "dl/l2tp/l2tp.hpp"
#include "dl/ppp/ppp.hpp"
#include "dl/radius/radius.hpp"

namespace dl::proto {

std::string_view to_string(UdpProtocol p) noexcept {
    switch (p) {
        case UdpProtocol::l2tp: return "l2tp";
        case UdpProtocol::radius_auth: return "radius-auth";
        case UdpProtocol::radius_acct: return "radius-acct";
        case UdpProtocol::radius_dynauth: return "radius-dynauth";
        case UdpProtocol::unknown: break;
    }
    return "unknown";
}

namespace {
UdpProtocol by_port(std::uint16_t port) noexcept {
    switch (port) {
        case 1701: return UdpProtocol::l2tp;
        case 1812:
        case 1645: return UdpProtocol::radius_auth;
        case 1813:
        case 1646: return UdpProtocol::radius_acct;
        case 3799: return UdpProtocol::radius_dynauth;
        default: return UdpProtocol::unknown;
    }
}
}  // namespace

UdpProtocol classify_udp(std::uint16_t sport, std::uint16_t dport) noexcept {
    auto a = by_port(sport), b = by_port(dport);
    if (a == UdpProtocol::unknown) return b;
    if (b == UdpProtocol::unknown) return a;
    return sport < dport ? a : b;
}

std::unique_ptr<Tins::PDU> decode_udp_payload(std::uint16_t sport, std::uint16_t dport,
                                              std::span<const std::uint8_t> payload) {
    const auto size = static_cast<std::uint32_t>(payload.size());
    switch (classify_udp(sport, dport)) {
        case UdpProtocol::l2tp: {
            auto msg = std::make_unique<l2tp::L2TP>(payload.data(), size);
            if (msg->is_data() && !msg->payload().empty()) {
                auto ppp = ppp::PPP::from_hdlc_payload(msg->payload());
                msg->inner_pdu(ppp.clone());
            }
            return msg;
        }
        case UdpProtocol::radius_auth:
        case UdpProtocol::radius_acct:
        case UdpProtocol::radius_dynauth:
            return std::make_unique<radius::Radius>(payload.data(), size);
        case UdpProtocol::unknown: break;
    }
    return nullptr;
}

Tins::PDU* decode_udp(Tins::UDP& udp) {
    auto* raw = udp.find_pdu<Tins::RawPDU>();
    if (!raw || udp.inner_pdu() != raw) return nullptr;
    const auto& bytes = raw->payload();
    auto decoded = decode_udp_payload(udp.sport(), udp.dport(), bytes);
    if (!decoded) return nullptr;
    Tins::PDU* out = decoded.release();
    udp.inner_pdu(out);  // deletes the RawPDU
    return out;
}

Tins::PDU* decode_packet(Tins::PDU& packet) {
    auto* udp = packet.find_pdu<Tins::UDP>();
    return udp ? decode_udp(*udp) : nullptr;
}

std::vector<std::uint8_t> rewrite_ipv4(std::span<const std::uint8_t> packet, std::string_view src,
                                       std::string_view dst) {
    if (packet.size() < 20 || (packet[0] >> 4) != 4)
        throw std::invalid_argument("not an IPv4 packet (" + std::to_string(packet.size()) +
                                    " octets; RFC 791 §3.1)");
    Tins::IPv4Address from, to;
    try {
        from = Tins::IPv4Address(std::string(src));
        to = Tins::IPv4Address(std::string(dst));
    } catch (const std::exception& e) {
        throw std::invalid_argument("not a dotted quad: " + std::string(src) + ", " + std::string(dst));
    }
    try {
        Tins::IP ip(packet.data(), static_cast<std::uint32_t>(packet.size()));
        ip.src_addr(from);
        ip.dst_addr(to);
        return ip.serialize();  // libtins recomputes the IP header and transport checksums
    } catch (const Tins::exception_base& e) {
        throw std::invalid_argument(std::string("not an IPv4 packet libtins can parse: ") + e.what() +
                                    " (RFC 791 §3.1)");
    }
}

}  // namespace dl::proto
