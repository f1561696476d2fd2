#include "dl/radius/attribute.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <unordered_map>

namespace dl::radius {

namespace {

constexpr std::size_t kMaxVsaValue = 247;  // 255 - 2 - 4 (Vendor-Id) - 2 (vendor type, length)

using VT = ValueType;
constexpr AttributeFormat S{VT::string}, O{VT::octets}, I{VT::integer}, A{VT::ipaddr},
    D{VT::date}, TS{VT::string, true}, TI{VT::integer, true}, P1{VT::string, false, 1},
    TP{VT::string, true, 2};

// The built-in registry. One line per attribute: name, vendor, number, format, source.
constexpr AttributeSpec kBuiltin[] = {
    {"User-Name", 0, 1, S, "RFC 2865 §5.1"},
    {"User-Password", 0, 2, P1, "RFC 2865 §5.2"},
    {"CHAP-Password", 0, 3, O, "RFC 2865 §5.3"},
    {"NAS-IP-Address", 0, 4, A, "RFC 2865 §5.4"},
    {"NAS-Port", 0, 5, I, "RFC 2865 §5.5"},
    {"Service-Type", 0, 6, I, "RFC 2865 §5.6"},
    {"Framed-Protocol", 0, 7, I, "RFC 2865 §5.7"},
    {"Framed-IP-Address", 0, 8, A, "RFC 2865 §5.8"},
    {"Framed-IP-Netmask", 0, 9, A, "RFC 2865 §5.9"},
    {"Filter-Id", 0, 11, S, "RFC 2865 §5.11"},
    {"Framed-MTU", 0, 12, I, "RFC 2865 §5.12"},
    {"Reply-Message", 0, 18, S, "RFC 2865 §5.18"},
    {"Framed-Route", 0, 22, S, "RFC 2865 §5.22"},
    {"State", 0, 24, O, "RFC 2865 §5.24"},
    {"Class", 0, 25, O, "RFC 2865 §5.25"},
    {"Vendor-Specific", 0, 26, {VT::vsa}, "RFC 2865 §5.26"},
    {"Session-Timeout", 0, 27, I, "RFC 2865 §5.27"},
    {"Idle-Timeout", 0, 28, I, "RFC 2865 §5.28"},
    {"Called-Station-Id", 0, 30, S, "RFC 2865 §5.30"},
    {"Calling-Station-Id", 0, 31, S, "RFC 2865 §5.31"},
    {"NAS-Identifier", 0, 32, S, "RFC 2865 §5.32"},
    {"Proxy-State", 0, 33, O, "RFC 2865 §5.33"},
    {"Acct-Status-Type", 0, 40, I, "RFC 2866 §5.1"},
    {"Acct-Delay-Time", 0, 41, I, "RFC 2866 §5.2"},
    {"Acct-Input-Octets", 0, 42, I, "RFC 2866 §5.3"},
    {"Acct-Output-Octets", 0, 43, I, "RFC 2866 §5.4"},
    {"Acct-Session-Id", 0, 44, S, "RFC 2866 §5.5"},
    {"Acct-Authentic", 0, 45, I, "RFC 2866 §5.6"},
    {"Acct-Session-Time", 0, 46, I, "RFC 2866 §5.7"},
    {"Acct-Input-Packets", 0, 47, I, "RFC 2866 §5.8"},
    {"Acct-Output-Packets", 0, 48, I, "RFC 2866 §5.9"},
    {"Acct-Terminate-Cause", 0, 49, I, "RFC 2866 §5.10"},
    {"Event-Timestamp", 0, 55, D, "RFC 2869 §5.3"},
    {"CHAP-Challenge", 0, 60, O, "RFC 2865 §5.40"},
    {"NAS-Port-Type", 0, 61, I, "RFC 2865 §5.41"},
    {"Tunnel-Type", 0, 64, TI, "RFC 2868 §3.1"},
    {"Tunnel-Medium-Type", 0, 65, TI, "RFC 2868 §3.2"},
    {"Tunnel-Client-Endpoint", 0, 66, TS, "RFC 2868 §3.3"},
    {"Tunnel-Server-Endpoint", 0, 67, TS, "RFC 2868 §3.4"},
    {"Acct-Tunnel-Connection", 0, 68, S, "RFC 2867 §4.1"},
    {"Tunnel-Password", 0, 69, TP, "RFC 2868 §3.5"},
    {"Connect-Info", 0, 77, S, "RFC 2869 §5.11"},
    {"EAP-Message", 0, 79, O, "RFC 3579 §3.1"},
    {"Message-Authenticator", 0, 80, O, "RFC 3579 §3.2"},
    {"Tunnel-Private-Group-Id", 0, 81, TS, "RFC 2868 §3.6"},
    {"Tunnel-Assignment-Id", 0, 82, TS, "RFC 2868 §3.7"},
    {"Tunnel-Preference", 0, 83, TI, "RFC 2868 §3.8"},
    {"Acct-Tunnel-Packets-Lost", 0, 86, I, "RFC 2867 §4.2"},
    {"NAS-Port-Id", 0, 87, S, "RFC 2869 §5.17"},
    {"Tunnel-Client-Auth-Id", 0, 90, TS, "RFC 2868 §3.9"},
    {"Tunnel-Server-Auth-Id", 0, 91, TS, "RFC 2868 §3.10"},
    {"Error-Cause", 0, 101, I, "RFC 5176 §3.5"},
    {"ERX-Virtual-Router-Name", kVendorErx, 1, S, "dictionary.erx"},
    {"ERX-Dial-Out-Number", kVendorErx, 35, S, "dictionary.erx"},
    {"ERX-PPP-Username", kVendorErx, 36, S, "dictionary.erx"},
    {"ERX-PPP-Password", kVendorErx, 37, S, "dictionary.erx"},
    {"ERX-PPP-Auth-Protocol", kVendorErx, 38, I, "dictionary.erx"},
    {"ERX-Minimum-BPS", kVendorErx, 39, I, "dictionary.erx"},
    {"ERX-Maximum-BPS", kVendorErx, 40, I, "dictionary.erx"},
    {"ERX-Bearer-Type", kVendorErx, 41, I, "dictionary.erx"},
    {"ERX-Service-Activate", kVendorErx, 65, TS, "dictionary.erx"},
};

bool iequals(std::string_view a, std::string_view b) noexcept {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; };
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) {
               return lower(x) == lower(y);
           });
}

