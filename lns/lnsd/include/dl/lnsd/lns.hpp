// The LNS core of lnsd, sans-I/O: the RFC 2661 engines in LNS role, the four management levels of
// JunosE (system, destination, tunnel, session; JunosE "Implementing L2TP"), tunnel selection for outgoing calls and
// the control-API commands. Datagrams in through receive(), out through the send callback; time
// from a TimerQueue (AsioTimerDriver in lnsd, VirtualTimeLoop in tests).
#pragma once

#include <cstdint>
#include <functional>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "dl/core/control.hpp"
#include "dl/core/event.hpp"
#include "dl/core/ipv4.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/l2tp/engine/engine.hpp"
#include "dl/lnsd/config.hpp"
#include "dl/lnsd/data_path.hpp"
#include "dl/lnsd/tunnel_selector.hpp"

namespace dl::core {
class ControlServer;
}
namespace dl::dataplane {
struct Packet;
}

namespace dl::lnsd {

/// `show memory`: lnsd's heap as malloc counts it (glibc mallinfo2(3), bytes: "heap-in-use" =
/// allocated in arenas + mmapped, "heap-arena", "heap-mmapped", "heap-free") and its resident set
/// ("rss-kib", "rss-peak-kib": VmRSS / VmHWM of /proc/self/status, proc(5)); "heap-allocator" says
/// whose figures they are: "glibc", or "asan" in an AddressSanitizer build (its allocator's
/// statistics, which replace glibc's malloc there).
nlohmann::json memory_json();

using l2tp::engine::PeerId;

/// PeerId of a UDP endpoint: (IPv4 << 16) | port.
constexpr PeerId peer_id(core::Ipv4Address a, std::uint16_t port) noexcept {
    return (PeerId{a.value} << 16) | port;
}
constexpr core::Ipv4Address peer_address(PeerId p) noexcept { return {static_cast<std::uint32_t>(p >> 16)}; }
constexpr std::uint16_t peer_port(PeerId p) noexcept { return static_cast<std::uint16_t>(p & 0xFFFF); }
/// "10.0.0.2:1701".
std::string peer_text(PeerId p);

/// A session as lnsd names it: the engine's keys (our Tunnel ID and Session ID). One engine serves
/// every peer (the secret is per tunnel, l2tp::engine::PeerPolicy).
struct CallHandle {
    l2tp::engine::SessionKey key;
    friend bool operator==(const CallHandle&, const CallHandle&) = default;
};

/// Outcome of place_outgoing_call(): connected (OCCN) or failed after every usable endpoint.
struct OutgoingResult {
    bool ok = false;
    CallHandle call;
    std::string endpoint;                 ///< the LAC that carried (or last refused) the call
    l2tp::engine::CallFailure failure;    ///< when !ok
    std::string reason;                   ///< when !ok: "no usable tunnel endpoint", CDN text…
    /// When !ok: no LAC of the list answered for this call — every attempt was skipped (dead,
    /// not enabled) or lost its control connection (RFC 2661 §5.8 retransmissions exhausted, our
    /// own StopCCN); false once any LAC sent a CDN or StopCCN (§6.12, §5.7) or the call was never
    /// placed by the engine (a capability mismatch). What lnsd's dial-out route withdrawal counts.
    bool no_lac_answered = false;
};

/// Counters of one destination (remote L2TP peer address).
struct DestinationCounters {
    std::uint64_t tunnels_opened = 0, tunnels_established = 0, tunnels_closed = 0, tunnels_refused = 0,
                  sessions_opened = 0, sessions_established = 0, sessions_closed = 0;
};

/// Administrative state of the system, a destination or a tunnel: the four levels of JunosE
/// "Implementing L2TP" (a change to a level affects everything below it) with the shutdown /
/// drain commands of JunosE "Broadband Access Configuration Guide", L2TP "Shutting Down
/// Destinations, Tunnels, and Sessions":
///  - enabled: new tunnels and sessions accepted;
///  - drain: existing tunnels and sessions stay up; no new ones below this level;
///  - shutdown: existing ones below this level are closed, no new ones until enabled again.
/// `no shutdown` and `no drain` both return to enabled.
enum class AdminState : std::uint8_t { enabled, drain, shutdown };
/// "enabled", "drain", "shutdown".
std::string_view to_string(AdminState s) noexcept;

/// The LNS core. Not thread-safe (one event-loop thread).
class Lns {
public:
    using Send = std::function<void(PeerId, std::vector<std::uint8_t>)>;

