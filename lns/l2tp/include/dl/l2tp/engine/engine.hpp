// The RFC 2661 control-plane engine, sans-I/O, for either role (LNS or LAC): control connections
// (§7.2), incoming / outgoing call sessions (§7.4, §7.5), data messages (§3.1, §5.9).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dl/core/event.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/l2tp/engine/admission.hpp"
#include "dl/l2tp/engine/id_pool.hpp"
#include "dl/l2tp/engine/random.hpp"
#include "dl/l2tp/engine/reliable.hpp"
#include "dl/l2tp/l2tp.hpp"

namespace dl::l2tp::engine {

/// Opaque identity of a peer (the adapter maps UDP address:port to it).
using PeerId = std::uint64_t;

/// A session as the upper layer names it: our local Tunnel ID and Session ID.
struct SessionKey {
    std::uint16_t tunnel = 0;
    std::uint16_t session = 0;
    friend bool operator==(SessionKey, SessionKey) = default;
};

/// Security policy of one peer (RFC 2661 §4.3 hiding, §4.4.3 / §5.1.1 tunnel authentication),
/// fixed per tunnel when the tunnel is created: on an incoming SCCRQ (EngineCallbacks::peer_policy)
/// or on an outgoing open (the same callback, or an explicit policy, e.g. a RADIUS Tunnel-Password).
struct PeerPolicy {
    std::string secret;                    ///< tunnel secret ("" = no Challenge, nothing hidden)
    bool hide_avps = false;                ///< hide session AVPs (§4.3); only with a secret
    /// Incoming SCCRQ only: false refuses it at once with a StopCCN carrying `refuse_result`
    /// (§4.4.2; default 4, "requester is not authorized") and `refuse_message`; no SCCRP is sent.
    bool accept = true;
    StopCcnResult refuse_result = StopCcnResult::NotAuthorized;
    /// The refusal's Error Code (§4.4.2; e.g. 7 "try another" with Result Code 2); none by default.
    std::optional<GeneralError> refuse_error;
    std::string refuse_message;
    /// The Host Name AVP (§4.4.3) this peer must send in its SCCRQ / SCCRP; a different one (or
    /// none) is refused with StopCCN 4 like a failed tunnel authentication (JunosE "Implementing
    /// L2TP": the LNS verifies the LAC's host name and tunnel password). nullopt = any name.
    std::optional<std::string> peer_host_name;
    /// Incoming SCCRQ only: a peer the operator listed. Exempt from TunnelLimits::max_tunnels_setup
    /// (a flood of SCCRQs from forged addresses fills the setup slots of unlisted peers only); the
    /// per-peer limits and the total tunnel limit still apply.
    bool configured = false;
    friend bool operator==(const PeerPolicy&, const PeerPolicy&) = default;
};

/// Engine configuration. `secret` / `hide_avps` are the default PeerPolicy (every peer, unless
/// EngineCallbacks::peer_policy or an explicit policy says otherwise).
struct EngineConfig {
    std::string host_name = "dl-lns";
    std::string vendor_name = "dial-out";
    std::uint16_t firmware_revision = 0x0100;
    std::uint32_t framing_capabilities = kFramingSync | kFramingAsync;
    std::uint32_t bearer_capabilities = kBearerDigital | kBearerAnalog;
    std::uint16_t receive_window = 16;   ///< advertised Receive Window Size, 1..1024
    unsigned max_retransmits = 5;
    std::string secret;                  ///< tunnel secret ("" = no authentication)
    bool hide_avps = false;              ///< hide session AVPs (§4.3) when a secret is set
    bool require_sequencing = false;     ///< LNS asks the LAC for sequenced data (§5.9)
    /// Early data (lnsd key `early-data-frames`): data messages kept per session that is not yet
    /// established but whose Session ID the peer already has (wait-reply / wait-connect: OCRQ or
    /// ICRP sent, OCCN / ICCN not yet received). A LAC whose control channel is paced by its send
    /// window (RFC 2661 §5.8, Appendix A) may forward the first PPP frame as data (§3.1, unreliable,
    /// not ordered with control messages) before its OCCN / ICCN leaves; kept frames are delivered
    /// through ppp_frame right after connected(). 0 = such data is dropped (unknown_session); lnsd
    /// accepts 0..64.
    unsigned early_data_frames = 4;
    /// Where Tunnel IDs, Session IDs, Challenges, Random Vectors and Tie Breakers come from
    /// (random.hpp). Unset: `seed` != 0 gives a reproducible SeededRandom (tests, benchmarks),
    /// else the OS CSPRNG (os_random(), the default).
    std::shared_ptr<RandomSource> random;
    std::uint64_t seed = 0;              ///< test aid only: a reproducible SeededRandom(seed) when != 0
    /// SCCRQ admission and per-tunnel session setup limits (admission.hpp).
    TunnelLimits limits;
    /// Out-of-order control messages kept per tunnel (ReliableConfig::reorder_packets / _bytes).
    std::size_t reorder_packets = 16;
    std::size_t reorder_bytes = 32 * 1024;
    /// Control messages queued per tunnel behind a closed send window (ReliableChannel::queued())
    /// beyond which an ICRQ / OCRQ of the peer is dropped without a session or an answer: a peer
    /// that acknowledges none of our replies while it keeps sending requests cannot grow the queue.
    /// Our own messages (OCRQs of calls we place, StopCCN, CDN) are never refused. 0 = no limit.
    std::size_t send_queue = 256;
};

/// Parameters of an outgoing call (OCRQ, §6.9).
struct OutgoingCall {
    std::string called_number;
    std::optional<std::string> sub_address;
    std::uint32_t min_bps = 0, max_bps = 0;
    /// Bearer / Framing Type bits wanted (§4.4.5). LNS role: the OCRQ carries only the bits the
    /// LAC set in its Bearer / Framing Capabilities (§4.4.3: "MUST only be set by the LNS for an
    /// OCRQ if it was set in the ... Capabilities AVP received from the LAC"); when a non-zero
    /// request has none left, no OCRQ is sent and the call ends (call_ended, not_placed, Result 5).
    std::uint32_t bearer_type = kBearerDigital;
    std::uint32_t framing_type = kFramingSync;
    std::uint32_t call_serial_number = 0;
};

/// Parameters of an incoming call (ICRQ §6.6 + ICCN §6.8), given by the LAC role and exposed to
/// the LNS role when the ICCN arrives.
struct IncomingCall {
    std::uint32_t call_serial_number = 0;
    std::optional<std::string> calling_number, called_number;
    std::uint32_t tx_connect_speed = 64000;
    std::optional<std::uint32_t> rx_connect_speed;
    std::uint32_t framing_type = kFramingSync;
    std::optional<std::vector<std::uint8_t>> initial_received_lcp_confreq, last_sent_lcp_confreq,
        last_received_lcp_confreq;
    std::optional<std::uint16_t> proxy_authen_type;
    std::optional<std::string> proxy_authen_name;
    std::optional<std::vector<std::uint8_t>> proxy_authen_challenge, proxy_authen_response;
    std::optional<std::uint8_t> proxy_authen_id;
    bool sequencing_required = false;
};

/// Connection facts handed to connected() (OCCN / ICCN).
struct ConnectInfo {
    std::uint32_t tx_connect_speed = 0;
    std::optional<std::uint32_t> rx_connect_speed;
    std::uint32_t framing_type = 0;
    bool sequencing = false;
    std::optional<IncomingCall> incoming;  ///< LNS role, incoming call: the ICRQ/ICCN facts
};

/// Who ended a session (EngineCallbacks::call_ended). Source: RFC 2661 §5.7 (StopCCN ends every
/// session of the tunnel), §5.8 (retransmissions exhausted: the control connection is lost),
/// §6.12 (CDN), §4.1 (unknown mandatory AVP clears the session).
enum class CallEndedBy : std::uint8_t {
    peer_cdn,          ///< the peer's CDN: its Result Code, Error Code, Error Message, Q.931 Cause
    local_disconnect,  ///< Engine::disconnect by the owner: what our CDN carried (or would have)
    engine_cdn,        ///< the engine's own CDN 2 / error 8 (unknown M-bit AVP in a session message, §4.1)
    peer_stopccn,      ///< the peer's StopCCN ended the tunnel (§5.7); Result Code 1
    local_stopccn,     ///< our StopCCN ended the tunnel: close_tunnel, or the engine's own (§4.1 unknown
                       ///< M-bit AVP, §5.1.1 authentication, §4.4.2 refusal / version); Result Code 1
    timeout,           ///< the tunnel was lost: retransmissions exhausted (§5.8, a HELLO included, §6.5)
                       ///< or setup not finished within the hello interval; Result Code 1
    not_placed,        ///< the engine never sent the OCRQ: the LAC's Bearer / Framing Capabilities
                       ///< (§4.4.3) offer none of the call's Bearer / Framing Type bits (Result 5),
                       ///< or our tunnel was discarded on equal Tie Breakers (§4.4.3, Result 1)
};
/// "peer-cdn", "local-disconnect", "engine-cdn", "peer-stopccn", "local-stopccn", "timeout", "not-placed".
const char* to_string(CallEndedBy by) noexcept;

/// Why a call failed or ended (CDN, §6.12; §4.4.2 Result and Error Codes, §4.4.10 Q.931 Cause).
/// For a session that ended with its tunnel, `result` is 1 (loss of carrier) and `message` the
/// tunnel's cause ("StopCCN result 1 (…)", "retransmissions exhausted", …).
struct CallFailure {
    std::uint16_t result = 0;
    std::optional<std::uint16_t> error;
    std::optional<std::string> message;
    std::optional<Q931Cause> q931;
    CallEndedBy ended_by = CallEndedBy::peer_cdn;  ///< who ended it (EngineCallbacks::call_ended)
};

/// Control connection states, RFC 2661 §7.2 (names in to_string: "idle", "wait-ctl-reply",
/// "wait-ctl-conn", "established").
enum class TunnelState : std::uint8_t { idle, wait_ctl_reply, wait_ctl_conn, established };
/// Session states, RFC 2661 §7.4 (incoming calls) and §7.5 (outgoing calls) in one set ("idle",
/// "wait-tunnel", "wait-reply", "wait-connect", "wait-cs-answer", "established").
enum class SessionState : std::uint8_t { idle, wait_tunnel, wait_reply, wait_connect, wait_cs_answer, established };
/// A control connection: outgoing when we sent the SCCRQ (§5.1), incoming when the peer did. A
/// session: outgoing for an outgoing call (OCRQ, §5.6), incoming for an incoming call (ICRQ, §5.5).
enum class Direction : std::uint8_t { incoming, outgoing };
const char* to_string(TunnelState s) noexcept;
const char* to_string(SessionState s) noexcept;
/// "incoming", "outgoing".
const char* to_string(Direction d) noexcept;

/// One change of a control connection (EngineCallbacks::tunnel_changed).
///  - transition: the §7.2 FSM went `from` -> `to` on `event` (the FSM's event name, e.g.
///    "recv-SCCRQ-acceptable"); to == from for a self-transition (an SCCRQ refused without answer);
///  - not_permitted: `event` arrived in `from` (== to) where the FSM has no row (counted, logged);
///  - refused: the peer's SCCRQ was refused by PeerPolicy::accept (§4.4.2 StopCCN, no SCCRP); comes
///    before the transition to idle; from == to == idle;
///  - released: the Tunnel ID was freed after the §5.7 hold (tunnel-hold); the tunnel is gone.
/// `cause` is the FSM's cause text (e.g. "StopCCN result 1 (…)"); valid during the call only.
struct TunnelChange {
    enum class What : std::uint8_t { transition, not_permitted, refused, released };
    What what = What::transition;
    std::uint16_t tunnel = 0;  ///< our Tunnel ID
    PeerId peer = 0;
    Direction direction = Direction::incoming;
    TunnelState from = TunnelState::idle, to = TunnelState::idle;
    std::string_view event, cause;
};

/// One change of a session (EngineCallbacks::session_changed): its §7.4 / §7.5 FSM went `from` ->
/// `to` on `event` ("call-request", "recv-ICRQ", "recv-OCCN", "tunnel-down", …), or refused `event`
/// in `from` (permitted false, to == from). `peer` is the tunnel's; `cause` valid during the call.
struct SessionChange {
    SessionKey key;
    PeerId peer = 0;
    Direction direction = Direction::incoming;
    SessionState from = SessionState::idle, to = SessionState::idle;
    std::string_view event, cause;
    bool permitted = true;
};

/// Upcalls. All optional.
struct EngineCallbacks {
    std::function<void(PeerId, std::vector<std::uint8_t>)> send;            ///< one UDP payload
    /// Every change of every control connection (TunnelChange), from inside the Engine call or
    /// timer that caused it, before the matching `l2tp.tunnel` event is published. The owner's
    /// typed view of the tunnels (lnsd's `show l2tp tunnel`); the events are for logs only.
    std::function<void(const TunnelChange&)> tunnel_changed;
    /// Every change of every session (SessionChange), like tunnel_changed (`l2tp.session` events).
    /// A session's last change is to idle; call_ended follows it.
    std::function<void(const SessionChange&)> session_changed;
    std::function<void(std::uint16_t tunnel, PeerId)> tunnel_up;
    std::function<void(std::uint16_t tunnel, const std::string& cause)> tunnel_down;
    std::function<void(SessionKey, const ConnectInfo&)> connected;
    /// ONE upcall for every session that ends, whoever ended it, exactly once per session (a
    /// session that never ends before ~Engine gets none: the destructor raises no upcall):
    ///  - peer's CDN (§6.12): from inside receive(); CallFailure = the CDN's AVPs, ended_by peer_cdn;
    ///  - disconnect(): from inside that disconnect(), after the CDN is queued; CallFailure = what
    ///    the CDN carried (result, error, message, q931), ended_by local_disconnect — also when no
    ///    CDN goes out (a call still waiting for its tunnel has told the peer nothing);
    ///  - the engine's own CDN (§4.1 unknown M-bit AVP): from inside receive(), engine_cdn;
    ///  - tunnel down (§5.7): one upcall per session of the tunnel, ascending Session ID, before
    ///    tunnel_down(); from inside receive() (peer's StopCCN: peer_stopccn), close_tunnel()
    ///    (local_stopccn) or the timer callback that found the tunnel lost (timeout); Result 1.
    /// When it runs the session is already gone: session_state(key) is "", disconnect(key) and
    /// send_ppp(key) return false (so a second upcall for it is impossible). Re-entrancy: the
    /// callback may call any Engine function — disconnect() another session (which raises that
    /// session's own upcall, nested, and only once even if its tunnel is going down), close_tunnel(),
    /// place_outgoing_call() / place_incoming_call() (a tunnel going down is never reused: a new
    /// one opens), send_ppp() on other sessions. It must not destroy the Engine. Each is also
    /// published, just before the upcall, as an `l2tp.session` event `call-ended` (cause = the
    /// message; extra `by` = to_string(ended_by), `result`) when the bus has subscribers.
    std::function<void(SessionKey, const CallFailure&)> call_ended;
    std::function<void(SessionKey, std::span<const std::uint8_t>)> ppp_frame;
    std::function<void(SessionKey, const OutgoingCall&)> ocrq;               ///< LAC role
    std::function<void(SessionKey, const Accm&)> sli;
    std::function<void(SessionKey, const CallErrors&)> wen;
    /// The host of a peer for the per-peer limits of TunnelLimits (lnsd: the IPv4 address of an
    /// address:port PeerId). Unset: the PeerId itself.
    std::function<std::uint64_t(PeerId)> peer_host;
    /// Per-peer policy, consulted once per tunnel when it is created (SCCRQ received, or an open
    /// without an explicit policy). Unset: {EngineConfig::secret, EngineConfig::hide_avps}.
    std::function<PeerPolicy(PeerId)> peer_policy;
};

/// Engine counters.
struct EngineStats {
    std::uint64_t malformed = 0, invalid = 0, unknown_tunnel = 0, unknown_session = 0, not_permitted = 0,
                  data_in = 0, data_out = 0, data_dropped = 0, auth_failures = 0,
                  refused = 0;  ///< SCCRQs refused by PeerPolicy::accept
    /// Outgoing calls not placed because the LAC's Bearer / Framing Capabilities (RFC 2661 §4.4.3)
    /// offer none of the requested Bearer / Framing Type bits (call_ended, not_placed, Result 5).
    std::uint64_t capability_refused = 0;
    /// Control messages with an unknown Message Type: with the M bit set the tunnel is cleared
    /// (StopCCN 2 / error 3), without it the message is ignored (RFC 2661 §4.4.1).
    std::uint64_t unknown_message_type = 0;
    /// SCCRQ / SCCRP whose Host Name is not PeerPolicy::peer_host_name (StopCCN 4).
    std::uint64_t host_name_refused = 0;
    /// Early data (EngineConfig::early_data_frames): frames kept before OCCN / ICCN, delivered after
    /// it, dropped because the session already kept K, discarded because the call ended first.
    std::uint64_t data_early_kept = 0, data_early_delivered = 0, data_early_dropped = 0,
                  data_early_discarded = 0;
    /// New SCCRQs dropped silently by TunnelAdmission, by reason (no Tunnel ID taken, no answer).
    SccrqDropCounters sccrq_dropped;
    /// ICRQs answered with CDN 4 / error 4: the tunnel already had
    /// TunnelLimits::max_sessions_setup_per_tunnel calls being set up.
    std::uint64_t sessions_refused_setup = 0;
    /// ICRQs / OCRQs refused with CDN 3 on a tunnel that refuses calls (refuse_calls).
    std::uint64_t calls_refused = 0;
    /// Incoming calls cleared (CDN Result Code 10) because no ICCN came within `call-setup`.
    std::uint64_t call_setup_timeouts = 0;
    /// Out-of-order control messages not kept (reorder_packets / reorder_bytes reached).
    std::uint64_t reorder_dropped = 0;
    /// Control messages discarded because their Ns lies beyond the receive window (RFC 2661 §5.8).
    std::uint64_t outside_window = 0;
    /// ICRQs / OCRQs dropped because their tunnel's send queue held EngineConfig::send_queue messages.
    std::uint64_t send_queue_overflows = 0;

};

class Tunnel;
class Session;

/// RFC 2661 §3.1 Priority (P) bit of a data message: set on PPP control frames — LCP (Echo
/// included), authentication, the NCPs: PPP Protocol 0x8000..0xffff (RFC 1661 §2) — so they are
/// preferred in queues under congestion. `frame` is a PPP frame with or without Address and
/// Control (FF 03, RFC 1662 §3.1), Protocol possibly compressed (then never a control protocol).
bool ppp_priority(std::span<const std::uint8_t> frame) noexcept;

/// Registers the timers this engine uses (if absent): retransmit, retransmit-cap, hello (the
/// well-known ones), zlb-ack 0s [0s..1s] (§5.8; 0s: a ZLB at the end of the event-loop pass, else
/// after that delay: ReliableConfig::zlb_delay), tunnel-hold 31s [1s..5m] (§5.7), call-setup 30s
/// [1s..10m] (an incoming call whose ICCN does not follow its ICRP within it is cleared).
void register_l2tp_timers(core::TimerRegistry& registry);

/// The engine: every control connection and session of one endpoint.
class Engine {
public:
    Engine(core::TimerQueue& timers, core::TimerRegistry& registry, core::EventBus& bus, EngineConfig cfg,
           EngineCallbacks cb);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    /// One received UDP payload from `peer`. Malformed input is counted and logged, never thrown.
    void receive(PeerId peer, std::span<const std::uint8_t> datagram);

