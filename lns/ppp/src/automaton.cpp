// RFC 1661 §4 option-negotiation automaton: the §4.1 state transition table as a dl::core FSM.
#include "dl/ppp/engine/automaton.hpp"

#include <array>
#include <iterator>
#include <memory>
#include <string>
#include <utility>

#include "dl/core/event.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/proto/errors.hpp"

namespace dl::ppp::engine {

namespace {
constexpr std::array<std::string_view, 10> kStateNames{
    "Initial", "Starting", "Closed", "Stopped", "Closing", "Stopping", "Req-Sent", "Ack-Rcvd", "Ack-Sent", "Opened"};
constexpr std::array<std::string_view, 16> kEventNames{
    "Up", "Down", "Open", "Close", "TO+", "TO-", "RCR+", "RCR-", "RCA", "RCN", "RTR", "RTA", "RUC", "RXJ+", "RXJ-", "RXR"};

bool timer_state(CpState s) {
    // RFC 1661 §4.6: the Restart timer runs in Closing, Stopping, Req-Sent, Ack-Rcvd, Ack-Sent.
    return s == CpState::closing || s == CpState::stopping || s == CpState::req_sent || s == CpState::ack_rcvd ||
           s == CpState::ack_sent;
}
}  // namespace

std::string_view to_string(CpState s) noexcept { return kStateNames[static_cast<std::size_t>(s)]; }
std::string_view to_string(CpEvent e) noexcept { return kEventNames[static_cast<std::size_t>(e)]; }

namespace {
using A = Automaton;
using Step = Automaton::Spec::Step;
using S = CpState;
using E = CpEvent;
}  // namespace

// The table of RFC 1661 §4.1, row by row. Cells marked "-" in the RFC (Up outside Initial/Starting,
// Down in Initial/Starting, every receive event in Initial/Starting) have no row: the FSM helper
// reports them "not permitted" and counts them. The "r" (restart) option of Open in Stopped,
// Stopping, Closing and Opened is not implemented (the RFC says it MAY be); they self-loop.
struct AutomatonActions {
    static std::unique_ptr<A::Spec> make(std::string_view entity) {
        auto irc_scr = +[](A& a, Step&) { a.irc(true); a.scr(); };
        auto tls = +[](A& a, Step&) { a.tls(); };
        auto tlf = +[](A& a, Step&) { a.tlf(); };
        auto tld = +[](A& a, Step&) { a.tld(); };
        auto irc_str = +[](A& a, Step&) { a.irc(false); a.str(); };
        auto tld_irc_str = +[](A& a, Step&) { a.tld(); a.irc(false); a.str(); };
        auto scr = +[](A& a, Step&) { a.scr(); };
        auto sta = +[](A& a, Step&) { a.sta(); };
        auto sca = +[](A& a, Step&) { a.sca(); };
        auto scn = +[](A& a, Step&) { a.scn(); };
        auto scj = +[](A& a, Step&) { a.scj(); };
        auto ser = +[](A& a, Step&) { a.ser(); };
        auto irc_scr_sca = +[](A& a, Step&) { a.irc(true); a.scr(); a.sca(); };
        auto irc_scr_scn = +[](A& a, Step&) { a.irc(true); a.scr(); a.scn(); };
        auto sca_tlu = +[](A& a, Step&) { a.sca(); a.tlu(); };
        auto tld_scr_sca = +[](A& a, Step&) { a.tld(); a.scr(); a.sca(); };
        auto tld_scr_scn = +[](A& a, Step&) { a.tld(); a.scr(); a.scn(); };
        auto irc = +[](A& a, Step&) { a.irc(true); };
        auto irc_tlu = +[](A& a, Step&) { a.irc(true); a.tlu(); };
        auto tld_scr = +[](A& a, Step&) { a.tld(); a.scr(); };
        auto tld_zrc_sta = +[](A& a, Step&) { a.tld(); a.zrc(); a.sta(); };
        auto to_plus_str = +[](A& a, Step&) { a.str(); };
        auto to_plus_scr = +[](A& a, Step&) { a.scr(); };
        // clang-format off
        return std::make_unique<A::Spec>(entity,
            std::initializer_list<std::string_view>{kStateNames[0], kStateNames[1], kStateNames[2], kStateNames[3], kStateNames[4],
             kStateNames[5], kStateNames[6], kStateNames[7], kStateNames[8], kStateNames[9]},
            std::initializer_list<std::string_view>{kEventNames[0], kEventNames[1], kEventNames[2], kEventNames[3], kEventNames[4],
             kEventNames[5], kEventNames[6], kEventNames[7], kEventNames[8], kEventNames[9], kEventNames[10], kEventNames[11],
             kEventNames[12], kEventNames[13], kEventNames[14], kEventNames[15]},
            std::initializer_list<A::Spec::Row>{
            // Up
            {S::initial, E::up, S::closed}, {S::starting, E::up, S::req_sent, irc_scr},
            // Down
            {S::closed, E::down, S::initial}, {S::stopped, E::down, S::starting, tls},
            {S::closing, E::down, S::initial}, {S::stopping, E::down, S::starting},
            {S::req_sent, E::down, S::starting}, {S::ack_rcvd, E::down, S::starting},
            {S::ack_sent, E::down, S::starting}, {S::opened, E::down, S::starting, tld},
            // Open
            {S::initial, E::open, S::starting, tls}, {S::starting, E::open, S::starting},
            {S::closed, E::open, S::req_sent, irc_scr}, {S::stopped, E::open, S::stopped},
            {S::closing, E::open, S::stopping}, {S::stopping, E::open, S::stopping},
            {S::req_sent, E::open, S::req_sent}, {S::ack_rcvd, E::open, S::ack_rcvd},
            {S::ack_sent, E::open, S::ack_sent}, {S::opened, E::open, S::opened},
            // Close
            {S::initial, E::close, S::initial}, {S::starting, E::close, S::initial, tlf},
            {S::closed, E::close, S::closed}, {S::stopped, E::close, S::closed},
            {S::closing, E::close, S::closing}, {S::stopping, E::close, S::closing},
            {S::req_sent, E::close, S::closing, irc_str}, {S::ack_rcvd, E::close, S::closing, irc_str},
            {S::ack_sent, E::close, S::closing, irc_str}, {S::opened, E::close, S::closing, tld_irc_str},
            // TO+
            {S::closing, E::to_plus, S::closing, to_plus_str}, {S::stopping, E::to_plus, S::stopping, to_plus_str},
            {S::req_sent, E::to_plus, S::req_sent, to_plus_scr}, {S::ack_rcvd, E::to_plus, S::req_sent, to_plus_scr},
            {S::ack_sent, E::to_plus, S::ack_sent, to_plus_scr},
            // TO-
            {S::closing, E::to_minus, S::closed, tlf}, {S::stopping, E::to_minus, S::stopped, tlf},
            {S::req_sent, E::to_minus, S::stopped, tlf}, {S::ack_rcvd, E::to_minus, S::stopped, tlf},
            {S::ack_sent, E::to_minus, S::stopped, tlf},
            // RCR+
            {S::closed, E::rcr_plus, S::closed, sta}, {S::stopped, E::rcr_plus, S::ack_sent, irc_scr_sca},
            {S::closing, E::rcr_plus, S::closing}, {S::stopping, E::rcr_plus, S::stopping},
            {S::req_sent, E::rcr_plus, S::ack_sent, sca}, {S::ack_rcvd, E::rcr_plus, S::opened, sca_tlu},
            {S::ack_sent, E::rcr_plus, S::ack_sent, sca}, {S::opened, E::rcr_plus, S::ack_sent, tld_scr_sca},
            // RCR-
            {S::closed, E::rcr_minus, S::closed, sta}, {S::stopped, E::rcr_minus, S::req_sent, irc_scr_scn},
            {S::closing, E::rcr_minus, S::closing}, {S::stopping, E::rcr_minus, S::stopping},
            {S::req_sent, E::rcr_minus, S::req_sent, scn}, {S::ack_rcvd, E::rcr_minus, S::ack_rcvd, scn},
            {S::ack_sent, E::rcr_minus, S::req_sent, scn}, {S::opened, E::rcr_minus, S::req_sent, tld_scr_scn},
            // RCA
            {S::closed, E::rca, S::closed, sta}, {S::stopped, E::rca, S::stopped, sta},
            {S::closing, E::rca, S::closing}, {S::stopping, E::rca, S::stopping},
            {S::req_sent, E::rca, S::ack_rcvd, irc}, {S::ack_rcvd, E::rca, S::req_sent, scr},
            {S::ack_sent, E::rca, S::opened, irc_tlu}, {S::opened, E::rca, S::req_sent, tld_scr},
            // RCN
            {S::closed, E::rcn, S::closed, sta}, {S::stopped, E::rcn, S::stopped, sta},
            {S::closing, E::rcn, S::closing}, {S::stopping, E::rcn, S::stopping},
            {S::req_sent, E::rcn, S::req_sent, irc_scr}, {S::ack_rcvd, E::rcn, S::req_sent, scr},
            {S::ack_sent, E::rcn, S::ack_sent, irc_scr}, {S::opened, E::rcn, S::req_sent, tld_scr},
            // RTR
            {S::closed, E::rtr, S::closed, sta}, {S::stopped, E::rtr, S::stopped, sta},
            {S::closing, E::rtr, S::closing, sta}, {S::stopping, E::rtr, S::stopping, sta},
            {S::req_sent, E::rtr, S::req_sent, sta}, {S::ack_rcvd, E::rtr, S::req_sent, sta},
            {S::ack_sent, E::rtr, S::req_sent, sta}, {S::opened, E::rtr, S::stopping, tld_zrc_sta},
            // RTA
            {S::closed, E::rta, S::closed}, {S::stopped, E::rta, S::stopped},
            {S::closing, E::rta, S::closed, tlf}, {S::stopping, E::rta, S::stopped, tlf},
            {S::req_sent, E::rta, S::req_sent}, {S::ack_rcvd, E::rta, S::req_sent},
            {S::ack_sent, E::rta, S::ack_sent}, {S::opened, E::rta, S::req_sent, tld_scr},
            // RUC
            {S::closed, E::ruc, S::closed, scj}, {S::stopped, E::ruc, S::stopped, scj},
            {S::closing, E::ruc, S::closing, scj}, {S::stopping, E::ruc, S::stopping, scj},
            {S::req_sent, E::ruc, S::req_sent, scj}, {S::ack_rcvd, E::ruc, S::ack_rcvd, scj},
            {S::ack_sent, E::ruc, S::ack_sent, scj}, {S::opened, E::ruc, S::opened, scj},
            // RXJ+
            {S::closed, E::rxj_plus, S::closed}, {S::stopped, E::rxj_plus, S::stopped},
            {S::closing, E::rxj_plus, S::closing}, {S::stopping, E::rxj_plus, S::stopping},
            {S::req_sent, E::rxj_plus, S::req_sent}, {S::ack_rcvd, E::rxj_plus, S::req_sent},
            {S::ack_sent, E::rxj_plus, S::ack_sent}, {S::opened, E::rxj_plus, S::opened},
            // RXJ-
            {S::closed, E::rxj_minus, S::closed, tlf}, {S::stopped, E::rxj_minus, S::stopped, tlf},
            {S::closing, E::rxj_minus, S::closed, tlf}, {S::stopping, E::rxj_minus, S::stopped, tlf},
            {S::req_sent, E::rxj_minus, S::stopped, tlf}, {S::ack_rcvd, E::rxj_minus, S::stopped, tlf},
            {S::ack_sent, E::rxj_minus, S::stopped, tlf}, {S::opened, E::rxj_minus, S::stopping, tld_irc_str},
            // RXR
            {S::closed, E::rxr, S::closed}, {S::stopped, E::rxr, S::stopped},
            {S::closing, E::rxr, S::closing}, {S::stopping, E::rxr, S::stopping},
            {S::req_sent, E::rxr, S::req_sent}, {S::ack_rcvd, E::rxr, S::ack_rcvd},
            {S::ack_sent, E::rxr, S::ack_sent}, {S::opened, E::rxr, S::opened, ser},
            });
        // clang-format on
    }
};

const Automaton::Spec& Automaton::spec(std::string_view entity) {
    static const auto lcp = AutomatonActions::make("ppp.lcp");
    static const auto ipcp = AutomatonActions::make("ppp.ipcp");
    static const auto ncp = AutomatonActions::make("ppp.ncp");
    if (entity == "ppp.lcp") return *lcp;
    if (entity == "ppp.ipcp") return *ipcp;
    return *ncp;
}

Automaton::Automaton(std::string_view entity, ControlProtocol proto, CpPolicy& policy, dl::core::FsmEnv env,
                     std::string id, CpLimits limits)
    : policy_(policy),
      timers_(env.timers),
      bus_(env.bus),
      restart_interval_(env.registry && env.registry->contains("ppp-restart") ? env.registry->get("ppp-restart")
                                                                              : std::chrono::seconds(3)),
      proto_(proto),
      limits_(limits),
      fsm_(spec(entity), env, *this, std::move(id), CpState::initial) {
    if (timers_) restart_.bind(*timers_);
}

bool Automaton::negotiating() const noexcept {
    // A Configure-Request of ours is outstanding (RFC 1661 §5.2: Ack/Nak/Reject must match it).
    const CpState s = state();
    return s == CpState::req_sent || s == CpState::ack_rcvd || s == CpState::ack_sent;
}

bool Automaton::dispatch(CpEvent e, std::string_view cause) {
    const bool ok = fsm_.dispatch(e, cause);
    if (!timer_state(fsm_.state())) restart_.cancel();
    return ok;
}

void Automaton::start_restart_timer() {
    if (!timers_) return;
    restart_.start(restart_interval_, [this] { on_restart_timer(); });
}

void Automaton::on_restart_timer() {
    // RFC 1661 §4.3: TO+ while the Restart counter is > 0, TO- when it has expired.
    if (restart_counter_ > 0)
        dispatch(CpEvent::to_plus, "ppp-restart expired");
    else
        dispatch(CpEvent::to_minus, "ppp-restart expired, counter exhausted");
}

void Automaton::zrc() {
    // RFC 1661 §4.4: zero restart count, timer started so that the peer gets time to ack.
    restart_counter_ = 0;
    start_restart_timer();
}

std::vector<std::uint8_t> Automaton::build(ControlProtocol p, CpCode code, std::uint8_t id,
                                           const std::vector<CpOption>& options, std::span<const std::uint8_t> data) {
    // Written straight from the options: no LCP / IPCP object, no copy of the option list.
    std::vector<std::uint8_t> out;
    serialize_control(p, static_cast<std::uint8_t>(code), id, options, data, out);
    return out;
}

void Automaton::emit(std::vector<std::uint8_t> packet) {
    if (!suppress_send_) policy_.send(std::move(packet));
}

void Automaton::scr() {
    // RFC 1661 §4.4 scr: new Identifier, options from the policy; the Restart timer is started and
    // the Restart counter decremented each time a Configure-Request is sent.
    --restart_counter_;
    // Built in a scratch list reserved once per thread (LCP asks for at most 6 options, IPCP 5),
    // then moved into sent_, which therefore has exactly the request's options: one allocation for
    // a link's first request (none after, clear() keeps it), and a link in service holds n
    // options, not 8 (sent_ lives as long as the link: 0.4 KB per session with reserve(8)).
    static thread_local std::vector<CpOption> scratch = [] {
        std::vector<CpOption> v;
        v.reserve(8);
        return v;
    }();
    scratch.clear();
    policy_.build_request(scratch);
    sent_.clear();
    sent_.assign(std::make_move_iterator(scratch.begin()), std::make_move_iterator(scratch.end()));
    req_id_ = next_identifier();
    reply_seen_ = false;
    emit(build(proto_, CpCode::configure_request, req_id_, sent_));
    start_restart_timer();
}

void Automaton::sca() {
    if (!rx_) return;
    nak_count_ = 0;  // Max-Failure counts Naks sent without an Ack in between (RFC 1661 §4.6)
    emit(build(proto_, CpCode::configure_ack, rx_->identifier(), rx_->options()));
}

void Automaton::scn() {
    if (!rx_) return;
    // RFC 1661 §5.3/5.4: Reject takes precedence; Max-Failure turns Naks into Rejects (checked in receive()).
    ++nak_count_;
    emit(build(proto_, rx_verdict_ == CrVerdict::reject ? CpCode::configure_reject : CpCode::configure_nak,
                       rx_->identifier(), rx_reply_));
}

void Automaton::str() {
    --restart_counter_;  // RFC 1661 §4.4 str: as for scr
    emit(build(proto_, CpCode::terminate_request, next_identifier(), {}));
    start_restart_timer();
}

void Automaton::sta() {
    emit(build(proto_, CpCode::terminate_ack, rx_ ? rx_->identifier() : next_identifier(), {}));
}

void Automaton::scj() {
    // RFC 1661 §5.6: Code-Reject carries the rejected packet, truncated to the peer's MRU (1500 here).
    if (rx_raw_.empty()) return;
    std::span<const std::uint8_t> rejected(rx_raw_);
    if (rejected.size() > 1496) rejected = rejected.first(1496);
    ++counters_.code_rejects_sent;
    emit(build(proto_, CpCode::code_reject, next_identifier(), {}, rejected));
}

void Automaton::ser() {
    if (rx_) policy_.send_echo_reply(*rx_);
}

bool Automaton::force_opened(std::string_view cause) {
    const CpState s = state();
    if (s != CpState::initial && s != CpState::starting && s != CpState::closed && s != CpState::stopped) return false;
    // The proxied negotiation (RFC 2661 §4.4.5) is replayed through the table with sending
    // suppressed: Open/Up -> Req-Sent (scr not sent), RCA -> Ack-Rcvd, RCR+ -> Opened (tlu), so every
    // step is a legal transition with its event.
    suppress_send_ = true;
    if (s == CpState::initial) {
        dispatch(CpEvent::open, cause);
        dispatch(CpEvent::up, cause);
    } else if (s == CpState::starting) {
        dispatch(CpEvent::up, cause);
    } else if (s == CpState::closed) {
        dispatch(CpEvent::open, cause);
    } else {
        suppress_send_ = false;
        return false;
    }
    rx_ = nullptr;
    dispatch(CpEvent::rca, cause);
    suppress_send_ = false;
    // Ack-Rcvd + RCR+ -> Opened (tlu); the sca is suppressed since the LAC already acked.
    suppress_send_ = true;
    dispatch(CpEvent::rcr_plus, cause);
    suppress_send_ = false;
    return state() == CpState::opened;
}

void Automaton::receive(std::span<const std::uint8_t> packet) {
    std::unique_ptr<ControlPacket> pkt;
    try {
        if (proto_ == ControlProtocol::lcp)
            pkt = std::make_unique<LCP>(packet.data(), static_cast<std::uint32_t>(packet.size()));
        else
            pkt = std::make_unique<IPCP>(packet.data(), static_cast<std::uint32_t>(packet.size()));
    } catch (const dl::proto::ParseError& e) {
        // RFC 1661 §5: malformed packets are silently discarded (counted and logged here).
        ++counters_.malformed;
        if (bus_) {
            dl::core::Event ev;
            ev.entity = fsm_.spec().entity();
            ev.id = fsm_.id();
            ev.event = "malformed";
            ev.cause = e.what();
            bus_->publish(std::move(ev));
        }
        return;
    }
    rx_ = pkt.get();
    struct Clear {
        Automaton* a;
        ~Clear() {
            a->rx_ = nullptr;
            a->rx_raw_.clear();
            a->rx_reply_.clear();
        }
    } clear{this};
    const std::uint8_t code = pkt->code();
    const std::string cause(pkt->code_name());
    switch (static_cast<CpCode>(code)) {
        case CpCode::configure_request: {
            rx_reply_.clear();
            rx_verdict_ = policy_.check_request(pkt->options(), rx_reply_, nak_count_ < limits_.max_failure);
            dispatch(rx_verdict_ == CrVerdict::ack ? CpEvent::rcr_plus : CpEvent::rcr_minus, cause);
            return;
        }
        case CpCode::configure_ack:
            if (!negotiating() && state() != CpState::opened) {
                dispatch(CpEvent::rca, cause);
                return;
            }
            // RFC 1661 §5.2: must answer our last request; a repeated answer (duplicate) is
            // discarded as pppd does, else a duplicated Ack would renegotiate an Opened link.
            if (pkt->identifier() != req_id_ || reply_seen_) {
                ++counters_.bad_identifier;
                return;
            }
            if (pkt->options() != sent_) {
                ++counters_.bad_ack;
                return;
            }
            reply_seen_ = true;
            policy_.on_ack(sent_);
            dispatch(CpEvent::rca, cause);
            return;
        case CpCode::configure_nak:
        case CpCode::configure_reject:
            if (!negotiating() && state() != CpState::opened) {
                dispatch(CpEvent::rcn, cause);
                return;
            }
            if (pkt->identifier() != req_id_ || reply_seen_) {
                ++counters_.bad_identifier;
                return;
            }
            reply_seen_ = true;
            policy_.on_nak(pkt->options(), code == static_cast<std::uint8_t>(CpCode::configure_reject));
            dispatch(CpEvent::rcn, cause);
            return;
        case CpCode::terminate_request:
            dispatch(CpEvent::rtr, cause);
            return;
        case CpCode::terminate_ack:
            dispatch(CpEvent::rta, cause);
            return;
        case CpCode::code_reject: {
            // RFC 1661 §5.6: rejecting one of codes 1–7 (or an LCP code we need) is catastrophic.
            const auto& d = pkt->data();
            const bool fatal = d.empty() || d[0] <= 7;
            dispatch(fatal ? CpEvent::rxj_minus : CpEvent::rxj_plus, cause);
            return;
        }
        default:
            break;
    }
    if (pkt->known_code()) {
        dispatch(policy_.classify_extra(*pkt), cause);
        return;
    }
    rx_raw_.assign(packet.begin(), packet.end());
    dispatch(CpEvent::ruc, "unknown code " + std::to_string(code));
}

}  // namespace dl::ppp::engine
