// The per-call session of lnsd: one L2TP session (RFC 2661 §5.4 incoming, §5.5 outgoing) with
// its PPP link (RFC 1661), as one table FSM (lns/core fsm, entity `session.call`).
//
// A call is born in the state its first step puts it in (core::Fsm::start, one creation event):
//   - dial-out: `placing` while Lns places the outgoing call (OCRQ ... OCCN, RFC 2661 §5.5);
//   - incoming (ICRQ / ICCN, §5.4): `proxy-auth` when the LNS first checks the LAC's proxy
//     authentication at AAA (Huawei "L2TP Session Establishment", mandatory CHAP), else `ppp`.
// Then `ppp` (LCP, authentication, IPCP), `network-up` (IPCP opened: access routes installed,
// accounting started, JunosE "L2TP Dial-Out" "Route Installation"), and the end:
//   - `releasing`: the end was decided inside an upcall (the PPP link went down, AAA rejected the
//     proxy authentication, PPP refused it): the teardown runs on the zero-delay `call-release`
//     state timer, never inside the PPP link's own callback;
//   - `closing`: torn down (accounting Stop, access routes, CallPorts::close, PPP lower-down, the
//     pool address given back, CallPorts::closed); the owner reaps the record;
//   - `failed`: the outgoing call never connected (every tunnel endpoint refused it).
//
// The session decides the order and owns the call's data: its L2TP side (L2tpCall: our Tunnel ID
// and Session ID, the outgoing-call id, the LAC and the incoming call's ICRQ / ICCN facts, put in
// its PPP Access-Requests and accounting records), the PPP frames that arrive before its link
// (dl/session/early_frames.hpp: bounded, replayed in order by start_ppp), its pool address
// (dl/session/pool.hpp: taken by start_ppp, given back once on entering closing), its IPv4
// counters, its accounting (CallAccounting, dl/session/accounting.hpp: Stop on entering closing),
// access routes (dl/session/routes.hpp: removed on entering closing), PPP link (configured from the
// owner's LinkSnapshot and opened by start_ppp, dl/session/link_config.hpp; lower-down on entering
// closing; verify answers on the next turn) and PPP-authentication requests (dl/session/auth.hpp:
// verify, mandatory CHAP's proxy check; cancelled on entering closing). Its owner (lnsd's
// DialOutWiring) finds the session by dial-out key, L2TP handle or call number and does the other
// effects through CallPorts (Lns, the RADIUS client, the TUN, the dial-out manager). Sans-I/O and
// single-threaded like the engines: time from the FsmEnv's TimerQueue.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dl/core/fsm.hpp"
#include "dl/l2tp/types.hpp"
#include "dl/ppp/engine/link.hpp"
#include "dl/session/accounting.hpp"
#include "dl/session/auth.hpp"
#include "dl/session/early_frames.hpp"
#include "dl/session/link_config.hpp"
#include "dl/session/pool.hpp"
#include "dl/session/routes.hpp"

