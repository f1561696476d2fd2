// One PPP link, sans-I/O, in either role: LCP (RFC 1661), authentication in both directions at
// once (PAP RFC 1334, CHAP-MD5 RFC 1994) with the authenticator's decision delegated to an
// asynchronous verify() upcall, IPCP (RFC 1332, RFC 1877 DNS), the phase machine of RFC 1661 §3,
// and proxy LCP / proxy authentication for L2TP incoming calls (RFC 2661 §4.4.5).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dl/core/fsm.hpp"
#include "dl/ppp/credentials.hpp"
#include "dl/ppp/engine/automaton.hpp"

namespace dl::ppp::engine {

/// Authentication protocol in one direction, and what the authenticator receives (dl/ppp/credentials.hpp).
using ppp::AuthMethod;
using ppp::Credentials;
using ppp::to_string;

/// What we ask the peer to authenticate with: the dial-out PPP-Auth-Protocol values
/// 0 none, 1 PAP, 2 CHAP, 3 PAP-then-CHAP (request PAP, accept a Nak to CHAP), 4 CHAP-then-PAP.
enum class AuthPreference : std::uint8_t { none = 0, pap = 1, chap = 2, pap_then_chap = 3, chap_then_pap = 4 };

/// Link phases of RFC 1661 §3.2 (Establish … Terminate).
enum class Phase : std::uint8_t { dead, establish, authenticate, network, terminate };
std::string_view to_string(Phase p) noexcept;

/// Configuration of one link. IPv4 addresses are host-order integers (0x0a000001 = 10.0.0.1);
/// 0 means "not known / not configured".
struct LinkConfig {
    std::uint16_t mru = 1500;                 ///< our MRU; requested when != 1500 (RFC 1661 §6.1)
    std::optional<std::uint32_t> accm;        ///< ACCM to request (RFC 1662 §7.1); none = not requested
    bool request_pfc = false;                 ///< RFC 1661 §6.5
    bool request_acfc = false;                ///< RFC 1661 §6.6
    AuthPreference require_auth = AuthPreference::none;  ///< we as authenticator
    bool allow_pap = true;                    ///< we as peer: agree to authenticate with PAP
    bool allow_chap = true;                   ///< … with CHAP-MD5
    /// … order of preference when the peer asks for a protocol we do not allow and we Nak it
    /// with one we do (RFC 1661 §6.2): PAP first (PPP-Auth-Protocol 3, PAP-CHAP), else CHAP first.
    bool prefer_pap = false;
    std::string name;                         ///< our name: PAP Peer-ID, CHAP Name
    std::string secret;                       ///< our PAP password / CHAP secret as peer
    bool ipcp = true;                         ///< run IPCP (else Protocol-Reject it)
    std::uint32_t local_ip = 0;               ///< our address (0: ask the peer to assign one)
    std::uint32_t peer_ip = 0;                ///< address for the peer (0: from verify() or the peer's own)
    std::uint32_t dns1 = 0, dns2 = 0;         ///< DNS offered to the peer (RFC 1877 §1.1, §1.3)
    bool request_dns = false;                 ///< ask the peer for DNS addresses (client side)
    dl::core::Duration echo_interval{};       ///< LCP Echo-Request keepalive period; 0 = off
    std::uint8_t echo_failures = 5;           ///< unanswered Echo-Requests before the link is declared down
    dl::core::Duration rechallenge{};         ///< CHAP rechallenge period (RFC 1994 §2); 0 = off
    dl::core::Duration auth_timeout = std::chrono::seconds(30);  ///< PAP authenticator wait / peer wait
    std::uint8_t auth_retries = 10;           ///< CHAP Challenge / PAP Authenticate-Request transmissions
    CpLimits limits;                          ///< Max-Configure/Terminate/Failure (RFC 1661 §4.6)
};


/// The answer to verify(). framed_ip/dns: e.g. RADIUS Framed-IP-Address, 0 = none.
struct VerifyResult {
    bool accept = false;
    std::string message;
    std::uint32_t framed_ip = 0;
    std::uint32_t dns1 = 0, dns2 = 0;
};

/// What network_up() reports when IPCP reaches Opened.
struct NetworkInfo {
    std::uint32_t local_ip = 0, peer_ip = 0, dns1 = 0, dns2 = 0;
};

struct Negotiated;

/// Output of the engine. All optional except send.
struct LinkCallbacks {
    /// A PPP packet to transmit: Protocol (host order) + Information (the caller frames it).
    std::function<void(std::uint16_t protocol, std::vector<std::uint8_t> information)> send;
    /// Authenticator: check these credentials; answer later with Link::verify_result(ticket, …).
    std::function<void(std::uint32_t ticket, const Credentials&)> verify;
    std::function<void(const NetworkInfo&)> network_up;
    /// LCP reached Opened (negotiated or accepted from proxy LCP); `negotiated()` holds its options
    /// (the ACCMs an LNS reports to the LAC in an SLI, RFC 2661 §6.14). Before authentication.
    std::function<void(const Negotiated&)> lcp_opened;
    /// The link reached Dead (cause: why, e.g. "authentication failed", "echo timeout").
    std::function<void(std::string_view cause)> link_down;
    /// Network-layer packet other than control (e.g. 0x0021 IPv4) received while Network.
    std::function<void(std::uint16_t protocol, std::span<const std::uint8_t>)> deliver;
    /// Random 32-bit values (Magic-Number, CHAP challenge); default OpenSSL RAND_bytes.
    std::function<std::uint32_t()> random;
};

/// Counters of unusual input (`show`, tests).
struct LinkCounters {
    std::uint32_t malformed = 0;            ///< frames too short or auth packets that do not parse
    std::uint32_t discarded = 0;            ///< packets not allowed in the current phase (RFC 1661 §3)
    std::uint32_t protocol_rejects_sent = 0;
    std::uint32_t protocol_rejects_received = 0;
    std::uint32_t magic_loops = 0;          ///< Configure-Requests carrying our own Magic-Number (§6.4)
    std::uint32_t echo_sent = 0, echo_replies = 0;
    std::uint32_t auth_failures = 0;
};

/// What LCP, authentication and IPCP agreed.
struct Negotiated {
    std::uint16_t peer_mru = 1500;
    std::uint32_t local_magic = 0, peer_magic = 0;
    AuthMethod we_authenticate = AuthMethod::none;  ///< agreed in our acked Configure-Request
    AuthMethod peer_authenticates = AuthMethod::none;  ///< agreed in the peer's request we acked
    bool pfc = false, acfc = false;
    /// Async-Control-Character-Map (RFC 1662 §7.1; all ones when not negotiated): `send_accm` the
    /// peer asked for in its acked Configure-Request (characters to escape towards it),
    /// `recv_accm` ours the peer acked. An LNS hands both to the LAC in an SLI (RFC 2661 §6.14).
    std::uint32_t send_accm = 0xFFFFFFFF, recv_accm = 0xFFFFFFFF;
    std::string peer_name;                          ///< authenticated peer name
    NetworkInfo network;
};

/// One PPP link. Sans-I/O: frames in through receive(), out through LinkCallbacks::send; timers on
/// the FsmEnv's TimerQueue; events on its EventBus (entities ppp.phase, ppp.lcp, ppp.auth, ppp.ipcp).
/// Not copyable or movable (timers and FSMs refer to it).
class Link {
public:
    Link(LinkConfig config, LinkCallbacks callbacks, dl::core::FsmEnv env, std::string id);
    ~Link();
    Link(const Link&) = delete;
    Link& operator=(const Link&) = delete;

