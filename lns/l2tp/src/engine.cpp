// RFC 2661 control connection (§7.2) and session (§7.4, §7.5) state machines over ReliableChannel.
#include "dl/l2tp/engine/engine.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "dl/core/fsm.hpp"
#include "dl/l2tp/builders.hpp"
#include "dl/l2tp/hidden.hpp"
#include "dl/l2tp/registry.hpp"
#include "dl/l2tp/validate.hpp"
#include "dl/proto/errors.hpp"

namespace dl::l2tp::engine {

using namespace std::chrono_literals;

void register_l2tp_timers(core::TimerRegistry& r) {
    core::register_well_known_timers(r);
    // 0s: acknowledge at the end of the event-loop pass (ReliableConfig::zlb_delay).
    if (!r.contains("zlb-ack"))
        r.add({"zlb-ack", 0s, 0s, 1s,
               "RFC 2661 §5.8 ZLB acknowledgement of a message nothing piggy-backs: 0s = at the end of the "
               "event-loop pass, else after this delay"});
    if (!r.contains("tunnel-hold"))
        r.add({"tunnel-hold", 31s, 1s, 5min, "RFC 2661 §5.7 Tunnel ID held after teardown"});
    if (!r.contains("call-setup"))
        r.add({"call-setup", 30s, 1s, 10min, "incoming call cleared (CDN 10) when no ICCN follows its ICRP"});
}

// ---------------------------------------------------------------------------------------------
// Control connection FSM, RFC 2661 §7.2.
using TS = TunnelState;  // engine.hpp: the §7.2 states, public for TunnelChange
enum class TE { open, recv_sccrq_ok, recv_sccrq_bad, recv_sccrp_ok, recv_sccrp_bad, recv_scccn_ok, recv_scccn_bad,
                recv_stopccn, close, failure, tie_lost };

class Tunnel {
public:
    using Spec = core::FsmSpec<Tunnel, TS, TE>;
    static const Spec& spec() {
        static const Spec s{"l2tp.tunnel",
                            {"idle", "wait-ctl-reply", "wait-ctl-conn", "established"},
                            {"open", "recv-SCCRQ-acceptable", "recv-SCCRQ-not-acceptable", "recv-SCCRP-acceptable",
                             "recv-SCCRP-not-acceptable", "recv-SCCCN-acceptable", "recv-SCCCN-not-acceptable",
                             "recv-StopCCN", "close", "transport-failure", "tie-breaker-lost"},
                            {{TS::idle, TE::open, TS::wait_ctl_reply},
                             {TS::idle, TE::recv_sccrq_ok, TS::wait_ctl_conn},
                             {TS::idle, TE::recv_sccrq_bad, TS::idle},
                             {TS::wait_ctl_reply, TE::recv_sccrp_ok, TS::established},
                             {TS::wait_ctl_reply, TE::recv_sccrp_bad, TS::idle},
                             {TS::wait_ctl_reply, TE::recv_stopccn, TS::idle},
                             {TS::wait_ctl_reply, TE::close, TS::idle},
                             {TS::wait_ctl_reply, TE::failure, TS::idle},
                             {TS::wait_ctl_reply, TE::tie_lost, TS::idle},
                             {TS::wait_ctl_conn, TE::recv_scccn_ok, TS::established},
                             {TS::wait_ctl_conn, TE::recv_scccn_bad, TS::idle},
                             {TS::wait_ctl_conn, TE::recv_stopccn, TS::idle},
                             {TS::wait_ctl_conn, TE::close, TS::idle},
                             {TS::wait_ctl_conn, TE::failure, TS::idle},
                             {TS::established, TE::recv_stopccn, TS::idle},
                             {TS::established, TE::close, TS::idle},
                             {TS::established, TE::failure, TS::idle}},
                            std::nullopt,
                            &Tunnel::on_change};
        return s;
    }

    Tunnel(Engine& e, PeerId peer, std::uint16_t id, PeerPolicy policy);
    /// The FSM's observer: every change goes up as EngineCallbacks::tunnel_changed.
    static void on_change(Tunnel& t, const Spec::Change& c) {
        t.changed(c.permitted ? TunnelChange::What::transition : TunnelChange::What::not_permitted,
                  c.from.value_or(c.to), c.to, t.spec().name(c.event), c.cause);
    }
    void changed(TunnelChange::What what, TS from, TS to, std::string_view event, std::string_view cause) const {
        if (e_.cb_.tunnel_changed)
            e_.cb_.tunnel_changed({what, id_, peer_, opened_here_ ? Direction::outgoing : Direction::incoming, from,
                                   to, event, cause});
    }
    void handle(L2TP& m);
    void handle_checked(L2TP& m);
    void start_open();
    /// Sends a StopCCN and goes down; the sessions end with `by` (local_stopccn unless a timeout).
    void stop(StopCcnResult r, std::optional<GeneralError> err, std::string msg, TE ev, std::string cause,
              CallEndedBy by = CallEndedBy::local_stopccn);
    /// Tunnel down (no StopCCN of ours here: received one, transport failure, or after stop()):
    /// every session ends with one call_ended upcall (Result 1, `by`), then tunnel_down().
    void down(TE ev, const std::string& cause, CallEndedBy by);
    void send(L2TP m, bool hide = false);
    void touch();
    /// O(1): the sessions are hashed by our Session ID.
    Session* session(std::uint16_t id) const {
        auto it = sessions_.find(id);
        return it == sessions_.end() ? nullptr : it->second.get();
    }
    bool authenticating() const { return !policy_.secret.empty(); }
    Session* create_session(int role);
    /// §5.4: Session ID 0 is the tunnel itself, so a tunnel carries at most 65 535 sessions.
    bool full() const { return sessions_.size() >= 65535; }
    void tunnel_up();
    void start_waiting();
    void discard_early(Session& s, const char* why);
    void deliver_early(SessionKey k, std::vector<std::vector<std::uint8_t>> frames);
    std::uint64_t tie_breaker() const { return tie_breaker_; }