    /// `registry` must hold the L2TP timers (l2tp::engine::register_l2tp_timers) with config applied.
    Lns(core::TimerQueue& timers, core::TimerRegistry& registry, core::EventBus& bus, LnsdConfig cfg, Send send,
        std::uint64_t seed = 0);
    ~Lns();
    Lns(const Lns&) = delete;
    Lns& operator=(const Lns&) = delete;

    /// One UDP payload from `peer`. Never throws for bad input (the engine counts and logs it).
    /// An SCCRQ is refused by the engine at once, no SCCRP, the refused tunnel shown in idle for the
    /// §5.7 hold: while the system is drained or shut down with StopCCN Result Code 2, Error Code 7
    /// "try another" (RFC 2661 §4.4.2); from a drained or shut-down destination (or an unlisted
    /// peer when accept-unknown-peers is off) with Result Code 4.
    void receive(PeerId peer, std::span<const std::uint8_t> datagram);
    /// receive() for each datagram of a batch (e.g. one recvmmsg; lnsd's UdpEndpoint batch
    /// receiver), in order, with the same outcome: DataPath::receive_batch looks up the sessions of
    /// the batch's data messages before delivering any, hands their PPP frames straight to
    /// on_ppp_frame and everything else (control messages, data of sessions not on the fast path)
    /// to the engine, in its turn. `batch`'s bytes are valid during the call only.
    void receive_batch(std::span<const RxDatagram> batch);

    // ---- outgoing calls (the dial-out manager's entry point) ----
    using OutgoingDone = std::function<void(const OutgoingResult&)>;
    /// Places an outgoing call (OCRQ, RFC 2661 §5.6) through one of `tunnels` (the LACs the
    /// caller may use, e.g. the tunnel definitions AAA returned): reuses an open tunnel to the same
    /// endpoint and assignment id, else tries endpoints in the TunnelSelector's order, failing over
    /// when a control connection cannot be set up (the endpoint is then dead for
    /// `tunnel-selection.dead-time`). `done` runs once (never inside this call). Endpoints are IPv4
    /// text ("10.0.0.2" or "10.0.0.2:1701"); an endpoint's password becomes the secret of the tunnel
    /// (hiding as configured for that peer); without one, the peer's configured secret.
    /// Returns an id for cancel_outgoing_call().
    std::uint64_t place_outgoing_call(std::vector<TunnelEndpoint> tunnels, const l2tp::engine::OutgoingCall& call,
                                      OutgoingDone done);
    /// Gives up a pending or connected call (CDN Result 3). Its `done` never runs; on_disconnected
    /// does (ended_by local_disconnect) if the call had a session. False if unknown.
    bool cancel_outgoing_call(std::uint64_t id);
    /// Whether a LAC answered for the pending outgoing call `id` so far: an earlier attempt ended by
    /// the LAC's CDN / StopCCN (RFC 2661 §6.12, §5.7), or the current attempt got its OCRP (§5.6,
    /// session in wait-connect). False for an unknown id.
    bool outgoing_call_answered(std::uint64_t id) const;