namespace dl::session {

/// Who started the call: the LNS on a dial-out trigger (OCRQ) or the LAC (ICRQ).
enum class CallDirection : std::uint8_t { dial_out, incoming };

/// States of a call (names as in events and `show ppp`: "placing", "proxy-auth", "ppp",
/// "network-up", "releasing", "closing", "failed").
enum class CallState : std::uint8_t { placing, proxy_auth, ppp, network_up, releasing, closing, failed };

/// Inputs of a call (names as in events: "place", "l2tp-up", "call-failed", "proxy-accepted",
/// "proxy-unavailable", "network-up", "refused", "link-down", "l2tp-down", "clear", "timer-expiry").
enum class CallEvent : std::uint8_t {
    place,              ///< birth of a dial-out call: the manager places it (only in the creation event)
    l2tp_up,            ///< OCCN: the outgoing call connected (RFC 2661 §5.5)
    call_failed,        ///< CDN / no usable endpoint before OCCN
    proxy_accepted,     ///< AAA accepted the LAC's proxy authentication
    proxy_unavailable,  ///< no AAA server to ask: PPP authenticates the user itself
    network_up,         ///< IPCP This-Layer-Up (RFC 1661 §4.4, RFC 1332)
    refused,            ///< authentication refused (AAA reject, proxy PAP while CHAP is required)
    link_down,          ///< the PPP link went down (LCP closed, echo timeout, ...)
    l2tp_down,          ///< CDN / StopCCN received: the L2TP session is already gone
    clear,              ///< the owner clears the call (dial-out manager, replaced, shutdown)
    timer_expiry,       ///< the state timer (`call-release`) expired
};

std::string_view to_string(CallState s) noexcept;
std::string_view to_string(CallDirection d) noexcept;

/// What the teardown of a call must do (CallPorts::close).
///  - reason: the cause text (accounting Terminate-Cause, CDN Error Message, manager call_closed);
///  - tell_manager: report the end to the dial-out manager (call_closed);
///  - cdn: the CDN Result Code (RFC 2661 §4.4.2) when the L2TP session is still up: 3
///    administrative, 1 loss of carrier (the PPP client stopped answering LCP Echo);
///  - l2tp_gone: the L2TP session already ended (CDN / StopCCN received): nothing to clear.
struct CloseOrder {
    std::string reason;
    bool tell_manager = false;
    l2tp::CdnResult cdn = l2tp::CdnResult::Administrative;
    bool l2tp_gone = false;
};

/// The L2TP side of a call as its owner learns it (RFC 2661 §5.4 incoming, §5.5 outgoing). The
/// session puts it in its PPP Access-Requests (RFC 2865 §5.30-5.31 station ids, RFC 2869 §5.11
/// Connect-Info, NAS-Port-Id, RFC 2868 §3.3 / §3.9 Tunnel-Client-Endpoint / -Auth-ID) and
/// accounting records (RFC 2867 §4.1 Acct-Tunnel-Connection, tunnel endpoints).
struct L2tpCall {
    /// Our Tunnel ID and Session ID: from ICCN (incoming) or OCCN (dial-out); none while placing.
    std::optional<l2tp::engine::SessionKey> session;
    /// Dial-out: the owner's outgoing-call id (Lns::place_outgoing_call), kept after OCCN; 0 none.
    std::uint64_t outgoing = 0;
    std::string lac;       ///< the LAC's address text (Tunnel-Client-Endpoint, RFC 2868 §3.3)
    std::string lac_host;  ///< incoming: the LAC's Host Name (RFC 2661 §4.4.3; Tunnel-Client-Auth-ID, RFC 2868 §3.9)
    /// Incoming: the ICRQ's Calling / Called Number (RFC 2661 §4.4.5) and the ICCN's connect
    /// speeds "tx[/rx]" (§4.4.5 (Rx) Connect Speed).
    std::string calling, called, connect_info;
};

/// IPv4 carried by a call (RFC 1332 §2): from the PPP peer (in) and to it (out); octets are the
/// IPv4 datagrams' (RFC 2866 §5.3-5.4 Acct-Input/Output-Octets, §5.8-5.9 -Packets).
struct Ipv4Counters {
    std::uint64_t packets_in = 0, packets_out = 0;
    std::uint64_t octets_in = 0, octets_out = 0;
};

class CallSession;

/// What a call needs from its owner (lnsd's DialOutWiring), shared by the owner's calls.
struct CallPorts {
    /// Entering `closing` (state already `closing`, accounting Stop already sent, access routes
    /// already removed): forget the call's keys, clear the L2TP session (CDN) unless `l2tp_gone`.
    /// Then the session takes its PPP link down (lower-down) and calls `closed`. Once per call.
    std::function<void(CallSession&, const CloseOrder&)> close;
    /// After the PPP link is down: count, reap the record later, tell the manager if asked.
    std::function<void(CallSession&, const CloseOrder&)> closed;
    /// The call's accounting (CallAccounting): RADIUS accounting of its virtual router.
    AccountingPort accounting;
    /// The owner's access route table (shared by its calls); none: install_routes() installs nothing.
    AccessRouteTable* routes = nullptr;
    /// PPP authentication through AAA (verify, authenticate_proxy): the VR's LNS RADIUS servers.
    AuthPort auth;
    /// The call's pool address: start_ppp takes one when the snapshot's addressing says `pool`; the
    /// session gives it back once (entering closing, or destroyed without closing).
    PoolPort pool;
    /// At most this many PPP frames held per call before its link opens (l2tp_frame).
    std::size_t early_frames_max = kEarlyFramesMax;
    /// Where the early-frame counters go; none: not counted.
    FrameCounters* frames = nullptr;
};

/// One call's FSM. Inputs that the current state does not take are ignored and return false
/// (a call that is already closing is not cleared twice); no "not permitted" event is published
/// for them. Every transition publishes one event {entity "session.call", id, from, to, event,
/// cause}. Not copyable or movable (its FSM timer refers to it).
class CallSession {
public:
    using Spec = core::FsmSpec<CallSession, CallState, CallEvent>;