    Engine& e_;
    PeerId peer_;
    std::uint16_t id_;
    std::uint16_t peer_id_ = 0;
    ReliableChannel ch_;
    core::Fsm<Tunnel, TS, TE> fsm_;
    core::Timer hello_;
    // Before sessions_: a Session's destructor gives its ID and setup slot back to these.
    IdPool sids_;                          // our Session IDs in use (O(1) random allocation)
    std::size_t sessions_setup_ = 0;       // incoming calls (ICRQ answered) not yet connected
    std::unordered_map<std::uint16_t, std::unique_ptr<Session>> sessions_;
    std::vector<std::uint16_t> waiting_;   // Session IDs placed while the tunnel was not up (FIFO)
    std::vector<std::uint8_t> challenge_;  // ours, sent in SCCRQ/SCCRP
    PeerPolicy policy_;                    // secret / hiding of this tunnel (§4.3, §5.1.1)
    std::uint64_t serial_ = 0;             // creation order (newest tunnel to a peer)
    std::uint64_t tie_breaker_ = 0;
    std::uint64_t host_ = 0;               // Engine::peer_host(peer_): the per-peer limits' key
    bool closing_ = false;
    // The peer's Bearer / Framing Capabilities (§4.4.3) from its SCCRQ / SCCRP; 0 when absent.
    std::uint32_t peer_bearer_caps_ = 0, peer_framing_caps_ = 0;
    std::string peer_host_;  // the peer's Host Name AVP
    bool up_ = false;                      // reached established once (TunnelAdmission)
    bool refused_ = false;                 // an SCCRQ refused by PeerPolicy::accept
    bool calls_refused_ = false;           // Engine::refuse_calls: new ICRQ / OCRQ get CDN 3
    std::string calls_refused_message_;
    bool opened_here_ = false;  // we sent the SCCRQ (Direction::outgoing)

private:
    void on_sccrq(L2TP& m);
    void on_sccrp(L2TP& m);
    void on_scccn(L2TP& m);
    void on_stopccn(L2TP& m);
    void on_session_msg(L2TP& m, std::uint16_t type);
    bool apply_peer_params(L2TP& m);
    bool host_name_refused(L2TP& m, TE ev);
};

// ---------------------------------------------------------------------------------------------
// Session FSMs: RFC 2661 §7.4.1 (LAC incoming), §7.4.2 (LNS incoming), §7.5.1 (LAC outgoing),
// §7.5.2 (LNS outgoing), in one table with the RFC's state names.
using SS = SessionState;  // engine.hpp: the §7.4 / §7.5 states, public for SessionChange
enum class SE { call_request, tunnel_up, recv_icrq, recv_icrp, recv_iccn, recv_ocrq, recv_ocrp, recv_occn, accept,
                bearer_up, recv_cdn, disconnect, tunnel_down };
enum Role { lns_outgoing, lac_outgoing, lac_incoming, lns_incoming };

class Session {
public:
    using Spec = core::FsmSpec<Session, SS, SE>;
    static const Spec& spec() {
        static const Spec s{
            "l2tp.session",
            {"idle", "wait-tunnel", "wait-reply", "wait-connect", "wait-cs-answer", "established"},
            {"call-request", "tunnel-up", "recv-ICRQ", "recv-ICRP", "recv-ICCN", "recv-OCRQ", "recv-OCRP", "recv-OCCN",
             "accept", "bearer-up", "recv-CDN", "disconnect", "tunnel-down"},
            {{SS::idle, SE::call_request, SS::wait_tunnel},
             {SS::wait_tunnel, SE::tunnel_up, SS::wait_reply},
             {SS::idle, SE::recv_icrq, SS::wait_connect},      // §7.4.2
             {SS::wait_reply, SE::recv_icrp, SS::established},  // §7.4.1 (ICCN sent)
             {SS::wait_connect, SE::recv_iccn, SS::established},
             {SS::idle, SE::recv_ocrq, SS::wait_cs_answer},     // §7.5.1
             {SS::wait_cs_answer, SE::accept, SS::wait_cs_answer},
             {SS::wait_cs_answer, SE::bearer_up, SS::established},
             {SS::wait_reply, SE::recv_ocrp, SS::wait_connect},  // §7.5.2
             {SS::wait_connect, SE::recv_occn, SS::established},
             {SS::wait_tunnel, SE::recv_cdn, SS::idle},
             {SS::wait_reply, SE::recv_cdn, SS::idle},
             {SS::wait_connect, SE::recv_cdn, SS::idle},
             {SS::wait_cs_answer, SE::recv_cdn, SS::idle},
             {SS::established, SE::recv_cdn, SS::idle},
             {SS::wait_tunnel, SE::disconnect, SS::idle},
             {SS::wait_reply, SE::disconnect, SS::idle},
             {SS::wait_connect, SE::disconnect, SS::idle},
             {SS::wait_cs_answer, SE::disconnect, SS::idle},
             {SS::established, SE::disconnect, SS::idle},
             {SS::wait_tunnel, SE::tunnel_down, SS::idle},
             {SS::wait_reply, SE::tunnel_down, SS::idle},
             {SS::wait_connect, SE::tunnel_down, SS::idle},
             {SS::wait_cs_answer, SE::tunnel_down, SS::idle},
             {SS::established, SE::tunnel_down, SS::idle}},
            std::nullopt,
            &Session::on_change};
        return s;
    }
    Session(Tunnel& t, std::uint16_t id, int role)
        : t_(t), id_(id), role_(role),
          fsm_(spec(), {t.e_.bus_, t.e_.timers_, t.e_.registry_}, *this,
               std::to_string(t.id_) + "/" + std::to_string(id), SS::idle),
          setup_timer_(*t.e_.timers_) {}
    ~Session() {
        t_.sids_.release(id_);
        setup_done();
    }
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    SessionKey key() const { return {t_.id_, id_}; }
    /// An incoming call leaves its tunnel's setup count (connected or gone).
    void setup_done() {
        if (in_setup_ && t_.sessions_setup_) --t_.sessions_setup_;
        in_setup_ = false;
        setup_timer_.cancel();
    }
    /// The FSM's observer: every change goes up as EngineCallbacks::session_changed.
    static void on_change(Session& s, const Spec::Change& c) {
        if (!s.t_.e_.cb_.session_changed) return;
        const bool out = s.role_ == lns_outgoing || s.role_ == lac_outgoing;
        s.t_.e_.cb_.session_changed({s.key(), s.t_.peer_, out ? Direction::outgoing : Direction::incoming,
                                     c.from.value_or(c.to), c.to, spec().name(c.event), c.cause, c.permitted});
    }

