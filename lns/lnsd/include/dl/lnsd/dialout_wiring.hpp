// lnsd dial-out wiring: the dial-out manager (lns/dialout) connected to the
// RADIUS client (AAA port: dial-out Access-Request, PPP authentication of the CPE through the
// virtual router's LNS RADIUS servers), to the Lns core (call port: place_outgoing_call, L2TP <->
// PPP bridge), to one PPP Link per L2TP session (lns/ppp) and to the data plane (access routes,
// IPv4 to/from the virtual router's TUN) through a small DataPlanePort.
//
// Each call (an L2TP session, incoming or dial-out) is a call session of lns/session: its state and
// what ends it are that FSM (`session.call`: placing, proxy-auth, ppp, network-up, releasing,
// closing, failed; docs/architecture.md "Call session"), which also owns the call's data — its
// L2TP side (session::L2tpCall: our tunnel / session ids, the outgoing-call id, the LAC, the
// incoming call's ICRQ / ICCN facts), the frames that come before its PPP link (bounded), its pool
// address (session::PoolPort, implemented here over session::AddressPools and ppp-profiles), its
// IPv4 counters — and its accounting (session::CallAccounting through the AccountingPort the
// wiring implements over the RADIUS client), access routes (session::AccessRouteTable over
// DataPlanePort), PPP link (the session holds it, feeds it the L2TP session's frames, defers its
// verify answers and takes it down on closing) and PPP-authentication requests (session::AuthPort,
// implemented here over the RADIUS client; the incoming-mode rules are the session's). The wiring
// keeps the maps from dial-out key, L2TP handle (Tunnel ID, Session ID) and call number to
// sessions (and the frames of an L2TP session no call has claimed yet: an outgoing call between
// OCCN and its completion), adapts the manager's ports, and implements the sessions' ports over
// Lns, the RADIUS client, the TUN data path and the manager (the PPP link's configuration
// snapshot, session::LinkSnapshot, and callbacks, the dial-out Access-Requests; the L2TP side of the
// teardown as CallPorts::close, the manager told as CallPorts::closed).
//
// Sans-I/O like the engines: time from the TimerQueue, RADIUS datagrams through the Client's send
// function, L2TP through Lns; the TUN and kernel routes sit behind DataPlanePort (lnsd implements
// it over lns/dataplane; tests record it). Single-threaded.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dl/core/clock.hpp"
#include "dl/core/ipv4.hpp"
#include "dl/dialout/manager.hpp"
#include "dl/lnsd/lns.hpp"
#include "dl/lnsd/route_withdrawal.hpp"
#include "dl/radius/client/ppp_credentials.hpp"
#include "dl/session/call.hpp"

namespace dl::core {
class ConfigNode;
class ControlServer;
class EventBus;
class TimerQueue;
class TimerRegistry;
}  // namespace dl::core
namespace dl::radius::client {
class Client;
enum class AcctStatus : std::uint32_t;  // builders.hpp (RFC 2866 §5.1)
struct Completion;                      // client.hpp
struct AccountingRecord;                // builders.hpp
}  // namespace dl::radius::client
namespace dl::ppp::engine {
struct NetworkInfo;
}  // namespace dl::ppp::engine

