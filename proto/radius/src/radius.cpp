#include "dl/radius/radius.hpp"

#include "dl/proto/errors.hpp"
#include "dl/radius/dictionary.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <stdexcept>
#include <string>

namespace dl::radius {

using dl::proto::ParseError;
using dl::proto::Protocol;

namespace {

constexpr std::size_t kVsaHeader = 6;  // Type, Length, Vendor-Id (RFC 2865 §5.26)

std::uint16_t be16(const std::uint8_t* p) noexcept {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
std::uint32_t be32(const std::uint8_t* p) noexcept {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           p[3];
}

std::string attr_field(std::size_t i) { return "attr[" + std::to_string(i) + "]"; }

// Walks the attributes in wire order, grouping VSA sub-attributes as serialisation does, and calls
// `emit_standard(a)`, `open_vsa(vendor)` (returns nothing), `emit_sub(a)` and `close_vsa(len)`.
// Shared by header_size() and write_serialization() so that both agree.
template <class Sink>
void walk(const std::vector<Attribute>& attrs, Sink& sink) {
    std::uint32_t open_vendor = 0;
    std::size_t open_len = 0;
    for (const Attribute& a : attrs) {
        if (!a.is_vsa()) {
            if (open_vendor) sink.close_vsa(open_len), open_vendor = 0;
            sink.standard(a);
            continue;
        }
        const std::size_t sub = 2 + a.value().size();
        if (open_vendor && a.continues_vsa() && a.vendor() == open_vendor && open_len + sub <= 255) {
            open_len += sub;
        } else {
            if (open_vendor) sink.close_vsa(open_len);
            open_vendor = a.vendor();
            open_len = kVsaHeader + sub;
            sink.open_vsa(a.vendor());
        }
        sink.sub(a);
    }
    if (open_vendor) sink.close_vsa(open_len);
}

struct SizeSink {
    std::size_t total = 0;
    void standard(const Attribute& a) { total += 2 + a.value().size(); }
    void open_vsa(std::uint32_t) { total += kVsaHeader; }
    void sub(const Attribute& a) { total += 2 + a.value().size(); }
    void close_vsa(std::size_t) {}
};

struct WriteSink {
    std::uint8_t* out;
    std::size_t pos = 0;
    std::size_t vsa_start = 0;
    void standard(const Attribute& a) {
        out[pos] = a.type();
        out[pos + 1] = static_cast<std::uint8_t>(2 + a.value().size());
        std::memcpy(out + pos + 2, a.value().data(), a.value().size());
        pos += 2 + a.value().size();
    }
    void open_vsa(std::uint32_t vendor) {
        vsa_start = pos;
        out[pos] = 26;
        out[pos + 2] = static_cast<std::uint8_t>(vendor >> 24);
        out[pos + 3] = static_cast<std::uint8_t>(vendor >> 16);
        out[pos + 4] = static_cast<std::uint8_t>(vendor >> 8);
        out[pos + 5] = static_cast<std::uint8_t>(vendor);
        pos += kVsaHeader;
    }
    void sub(const Attribute& a) {
        out[pos] = a.vendor_type();
        out[pos + 1] = static_cast<std::uint8_t>(2 + a.value().size());
        std::memcpy(out + pos + 2, a.value().data(), a.value().size());
        pos += 2 + a.value().size();
    }
    void close_vsa(std::size_t len) { out[vsa_start + 1] = static_cast<std::uint8_t>(len); }
};

// Splits a Vendor-Specific value (after the Vendor-Id) in the 1/1 vendor format; false when the
// octets do not form that layout exactly.
bool vsa_is_1_1(const std::uint8_t* p, std::size_t n) noexcept {
    if (n < 2) return false;
    while (n) {
        if (n < 2 || p[1] < 2 || p[1] > n) return false;
        n -= p[1];
        p += p[1];
    }
    return true;
}

}  // namespace

std::string_view to_string(Code c) noexcept {
    switch (c) {
        case Code::Access_Request: return "Access-Request";
        case Code::Access_Accept: return "Access-Accept";
        case Code::Access_Reject: return "Access-Reject";
        case Code::Accounting_Request: return "Accounting-Request";
        case Code::Accounting_Response: return "Accounting-Response";
        case Code::Access_Challenge: return "Access-Challenge";
        case Code::Status_Server: return "Status-Server";
        case Code::Status_Client: return "Status-Client";
        case Code::Disconnect_Request: return "Disconnect-Request";
        case Code::Disconnect_ACK: return "Disconnect-ACK";
        case Code::Disconnect_NAK: return "Disconnect-NAK";
        case Code::CoA_Request: return "CoA-Request";
        case Code::CoA_ACK: return "CoA-ACK";
        case Code::CoA_NAK: return "CoA-NAK";
    }
    return "Unknown";
}

bool is_known_code(std::uint8_t c) noexcept {
    return (c >= 1 && c <= 5) || (c >= 11 && c <= 13) || (c >= 40 && c <= 45);
}

bool is_response(Code c) noexcept {
    switch (c) {
        case Code::Access_Accept: case Code::Access_Reject: case Code::Accounting_Response:
        case Code::Access_Challenge: case Code::Disconnect_ACK: case Code::Disconnect_NAK:
        case Code::CoA_ACK: case Code::CoA_NAK:
            return true;
        default:
            return false;
    }
}

const Tins::PDU::PDUType Radius::pdu_flag;  // ODR definition of the in-class constant

Radius::Radius(Code code, std::uint8_t identifier) : code_(code), identifier_(identifier) {}

Radius::Radius(const std::uint8_t* data, std::uint32_t size) {
    if (data == nullptr || size < kHeaderSize)
        throw ParseError(Protocol::radius, "header",
                         "need 20 octets, have " + std::to_string(size), "RFC 2865 §3", 0);
    if (!is_known_code(data[0]))
        throw ParseError(Protocol::radius, "header.code",
                         "unknown Code " + std::to_string(data[0]), "RFC 2865 §3", 0);
    const std::size_t len = be16(data + 2);
    if (len < kHeaderSize || len > kMaxLength)
        throw ParseError(Protocol::radius, "header.length",
                         "Length " + std::to_string(len) + " outside 20..4096", "RFC 2865 §3", 2);
    if (len > size)
        throw ParseError(Protocol::radius, "header.length",
                         "Length " + std::to_string(len) + " exceeds the " + std::to_string(size) +
                             " octets received",
                         "RFC 2865 §3", 2);
    code_ = static_cast<Code>(data[0]);
    identifier_ = data[1];
    std::memcpy(authenticator_.data(), data + 4, 16);

    attributes_.reserve((len - kHeaderSize) / 6 + 1);
    std::size_t off = kHeaderSize;
    for (std::size_t i = 0; off < len; ++i) {
        if (len - off < 2)
            throw ParseError(Protocol::radius, attr_field(i), "truncated attribute header",
                             "RFC 2865 §5", off);
        const std::uint8_t type = data[off];
        const std::size_t alen = data[off + 1];
        if (alen < 2)
            throw ParseError(Protocol::radius, attr_field(i) + ".length",
                             "Length " + std::to_string(alen) + " < 2", "RFC 2865 §5", off + 1);
        if (alen > len - off)
            throw ParseError(Protocol::radius, attr_field(i) + ".length",
                             "Length " + std::to_string(alen) + " exceeds the " +
                                 std::to_string(len - off) + " octets left",
                             "RFC 2865 §5", off + 1);
        const std::uint8_t* v = data + off + 2;
        if (type == 26) {
            if (alen < 7)
                throw ParseError(Protocol::radius, attr_field(i) + " Vendor-Specific",
                                 "Length " + std::to_string(alen) + " < 7", "RFC 2865 §5.26",
                                 off + 1);
            const std::uint32_t vendor = be32(v);
            const std::uint8_t* sub = v + 4;
            std::size_t n = alen - kVsaHeader;
            if (vendor != 0 && vsa_is_1_1(sub, n)) {
                bool first = true;
                while (n) {
                    Attribute& a = attributes_.emplace_back(
                        vendor, sub[0], std::span<const std::uint8_t>(sub + 2, sub[1] - 2u));
                    a.continues_vsa(!first);
                    first = false;
                    n -= sub[1];
                    sub += sub[1];
                }
            } else {
                attributes_.emplace_back(type, std::span<const std::uint8_t>(v, alen - 2));
            }
        } else {
            attributes_.emplace_back(type, std::span<const std::uint8_t>(v, alen - 2));
        }
        off += alen;
    }
}

Attribute& Radius::add(const Attribute& a) { return attributes_.emplace_back(a); }

std::size_t Radius::remove(std::uint8_t type) {
    return std::erase_if(attributes_,
                         [&](const Attribute& a) { return !a.is_vsa() && a.type() == type; });
}

const Attribute* Radius::find_by(std::uint32_t vendor, std::uint8_t number,
                                 const AttributeFormat& f,
                                 std::optional<std::uint8_t> tag) const noexcept {
    for (const Attribute& a : attributes_) {
        const bool hit = vendor == 0 ? (!a.is_vsa() && a.type() == number)
                                     : (a.vendor() == vendor && a.vendor_type() == number);
        if (hit && (!tag || a.tag(f) == *tag)) return &a;
    }
    return nullptr;
}

const Attribute* Radius::find(AttributeType type, std::optional<std::uint8_t> tag) const noexcept {
    return find(static_cast<std::uint8_t>(type), tag);
}

const Attribute* Radius::find(std::uint8_t type, std::optional<std::uint8_t> tag) const noexcept {
    return find_by(0, type, builtin_format(0, type), tag);
}

const Attribute* Radius::find_vendor(std::uint32_t vendor, std::uint8_t vendor_type,
                                     std::optional<std::uint8_t> tag) const noexcept {
    if (vendor == 0) return nullptr;
    return find_by(vendor, vendor_type, builtin_format(vendor, vendor_type), tag);
}

std::vector<const Attribute*> Radius::find_all(std::uint8_t type) const {
    std::vector<const Attribute*> out;
    for (const Attribute& a : attributes_)
        if (!a.is_vsa() && a.type() == type) out.push_back(&a);
    return out;
}

std::optional<std::string> Radius::get_string(AttributeType t, std::optional<std::uint8_t> tag) const {
    const auto n = static_cast<std::uint8_t>(t);
    const AttributeFormat f = builtin_format(0, n);
    const Attribute* a = find_by(0, n, f, tag);
    if (!a) return std::nullopt;
    return a->as_string(f);
}

std::optional<std::uint32_t> Radius::get_integer(AttributeType t,
                                                 std::optional<std::uint8_t> tag) const {
    const auto n = static_cast<std::uint8_t>(t);
    const AttributeFormat f = builtin_format(0, n);
    const Attribute* a = find_by(0, n, f, tag);
    return a ? a->as_integer(f) : std::nullopt;
}

std::optional<std::array<std::uint8_t, 4>> Radius::get_ipaddr(AttributeType t) const {
    const Attribute* a = find(t);
    return a ? a->as_ipaddr() : std::nullopt;
}

std::optional<std::vector<std::uint8_t>> Radius::get_octets(AttributeType t) const {
    const Attribute* a = find(t);
    if (!a) return std::nullopt;
    return std::vector<std::uint8_t>(a->value().begin(), a->value().end());
}

std::optional<std::string> Radius::get_string(ErxAttribute t) const {
    const auto n = static_cast<std::uint8_t>(t);
    const AttributeFormat f = builtin_format(kVendorErx, n);
    const Attribute* a = find_by(kVendorErx, n, f, std::nullopt);
    if (!a) return std::nullopt;
    return a->as_string(f);
}

std::optional<std::uint32_t> Radius::get_integer(ErxAttribute t) const {
    const auto n = static_cast<std::uint8_t>(t);
    const AttributeFormat f = builtin_format(kVendorErx, n);
    const Attribute* a = find_by(kVendorErx, n, f, std::nullopt);
    return a ? a->as_integer(f) : std::nullopt;
}

Attribute& Radius::add_string(AttributeType t, std::string_view v, std::uint8_t tag) {
    const auto n = static_cast<std::uint8_t>(t);
    const AttributeFormat f = builtin_format(0, n);
    return add(Attribute::string(n, v, f.has_tag ? tag : 0, f.has_tag));
}

Attribute& Radius::add_integer(AttributeType t, std::uint32_t v, std::uint8_t tag) {
    const auto n = static_cast<std::uint8_t>(t);
    const AttributeFormat f = builtin_format(0, n);
    return add(Attribute::integer(n, v, f.has_tag ? tag : 0, f.has_tag));
}

Attribute& Radius::add_ipaddr(AttributeType t, std::array<std::uint8_t, 4> a) {
    return add(Attribute::ipaddr(static_cast<std::uint8_t>(t), a));
}

Attribute& Radius::add_octets(AttributeType t, std::span<const std::uint8_t> v) {
    return add(Attribute(static_cast<std::uint8_t>(t), v));
}

Attribute& Radius::add_string(ErxAttribute t, std::string_view v) {
    return add(Attribute::vendor_string(kVendorErx, static_cast<std::uint8_t>(t), v));
}

Attribute& Radius::add_integer(ErxAttribute t, std::uint32_t v) {
    return add(Attribute::vendor_integer(kVendorErx, static_cast<std::uint8_t>(t), v));
}

// --- by dictionary name ------------------------------------------------------------------------

namespace {
const AttributeDef& need(const Dictionary& d, std::string_view name) {
    const AttributeDef* def = d.attribute(name);
    if (!def) throw std::out_of_range("RADIUS dictionary: no attribute named '" + std::string(name) + "'");
    return *def;
}
}  // namespace

const Attribute* Radius::find(const Dictionary& d, std::string_view name,
                              std::optional<std::uint8_t> tag) const {
    const AttributeDef& def = need(d, name);
    if (def.number > 255) return nullptr;
    if (def.vendor == 0 && def.number == 26) return nullptr;
    return find_by(def.vendor, static_cast<std::uint8_t>(def.number), def.format, tag);
}

std::optional<std::string> Radius::get_string(const Dictionary& d, std::string_view name,
                                              std::optional<std::uint8_t> tag) const {
    const Attribute* a = find(d, name, tag);
    if (!a) return std::nullopt;
    return a->as_string(d.attribute(name)->format);
}

std::optional<std::uint32_t> Radius::get_integer(const Dictionary& d, std::string_view name,
                                                 std::optional<std::uint8_t> tag) const {
    const Attribute* a = find(d, name, tag);
    if (!a) return std::nullopt;
    const AttributeDef& def = *d.attribute(name);
    auto v = a->value();
    switch (def.format.type) {
        case ValueType::byte:
            if (v.size() == 1) return v[0];
            return std::nullopt;
        case ValueType::short_:
            if (v.size() == 2) return be16(v.data());
            return std::nullopt;
        default:
            return a->as_integer(def.format);
    }
}

std::optional<std::array<std::uint8_t, 4>> Radius::get_ipaddr(const Dictionary& d,
                                                              std::string_view name,
                                                              std::optional<std::uint8_t> tag) const {
    const Attribute* a = find(d, name, tag);
    if (!a) return std::nullopt;
    return a->as_ipaddr();
}

namespace {
std::uint64_t parse_number(std::string_view s) {
    int base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2), base = 16;
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty())
        throw std::invalid_argument("not a number: '" + std::string(s) + "'");
    return v;
}
std::vector<std::uint8_t> parse_octets(std::string_view s) {
    if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s.remove_prefix(2);
        if (s.size() % 2) throw std::invalid_argument("odd number of hex digits");
        std::vector<std::uint8_t> out(s.size() / 2);
        for (std::size_t i = 0; i < out.size(); ++i) {
            auto [p, ec] = std::from_chars(s.data() + 2 * i, s.data() + 2 * i + 2, out[i], 16);
            if (ec != std::errc() || p != s.data() + 2 * i + 2)
                throw std::invalid_argument("bad hex digit");
        }
        return out;
    }
    return {s.begin(), s.end()};
}
}  // namespace

