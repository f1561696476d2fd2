#include "dl/dataplane/framing.hpp"

namespace dl::dataplane {

namespace {
inline std::uint16_t rd16(const std::uint8_t* p) noexcept {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline void wr16(std::uint8_t* p, std::uint16_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
constexpr std::uint8_t kT = 0x80, kL = 0x40, kS = 0x08, kO = 0x02;
}  // namespace

namespace {
/// Writes the RFC 2661 §3.1 data header (6 or 10 octets) at `p`; returns the octets written.
std::size_t write_l2tp_header(std::uint8_t* p, DataEncap& encap) noexcept {
    // T=0 L=0 S=? O=0 P=0, Ver=2.
    p[0] = encap.sequence ? kS : 0;
    p[1] = 0x02;
    wr16(p + 2, encap.tunnel_id);
    wr16(p + 4, encap.session_id);
    if (!encap.sequence) return 6;
    wr16(p + 6, encap.ns++);
    wr16(p + 8, 0);  // Nr is reserved in data messages (RFC 2661 §3.1, "Nr ... SHOULD be 0")
    return 10;
}
}  // namespace

std::size_t prepend_l2tp_ppp(Packet& packet, DataEncap& encap) noexcept {
    const std::size_t ppp = (encap.acfc ? 0 : 2) + (encap.pfc ? 1 : 2);
    const std::size_t l2tp = encap.sequence ? 10 : 6;
    const std::size_t total = ppp + l2tp;
    std::uint8_t* p = packet.prepend(total);
    if (!p) return 0;
    std::uint8_t* q = p + write_l2tp_header(p, encap);
    if (!encap.acfc) {
        *q++ = 0xFF;  // RFC 1662 §3.1 All-Stations address
        *q++ = 0x03;  // Unnumbered Information control
    }
    if (encap.pfc) {
        *q++ = 0x21;
    } else {
        *q++ = 0x00;
        *q++ = 0x21;
    }
    return total;
}

std::size_t prepend_l2tp(Packet& packet, DataEncap& encap) noexcept {
    std::uint8_t* p = packet.prepend(encap.sequence ? 10 : 6);
    if (!p) return 0;
    return write_l2tp_header(p, encap);
}

std::string_view to_string(DecapError e) noexcept {
    switch (e) {
        case DecapError::none: return "none";
        case DecapError::truncated: return "truncated";
        case DecapError::control_message: return "control message";
        case DecapError::bad_version: return "bad version";
        case DecapError::bad_length: return "bad Length";
        case DecapError::bad_offset: return "bad Offset Size";
        case DecapError::not_ipv4: return "not IPv4";
    }
    return "?";
}

std::optional<DataMessage> parse_l2tp_data_any(std::span<const std::uint8_t> d, DecapError* error) noexcept {
    auto fail = [&](DecapError e) -> std::optional<DataMessage> {
        if (error) *error = e;
        return std::nullopt;
    };
    if (d.size() < 6) return fail(DecapError::truncated);
    const std::uint8_t f = d[0];
    if (f & kT) return fail(DecapError::control_message);
    if ((d[1] & 0x0F) != 2) return fail(DecapError::bad_version);
    std::size_t off = 2;
    std::size_t end = d.size();
    if (f & kL) {
        const std::uint16_t len = rd16(d.data() + off);
        off += 2;
        if (len > d.size()) return fail(DecapError::bad_length);
        end = len;
    }
    const std::size_t need = off + 4 + ((f & kS) ? 4 : 0) + ((f & kO) ? 2 : 0);
    if (need > end) return fail((f & kL) && need <= d.size() ? DecapError::bad_length : DecapError::truncated);
    DataMessage m;
    m.tunnel_id = rd16(d.data() + off);
    m.session_id = rd16(d.data() + off + 2);
    off += 4;
    if (f & kS) {
        m.ns = rd16(d.data() + off);
        m.nr = rd16(d.data() + off + 2);
        off += 4;
    }
    if (f & kO) {
        const std::size_t pad = rd16(d.data() + off);
        off += 2;
        if (pad > end - off) return fail(DecapError::bad_offset);
        off += pad;
    }
    m.ppp = d.subspan(off, end - off);
    if (error) *error = DecapError::none;
    return m;
}

std::optional<PppFrame> parse_ppp(std::span<const std::uint8_t> f, DecapError* error) noexcept {
    std::size_t off = 0;
    if (f.size() >= 2 && f[0] == 0xFF && f[1] == 0x03) off = 2;
    if (off >= f.size()) {
        if (error) *error = DecapError::truncated;
        return std::nullopt;
    }
    PppFrame r;
    if (f[off] & 0x01) {  // compressed (odd) one-octet protocol, RFC 1661 §6.5
        r.protocol = f[off];
        off += 1;
    } else {
        if (off + 2 > f.size()) {
            if (error) *error = DecapError::truncated;
            return std::nullopt;
        }
        r.protocol = rd16(f.data() + off);
        off += 2;
    }
    r.information = f.subspan(off);
    if (error) *error = DecapError::none;
    return r;
}

std::optional<std::span<const std::uint8_t>> decap_l2tp_ppp_ipv4(std::span<const std::uint8_t> datagram,
                                                                 DataMessage* message,
                                                                 DecapError* error) noexcept {
    auto m = parse_l2tp_data(datagram, error);
    if (!m) return std::nullopt;
    if (message) *message = *m;
    auto p = parse_ppp(m->ppp, error);
    if (!p) return std::nullopt;
    if (p->protocol != kPppIpv4) {
        if (error) *error = DecapError::not_ipv4;
        return std::nullopt;
    }
    return p->information;
}

std::optional<std::uint32_t> ipv4_destination(std::span<const std::uint8_t> p) noexcept {
    if (p.size() < 20 || (p[0] >> 4) != 4 || (p[0] & 0x0F) < 5) return std::nullopt;
    return (std::uint32_t{p[16]} << 24) | (std::uint32_t{p[17]} << 16) | (std::uint32_t{p[18]} << 8) | p[19];
}

}  // namespace dl::dataplane
