// RFC 2661 §5.8 reliable delivery and Appendix A slow start / congestion avoidance.
#include "dl/l2tp/engine/reliable.hpp"

#include <algorithm>
#include <cmath>

#include "dl/l2tp/builders.hpp"

namespace dl::l2tp::engine {

namespace {
/// Octets a kept message costs: its AVPs and header plus the object around them.
std::size_t kept_size(const L2TP& m) { return m.header_size() + sizeof(L2TP); }
}  // namespace

ReliableChannel::ReliableChannel(core::TimerQueue& timers, ReliableConfig cfg, Callbacks cb)
    : cfg_(cfg), cb_(std::move(cb)), rtx_timer_(timers), ack_timer_(timers) {
    cfg_.receive_window = std::clamp<std::uint16_t>(cfg_.receive_window, 1, 1024);
    if (cfg_.peer_window == 0) cfg_.peer_window = 1;
    rto_ = cfg_.retransmit;
    // Appendix A: SSTHRESH starts at the peer's receive window; CWND starts at 1.
    ssthresh_ = cfg_.peer_window;
}

void ReliableChannel::send(L2TP msg) {
    if (failed_) return;
    msg.set_ns(ns_);
    ns_ = static_cast<std::uint16_t>(ns_ + 1);
    pending_.push_back(std::move(msg));
    pump();
}

void ReliableChannel::pump() {
    // Appendix A: never more than min(CWND, peer's window) unacknowledged messages.
    const double limit = std::min<double>(cwnd_, cfg_.peer_window);
    while (!pending_.empty() && static_cast<double>(unacked_.size()) < std::max(1.0, std::floor(limit))) {
        unacked_.push_back(std::move(pending_.front()));
        pending_.pop_front();
        transmit(unacked_.back());
        ++stats_.sent;
        if (!rtx_timer_.armed()) rtx_timer_.start(rto_, [this] { on_retransmit_timeout(); });
    }
}

void ReliableChannel::transmit(L2TP& m) {
    m.set_tunnel_id(peer_tunnel_id_);
    m.set_sequence(m.ns(), nr_);  // Nr piggy-backed: it acknowledges everything received (§5.8)
    ack_timer_.cancel();
    last_sent_nr_ = nr_;
    if (cb_.transmit) cb_.transmit(m.bytes());
}

void ReliableChannel::send_zlb() {
    ack_timer_.cancel();
    L2TP z = make_zlb(peer_tunnel_id_, 0, ns_, nr_);
    last_sent_nr_ = nr_;
    ++stats_.zlb_sent;
    if (cb_.transmit) cb_.transmit(z.bytes());
}

void ReliableChannel::schedule_ack() {
    // §5.8: the ZLB only if nothing else carries the Nr. A zero delay (the default) makes it a
    // timer that is due at once but fires after the current pass: the owner's loop runs due timers
    // after the work already queued (AsioTimerDriver posts the run), so a reply sent meanwhile
    // cancels it in transmit().
    if (!ack_timer_.armed()) ack_timer_.start(cfg_.zlb_delay, [this] { send_zlb(); });
}

void ReliableChannel::ack_up_to(std::uint16_t nr) {
    bool progress = false;
    while (!unacked_.empty() && seq_lt(unacked_.front().ns(), nr)) {
        unacked_.pop_front();
        progress = true;
        // Appendix A: slow start below SSTHRESH (+1 per ack), congestion avoidance above (+1/CWND).
        if (cwnd_ < ssthresh_) cwnd_ += 1;
        else cwnd_ += 1.0 / cwnd_;
        cwnd_ = std::min<double>(cwnd_, cfg_.peer_window);
    }
    if (progress) {
        rto_ = cfg_.retransmit;
        retries_ = 0;
        rtx_timer_.cancel();
        pump();
        if (!unacked_.empty() && !rtx_timer_.armed()) rtx_timer_.start(rto_, [this] { on_retransmit_timeout(); });
    }
}

void ReliableChannel::receive(L2TP& msg) {
    if (failed_) return;
    ++stats_.received;
    ack_up_to(msg.nr());
    if (msg.is_zlb()) return;
    const std::uint16_t ns = msg.ns();
    const auto offset = static_cast<std::uint16_t>(ns - nr_);
    if (offset == 0) {
        nr_ = static_cast<std::uint16_t>(nr_ + 1);
        if (cb_.deliver) cb_.deliver(msg);
        for (auto it = held_.find(nr_); it != held_.end(); it = held_.find(nr_)) {
            L2TP next = std::move(it->second);
            held_bytes_ -= std::min(held_bytes_, kept_size(next));
            held_.erase(it);
            nr_ = static_cast<std::uint16_t>(nr_ + 1);
            if (cb_.deliver) cb_.deliver(next);
            if (failed_) return;
        }
        // Only if no message sent meanwhile (from deliver()) already carried this Nr. Once half of
        // our receive window is delivered but unacknowledged, ack now: a peer that keeps a full
        // window in flight (§5.8, Appendix A) would otherwise stall for a configured ZLB delay.
        if (!failed_ && nr_ != last_sent_nr_) {
            if (static_cast<std::uint16_t>(nr_ - last_sent_nr_) >= ack_threshold()) send_zlb();
            else schedule_ack();
        }
    } else if (seq_lt(ns, nr_)) {
        // §5.8: a duplicate is acknowledged again (its first ack may have been lost), not redelivered.
        ++stats_.duplicates;
        send_zlb();
    } else if (offset < cfg_.receive_window) {
        ++stats_.out_of_order;
        const std::size_t size = kept_size(msg);
        if (!held_.count(ns) &&
            ((cfg_.reorder_packets != 0 && held_.size() >= cfg_.reorder_packets) ||
             (cfg_.reorder_bytes != 0 && held_bytes_ + size > cfg_.reorder_bytes))) {
            // Bounded: dropped like a message lost on the way (not acknowledged, retransmitted).
            ++stats_.reorder_dropped;
            if (cb_.reorder_dropped) cb_.reorder_dropped();
            return;
        }
        if (held_.try_emplace(ns, msg).second) held_bytes_ += size;
        send_zlb();  // tells the peer what we still miss
    } else {
        ++stats_.outside_window;
        if (cb_.outside_window) cb_.outside_window();
    }
}

void ReliableChannel::on_retransmit_timeout() {
    if (unacked_.empty() || failed_) return;
    if (retries_ >= cfg_.max_retransmits) {
        failed_ = true;
        ack_timer_.cancel();
        if (cb_.failed) cb_.failed("retransmissions exhausted (" + std::to_string(cfg_.max_retransmits) + ")");
        return;
    }
    ++retries_;
    // Appendix A: on a retransmission timeout SSTHRESH = CWND/2 and CWND = 1.
    ssthresh_ = std::max(1.0, cwnd_ / 2);
    cwnd_ = 1;
    ++stats_.retransmitted;
    transmit(unacked_.front());
    rto_ = std::min(rto_ * 2, cfg_.retransmit_cap);
    rtx_timer_.start(rto_, [this] { on_retransmit_timeout(); });
}

void ReliableChannel::stop() noexcept {
    rtx_timer_.cancel();
    ack_timer_.cancel();
    unacked_.clear();
    pending_.clear();
    held_.clear();
    held_bytes_ = 0;
}

void ReliableChannel::reset() noexcept {
    stop();
    ns_ = nr_ = last_sent_nr_ = 0;
    peer_tunnel_id_ = 0;
    retries_ = 0;
    rto_ = cfg_.retransmit;
    cwnd_ = 1;
    ssthresh_ = cfg_.peer_window;
    failed_ = false;
}

}  // namespace dl::l2tp::engine