Attribute& Radius::add(const Dictionary& d, std::string_view name, std::string_view text,
                       std::uint8_t tag) {
    const AttributeDef& def = need(d, name);
    if (def.number > 255 || (def.vendor == 0 && def.number == 26))
        throw std::invalid_argument("RADIUS attribute '" + def.name + "' cannot be encoded here");
    const auto num = static_cast<std::uint8_t>(def.number);
    const AttributeFormat& f = def.format;
    const std::uint8_t t = f.has_tag ? tag : 0;
    auto make = [&](std::span<const std::uint8_t> raw) {
        return def.vendor ? Attribute(def.vendor, num, raw) : Attribute(num, raw);
    };
    switch (f.type) {
        case ValueType::string:
            return add(def.vendor ? Attribute::vendor_string(def.vendor, num, text, t, f.has_tag)
                                  : Attribute::string(num, text, t, f.has_tag));
        case ValueType::integer:
        case ValueType::date:
        case ValueType::byte:
        case ValueType::short_: {
            std::uint64_t v;
            if (auto named = d.value(def.name, text)) v = *named;
            else v = parse_number(text);
            if (f.type == ValueType::byte) {
                if (v > 0xFF) throw std::invalid_argument("byte value out of range");
                std::uint8_t b = static_cast<std::uint8_t>(v);
                return add(make(std::span<const std::uint8_t>(&b, 1)));
            }
            if (f.type == ValueType::short_) {
                if (v > 0xFFFF) throw std::invalid_argument("short value out of range");
                std::uint8_t b[2] = {static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
                return add(make(b));
            }
            if (v > 0xFFFFFFFFu) throw std::invalid_argument("integer value out of range");
            const auto v32 = static_cast<std::uint32_t>(v);
            return add(def.vendor ? Attribute::vendor_integer(def.vendor, num, v32, t, f.has_tag)
                                  : Attribute::integer(num, v32, t, f.has_tag));
        }
        case ValueType::ipaddr: {
            std::array<std::uint8_t, 4> a{};
            const std::string s(text);
            if (inet_pton(AF_INET, s.c_str(), a.data()) != 1)
                throw std::invalid_argument("not an IPv4 address: '" + s + "'");
            return add(make(a));
        }
        default: {
            auto raw = parse_octets(text);
            return add(make(raw));
        }
    }
}

// --- serialisation -------------------------------------------------------------------------------

std::uint32_t Radius::header_size() const {
    SizeSink s;
    walk(attributes_, s);
    return static_cast<std::uint32_t>(kHeaderSize + s.total);
}

void Radius::write_serialization(std::uint8_t* buffer, std::uint32_t total_sz) {
    serialize_to(buffer, total_sz);
}

void Radius::serialize_to(std::uint8_t* buffer, std::size_t total_sz) const {
    const std::uint32_t len = header_size();
    if (len > kMaxLength)
        throw dl::proto::ValidationError(Protocol::radius, std::string(to_string(code_)), "Length",
                                         std::to_string(len) + " octets exceed 4096",
                                         "RFC 2865 §3");
    if (total_sz < len) throw std::length_error("RADIUS: serialisation buffer too small");
    buffer[0] = static_cast<std::uint8_t>(code_);
    buffer[1] = identifier_;
    buffer[2] = static_cast<std::uint8_t>(len >> 8);
    buffer[3] = static_cast<std::uint8_t>(len);
    std::memcpy(buffer + 4, authenticator_.data(), 16);
    WriteSink w{buffer + kHeaderSize};
    walk(attributes_, w);
}

void serialize_into(const Radius& pkt, std::vector<std::uint8_t>& out) {
    const std::uint32_t len = pkt.header_size();
    out.resize(len);
    pkt.serialize_to(out.data(), len);
}

}  // namespace dl::radius
