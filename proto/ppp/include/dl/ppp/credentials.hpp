// What a PPP authenticator receives from its peer (PAP RFC 1334 §2.2.1, CHAP-MD5 RFC 1994 §4.1):
// plain data shared by the PPP engine (which collects it) and whoever checks it (lnsd asks RADIUS,
// lns/radius maps it to an Access-Request), so neither has to see the other.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dl::ppp {

/// Authentication protocol in one direction.
enum class AuthMethod : std::uint8_t { none, pap, chap_md5 };

/// "none", "PAP", "CHAP-MD5".
constexpr std::string_view to_string(AuthMethod m) noexcept {
    switch (m) {
        case AuthMethod::pap: return "PAP";
        case AuthMethod::chap_md5: return "CHAP-MD5";
        default: return "none";
    }
}

/// Credentials received by the authenticator: PAP Peer-ID and Password (RFC 1334 §2.2.1), or the
/// CHAP Identifier, the Challenge Value we sent and the peer's Name and Response Value (RFC 1994
/// §4.1; 16 octets for MD5).
struct Credentials {
    AuthMethod method = AuthMethod::none;
    std::string user;                       ///< PAP Peer-ID or CHAP Name
    std::string password;                   ///< PAP only
    std::uint8_t chap_id = 0;               ///< CHAP Identifier
    std::vector<std::uint8_t> challenge;    ///< CHAP Challenge Value we sent
    std::vector<std::uint8_t> response;     ///< CHAP Response Value (16 octets for MD5)
};

}  // namespace dl::ppp