namespace dl::lnsd {

/// One RADIUS server of a virtual router (RFC 2865 §3 shared secret; RFC 3579 §3.2).
struct RadiusServerConfig {
    core::Ipv4Address address;
    std::uint16_t port = 1812;
    std::string secret;
    /// BlastRADIUS (CVE-2024-3596; RFC 3579 §3.2): an Access-Accept / -Reject / -Challenge without
    /// Message-Authenticator is dropped and counted (`radius-dropped.missing-message-authenticator`
    /// in `show l2tp dial-out chassis`). `require-message-authenticator: false` relaxes it for a server that
    /// cannot send one, at the cost of forgeable replies (a MD5 chosen-prefix collision on the
    /// Response Authenticator, by anyone on the path).
    bool require_message_authenticator = true;
};

/// A virtual router (JunosE VR): its TUN, its RADIUS servers and NAS identity.
///  - radius: the home (dial-out) servers: the dial-out Access-Request goes there (JunosE "L2TP Dial-Out" Access-Request);
///  - lns_radius: the LNS RADIUS servers authenticating the CPE / incoming-call users (PPP PAP/CHAP);
///    empty = the `radius` servers.
struct VirtualRouterConfig {
    std::string name = "default";
    std::string tun;                          ///< TUN device name ("" = none configured)
    core::Ipv4Address nas_ip{};               ///< NAS-IP-Address (RFC 2865 §5.4)
    std::string nas_identifier;               ///< NAS-Identifier (§5.32), "" = omitted
    std::vector<RadiusServerConfig> authentication, accounting, lns_authentication;
    /// Kernel routing table of the VR's routes (none: main for `default`, 100, 101… for others);
    /// with `ingress_interfaces`, `ip rule iif <if> lookup <table>` per interface (no VRF here).
    std::optional<std::uint32_t> table;
    std::vector<std::string> ingress_interfaces;
    /// Locally configured Accounting Interim-Update period (`accounting-interim-interval`); it
    /// overrides Acct-Interim-Interval of the Access-Accept (RFC 2869 §2.1). None: the
    /// Access-Accept's value (at least 60 s, §5.16) or no Interim-Update.
    std::optional<core::Duration> accounting_interim;
};

/// PPP / IP options of a profile beyond what the dial-out manager's Profile holds (mru,
/// authentication, keepalive, ipcp-dns): IPCP local address, address pool, DNS (RFC 1332, 1877).
struct PppProfileConfig {
    std::string name;
    core::Ipv4Address local_address{};        ///< our IPCP address (0 = none)
    std::optional<core::Ipv4Prefix> pool;     ///< peer addresses when RADIUS gives none
    core::Ipv4Address dns1{}, dns2{};
    std::uint8_t echo_failures = 5;           ///< `echo-failures`: unanswered Echo-Requests, then down
    /// `keepalive`: LCP Echo-Request interval (RFC 1661 §5.8) of incoming calls using this profile
    /// (dial-out calls take their dial-out profile's `keepalive`); 0s = none. After
    /// `echo-failures` unanswered requests the link goes down and the call is cleared with CDN
    /// Result 1 (RFC 2661 §4.4.2, loss of carrier), Error Message "PPP: echo timeout".
    core::Duration keepalive = std::chrono::seconds(30);
};

/// LNS authentication mode for incoming calls (JunosE "Implementing L2TP" and Huawei "L2TP Session
/// Establishment"); the rules that apply it are the call session's (dl/session/auth.hpp).
using IncomingAuthMode = session::IncomingAuthMode;

/// Everything the wiring reads from lnsd's YAML (besides `dialout:`, which Manager::load reads).
///
/// ```yaml
/// virtual-routers:
///   - name: default
///     tun: dlo0
///     table: 100                    # kernel table (default: main for `default`, 100+ for others)
///     ingress-interfaces: [leased-b] # home-side interfaces whose traffic uses `table`
///     nas-ip-address: 192.0.2.1
///     accounting-interim-interval: 10m  # Interim-Update period; overrides Acct-Interim-Interval
///     radius:                       # home RADIUS: dial-out Access-Requests
///       authentication: [{address: 192.0.2.10, port: 1812, secret: home-secret}]
///       accounting: []
///     lns-radius:                   # PPP authentication of the CPE (default: the radius list)
///       authentication: [{address: 192.0.2.11, secret: lns-secret, require-message-authenticator: true}]
/// ppp-profiles:                     # extra PPP options of a dialout profile (same name)
///   isdn: {local-address: 198.18.0.1, pool: 198.18.0.0/24, dns: [192.0.2.53], echo-failures: 5,
///          keepalive: 30s}            # LCP Echo interval of incoming calls (0s = none)
/// incoming:                         # PPP on incoming calls (ICRQ/ICCN)
///   virtual-router: default
///   profile: isdn
///   authentication: chap            # none|pap|chap|pap-chap|chap-pap
///   mode: proxy                     # proxy|lcp-renegotiation|mandatory-chap
///   peers: [{address: 198.51.100.2, mode: mandatory-chap}]
/// fault-injection: false            # true: enable the `l2tp dial-out fault-injection` test aid
/// ```
struct DialOutWiringConfig {
    std::vector<VirtualRouterConfig> virtual_routers;
    std::map<std::string, PppProfileConfig, std::less<>> ppp_profiles;
    std::string incoming_vr = "default";
    std::string incoming_profile;
    std::string incoming_authentication = "chap";
    IncomingAuthMode incoming_mode = IncomingAuthMode::proxy;
    std::map<std::uint32_t, IncomingAuthMode> incoming_peer_modes;  ///< by LAC IPv4 (host order)
    /// `fault-injection: true` enables the `l2tp dial-out fault-injection` test aid (default off:
    /// the command answers an error).
    bool fault_injection = false;