void put_be32(std::uint8_t* p, std::uint32_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 24);
    p[1] = static_cast<std::uint8_t>(v >> 16);
    p[2] = static_cast<std::uint8_t>(v >> 8);
    p[3] = static_cast<std::uint8_t>(v);
}

}  // namespace

std::string_view to_string(ValueType t) noexcept {
    switch (t) {
        case VT::string: return "string";
        case VT::octets: return "octets";
        case VT::ipaddr: return "ipaddr";
        case VT::ipv4prefix: return "ipv4prefix";
        case VT::integer: return "integer";
        case VT::date: return "date";
        case VT::byte: return "byte";
        case VT::short_: return "short";
        case VT::signed_: return "signed";
        case VT::integer64: return "integer64";
        case VT::ipv6addr: return "ipv6addr";
        case VT::ipv6prefix: return "ipv6prefix";
        case VT::ifid: return "ifid";
        case VT::ether: return "ether";
        case VT::abinary: return "abinary";
        case VT::combo_ip: return "combo-ip";
        case VT::tlv: return "tlv";
        case VT::vsa: return "vsa";
        case VT::extended: return "extended";
        case VT::long_extended: return "long-extended";
        case VT::evs: return "evs";
        case VT::struct_: return "struct";
    }
    return "octets";
}

std::span<const AttributeSpec> builtin_attributes() noexcept { return kBuiltin; }

const AttributeSpec* builtin_attribute(std::uint32_t vendor, std::uint8_t number) noexcept {
    // Indexed once (the first entry of a (vendor, number) wins, as the linear walk it replaces
    // did): the walk ran for every attribute of every RADIUS message lnsd builds or parses.
    static const std::unordered_map<std::uint64_t, const AttributeSpec*> index = [] {
        std::unordered_map<std::uint64_t, const AttributeSpec*> m;
        for (const auto& s : kBuiltin) m.try_emplace((std::uint64_t{s.vendor} << 8) | s.number, &s);
        return m;
    }();
    const auto it = index.find((std::uint64_t{vendor} << 8) | number);
    return it == index.end() ? nullptr : it->second;
}

const AttributeSpec* builtin_attribute(std::string_view name) noexcept {
    for (const auto& s : kBuiltin)
        if (iequals(s.name, name)) return &s;
    return nullptr;
}

AttributeFormat builtin_format(std::uint32_t vendor, std::uint8_t number) noexcept {
    const AttributeSpec* s = builtin_attribute(vendor, number);
    return s ? s->format : AttributeFormat{};
}

Attribute::Attribute(std::uint8_t type, std::span<const std::uint8_t> v) : type_(type) { value(v); }

Attribute::Attribute(std::uint32_t vendor, std::uint8_t vendor_type,
                     std::span<const std::uint8_t> v)
    : type_(26), vendor_type_(vendor_type), vendor_(vendor) {
    if (vendor == 0) throw std::invalid_argument("RADIUS VSA: Vendor-Id 0 is reserved");
    value(v);
}

void Attribute::value(std::span<const std::uint8_t> v) {
    const std::size_t max = is_vsa() ? kMaxVsaValue : kMaxValue;
    if (v.size() > max)
        throw std::length_error("RADIUS attribute value of " + std::to_string(v.size()) +
                                " octets exceeds " + std::to_string(max) + " (RFC 2865 §5)");
    if (!v.empty()) std::memcpy(value_.data(), v.data(), v.size());
    size_ = static_cast<std::uint8_t>(v.size());
}

