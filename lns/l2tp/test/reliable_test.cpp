// RFC 2661 §5.8 / Appendix A reliable delivery in virtual time.
#include "dl/l2tp/engine/reliable.hpp"

#include <gtest/gtest.h>

#include <memory>

#include "dl/l2tp/builders.hpp"

using namespace dl::l2tp;
using namespace dl::l2tp::engine;
using namespace std::chrono_literals;

namespace {
struct Pair {
    dl::core::VirtualTimeLoop loop;
    std::vector<std::int64_t> tx_times;  // ms of each non-ZLB transmission by A
    std::vector<std::uint16_t> delivered_b;
    bool drop_a_to_b = false;
    std::string failure;
    std::unique_ptr<ReliableChannel> pa, pb;
    ReliableChannel& a;
    ReliableChannel& b;
    Pair(ReliableConfig ca = {}, ReliableConfig cb = {}) : pa(make(ca, true)), pb(make(cb, false)), a(*pa), b(*pb) {}
    std::unique_ptr<ReliableChannel> make(ReliableConfig c, bool is_a) {
        if (is_a) return std::make_unique<ReliableChannel>(loop.timers(), c, ReliableChannel::Callbacks
                                 {[this](std::vector<std::uint8_t> bytes) {
                                      L2TP m(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
                                      if (!m.is_zlb())
                                          tx_times.push_back(
                                              std::chrono::duration_cast<std::chrono::milliseconds>(loop.now().time_since_epoch()).count());
                                      if (!drop_a_to_b) pb->receive(m);
                                  },
                                  nullptr, [this](const std::string& f) { failure = f; }});
        return std::make_unique<ReliableChannel>(loop.timers(), c, ReliableChannel::Callbacks
                                 {[this](std::vector<std::uint8_t> bytes) {
                                      L2TP m(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
                                      pa->receive(m);
                                  },
                                  [this](L2TP& m) { delivered_b.push_back(*m.message_type()); }, nullptr});
    }
};
}  // namespace

TEST(SeqCompare, WrapAround) {
    EXPECT_TRUE(seq_lt(65535, 0));
    EXPECT_TRUE(seq_lt(1, 2));
    EXPECT_FALSE(seq_lt(0, 65535));
    EXPECT_FALSE(seq_lt(7, 7));
}

// req: L2TP.reliable
TEST(Reliable, RetransmissionScheduleThenFailure) {
    Pair p;
    p.drop_a_to_b = true;
    p.a.send(make_hello({}));
    p.loop.advance(60s);
    // Sent at 0, then retransmitted after 1, 2, 4, 8, 8 s (cap 8 s), then declared failed.
    EXPECT_EQ(p.tx_times, (std::vector<std::int64_t>{0, 1000, 3000, 7000, 15000, 23000}));
    EXPECT_EQ(p.failure, "retransmissions exhausted (5)");
    EXPECT_EQ(p.a.stats().retransmitted, 5u);
}

// req: L2TP.reliable
TEST(Reliable, DeliversAndAcksWithAConfiguredZlbDelay) {
    // An operator's `zlb-ack` delay (ReliableConfig::zlb_delay > 0) is still honoured: nothing at
    // the end of the pass, nothing before the delay, the ZLB exactly at it.
    ReliableConfig cb;
    cb.zlb_delay = 100ms;
    Pair p({}, cb);
    p.a.send(make_hello({}));
    EXPECT_EQ(p.delivered_b.size(), 1u);
    EXPECT_EQ(p.a.in_flight(), 1u);
    p.loop.advance(0ms);  // the end of the pass
    EXPECT_EQ(p.b.stats().zlb_sent, 0u) << "a configured delay: no ZLB at the end of the pass";
    p.loop.advance(99ms);
    EXPECT_EQ(p.b.stats().zlb_sent, 0u) << "nor before the delay";
    EXPECT_EQ(p.a.in_flight(), 1u);
    p.loop.advance(1ms);  // delayed ZLB from B
    EXPECT_EQ(p.a.in_flight(), 0u);
    EXPECT_EQ(p.b.stats().zlb_sent, 1u);
    p.loop.advance(10s);
    EXPECT_EQ(p.tx_times.size(), 1u);  // no retransmission
}

// req: L2TP.reliable
TEST(Reliable, DeliveredMessageWithNoReplyIsAckedAtTheEndOfThePass) {
    // Default zlb_delay 0 (RFC 2661 §5.8: the ZLB "if there are no further messages waiting in
    // queue for that peer"): no ZLB while the pass that delivered the message runs (receive() has
    // returned, other work of the pass may still reply), then one as soon as the owner's loop runs
    // the due timers — no time passes (VirtualTimeLoop::advance(0); AsioTimerDriver posts that run
    // after the handlers already queued).
    Pair p;
    ASSERT_EQ(p.b.config().zlb_delay, dl::core::Duration::zero());
    const auto t0 = p.loop.now();
    p.a.send(make_hello({}));
    EXPECT_EQ(p.delivered_b.size(), 1u);
    EXPECT_EQ(p.b.stats().zlb_sent, 0u) << "not before the pass ends";
    EXPECT_EQ(p.a.in_flight(), 1u);
    p.loop.advance(0ms);
    EXPECT_EQ(p.b.stats().zlb_sent, 1u) << "the ZLB right after the pass";
    EXPECT_EQ(p.a.in_flight(), 0u) << "and it acknowledged the HELLO";
    EXPECT_EQ(p.loop.now(), t0) << "without waiting for any time";
    p.loop.advance(10s);
    EXPECT_EQ(p.b.stats().zlb_sent, 1u) << "one ZLB only";
    EXPECT_EQ(p.tx_times.size(), 1u) << "no retransmission";
}

// req: L2TP.reliable
TEST(Reliable, ReplyInTheSamePassCarriesTheAckInsteadOfAZlb) {
    // A message B sends during the pass that delivered A's (from deliver(), or later in the same
    // pass) carries Nr (§5.8): no ZLB then. A message with no reply is still acked at the end of
    // its pass.
    Pair p;
    bool reply_from_deliver = true;
    // B's channel as in Pair, but replying to the first HELLO from deliver() (p.b names the
    // replaced one: `b` below is the new one).
    p.pb = std::make_unique<ReliableChannel>(p.loop.timers(), ReliableConfig{}, ReliableChannel::Callbacks
                                 {[&](std::vector<std::uint8_t> bytes) {
                                      L2TP m(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
                                      p.pa->receive(m);
                                  },
                                  [&](L2TP& m) {
                                      p.delivered_b.push_back(*m.message_type());
                                      if (reply_from_deliver) {
                                          reply_from_deliver = false;
                                          p.pb->send(make_hello({}));
                                      }
                                  }, nullptr});
    ReliableChannel& b = *p.pb;
    p.a.send(make_hello({}));  // 1: B replies from deliver()
    ASSERT_EQ(p.delivered_b.size(), 1u);
    EXPECT_EQ(p.a.in_flight(), 0u) << "B's reply carried Nr 1";
    p.loop.advance(0ms);
    EXPECT_EQ(b.stats().zlb_sent, 0u) << "reply from deliver(): no ZLB at the end of the pass";
    p.a.send(make_hello({}));  // 2: B replies later in the same pass (another handler of it)
    b.send(make_hello({}));
    EXPECT_EQ(p.a.in_flight(), 0u);
    p.loop.advance(0ms);
    EXPECT_EQ(b.stats().zlb_sent, 0u) << "reply later in the same pass: no ZLB";
    p.a.send(make_hello({}));  // 3: no reply
    EXPECT_EQ(b.stats().zlb_sent, 0u);
    p.loop.advance(0ms);
    EXPECT_EQ(b.stats().zlb_sent, 1u) << "no reply: a ZLB at the end of the pass";
    EXPECT_EQ(p.a.in_flight(), 0u);
    p.loop.advance(10s);
    EXPECT_EQ(b.stats().zlb_sent, 1u);
    EXPECT_EQ(p.a.stats().retransmitted + b.stats().retransmitted, 0u);
}

// req: L2TP.reliable
TEST(Reliable, HalfWindowUnackedIsAckedAtOnce) {
    // B advertises 8: the 4th unacknowledged message is acked by a ZLB at once (not at the end
    // of the pass, nor after a configured delay), so a peer allowed 8 in flight never stalls on
    // the ack while it has more to send.
    ReliableConfig cb;
    cb.receive_window = 8;
    cb.zlb_delay = 100ms;
    Pair p({}, cb);
    ASSERT_EQ(p.b.ack_threshold(), 4u);
    auto deliver = [&](Pair& x, std::uint16_t ns) {  // as the peer's channel would send them
        L2TP m = make_hello({});
        m.set_sequence(ns, 0);
        x.b.receive(m);
    };
    for (std::uint16_t ns = 0; ns < 3; ++ns) deliver(p, ns);
    EXPECT_EQ(p.delivered_b.size(), 3u);
    EXPECT_EQ(p.b.stats().zlb_sent, 0u) << "3 of 8 unacked: the ack is still delayed";
    deliver(p, 3);
    EXPECT_EQ(p.b.stats().zlb_sent, 1u) << "4 of 8 unacked: ZLB at once";
    p.loop.advance(100ms);
    EXPECT_EQ(p.b.stats().zlb_sent, 1u) << "no second, delayed ZLB for what was acked";
    deliver(p, 4);
    EXPECT_EQ(p.b.stats().zlb_sent, 1u) << "1 of 8 unacked again: delayed";
    p.loop.advance(100ms);
    EXPECT_EQ(p.b.stats().zlb_sent, 2u) << "then the delayed ZLB";
    ReliableConfig one;
    one.receive_window = 1;
    Pair q({}, one);
    deliver(q, 0);
    EXPECT_EQ(q.b.stats().zlb_sent, 1u) << "window 1: every message acked at once";
}

// req: L2TP.reliable
TEST(Reliable, WindowOneHoldsBackUntilAck) {
    // B acks after a configured 100 ms (zlb_delay): one round per 100 ms makes each step visible
    // (by default every round would complete at once, at the end of each pass).
    ReliableConfig ca, cb;
    ca.peer_window = 1;
    cb.zlb_delay = 100ms;
    Pair p(ca, cb);
    for (int i = 0; i < 3; ++i) p.a.send(make_hello({}));
    EXPECT_EQ(p.a.in_flight(), 1u);
    EXPECT_EQ(p.a.queued(), 2u);
    p.loop.advance(100ms);
    EXPECT_EQ(p.delivered_b.size(), 2u);
    p.loop.advance(100ms);
    EXPECT_EQ(p.delivered_b.size(), 3u);
    p.loop.advance(100ms);
    EXPECT_TRUE(p.a.idle());
}

// req: L2TP.reliable
TEST(Reliable, SlowStartOpensToPeerWindow) {
    // One round per 100 ms: B acks after a configured zlb_delay (as WindowOneHoldsBackUntilAck).
    ReliableConfig ca, cb;
    ca.peer_window = 4;
    cb.zlb_delay = 100ms;
    Pair p(ca, cb);
    for (int i = 0; i < 16; ++i) p.a.send(make_hello({}));
    EXPECT_EQ(p.a.in_flight(), 1u);  // CWND starts at 1 (Appendix A)
    p.loop.advance(100ms);
    EXPECT_EQ(p.a.in_flight(), 2u);
    p.loop.advance(100ms);
    EXPECT_LE(p.a.in_flight(), 4u);
    p.loop.advance(5s);
    EXPECT_EQ(p.delivered_b.size(), 16u);
    EXPECT_TRUE(p.a.idle());
    EXPECT_EQ(p.a.stats().retransmitted, 0u);
}

// req: L2TP.reliable
TEST(Reliable, Window16InFlight) {
    ReliableConfig ca;
    ca.peer_window = 16;
    Pair p(ca);
    p.drop_a_to_b = true;
    for (int i = 0; i < 40; ++i) p.a.send(make_hello({}));
    EXPECT_EQ(p.a.in_flight(), 1u);
    p.drop_a_to_b = false;
    p.loop.advance(1s);  // retransmission gets through
    p.loop.advance(30s);
    EXPECT_EQ(p.delivered_b.size(), 40u);
    EXPECT_LE(p.a.cwnd(), 16.0);
}

// req: L2TP.reliable, L2TP.congestion
TEST(Reliable, SlowStartThenCongestionAvoidanceAfterATimeout) {
    // RFC 2661 Appendix A: CWND +1 per acknowledged message below SSTHRESH (slow start), +1/CWND
    // at or above it (congestion avoidance); a retransmission timeout sets SSTHRESH = CWND / 2 and
    // CWND = 1. One message at a time, each acked by B's ZLB (at the end of the pass).
    ReliableConfig ca;
    ca.peer_window = 16;
    Pair p(ca);
    auto one = [&p] {
        p.a.send(make_hello({}));
        p.loop.advance(200ms);
        EXPECT_EQ(p.a.in_flight(), 0u);
        return p.a.cwnd();
    };
    EXPECT_EQ(p.a.cwnd(), 1.0);
    EXPECT_EQ(p.a.ssthresh(), 16.0);  // SSTHRESH starts at the peer's window
    for (int i = 2; i <= 8; ++i) EXPECT_EQ(one(), double(i)) << "slow start: +1 per ack";
    // Lose one transmission: the timeout halves SSTHRESH (8 / 2) and restarts CWND at 1; the
    // retransmission gets through and its ack is the first of the new slow start.
    p.drop_a_to_b = true;
    p.a.send(make_hello({}));
    p.drop_a_to_b = false;
    p.loop.advance(1s + 200ms);
    EXPECT_EQ(p.a.stats().retransmitted, 1u);
    EXPECT_EQ(p.a.ssthresh(), 4.0);
    EXPECT_EQ(p.a.cwnd(), 2.0);
    EXPECT_EQ(one(), 3.0);
    EXPECT_EQ(one(), 4.0);  // reaches SSTHRESH
    // Congestion avoidance: linear growth, about one message per window of acks.
    double w = 4.0;
    for (int i = 0; i < 4; ++i) {
        w += 1.0 / w;
        EXPECT_DOUBLE_EQ(one(), w) << "congestion avoidance: +1/CWND per ack, ack " << i;
    }
    EXPECT_LT(p.a.cwnd(), 5.0) << "4 acks past SSTHRESH grow CWND by less than one message";
}

// req: L2TP.reliable
TEST(Reliable, OutOfOrderHeldDuplicatesReacked) {
    dl::core::VirtualTimeLoop loop;
    std::vector<std::uint16_t> got;
    std::size_t zlbs = 0;
    ReliableChannel b(loop.timers(), {}, {[&](std::vector<std::uint8_t>) { ++zlbs; },
                                          [&](L2TP& m) { got.push_back(m.ns()); }, nullptr});
    auto msg = [](std::uint16_t ns) { L2TP m = make_hello({0, 0, ns, 0}); return m; };
    L2TP m2 = msg(2), m1 = msg(1), m0 = msg(0), d = msg(0), far = msg(100);
    b.receive(m2);
    b.receive(m1);
    EXPECT_TRUE(got.empty());
    EXPECT_EQ(zlbs, 2u);
    b.receive(m0);
    EXPECT_EQ(got, (std::vector<std::uint16_t>{0, 1, 2}));
    b.receive(d);  // duplicate: ZLB at once, not redelivered
    EXPECT_EQ(got.size(), 3u);
    EXPECT_EQ(b.stats().duplicates, 1u);
    b.receive(far);
    EXPECT_EQ(b.stats().outside_window, 1u);
    EXPECT_EQ(b.next_nr(), 3u);
}

// req: L2TP.reliable
TEST(Reliable, SequenceWrapAt65535) {
    Pair p;
    p.a.set_initial_sequence(65534, 0);
    p.b.set_initial_sequence(0, 65534);
    for (int i = 0; i < 5; ++i) p.a.send(make_hello({}));
    p.loop.advance(5s);
    EXPECT_EQ(p.delivered_b.size(), 5u);
    EXPECT_EQ(p.b.next_nr(), 3u);
    EXPECT_TRUE(p.a.idle());
    EXPECT_EQ(p.a.stats().retransmitted, 0u);
}

// ---- bounds: out-of-order buffer (packets, octets) ---------------------------------------------

namespace {
L2TP hello_with_ns(std::uint16_t ns) {
    L2TP m = make_hello({});
    m.set_sequence(ns, 0);
    return m;
}
}  // namespace

// req: L2TP.flood-limits
TEST(Reliable, OutOfOrderBufferIsBoundedInPacketsAndBytes) {
    dl::core::VirtualTimeLoop loop;
    std::vector<std::uint16_t> delivered;
    std::size_t dropped_cb = 0;
    ReliableConfig c;
    c.receive_window = 64;
    c.reorder_packets = 4;
    ReliableChannel ch(loop.timers(), c,
                       {[](std::vector<std::uint8_t>) {}, [&](L2TP& m) { delivered.push_back(m.ns()); }, nullptr,
                        [&] { ++dropped_cb; }});
    // A gap at Ns 0 kept open: 30 messages ahead of it.
    for (std::uint16_t ns = 1; ns <= 30; ++ns) {
        L2TP m = hello_with_ns(ns);
        ch.receive(m);
    }
    EXPECT_EQ(ch.held(), 4u);
    EXPECT_EQ(ch.stats().reorder_dropped, 26u);
    EXPECT_EQ(dropped_cb, 26u);
    L2TP first = hello_with_ns(0);
    ch.receive(first);
    EXPECT_EQ(delivered, (std::vector<std::uint16_t>{0, 1, 2, 3, 4})) << "what was kept is delivered in order";
    EXPECT_EQ(ch.held(), 0u);
    EXPECT_EQ(ch.held_bytes(), 0u);

    // Octets: room for two messages only.
    ReliableConfig cb2 = c;
    cb2.reorder_packets = 0;
    L2TP probe = hello_with_ns(1);
    cb2.reorder_bytes = 2 * (probe.header_size() + sizeof(L2TP));
    ReliableChannel ch2(loop.timers(), cb2, {[](std::vector<std::uint8_t>) {}, nullptr, nullptr, nullptr});
    for (std::uint16_t ns = 1; ns <= 10; ++ns) {
        L2TP m = hello_with_ns(ns);
        ch2.receive(m);
    }
    EXPECT_EQ(ch2.held(), 2u);
    EXPECT_LE(ch2.held_bytes(), cb2.reorder_bytes);
    EXPECT_EQ(ch2.stats().reorder_dropped, 8u);
}