    // ---- data path hooks (PPP) ----
    std::function<void(CallHandle, const l2tp::engine::ConnectInfo&)> on_connected;
    /// Once per session that ends, whoever ended it (the engine's call_ended: peer CDN, our own
    /// CDN — clear_session, cancel_outgoing_call —, tunnel down); CallFailure::ended_by says who.
    /// Runs inside the call that ended it (receive, clear_*, close_all, cancel_outgoing_call, or
    /// the timer that found the tunnel lost).
    std::function<void(CallHandle, const l2tp::engine::CallFailure&)> on_disconnected;
    std::function<void(CallHandle, std::span<const std::uint8_t>)> on_ppp_frame;
    /// An IPv4 packet for the call that is longer than its peer's MRU (`mru`, RFC 1661 §6.1) and has
    /// DF set: dropped (counted tx-over-mru); the owner may answer its source with an ICMP
    /// Fragmentation Needed (RFC 1191 §4). Runs inside send_ipv4; `packet` is valid only there.
    std::function<void(CallHandle, std::span<const std::uint8_t> packet, std::uint16_t mru)> on_too_big;
    /// SLI (RFC 2661 §6.14) on an established call: the ACCMs PPP negotiated (LCP, RFC 1662 §7.1),
    /// which the LAC applies to its async framing. False if the call is unknown or not established.
    bool set_link_info(CallHandle c, const l2tp::Accm& accm);
    /// The MRU the PPP peer announced in LCP (RFC 1661 §6.1): no data message towards it carries an
    /// IPv4 packet longer than that (fragmented or dropped, DataPath). False if the call is not on
    /// the data path (not established).
    bool set_peer_mru(CallHandle c, std::uint16_t mru) noexcept;
    /// The LAC's Host Name (SCCRQ / SCCRP, RFC 2661 §4.4.3) on a tunnel; "" if unknown.
    std::string peer_host_name(std::uint16_t tunnel) const { return engine_->peer_host_name(tunnel); }
    /// A PPP frame (address/control + protocol + information) on an established session, as one
    /// data message (RFC 2661 §3.1; Ns when sequencing, §5.9). False if the session is unknown.
    bool send_ppp(CallHandle c, std::span<const std::uint8_t> frame);

    // ---- data fast path (data_path.hpp) ----
    /// Data messages are sent with sendmmsg on `fd` (lnsd's L2TP UDP socket) instead of the Send
    /// callback, and received data messages of established sessions bypass the engine.
    void set_data_socket(int fd) noexcept;
    /// Data messages to a peer go on a socket connected to it when `s.open` gives one
    /// (DataPath::set_peer_sockets; lnsd: UdpEndpoint::connect_peer / release_peer). Set before
    /// sessions are established.
    void set_peer_sockets(DataPath::PeerSockets s);
    /// An IPv4 packet from the TUN batch for a session: PPP + L2TP framed in the packet's
    /// headroom (≥ dataplane::kMaxEncapHeader) and queued; flush_data() after the batch sends the
    /// burst. Falls back to send_ppp (a copy) if the session is not on the fast path.
    bool send_ipv4(CallHandle c, dataplane::Packet& packet);
    /// An IPv4 packet outside a TUN batch: framed in a copy and sent at once.
    bool send_ipv4(CallHandle c, std::span<const std::uint8_t> packet);
    /// Sends the data messages queued by send_ipv4(…, Packet&) (one sendmmsg per burst).
    void flush_data() noexcept;
    /// PPP frames (send_ppp on the fast path) leave once per pass of the caller's loop: `post`
    /// queues the flush on it (DataPath::defer_flush; lnsd: boost::asio::post). Empty: at once.
    void defer_data_flush(DataPath::Post post);
    const DataPathCounters& data_counters() const noexcept;
    /// Puts a session on the fast path without a control connection (benchmarks, tests): data
    /// from `peer` for our (c.key.tunnel, c.key.session) is delivered through on_ppp_frame, data
    /// to it carries (peer_tunnel, peer_session). Normally done when OCCN / ICCN arrives.
    void attach_data_session(CallHandle c, PeerId peer, std::uint16_t peer_tunnel, std::uint16_t peer_session,
                             bool sequencing);
    /// Takes a session attached that way off the fast path (as its end does). False if unknown.
    bool detach_data_session(CallHandle c);