    const VirtualRouterConfig* find_vr(std::string_view name) const noexcept;
};

/// Reads `virtual-routers`, `ppp-profiles` and `incoming` from lnsd's root config. ConfigError
/// naming key path, value and rule (e.g. "virtual-routers[1].name: 'default' is configured twice").
DialOutWiringConfig load_wiring_config(const core::ConfigNode& root);

/// Keys the wiring adds to lnsd's top level (so load_config accepts them).
inline constexpr const char* kWiringKeys[] = {"virtual-routers", "ppp-profiles", "incoming", "dialout", "fault-injection"};

/// The LACs of a dial-out Access-Accept's tunnel definitions (RFC 2868 §3 tagged attributes) as
/// Lns::place_outgoing_call takes them: tag, Tunnel-Server-Endpoint, the decrypted Tunnel-Password,
/// Tunnel-Preference, Tunnel-Assignment-ID. Same order.
std::vector<TunnelEndpoint> tunnel_endpoints(const radius::client::DialOutDefinition& def);

/// The data plane as the wiring sees it (lnsd: lns/dataplane TUN + RouteTable + kernel mirror).
/// Session ids are the wiring's call ids. Every member optional.
struct DataPlanePort {
    /// Install `prefixes` of a session in the VR's route table and kernel (together: one netlink
    /// exchange); returns per prefix, in order, nullopt or an error text.
    std::function<std::vector<std::optional<std::string>>(const std::string& vr, std::span<const core::Ipv4Prefix>,
                                                          std::uint64_t session)>
        add_routes;
    /// Remove every route of a session.
    std::function<void(const std::string& vr, std::uint64_t session)> remove_session;
    /// Install / remove a dial-out route (a target's prefix) towards the VR's TUN in the kernel, so
    /// that packets for it reach the data plane as triggers; an error text makes the target down
    /// (JunosE "L2TP Dial-Out" Table 73 "cannot create the dial-out route").
    std::function<std::optional<std::string>(const std::string& vr, core::Ipv4Prefix)> add_dialout_route;
    std::function<void(const std::string& vr, core::Ipv4Prefix)> remove_dialout_route;
    /// An IPv4 packet from a session's PPP link for the VR's TUN.
    std::function<void(const std::string& vr, std::span<const std::uint8_t> packet)> to_tun;
};

/// Counters of the wiring (show ppp / show l2tp dial-out chassis "wiring").
/// acct_requests, acct_responses, acct_timeouts, acct_interims, acct_interims_superseded: the
/// calls' accounting (session::AccountingCounters) and Accounting-On / -Off; ppp_auth_requests,
/// _accepts, _rejects, _refused: the calls' PPP authentication (session::AuthCounters).
/// frames_early, frames_dropped: the calls' early PPP frames (session::FrameCounters) and IPv4 the
/// wiring could not send or deliver.
struct WiringCounters : session::AccountingCounters, session::AuthCounters, session::FrameCounters {
    std::uint64_t aaa_requests = 0, aaa_accepts = 0, aaa_rejects = 0, aaa_timeouts = 0, aaa_invalid = 0;
    std::uint64_t calls_placed = 0, calls_connected = 0, calls_failed = 0, calls_closed = 0;
    std::uint64_t incoming_links = 0;
    std::uint64_t sli_sent = 0;  ///< SLIs with the negotiated ACCMs (RFC 2661 §6.14), one per LCP Opened
    std::uint64_t tun_in = 0, tun_no_route = 0, tun_to_session = 0, session_to_tun = 0, route_errors = 0;
    /// proxy-mode incoming calls with Proxy Authen AVPs from a LAC not marked `trusted` (peers[]):
    /// the proxy data was ignored, LCP renegotiated and the user authenticated by the LNS
    std::uint64_t proxy_untrusted = 0;
    std::uint64_t acct_on = 0, acct_off = 0;  ///< Accounting-On / -Off submitted (RFC 2866 §5.1 values 7, 8)
    /// dial-out routes taken out of the kernel / put back by `dialout.route-withdrawal`
    std::uint64_t route_withdrawals = 0, route_reinstalls = 0;
};

/// 16 lower-case hex digits from the OS CSPRNG (getrandom(2)): a per-process prefix of every
/// Acct-Session-Id (RFC 2866 §5.5). std::system_error when the kernel gives no random octets.
std::string new_acct_instance();

/// The dial-out / PPP / data-plane wiring of lnsd. Takes over Lns's on_connected, on_disconnected
/// and on_ppp_frame hooks. Must be destroyed before `lns` and `radius`.
class DialOutWiring {
public:
    DialOutWiring(core::TimerQueue& timers, core::TimerRegistry& registry, core::EventBus& bus, Lns& lns,
                  radius::client::Client& radius, DialOutWiringConfig config, DataPlanePort dataplane = {});
    ~DialOutWiring();
    DialOutWiring(const DialOutWiring&) = delete;
    DialOutWiring& operator=(const DialOutWiring&) = delete;