    /// Opens a control connection to `peer` (SCCRQ) with the peer's policy (peer_policy callback or
    /// the config default), or with `policy` when given (e.g. the call's RADIUS Tunnel-Password).
    /// Returns our Tunnel ID.
    std::uint16_t open_tunnel(PeerId peer, std::optional<PeerPolicy> policy = std::nullopt);
    /// Refuses (`refuse` true) or accepts again new calls on an open tunnel: a refused tunnel
    /// answers a new ICRQ / OCRQ with a CDN, Result Code 3 "administrative reasons" (RFC 2661
    /// §4.4.2) and the Error Message `message`, creates no session, and carries none of our own
    /// new calls (place_outgoing_call / place_incoming_call open another tunnel to the peer). Its
    /// existing sessions are untouched (JunosE "Implementing L2TP": the tunnel level; the owner
    /// clears them with disconnect()). False if the tunnel is unknown or closing.
    bool refuse_calls(std::uint16_t tunnel, bool refuse, std::string message = "tunnel is shut down");
    /// Closes a tunnel with a StopCCN (§5.7). False if unknown.
    bool close_tunnel(std::uint16_t tunnel, StopCcnResult result = StopCcnResult::GeneralRequestToClear,
                      std::optional<GeneralError> error = std::nullopt, std::string message = {});

