// The RFC 1661 §4 option-negotiation automaton, once, shared by LCP and every NCP (IPCP…).
// The state × event table of RFC 1661 §4.1 is an explicit dl::core::FsmSpec (src/automaton.cpp);
// what differs between protocols (which options, how to judge them) is a CpPolicy object.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dl/core/fsm.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/ppp/control.hpp"

namespace dl::ppp::engine {

/// States of RFC 1661 §4.2 (names exactly as the RFC).
enum class CpState : std::uint8_t {
    initial, starting, closed, stopped, closing, stopping, req_sent, ack_rcvd, ack_sent, opened
};
/// Events of RFC 1661 §4.3 (names as in the §4.1 table).
enum class CpEvent : std::uint8_t {
    up, down, open, close, to_plus, to_minus, rcr_plus, rcr_minus, rca, rcn, rtr, rta, ruc,
    rxj_plus, rxj_minus, rxr
};
std::string_view to_string(CpState s) noexcept;
std::string_view to_string(CpEvent e) noexcept;

/// Verdict on a received Configure-Request (RFC 1661 §5.1–5.4).
enum class CrVerdict : std::uint8_t { ack, nak, reject };

/// Counters of RFC 1661 §4.6 (defaults from the RFC).
struct CpLimits {
    std::uint8_t max_configure = 10;
    std::uint8_t max_terminate = 2;
    std::uint8_t max_failure = 5;
};

/// What differs between LCP, IPCP and any later NCP: the options and the layer upcalls.
/// All functions are called from inside Automaton; they must not call Automaton re-entrantly
/// except through the documented Automaton functions (open/close/up/down are queued by the FSM).
class CpPolicy {
public:
    virtual ~CpPolicy() = default;
    /// Options of our next Configure-Request (RFC 1661 §5.1).
    virtual void build_request(std::vector<CpOption>& out) = 0;
    /// Judges a peer Configure-Request: fills `reply` with the options to Nak/Reject (or leaves
    /// it empty for ack). `allow_nak` false once Max-Failure is reached (§4.6: Nak becomes Reject).
    virtual CrVerdict check_request(const std::vector<CpOption>& in, std::vector<CpOption>& reply,
                                    bool allow_nak) = 0;
    /// Our Configure-Request was acked (options as sent).
    virtual void on_ack(const std::vector<CpOption>& acked) = 0;
    /// Configure-Nak (reject=false) or Configure-Reject (true) of our request: adapt the next one.
    virtual void on_nak(const std::vector<CpOption>& opts, bool reject) = 0;
    /// Codes beyond 1–7 (LCP: Protocol-Reject, Echo, Discard…): return rxr, rxj_plus, rxj_minus,
    /// or ruc (unknown code → Code-Reject).
    virtual CpEvent classify_extra(const ControlPacket& p) = 0;
    /// ser action (Echo-Reply, RFC 1661 §5.8), only called in Opened.
    virtual void send_echo_reply(const ControlPacket&) {}
    /// Layer actions of RFC 1661 §4.4.
    virtual void this_layer_up() = 0;
    virtual void this_layer_down() = 0;
    virtual void this_layer_started() {}
    virtual void this_layer_finished() = 0;
    /// Sends one packet of this protocol (Information field, without the PPP Protocol field).
    virtual void send(std::vector<std::uint8_t> packet) = 0;
};

/// Counters of unusual input (for `show` and tests).
struct CpCounters {
    std::uint32_t malformed = 0;       ///< ParseError on receive
    std::uint32_t bad_identifier = 0;  ///< Ack/Nak/Reject not matching our last request, or repeated (dropped, §5.2)
    std::uint32_t bad_ack = 0;         ///< Ack whose options differ from what we sent (§5.2)
    std::uint32_t code_rejects_sent = 0;
};

/// One option-negotiation automaton (RFC 1661 §4). Sans-I/O: packets in through receive(),
/// out through CpPolicy::send(); the Restart timer (registry name `ppp-restart`, §4.6) lives on
/// the TimerQueue in FsmEnv. Each transition publishes an Event (entity e.g. "ppp.lcp").
/// Not copyable or movable.
class Automaton {
public:
    using Spec = dl::core::FsmSpec<Automaton, CpState, CpEvent>;
    /// The §4.1 table, one per entity name ("ppp.lcp", "ppp.ipcp"; others share "ppp.ncp").
    static const Spec& spec(std::string_view entity);

