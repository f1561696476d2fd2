// A call's PPP link configuration. See dl/session/link_config.hpp.
#include "dl/session/link_config.hpp"

namespace dl::session {

namespace pe = ppp::engine;

pe::LinkConfig link_config(const LinkSnapshot& s) {
    pe::LinkConfig lc;
    lc.mru = s.mru;
    lc.require_auth = s.require_auth;
    lc.echo_interval = s.keepalive;
    if (s.accept) {
        // JunosE "L2TP Dial-Out" "Mutual Authentication": "LNS takes the same actions to authenticate the peer as
        // it does on incoming calls" (the profile's authentication, above). "The LNS obtains the PPP
        // username and password from the initial Access-Accept message. It then provides this
        // information to the remote CPE for authentication": ERX-PPP-Username/Password (VSA 36/37)
        // and, with them, ERX-PPP-Auth-Protocol (VSA 38, Table 75 "Authentication protocol used for
        // L2TP sessions") = the protocols with which the LNS lets the CPE authenticate it (RFC 1661
        // §6.2: the CPE names one in its Configure-Request; the LNS Acks one it permits, Naks
        // another, Configure-Rejects the option with 0 = none). Absent: PAP and CHAP. See
        // docs/dialout.md "ERX-PPP-Auth-Protocol".
        lc.name = s.accept->username.value_or("");
        lc.secret = s.accept->password.value_or("");
        const std::uint32_t ap = s.accept->auth_protocol.value_or(3);
        lc.allow_pap = ap == 1 || ap == 3 || ap == 4;
        lc.allow_chap = ap == 2 || ap == 3 || ap == 4;
        lc.prefer_pap = ap == 3;  // the order of 3 PAP-CHAP / 4 CHAP-PAP: what we Nak a CPE's other request with
    }
    // RFC 1994 §4.1: a CHAP Challenge's Name is "one or more octets" identifying the system that sends
    // it. An incoming call (no Access-Accept name) and a dial-out without ERX-PPP-Username name the LNS
    // by its configured host name, as its Host Name AVP does (RFC 2661 §4.4.3).
    if (lc.name.empty()) lc.name = s.hostname;
    if (s.addressing) {
        const auto& a = *s.addressing;
        lc.local_ip = a.local_ip;
        if (s.ipcp_dns || !s.accept) {
            lc.dns1 = a.dns1;
            lc.dns2 = a.dns2;
        }
        lc.echo_failures = a.echo_failures;
        if (a.pool_ip) lc.peer_ip = a.pool_ip;
    }
    // CHAP in mandatory-CHAP mode; in proxy mode the LAC's authentication type, not the VT's.
    if (s.incoming)
        lc.require_auth = incoming_require_auth(s.incoming->mode, lc.require_auth, s.incoming->call.proxy_authen_type);
    return lc;
}

}  // namespace dl::session
