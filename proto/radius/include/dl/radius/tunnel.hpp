// RFC 2868 §3 tunnel attributes of a RADIUS packet grouped by tag: one decoder for every user (the
// LNS's dial-out Access-Accept, the LAC's incoming-call Access-Accept), each applying its own
// acceptance policy to the groups it gets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dl/radius/radius.hpp"

namespace dl::radius {

/// One tunnel: the RFC 2868 attributes sharing one tag, values as received (no policy applied).
struct TaggedTunnel {
    std::uint8_t tag = 0;
    std::uint32_t type = 0;    ///< Tunnel-Type (§3.1); 0 = absent
    std::uint32_t medium = 0;  ///< Tunnel-Medium-Type (§3.2); 0 = absent
    std::string server_endpoint;  ///< Tunnel-Server-Endpoint (§3.4); "" = absent
    std::optional<std::string> client_endpoint;  ///< Tunnel-Client-Endpoint (§3.3)
    std::optional<std::string> password;  ///< Tunnel-Password (§3.5), decrypted
    std::optional<std::uint32_t> preference;  ///< Tunnel-Preference (§3.8)
    std::optional<std::string> assignment_id, client_auth_id, server_auth_id;  ///< §3.7, §3.9, §3.10
    /// A Tunnel-Password was present but could not be decrypted (named in TaggedTunnels::problems).
    bool password_undecryptable = false;
};

/// Outcome of decode_tagged_tunnels(): the groups by ascending tag, and the problems met
/// ("Tunnel-Type: tag 40 out of range 0..31", "tag 1: Tunnel-Password cannot be decrypted: …").
struct TaggedTunnels {
    std::vector<TaggedTunnel> tunnels;
    std::vector<std::string> problems;
};

/// Groups the tunnel attributes of `packet` (Tunnel-Type, -Medium-Type, -Client-Endpoint,
/// -Server-Endpoint, -Password, -Assignment-ID, -Preference, -Client-Auth-ID, -Server-Auth-ID) by
/// their tag (RFC 2868 §3: attributes with the same tag describe one tunnel; 0 = untagged). An
/// attribute whose tag is above 0x1F is left out (a problem); a Tunnel-Password is decrypted with
/// `secret` and the request's Authenticator (§3.5). Vendor-specific attributes are ignored. Never throws
/// for bad input.
TaggedTunnels decode_tagged_tunnels(const Radius& packet, std::string_view secret, const Authenticator& request_auth);

}  // namespace dl::radius