    Tunnel& t_;
    std::uint16_t id_;
    std::uint16_t peer_id_ = 0;
    int role_;
    bool sequencing_ = false;
    bool accepted_ = false;  // LAC outgoing: OCRP sent
    std::uint16_t data_ns_ = 0, data_nr_ = 0;
    /// Data received before OCCN / ICCN (EngineConfig::early_data_frames); stays empty (no
    /// allocation) for the usual call whose first frame follows its OCCN / ICCN.
    std::vector<std::vector<std::uint8_t>> early_;
    OutgoingCall out_;
    std::unique_ptr<IncomingCall> in_;
    core::Fsm<Session, SS, SE> fsm_;
    bool in_setup_ = false;      // counted in t_.sessions_setup_
    core::Timer setup_timer_;    // `call-setup`: ICRP sent, ICCN awaited
};

// ---------------------------------------------------------------------------------------------

namespace {
bool is_session_type(std::uint16_t t) {
    const auto* info = message_info(t);
    return info && info->scope == Scope::session;
}
ControlHeader hdr(std::uint16_t session = 0) { return {0, session, 0, 0}; }
const AvpType kHiddenSessionAvps[] = {AvpType::CalledNumber, AvpType::CallingNumber, AvpType::SubAddress,
                                      AvpType::ProxyAuthenName, AvpType::ProxyAuthenChallenge,
                                      AvpType::ProxyAuthenResponse, AvpType::Accm};
}  // namespace

Tunnel::Tunnel(Engine& e, PeerId peer, std::uint16_t id, PeerPolicy policy)
    : e_(e), peer_(peer), id_(id),
      ch_(*e.timers_,
          ReliableConfig{e.cfg_.receive_window, 4, e.cfg_.max_retransmits, e.registry_->get("retransmit"),
                         e.registry_->get("retransmit-cap"), e.registry_->get("zlb-ack"), e.cfg_.reorder_packets,
                         e.cfg_.reorder_bytes},
          ReliableChannel::Callbacks{
              [this](std::vector<std::uint8_t> b) {
                  if (e_.cb_.send) e_.cb_.send(peer_, std::move(b));
              },
              [this](L2TP& m) { handle(m); },
              [this](const std::string& cause) { down(TE::failure, cause, CallEndedBy::timeout); },
              [this] { ++e_.stats_.reorder_dropped; }, [this] { ++e_.stats_.outside_window; }}),
      fsm_(spec(), {e.bus_, e.timers_, e.registry_}, *this, std::to_string(id), TS::idle),
      hello_(*e.timers_), policy_(std::move(policy)), serial_(++e.tunnel_serial_), host_(e.peer_host(peer)) {
    if (policy_.secret.empty()) policy_.hide_avps = false;  // nothing to hide with
    ch_.set_initial_sequence(e.initial_ns_, e.initial_nr_);
}

void Tunnel::touch() {
    if (fsm_.state() != TS::established) {
        // A connection that does not reach established within the hello interval is abandoned
        // (e.g. SCCRP acknowledged but no SCCCN ever sent): never a stuck state.
        if (!hello_.armed())
            hello_.start(e_.registry_->get("hello"), [this] {
                if (fsm_.state() != TS::established)
                    stop(StopCcnResult::GeneralError, GeneralError::NoError, "control connection setup timed out",
                         TE::close, "setup timeout", CallEndedBy::timeout);
            });
        return;
    }
    hello_.start(e_.registry_->get("hello"), [this] {
        // §6.5: a HELLO after the idle interval; its loss is detected by the reliable channel.
        send(make_hello(hdr()));
    });
}

void Tunnel::send(L2TP m, bool hide) {
    if (hide && policy_.hide_avps) {
        for (AvpType t : kHiddenSessionAvps)
            if (m.find(t)) m.set_hidden(t);
        m.set_hiding(policy_.secret);
    }
    ch_.send(std::move(m));
}

void Tunnel::start_open() {
    SccrqParams p;
    p.assigned_tunnel_id = id_;
    p.host_name = e_.cfg_.host_name;
    p.framing_capabilities = e_.cfg_.framing_capabilities;
    p.bearer_capabilities = e_.cfg_.bearer_capabilities;
    p.receive_window_size = e_.cfg_.receive_window;
    p.firmware_revision = e_.cfg_.firmware_revision;
    p.vendor_name = e_.cfg_.vendor_name;
    tie_breaker_ = e_.rng_->u64();
    p.tie_breaker = tie_breaker_;
    if (authenticating()) {
        challenge_.resize(16);
        e_.rng_->fill(challenge_);
        p.challenge = challenge_;
    }
    opened_here_ = true;
    fsm_.dispatch(TE::open, "local open");
    send(make_sccrq(p));
    touch();
}

bool Tunnel::apply_peer_params(L2TP& m) {
    auto tid = m.assigned_tunnel_id();
    if (!tid || *tid == 0) return false;
    peer_id_ = *tid;
    ch_.set_peer_tunnel_id(peer_id_);
    ch_.set_peer_window(m.receive_window_size().value_or(4));  // §4.4.3: 4 when absent
    peer_bearer_caps_ = m.bearer_capabilities().value_or(0);    // absent: no outgoing calls
    peer_framing_caps_ = m.framing_capabilities().value_or(0);
    peer_host_ = m.host_name().value_or("");
    return true;
}

bool Tunnel::host_name_refused(L2TP& m, TE ev) {
    // JunosE "Implementing L2TP": the LNS checks the peer's host name (and tunnel password).
    if (!policy_.peer_host_name) return false;
    const auto name = m.host_name();
    if (name && *name == *policy_.peer_host_name) return false;
    ++e_.stats_.host_name_refused;
    if (ev == TE::recv_sccrq_bad) e_.by_peer_tid_[{peer_, peer_id_}] = id_;  // its retransmissions reach us
    const std::string why = "Host Name " + (name ? "'" + *name + "'" : std::string("absent")) +
                            " is not the configured '" + *policy_.peer_host_name + "'";
    // An SCCRQ refused like PeerPolicy::accept = false (event `refused`: the owner counts it).
    e_.publish("l2tp.tunnel", std::to_string(id_), ev == TE::recv_sccrq_bad ? "refused" : "host-name-refused", why,
               {{"result", static_cast<int>(StopCcnResult::NotAuthorized)}});
    stop(StopCcnResult::NotAuthorized, std::nullopt, "host name not authorized", ev, why);
    return true;
}

void Tunnel::handle(L2TP& m) {
    // Typed accessors throw ParseError on a value of the wrong length; such a message has been
    // sequenced and is acknowledged, but is otherwise counted and logged as invalid.
    try {
        handle_checked(m);
    } catch (const std::exception& ex) {
        ++e_.stats_.invalid;
        e_.publish("l2tp.tunnel", std::to_string(id_), "invalid-message", ex.what());
    }
}

void Tunnel::handle_checked(L2TP& m) {
    if (closing_) return;
    const std::uint16_t type = m.message_type().value_or(0);
    if (const Avp* bad = first_unknown_mandatory_avp(m)) {
        // §4.1: unknown AVP with M set → tear down the tunnel or the session, Result 2 / Error 8.
        e_.publish("l2tp.tunnel", std::to_string(id_), "unknown-mandatory-avp",
                   "vendor " + std::to_string(bad->vendor_id()) + " type " + std::to_string(bad->type()));
        if (is_session_type(type) && m.session_id() != 0) {
            if (Session* s = session(m.session_id())) {
                e_.clear_call(s->key(), CdnResult::GeneralError, GeneralError::UnknownMandatoryAvp, std::nullopt, {},
                              CallEndedBy::engine_cdn);
                return;
            }
        }
        stop(StopCcnResult::GeneralError, GeneralError::UnknownMandatoryAvp, "unknown mandatory AVP", TE::close,
             "unknown mandatory AVP");
        return;
    }
    if (!m.is_zlb() && m.avps()[0].is(AvpType::MessageType) && !message_info(type)) {
        // §4.4.1: the M bit of the Message Type AVP says whether an unknown message may be ignored.
        ++e_.stats_.unknown_message_type;
        const bool mandatory = m.avps()[0].mandatory();
        const std::string what = "unknown Message Type " + std::to_string(type) + (mandatory ? " with" : " without") +
                                 " the M bit";
        e_.publish("l2tp.tunnel", std::to_string(id_), "unknown-message-type", what);
        if (mandatory)
            stop(StopCcnResult::GeneralError, GeneralError::OutOfRange, what, TE::close, what + " (RFC 2661 §4.4.1)");
        return;
    }
    if (auto err = check(m)) {
        ++e_.stats_.invalid;
        e_.publish("l2tp.tunnel", std::to_string(id_), "invalid-message", err->what());
        return;
    }
    switch (static_cast<MessageType>(type)) {
        case MessageType::SCCRQ: on_sccrq(m); break;
        case MessageType::SCCRP: on_sccrp(m); break;
        case MessageType::SCCCN: on_scccn(m); break;
        case MessageType::StopCCN: on_stopccn(m); break;
        case MessageType::HELLO: break;  // acknowledged by the channel
        default:
            if (fsm_.state() != TS::established) {
                ++e_.stats_.not_permitted;
                e_.publish("l2tp.tunnel", std::to_string(id_), "not-permitted",
                           std::string(message_name(type)) + " before established");
                return;
            }
            on_session_msg(m, type);
    }
}

void Tunnel::on_sccrq(L2TP& m) {
    if (!apply_peer_params(m)) {
        fsm_.dispatch(TE::recv_sccrq_bad, "no Assigned Tunnel ID");
        return;
    }
    if (auto pv = m.protocol_version(); pv && (pv->version != 1 || pv->revision != 0)) {
        // §4.4.2 Result Code 5: the Error Code carries the highest version we support (1.0).
        stop(StopCcnResult::UnsupportedProtocolVersion, static_cast<GeneralError>(0x0100), {}, TE::recv_sccrq_bad,
             "Protocol Version " + std::to_string(pv->version) + "." + std::to_string(pv->revision));
        return;
    }
    if (!policy_.accept) {
        // §4.4.2 StopCCN Result Code (4 unless the policy says otherwise): refused up front, no SCCRP.
        // The peer's Tunnel ID is indexed so its SCCRQ retransmissions reach this (closing) tunnel.
        ++e_.stats_.refused;
        refused_ = true;  // held for tunnel-hold under TunnelLimits::max_refused_held
        e_.by_peer_tid_[{peer_, peer_id_}] = id_;
        const std::string why = policy_.refuse_message.empty() ? "refused by policy" : policy_.refuse_message;
        changed(TunnelChange::What::refused, TS::idle, TS::idle, "refused", why);
        e_.publish("l2tp.tunnel", std::to_string(id_), "refused", why,
                   {{"result", static_cast<int>(policy_.refuse_result)}});
        stop(policy_.refuse_result, policy_.refuse_error, policy_.refuse_message, TE::recv_sccrq_bad, why);
        return;
    }
    if (host_name_refused(m, TE::recv_sccrq_bad)) return;
    auto peer_chal = m.challenge();
    if (authenticating() && !peer_chal) {
        ++e_.stats_.auth_failures;
        stop(StopCcnResult::NotAuthorized, std::nullopt, "challenge required", TE::recv_sccrq_bad,
             "no Challenge (RFC 2661 §5.1.1)");
        return;
    }
    if (!fsm_.dispatch(TE::recv_sccrq_ok, "SCCRQ from " + m.host_name().value_or("?"))) return;
    e_.by_peer_tid_[{peer_, peer_id_}] = id_;  // recognises the peer's SCCRQ retransmissions
    SccrpParams p;
    p.assigned_tunnel_id = id_;
    p.host_name = e_.cfg_.host_name;
    p.framing_capabilities = e_.cfg_.framing_capabilities;
    p.bearer_capabilities = e_.cfg_.bearer_capabilities;
    p.receive_window_size = e_.cfg_.receive_window;
    p.firmware_revision = e_.cfg_.firmware_revision;
    p.vendor_name = e_.cfg_.vendor_name;
    if (authenticating()) {
        p.challenge_response = challenge_response(2, policy_.secret, *peer_chal);
        challenge_.resize(16);
        e_.rng_->fill(challenge_);
        p.challenge = challenge_;
    }
    send(make_sccrp(p));
}

void Tunnel::on_sccrp(L2TP& m) {
    if (fsm_.state() != TS::wait_ctl_reply) {
        fsm_.dispatch(TE::recv_sccrp_ok, "unexpected SCCRP");  // not permitted: logged + counted
        ++e_.stats_.not_permitted;
        return;
    }
    if (!apply_peer_params(m)) {
        stop(StopCcnResult::GeneralError, GeneralError::OutOfRange, "no Assigned Tunnel ID", TE::recv_sccrp_bad,
             "no Assigned Tunnel ID");
        return;
    }
    if (host_name_refused(m, TE::recv_sccrp_bad)) return;
    std::optional<std::array<std::uint8_t, 16>> ours;
    if (authenticating()) {
        auto resp = m.challenge_response();
        auto want = challenge_response(2, policy_.secret, challenge_);
        auto chal = m.challenge();
        if (!resp || std::memcmp(resp->data(), want.data(), 16) != 0 || !chal) {
            ++e_.stats_.auth_failures;
            stop(StopCcnResult::NotAuthorized, std::nullopt, "bad Challenge Response", TE::recv_sccrp_bad,
                 resp ? "wrong Challenge Response" : "no Challenge Response");
            return;
        }
        ours = challenge_response(3, policy_.secret, *chal);
    }
    send(make_scccn({hdr(), ours}));
    fsm_.dispatch(TE::recv_sccrp_ok, "SCCRP from " + m.host_name().value_or("?"));
    tunnel_up();
}

void Tunnel::on_scccn(L2TP& m) {
    if (fsm_.state() != TS::wait_ctl_conn) {
        fsm_.dispatch(TE::recv_scccn_ok, "unexpected SCCCN");
        ++e_.stats_.not_permitted;
        return;
    }
    if (authenticating()) {
        auto resp = m.challenge_response();
        auto want = challenge_response(3, policy_.secret, challenge_);
        if (!resp || std::memcmp(resp->data(), want.data(), 16) != 0) {
            ++e_.stats_.auth_failures;
            stop(StopCcnResult::NotAuthorized, std::nullopt, "bad Challenge Response", TE::recv_scccn_bad,
                 resp ? "wrong Challenge Response" : "no Challenge Response");
            return;
        }
    }
    fsm_.dispatch(TE::recv_scccn_ok, "SCCCN");
    tunnel_up();
}

void Tunnel::tunnel_up() {
    if (!up_) {
        up_ = true;
        e_.admission_.established(host_);
    }
    touch();
    if (e_.cb_.tunnel_up) e_.cb_.tunnel_up(id_, peer_);
    start_waiting();
}

void Tunnel::start_waiting() {
    // O(calls waiting), not O(sessions): only the calls placed since the last time are visited.
    std::vector<std::uint16_t> waiting = std::move(waiting_);
    waiting_.clear();
    for (std::uint16_t sid : waiting) {
        Session* s = session(sid);
        if (!s || s->fsm_.state() != SS::wait_tunnel) continue;  // cleared meanwhile
        if (s->role_ == lns_outgoing) {
            // §4.4.3 / §4.4.5: only Bearer / Framing Type bits the LAC advertised.
            const std::uint32_t bearer = s->out_.bearer_type & peer_bearer_caps_;
            const std::uint32_t framing = s->out_.framing_type & peer_framing_caps_;
            if ((s->out_.bearer_type != 0 && bearer == 0) || (s->out_.framing_type != 0 && framing == 0)) {
                ++e_.stats_.capability_refused;
                const bool b = s->out_.bearer_type != 0 && bearer == 0;
                const std::string why = std::string(b ? "Bearer" : "Framing") + " Type " +
                                        std::to_string(b ? s->out_.bearer_type : s->out_.framing_type) +
                                        " not in the LAC's " + (b ? "Bearer" : "Framing") + " Capabilities " +
                                        std::to_string(b ? peer_bearer_caps_ : peer_framing_caps_) +
                                        " (RFC 2661 §4.4.3)";
                s->fsm_.dispatch(SE::disconnect, why);
                const SessionKey k = s->key();
                sessions_.erase(sid);
                e_.call_ended(k, CallFailure{static_cast<std::uint16_t>(CdnResult::NoFacilitiesPermanent),
                                             std::nullopt, why, std::nullopt, CallEndedBy::not_placed});
                if (closing_) return;  // the upcall closed the tunnel
                continue;
            }
            s->fsm_.dispatch(SE::tunnel_up, "tunnel established");
            OcrqParams p{hdr(), s->out_.called_number, s->out_.sub_address, s->out_.min_bps, s->out_.max_bps,
                         bearer, framing, s->id_, s->out_.call_serial_number};
            send(make_ocrq(p), true);
        } else {
            s->fsm_.dispatch(SE::tunnel_up, "tunnel established");
            IcrqParams p;
            p.assigned_session_id = s->id_;
            p.call_serial_number = s->in_->call_serial_number;
            p.calling_number = s->in_->calling_number;
            p.called_number = s->in_->called_number;
            send(make_icrq(p), true);
        }
    }
}

void Tunnel::on_stopccn(L2TP& m) {
    auto rc = m.result_code();
    std::string cause = "StopCCN result " + std::to_string(rc ? rc->result : 0);
    if (rc && rc->error) cause += " error " + std::to_string(*rc->error);
    if (rc && rc->message) cause += " (" + *rc->message + ")";
    if (peer_id_ == 0) {
        // §6.4: a StopCCN answering our SCCRQ (refused before any SCCRP) names the peer's tunnel in
        // its Assigned Tunnel ID: our acknowledgement goes there, else the peer retransmits it.
        if (auto tid = m.assigned_tunnel_id(); tid && *tid != 0) {
            peer_id_ = *tid;
            ch_.set_peer_tunnel_id(peer_id_);
        }
    }
    ch_.send_zlb();  // §5.7: acknowledge at once
    down(TE::recv_stopccn, cause, CallEndedBy::peer_stopccn);
}

void Tunnel::down(TE ev, const std::string& cause, CallEndedBy by) {
    if (closing_) return;
    closing_ = true;
    e_.admission_.closing(host_, !up_, refused_);
    hello_.cancel();
    fsm_.dispatch(ev, cause);
    // Every session leaves the tunnel before the first upcall: a callback that disconnect()s
    // another session of this tunnel finds it gone (false, no second upcall), and one that places
    // a call gets a new tunnel (tunnel_to skips a closing one). Ascending Session ID: deterministic.
    std::vector<std::unique_ptr<Session>> gone;
    gone.reserve(sessions_.size());
    for (auto& [sid, s] : sessions_) gone.push_back(std::move(s));
    sessions_.clear();
    waiting_.clear();
    std::sort(gone.begin(), gone.end(), [](const auto& a, const auto& b) { return a->id_ < b->id_; });
    for (auto& s : gone) {
        s->fsm_.dispatch(SE::tunnel_down, cause);
        discard_early(*s, "tunnel down");
        const SessionKey k = s->key();
        s.reset();
        e_.call_ended(k, CallFailure{static_cast<std::uint16_t>(CdnResult::LossOfCarrier), std::nullopt, cause,
                                     std::nullopt, by});
    }
    if (ev == TE::failure) ch_.stop();
    if (e_.cb_.tunnel_down) e_.cb_.tunnel_down(id_, cause);
    e_.erase_later(id_);
}

void Tunnel::stop(StopCcnResult r, std::optional<GeneralError> err, std::string msg, TE ev, std::string cause,
                  CallEndedBy by) {
    if (closing_) return;
    StopccnParams p;
    p.assigned_tunnel_id = id_;
    p.result = r;
    p.error = err;
    if (!msg.empty()) {
        if (!p.error) p.error = GeneralError::NoError;
        p.error_message = std::move(msg);
    }
    send(make_stopccn(p));
    down(ev, cause + " (StopCCN result " + std::to_string(static_cast<int>(r)) + ")", by);
}

void Tunnel::discard_early(Session& s, const char* why) {
    if (s.early_.empty()) return;
    e_.stats_.data_early_discarded += s.early_.size();
    e_.publish("l2tp.session", s.fsm_.id(), "early-data-discarded", why, {{"frames", s.early_.size()}});
    s.early_.clear();
    s.early_.shrink_to_fit();
}

void Tunnel::deliver_early(SessionKey k, std::vector<std::vector<std::uint8_t>> frames) {
    if (frames.empty()) return;
    std::size_t done = 0;
    for (; done < frames.size(); ++done) {
        // Every upcall may clear the call (disconnect) or the tunnel: look the session up each time.
        Session* s = closing_ ? nullptr : session(k.session);
        if (!s || s->fsm_.state() != SS::established) break;
        ++e_.stats_.data_early_delivered;
        ++e_.stats_.data_in;
        if (e_.cb_.ppp_frame) e_.cb_.ppp_frame(k, frames[done]);
    }
    const std::size_t lost = frames.size() - done;
    e_.stats_.data_early_discarded += lost;
    e_.publish("l2tp.session", std::to_string(k.tunnel) + "/" + std::to_string(k.session), "early-data-delivered",
               lost ? "call cleared while delivering" : "", {{"frames", done}, {"discarded", lost}});
}

Session* Tunnel::create_session(int role) {
    // §5.4: up to 65 535 sessions per tunnel (Session ID 0 is the tunnel itself).
    if (full()) return nullptr;
    auto id = sids_.allocate(*e_.rng_);
    if (!id) return nullptr;
    const std::uint16_t sid = *id;
    auto s = std::make_unique<Session>(*this, sid, role);
    Session* ref = s.get();
    sessions_.emplace(sid, std::move(s));
    return ref;
}

void Tunnel::on_session_msg(L2TP& m, std::uint16_t type) {
    const auto mt = static_cast<MessageType>(type);
    if (mt == MessageType::ICRQ || mt == MessageType::OCRQ) {
        auto peer_sid = m.assigned_session_id();
        if (!peer_sid) {  // hidden and undecodable
            ++e_.stats_.invalid;
            e_.publish("l2tp.tunnel", std::to_string(id_), "invalid-message", "no readable Assigned Session ID");
            return;
        }
        if (mt == MessageType::ICRQ && e_.cfg_.send_queue != 0 && ch_.queued() >= e_.cfg_.send_queue) {
            // ICRQs only: an LNS answering a burst of OCRQs (a LAC's OCRP + OCCN each) queues two
            // replies per call behind the LNS's window; dropping those after the channel has
            // acknowledged them would lose the calls for good (the LNS never retransmits them).
            // The peer acknowledges none of our replies yet keeps asking: no session, no answer
            // (its own call timer clears its side), counted; the queue stays bounded.
            ++e_.stats_.send_queue_overflows;
            return;
        }
        if (calls_refused_) {  // the tunnel is shut down / drained by the owner (Engine::refuse_calls)
            ++e_.stats_.calls_refused;
            CdnParams p;
            p.header.session_id = *peer_sid;
            p.result = CdnResult::Administrative;
            p.error = GeneralError::NoError;
            p.error_message = calls_refused_message_;
            send(make_cdn(p));
            return;
        }
        const std::size_t cap = e_.cfg_.limits.max_sessions_setup_per_tunnel;
        const bool full = mt == MessageType::ICRQ && cap != 0 && sessions_setup_ >= cap;
        if (full) ++e_.stats_.sessions_refused_setup;
        Session* sp = full ? nullptr : create_session(mt == MessageType::ICRQ ? lns_incoming : lac_outgoing);
        if (!sp) {
            CdnParams p;
            p.header.session_id = *peer_sid;
            p.result = CdnResult::NoFacilitiesTemporary;
            p.error = GeneralError::InsufficientResources;
            send(make_cdn(p));
            return;
        }
        Session& s = *sp;
        s.peer_id_ = *peer_sid;
        if (mt == MessageType::ICRQ) {
            s.in_setup_ = true;
            ++sessions_setup_;
            // A call the peer never completes (no ICCN) is cleared after `call-setup`: CDN Result
            // Code 10, "not established within time allotted" (RFC 2661 §4.4.2), with a message.
            s.setup_timer_.start(e_.registry_->get("call-setup"), [this, sid = s.id_] {
                Session* x = session(sid);
                if (!x || x->fsm_.state() != SS::wait_connect) return;
                ++e_.stats_.call_setup_timeouts;
                e_.clear_call(x->key(), CdnResult::Timeout, GeneralError::NoError, std::nullopt,
                              "no ICCN within call-setup", CallEndedBy::timeout);
            });
            s.in_ = std::make_unique<IncomingCall>();
            s.in_->call_serial_number = m.call_serial_number().value_or(0);
            s.in_->calling_number = m.calling_number();
            s.in_->called_number = m.called_number();
            s.fsm_.dispatch(SE::recv_icrq, "ICRQ");
            send(make_icrp({{0, s.peer_id_, 0, 0}, s.id_, std::nullopt}));
        } else {
            s.out_.called_number = m.called_number().value_or("");
            s.out_.sub_address = m.sub_address();
            s.out_.min_bps = m.minimum_bps().value_or(0);
            s.out_.max_bps = m.maximum_bps().value_or(0);
            s.out_.bearer_type = m.bearer_type().value_or(0);
            s.out_.framing_type = m.framing_type().value_or(0);
            s.out_.call_serial_number = m.call_serial_number().value_or(0);
            s.fsm_.dispatch(SE::recv_ocrq, "OCRQ to " + s.out_.called_number);
            if (e_.cb_.ocrq) e_.cb_.ocrq(s.key(), s.out_);
        }
        return;
    }
    Session* s = session(m.session_id());
    if (!s && mt == MessageType::CDN && m.session_id() == 0) {
        // A CDN sent before its sender knew our Session ID (e.g. OCRQ not yet answered) carries
        // Session ID 0; its Assigned Session ID names the sender's session (§6.12).
        if (auto theirs = m.assigned_session_id())
            for (auto& [sid, x] : sessions_)
                if (x->peer_id_ == *theirs) s = x.get();
    }
    if (!s) {
        ++e_.stats_.unknown_session;
        e_.publish("l2tp.session", std::to_string(id_) + "/" + std::to_string(m.session_id()), "unknown-session",
                   std::string(message_name(type)));
        return;
    }
    switch (mt) {
        case MessageType::ICRP:
        case MessageType::OCRP: {
            auto sid = m.assigned_session_id();
            if (sid) s->peer_id_ = *sid;
            if (!s->fsm_.dispatch(mt == MessageType::ICRP ? SE::recv_icrp : SE::recv_ocrp, message_name(type))) {
                ++e_.stats_.not_permitted;
                return;
            }
            if (mt == MessageType::ICRP) {
                const IncomingCall& c = *s->in_;
                IccnParams p;
                p.header.session_id = s->peer_id_;
                p.tx_connect_speed = c.tx_connect_speed;
                p.rx_connect_speed = c.rx_connect_speed;
                p.framing_type = c.framing_type;
                p.initial_received_lcp_confreq = c.initial_received_lcp_confreq;
                p.last_sent_lcp_confreq = c.last_sent_lcp_confreq;
                p.last_received_lcp_confreq = c.last_received_lcp_confreq;
                if (c.proxy_authen_type) p.proxy_authen_type = static_cast<ProxyAuthenType>(*c.proxy_authen_type);
                p.proxy_authen_name = c.proxy_authen_name;
                p.proxy_authen_challenge = c.proxy_authen_challenge;
                p.proxy_authen_id = c.proxy_authen_id;
                p.proxy_authen_response = c.proxy_authen_response;
                send(make_iccn(p), true);
                if (e_.cb_.connected) e_.cb_.connected(s->key(), {c.tx_connect_speed, c.rx_connect_speed, c.framing_type,
                                                                  s->sequencing_, std::nullopt});
            }
            break;
        }
        case MessageType::ICCN:
        case MessageType::OCCN: {
            ConnectInfo ci;
            ci.tx_connect_speed = m.tx_connect_speed().value_or(0);
            ci.rx_connect_speed = m.rx_connect_speed();
            ci.framing_type = m.framing_type().value_or(0);
            // Sequenced early data (Engine::receive) already turned sequencing on (§5.9).
            s->sequencing_ = s->sequencing_ || m.sequencing_required() || e_.cfg_.require_sequencing;
            ci.sequencing = s->sequencing_;
            if (mt == MessageType::ICCN && s->in_) {
                IncomingCall& c = *s->in_;
                c.tx_connect_speed = ci.tx_connect_speed;
                c.rx_connect_speed = ci.rx_connect_speed;
                c.framing_type = ci.framing_type;
                c.initial_received_lcp_confreq = m.initial_received_lcp_confreq();
                c.last_sent_lcp_confreq = m.last_sent_lcp_confreq();
                c.last_received_lcp_confreq = m.last_received_lcp_confreq();
                c.proxy_authen_type = m.proxy_authen_type();
                c.proxy_authen_name = m.proxy_authen_name();
                c.proxy_authen_challenge = m.proxy_authen_challenge();
                c.proxy_authen_id = m.proxy_authen_id();
                c.proxy_authen_response = m.proxy_authen_response();
                c.sequencing_required = m.sequencing_required();
                ci.incoming = c;
            }
            if (!s->fsm_.dispatch(mt == MessageType::ICCN ? SE::recv_iccn : SE::recv_occn, message_name(type))) {
                ++e_.stats_.not_permitted;
                return;
            }
            s->setup_done();
            // Early data goes up strictly after connected(): that upcall is what creates the
            // upper layer's PPP session (lnsd: Lns::on_connected_cb -> DialOutWiring).
            const SessionKey k = s->key();
            std::vector<std::vector<std::uint8_t>> early;
            early.swap(s->early_);
            if (e_.cb_.connected) e_.cb_.connected(k, ci);
            deliver_early(k, std::move(early));  // s may be gone: connected() may have cleared the call
            break;
        }
        case MessageType::CDN: {
            CallFailure f;
            if (auto rc = m.result_code()) {
                f.result = rc->result;
                f.error = rc->error;
                f.message = rc->message;
            }
            f.q931 = m.q931_cause_code();
            f.ended_by = CallEndedBy::peer_cdn;
            s->fsm_.dispatch(SE::recv_cdn, "CDN result " + std::to_string(f.result));
            discard_early(*s, "CDN received");
            SessionKey k = s->key();
            sessions_.erase(s->id_);
            e_.call_ended(k, f);
            break;
        }
        case MessageType::WEN:
            if (auto ce = m.call_errors()) {
                e_.publish("l2tp.session", s->fsm_.id(), "WEN-received", "",
                           {{"crc", ce->crc_errors}, {"framing", ce->framing_errors}});
                if (e_.cb_.wen) e_.cb_.wen(s->key(), *ce);
            }
            break;
        case MessageType::SLI:
            if (auto a = m.accm()) {
                if (e_.cb_.sli) e_.cb_.sli(s->key(), *a);
            }
            break;
        default:
            ++e_.stats_.not_permitted;
            e_.publish("l2tp.tunnel", std::to_string(id_), "not-permitted", std::string(message_name(type)));
    }
}

// ---------------------------------------------------------------------------------------------

Engine::Engine(core::TimerQueue& timers, core::TimerRegistry& registry, core::EventBus& bus, EngineConfig cfg,
               EngineCallbacks cb)
    : timers_(&timers), registry_(&registry), bus_(&bus), cfg_(std::move(cfg)), cb_(std::move(cb)),
      rng_(cfg_.random           ? cfg_.random
           : cfg_.seed != 0       ? std::shared_ptr<RandomSource>(std::make_shared<SeededRandom>(cfg_.seed))
                                  : os_random()),
      admission_(cfg_.limits), reaper_(timers) {
    register_l2tp_timers(registry);
}

Engine::~Engine() = default;

std::size_t Engine::sizeof_tunnel() noexcept { return sizeof(Tunnel); }
std::size_t Engine::sizeof_session() noexcept { return sizeof(Session); }

void Engine::publish(std::string entity, std::string id, std::string event, std::string cause, nlohmann::json extra) {
    core::Event ev;
    ev.entity = std::move(entity);
    ev.id = std::move(id);
    ev.event = std::move(event);
    ev.cause = std::move(cause);
    ev.extra = std::move(extra);
    bus_->publish(std::move(ev));
}

Tunnel* Engine::find_tunnel(std::uint16_t id) const {
    auto it = tunnels_.find(id);
    return it == tunnels_.end() ? nullptr : it->second.get();
}

Tunnel* Engine::tunnel_to(PeerId peer, const PeerPolicy* policy) const {
    auto it = by_peer_.find(peer);
    if (it == by_peer_.end()) return nullptr;
    Tunnel* t = find_tunnel(it->second);
    if (t && !t->closing_ && !t->calls_refused_ && (!policy || t->policy_ == *policy)) return t;
    if (!policy) return nullptr;
    // Another policy (e.g. another Tunnel-Password) than the newest tunnel's: the newest open
    // tunnel to the peer with this one. O(tunnels), only on this rare path.
    Tunnel* best = nullptr;
    for (const auto& [id, x] : tunnels_)
        if (x->peer_ == peer && !x->closing_ && !x->calls_refused_ && x->policy_ == *policy &&
            (!best || x->serial_ > best->serial_))
            best = x.get();
    return best;
}

PeerPolicy Engine::policy_for(PeerId peer) const {
    if (cb_.peer_policy) return cb_.peer_policy(peer);
    PeerPolicy p;
    p.secret = cfg_.secret;
    p.hide_avps = cfg_.hide_avps;
    return p;
}

const PeerPolicy* Engine::tunnel_policy(std::uint16_t id) const {
    Tunnel* t = find_tunnel(id);
    return t ? &t->policy_ : nullptr;
}

void Engine::unindex(const Tunnel& t) {
    if (auto it = by_peer_.find(t.peer_); it != by_peer_.end() && it->second == t.id_) by_peer_.erase(it);
    if (auto it = by_peer_tid_.find({t.peer_, t.peer_id_}); it != by_peer_tid_.end() && it->second == t.id_)
        by_peer_tid_.erase(it);
}

Tunnel& Engine::create_tunnel(PeerId peer, PeerPolicy policy) {
    auto tid = tunnel_ids_.allocate(*rng_);  // O(1) whatever the occupancy (id_pool.hpp)
    if (!tid) throw std::length_error("65535 tunnels already (RFC 2661 §3.1 Tunnel ID)");
    const std::uint16_t id = *tid;
    auto t = std::make_unique<Tunnel>(*this, peer, id, std::move(policy));
    Tunnel& ref = *t;
    tunnels_.emplace(id, std::move(t));
    admission_.opened(ref.host_);
    by_peer_[peer] = id;  // the newest tunnel to a peer carries its new calls
    return ref;
}

void Engine::erase_later(std::uint16_t id) {
    // §5.7: the Tunnel ID (and its channel, which re-acks a retransmitted StopCCN and finishes
    // delivering ours) is kept for a full retransmission cycle before reuse.
    timers_->arm(registry_->get("tunnel-hold"), [this, id] {
        if (!find_tunnel(id)) return;
        release_tunnel(id, "tunnel-hold expired");
        publish("l2tp.tunnel", std::to_string(id), "released", "tunnel-hold expired");
    });
}

void Engine::release_tunnel(std::uint16_t id, std::string_view cause) {
    auto it = tunnels_.find(id);
    if (it == tunnels_.end()) return;
    std::unique_ptr<Tunnel> t = std::move(it->second);
    if (!t->closing_) admission_.closing(t->host_, !t->up_, false);
    if (t->refused_) admission_.refused_released();
    unindex(*t);
    tunnels_.erase(it);
    tunnel_ids_.release(id);
    t->changed(TunnelChange::What::released, t->fsm_.state(), t->fsm_.state(), "released", cause);
}

std::uint16_t Engine::open_tunnel(PeerId peer, std::optional<PeerPolicy> policy) {
    Tunnel& t = create_tunnel(peer, policy ? std::move(*policy) : policy_for(peer));
    t.start_open();
    return t.id_;
}

bool Engine::refuse_calls(std::uint16_t id, bool refuse, std::string message) {
    Tunnel* t = find_tunnel(id);
    if (!t || t->closing_) return false;
    if (t->calls_refused_ != refuse)
        publish("l2tp.tunnel", std::to_string(id), refuse ? "calls-refused" : "calls-accepted", message);
    t->calls_refused_ = refuse;
    t->calls_refused_message_ = refuse ? std::move(message) : std::string{};
    return true;
}

bool Engine::close_tunnel(std::uint16_t id, StopCcnResult r, std::optional<GeneralError> err, std::string msg) {
    Tunnel* t = find_tunnel(id);
    if (!t || t->closing_) return false;
    t->stop(r, err, std::move(msg), TE::close, "local close");
    return true;
}

void Engine::receive(PeerId peer, std::span<const std::uint8_t> d) {
    std::optional<L2TP> m;
    try {
        m.emplace(d.data(), static_cast<std::uint32_t>(d.size()));
    } catch (const dl::proto::ParseError& e) {
        ++stats_.malformed;
        publish("l2tp.tunnel", "", "malformed", e.what());
        return;
    } catch (const std::exception& e) {
        ++stats_.malformed;
        publish("l2tp.tunnel", "", "malformed", e.what());
        return;
    }
    if (m->is_data()) {
        Tunnel* t = find_tunnel(m->tunnel_id());
        Session* s = t ? t->session(m->session_id()) : nullptr;
        // Early data: the peer already has our Session ID (OCRQ / ICRP sent) but its OCCN / ICCN
        // has not arrived. Data messages are not ordered with control messages (§3.1: unreliable,
        // §5.8: only control messages are sequenced and windowed), so a LAC whose OCCN waits in
        // its send window may forward the CPE's first LCP frame first; kept, not dropped.
        const SS st = s ? s->fsm_.state() : SS::idle;
        const bool early = (st == SS::wait_reply || st == SS::wait_connect) && cfg_.early_data_frames > 0;
        if (!s || (st != SS::established && !early) || t->peer_ != peer) {
            ++stats_.unknown_session;
            return;
        }
        if (m->has_sequence()) {
            // §5.9: once the peer sends sequenced data we sequence ours too; an Ns older than
            // expected is a late (reordered) packet and is dropped; Nr on data is advisory.
            // Early data is sequenced here, at arrival, not at delivery: a late or duplicate frame
            // never takes one of the K places, data_nr_ is then what it would have been had the
            // session been established, and delivery after OCCN / ICCN is a plain FIFO flush.
            s->sequencing_ = true;
            if (seq_lt(m->ns(), s->data_nr_)) {
                ++stats_.data_dropped;
                return;
            }
        }
        if (early && s->early_.size() >= cfg_.early_data_frames) {
            ++stats_.data_early_dropped;  // bounded: like a frame lost on the way (Nr not advanced)
            return;
        }
        if (m->has_sequence()) s->data_nr_ = static_cast<std::uint16_t>(m->ns() + 1);
        if (early) {
            if (s->early_.empty())
                publish("l2tp.session", s->fsm_.id(), "early-data-kept",
                        std::string("data before ") + (s->role_ == lns_outgoing ? "OCCN" : "ICCN"));
            auto p = m->payload();
            s->early_.emplace_back(p.begin(), p.end());
            ++stats_.data_early_kept;
            return;
        }
        ++stats_.data_in;
        if (cb_.ppp_frame) cb_.ppp_frame(s->key(), m->payload());  // Offset pad already skipped by the codec
        return;
    }
    try {
        receive_control(peer, *m);
    } catch (const std::exception& e) {  // a typed accessor met a value of the wrong length
        ++stats_.invalid;
        publish("l2tp.tunnel", std::to_string(m->tunnel_id()), "invalid-message", e.what());
    }
}

void Engine::receive_control(PeerId peer, L2TP& msg) {
    L2TP* m = &msg;
    Tunnel* t = nullptr;
    bool created = false;
    if (m->tunnel_id() == 0) {
        auto type = m->is_zlb() ? std::nullopt : m->message_type();
        if (!type || *type != static_cast<std::uint16_t>(MessageType::SCCRQ)) {
            ++stats_.unknown_tunnel;
            publish("l2tp.tunnel", "0", "unknown-tunnel", "message to Tunnel ID 0 that is not an SCCRQ");
            return;
        }
        // The peer's policy decides the secret before anything is read: an SCCRQ may hide AVPs (§4.3).
        PeerPolicy policy = policy_for(peer);
        if (!policy.secret.empty()) m->unhide(policy.secret);
        // Retransmitted SCCRQ of a connection we already accepted: give it to that tunnel.
        auto atid = m->assigned_tunnel_id();
        if (atid)
            if (auto it = by_peer_tid_.find({peer, *atid}); it != by_peer_tid_.end()) t = find_tunnel(it->second);
        if (!t) {
            // §4.4.3 Tie Breaker: we also sent an SCCRQ to this peer.
            if (Tunnel* mine = tunnel_to(peer); mine && mine->fsm_.state() == TS::wait_ctl_reply) {
                // Ours always carries a Tie Breaker: lower wins; a peer's SCCRQ without one loses
                // ("the initiator which included the Tie Breaker AVP wins"); equal: both discard.
                auto theirs = m->tie_breaker();
                if (!theirs || mine->tie_breaker() < *theirs) {
                    publish("l2tp.tunnel", std::to_string(mine->id_), "tie-breaker-won",
                            theirs ? "peer's SCCRQ discarded" : "peer's SCCRQ has no Tie Breaker: discarded");
                    return;
                }
                if (mine->tie_breaker() == *theirs) {
                    // Silently: no StopCCN, no acknowledgement of the peer's SCCRQ. Calls waiting for
                    // this tunnel end (not_placed); the owner may place them again.
                    publish("l2tp.tunnel", std::to_string(mine->id_), "tie-breaker-equal",
                            "both SCCRQs discarded (RFC 2661 §4.4.3)");
                    mine->ch_.stop();
                    mine->down(TE::tie_lost, "equal Tie Breaker values (RFC 2661 §4.4.3)", CallEndedBy::not_placed);
                    return;
                }
                {
                    // We lose: our connection is discarded and the same tunnel object (same local
                    // Tunnel ID, so session keys stay valid) answers the peer's SCCRQ instead.
                    mine->ch_.reset();
                    mine->fsm_.dispatch(TE::tie_lost, "peer's Tie Breaker is lower");
                    t = mine;
                }
            }
            if (!t) {
                // Admission (admission.hpp): a new SCCRQ over a limit is dropped in O(1), silently
                // and counted: no Tunnel ID taken, no answer, no event.
                SccrqDrop d = admission_.admit(peer_host(peer), !policy.accept, policy.configured, timers_->now());
                if (d == SccrqDrop::none && tunnel_ids_.size() >= IdPool::capacity()) d = SccrqDrop::no_id;
                if (d != SccrqDrop::none) {
                    stats_.sccrq_dropped.count(d);
                    return;
                }
                t = &create_tunnel(peer, std::move(policy));
                created = true;
            }
        }
    } else {
        t = find_tunnel(m->tunnel_id());
        if (!t || t->peer_ != peer) {
            ++stats_.unknown_tunnel;
            publish("l2tp.tunnel", std::to_string(m->tunnel_id()), "unknown-tunnel", "no such tunnel");
            return;
        }
        if (t->authenticating()) m->unhide(t->policy_.secret);  // §4.3 with this tunnel's secret
    }
    if (!m->is_zlb() && !m->message_type()) {
        ++stats_.invalid;
        publish("l2tp.tunnel", std::to_string(t->id_), "invalid-message", "no Message Type AVP");
        return;
    }
    t->ch_.receive(*m);
    if (created && !t->closing_ && t->fsm_.state() == TS::idle) {
        // The SCCRQ was refused without an answer (invalid, or not Ns 0): forget the tunnel, and
        // say so (a listener keeping per-tunnel state needs no walk to find it gone).
        const std::uint16_t id = t->id_;
        release_tunnel(id, "SCCRQ not accepted");
        publish("l2tp.tunnel", std::to_string(id), "released", "SCCRQ not accepted");
        return;
    }
    // §6.5: any message from the peer (ZLBs included) restarts the Hello idle interval.
    if (!t->closing_) t->touch();
}

SessionKey Engine::place_outgoing_call(PeerId peer, const OutgoingCall& call, std::optional<PeerPolicy> policy) {
    Tunnel* t = tunnel_to(peer, policy ? &*policy : nullptr);
    // §5.4: a tunnel carries at most 65 535 sessions; the call after that opens another tunnel to
    // the same peer (RFC 2661 §3: any number of tunnels may exist between a LAC-LNS pair).
    if (t && t->full()) t = nullptr;
    bool fresh = !t;
    if (!t) t = &create_tunnel(peer, policy ? std::move(*policy) : policy_for(peer));
    Session* sp = t->create_session(lns_outgoing);
    if (!sp) throw std::length_error("65535 sessions on this tunnel already (RFC 2661 §5.4)");
    Session& s = *sp;
    s.out_ = call;
    s.fsm_.dispatch(SE::call_request, "place outgoing call to " + call.called_number);
    t->waiting_.push_back(s.id_);
    if (fresh) t->start_open();
    else if (t->fsm_.state() == TS::established) t->start_waiting();
    return s.key();
}


SessionKey Engine::place_incoming_call(PeerId peer, const IncomingCall& call) {
    Tunnel* t = tunnel_to(peer);
    if (t && t->full()) t = nullptr;  // §5.4, as place_outgoing_call
    bool fresh = !t;
    if (!t) t = &create_tunnel(peer, policy_for(peer));
    Session* sp = t->create_session(lac_incoming);
    if (!sp) throw std::length_error("65535 sessions on this tunnel already (RFC 2661 §5.4)");
    Session& s = *sp;
    s.in_ = std::make_unique<IncomingCall>(call);
    s.sequencing_ = call.sequencing_required;
    s.fsm_.dispatch(SE::call_request, "place incoming call");
    t->waiting_.push_back(s.id_);
    if (fresh) t->start_open();
    else if (t->fsm_.state() == TS::established) t->start_waiting();
    return s.key();
}

namespace {
Session* lookup(const Engine& e, SessionKey k, Tunnel* t) {
    (void)e;
    return t ? t->session(k.session) : nullptr;
}
}  // namespace

bool Engine::accept(SessionKey k) {
    Tunnel* t = find_tunnel(k.tunnel);
    Session* s = lookup(*this, k, t);
    if (!s || s->accepted_ || !s->fsm_.dispatch(SE::accept, "accept")) return false;
    s->accepted_ = true;
    t->send(make_ocrp({{0, s->peer_id_, 0, 0}, s->id_, std::nullopt}));
    return true;
}

bool Engine::call_connected(SessionKey k, std::uint32_t tx, std::uint32_t framing) {
    Tunnel* t = find_tunnel(k.tunnel);
    Session* s = lookup(*this, k, t);
    // §7.5.1: the OCRP (accept) precedes the OCCN.
    if (!s || !s->accepted_ || !s->fsm_.dispatch(SE::bearer_up, "call connected")) return false;
    OccnParams p;
    p.header.session_id = s->peer_id_;
    p.tx_connect_speed = tx;
    p.framing_type = framing;
    t->send(make_occn(p));
    return true;
}

bool Engine::disconnect(SessionKey k, CdnResult r, std::optional<GeneralError> err, std::optional<Q931Cause> q931,
                        std::string message) {
    return clear_call(k, r, err, std::move(q931), std::move(message), CallEndedBy::local_disconnect);
}

bool Engine::clear_call(SessionKey k, CdnResult r, std::optional<GeneralError> err, std::optional<Q931Cause> q931,
                        std::string message, CallEndedBy by) {
    Tunnel* t = find_tunnel(k.tunnel);
    Session* s = lookup(*this, k, t);
    if (!s || !s->fsm_.dispatch(SE::disconnect, "CDN result " + std::to_string(static_cast<int>(r)))) return false;
    t->discard_early(*s, "disconnect");
    CdnParams p;
    p.header.session_id = s->peer_id_;
    p.result = r;
    p.error = err;
    if (!message.empty()) {
        if (!p.error) p.error = GeneralError::NoError;  // §4.4.2: the Error Message follows the Error Code
        p.error_message = message;
    }
    p.assigned_session_id = s->id_;
    p.q931_cause = q931;
    // A call still waiting for its tunnel has told the peer nothing yet: no CDN to send.
    if (s->peer_id_ != 0 || s->role_ == lns_outgoing || s->role_ == lac_incoming)
        if (t->fsm_.state() == TS::established) t->send(make_cdn(p));
    t->sessions_.erase(k.session);
    CallFailure f;
    f.result = static_cast<std::uint16_t>(r);
    if (p.error) f.error = static_cast<std::uint16_t>(*p.error);
    if (!message.empty()) f.message = std::move(message);
    f.q931 = std::move(q931);
    f.ended_by = by;
    call_ended(k, f);
    return true;
}

void Engine::call_ended(SessionKey k, const CallFailure& f) {
    if (bus_->has_subscribers())  // nothing built per call when no one listens (benchmarks)
        publish("l2tp.session", std::to_string(k.tunnel) + "/" + std::to_string(k.session), "call-ended",
                f.message.value_or(""), {{"by", to_string(f.ended_by)}, {"result", f.result}});
    if (cb_.call_ended) cb_.call_ended(k, f);
}

const char* to_string(TunnelState s) noexcept { return Tunnel::spec().name(s).data(); }
const char* to_string(SessionState s) noexcept { return Session::spec().name(s).data(); }
const char* to_string(Direction d) noexcept { return d == Direction::outgoing ? "outgoing" : "incoming"; }

const char* to_string(CallEndedBy by) noexcept {
    switch (by) {
        case CallEndedBy::peer_cdn: return "peer-cdn";
        case CallEndedBy::local_disconnect: return "local-disconnect";
        case CallEndedBy::engine_cdn: return "engine-cdn";
        case CallEndedBy::peer_stopccn: return "peer-stopccn";
        case CallEndedBy::local_stopccn: return "local-stopccn";
        case CallEndedBy::timeout: return "timeout";
        case CallEndedBy::not_placed: return "not-placed";
    }
    return "?";
}

bool Engine::send_ppp(SessionKey k, std::span<const std::uint8_t> frame) {
    Tunnel* t = find_tunnel(k.tunnel);
    Session* s = lookup(*this, k, t);
    if (!s || s->fsm_.state() != SS::established) return false;
    std::optional<std::uint16_t> ns, nr;
    if (s->sequencing_) {
        ns = s->data_ns_;
        nr = s->data_nr_;
        s->data_ns_ = static_cast<std::uint16_t>(s->data_ns_ + 1);
    }
    DataOptions o;
    if (s->sequencing_) o.ns_nr = std::make_pair(*ns, *nr);
    o.priority = ppp_priority(frame);
    L2TP m = make_data(t->peer_id_, s->peer_id_, frame, o);
    ++stats_.data_out;
    if (cb_.send) cb_.send(t->peer_, m.bytes());
    return true;
}

bool ppp_priority(std::span<const std::uint8_t> f) noexcept {
    if (f.size() >= 2 && f[0] == 0xFF && f[1] == 0x03) f = f.subspan(2);
    // A two-octet Protocol has an even first octet (RFC 1661 §2); control protocols are >= 0x8000.
    return !f.empty() && f[0] >= 0x80 && (f[0] & 1) == 0;
}

bool Engine::wan_error(SessionKey k, const CallErrors& errors) {
    Tunnel* t = find_tunnel(k.tunnel);
    Session* s = lookup(*this, k, t);
    if (!s || s->fsm_.state() != SS::established) return false;
    t->send(make_wen({0, s->peer_id_, 0, 0}, errors));
    return true;
}

bool Engine::set_link_info(SessionKey k, const Accm& accm) {
    Tunnel* t = find_tunnel(k.tunnel);
    Session* s = lookup(*this, k, t);
    if (!s || s->fsm_.state() != SS::established) return false;
    t->send(make_sli({0, s->peer_id_, 0, 0}, accm), true);
    return true;
}

std::string Engine::tunnel_state(std::uint16_t id) const {
    Tunnel* t = find_tunnel(id);
    return t ? std::string(t->fsm_.state_name()) : std::string();
}

std::string Engine::session_state(SessionKey k) const {
    Tunnel* t = find_tunnel(k.tunnel);
    Session* s = t ? t->session(k.session) : nullptr;
    return s ? std::string(s->fsm_.state_name()) : std::string();
}

std::optional<Engine::PeerIds> Engine::peer_ids(SessionKey k) const {
    Tunnel* t = find_tunnel(k.tunnel);
    Session* s = t ? t->session(k.session) : nullptr;
    if (!s || s->fsm_.state() != SS::established) return std::nullopt;
    return PeerIds{t->peer_id_, s->peer_id_, s->data_nr_};
}

std::size_t Engine::session_count() const noexcept {
    std::size_t n = 0;
    for (auto& [id, t] : tunnels_) n += t->sessions_.size();
    return n;
}

std::string Engine::peer_host_name(std::uint16_t id) const {
    Tunnel* t = find_tunnel(id);
    return t ? t->peer_host_ : std::string();
}

const ReliableChannel* Engine::channel(std::uint16_t id) const {
    Tunnel* t = find_tunnel(id);
    return t ? &t->ch_ : nullptr;
}

}  // namespace dl::l2tp::engine
