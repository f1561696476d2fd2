// RADIUS authenticators, Message-Authenticator, User-Password / Tunnel-Password hiding and CHAP.
// All digests come from dl::proto::crypto (OpenSSL).
#pragma once

#include "dl/radius/radius.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dl::radius {

/// 16 random octets for a Request Authenticator (RFC 2865 §3: unpredictable and unique).
Authenticator random_authenticator();

/// Appends a Message-Authenticator (RFC 3579 §3.2) with 16 zero octets unless the packet has
/// one; sign_request()/sign_response() fill it in.
void add_message_authenticator(Radius& pkt);

/// Finishes a request in place, by Code:
///  - Access-Request, Status-Server: a zero Authenticator is replaced by a random one; a
///    Message-Authenticator, if present, is set to HMAC-MD5(secret, packet) with itself zeroed
///    (RFC 3579 §3.2).
///  - Accounting-Request (RFC 2866 §3), Disconnect-Request and CoA-Request (RFC 5176 §3.5):
///    Message-Authenticator (if present) computed over the packet with a zero Authenticator, then
///    Authenticator = MD5(Code+Identifier+Length+16 zero octets+Attributes+secret).
/// Throws std::invalid_argument for a response Code.
void sign_request(Radius& req, std::string_view secret);

/// Finishes a response in place (RFC 2865 §3, RFC 3579 §3.2): Message-Authenticator (if present)
/// = HMAC-MD5(secret, packet with the request's Authenticator and itself zeroed), then Response
/// Authenticator = MD5(Code+Identifier+Length+RequestAuth+Attributes+secret).
void sign_response(Radius& resp, const Authenticator& request_auth, std::string_view secret);

/// Outcome of a verification on wire bytes.
enum class Verdict {
    ok,
    bad_authenticator,          ///< Response / Accounting / CoA authenticator mismatch
    bad_message_authenticator,  ///< Message-Authenticator mismatch or not 16 octets
    malformed,                  ///< not a parseable RADIUS header / attribute list
};
std::string_view to_string(Verdict v) noexcept;

/// Verifies a received request (wire bytes, up to its Length): for Accounting-Request,
/// Disconnect-Request and CoA-Request the Request Authenticator (RFC 2866 §3, RFC 5176 §3.5);
/// for every request a Message-Authenticator if present (RFC 3579 §3.2). An Access-Request
/// without Message-Authenticator has nothing to verify and gives ok.
Verdict verify_request(std::span<const std::uint8_t> wire, std::string_view secret);

/// Verifies a received response against the Authenticator of the request it answers: Response
/// Authenticator (RFC 2865 §3) and Message-Authenticator if present (RFC 3579 §3.2).
Verdict verify_response(std::span<const std::uint8_t> wire, const Authenticator& request_auth,
                        std::string_view secret);

// --- User-Password (RFC 2865 §5.2) ------------------------------------------------------------

/// Hides `password` (≤ 128 octets, else std::length_error): NUL-padded to a multiple of 16 (at
/// least 16), c(i) = p(i) xor MD5(secret + c(i-1)), c(0) = Request Authenticator.
std::vector<std::uint8_t> hide_user_password(std::string_view password, std::string_view secret,
                                             const Authenticator& request_auth);
/// Reverses hide_user_password; trailing NULs are removed. ParseError (Protocol::radius) when
/// the size is 0, not a multiple of 16, or above 128.
std::string unhide_user_password(std::span<const std::uint8_t> hidden, std::string_view secret,
                                 const Authenticator& request_auth);
/// Appends User-Password hidden with req.authenticator() (set it first).
void add_user_password(Radius& req, std::string_view password, std::string_view secret);
/// User-Password of a request, unhidden; nullopt when absent. ParseError when malformed.
std::optional<std::string> user_password(const Radius& req, std::string_view secret);

// --- Tunnel-Password (RFC 2868 §3.5) ----------------------------------------------------------

/// Salt + encrypted String for Tunnel-Password (without the Tag): String = data length octet +
/// password + NUL padding to a multiple of 16; b(1) = MD5(secret + RequestAuth + Salt),
/// b(i) = MD5(secret + c(i-1)). `salt`: random when absent (high bit set); an injected salt
/// must have its high bit set (std::invalid_argument). Password ≤ 239 octets (std::length_error).
std::vector<std::uint8_t> encrypt_tunnel_password(std::string_view password,
                                                  std::string_view secret,
                                                  const Authenticator& request_auth,
                                                  std::optional<std::uint16_t> salt = {});
/// Reverses encrypt_tunnel_password on Salt + String. ParseError when shorter than 18 octets,
/// String not a multiple of 16, or the data length octet exceeds the decrypted data.
std::string decrypt_tunnel_password(std::span<const std::uint8_t> salt_and_string,
                                    std::string_view secret, const Authenticator& request_auth);
/// Tunnel-Password attribute: Tag + Salt + String (RFC 2868 §3.5).
Attribute tunnel_password_attribute(std::uint8_t tag, std::string_view password,
                                    std::string_view secret, const Authenticator& request_auth,
                                    std::optional<std::uint16_t> salt = {});
/// Decrypted Tunnel-Password of a response (with `tag`, or the first), given the request's
/// Authenticator; nullopt when absent. ParseError when malformed.
std::optional<std::string> tunnel_password(const Radius& resp, std::string_view secret,
                                           const Authenticator& request_auth,
                                           std::optional<std::uint8_t> tag = {});

// --- CHAP (RFC 2865 §5.3, §5.40; RFC 1994 §4.1) ----------------------------------------------

/// CHAP-Password value: CHAP Ident + MD5(Ident + password + challenge).
std::array<std::uint8_t, 17> chap_password(std::uint8_t ident, std::string_view password,
                                           std::span<const std::uint8_t> challenge);
/// True when `value` (17 octets) is the CHAP-Password of `password` for `challenge`.
bool verify_chap_password(std::span<const std::uint8_t> value, std::string_view password,
                          std::span<const std::uint8_t> challenge);
/// The challenge of a CHAP Access-Request: CHAP-Challenge if present, else the Request
/// Authenticator (RFC 2865 §5.3). The span points into `req`.
std::span<const std::uint8_t> chap_challenge(const Radius& req);

}  // namespace dl::radius
