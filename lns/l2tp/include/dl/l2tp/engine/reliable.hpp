// Reliable delivery of L2TP control messages on one control connection (RFC 2661 §5.8, Appendix A),
// sans-I/O: bytes out through a callback, time from a dl::core::TimerQueue.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "dl/core/timer_queue.hpp"
#include "dl/l2tp/l2tp.hpp"

namespace dl::l2tp::engine {

/// 16-bit sequence number comparison with wrap-around (RFC 2661 §5.8: "a < b" when b - a, taken
/// modulo 65536, is in 1..32767).
inline bool seq_lt(std::uint16_t a, std::uint16_t b) noexcept {
    return static_cast<std::int16_t>(static_cast<std::uint16_t>(a - b)) < 0;
}

/// Parameters of the reliable transport (durations from the timer registry: `retransmit`,
/// `retransmit-cap`, `zlb-ack`).
///
/// `zlb_delay` (registry `zlb-ack`): how long a delivered message waits for a message that
/// piggy-backs its acknowledgement before a ZLB acknowledges it (RFC 2661 §5.8). Zero, the
/// default, means "at the end of the pass": the ZLB is a zero-delay timer on the TimerQueue, which
/// fires only after the work the current input triggered has run (AsioTimerDriver: from a
/// handler posted after the ones already queued on the io_context; VirtualTimeLoop: on the next
/// advance()), so a reply sent in the same pass carries the Nr instead, and otherwise the ZLB
/// leaves at once, as §5.8's examples send it "if there are no further messages waiting in queue
/// for that peer". A positive value delays the ZLB by that much (operators who prefer fewer ZLBs).
struct ReliableConfig {
    std::uint16_t receive_window = 16;     ///< our Receive Window Size (§4.4.3), 1..1024
    std::uint16_t peer_window = 4;         ///< peer's Receive Window Size; 4 if absent (§4.4.3)
    unsigned max_retransmits = 5;          ///< then the connection is declared failed (§5.8)
    core::Duration retransmit{std::chrono::seconds(1)};
    core::Duration retransmit_cap{std::chrono::seconds(8)};
    core::Duration zlb_delay{};  ///< 0 = at the end of the pass (see above)
    /// Out-of-order arrivals kept (ahead of a gap in Ns, within our window): at most this many
    /// messages and this many octets; beyond, a message is dropped (not acknowledged: the peer
    /// retransmits it, §5.8) and counted. 0 = only the receive window bounds it.
    std::size_t reorder_packets = 16;
    std::size_t reorder_bytes = 32 * 1024;
};

/// Counters of one channel.
struct ReliableStats {
    std::uint64_t sent = 0, retransmitted = 0, zlb_sent = 0, received = 0, duplicates = 0,
                  out_of_order = 0, outside_window = 0, reorder_dropped = 0;
};

/// The sequenced, acknowledged control channel of RFC 2661 §5.8 with the slow start / congestion
/// avoidance of Appendix A.
///  - send(msg): assigns Ns (the next send sequence), Nr (next expected), the peer's Tunnel ID,
///    queues it and transmits while in-flight < min(CWND, peer window).
///  - receive(msg): processes Nr (acks, CWND growth), then Ns: in-order → deliver() (and any
///    queued successors), ahead within our window → held, behind → duplicate, re-acked at once by
///    a ZLB and not redelivered. A delivered message is acked by a ZLB from the ack timer
///    (`zlb_delay`; 0, the default: at the end of the pass, see ReliableConfig) unless an
///    outgoing message piggy-backs Nr first (§5.8); once ack_threshold() messages (half our
///    receive window) wait for an ack, the ZLB goes at once, so a peer sending a full window is
///    never held for a configured `zlb_delay` (measured with 100 ms: stalls per window at 125
///    calls/s per tunnel).
///  - Retransmission: the oldest unacked message after `retransmit`, doubling to `retransmit_cap`;
///    after `max_retransmits` retransmissions of one message, failed(cause) is called once and the
///    channel stops. Each timeout halves SSTHRESH and sets CWND to 1 (Appendix A).
class ReliableChannel {
public:
    struct Callbacks {
        std::function<void(std::vector<std::uint8_t>)> transmit;  ///< one UDP payload to the peer
        std::function<void(L2TP&)> deliver;                        ///< in-order non-ZLB message
        std::function<void(const std::string&)> failed;            ///< retransmissions exhausted
        std::function<void()> reorder_dropped;                     ///< an out-of-order message not kept
        std::function<void()> outside_window;                      ///< a message past the receive window (§5.8)
    };

