// PPP authentication credentials (dl/ppp/credentials.hpp) -> the PPP Access-Request of the RADIUS client:
// the one mapping used by lnsd (LNS checks the CPE / the incoming user), cpe-emu (the CPE checks
// the LNS) and lac-emu (the LAC checks an incoming caller).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dl/ppp/credentials.hpp"
#include "dl/radius/client/builders.hpp"

namespace dl::radius::client {

/// Why PPP credentials cannot become an Access-Request (each is a refusal of the peer, never a
/// request to RADIUS).
enum class PppCredentialsProblem : std::uint8_t {
    no_method,            ///< AuthMethod::none: neither PAP nor CHAP
    empty_user,           ///< RFC 2865 §5.1: User-Name is one or more octets and MUST be sent
    user_too_long,        ///< User-Name over 253 octets (RFC 2865 §5, attribute Length)
    password_too_long,    ///< PAP password over 128 octets (RFC 2865 §5.2 User-Password)
    chap_challenge_size,  ///< CHAP challenge not 1..253 octets (RFC 2865 §5.40 CHAP-Challenge)
    chap_response_size,   ///< CHAP response not 16 octets (RFC 1994 §4.1 MD5; RFC 2865 §5.3)
};

/// Stable token of a problem ("chap-response-size", …) for counters and events.
std::string_view to_string(PppCredentialsProblem p) noexcept;

/// A refusal: the problem and a sentence naming it with the offending size and the rule, e.g.
/// "CHAP response of 17 octets, not 16 (RFC 1994 MD5)".
struct PppCredentialsError {
    PppCredentialsProblem problem = PppCredentialsProblem::no_method;
    std::string message;
};

/// Outcome of ppp_auth_request(): a request, or an error. Never both.
struct PppAuthMapping {
    std::optional<PppAuthRequest> request;
    std::optional<PppCredentialsError> error;
    bool ok() const noexcept { return request.has_value(); }
};

/// Maps PPP credentials to the credential part of a PPP Access-Request:
///  - user -> user_name (User-Name, RFC 2865 §5.1; 1..253 octets);
///  - PAP (RFC 1334 §2.2.1): password -> password (User-Password, RFC 2865 §5.2; 0..128 octets,
///    hidden per server by Client::submit());
///  - CHAP-MD5 (RFC 1994 §4.1): chap_id -> chap_ident, the 16-octet response -> chap_response
///    (CHAP-Password = Ident + Response, RFC 2865 §5.3), challenge -> chap_challenge
///    (CHAP-Challenge, RFC 2865 §5.40; 1..253 octets).
/// Only those fields are set; station ids, NAS-Port and tunnel are the caller's. A response that
/// is not exactly 16 octets is refused, never truncated or padded; every refusal is one the
/// builder (build_ppp_access_request) would otherwise throw for or encode wrongly. No exceptions.
PppAuthMapping ppp_auth_request(const ppp::Credentials& cr);

}  // namespace dl::radius::client