    /// LNS role: place an outgoing call (OCRQ) through `peer` on the newest tunnel to it whose
    /// policy equals `policy` (when given; else any), opening a tunnel with that policy if none is.
    /// When that tunnel already carries 65 535 sessions (RFC 2661 §5.4) the call opens a new tunnel
    /// to the peer (§3: a LAC-LNS pair may have several), which carries the next calls (same for
    /// place_incoming_call). std::length_error only when 65 535 tunnels exist already.
    SessionKey place_outgoing_call(PeerId peer, const OutgoingCall& call,
                                   std::optional<PeerPolicy> policy = std::nullopt);
    /// LAC role: place an incoming call (ICRQ … ICCN) towards the LNS `peer`.
    SessionKey place_incoming_call(PeerId peer, const IncomingCall& call);
    /// LAC role, after ocrq(): accept the call (OCRP).
    bool accept(SessionKey s);
    /// LAC role: the outgoing call is connected (OCCN); false before accept().
    bool call_connected(SessionKey s, std::uint32_t tx_connect_speed, std::uint32_t framing_type);
    /// Either role: clear the call (CDN with Result Code, optional Error Code / Error Message
    /// (§4.4.2; a message without an error code sends error 0) and Q.931 Cause, §6.12). Raises
    /// call_ended(s, {result, error, message, q931, local_disconnect}) before returning. False
    /// (nothing sent, no upcall) if the session is unknown or already ended.
    bool disconnect(SessionKey s, CdnResult result, std::optional<GeneralError> error = std::nullopt,
                    std::optional<Q931Cause> q931 = std::nullopt, std::string message = {});
    /// Sends a PPP frame on an established session (data message §3.1, Ns/Nr if sequencing §5.9;
    /// the P bit on PPP control frames, ppp_priority()).
    bool send_ppp(SessionKey s, std::span<const std::uint8_t> frame);
    /// LAC role: WEN (§6.13) with the call's error counters.
    bool wan_error(SessionKey s, const CallErrors& errors);
    /// LNS role: SLI (§6.14) to the LAC.
    bool set_link_info(SessionKey s, const Accm& accm);

