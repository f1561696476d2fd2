// RFC 1661 §5–§6 (LCP), RFC 1570 (LCP extensions), RFC 1332 and RFC 1877 (IPCP): the packet
// format shared by PPP control protocols, and the declarative code and option tables.
#include "dl/ppp/control.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "dl/ppp/ppp.hpp"
#include "dl/proto/errors.hpp"

namespace dl::ppp {
namespace {

using dl::proto::ParseError;
using dl::proto::Protocol;

// ---- Code tables -------------------------------------------------------------------------
constexpr std::array<CodeSpec, 13> kLcpCodes{{
    {1, "Configure-Request", CpData::options, 0, "RFC 1661 §5.1"},
    {2, "Configure-Ack", CpData::options, 0, "RFC 1661 §5.2"},
    {3, "Configure-Nak", CpData::options, 0, "RFC 1661 §5.3"},
    {4, "Configure-Reject", CpData::options, 0, "RFC 1661 §5.4"},
    {5, "Terminate-Request", CpData::opaque, 0, "RFC 1661 §5.5"},
    {6, "Terminate-Ack", CpData::opaque, 0, "RFC 1661 §5.5"},
    {7, "Code-Reject", CpData::rejected_packet, 0, "RFC 1661 §5.6"},
    {8, "Protocol-Reject", CpData::protocol_reject, 2, "RFC 1661 §5.7"},
    {9, "Echo-Request", CpData::magic_data, 4, "RFC 1661 §5.8"},
    {10, "Echo-Reply", CpData::magic_data, 4, "RFC 1661 §5.8"},
    {11, "Discard-Request", CpData::magic_data, 4, "RFC 1661 §5.9"},
    {12, "Identification", CpData::magic_data, 4, "RFC 1570 §1.1"},
    {13, "Time-Remaining", CpData::time_remaining, 8, "RFC 1570 §1.2"},
}};

constexpr std::array<CodeSpec, 7> kIpcpCodes{{
    {1, "Configure-Request", CpData::options, 0, "RFC 1332 §2, RFC 1661 §5.1"},
    {2, "Configure-Ack", CpData::options, 0, "RFC 1332 §2, RFC 1661 §5.2"},
    {3, "Configure-Nak", CpData::options, 0, "RFC 1332 §2, RFC 1661 §5.3"},
    {4, "Configure-Reject", CpData::options, 0, "RFC 1332 §2, RFC 1661 §5.4"},
    {5, "Terminate-Request", CpData::opaque, 0, "RFC 1332 §2, RFC 1661 §5.5"},
    {6, "Terminate-Ack", CpData::opaque, 0, "RFC 1332 §2, RFC 1661 §5.5"},
    {7, "Code-Reject", CpData::rejected_packet, 0, "RFC 1332 §2, RFC 1661 §5.6"},
}};

// ---- Option tables (Length is the whole option: Type + Length + value) ---------------------
constexpr std::array<OptionSpec, 10> kLcpOptions{{
    {lcp_opt::mru, "Maximum-Receive-Unit", 4, 4, OptValue::u16, "RFC 1661 §6.1"},
    {lcp_opt::accm, "Async-Control-Character-Map", 6, 6, OptValue::u32, "RFC 1662 §7.1"},
    {lcp_opt::auth_protocol, "Authentication-Protocol", 4, 255, OptValue::protocol_data,
     "RFC 1661 §6.2"},
    {lcp_opt::quality_protocol, "Quality-Protocol", 4, 255, OptValue::protocol_data,
     "RFC 1661 §6.3"},
    {lcp_opt::magic_number, "Magic-Number", 6, 6, OptValue::u32, "RFC 1661 §6.4"},
    {lcp_opt::pfc, "Protocol-Field-Compression", 2, 2, OptValue::none, "RFC 1661 §6.5"},
    {lcp_opt::acfc, "Address-and-Control-Field-Compression", 2, 2, OptValue::none,
     "RFC 1661 §6.6"},
    {lcp_opt::fcs_alternatives, "FCS-Alternatives", 3, 3, OptValue::u8, "RFC 1570 §2.1"},
    {lcp_opt::self_describing_padding, "Self-Describing-Padding", 3, 3, OptValue::u8,
     "RFC 1570 §2.2"},
    {lcp_opt::callback, "Callback", 3, 255, OptValue::bytes, "RFC 1570 §2.3"},
}};

constexpr std::array<OptionSpec, 7> kIpcpOptions{{
    {ipcp_opt::ip_addresses, "IP-Addresses", 10, 10, OptValue::ipv4_pair, "RFC 1332 §3.1"},
    {ipcp_opt::ip_compression_protocol, "IP-Compression-Protocol", 4, 255,
     OptValue::protocol_data, "RFC 1332 §3.2"},
    {ipcp_opt::ip_address, "IP-Address", 6, 6, OptValue::ipv4, "RFC 1332 §3.3"},
    {ipcp_opt::primary_nbns, "Primary-NBNS-Server-Address", 6, 6, OptValue::ipv4, "RFC 1877 §1.2"},
    {ipcp_opt::primary_dns, "Primary-DNS-Server-Address", 6, 6, OptValue::ipv4, "RFC 1877 §1.1"},
    {ipcp_opt::secondary_nbns, "Secondary-NBNS-Server-Address", 6, 6, OptValue::ipv4,
     "RFC 1877 §1.4"},
    {ipcp_opt::secondary_dns, "Secondary-DNS-Server-Address", 6, 6, OptValue::ipv4,
     "RFC 1877 §1.3"},
}};

std::string_view proto_name(ControlProtocol p) { return p == ControlProtocol::lcp ? "lcp" : "ipcp"; }

std::uint32_t be(const std::uint8_t* p, int width) {
    std::uint32_t v = 0;
    for (int i = 0; i < width; ++i) v = (v << 8) | p[i];
    return v;
}

void put_be(std::uint8_t* p, std::uint32_t v, int width) {
    for (int i = width - 1; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v & 0xff);
}

}  // namespace

std::span<const CodeSpec> code_table(ControlProtocol p) noexcept {
    if (p == ControlProtocol::lcp) return kLcpCodes;
    return kIpcpCodes;
}

std::span<const OptionSpec> option_table(ControlProtocol p) noexcept {
    if (p == ControlProtocol::lcp) return kLcpOptions;
    return kIpcpOptions;
}

const CodeSpec* find_code(ControlProtocol p, std::uint8_t code) noexcept {
    for (const auto& c : code_table(p))
        if (c.code == code) return &c;
    return nullptr;
}

const OptionSpec* find_option_spec(ControlProtocol p, std::uint8_t type) noexcept {
    for (const auto& o : option_table(p))
        if (o.type == type) return &o;
    return nullptr;
}

// ---- ControlPacket -----------------------------------------------------------------------

ControlPacket::ControlPacket(ControlProtocol p, std::uint8_t code, std::uint8_t identifier)
    : proto_(p), code_(code), identifier_(identifier) {
    if (const CodeSpec* cs = find_code(p, code); cs && cs->data != CpData::options)
        data_.assign(cs->min_data, 0);
}

ControlPacket::ControlPacket(ControlProtocol p, const std::uint8_t* data, std::uint32_t size)
    : proto_(p) {
    const std::string_view pn = proto_name(p);
    if (data == nullptr || size < 4) {
        throw ParseError(Protocol::ppp, fmt::format("{}.header", pn),
                         fmt::format("{} octets, the header needs 4", size), "RFC 1661 §5", 0);
    }
    code_ = data[0];
    identifier_ = data[1];
    const std::size_t len = be(data + 2, 2);
    if (len < 4) {
        throw ParseError(Protocol::ppp, fmt::format("{}.length", pn),
                         fmt::format("Length {} is below the 4-octet header", len), "RFC 1661 §5",
                         2);
    }
    if (len > size) {
        throw ParseError(Protocol::ppp, fmt::format("{}.length", pn),
                         fmt::format("Length {} exceeds the {} octets received", len, size),
                         "RFC 1661 §5", 2);
    }
    // Octets beyond Length are padding and are ignored (RFC 1661 §5).
    const std::uint8_t* d = data + 4;
    const std::size_t n = len - 4;
    const CodeSpec* cs = find_code(p, code_);
    if (cs && n < cs->min_data) {
        throw ParseError(Protocol::ppp, fmt::format("{}.data", pn),
                         fmt::format("{} needs at least {} Data octets, got {}", cs->name,
                                     cs->min_data, n),
                         std::string(cs->source), 4);
    }
    if (!cs || cs->data != CpData::options) {
        data_.assign(d, d + n);
        return;
    }
    // One allocation for the option list: count the options the Length octets delimit (a walk
    // that stops at the first malformed one; the loop below reports it).
    std::size_t count = 0;
    for (std::size_t o = 0; n - o >= 2 && d[o + 1] >= 2 && d[o + 1] <= n - o; o += d[o + 1]) ++count;
    options_.reserve(count);
    std::size_t off = 0;
    for (std::size_t i = 0; off < n; ++i) {
        const std::size_t at = 4 + off;
        if (n - off < 2) {
            throw ParseError(Protocol::ppp, fmt::format("{}.option[{}]", pn, i),
                             "fewer than 2 octets left for Type and Length", "RFC 1661 §6", at);
        }
        const std::uint8_t type = d[off];
        const std::size_t olen = d[off + 1];
        const OptionSpec* os = find_option_spec(p, type);
        // The option's name for an error only (formatting it for every option of every packet
        // was ~1 000 instructions per option in lnsd's profile).
        const auto oname = [&] {
            return os ? fmt::format("{}.option[{}] {}({})", pn, i, os->name, type)
                      : fmt::format("{}.option[{}] type {}", pn, i, type);
        };
        if (olen < 2) {
            throw ParseError(Protocol::ppp, oname(), fmt::format("Length {} is below 2", olen),
                             "RFC 1661 §6", at + 1);
        }
        if (olen > n - off) {
            throw ParseError(Protocol::ppp, oname(),
                             fmt::format("Length {} exceeds the {} octets left", olen, n - off),
                             "RFC 1661 §6", at + 1);
        }
        if (os && (olen < os->min_len || olen > os->max_len)) {
            const std::string rule = os->min_len == os->max_len
                                         ? fmt::format("must be {}", os->min_len)
                                         : fmt::format("must be {}..{}", os->min_len, os->max_len);
            throw ParseError(Protocol::ppp, oname(), fmt::format("Length {} {}", olen, rule),
                             std::string(os->source), at + 1);
        }
        // RFC 1994 §3: the CHAP Authentication-Protocol option carries one Algorithm octet.
        if (p == ControlProtocol::lcp && type == lcp_opt::auth_protocol && olen >= 4 &&
            be(d + off + 2, 2) == kProtoCHAP && olen != 5) {
            throw ParseError(Protocol::ppp, oname(),
                             fmt::format("Length {} must be 5 for CHAP (with Algorithm)", olen),
                             "RFC 1994 §3", at + 1);
        }
        options_.push_back(CpOption{type, std::vector<std::uint8_t>(d + off + 2, d + off + olen)});
        off += olen;
    }
}

std::string_view ControlPacket::code_name() const noexcept {
    const CodeSpec* cs = find_code(proto_, code_);
    return cs ? cs->name : std::string_view("Unknown");
}

bool ControlPacket::known_code() const noexcept { return find_code(proto_, code_) != nullptr; }

bool ControlPacket::has_options() const noexcept {
    const CodeSpec* cs = find_code(proto_, code_);
    return cs && cs->data == CpData::options;
}

const CpOption* ControlPacket::find_option(std::uint8_t type) const noexcept {
    for (const auto& o : options_)
        if (o.type == type) return &o;
    return nullptr;
}

void ControlPacket::add_option(std::uint8_t type, std::span<const std::uint8_t> value) {
    if (value.size() > 253) throw std::length_error("PPP option value exceeds 253 octets");
    options_.push_back(CpOption{type, {value.begin(), value.end()}});
}

void ControlPacket::set_option(std::uint8_t type, std::span<const std::uint8_t> value) {
    if (value.size() > 253) throw std::length_error("PPP option value exceeds 253 octets");
    for (auto& o : options_) {
        if (o.type == type) {
            o.value.assign(value.begin(), value.end());
            return;
        }
    }
    options_.push_back(CpOption{type, {value.begin(), value.end()}});
}

std::size_t ControlPacket::remove_option(std::uint8_t type) {
    return std::erase_if(options_, [type](const CpOption& o) { return o.type == type; });
}

std::optional<std::uint32_t> ControlPacket::u32_option(std::uint8_t type) const {
    const CpOption* o = find_option(type);
    if (!o || o->value.empty() || o->value.size() > 4) return std::nullopt;
    return be(o->value.data(), static_cast<int>(o->value.size()));
}

void ControlPacket::u32_option(std::uint8_t type, std::uint32_t v, int width) {
    std::uint8_t b[4];
    put_be(b, v, width);
    set_option(type, std::span<const std::uint8_t>(b, static_cast<std::size_t>(width)));
}

namespace {
/// Octets of a control packet (RFC 1661 §5): the 4-octet header, then the options (type, length,
/// value each, §6) when the code carries options, else `data`.
std::size_t control_length(bool with_options, std::span<const CpOption> options, std::span<const std::uint8_t> data) {
    std::size_t n = 4;
    if (!with_options) return n + data.size();
    for (const auto& o : options) n += 2 + o.value.size();
    return n;
}

/// Writes the packet of control_length() = `len` octets at `b` (the caller checked the room).
void write_control(std::uint8_t* b, std::size_t len, std::uint8_t code, std::uint8_t identifier, bool with_options,
                   std::span<const CpOption> options, std::span<const std::uint8_t> data) {
    b[0] = code;
    b[1] = identifier;
    put_be(b + 2, static_cast<std::uint32_t>(len), 2);
    std::uint8_t* q = b + 4;
    if (!with_options) {
        if (!data.empty()) std::memcpy(q, data.data(), data.size());
        return;
    }
    for (const auto& o : options) {
        q[0] = o.type;
        q[1] = static_cast<std::uint8_t>(2 + o.value.size());
        if (!o.value.empty()) std::memcpy(q + 2, o.value.data(), o.value.size());
        q += 2 + o.value.size();
    }
}
}  // namespace

std::uint32_t ControlPacket::header_size() const {
    return static_cast<std::uint32_t>(control_length(has_options(), options_, data_));
}

void ControlPacket::write_serialization(std::uint8_t* buffer, std::uint32_t total_sz) {
    const std::uint32_t len = header_size();
    if (total_sz < len || len > 0xffff) throw std::length_error("PPP control packet too long");
    write_control(buffer, len, code_, identifier_, has_options(), options_, data_);
}

void serialize_control(ControlProtocol p, std::uint8_t code, std::uint8_t identifier,
                       std::span<const CpOption> options, std::span<const std::uint8_t> data,
                       std::vector<std::uint8_t>& out) {
    const CodeSpec* cs = find_code(p, code);
    const bool with_options = cs && cs->data == CpData::options;
    const std::size_t len = control_length(with_options, options, data);
    if (len > 0xffff) throw std::length_error("PPP control packet too long");
    const std::size_t at = out.size();
    out.resize(at + len);
    write_control(out.data() + at, len, code, identifier, with_options, options, data);
}

// ---- LCP -----------------------------------------------------------------------------------

LCP::LCP(CpCode code, std::uint8_t identifier)
    : ControlPacket(ControlProtocol::lcp, static_cast<std::uint8_t>(code), identifier) {}

LCP::LCP(const std::uint8_t* data, std::uint32_t size)
    : ControlPacket(ControlProtocol::lcp, data, size) {}

std::optional<std::uint16_t> LCP::mru() const {
    auto v = u32_option(lcp_opt::mru);
    if (!v) return std::nullopt;
    return static_cast<std::uint16_t>(*v);
}
void LCP::mru(std::uint16_t v) { u32_option(lcp_opt::mru, v, 2); }
std::optional<std::uint32_t> LCP::accm() const { return u32_option(lcp_opt::accm); }
void LCP::accm(std::uint32_t v) { u32_option(lcp_opt::accm, v, 4); }

namespace {
std::optional<AuthProtocol> protocol_data_option(const CpOption* o) {
    if (!o || o->value.size() < 2) return std::nullopt;
    return AuthProtocol{static_cast<std::uint16_t>(be(o->value.data(), 2)),
                        {o->value.begin() + 2, o->value.end()}};
}
}  // namespace

std::optional<AuthProtocol> LCP::auth_protocol() const {
    return protocol_data_option(find_option(lcp_opt::auth_protocol));
}

void LCP::auth_protocol(std::uint16_t protocol, std::span<const std::uint8_t> data) {
    std::vector<std::uint8_t> v(2);
    put_be(v.data(), protocol, 2);
    v.insert(v.end(), data.begin(), data.end());
    set_option(lcp_opt::auth_protocol, v);
}

void LCP::auth_chap_md5() {
    const std::uint8_t alg = kChapMd5;
    auth_protocol(kProtoCHAP, std::span<const std::uint8_t>(&alg, 1));
}

std::optional<AuthProtocol> LCP::quality_protocol() const {
    return protocol_data_option(find_option(lcp_opt::quality_protocol));
}

void LCP::pfc(bool on) {
    if (on) set_option(lcp_opt::pfc); else remove_option(lcp_opt::pfc);
}
void LCP::acfc(bool on) {
    if (on) set_option(lcp_opt::acfc); else remove_option(lcp_opt::acfc);
}

namespace {
/// Offset of the data after the fixed fields of an LCP code 9–13, or 0 if not such a code.
std::size_t fixed_len(std::uint8_t code) {
    if (code >= 9 && code <= 12) return 4;
    if (code == 13) return 8;
    return 0;
}
}  // namespace

std::optional<std::uint32_t> LCP::magic_number() const {
    if (has_options()) return u32_option(lcp_opt::magic_number);
    if (fixed_len(code()) == 0 || data().size() < 4) return std::nullopt;
    return be(data().data(), 4);
}

void LCP::magic_number(std::uint32_t v) {
    if (has_options()) return u32_option(lcp_opt::magic_number, v, 4);
    const std::size_t fl = fixed_len(code());
    if (fl == 0) throw std::logic_error("LCP code has no Magic-Number");
    auto d = data();
    if (d.size() < fl) d.resize(fl, 0);
    put_be(d.data(), v, 4);
    data(std::move(d));
}

std::span<const std::uint8_t> LCP::echo_data() const noexcept {
    const std::size_t fl = fixed_len(code());
    if (fl == 0 || data().size() < fl) return {};
    return std::span<const std::uint8_t>(data()).subspan(fl);
}

void LCP::echo_data(std::span<const std::uint8_t> v) {
    const std::size_t fl = fixed_len(code());
    if (fl == 0) throw std::logic_error("LCP code has no Magic-Number + data layout");
    auto d = data();
    d.resize(fl, 0);
    d.insert(d.end(), v.begin(), v.end());
    data(std::move(d));
}

std::optional<std::uint32_t> LCP::seconds_remaining() const {
    if (code() != 13 || data().size() < 8) return std::nullopt;
    return be(data().data() + 4, 4);
}

void LCP::seconds_remaining(std::uint32_t s) {
    if (code() != 13) throw std::logic_error("Seconds-Remaining is only in Time-Remaining");
    auto d = data();
    if (d.size() < 8) d.resize(8, 0);
    put_be(d.data() + 4, s, 4);
    data(std::move(d));
}

std::optional<std::uint16_t> LCP::rejected_protocol() const {
    if (code() != 8 || data().size() < 2) return std::nullopt;
    return static_cast<std::uint16_t>(be(data().data(), 2));
}

std::span<const std::uint8_t> LCP::rejected_information() const noexcept {
    if (code() != 8 || data().size() < 2) return {};
    return std::span<const std::uint8_t>(data()).subspan(2);
}

void LCP::protocol_reject(std::uint16_t protocol, std::span<const std::uint8_t> information) {
    code(static_cast<std::uint8_t>(CpCode::protocol_reject));
    std::vector<std::uint8_t> d(2);
    put_be(d.data(), protocol, 2);
    d.insert(d.end(), information.begin(), information.end());
    data(std::move(d));
}

// ---- IPCP ----------------------------------------------------------------------------------

IPCP::IPCP(CpCode code, std::uint8_t identifier)
    : ControlPacket(ControlProtocol::ipcp, static_cast<std::uint8_t>(code), identifier) {}

IPCP::IPCP(const std::uint8_t* data, std::uint32_t size)
    : ControlPacket(ControlProtocol::ipcp, data, size) {}

std::optional<std::uint32_t> IPCP::ip_address() const { return u32_option(ipcp_opt::ip_address); }
void IPCP::ip_address(std::uint32_t a) { u32_option(ipcp_opt::ip_address, a, 4); }
std::optional<std::uint32_t> IPCP::primary_dns() const { return u32_option(ipcp_opt::primary_dns); }
void IPCP::primary_dns(std::uint32_t a) { u32_option(ipcp_opt::primary_dns, a, 4); }
std::optional<std::uint32_t> IPCP::secondary_dns() const {
    return u32_option(ipcp_opt::secondary_dns);
}
void IPCP::secondary_dns(std::uint32_t a) { u32_option(ipcp_opt::secondary_dns, a, 4); }
std::optional<std::uint32_t> IPCP::primary_nbns() const {
    return u32_option(ipcp_opt::primary_nbns);
}
void IPCP::primary_nbns(std::uint32_t a) { u32_option(ipcp_opt::primary_nbns, a, 4); }
std::optional<std::uint32_t> IPCP::secondary_nbns() const {
    return u32_option(ipcp_opt::secondary_nbns);
}
void IPCP::secondary_nbns(std::uint32_t a) { u32_option(ipcp_opt::secondary_nbns, a, 4); }

std::optional<AuthProtocol> IPCP::ip_compression_protocol() const {
    return protocol_data_option(find_option(ipcp_opt::ip_compression_protocol));
}

std::optional<std::pair<std::uint32_t, std::uint32_t>> IPCP::ip_addresses() const {
    const CpOption* o = find_option(ipcp_opt::ip_addresses);
    if (!o || o->value.size() != 8) return std::nullopt;
    return std::make_pair(be(o->value.data(), 4), be(o->value.data() + 4, 4));
}

}  // namespace dl::ppp
