// lac-emu fault injection (dl/lac/faults.hpp): the pure decisions, then each fault between two
// instances of the project's RFC 2661 engine (LNS and LAC) in virtual time, the LAC's datagrams
// going through the FaultInjector as in lac-emu's shell.
#include "dl/lac/faults.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "dl/core/event.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/l2tp/engine/engine.hpp"
#include "dl/l2tp/engine/reliable.hpp"
#include "dl/l2tp/l2tp.hpp"
#include "dl/proto/errors.hpp"

using namespace dl;
using namespace std::chrono_literals;
using lac::FaultInjector;
using lac::FaultKind;

namespace {
// T L S, version 2; Length 20; Tunnel 7, Session 0; Ns 0, Nr 0; Message Type AVP (M, length 8) = 1 SCCRQ.
std::vector<std::uint8_t> sccrq() {
    return {0xC8, 0x02, 0x00, 0x14, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x80, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01};
}
std::vector<std::uint8_t> hello() {
    auto m = sccrq();
    m.back() = 6;
    return m;
}
std::vector<std::uint8_t> zlb() { return {0xC8, 0x02, 0x00, 0x0C, 0x00, 0x07, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01}; }
}  // namespace

// req: PEER.faults
TEST(LacFaults, MessageTypeOfControlMessagesOnly) {
    EXPECT_EQ(lac::control_message_type(sccrq()), std::optional<std::uint16_t>(1));
    EXPECT_EQ(lac::first_avp_offset(sccrq()), std::optional<std::size_t>(12));
    EXPECT_EQ(lac::control_message_type(zlb()), std::nullopt) << "a ZLB has no Message Type";
    // A data message (T clear) carrying bytes that look like an AVP is not a control message.
    std::vector<std::uint8_t> data{0x40, 0x02, 0x00, 0x14, 0x00, 0x07, 0x00, 0x01, 0x80, 0x08,
                                   0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xFF, 0x03, 0xC0, 0x21};
    EXPECT_EQ(lac::control_message_type(data), std::nullopt);
    // Offset Size 2 (O bit): the AVP starts after the pad.
    std::vector<std::uint8_t> off{0xCA, 0x02, 0x00, 0x18, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                  0x00, 0x02, 0xAA, 0xBB, 0x80, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06};
    EXPECT_EQ(lac::first_avp_offset(off), std::optional<std::size_t>(16));
    EXPECT_EQ(lac::control_message_type(off), std::optional<std::uint16_t>(6));
    EXPECT_EQ(lac::control_message_type(std::vector<std::uint8_t>{0xC8, 0x02}), std::nullopt) << "truncated";
}

// req: PEER.faults
TEST(LacFaults, CorruptionMakesTheMessageMalformedButKeepsTheHeader) {
    const auto orig = sccrq();
    auto m = orig;
    ASSERT_NO_THROW(l2tp::L2TP(m.data(), static_cast<std::uint32_t>(m.size())));
    ASSERT_TRUE(lac::corrupt_first_avp_length(m));
    EXPECT_EQ(std::vector<std::uint8_t>(m.begin(), m.begin() + 12), std::vector<std::uint8_t>(orig.begin(), orig.begin() + 12))
        << "the L2TP header is untouched";
    EXPECT_EQ(m[12], 0x80) << "M bit kept";
    EXPECT_EQ(m[13], 5) << "AVP Length 5";
    EXPECT_THROW(l2tp::L2TP(m.data(), static_cast<std::uint32_t>(m.size())), proto::ParseError)
        << "RFC 2661 §4.1: Length below 6 must not parse";
    auto z = zlb();
    EXPECT_FALSE(lac::corrupt_first_avp_length(z));
    EXPECT_EQ(z, zlb());
}

// req: PEER.faults
TEST(LacFaults, ArmedFaultsApplyInOrderToControlMessagesOnly) {
    FaultInjector f;
    f.arm(FaultKind::drop, 2);
    f.arm(FaultKind::duplicate, 1);
    f.arm(FaultKind::delay, 1, 3s);
    f.arm(FaultKind::corrupt, 1);
    EXPECT_EQ(f.pending(), 5u);

    auto z = f.outgoing(zlb());
    EXPECT_FALSE(z.applied) << "ZLBs are not control messages to fault";
    ASSERT_EQ(z.emissions.size(), 1u);
    EXPECT_EQ(f.pending(), 5u);

    for (int i = 0; i < 2; ++i) {
        auto d = f.outgoing(sccrq());
        EXPECT_EQ(d.applied, FaultKind::drop);
        EXPECT_TRUE(d.emissions.empty()) << "dropped";
    }
    auto dup = f.outgoing(sccrq());
    EXPECT_EQ(dup.applied, FaultKind::duplicate);
    ASSERT_EQ(dup.emissions.size(), 2u);
    EXPECT_EQ(dup.emissions[0].bytes, sccrq());
    EXPECT_EQ(dup.emissions[1].bytes, sccrq());
    EXPECT_EQ(dup.emissions[1].after, core::Duration::zero());

    auto del = f.outgoing(sccrq());
    EXPECT_EQ(del.applied, FaultKind::delay);
    ASSERT_EQ(del.emissions.size(), 1u);
    EXPECT_EQ(del.emissions[0].after, core::Duration(3s));
    EXPECT_EQ(del.emissions[0].bytes, sccrq());

    auto bad = f.outgoing(sccrq());
    EXPECT_EQ(bad.applied, FaultKind::corrupt);
    ASSERT_EQ(bad.emissions.size(), 1u);
    EXPECT_NE(bad.emissions[0].bytes, sccrq());

    auto clean = f.outgoing(sccrq());
    EXPECT_FALSE(clean.applied) << "all armed faults used up";
    ASSERT_EQ(clean.emissions.size(), 1u);
    EXPECT_EQ(clean.emissions[0].bytes, sccrq());
    EXPECT_EQ(f.pending(), 0u);
    const auto& c = f.counters();
    EXPECT_EQ((std::vector<std::uint64_t>{c.dropped, c.duplicated, c.delayed, c.corrupted}),
              (std::vector<std::uint64_t>{2, 1, 1, 1}));
}