    /// The lower layer is up and we want the link: LCP Open + Up (RFC 1661 §3.2 Establish).
    void open();
    /// Administrative close (LCP Close: Terminate-Request, then Dead).
    void close(std::string_view cause);
    /// The lower layer went away (LCP Down; no Terminate exchange).
    void lower_down(std::string_view cause);

    /// One received PPP packet: Protocol (1 or 2 octets, RFC 1661 §6.5) + Information. Malformed
    /// input is counted and dropped; unknown protocols are Protocol-Rejected when LCP is Opened.
    void receive(std::span<const std::uint8_t> packet);
    /// Same with the Protocol already separated.
    void receive(std::uint16_t protocol, std::span<const std::uint8_t> information);

    /// The authenticator's answer to verify(ticket). Stale tickets are ignored (returns false).
    bool verify_result(std::uint32_t ticket, const VerifyResult& result);

    /// Proxy LCP (RFC 2661 §4.4.5, Proxy LCP AVPs 26–28): the LAC negotiated LCP with the client;
    /// `last_sent` / `last_received` are the last Configure-Requests the LAC sent / received
    /// (LCP packets or just their options). If both are acceptable to our policy, LCP starts Opened
    /// with those options and returns true; otherwise LCP renegotiates from scratch (RFC 2661
    /// §4.4.5 allows it) and returns false. `proxy_auth` is the method of the proxy authentication
    /// the caller passes to proxy_authentication() next, AuthMethod::none when the ICCN carries none
    /// usable. When it is not the authentication the LAC's request names, that proxy authentication
    /// is never awaited: CHAP-MD5 keeps the proxy LCP and the LNS sends its own Challenge (RFC 1994
    /// §3); PAP renegotiates LCP and returns false, because a client whose Authenticate-Request the
    /// LAC acknowledged sends no other (RFC 1334 §2.2.1).
    bool open_with_proxy_lcp(std::span<const std::uint8_t> last_sent, std::span<const std::uint8_t> last_received,
                             AuthMethod proxy_auth);
    /// Proxy authentication (RFC 2661 §4.4.5, AVPs 29–33): the LAC authenticated the client; the
    /// credentials go to verify() as if received here, and on acceptance the Authenticate phase
    /// is done for that direction without a new exchange. Call after open_with_proxy_lcp().
    void proxy_authentication(Credentials credentials);

    Phase phase() const noexcept;
    CpState lcp_state() const noexcept { return lcp_.state(); }
    CpState ipcp_state() const noexcept { return ipcp_.state(); }
    const Negotiated& negotiated() const noexcept { return neg_; }
    const LinkCounters& counters() const noexcept { return counters_; }
    const Automaton& lcp() const noexcept { return lcp_; }
    const Automaton& ipcp() const noexcept { return ipcp_; }
    const std::string& id() const noexcept { return id_; }

    /// Bytes of per-link state owned directly (Link + its Impl with both automatons, the auth and
    /// phase FSMs and timers), excluding strings' heap storage and armed timer queue entries.
    static std::size_t footprint() noexcept;

    struct Impl;  ///< policies and auth machines (src/link.cpp)

private:
    friend struct Impl;
    LinkConfig cfg_;
    LinkCallbacks cb_;
    dl::core::FsmEnv env_;
    std::string id_;
    Negotiated neg_;
    LinkCounters counters_;
    std::unique_ptr<Impl> impl_;
    Automaton& lcp_;
    Automaton& ipcp_;
};

}  // namespace dl::ppp::engine