    /// Loads the `dialout:` section into the manager (Manager::load) and marks every configured
    /// virtual router operational (Table 72 initPending -> inService); reads its
    /// `route-withdrawal` (load_route_withdrawal). ConfigError for a target whose virtual router is
    /// not configured.
    void load_dialout(const core::ConfigNode& dialout);

    /// A packet read from the VR's TUN: forwarded to the session whose access route matches
    /// (longest prefix), else handed to the dial-out manager as a possible trigger.
    void tun_packet(const std::string& vr, std::span<const std::uint8_t> packet);
    /// A packet the data plane already matched to session `call` (its route table): sent as PPP
    /// IPv4 (RFC 1332 §2) in an L2TP data message; dropped and counted if the link is not up.
    void to_session(std::uint64_t call, std::span<const std::uint8_t> packet);
    /// The same for a packet of the data plane's TUN batch: framed in place (its headroom) and
    /// queued; the caller flushes (Lns::flush_data) after the batch.
    void to_session(std::uint64_t call, dataplane::Packet& packet);

    /// The dial-out interface (TUN) of `vr` went down / came up, as lnsd observes its link (IFF_UP).
    /// Down: the VR -> down (JunosE "L2TP Dial-Out" Table 72 "its dial-out interface is down"). Up: the VR's
    /// dial-out routes are installed again (the kernel drops routes with the link): a target whose
    /// route now installs leaves down (Table 73 recovery), one whose route fails goes down; then the
    /// VR -> inService. Unknown VRs are ignored.
    void dialout_interface(const std::string& vr, bool up);