namespace {
// Builds the raw value of a (possibly tagged) string, RFC 2868 §3.3: a tag octet is present when
// tag != 0, or when the value itself begins with an octet in 0x00..0x1F that would read as a tag.
std::size_t encode_string(std::uint8_t* out, std::string_view v, std::uint8_t tag, bool tagged,
                          std::size_t max) {
    if (tag > 0x1F) throw std::out_of_range("RADIUS tag must be 0x00..0x1F (RFC 2868 §3.1)");
    std::size_t n = 0;
    if (tag != 0 || (tagged && !v.empty() && static_cast<std::uint8_t>(v[0]) <= 0x1F)) out[n++] = tag;
    if (n + v.size() > max)
        throw std::length_error("RADIUS string value too long (RFC 2865 §5)");
    if (!v.empty()) std::memcpy(out + n, v.data(), v.size());
    return n + v.size();
}
void encode_integer(std::uint8_t* out, std::uint32_t v, std::uint8_t tag, bool tagged) {
    if (tag > 0x1F) throw std::out_of_range("RADIUS tag must be 0x00..0x1F (RFC 2868 §3.1)");
    if (tagged || tag != 0) {
        if (v > 0xFFFFFFu)
            throw std::out_of_range("tagged RADIUS integer must fit in 24 bits (RFC 2868 §3.1)");
        put_be32(out, v);
        out[0] = tag;
    } else {
        put_be32(out, v);
    }
}
}  // namespace

Attribute Attribute::string(std::uint8_t type, std::string_view v, std::uint8_t tag,
                            bool tagged_format) {
    std::array<std::uint8_t, kMaxValue> buf;
    std::size_t n = encode_string(buf.data(), v, tag, tagged_format, kMaxValue);
    return Attribute(type, std::span<const std::uint8_t>(buf.data(), n));
}

Attribute Attribute::integer(std::uint8_t type, std::uint32_t v, std::uint8_t tag,
                             bool tagged_format) {
    std::uint8_t buf[4];
    encode_integer(buf, v, tag, tagged_format);
    return Attribute(type, buf);
}

Attribute Attribute::ipaddr(std::uint8_t type, std::array<std::uint8_t, 4> a) {
    return Attribute(type, a);
}

Attribute Attribute::vendor_string(std::uint32_t vendor, std::uint8_t vtype, std::string_view v,
                                   std::uint8_t tag, bool tagged_format) {
    std::array<std::uint8_t, kMaxValue> buf;
    std::size_t n = encode_string(buf.data(), v, tag, tagged_format, kMaxVsaValue);
    return Attribute(vendor, vtype, std::span<const std::uint8_t>(buf.data(), n));
}

Attribute Attribute::vendor_integer(std::uint32_t vendor, std::uint8_t vtype, std::uint32_t v,
                                    std::uint8_t tag, bool tagged_format) {
    std::uint8_t buf[4];
    encode_integer(buf, v, tag, tagged_format);
    return Attribute(vendor, vtype, buf);
}

std::uint8_t Attribute::tag(const AttributeFormat& f) const noexcept {
    if (!f.has_tag || size_ == 0) return 0;
    // RFC 2868 §3.1/§3.5: integers and Tunnel-Password always carry the tag octet.
    if (f.type == VT::integer || f.encrypt == 2) return value_[0];
    return value_[0] <= 0x1F ? value_[0] : 0;  // RFC 2868 §3.3: > 0x1F is the first data octet
}

std::span<const std::uint8_t> Attribute::payload(const AttributeFormat& f) const noexcept {
    std::span<const std::uint8_t> v = value();
    if (!f.has_tag || v.empty()) return v;
    if (f.type == VT::integer) return v;  // tag shares the 4-octet field; see as_integer()
    if (f.encrypt == 2 || v[0] <= 0x1F) return v.subspan(1);
    return v;
}

std::string Attribute::as_string(const AttributeFormat& f) const {
    auto p = payload(f);
    return std::string(reinterpret_cast<const char*>(p.data()), p.size());
}

std::optional<std::uint32_t> Attribute::as_integer(const AttributeFormat& f) const noexcept {
    if (size_ != 4) return std::nullopt;
    std::uint32_t v = (std::uint32_t{value_[0]} << 24) | (std::uint32_t{value_[1]} << 16) |
                      (std::uint32_t{value_[2]} << 8) | value_[3];
    if (f.has_tag) v &= 0xFFFFFFu;  // RFC 2868 §3.1: Value is 3 octets after the Tag
    return v;
}

std::optional<std::array<std::uint8_t, 4>> Attribute::as_ipaddr() const noexcept {
    if (size_ != 4) return std::nullopt;
    return std::array<std::uint8_t, 4>{value_[0], value_[1], value_[2], value_[3]};
}

bool operator==(const Attribute& a, const Attribute& b) noexcept {
    return a.type_ == b.type_ && a.vendor_ == b.vendor_ && a.vendor_type_ == b.vendor_type_ &&
           a.continues_vsa_ == b.continues_vsa_ && std::ranges::equal(a.value(), b.value());
}

}  // namespace dl::radius
