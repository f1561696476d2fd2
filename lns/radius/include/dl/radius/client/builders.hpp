// Request builders and reply decoders of the LNS RADIUS client: dial-out Access-Request (docs/architecture.md
// "Data flow of a dial-out" step 2), PPP authentication Access-Request (RFC 2865 §5.2/§5.3, RFC 2868), Accounting
// Start/Interim-Update/Stop (RFC 2866, RFC 2867), dial-out tunnel definition and PPP authorisation
// decoded from an Access-Accept with validation naming what is missing or wrong.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dl/core/ipv4.hpp"
#include "dl/radius/tunnel.hpp"
#include "dl/radius/radius.hpp"

namespace dl::radius::client {

/// NAS identity put in every request (RFC 2865 §5.4 NAS-IP-Address, §5.32 NAS-Identifier; an
/// empty identifier is omitted).
struct NasInfo {
    core::Ipv4Address ip;
    std::string identifier;
};

/// Dial-out Access-Request (docs/architecture.md "Data flow of a dial-out" step 2; JunosE dial-out): User-Name, Service-Type
/// Outbound (5), NAS-IP-Address, NAS-Identifier; no password. Identifier/Authenticator are set by
/// Client::submit(). std::length_error if user_name exceeds 253 octets.
Radius build_dialout_access_request(std::string_view user_name, const NasInfo& nas);

/// Tunnel attributes of the call, sent tagged (RFC 2868 §3.1-§3.4, §3.7).
struct CallTunnel {
    std::uint8_t tag = 1;                       ///< 1..0x1F
    std::uint32_t type = 3;                     ///< Tunnel-Type L2TP (RFC 2868 §3.1)
    std::uint32_t medium = 1;                   ///< Tunnel-Medium-Type IPv4 (RFC 2868 §3.2)
    std::string server_endpoint;                ///< LNS address (the tunnel initiator here)
    std::string client_endpoint;                ///< LAC address
    std::string assignment_id;                  ///< empty: omitted
    std::string client_auth_id;                 ///< Tunnel-Client-Auth-ID (§3.9): the LAC's Host Name; empty: omitted
    std::string server_auth_id;                 ///< Tunnel-Server-Auth-ID (§3.10): our Host Name; empty: omitted
};

/// PPP authentication request of the peer (the LNS checks the CPE).
struct PppAuthRequest {
    enum class Method : std::uint8_t { pap, chap };
    Method method = Method::pap;
    std::string user_name;
    std::string password;                       ///< PAP: clear text, hidden per server by submit()
    std::uint8_t chap_ident = 0;                ///< CHAP: Identifier of the Challenge/Response
    std::array<std::uint8_t, 16> chap_response{};  ///< CHAP: MD5 Response value (RFC 1994 §4.1)
    std::vector<std::uint8_t> chap_challenge;   ///< CHAP: the challenge the LNS sent
    std::string calling_station_id;             ///< empty: omitted
    std::string called_station_id;              ///< empty: omitted
    std::string connect_info;                   ///< Connect-Info (RFC 2869 §5.11), e.g. "64000/64000"; empty: omitted
    std::string nas_port_id;                    ///< NAS-Port-Id (RFC 2869 §5.17); empty: omitted
    std::optional<std::uint32_t> nas_port;
    std::optional<CallTunnel> tunnel;
};

/// An Access-Request ready for Client::submit(packet, …, user_password).
struct PreparedRequest {
    Radius packet;
    std::optional<std::string> user_password;  ///< PAP password; hidden per server (RFC 2865 §5.2)
};

/// PPP authentication Access-Request: User-Name, (PAP) User-Password via PreparedRequest or (CHAP)
/// CHAP-Password = ident + response and CHAP-Challenge (RFC 2865 §5.3, §5.40), NAS-IP-Address,
/// NAS-Identifier, NAS-Port, NAS-Port-Type Virtual (5, §5.41), Service-Type Framed (2),
/// Framed-Protocol PPP (1, §5.7), Calling/Called-Station-Id (§5.31, §5.30), Connect-Info and
/// NAS-Port-Id (RFC 2869 §5.11, §5.17), tagged tunnel attributes (RFC 2868 §3.1-§3.4, §3.7, §3.9,
/// §3.10).
/// std::invalid_argument for an empty CHAP challenge or a tag outside 1..0x1F.
PreparedRequest build_ppp_access_request(const PppAuthRequest& req, const NasInfo& nas);

/// Acct-Status-Type values (RFC 2866 §5.1).
enum class AcctStatus : std::uint32_t { Start = 1, Stop = 2, Interim_Update = 3, Accounting_On = 7, Accounting_Off = 8 };

/// One accounting record of a session (RFC 2866 §5, RFC 2867 §4.1). Octet counters above 2^32
/// carry Acct-Input/Output-Gigawords (RFC 2869 §5.1, §5.2).
struct AccountingRecord {
    AcctStatus status = AcctStatus::Start;
    std::string session_id;           ///< Acct-Session-Id (required, RFC 2866 §5.5)
    std::string user_name;            ///< empty: omitted
    std::optional<core::Ipv4Address> framed_ip;
    std::uint32_t session_time = 0;   ///< seconds (Interim-Update / Stop only)
    std::uint64_t input_octets = 0, output_octets = 0;
    std::uint32_t input_packets = 0, output_packets = 0;
    std::optional<std::uint32_t> terminate_cause;  ///< Stop only (RFC 2866 §5.10)
    std::uint32_t delay_time = 0;     ///< Acct-Delay-Time seconds (RFC 2866 §5.2)
    std::string tunnel_connection;    ///< Acct-Tunnel-Connection (RFC 2867 §4.1); empty: omitted
    std::optional<CallTunnel> tunnel;
    /// Class values of the Access-Accept, echoed unmodified (RFC 2865 §5.25); each 1..253 octets.
    std::vector<std::vector<std::uint8_t>> classes;
};

/// Accounting-Request (RFC 2866 §4.1) from a record; Request Authenticator set by submit().
/// std::invalid_argument for an empty session id.
Radius build_accounting_request(const AccountingRecord& rec, const NasInfo& nas);

/// Accounting-On / Accounting-Off (RFC 2866 §5.1 values 7 / 8: the NAS starts, or goes off-line
/// cleanly, so the server may close every session it still holds for this NAS): Acct-Status-Type,
/// Acct-Session-Id (§5.5, required in every Accounting-Request), NAS-IP-Address,
/// NAS-Identifier, Acct-Delay-Time 0. std::invalid_argument for another status or an empty id.
Radius build_accounting_on_off(AcctStatus status, std::string_view session_id, const NasInfo& nas);

/// One tunnel of a dial-out definition: RFC 2868 attributes sharing one tag (proto/radius's
/// decode_tagged_tunnels; server_endpoint is the LAC).
using TunnelDefinition = radius::TaggedTunnel;

/// What a dial-out Access-Accept defines (docs/architecture.md "Data flow of a dial-out" step 3; JunosE ERX VSAs 35-41).
struct DialOutDefinition {
    std::uint32_t service_type = 0;
    std::vector<TunnelDefinition> tunnels;  ///< by Tunnel-Preference (lowest first), then tag
    std::string dial_out_number;            ///< ERX-Dial-Out-Number (35)
    std::optional<std::string> ppp_username, ppp_password;  ///< ERX 36, 37
    std::optional<std::uint32_t> ppp_auth_protocol;  ///< ERX 38: 0 None 1 PAP 2 CHAP 3 PAP-CHAP 4 CHAP-PAP
    std::optional<std::uint32_t> minimum_bps, maximum_bps, bearer_type;  ///< ERX 39, 40, 41
};

/// Decoder outcome: a value, or the list of problems ("Service-Type is Framed (2), must be
/// Outbound (5)", "tag 1: Tunnel-Type missing", …). Never both.
template <class T>
struct Decoded {
    std::optional<T> value;
    std::vector<std::string> problems;
    bool ok() const noexcept { return value.has_value(); }
};

/// Decodes and validates a dial-out Access-Accept: Service-Type must be Outbound; at least one
/// tunnel; each tunnel with Tunnel-Type L2TP (3), Tunnel-Medium-Type IPv4 (1) and a
/// Tunnel-Server-Endpoint; Tunnel-Password decrypted with `secret` and the request's
/// `request_auth`; ERX-Dial-Out-Number required; ERX-PPP-Auth-Protocol 0..4, Bearer-Type 0..2.
Decoded<DialOutDefinition> decode_dialout_accept(const Radius& accept, std::string_view secret,
                                                 const Authenticator& request_auth);

/// One Framed-Route (RFC 2865 §5.22): "prefix [gateway [metric …]]"; prefix "a.b.c.d[/len]"
/// (no length: /32). Gateway 0.0.0.0 means the user's address.
struct FramedRoute {
    core::Ipv4Prefix prefix;
    std::optional<core::Ipv4Address> gateway;
    std::optional<std::uint32_t> metric;
    friend bool operator==(const FramedRoute&, const FramedRoute&) = default;
};
/// Parses one Framed-Route text; nullopt when malformed.
std::optional<FramedRoute> parse_framed_route(std::string_view text);

/// PPP authorisation from an Access-Accept (RFC 2865 §5.8, §5.9, §5.22, §5.25, §5.27, §5.28;
/// RFC 2869 §5.16).
struct PppAuthorisation {
    std::optional<core::Ipv4Address> framed_ip;
    std::optional<core::Ipv4Address> framed_netmask;
    std::vector<FramedRoute> routes;
    std::optional<std::uint32_t> session_timeout, idle_timeout;  ///< seconds
    /// Acct-Interim-Interval (RFC 2869 §5.16), seconds between Interim-Updates as sent; the
    /// caller applies the RFC's 60 s floor and any locally configured override (§2.1).
    std::optional<std::uint32_t> acct_interim_interval;
    std::vector<std::vector<std::uint8_t>> classes;  ///< Class values, to echo in accounting
};

/// Decodes a PPP Access-Accept; problems name each malformed Framed-Route or attribute.
Decoded<PppAuthorisation> decode_ppp_authorisation(const Radius& accept);

}  // namespace dl::radius::client