    /// RFC 2866 §5.1 Accounting-On (7): one Accounting-Request per virtual router with accounting
    /// servers, Acct-Session-Id = acct_instance(). lnsd sends it once at start.
    void accounting_on();
    /// Accounting-Off (8), the same way, at a clean stop (after the sessions' Stop records).
    /// Returns how many were submitted; accounting_idle() tells when each has its response or
    /// gave up (radius-timeout per server, then the next server).
    std::size_t accounting_off();
    /// No Accounting-On / -Off waiting for its Accounting-Response.
    bool accounting_idle() const noexcept { return acct_on_off_pending_ == 0; }
    /// This process's accounting instance: 16 hex digits from the OS CSPRNG (getrandom(2)), new
    /// at every start. Every Acct-Session-Id is "<instance>-<call number>", so ids stay unique
    /// across restarts (RFC 2866 §5.5) although call numbers start again at 1.
    const std::string& acct_instance() const noexcept { return acct_instance_; }

    /// Registers `show l2tp dial-out [chassis|virtual-router|target|session]`,
    /// `l2tp dial-out session reset`, `l2tp dial-out target add|remove`, `show ppp [session]` and
    /// `l2tp dial-out fault-injection` (test aid: chassis / VR / target conditions lnsd cannot
    /// otherwise produce on demand).
    void register_commands(core::ControlServer& server);
    /// `show ppp [id | tunnel/session] [detail]`: one call by id, else the listing of live calls
    /// in call-id order, paged by `page` (core::ListPage; resumes after a call id).
    nlohmann::json show_ppp(const std::string& id, bool detail, const core::ListPage& page = {}) const;

    dialout::Manager& manager() noexcept { return *manager_; }
    const WiringCounters& counters() const noexcept { return counters_; }
    std::size_t call_count() const noexcept { return calls_.size(); }
    /// The session (call id) owning the longest prefix matching `destination` in `vr`.
    std::optional<std::uint64_t> route_lookup(const std::string& vr, core::Ipv4Address destination) const;
    /// Bytes of the wiring's per-call record (plus the PPP Link::footprint()).
    static std::size_t sizeof_call_record() noexcept;

    struct Call;  // one L2TP session with its PPP link (src/dialout_wiring.cpp)

private:
    void authorize(const dialout::SessionKey& key, const std::string& user);
    void place_call(const dialout::SessionKey& key, const radius::client::DialOutDefinition& def,
                    const dialout::Profile& profile);
    void clear_call(const dialout::SessionKey& key, std::string_view reason);
    void forward(const dialout::SessionKey& key, std::span<const std::uint8_t> packet);
    void on_connected(CallHandle h, const l2tp::engine::ConnectInfo& info);
    void on_disconnected(CallHandle h, const l2tp::engine::CallFailure& f);
    void on_frame(CallHandle h, std::span<const std::uint8_t> frame);
    void start_link(Call& c, const dialout::Profile& profile, const radius::client::DialOutDefinition* def,
                    const l2tp::engine::ConnectInfo* incoming);
    /// session::AuthPort::submit: the call's PPP Access-Request to its VR's LNS RADIUS servers.
    radius::client::RequestHandle submit_ppp_auth(std::uint64_t call, radius::client::PppAuthRequest req,
                                                  std::function<void(const radius::client::Completion&)> done);
    /// The incoming-call authentication mode of the L2TP session `h` for its LAC (incoming.peers[],
    /// else incoming.mode); `proxy` only for a LAC marked `trusted` in peers[], else
    /// lcp-renegotiation (`*untrusted` set to true then). Writes the LAC's address into an empty
    /// `*lac` (Tunnel-Client-Endpoint, RFC 2868 §3.3).
    IncomingAuthMode incoming_mode(const CallHandle& h, std::string* lac, bool* untrusted = nullptr);
    void network_up(std::uint64_t call, const ppp::engine::NetworkInfo& n);
    void send_ipv4(Call& c, std::span<const std::uint8_t> packet);
    /// A new call record with its session FSM in `initial` (not yet started), the next call id.
    std::unique_ptr<Call> new_call(session::CallDirection direction, session::CallState initial, const std::string& vr,
                                   const std::string& profile);
    /// Clears a live call: its session -> closing (close_call). `cdn`: the CDN Result Code when the
    /// L2TP session is still up (default 3, administrative).
    void drop_call(std::uint64_t id, bool tell_manager, std::string_view reason,
                   l2tp::CdnResult cdn = l2tp::CdnResult::Administrative);
    /// CallPorts::close: a call whose session entered closing: its keys and L2TP session.
    void close_call(std::uint64_t id, const session::CloseOrder& order);
    /// CallPorts::closed: after its PPP link went down: counted, reaped later, the manager told.
    void closed_call(std::uint64_t id, const session::CloseOrder& order);
    /// session::AccountingPort::describe: the session's part (CallSession::describe) and our endpoint.
    void describe_for_accounting(std::uint64_t call, radius::client::AccountingRecord& r) const;
    Call* find(std::uint64_t id) const;
    Call* find(const CallHandle& h) const;
    nlohmann::json call_json(const Call& c, bool detail) const;
    void install_dialout_route(const std::string& vr, core::Ipv4Prefix prefix);
    /// `dialout.route-withdrawal`: a dial-out of `key`'s target connected (true) or failed without
    /// any LAC / home RADIUS server answering (false); feeds the target's DialOutRouteGuard
    /// (created on first use; nothing when after-failures is 0).
    void route_outcome(const dialout::SessionKey& key, bool connected, std::string_view cause);
    /// The route state of a target ("announced" when it has no guard).
    RouteState route_state(const std::string& vr, core::Ipv4Prefix prefix) const;
    /// `l2tp dial-out fault-injection` (src/dialout_fault_injection.cpp).
    void register_fault_injection(core::ControlServer& server);
    /// Accounting-On / -Off to every VR's accounting servers (src/accounting_on_off.cpp).
    std::size_t account_nas(radius::client::AcctStatus status);