    /// The table (JunosE "L2TP Dial-Out" for dial-out, RFC 2661 §5.4 for incoming calls); see
    /// spec().describe() and docs/architecture.md "Call session".
    static const Spec& spec();

    /// `initial`: placing (dial-out), proxy-auth or ppp (incoming); std::invalid_argument else.
    /// `env.timers` is required (the `call-release` timer). `ports` is shared by the owner's calls
    /// and must outlive the session. `vr`: the call's virtual router (in refusal texts); `profile`:
    /// its dial-out or incoming profile (`show ppp`, the pool of PoolPort::allocate).
    CallSession(core::FsmEnv env, const CallPorts& ports, std::uint64_t id, CallDirection direction,
                CallState initial, std::string vr = {}, std::string profile = {});
    ~CallSession();
    CallSession(const CallSession&) = delete;
    CallSession& operator=(const CallSession&) = delete;

    /// The creation event (from "" to the initial state) on `place` (dial-out) or `l2tp-up`
    /// (incoming: ICCN received); once, before any input.
    void start(std::string_view cause);

    bool l2tp_up(std::string_view cause);            ///< placing -> ppp
    bool call_failed(std::string_view cause);        ///< placing -> failed (no close: nothing to tear down)
    bool proxy_accepted(std::string_view cause);     ///< proxy-auth -> ppp
    bool proxy_unavailable(std::string_view cause);  ///< proxy-auth -> ppp
    bool network_up(std::string_view cause);         ///< ppp / network-up -> network-up
    /// proxy-auth / ppp -> releasing on `refused`, teardown on the next turn with `order`.
    bool refuse(CloseOrder order);
    /// ppp / network-up -> releasing on `link-down`, teardown on the next turn with `order`.
    bool link_down(CloseOrder order);
    /// Any live state -> closing on `l2tp-down` (order.l2tp_gone is set).
    bool l2tp_down(CloseOrder order);
    /// Any live state -> closing on `clear`.
    bool clear(CloseOrder order);