    /// State names for tests and `show`: "" when unknown.
    std::string tunnel_state(std::uint16_t tunnel) const;
    std::string session_state(SessionKey s) const;
    /// The peer's Assigned Tunnel ID and Session ID of an established session (the header of
    /// the data messages we send on it, RFC 2661 §3.1), for a data fast path outside the engine.
    struct PeerIds {
        std::uint16_t tunnel = 0;
        std::uint16_t session = 0;
        /// Next data Ns expected from the peer (§5.9): past any sequenced early data already
        /// delivered, so a fast path taking over the session drops their late copies.
        std::uint16_t data_nr = 0;
    };
    /// nullopt if the session is unknown or not established.
    std::optional<PeerIds> peer_ids(SessionKey s) const;
    /// The Host Name AVP (§4.4.3) of the peer's SCCRQ / SCCRP; "" if unknown or not yet received.
    std::string peer_host_name(std::uint16_t tunnel) const;
    /// The policy a tunnel was created with (secret, hiding), nullptr if unknown.
    const PeerPolicy* tunnel_policy(std::uint16_t tunnel) const;
    std::size_t tunnel_count() const noexcept { return tunnels_.size(); }
    std::size_t session_count() const noexcept;
    const EngineStats& stats() const noexcept { return stats_; }
    /// Tunnel and setup counts behind TunnelLimits (for `show`).
    const TunnelAdmission& admission() const noexcept { return admission_; }
    /// The reliable channel of a tunnel (tests), nullptr if unknown.
    const ReliableChannel* channel(std::uint16_t tunnel) const;
    /// For tests of Ns/Nr wrap only (RFC 2661 starts both at 0): initial Ns and expected Nr of
    /// the channels of tunnels created from now on.
    void set_initial_sequence(std::uint16_t ns, std::uint16_t nr) noexcept {
        initial_ns_ = ns;
        initial_nr_ = nr;
    }