// req: PEER.faults
TEST(LacFaults, BoundsAndNames) {
    FaultInjector f;
    EXPECT_THROW(f.arm(FaultKind::drop, 0), std::invalid_argument);
    EXPECT_THROW(f.arm(FaultKind::drop, 1001), std::invalid_argument);
    EXPECT_THROW(f.arm(FaultKind::delay, 1, 11min), std::invalid_argument);
    EXPECT_THROW(f.arm(FaultKind::delay, 1, -1s), std::invalid_argument);
    EXPECT_EQ(f.pending(), 0u) << "a refused arm() arms nothing";
    for (auto k : {FaultKind::drop, FaultKind::duplicate, FaultKind::corrupt, FaultKind::delay})
        EXPECT_EQ(lac::fault_kind_from(lac::to_string(k)), k);
    EXPECT_EQ(lac::fault_kind_from("explode"), std::nullopt);
    f.arm(FaultKind::drop, 3);
    f.set_ignore_hello(true);
    f.clear();
    EXPECT_EQ(f.pending(), 0u);
    EXPECT_FALSE(f.ignore_hello());
}

// req: PEER.faults
TEST(LacFaults, IgnoresOnlyHelloAndOnlyWhenAsked) {
    FaultInjector f;
    EXPECT_TRUE(f.deliver(hello()));
    f.set_ignore_hello(true);
    EXPECT_FALSE(f.deliver(hello()));
    EXPECT_TRUE(f.deliver(sccrq()));
    EXPECT_TRUE(f.deliver(zlb()));
    EXPECT_EQ(f.counters().hello_ignored, 1u);
    f.set_ignore_hello(false);
    EXPECT_TRUE(f.deliver(hello()));
}

// ---- the faults between two engines -------------------------------------------------------------

namespace {
constexpr l2tp::engine::PeerId kLnsPeer = 1, kLacPeer = 2;

/// LNS engine <-> LAC engine, 5 ms each way; the LAC's datagrams go through `faults`. The LNS opens
/// a tunnel and places one outgoing call that the LAC answers at once (OCRP, OCCN).
struct Pair {
    core::VirtualTimeLoop loop;
    core::EventBus bus{loop.clock()};
    core::TimerRegistry registry;
    FaultInjector faults;
    std::unique_ptr<l2tp::engine::Engine> lns, lac;
    std::vector<l2tp::engine::SessionKey> connected;
    std::vector<std::string> lns_tunnel_down;
    std::optional<core::TimePoint> lns_got_sccrp;
    std::optional<l2tp::engine::SessionKey> lac_key;

    Pair() {
        l2tp::engine::register_l2tp_timers(registry);
        l2tp::engine::EngineConfig lns_cfg, lac_cfg;
        lns_cfg.host_name = "lns";
        lac_cfg.host_name = "lac";
        lns_cfg.secret = lac_cfg.secret = "s3cret";
        lns_cfg.max_retransmits = lac_cfg.max_retransmits = 3;
        lns_cfg.seed = 1;
        lac_cfg.seed = 2;
        l2tp::engine::EngineCallbacks lcb;
        lcb.send = [this](l2tp::engine::PeerId, std::vector<std::uint8_t> b) {
            auto out = faults.outgoing(std::move(b));
            for (auto& e : out.emissions)
                loop.timers().arm(e.after + 5ms, [this, bytes = e.bytes] {
                    if (lac::control_message_type(bytes) == std::optional<std::uint16_t>(2)) lns_got_sccrp = loop.clock().now();
                    lns->receive(kLacPeer, bytes);
                });
        };
        lcb.ocrq = [this](l2tp::engine::SessionKey k, const l2tp::engine::OutgoingCall&) {
            lac_key = k;
            loop.timers().arm(0ms, [this, k] {
                lac->accept(k);
                lac->call_connected(k, 64000, l2tp::kFramingSync);
            });
        };
        lac = std::make_unique<l2tp::engine::Engine>(loop.timers(), registry, bus, lac_cfg, lcb);
        l2tp::engine::EngineCallbacks ncb;
        ncb.send = [this](l2tp::engine::PeerId, std::vector<std::uint8_t> b) {
            loop.timers().arm(5ms, [this, b] {
                if (faults.deliver(b)) lac->receive(kLnsPeer, b);
            });
        };
        ncb.connected = [this](l2tp::engine::SessionKey k, const l2tp::engine::ConnectInfo&) { connected.push_back(k); };
        ncb.tunnel_down = [this](std::uint16_t, const std::string& cause) { lns_tunnel_down.push_back(cause); };
        lns = std::make_unique<l2tp::engine::Engine>(loop.timers(), registry, bus, lns_cfg, ncb);
    }
    l2tp::engine::SessionKey dial() {
        l2tp::engine::OutgoingCall oc;
        oc.called_number = "5551000";
        oc.bearer_type = l2tp::kBearerDigital;
        oc.framing_type = l2tp::kFramingSync;
        return lns->place_outgoing_call(kLacPeer, oc);
    }
};
}  // namespace

