// PPP authentication protocols: PAP (RFC 1334 §2) and CHAP (RFC 1994 §4), as libtins PDUs.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tins/pdu.h>

#include "dl/proto/crypto.hpp"

namespace dl::ppp {

/// PAP codes (RFC 1334 §2.2).
enum class PapCode : std::uint8_t { authenticate_request = 1, authenticate_ack = 2, authenticate_nak = 3 };

/// Password Authentication Protocol packet (RFC 1334 §2.2), Protocol 0xc023.
///  - Authenticate-Request: Peer-ID Length (1), Peer-ID, Passwd-Length (1), Password (§2.2.1)
///  - Authenticate-Ack / -Nak: Msg-Length (1), Message (§2.2.2)
/// Parsing throws dl::proto::ParseError (Protocol::ppp) on: < 4 octets, Length < 4 or beyond the
/// buffer, unknown Code, a length octet overrunning Length, or octets left over inside Length.
/// Octets past Length are padding (ignored). Strings are raw octets (no encoding assumed).
class PAP : public Tins::PDU {
public:
    static const PDU::PDUType pdu_flag = static_cast<PDU::PDUType>(PDU::USER_DEFINED_PDU + 13);

    explicit PAP(PapCode code = PapCode::authenticate_request, std::uint8_t identifier = 0);
    PAP(const std::uint8_t* data, std::uint32_t size);

    PapCode code() const noexcept { return code_; }
    void code(PapCode c) noexcept { code_ = c; }
    std::uint8_t identifier() const noexcept { return identifier_; }
    void identifier(std::uint8_t id) noexcept { identifier_ = id; }
    /// Authenticate-Request fields (≤ 255 octets each; longer throws std::length_error).
    const std::string& peer_id() const noexcept { return peer_id_; }
    void peer_id(std::string_view v);
    const std::string& password() const noexcept { return password_; }
    void password(std::string_view v);
    /// Authenticate-Ack/Nak Message (≤ 255 octets).
    const std::string& message() const noexcept { return message_; }
    void message(std::string_view v);

    std::uint32_t header_size() const override;
    PDU::PDUType pdu_type() const override { return pdu_flag; }
    PAP* clone() const override { return new PAP(*this); }

private:
    void write_serialization(std::uint8_t* buffer, std::uint32_t total_sz) override;

    PapCode code_ = PapCode::authenticate_request;
    std::uint8_t identifier_ = 0;
    std::string peer_id_, password_, message_;
};

/// CHAP codes (RFC 1994 §4).
enum class ChapCode : std::uint8_t { challenge = 1, response = 2, success = 3, failure = 4 };

/// Challenge-Handshake Authentication Protocol packet (RFC 1994 §4), Protocol 0xc223.
///  - Challenge / Response: Value-Size (1), Value (≥ 1 octet), Name (rest of Length) (§4.1)
///  - Success / Failure: Message (rest of Length) (§4.2)
/// Parsing throws dl::proto::ParseError (Protocol::ppp) on: < 4 octets, Length < 4 or beyond
/// the buffer, unknown Code, missing Value-Size, Value-Size 0 or overrunning Length.
class CHAP : public Tins::PDU {
public:
    static const PDU::PDUType pdu_flag = static_cast<PDU::PDUType>(PDU::USER_DEFINED_PDU + 14);

    explicit CHAP(ChapCode code = ChapCode::challenge, std::uint8_t identifier = 0);
    CHAP(const std::uint8_t* data, std::uint32_t size);

    ChapCode code() const noexcept { return code_; }
    void code(ChapCode c) noexcept { code_ = c; }
    std::uint8_t identifier() const noexcept { return identifier_; }
    void identifier(std::uint8_t id) noexcept { identifier_ = id; }
    /// Challenge/Response Value (1–255 octets; other sizes throw std::length_error).
    const std::vector<std::uint8_t>& value() const noexcept { return value_; }
    void value(std::span<const std::uint8_t> v);
    /// Challenge/Response Name (identifies the system; not NUL-terminated).
    const std::string& name() const noexcept { return name_; }
    void name(std::string_view n) { name_ = n; }
    /// Success/Failure Message.
    const std::string& message() const noexcept { return message_; }
    void message(std::string_view m) { message_ = m; }

    std::uint32_t header_size() const override;
    PDU::PDUType pdu_type() const override { return pdu_flag; }
    CHAP* clone() const override { return new CHAP(*this); }

private:
    void write_serialization(std::uint8_t* buffer, std::uint32_t total_sz) override;

    ChapCode code_ = ChapCode::challenge;
    std::uint8_t identifier_ = 0;
    std::vector<std::uint8_t> value_;
    std::string name_, message_;
};

/// CHAP with MD5 (Algorithm 5): Response Value = MD5(Identifier ‖ secret ‖ Challenge Value),
/// 16 octets (RFC 1994 §4.1, §2 via RFC 1321). Uses dl::proto::crypto (OpenSSL).
dl::proto::crypto::Md5Digest chap_md5_response(std::uint8_t identifier,
                                               std::span<const std::uint8_t> secret,
                                               std::span<const std::uint8_t> challenge);
/// Same, with the secret as a string.
dl::proto::crypto::Md5Digest chap_md5_response(std::uint8_t identifier, std::string_view secret,
                                               std::span<const std::uint8_t> challenge);

}  // namespace dl::ppp