    core::TimerQueue& timers_;
    core::TimerRegistry& registry_;
    core::EventBus& bus_;
    Lns& lns_;
    radius::client::Client& radius_;
    DialOutWiringConfig cfg_;
    DataPlanePort dp_;
    std::unique_ptr<dialout::Manager> manager_;
    std::shared_ptr<bool> alive_;
    WiringCounters counters_;  ///< before routes_: its RoutePort points at route_errors
    session::AccessRouteTable routes_;  ///< every call's access routes (the sessions install / remove)
    session::AddressPools pools_;       ///< every call's pool address (the sessions take / give back)
    session::CallPorts call_ports_;  ///< every call's session ports (close -> close_call); after what they point at
    std::map<std::uint64_t, std::unique_ptr<Call>> calls_;
    /// Calls of calls_ that are live (CallSession::live: not closing or failed), kept as they are
    /// added, enter closing (close_call) or fail (the outgoing completion): `show ppp`'s total
    /// without a walk over every call (docs/performance.md "Scale in one lnsd").
    std::size_t live_calls_ = 0;
    std::vector<std::uint64_t> reap_;  ///< closed calls, erased on the next turn (reap_timer_)
    core::Timer reap_timer_;
    std::map<dialout::SessionKey, std::uint64_t> by_key_;
    std::map<std::pair<std::uint16_t, std::uint16_t>, std::uint64_t> by_handle_;  // (Tunnel ID, Session ID)
    std::map<dialout::SessionKey, std::pair<std::uint32_t, std::uint32_t>> aaa_pending_;  // RequestHandle
    /// Frames of L2TP sessions no call has claimed yet (an outgoing call between OCCN and its
    /// completion), by (Tunnel ID, Session ID): the completion hands them to the call's session;
    /// forgotten when the L2TP session ends. Bounded per session like a call's own.
    std::map<std::pair<std::uint16_t, std::uint16_t>, session::EarlyFrames> unclaimed_frames_;
    std::uint64_t next_call_ = 1;
    RouteWithdrawalConfig withdrawal_;
    /// Route guards of targets with a counted failure, by (virtual router, prefix).
    std::map<std::pair<std::string, core::Ipv4Prefix>, std::unique_ptr<DialOutRouteGuard>> route_guards_;
    std::string acct_instance_;
    std::size_t acct_on_off_pending_ = 0;
};

}  // namespace dl::lnsd