// req: PEER.faults
TEST(LacFaults, DroppedSccrpIsRetransmittedAndTheCallCompletes) {
    Pair p;
    p.faults.arm(FaultKind::drop, 1);
    const auto k = p.dial();
    p.loop.advance(500ms);
    EXPECT_TRUE(p.connected.empty()) << "the SCCRP was dropped: no call yet";
    p.loop.advance(10s);
    ASSERT_EQ(p.connected.size(), 1u) << "RFC 2661 §5.8: the LAC retransmits the SCCRP and the call completes";
    EXPECT_EQ(p.faults.counters().dropped, 1u);
    ASSERT_TRUE(p.lac_key);
    const auto* ch = p.lac->channel(p.lac_key->tunnel);
    ASSERT_NE(ch, nullptr);
    EXPECT_GE(ch->stats().retransmitted, 1u) << "the LAC retransmitted";
    EXPECT_EQ(p.lns->session_state(k), "established");
}

// req: PEER.faults
TEST(LacFaults, DuplicatedMessageIsAcknowledgedAndIgnored) {
    Pair p;
    p.faults.arm(FaultKind::duplicate, 1);
    const auto k = p.dial();
    p.loop.advance(2s);
    ASSERT_EQ(p.connected.size(), 1u);
    const auto* ch = p.lns->channel(k.tunnel);
    ASSERT_NE(ch, nullptr);
    EXPECT_EQ(ch->stats().duplicates, 1u) << "§5.8: the copy is recognised by its Ns";
    EXPECT_EQ(p.lns->tunnel_count(), 1u) << "and ignored: one tunnel";
    EXPECT_EQ(p.lns->stats().malformed, 0u);
    const auto* lch = p.lac->channel(p.lac_key->tunnel);
    EXPECT_EQ(lch->stats().retransmitted, 0u) << "the original was acknowledged: nothing to retransmit";
}

// req: PEER.faults
TEST(LacFaults, CorruptedMessageIsCountedMalformedAndRecoveredByRetransmission) {
    Pair p;
    p.faults.arm(FaultKind::corrupt, 1);
    const auto k = p.dial();
    p.loop.advance(500ms);
    EXPECT_EQ(p.lns->stats().malformed, 1u) << "the receiver detects the corrupted AVP";
    EXPECT_TRUE(p.connected.empty());
    p.loop.advance(10s);
    ASSERT_EQ(p.connected.size(), 1u) << "not acknowledged, so retransmitted intact";
    EXPECT_EQ(p.lns->session_state(k), "established");
}

// req: PEER.faults
TEST(LacFaults, DelayedMessageArrivesAfterTheDelay) {
    Pair p;
    p.registry.set("retransmit", 5s);  // no retransmission overtakes the delayed SCCRP
    p.faults.arm(FaultKind::delay, 1, 2s);
    const auto t0 = p.loop.clock().now();
    p.dial();
    p.loop.advance(1900ms);
    EXPECT_FALSE(p.lns_got_sccrp) << "not before the delay";
    p.loop.advance(3s);
    ASSERT_TRUE(p.lns_got_sccrp);
    EXPECT_GE(*p.lns_got_sccrp - t0, core::Duration(2s));
    EXPECT_LT(*p.lns_got_sccrp - t0, core::Duration(2100ms)) << "the SCCRP came from the delay, not a retransmission";
    ASSERT_EQ(p.connected.size(), 1u);
}

// req: PEER.faults
TEST(LacFaults, UnansweredHelloMakesThePeerDeclareTheTunnelDead) {
    Pair p;
    p.registry.set("hello", 5s);
    p.dial();
    p.loop.advance(1s);
    ASSERT_EQ(p.connected.size(), 1u);
    p.faults.set_ignore_hello(true);
    p.loop.advance(2min);
    EXPECT_GE(p.faults.counters().hello_ignored, 4u) << "the Hello and its 3 retransmissions";
    ASSERT_FALSE(p.lns_tunnel_down.empty()) << "RFC 2661 §5.5/§5.8: the LNS gives up on the silent peer";
    EXPECT_EQ(p.lns->tunnel_count(), 0u);
}