    // ---- the four levels (JunosE "Implementing L2TP"): close = clear what is there, new ones
    // accepted; shutdown = close and refuse new ones until enabled; drain = refuse new ones only ----
    /// System level, close: StopCCN Result 1 (§5.7) to every tunnel, Error Message `message`; new
    /// tunnels are still accepted. Returns tunnels closed.
    std::size_t clear_system(std::string message = "system cleared by administrator");
    /// System level: enabled / drain / shutdown (AdminState). Shutdown closes every tunnel with
    /// StopCCN Result 6, "requester is being shut down" (§4.4.2); drain and shutdown refuse new
    /// SCCRQs (StopCCN 2 / Error 7 "try another"), new ICRQs on remaining tunnels (CDN 3) and
    /// new outgoing calls. Returns tunnels closed.
    std::size_t set_system_state(AdminState s);
    AdminState system_state() const noexcept;
    /// Destination level, close: every tunnel (StopCCN Result 1) and session of the destination;
    /// new tunnels from it are accepted. Returns tunnels closed.
    std::size_t clear_destination(core::Ipv4Address a);
    /// Destination level: drain / shutdown refuse new tunnels from and to `a` (StopCCN 4, no
    /// SCCRP; no outgoing call through it) and new sessions on its tunnels (CDN 3); shutdown also
    /// closes its tunnels (StopCCN 1). The destination's record is kept while not enabled.
    /// Returns tunnels closed.
    std::size_t set_destination_state(core::Ipv4Address a, AdminState s);
    AdminState destination_state(core::Ipv4Address a) const;
    /// Tunnel level, close: one tunnel (StopCCN) with all its sessions. Returns tunnels closed.
    std::size_t clear_tunnel(std::uint16_t tunnel);
    /// Tunnel level: drain / shutdown make the tunnel answer new ICRQs / OCRQs with CDN 3 and carry
    /// none of our new outgoing calls (l2tp::engine::Engine::refuse_calls); shutdown also clears
    /// its sessions (CDN 3); the tunnel itself stays up. Returns sessions cleared; nullopt if the
    /// tunnel is unknown or closing.
    std::optional<std::size_t> set_tunnel_state(std::uint16_t tunnel, AdminState s);
    /// Session level, close and shutdown alike (a session is not re-created): clears one session
    /// with a CDN (RFC 2661 §6.12): by default Result 3, administrative, Error
    /// Message "session cleared by administrator"; `result` / `message` when the cause is another
    /// (e.g. Result 1 and "PPP: echo timeout" for a client that stopped answering LCP Echo). Its
    /// owner is told once, inside this call, through on_disconnected (ended_by local_disconnect).
    /// False if unknown.
    bool clear_session(std::uint16_t tunnel, std::uint16_t session,
                       l2tp::CdnResult result = l2tp::CdnResult::Administrative,
                       std::string message = "session cleared by administrator");
    /// lnsd stopping (SIGTERM): StopCCN Result 1 to every tunnel, "lnsd shutting down". Returns
    /// tunnels closed.
    std::size_t close_all();
    /// True when no tunnel is past idle (every StopCCN exchange finished).
    bool quiescent() const;

    // ---- show (JSON; lnsctl renders tables) ----
    nlohmann::json show_summary() const;
    // The listings (no `id`) page by `page` (core::ListPage): destinations after an address,
    // tunnels after a Tunnel ID, sessions after "<tunnel>/<session>", each in that key's order.
    nlohmann::json show_destinations(const std::string& id, bool detail, const core::ListPage& page = {}) const;
    nlohmann::json show_tunnels(const std::string& id, bool detail, const core::ListPage& page = {}) const;
    nlohmann::json show_sessions(const std::string& id, bool detail, const core::ListPage& page = {}) const;
    /// Registers "show l2tp", "show l2tp summary", "show l2tp destination|tunnel|session",
    /// "l2tp clear system|destination|tunnel|session", "l2tp [no] shutdown|drain" (system),
    /// "l2tp [no] shutdown|drain destination|tunnel", "l2tp shutdown session", "show timers".
    /// Args: {"id": text, "detail": bool}. Errors (core::ControlError): a missing or malformed
    /// id, an unknown tunnel or session.
    void register_commands(core::ControlServer& server);

    std::size_t tunnel_count() const noexcept { return tunnels_.size(); }
    std::size_t session_count() const noexcept { return sessions_.size(); }
    const TunnelSelector& selector() const noexcept { return selector_; }
    const LnsdConfig& config() const noexcept { return cfg_; }
    /// Bytes of lnsd's own per-tunnel and per-session records (excluding the engines').
    static std::size_t sizeof_tunnel_record() noexcept;
    static std::size_t sizeof_session_record() noexcept;

private:
    struct TunnelRec;
    struct SessionRec;
    struct Pending;
    class AdminLevel;
    using TKey = std::uint16_t;                               // local Tunnel ID
    using SKey = std::pair<std::uint16_t, std::uint16_t>;     // local Tunnel ID, Session ID

