// Per-message rules of RFC 2661 §6.1-§6.14 and per-AVP rules of §4.1, §4.3, §4.4.
#pragma once

#include <cstdint>
#include <optional>

#include "dl/l2tp/l2tp.hpp"
#include "dl/proto/errors.hpp"

namespace dl::l2tp {

/// An AVP this codec does not recognise (unknown type, vendor AVP, or a reserved bit set) carries
/// the M bit: RFC 2661 §4.1 requires tearing down the tunnel (StopCCN) or, for a session message,
/// the session (CDN), with Result Code 2 and General Error 8 (§4.4.2).
class UnknownMandatoryAvp : public dl::proto::ValidationError {
public:
    UnknownMandatoryAvp(std::string message, std::uint16_t vendor_id, std::uint16_t attribute_type,
                        bool session_scope);
    std::uint16_t vendor_id() const noexcept { return vendor_id_; }
    std::uint16_t attribute_type() const noexcept { return attribute_type_; }
    /// True if the message is a session message (answer CDN), false for tunnel messages (StopCCN).
    bool session_scope() const noexcept { return session_scope_; }

private:
    std::uint16_t vendor_id_;
    std::uint16_t attribute_type_;
    bool session_scope_;
};

/// The first AVP that is not recognised (Avp::recognized() false) and has the M bit set, or
/// nullptr. The pointer is valid while `msg` is unchanged.
const Avp* first_unknown_mandatory_avp(const L2TP& msg) noexcept;

/// Checks a parsed or built message; throws the first problem found:
///  - UnknownMandatoryAvp (a ValidationError) for an unrecognised AVP with M set (§4.1);
///  - dl::proto::ValidationError naming the message ("SCCRQ", "ZLB", "data"), the AVP and the RFC
///    section for: Message Type not first / hidden / M clear / unknown type (§4.4.1, §3.2);
///    a required AVP missing (§6.x); an AVP whose M bit contradicts §4.4; a hidden AVP that may not
///    be hidden or has no preceding Random Vector (§4.3); a value of the wrong length (§4.4);
///    zero Assigned Tunnel/Session ID (§4.4.3, §4.4.4); HELLO with Session ID ≠ 0 (§6.5);
///    non-zero reserved fields (Proxy Authen ID, Call Errors, ACCM).
/// Data messages and ZLBs only get header checks. Hidden-and-undecodable AVPs are not
/// length-checked (their cleartext is unknown).
void validate(const L2TP& msg);

/// Same as validate() but returns the error instead of throwing (nullopt when valid).
std::optional<dl::proto::ValidationError> check(const L2TP& msg);

}  // namespace dl::l2tp