    ReliableChannel(core::TimerQueue& timers, ReliableConfig cfg, Callbacks cb);

    /// Peer's Tunnel ID used in every message header (0 until the SCCRP/SCCRQ told it).
    void set_peer_tunnel_id(std::uint16_t id) noexcept { peer_tunnel_id_ = id; }
    std::uint16_t peer_tunnel_id() const noexcept { return peer_tunnel_id_; }
    /// Peer's Receive Window Size (0 is treated as 1).
    void set_peer_window(std::uint16_t w) noexcept { cfg_.peer_window = w ? w : 1; }

    /// Queues a control message (non-ZLB) for reliable delivery.
    void send(L2TP msg);
    /// Processes one received control message (ZLB or not) of this connection.
    void receive(L2TP& msg);
    /// Sends a ZLB now (acknowledging everything received in order).
    void send_zlb();
    /// Stops every timer and drops queued messages (on teardown).
    void stop() noexcept;
    /// stop(), then back to a fresh connection: Ns = Nr = 0, CWND 1, peer Tunnel ID 0 (used when
    /// our SCCRQ lost the tie-breaker, §4.4.3, and the tunnel answers the peer's SCCRQ instead).
    void reset() noexcept;

    /// True when every message sent has been acknowledged.
    bool idle() const noexcept { return unacked_.empty() && pending_.empty(); }
    std::uint16_t next_ns() const noexcept { return ns_; }
    std::uint16_t next_nr() const noexcept { return nr_; }
    std::size_t in_flight() const noexcept { return unacked_.size(); }
    std::size_t queued() const noexcept { return pending_.size(); }
    /// Out-of-order messages kept, and their octets.
    std::size_t held() const noexcept { return held_.size(); }
    std::size_t held_bytes() const noexcept { return held_bytes_; }
    double cwnd() const noexcept { return cwnd_; }
    /// Delivered-but-unacknowledged messages that trigger an immediate ZLB: max(1, receive window / 2).
    std::uint16_t ack_threshold() const noexcept {
        return static_cast<std::uint16_t>(std::max(1, cfg_.receive_window / 2));
    }
    double ssthresh() const noexcept { return ssthresh_; }
    const ReliableStats& stats() const noexcept { return stats_; }
    const ReliableConfig& config() const noexcept { return cfg_; }
    /// Start the sequence numbers elsewhere than 0 (tests of wrap-around).
    void set_initial_sequence(std::uint16_t ns, std::uint16_t nr) noexcept { ns_ = ns; nr_ = last_sent_nr_ = nr; }

private:
    void pump();
    void transmit(L2TP& m);
    void on_retransmit_timeout();
    void ack_up_to(std::uint16_t nr);
    void schedule_ack();

    ReliableConfig cfg_;
    Callbacks cb_;
    std::deque<L2TP> unacked_;   // sent, not acked (Ns ascending)
    std::deque<L2TP> pending_;   // not yet sent (window closed)
    std::map<std::uint16_t, L2TP> held_;  // out-of-order arrivals within our window, by offset
    std::size_t held_bytes_ = 0;
    core::Timer rtx_timer_;
    core::Timer ack_timer_;
    core::Duration rto_{};
    unsigned retries_ = 0;
    double cwnd_ = 1;
    double ssthresh_ = 0;
    std::uint16_t ns_ = 0;
    std::uint16_t nr_ = 0;
    std::uint16_t last_sent_nr_ = 0;
    std::uint16_t peer_tunnel_id_ = 0;
    bool failed_ = false;
    ReliableStats stats_;
};

}  // namespace dl::l2tp::engine
