// RFC 1334 §2.2 (PAP) and RFC 1994 §4 (CHAP) packet codecs, and the CHAP-MD5 response.
#include "dl/ppp/auth.hpp"

#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "dl/proto/errors.hpp"

namespace dl::ppp {
namespace {

using dl::proto::ParseError;
using dl::proto::Protocol;

/// Validates Code/Identifier/Length common to PAP and CHAP; returns Length.
std::size_t read_header(std::string_view pn, const std::uint8_t* data, std::uint32_t size,
                        std::string_view source) {
    if (data == nullptr || size < 4) {
        throw ParseError(Protocol::ppp, fmt::format("{}.header", pn),
                         fmt::format("{} octets, the header needs 4", size), std::string(source), 0);
    }
    const std::size_t len = (std::size_t{data[2]} << 8) | data[3];
    if (len < 4) {
        throw ParseError(Protocol::ppp, fmt::format("{}.length", pn),
                         fmt::format("Length {} is below the 4-octet header", len),
                         std::string(source), 2);
    }
    if (len > size) {
        throw ParseError(Protocol::ppp, fmt::format("{}.length", pn),
                         fmt::format("Length {} exceeds the {} octets received", len, size),
                         std::string(source), 2);
    }
    return len;
}

/// Reads a one-octet length and that many octets at `off` (< len); advances `off`.
std::string read_counted(std::string_view field, const std::uint8_t* data, std::size_t len,
                         std::size_t& off, std::string_view source) {
    if (off >= len) {
        throw ParseError(Protocol::ppp, std::string(field), "length octet missing",
                         std::string(source), off);
    }
    const std::size_t n = data[off];
    if (n > len - off - 1) {
        throw ParseError(Protocol::ppp, std::string(field),
                         fmt::format("{} octets exceed the {} left in Length", n, len - off - 1),
                         std::string(source), off);
    }
    std::string s(reinterpret_cast<const char*>(data + off + 1), n);
    off += 1 + n;
    return s;
}

void check_255(std::size_t n, const char* what) {
    if (n > 255) throw std::length_error(fmt::format("{} exceeds 255 octets", what));
}

}  // namespace

// ---- PAP -----------------------------------------------------------------------------------

PAP::PAP(PapCode code, std::uint8_t identifier) : code_(code), identifier_(identifier) {}

PAP::PAP(const std::uint8_t* data, std::uint32_t size) {
    const std::size_t len = read_header("pap", data, size, "RFC 1334 §2.2");
    identifier_ = data[1];
    std::size_t off = 4;
    switch (data[0]) {
        case 1:
            code_ = PapCode::authenticate_request;
            peer_id_ = read_counted("pap.peer_id", data, len, off, "RFC 1334 §2.2.1");
            password_ = read_counted("pap.password", data, len, off, "RFC 1334 §2.2.1");
            break;
        case 2:
        case 3:
            code_ = static_cast<PapCode>(data[0]);
            message_ = read_counted("pap.message", data, len, off, "RFC 1334 §2.2.2");
            break;
        default:
            throw ParseError(Protocol::ppp, "pap.code", fmt::format("unknown Code {}", data[0]),
                             "RFC 1334 §2.2", 0);
    }
    if (off != len) {
        throw ParseError(Protocol::ppp, "pap.length",
                         fmt::format("Length {} leaves {} unexplained octets", len, len - off),
                         "RFC 1334 §2.2", off);
    }
}

void PAP::peer_id(std::string_view v) { check_255(v.size(), "PAP Peer-ID"); peer_id_ = v; }
void PAP::password(std::string_view v) { check_255(v.size(), "PAP Password"); password_ = v; }
void PAP::message(std::string_view v) { check_255(v.size(), "PAP Message"); message_ = v; }

std::uint32_t PAP::header_size() const {
    if (code_ == PapCode::authenticate_request)
        return static_cast<std::uint32_t>(6 + peer_id_.size() + password_.size());
    return static_cast<std::uint32_t>(5 + message_.size());
}

void PAP::write_serialization(std::uint8_t* buffer, std::uint32_t total_sz) {
    const std::uint32_t len = header_size();
    if (total_sz < len) throw std::length_error("PAP buffer too small");
    buffer[0] = static_cast<std::uint8_t>(code_);
    buffer[1] = identifier_;
    buffer[2] = static_cast<std::uint8_t>(len >> 8);
    buffer[3] = static_cast<std::uint8_t>(len & 0xff);
    std::uint8_t* p = buffer + 4;
    auto counted = [&p](const std::string& s) {
        *p++ = static_cast<std::uint8_t>(s.size());
        if (!s.empty()) std::memcpy(p, s.data(), s.size());
        p += s.size();
    };
    if (code_ == PapCode::authenticate_request) {
        counted(peer_id_);
        counted(password_);
    } else {
        counted(message_);
    }
}

// ---- CHAP ----------------------------------------------------------------------------------

CHAP::CHAP(ChapCode code, std::uint8_t identifier) : code_(code), identifier_(identifier) {}

CHAP::CHAP(const std::uint8_t* data, std::uint32_t size) {
    const std::size_t len = read_header("chap", data, size, "RFC 1994 §4");
    identifier_ = data[1];
    switch (data[0]) {
        case 1:
        case 2: {
            code_ = static_cast<ChapCode>(data[0]);
            if (len < 5) {
                throw ParseError(Protocol::ppp, "chap.value_size", "Value-Size octet missing",
                                 "RFC 1994 §4.1", 4);
            }
            const std::size_t vs = data[4];
            if (vs == 0) {
                throw ParseError(Protocol::ppp, "chap.value_size",
                                 "Value-Size 0: the Value is one or more octets", "RFC 1994 §4.1",
                                 4);
            }
            if (vs > len - 5) {
                throw ParseError(Protocol::ppp, "chap.value",
                                 fmt::format("Value-Size {} exceeds the {} octets left in Length",
                                             vs, len - 5),
                                 "RFC 1994 §4.1", 4);
            }
            value_.assign(data + 5, data + 5 + vs);
            name_.assign(reinterpret_cast<const char*>(data + 5 + vs), len - 5 - vs);
            break;
        }
        case 3:
        case 4:
            code_ = static_cast<ChapCode>(data[0]);
            message_.assign(reinterpret_cast<const char*>(data + 4), len - 4);
            break;
        default:
            throw ParseError(Protocol::ppp, "chap.code", fmt::format("unknown Code {}", data[0]),
                             "RFC 1994 §4", 0);
    }
}

void CHAP::value(std::span<const std::uint8_t> v) {
    if (v.empty() || v.size() > 255)
        throw std::length_error("CHAP Value must be 1..255 octets (RFC 1994 §4.1)");
    value_.assign(v.begin(), v.end());
}

std::uint32_t CHAP::header_size() const {
    if (code_ == ChapCode::challenge || code_ == ChapCode::response)
        return static_cast<std::uint32_t>(5 + value_.size() + name_.size());
    return static_cast<std::uint32_t>(4 + message_.size());
}

void CHAP::write_serialization(std::uint8_t* buffer, std::uint32_t total_sz) {
    const std::uint32_t len = header_size();
    if (total_sz < len || len > 0xffff) throw std::length_error("CHAP packet too long");
    buffer[0] = static_cast<std::uint8_t>(code_);
    buffer[1] = identifier_;
    buffer[2] = static_cast<std::uint8_t>(len >> 8);
    buffer[3] = static_cast<std::uint8_t>(len & 0xff);
    std::uint8_t* p = buffer + 4;
    if (code_ == ChapCode::challenge || code_ == ChapCode::response) {
        *p++ = static_cast<std::uint8_t>(value_.size());
        if (!value_.empty()) std::memcpy(p, value_.data(), value_.size());
        p += value_.size();
        if (!name_.empty()) std::memcpy(p, name_.data(), name_.size());
    } else if (!message_.empty()) {
        std::memcpy(p, message_.data(), message_.size());
    }
}

dl::proto::crypto::Md5Digest chap_md5_response(std::uint8_t identifier,
                                               std::span<const std::uint8_t> secret,
                                               std::span<const std::uint8_t> challenge) {
    // RFC 1994 §4.1: "the one-way hash ... over the concatenation of the Identifier, the
    // 'secret', and the Challenge Value".
    return dl::proto::crypto::md5(
        {std::span<const std::uint8_t>(&identifier, 1), secret, challenge});
}

dl::proto::crypto::Md5Digest chap_md5_response(std::uint8_t identifier, std::string_view secret,
                                               std::span<const std::uint8_t> challenge) {
    return chap_md5_response(identifier, dl::proto::crypto::bytes(secret), challenge);
}

}  // namespace dl::ppp