    Automaton(std::string_view entity, ControlProtocol proto, CpPolicy& policy, dl::core::FsmEnv env,
              std::string id, CpLimits limits = {});
    Automaton(const Automaton&) = delete;
    Automaton& operator=(const Automaton&) = delete;

    CpState state() const noexcept { return fsm_.state(); }
    /// Administrative and lower-layer events (§4.3).
    bool up() { return dispatch(CpEvent::up, "lower layer up"); }
    bool down() { return dispatch(CpEvent::down, "lower layer down"); }
    bool open() { return dispatch(CpEvent::open, "administrative open"); }
    bool close(std::string_view cause) { return dispatch(CpEvent::close, cause); }
    /// Raw event (the table-driven test drives every cell through this).
    bool dispatch(CpEvent e, std::string_view cause = {});
    /// A received packet of this protocol (Information field). Parses, classifies to an event
    /// (RCR±, RCA, RCN, RTR, RTA, RUC, RXJ±, RXR) and dispatches it. Malformed: counted, dropped.
    void receive(std::span<const std::uint8_t> packet);

    /// Starts directly in Opened with already agreed options (proxy LCP, RFC 2661 §4.4.5): only
    /// from Initial/Starting/Closed/Stopped; returns false otherwise. Calls tlu.
    bool force_opened(std::string_view cause);

    /// The Identifier of our next Configure-Request / Terminate-Request.
    std::uint8_t next_identifier() noexcept { return ++ident_; }
    const CpCounters& counters() const noexcept { return counters_; }
    const dl::core::Fsm<Automaton, CpState, CpEvent>& fsm() const noexcept { return fsm_; }
    ControlProtocol control_protocol() const noexcept { return proto_; }
    /// Restart counter (§4.6), for tests.
    int restart_counter() const noexcept { return restart_counter_; }
    /// The options of our last Configure-Request (kept for the Ack's check, §5.2), for tests: held
    /// for the link's whole life, so its capacity is its size (memory per session).
    const std::vector<CpOption>& sent_request() const noexcept { return sent_; }

    /// Builds an LCP or IPCP packet (Information field) with options or raw data.
    static std::vector<std::uint8_t> build(ControlProtocol p, CpCode code, std::uint8_t id,
                                           const std::vector<CpOption>& options,
                                           std::span<const std::uint8_t> data = {});

private:
    // Actions of RFC 1661 §4.4 (see the table in automaton.cpp).
    void tlu() { policy_.this_layer_up(); }
    void tld() { policy_.this_layer_down(); }
    void tls() { policy_.this_layer_started(); }
    void tlf() { policy_.this_layer_finished(); }
    void irc(bool configure) {
        restart_counter_ = static_cast<std::int16_t>(configure ? limits_.max_configure : limits_.max_terminate);
        nak_count_ = 0;
    }
    void zrc();
    void scr();
    void sca();
    void scn();
    void str();
    void sta();
    void scj();
    void ser();
    void start_restart_timer();
    bool negotiating() const noexcept;
    void emit(std::vector<std::uint8_t> packet);
    void on_restart_timer();
    friend struct AutomatonActions;

    CpPolicy& policy_;
    dl::core::TimerQueue* timers_;
    dl::core::EventBus* bus_;
    dl::core::Duration restart_interval_;
    dl::core::Timer restart_;
    CpCounters counters_;
    // The packet being processed (valid only during receive()).
    const ControlPacket* rx_ = nullptr;
    std::vector<CpOption> rx_reply_;
    CrVerdict rx_verdict_ = CrVerdict::ack;
    std::vector<CpOption> sent_;  ///< options of our last Configure-Request
    std::vector<std::uint8_t> rx_raw_;
    ControlProtocol proto_;
    CpLimits limits_;
    std::uint8_t ident_ = 0;
    std::uint8_t req_id_ = 0;  ///< Identifier of our last Configure-Request
    std::int16_t restart_counter_ = 0;
    std::uint8_t nak_count_ = 0;
    bool suppress_send_ = false;
    bool reply_seen_ = false;  ///< an Ack/Nak/Reject for req_id_ was processed (duplicates dropped)  ///< Configure-Naks sent since the last irc (Max-Failure)
    dl::core::Fsm<Automaton, CpState, CpEvent> fsm_;
};

}  // namespace dl::ppp::engine