    CallState state() const noexcept { return fsm_.state(); }
    std::string_view state_name() const { return fsm_.state_name(); }
    std::uint64_t id() const noexcept { return id_; }
    CallDirection direction() const noexcept { return direction_; }
    /// Not closing or failed: the call still holds resources the owner may use.
    bool live() const noexcept { return state() != CallState::closing && state() != CallState::failed; }
    /// IPv4 may be sent on the call (IPCP up, not ending): state network-up.
    bool carries_ipv4() const noexcept { return state() == CallState::network_up; }
    /// IPv4 can go out now: the call has its L2TP session and PPP link and carries IPv4.
    bool ipv4_ready() const noexcept { return l2tp_.session && link_ && carries_ipv4(); }
    /// The call's L2TP side; the owner fills it as it learns it (placing, ICCN, OCCN).
    L2tpCall& l2tp() noexcept { return l2tp_; }
    const L2tpCall& l2tp() const noexcept { return l2tp_; }
    /// "tunnel/session" of our L2TP keys (`show ppp`, NAS-Port-Id, link id); the call number
    /// while the call has no L2TP session.
    std::string l2tp_label() const;
    /// The call's dial-out or incoming profile.
    const std::string& profile() const noexcept { return profile_; }
    /// A PPP frame from the call's L2TP session: to the link once PPP started (receive_ppp), else
    /// held (EarlyFrames::hold: at most CallPorts::early_frames_max, counted in CallPorts::frames
    /// as early or dropped) until start_ppp opens the link and gives them to it in arrival order.
    void l2tp_frame(std::span<const std::uint8_t> frame);
    /// Frames the owner held for the call's L2TP session before it knew the session was this call's
    /// (an outgoing call's frames between OCCN and the completion): taken over, given to the link
    /// before any frame held later. Counted already.
    void adopt_early_frames(EarlyFrames frames);
    /// Frames held until the link opens.
    std::size_t early_frames() const noexcept { return early_.size(); }
    /// The peer's address from the profile's pool (host order; 0: none or given back).
    std::uint32_t pool_address() const noexcept { return pool_ip_; }
    /// IPv4 from the PPP peer (`octets`: the datagram's size), counted for `show ppp` and accounting.
    void count_ipv4_in(std::size_t octets) noexcept { ++ipv4_.packets_in, ipv4_.octets_in += octets; }
    /// IPv4 sent to the PPP peer.
    void count_ipv4_out(std::size_t octets) noexcept { ++ipv4_.packets_out, ipv4_.octets_out += octets; }
    const Ipv4Counters& ipv4() const noexcept { return ipv4_; }
    /// The call's part of an accounting record (AccountingPort::describe): User-Name and Class
    /// (RFC 2865 §5.25, echoed) of the authorisation, Framed-IP-Address (the IPCP peer address),
    /// the IPv4 counters (RFC 2866 §5.3-5.4, §5.8-5.9; packets modulo 2^32) and, with an L2TP
    /// session, Acct-Tunnel-Connection "tunnel/session" and the LAC as Tunnel-Client-Endpoint
    /// (RFC 2867 §4.1); the owner adds the server endpoint.
    void describe(radius::client::AccountingRecord& record) const;
    /// The call's accounting (RFC 2866): the owner starts it at IPCP up; the session sends the
    /// Stop on entering closing, before CallPorts::close.
    CallAccounting& accounting() noexcept { return accounting_; }
    const CallAccounting& accounting() const noexcept { return accounting_; }
    /// Installs the call's access routes in `vr` at IPCP up (JunosE "L2TP Dial-Out" "Route
    /// Installation": the Framed-Route prefixes and `peer` as a host route, through
    /// CallPorts::routes; AccessRouteTable::install) and keeps them; they leave on entering closing,
    /// before CallPorts::close. Returns the prefixes the call now owns (none without a table).
    const std::vector<core::Ipv4Prefix>& install_routes(const std::string& vr,
                                                        std::vector<core::Ipv4Prefix> framed_routes, std::uint32_t peer);
    /// The access routes the call owns (`show ppp` "access-routes").
    const std::vector<core::Ipv4Prefix>& access_routes() const noexcept { return routes_; }
    /// Creates the call's PPP link (RFC 1661; id `link_id`, the session's FsmEnv) when PPP starts;
    /// the session owns it, takes it down on entering closing and destroys it with the call.
    /// std::logic_error when the call already has one.
    ppp::engine::Link& open_link(ppp::engine::LinkConfig config, ppp::engine::LinkCallbacks callbacks,
                                 std::string link_id);
    /// Starts PPP on the call: with `snapshot.addressing->pool`, the peer's address from the
    /// profile's pool (CallPorts::pool, none when exhausted); the link configured from `snapshot`
    /// (link_config) opened through open_link; then the frames held meanwhile (l2tp_frame) given to
    /// it in arrival order. An incoming call in proxy mode (RFC 2661 §4.4.5): proxy PAP while CHAP is required
    /// is refused (proxy_pap_refused: counted as a PPP-authentication rejection, releasing, the link
    /// never opened; returns null); with the LAC's last sent and received LCP Configure-Requests the
    /// link starts from them (Link::open_with_proxy_lcp) and, when that suits, takes the LAC's proxy
    /// authentication (CHAP; PAP unless CHAP is required); else LCP negotiates from the start.
    ppp::engine::Link* start_ppp(LinkSnapshot snapshot, ppp::engine::LinkCallbacks callbacks, std::string link_id);
    /// The PPP link (none before PPP starts).
    ppp::engine::Link* link() const noexcept { return link_.get(); }
    /// A PPP frame from the L2TP session: Address and Control (FF 03, RFC 1662 §3.1, RFC 2661 §3.1)
    /// removed when present, then to the link. False (nothing done) without a link.
    bool receive_ppp(std::span<const std::uint8_t> frame);
    /// The answer to the link's verify upcall `ticket` (Link::verify_result), given on the next turn
    /// of the loop, never inside the upcall; answers queued meanwhile go in order. Dropped when the
    /// call goes away first.
    void answer_verify(std::uint32_t ticket, ppp::engine::VerifyResult result);
    /// The PPP link's verify upcall (LinkCallbacks::verify): the credentials to AAA as a PPP
    /// Access-Request (rc::ppp_auth_request, CallPorts::auth), the answer through answer_verify.
    /// With an L2TP session, the request carries its facts (L2tpCall: station ids, Connect-Info,
    /// NAS-Port-Id "l2tp tunnel/session", the LAC as Tunnel-Client-Endpoint / -Auth-ID); the owner
    /// adds its own. Credentials RADIUS cannot carry are refused without a request (event `lnsd.ppp <id>
    /// credentials-refused`); no server: rejected. An Access-Accept's authorisation is kept
    /// (authorisation()). A request still out when the call enters closing is cancelled.
    void verify(std::uint32_t ticket, const ppp::engine::Credentials& credentials);
    /// Mandatory CHAP (state proxy-auth; Huawei "L2TP Session Establishment" steps 10-14): the LAC's
    /// proxy authentication `credentials` to AAA before any PPP. Accepted: proxy-accepted, then
    /// `start_ppp`; rejected or not encodable: refused (releasing, the call ends); no server to ask:
    /// proxy-unavailable and `start_ppp` at once. Events `lnsd.incoming <label>
    /// proxy-authentication-accepted / -rejected`. False when not in proxy-auth (nothing done).
    bool authenticate_proxy(const ppp::engine::Credentials& credentials, std::string label,
                            std::function<void()> start_ppp);
    /// What AAA authorised for the call's user (empty before an Access-Accept).
    const Authorisation& authorisation() const noexcept { return authorisation_; }
    /// The call's virtual router.
    const std::string& virtual_router() const noexcept { return vr_; }
    /// The FSM instance (state timer, counters) for `show` and tests.
    const core::FsmBase& fsm() const noexcept { return fsm_; }

private:
    static void arm_release(CallSession& s, Spec::Step& st);
    static void observe(CallSession& s, const Spec::Change& c);
    bool input(CallEvent e, std::string_view cause);
    radius::client::RequestHandle submit_auth(radius::client::PppAuthRequest request,
                                              std::function<void(const radius::client::Completion&)> done);
    void refuse_credentials(const ppp::engine::Credentials& cr, const radius::client::PppCredentialsError& err);
    void count(std::uint64_t AuthCounters::*counter) const;
    void release_pool();

    const CallPorts* ports_;
    std::uint64_t id_;
    CallDirection direction_;
    std::uint32_t pool_ip_ = 0;  ///< from CallPorts::pool, given back once (release_pool); beside direction_: no padding
    CloseOrder order_;  ///< the teardown to run on entering closing
    std::string vr_;
    std::string profile_;
    L2tpCall l2tp_;
    Ipv4Counters ipv4_;
    EarlyFrames early_;          ///< frames before the link opens
    CallAccounting accounting_;
    Authorisation authorisation_;
    std::vector<radius::client::RequestHandle> auth_pending_;  ///< AAA requests out (cancelled on closing)
    std::shared_ptr<bool> alive_;  ///< completions after destruction do nothing
    std::string routes_vr_;                 ///< the virtual router of routes_
    std::vector<core::Ipv4Prefix> routes_;  ///< access routes owned in CallPorts::routes
    core::Fsm<CallSession, CallState, CallEvent> fsm_;
    core::FsmEnv env_;
    std::vector<std::pair<std::uint32_t, ppp::engine::VerifyResult>> answers_;
    core::Timer answer_timer_;
    std::unique_ptr<ppp::engine::Link> link_;  ///< last: destroyed first
};

}  // namespace dl::session