    static std::size_t sizeof_tunnel() noexcept;
    static std::size_t sizeof_session() noexcept;

private:
    friend class Tunnel;
    friend class Session;
    void receive_control(PeerId peer, L2TP& m);
    Tunnel* find_tunnel(std::uint16_t id) const;
    Tunnel* tunnel_to(PeerId peer, const PeerPolicy* policy = nullptr) const;
    Tunnel& create_tunnel(PeerId peer, PeerPolicy policy);
    PeerPolicy policy_for(PeerId peer) const;
    std::uint64_t peer_host(PeerId peer) const { return cb_.peer_host ? cb_.peer_host(peer) : peer; }
    /// Forgets a tunnel (after its hold, or at once for an SCCRQ refused without an answer) and
    /// reports it as TunnelChange::What::released with `cause`.
    void release_tunnel(std::uint16_t tunnel, std::string_view cause);
    void erase_later(std::uint16_t tunnel);
    /// disconnect() with who ended the call (local_disconnect, or engine_cdn for §4.1).
    bool clear_call(SessionKey k, CdnResult r, std::optional<GeneralError> err, std::optional<Q931Cause> q931,
                    std::string message, CallEndedBy by);
    void call_ended(SessionKey k, const CallFailure& f);
    void publish(std::string entity, std::string id, std::string event, std::string cause,
                 nlohmann::json extra = nlohmann::json::object());

    core::TimerQueue* timers_;
    core::TimerRegistry* registry_;
    core::EventBus* bus_;
    EngineConfig cfg_;
    EngineCallbacks cb_;
    std::shared_ptr<RandomSource> rng_;
    IdPool tunnel_ids_;
    TunnelAdmission admission_;
    void unindex(const Tunnel& t);
    std::map<std::uint16_t, std::unique_ptr<Tunnel>> tunnels_;
    std::uint64_t tunnel_serial_ = 0;                                           // creation order
    std::map<PeerId, std::uint16_t> by_peer_;                                   // newest tunnel per peer
    std::map<std::pair<PeerId, std::uint16_t>, std::uint16_t> by_peer_tid_;    // (peer, its Tunnel ID)
    std::vector<std::uint16_t> doomed_;
    core::Timer reaper_;
    EngineStats stats_;
    std::uint16_t initial_ns_ = 0;
    std::uint16_t initial_nr_ = 0;
};

}  // namespace dl::l2tp::engine