    /// The engine's per-peer policy: the peer's secret / hide-avps from `peers:` (else the defaults);
    /// not accepted (StopCCN 4) when its destination is shut down or it is unlisted and
    /// accept-unknown-peers is off.
    l2tp::engine::PeerPolicy policy_for(PeerId peer) const;
    /// Policy of an outgoing tunnel: the call's Tunnel-Password when given, else the peer's secret.
    l2tp::engine::PeerPolicy outgoing_policy(PeerId peer, const std::optional<std::string>& password) const;
    /// The engine's typed upcalls (l2tp::engine::TunnelChange / SessionChange): lnsd's tunnel and
    /// session records, the destinations' counters and the idle set follow them.
    void on_tunnel_changed(const l2tp::engine::TunnelChange& c);
    void on_session_changed(const l2tp::engine::SessionChange& c);
    /// The engine's call_ended upcall (exactly once per session, whoever ended it): fails or
    /// finishes a pending outgoing call, then on_disconnected.
    void on_call_ended(l2tp::engine::SessionKey k, const l2tp::engine::CallFailure& f);
    void on_connected_cb(l2tp::engine::SessionKey k, const l2tp::engine::ConnectInfo& i);
    void try_next(std::uint64_t pending_id);
    void finish(std::uint64_t pending_id, OutgoingResult r);
    /// A tunnel of address `a` was released: keeps dests_ bounded (LnsdConfig::destinations_kept).
    void tunnel_gone(core::Ipv4Address a);
    std::optional<PeerId> resolve(const std::string& endpoint) const;
    nlohmann::json tunnel_json(const TunnelRec& t, bool detail) const;
    nlohmann::json session_json(const SessionRec& s, bool detail) const;
    DestinationCounters& dest(core::Ipv4Address a) { return dests_[a.value].counters; }

    core::TimerQueue* timers_;
    core::TimerRegistry* registry_;
    core::EventBus* bus_;
    LnsdConfig cfg_;
    Send send_;
    std::uint64_t seed_;
    TunnelSelector selector_;
    std::unique_ptr<l2tp::engine::Engine> engine_;
    std::map<TKey, std::unique_ptr<TunnelRec>> tunnels_;
    std::map<SKey, std::unique_ptr<SessionRec>> sessions_;
    std::map<PeerId, std::size_t> peer_sessions_;  // sessions per peer (weighted tunnel selection, show)
    std::size_t sessions_established_ = 0;          // records in established (show l2tp)
    /// StopCCN `result` with Error Message `message` to each of `keys`. Returns tunnels closed.
    std::size_t close_tunnels(const std::vector<TKey>& keys, l2tp::StopCcnResult result, const std::string& message);
    /// New ICRQs / OCRQs refused on tunnel `t` when the system, its destination or the tunnel
    /// itself is not enabled (the most restrictive level wins): Engine::refuse_calls.
    void apply_call_refusal(const TunnelRec& t);
    /// The admin state of `t`'s levels, most restrictive first: its text for the CDN, or nullopt.
    std::optional<std::string> refusal_of(const TunnelRec& t) const;
    struct DestRec {
        std::shared_ptr<AdminLevel> admin;  // nullptr = enabled; shared_ptr: AdminLevel is incomplete here
        std::size_t tunnels_now = 0;  // tunnel records (tunnels_) of this address
        DestinationCounters counters;
    };
    std::deque<std::uint32_t> idle_dests_;  // addresses whose last tunnel went, oldest first
    std::uint64_t destinations_forgotten_ = 0;
    std::map<std::uint32_t, DestRec> dests_;
    std::map<std::uint64_t, std::unique_ptr<Pending>> pending_;
    std::map<SKey, std::uint64_t> pending_by_call_;
    void forget_pending_call(std::uint64_t id, const std::optional<CallHandle>& handle);
    std::uint64_t next_pending_ = 1;
    std::uint64_t datagrams_in_ = 0, datagrams_out_ = 0, tunnels_refused_ = 0;
    // data fast path (data_path.hpp): keys are data_key(CallHandle)
    static DataPath::Key data_key(const CallHandle& c) noexcept;
    static CallHandle data_handle(DataPath::Key k) noexcept;
    /// A PPP frame the data fast path received for session `k`: to on_ppp_frame (receive and
    /// receive_batch alike).
    void deliver_frame(DataPath::Key k, std::span<const std::uint8_t> ppp);
    void attach_data(l2tp::engine::SessionKey k, bool sequencing);
    std::unique_ptr<DataPath> data_;
    core::TimePoint started_;
    std::unique_ptr<AdminLevel> system_;
};

}  // namespace dl::lnsd
