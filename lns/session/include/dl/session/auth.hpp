// PPP authentication of a call through AAA: what lns/session asks of lnsd (AuthPort) to check a
// user's PPP credentials (RFC 1334 PAP, RFC 1994 CHAP) or the LAC's proxy authentication (RFC 2661
// §4.4.5) at the virtual router's LNS RADIUS servers (RFC 2865 §5.2-5.3 Access-Request), and the
// incoming-call authentication mode rules (Huawei "L2TP Session Establishment" "Proxy
// authentication" and mandatory CHAP, RFC 2661 §9.3 trust in the LAC). The requests themselves
// are made by CallSession (dl/session/call.hpp: verify, authenticate_proxy).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "dl/core/ipv4.hpp"
#include "dl/l2tp/engine/engine.hpp"
#include "dl/ppp/engine/link.hpp"
#include "dl/radius/client/builders.hpp"
#include "dl/radius/client/client.hpp"
#include "dl/radius/client/ppp_credentials.hpp"

namespace dl::session {

/// PPP authentication counters shared by the owner's calls (`show l2tp dial-out chassis` "wiring").
struct AuthCounters {
    std::uint64_t ppp_auth_requests = 0;  ///< PPP verify upcalls, and proxy checks submitted
    std::uint64_t ppp_auth_accepts = 0;   ///< Access-Accepts with a usable authorisation
    std::uint64_t ppp_auth_rejects = 0;   ///< rejects, timeouts, bad authorisations, refusals
    std::uint64_t ppp_auth_refused = 0;   ///< credentials RADIUS cannot carry (also a reject); not sent
};

/// What a call's PPP authentication asks of lnsd. Shared by the owner's calls (the call number
/// tells which call asks); submit and cancel are required for a call that authenticates.
struct AuthPort {
    /// Submits `request` (rc::ppp_auth_request of the credentials) for `call` to its virtual
    /// router's LNS RADIUS servers; the owner adds what it knows of the call (RFC 2868 tunnel
    /// attributes, RFC 2865 §5.30-5.31 station ids, RFC 2869 §5.11 Connect-Info, NAS-Port-Id).
    /// `done` runs once (accept, reject, timeout, cancelled). An empty handle when nothing was
    /// submitted (no server, an unbuildable request): `done` never runs.
    std::function<radius::client::RequestHandle(std::uint64_t call, radius::client::PppAuthRequest request,
                                                std::function<void(const radius::client::Completion&)> done)>
        submit;
    /// Cancels a submitted request (its `done` runs with cancelled); false when already finished.
    std::function<bool(radius::client::RequestHandle)> cancel;
    /// The authorisation of an Access-Accept (rc::decode_ppp_authorisation of `accept.reply`);
    /// none: decoded by rc::decode_ppp_authorisation here.
    std::function<radius::client::Decoded<radius::client::PppAuthorisation>(const radius::client::Completion& accept)>
        decode;
    /// Where the counters go; none: not counted.
    AuthCounters* counters = nullptr;
};

/// What AAA authorised for a call's user (RFC 2865 Access-Accept), kept by its session for the
/// access routes, the IPCP peer address and accounting.
struct Authorisation {
    std::string user;                          ///< the authenticated user (PPP peer name)
    std::vector<core::Ipv4Prefix> routes;      ///< Framed-Route prefixes (RFC 2865 §5.22)
    std::uint32_t framed_ip = 0;               ///< Framed-IP-Address (§5.8), host order; 0 none
    std::optional<std::uint32_t> acct_interim_interval;   ///< Acct-Interim-Interval (RFC 2869 §5.16), s
    std::vector<std::vector<std::uint8_t>> classes;       ///< Class (RFC 2865 §5.25), echoed in accounting
};

/// How the LNS authenticates an incoming call's user:
///  - proxy: it believes the LAC's proxy LCP and authentication (RFC 2661 §4.4.5), adopting the
///    LAC's authentication type (Huawei "L2TP Session Establishment" "Proxy authentication");
///  - lcp_renegotiation: it renegotiates LCP and authenticates the user itself;
///  - mandatory_chap: the proxy authentication at AAA first, then a CHAP challenge of its own
///    (Huawei "L2TP Session Establishment" steps 10-14).
enum class IncomingAuthMode : std::uint8_t { proxy, lcp_renegotiation, mandatory_chap };

/// The mode of one incoming call and whether proxy mode was refused to its LAC.
struct IncomingMode {
    IncomingAuthMode mode = IncomingAuthMode::proxy;
    bool untrusted = false;  ///< proxy mode asked, the LAC not trusted: lcp_renegotiation instead
};

/// The mode for a call from a LAC: `for_lac` (the LAC's own mode, if configured) over `configured`;
/// proxy only from a LAC marked trusted (RFC 2661 §9.3: proxy authentication is only as good as the
/// LAC that sends it), else lcp_renegotiation with `untrusted` set.
IncomingMode incoming_mode(IncomingAuthMode configured, std::optional<IncomingAuthMode> for_lac, bool lac_trusted);

/// The authentication the LNS requires on an incoming call's PPP link: CHAP in mandatory_chap mode;
/// in proxy mode with a Proxy Authen Type (RFC 2661 §4.4.5: 2 CHAP, 3 PAP) the LAC's type, unless
/// CHAP is already required (Huawei "L2TP Session Establishment": the LNS may not be stronger than
/// the LAC, see proxy_pap_refused); else `configured`.
ppp::engine::AuthPreference incoming_require_auth(IncomingAuthMode mode, ppp::engine::AuthPreference configured,
                                                  std::optional<std::uint16_t> proxy_authen_type);

/// Proxy mode, proxy PAP (Proxy Authen Type 3) while CHAP is required: no session (Huawei "L2TP
/// Session Establishment": the LNS's authentication stronger than the LAC's).
bool proxy_pap_refused(IncomingAuthMode mode, ppp::engine::AuthPreference required,
                       std::optional<std::uint16_t> proxy_authen_type);

/// The LAC's authentication of the client as the LNS can verify it, from an ICCN's proxy
/// authentication AVPs (RFC 2661 §4.4.5): Proxy Authen Type 2 (CHAP) with Name, ID, Challenge and
/// Response; 3 (PAP) with Name and the password as Response, unless `required` is CHAP. nullopt
/// for anything else: incomplete AVPs, 1 (textual), 4 (no authentication), 5 (Microsoft CHAP v1)
/// or a type the RFC does not define (a LAC's MSCHAP v2).
std::optional<ppp::engine::Credentials> proxy_credentials(const l2tp::engine::IncomingCall& in,
                                                          ppp::engine::AuthPreference required);

/// Whether the LNS may start from the LAC's proxy LCP (RFC 2661 §4.4.5) in proxy mode: when the ICCN
/// names no Proxy Authen Type or type 4 (the link then authenticates as the proxy LCP says), or its
/// proxy authentication is usable (proxy_credentials). Otherwise (Huawei "L2TP Session
/// Establishment": a LAC that authenticated the user with MSCHAP v1 / v2 sends no usable
/// authentication) LCP is renegotiated with the client and the user authenticated again by the LNS,
/// so that a link never waits for a proxy authentication that will not come.
bool proxy_lcp_usable(const l2tp::engine::IncomingCall& in, ppp::engine::AuthPreference required);

}  // namespace dl::session
