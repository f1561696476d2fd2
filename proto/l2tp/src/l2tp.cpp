// L2TPv2 header and AVP framing (RFC 2661 §3.1, §4.1), AVP storage, hiding (§4.3) and libtins glue.
#include "dl/l2tp/l2tp.hpp"

#include <tins/rawpdu.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "dl/l2tp/hidden.hpp"
#include "dl/l2tp/registry.hpp"
#include "dl/proto/crypto.hpp"
#include "dl/proto/errors.hpp"

namespace dl::l2tp {

using dl::proto::ParseError;
using dl::proto::Protocol;

namespace {

constexpr const char* kNoSecret = "no secret given";
constexpr const char* kNoRandomVector = "no preceding Random Vector AVP";
constexpr const char* kBadOriginalLength = "bad original length (wrong secret or Random Vector?)";

inline std::uint16_t rd16(const std::uint8_t* p) noexcept {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline void wr16(std::uint8_t* p, std::uint16_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}

[[noreturn]] void fail(std::string field, std::string reason, const char* section, std::size_t offset) {
    throw ParseError(Protocol::l2tp, std::move(field), std::move(reason), section, offset);
}

}  // namespace

std::string_view to_string(HiddenState s) noexcept {
    switch (s) {
        case HiddenState::not_hidden: return "not_hidden";
        case HiddenState::decoded: return "decoded";
        case HiddenState::undecodable: return "undecodable";
        case HiddenState::pending: return "pending";
    }
    return "unknown";
}

bool Avp::recognized() const noexcept {
    return vendor_ == 0 && (flags_ & kReserved) == 0 && avp_info(type_) != nullptr;
}

// ---------------------------------------------------------------- construction

const Tins::PDU::PDUType L2TP::pdu_flag;

L2TP::L2TP() = default;

L2TP L2TP::data_message(std::uint16_t tunnel_id, std::uint16_t session_id) {
    L2TP m;
    m.flags_ = 0;
    m.tunnel_id_ = tunnel_id;
    m.session_id_ = session_id;
    return m;
}

L2TP::L2TP(const L2TP& other)
    : Tins::PDU(other),
      flags_(other.flags_), ver_(other.ver_), length_(other.length_), tunnel_id_(other.tunnel_id_),
      session_id_(other.session_id_), ns_(other.ns_), nr_(other.nr_), trailing_(other.trailing_),
      offset_pad_(other.offset_pad_), arena_(other.arena_), avps_(other.avps_), secret_(other.secret_),
      hiding_set_(other.hiding_set_), hide_options_(other.hide_options_) {
    rebase();
}

L2TP& L2TP::operator=(const L2TP& other) {
    if (this == &other) return *this;
    inner_pdu(nullptr);  // release our inner PDU before Tins::PDU copies the other's
    Tins::PDU::operator=(other);
    flags_ = other.flags_;
    ver_ = other.ver_;
    length_ = other.length_;
    tunnel_id_ = other.tunnel_id_;
    session_id_ = other.session_id_;
    ns_ = other.ns_;
    nr_ = other.nr_;
    trailing_ = other.trailing_;
    offset_pad_ = other.offset_pad_;
    arena_ = other.arena_;
    avps_ = other.avps_;
    secret_ = other.secret_;
    hiding_set_ = other.hiding_set_;
    hide_options_ = other.hide_options_;
    rebase();
    return *this;
}

L2TP::L2TP(L2TP&& other) noexcept
    : Tins::PDU(std::move(other)),
      flags_(other.flags_), ver_(other.ver_), length_(other.length_), tunnel_id_(other.tunnel_id_),
      session_id_(other.session_id_), ns_(other.ns_), nr_(other.nr_), trailing_(other.trailing_),
      offset_pad_(std::move(other.offset_pad_)), arena_(std::move(other.arena_)), avps_(std::move(other.avps_)),
      secret_(std::move(other.secret_)), hiding_set_(other.hiding_set_),
      hide_options_(std::move(other.hide_options_)) {
    rebase();
}

L2TP& L2TP::operator=(L2TP&& other) noexcept {
    if (this == &other) return *this;
    inner_pdu(nullptr);  // Tins::PDU's move assignment would leak our old inner PDU
    Tins::PDU::operator=(std::move(other));
    flags_ = other.flags_;
    ver_ = other.ver_;
    length_ = other.length_;
    tunnel_id_ = other.tunnel_id_;
    session_id_ = other.session_id_;
    ns_ = other.ns_;
    nr_ = other.nr_;
    trailing_ = other.trailing_;
    offset_pad_ = std::move(other.offset_pad_);
    arena_ = std::move(other.arena_);
    avps_ = std::move(other.avps_);
    secret_ = std::move(other.secret_);
    hiding_set_ = other.hiding_set_;
    hide_options_ = std::move(other.hide_options_);
    rebase();
    return *this;
}

L2TP::~L2TP() = default;

void L2TP::rebase() noexcept {
    const std::uint8_t* base = arena_.data();
    for (auto& a : avps_) a.base_ = base;
}

// ---------------------------------------------------------------- parsing (§3.1, §4.1)

L2TP::L2TP(const std::uint8_t* data, std::uint32_t size) {
    constexpr const char* kHdr = "RFC 2661 §3.1";
    if (data == nullptr || size < 6) {
        fail("header", "datagram of " + std::to_string(size) + " octets is shorter than the 6-octet minimum header",
             kHdr, 0);
    }
    flags_ = data[0];
    ver_ = data[1];
    const unsigned ver = ver_ & 0x0F;
    if (ver != 2) {
        std::string why = ver == 1   ? "Ver 1 is L2F (RFC 2341), not L2TP"
                          : ver == 3 ? "Ver 3 is L2TPv3 (RFC 3931), not L2TPv2"
                                     : "unknown Ver " + std::to_string(ver);
        fail("header.ver", why + ": packet MUST be discarded", kHdr, 1);
    }
    if (is_control()) {
        if (!has_length()) fail("header.flags", "control message without the L bit", kHdr, 0);
        if (!has_sequence()) fail("header.flags", "control message without the S bit", kHdr, 0);
        if (has_offset()) fail("header.flags", "control message with the O bit set", kHdr, 0);
        if (priority()) fail("header.flags", "control message with the P bit set", kHdr, 0);
    }
    std::uint32_t limit = size;
    std::uint32_t pos = 2;
    auto need = [&](std::uint32_t n, const char* field) {
        if (limit - pos < n) {
            fail(field,
                 "needs " + std::to_string(n) + " octets at offset " + std::to_string(pos) + ", message has " +
                     std::to_string(limit) + (limit == size ? " (datagram)" : " (Length field)"),
                 kHdr, pos);
        }
    };
    if (has_length()) {
        length_ = rd16(data + 2);
        pos = 4;
        if (length_ > size) {
            fail("header.length",
                 "Length " + std::to_string(length_) + " exceeds the datagram of " + std::to_string(size) + " octets",
                 kHdr, 2);
        }
        limit = length_;
        if (limit < pos) fail("header.length", "Length " + std::to_string(length_) + " is shorter than the header", kHdr, 2);
    }
    need(4, "header.tunnel_id");
    tunnel_id_ = rd16(data + pos);
    session_id_ = rd16(data + pos + 2);
    pos += 4;
    if (has_sequence()) {
        need(4, "header.ns");
        ns_ = rd16(data + pos);
        nr_ = rd16(data + pos + 2);
        pos += 4;
    }
    if (has_offset()) {
        need(2, "header.offset_size");
        const std::uint16_t off = rd16(data + pos);
        pos += 2;
        need(off, "header.offset_pad");
        offset_pad_.assign(data + pos, data + pos + off);
        pos += off;
    }
    trailing_ = size - limit;
    if (is_control()) {
        parse_avps(data + pos, limit - pos, pos);
    } else if (limit > pos) {
        inner_pdu(new Tins::RawPDU(data + pos, limit - pos));
    }
}

void L2TP::parse_avps(const std::uint8_t* data, std::uint32_t size, std::uint32_t base_offset) {
    constexpr const char* kAvp = "RFC 2661 §4.1";
    if (size == 0) return;  // ZLB
    arena_.assign(data, data + size);
    avps_.reserve(std::min<std::uint32_t>(size / 6, 24));
    std::uint32_t off = 0;
    std::size_t index = 0;
    while (off < size) {
        const std::uint32_t left = size - off;
        if (left < 6) {
            fail("avp[" + std::to_string(index) + "]",
                 std::to_string(left) + " octets left, fewer than the 6-octet AVP header", kAvp, base_offset + off);
        }
        const std::uint8_t* p = data + off;
        const std::uint16_t len = static_cast<std::uint16_t>(((p[0] & 0x03) << 8) | p[1]);
        if (len < 6) {
            fail("avp[" + std::to_string(index) + "].length",
                 "Length " + std::to_string(len) + " is below the minimum of 6", kAvp, base_offset + off);
        }
        if (len > left) {
            fail("avp[" + std::to_string(index) + "].length",
                 "Length " + std::to_string(len) + " exceeds the " + std::to_string(left) + " octets remaining",
                 kAvp, base_offset + off);
        }
        Avp a;
        a.base_ = arena_.data();
        a.flags_ = static_cast<std::uint8_t>(p[0] & 0xFC);
        a.vendor_ = rd16(p + 2);
        a.type_ = rd16(p + 4);
        a.val_off_ = a.wire_off_ = off + 6;
        a.val_len_ = a.wire_len_ = static_cast<std::uint16_t>(len - 6);
        if (a.flags_ & Avp::kHidden) {
            a.state_ = HiddenState::undecodable;
            a.reason_ = kNoSecret;
        }
        avps_.push_back(a);
        off += len;
        ++index;
    }
}

// ---------------------------------------------------------------- header setters

std::uint16_t L2TP::reserved_bits() const noexcept {
    return static_cast<std::uint16_t>(((flags_ & 0x34) << 8) | (ver_ & 0xF0));
}

void L2TP::set_control(bool control) noexcept {
    if (control) {
        flags_ = static_cast<std::uint8_t>((flags_ | kFlagType | kFlagLength | kFlagSequence) &
                                           ~(kFlagOffset | kFlagPriority));
        offset_pad_.clear();
    } else {
        flags_ = static_cast<std::uint8_t>(flags_ & ~kFlagType);
    }
}

void L2TP::set_length_present(bool on) noexcept {
    flags_ = static_cast<std::uint8_t>(on ? (flags_ | kFlagLength) : (flags_ & ~kFlagLength));
}

void L2TP::set_sequence_present(bool on) noexcept {
    flags_ = static_cast<std::uint8_t>(on ? (flags_ | kFlagSequence) : (flags_ & ~kFlagSequence));
}

void L2TP::set_priority(bool on) noexcept {
    flags_ = static_cast<std::uint8_t>(on ? (flags_ | kFlagPriority) : (flags_ & ~kFlagPriority));
}

void L2TP::set_sequence(std::uint16_t ns, std::uint16_t nr) noexcept {
    set_sequence_present(true);
    ns_ = ns;
    nr_ = nr;
}

void L2TP::set_offset(std::optional<std::vector<std::uint8_t>> pad) {
    if (pad) {
        if (pad->size() > 0xFFFF) throw std::length_error("RFC 2661 §3.1: Offset Size is 16 bits");
        offset_pad_ = std::move(*pad);
        flags_ |= kFlagOffset;
    } else {
        offset_pad_.clear();
        flags_ = static_cast<std::uint8_t>(flags_ & ~kFlagOffset);
    }
}

std::span<const std::uint8_t> L2TP::payload() const noexcept {
    const auto* raw = dynamic_cast<const Tins::RawPDU*>(inner_pdu());
    if (raw == nullptr) return {};
    return raw->payload();
}

void L2TP::set_payload(std::span<const std::uint8_t> bytes) {
    inner_pdu(bytes.empty() ? nullptr : new Tins::RawPDU(bytes.data(), static_cast<std::uint32_t>(bytes.size())));
}

// ---------------------------------------------------------------- AVP storage

std::uint32_t L2TP::append_arena(std::span<const std::uint8_t> bytes) {
    const auto off = static_cast<std::uint32_t>(arena_.size());
    const std::uint8_t* old = arena_.data();
    arena_.insert(arena_.end(), bytes.begin(), bytes.end());
    if (arena_.data() != old) rebase();
    return off;
}

Avp L2TP::make_avp(std::uint16_t vendor, std::uint16_t type, std::uint8_t flags, std::span<const std::uint8_t> value) {
    if (value.size() > kMaxAvpValue) {
        throw std::length_error("RFC 2661 §4.1: AVP value of " + std::to_string(value.size()) +
                                " octets exceeds 1017");
    }
    Avp a;
    a.vendor_ = vendor;
    a.type_ = type;
    a.flags_ = static_cast<std::uint8_t>(flags & 0xFC);
    a.val_off_ = a.wire_off_ = append_arena(value);
    a.val_len_ = a.wire_len_ = static_cast<std::uint16_t>(value.size());
    a.base_ = arena_.data();
    a.state_ = (a.flags_ & Avp::kHidden) ? HiddenState::pending : HiddenState::not_hidden;
    return a;
}

void L2TP::add_avp(std::uint16_t vendor_id, std::uint16_t type, std::uint8_t flags,
                   std::span<const std::uint8_t> value) {
    avps_.push_back(make_avp(vendor_id, type, flags, value));
    if (hiding_set_ && avps_.back().state_ == HiddenState::pending) hide_avp(avps_.size() - 1);
}

const Avp* L2TP::find(AvpType type) const noexcept {
    for (const auto& a : avps_) {
        if (a.is(type) && (a.flags_ & Avp::kReserved) == 0) return &a;
    }
    return nullptr;
}

void L2TP::set_avp(AvpType type, std::span<const std::uint8_t> value) {
    const auto t = static_cast<std::uint16_t>(type);
    for (std::size_t i = 0; i < avps_.size(); ++i) {
        Avp& a = avps_[i];
        if (!a.is(type) || (a.flags_ & Avp::kReserved) != 0) continue;
        Avp repl = make_avp(0, t, a.flags_, value);  // may rebase: re-fetch below
        avps_[i] = repl;
        if (hiding_set_ && avps_[i].state_ == HiddenState::pending) hide_avp(i);
        return;
    }
    const AvpInfo* info = avp_info(t);
    const std::uint8_t flags = (info == nullptr || info->m == MRule::must_be_1) ? Avp::kMandatory : 0;
    if (type == AvpType::MessageType) {
        avps_.insert(avps_.begin(), make_avp(0, t, flags, value));
    } else {
        add_avp(0, t, flags, value);
    }
}

std::size_t L2TP::remove_avp(AvpType type) {
    const auto before = avps_.size();
    std::erase_if(avps_, [type](const Avp& a) { return a.is(type); });
    return before - avps_.size();
}

void L2TP::clear_avps() noexcept {
    avps_.clear();
    arena_.clear();
}

std::size_t L2TP::pending_hidden() const noexcept {
    return static_cast<std::size_t>(
        std::count_if(avps_.begin(), avps_.end(), [](const Avp& a) { return a.state_ == HiddenState::pending; }));
}

// ---------------------------------------------------------------- hiding (§4.3)

void L2TP::set_hidden(AvpType type, bool hidden) {
    const AvpInfo* info = avp_info(type);
    if (hidden && info != nullptr && !info->may_hide) {
        throw std::invalid_argument(std::string(info->name) + " MUST NOT be hidden (" + std::string(info->section) + ")");
    }
    for (std::size_t i = 0; i < avps_.size(); ++i) {
        Avp& a = avps_[i];
        if (!a.is(type)) continue;
        if (hidden == a.hidden()) return;
        if (hidden) {
            a.flags_ |= Avp::kHidden;
            a.state_ = HiddenState::pending;
            if (hiding_set_) hide_avp(i);
        } else {
            if (a.state_ == HiddenState::undecodable) {
                throw std::invalid_argument("cannot clear the H bit of an undecodable hidden AVP");
            }
            a.flags_ = static_cast<std::uint8_t>(a.flags_ & ~Avp::kHidden);
            a.wire_off_ = a.val_off_;
            a.wire_len_ = a.val_len_;
            a.state_ = HiddenState::not_hidden;
        }
        return;
    }
    throw std::invalid_argument("set_hidden: no " + std::string(avp_name(type)) + " AVP in the message");
}

std::size_t L2TP::insert_random_vector_before(std::size_t index, std::span<const std::uint8_t> rv) {
    Avp a = make_avp(0, static_cast<std::uint16_t>(AvpType::RandomVector), Avp::kMandatory, rv);
    avps_.insert(avps_.begin() + static_cast<std::ptrdiff_t>(index), a);
    return index + 1;
}

void L2TP::hide_avp(std::size_t index) {
    // Closest preceding Random Vector (§4.3); insert one if none.
    std::optional<std::size_t> rv_index;
    for (std::size_t j = index; j-- > 0;) {
        if (avps_[j].is(AvpType::RandomVector) && !avps_[j].hidden()) {
            rv_index = j;
            break;
        }
    }
    if (!rv_index) {
        std::vector<std::uint8_t> rv = hide_options_.random_vector;
        if (rv.empty()) rv = dl::proto::crypto::random_bytes(16);
        // Before the first hidden AVP, and never before Message Type (§4.4.1).
        std::size_t at = index;
        for (std::size_t j = 0; j < index; ++j) {
            if (avps_[j].hidden()) {
                at = j;
                break;
            }
        }
        if (at == 0 && index > 0 && avps_[0].is(AvpType::MessageType)) at = 1;
        index = (at <= index) ? insert_random_vector_before(at, rv) + (index - at) : index;
        rv_index = at;
    }
    const Avp rv_avp = avps_[*rv_index];
    const std::vector<std::uint8_t> rv(rv_avp.value().begin(), rv_avp.value().end());
    const Avp& a = avps_[index];
    const std::vector<std::uint8_t> clear(a.value().begin(), a.value().end());
    std::size_t pad_len = 0;
    if (hide_options_.pad_length) {
        pad_len = *hide_options_.pad_length;
    } else {
        std::uint8_t r = 0;
        dl::proto::crypto::random_fill({&r, 1});
        pad_len = r & 0x0F;
    }
    pad_len = std::min<std::size_t>(pad_len, kMaxAvpValue - 2 - std::min<std::size_t>(clear.size(), kMaxAvpValue - 2));
    std::vector<std::uint8_t> pad(pad_len, hide_options_.pad_byte.value_or(0));
    if (!hide_options_.pad_byte && pad_len > 0) dl::proto::crypto::random_fill(pad);
    const std::vector<std::uint8_t> hidden = hide_value(a.type_, secret_, rv, clear, pad);
    const std::uint32_t off = append_arena(hidden);
    Avp& b = avps_[index];
    b.wire_off_ = off;
    b.wire_len_ = static_cast<std::uint16_t>(hidden.size());
    b.state_ = HiddenState::decoded;
    b.reason_ = nullptr;
}

void L2TP::set_hiding(std::string secret, HideOptions options) {
    secret_ = std::move(secret);
    hide_options_ = std::move(options);
    hiding_set_ = true;
    for (std::size_t i = 0; i < avps_.size(); ++i) {
        if (avps_[i].state_ == HiddenState::pending) {
            const std::size_t n = avps_.size();
            hide_avp(i);
            i += avps_.size() - n;  // skip over an inserted Random Vector
        }
    }
}

std::size_t L2TP::unhide(std::string_view secret) {
    // Decoded values are appended to the arena: reserve once so pointers stay put.
    std::size_t extra = 0;
    for (const auto& a : avps_) {
        if (a.hidden() && a.state_ == HiddenState::undecodable) extra += a.wire_len_;
    }
    if (extra == 0) return 0;
    arena_.reserve(arena_.size() + extra);
    rebase();
    std::size_t decoded = 0;
    const Avp* rv = nullptr;
    for (auto& a : avps_) {
        if (a.is(AvpType::RandomVector) && !a.hidden()) {
            rv = &a;
            continue;
        }
        if (!a.hidden() || a.state_ != HiddenState::undecodable) continue;
        if (rv == nullptr) {
            a.reason_ = kNoRandomVector;
            continue;
        }
        const auto off = static_cast<std::uint32_t>(arena_.size());
        arena_.resize(arena_.size() + a.wire_len_);  // within reserved capacity: no reallocation
        auto len = unhide_into(a.type_, secret, rv->value(), a.wire_value(), arena_.data() + off);
        if (!len) {
            arena_.resize(off);
            a.reason_ = kBadOriginalLength;
            continue;
        }
        arena_.resize(off + 2 + *len);
        a.val_off_ = off + 2;
        a.val_len_ = static_cast<std::uint16_t>(*len);
        a.state_ = HiddenState::decoded;
        a.reason_ = nullptr;
        ++decoded;
    }
    return decoded;
}

// ---------------------------------------------------------------- serialisation

std::uint32_t L2TP::fixed_header_size() const noexcept {
    std::uint32_t n = 6;
    if (has_length()) n += 2;
    if (has_sequence()) n += 4;
    if (has_offset()) n += 2 + static_cast<std::uint32_t>(offset_pad_.size());
    return n;
}

std::uint32_t L2TP::header_size() const {
    std::uint32_t n = fixed_header_size();
    if (is_control()) {
        for (const auto& a : avps_) {
            if (a.state_ == HiddenState::pending) {
                throw std::logic_error("L2TP: hidden " + std::string(avp_name(a.type_)) +
                                       " AVP needs a secret: call set_hiding() (RFC 2661 §4.3)");
            }
            n += 6u + a.wire_len_;
        }
    }
    return n;
}

void L2TP::write_serialization(std::uint8_t* buffer, std::uint32_t total_sz) {
    std::uint8_t* p = buffer;
    *p++ = flags_;
    *p++ = ver_;
    if (has_length()) {
        wr16(p, static_cast<std::uint16_t>(std::min<std::uint32_t>(total_sz, 0xFFFF)));
        p += 2;
    }
    wr16(p, tunnel_id_);
    wr16(p + 2, session_id_);
    p += 4;
    if (has_sequence()) {
        wr16(p, ns_);
        wr16(p + 2, nr_);
        p += 4;
    }
    if (has_offset()) {
        wr16(p, static_cast<std::uint16_t>(offset_pad_.size()));
        p += 2;
        p = std::copy(offset_pad_.begin(), offset_pad_.end(), p);
    }
    if (is_control()) {
        for (const auto& a : avps_) {
            const std::uint16_t len = a.length();
            p[0] = static_cast<std::uint8_t>(a.flags_ | ((len >> 8) & 0x03));
            p[1] = static_cast<std::uint8_t>(len);
            wr16(p + 2, a.vendor_);
            wr16(p + 4, a.type_);
            const auto w = a.wire_value();
            p = std::copy(w.begin(), w.end(), p + 6);
        }
    }
}

}  // namespace dl::l2tp
