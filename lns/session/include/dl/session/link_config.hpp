// The configuration of a call's PPP link (RFC 1661): a snapshot of what lnsd knows when PPP starts
// (the call's profile and ppp-profiles entry, a dial-out Access-Accept's PPP credentials, an
// incoming call's authentication mode and the LAC's proxy LCP and authentication), turned into the
// link's LinkConfig by the rules of JunosE "L2TP Dial-Out" "Mutual Authentication" and Huawei "L2TP
// Session Establishment" "Proxy authentication". CallSession::start_ppp (dl/session/call.hpp)
// opens the link from it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "dl/core/duration.hpp"
#include "dl/l2tp/engine/engine.hpp"
#include "dl/ppp/engine/link.hpp"
#include "dl/session/auth.hpp"

namespace dl::session {

/// What configures a call's PPP link, filled by the owner when PPP starts (a snapshot: later
/// configuration changes do not touch a running link).
struct LinkSnapshot {
    /// The call's profile: the dial-out profile, or for an incoming call the incoming profile with
    /// the incoming authentication and its ppp-profiles keepalive.
    std::uint16_t mru = 1500;                                  ///< LCP MRU (RFC 1661 §6.1)
    ppp::engine::AuthPreference require_auth = ppp::engine::AuthPreference::none;
    core::Duration keepalive = core::Duration::zero();         ///< LCP Echo-Request interval (§5.8)
    bool ipcp_dns = false;  ///< the dial-out profile offers DNS (RFC 1877); incoming calls always do
    std::string hostname;   ///< the LNS's host name (RFC 2661 §4.4.3): CHAP / PAP name when no other
    /// The profile's ppp-profiles entry: our address, DNS, echo failures, and the peer's address
    /// from its pool: `pool` says the profile has one, CallSession::start_ppp then takes an address
    /// (CallSession's PoolPort) and sets `pool_ip` (0: none) before link_config reads it.
    struct Addressing {
        std::uint32_t local_ip = 0, dns1 = 0, dns2 = 0, pool_ip = 0;  ///< host order
        std::uint8_t echo_failures = 5;
        bool pool = false;
    };
    std::optional<Addressing> addressing;
    /// Dial-out: the Access-Accept's ERX-PPP-Username / -Password / -Auth-Protocol (JunosE "L2TP
    /// Dial-Out" Table 75, VSA 36/37/38).
    struct AcceptCredentials {
        std::optional<std::string> username, password;
        std::optional<std::uint32_t> auth_protocol;  ///< 1 PAP, 2 CHAP, 3 PAP-CHAP, 4 CHAP-PAP
    };
    std::optional<AcceptCredentials> accept;
    /// Incoming: the call's authentication mode (incoming_mode) and the LAC's ICRQ / ICCN facts.
    struct Incoming {
        IncomingAuthMode mode = IncomingAuthMode::proxy;
        l2tp::engine::IncomingCall call;
    };
    std::optional<Incoming> incoming;
};

/// The PPP link's configuration from `s`:
///  - mru, require_auth, echo_interval from the profile; with addressing: local_ip, echo_failures,
///    peer_ip = the pool address, dns1/dns2 for an incoming call or a profile with ipcp_dns;
///  - dial-out (JunosE "L2TP Dial-Out" "Mutual Authentication"): name / secret the Access-Accept's
///    ERX-PPP-Username / -Password, the protocols the CPE may authenticate us with from
///    ERX-PPP-Auth-Protocol (absent: 3, PAP and CHAP; PAP first for 3);
///  - name the host name when none (RFC 1994 §4.1: a Challenge's Name identifies the system);
///  - incoming: require_auth by incoming_require_auth (CHAP in mandatory CHAP, the LAC's type in
///    proxy mode).
ppp::engine::LinkConfig link_config(const LinkSnapshot& s);

}  // namespace dl::session
