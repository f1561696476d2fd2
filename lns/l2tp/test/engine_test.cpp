// RFC 2661 engine, LNS role ↔ LAC role back to back in virtual time with golden event logs.
#include "dl/l2tp/engine/engine.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <tuple>

#include "dl/l2tp/builders.hpp"

using namespace dl::l2tp;
using namespace dl::l2tp::engine;
using namespace std::chrono_literals;

namespace {

constexpr PeerId kLac = 1, kLns = 2;

/// Message type of a datagram ("ZLB", "data", "SCCRQ"…).
std::string kind(const std::vector<std::uint8_t>& b) {
    try {
        L2TP m(b.data(), static_cast<std::uint32_t>(b.size()));
        if (m.is_data()) return "data";
        if (m.is_zlb()) return "ZLB";
        return std::string(message_name(m.message_type().value_or(0)));
    } catch (...) {
        return "malformed";
    }
}

struct Side {
    std::unique_ptr<Engine> engine;
    std::vector<std::string> log;  // upcalls
    std::vector<SessionKey> ocrqs;
    std::vector<ConnectInfo> connects;
    std::vector<CallFailure> failures;  // call_ended, every one (CallFailure::ended_by says who)
    std::vector<SessionKey> ended;      // their keys
    std::function<void(SessionKey, const CallFailure&)> on_ended;  // re-entrancy tests: runs inside the upcall
    std::vector<std::vector<std::uint8_t>> frames;
    std::vector<std::uint16_t> ups;
    std::vector<Accm> accms;
    std::vector<CallErrors> wens;
    std::vector<std::string> order;  // "connected" / "ppp <4th byte>" in upcall order
    std::vector<SessionKey> keys;    // of connected()
};

/// Two engines joined by an in-memory link with 10 ms latency; `drop` / `dup` rules decide per
/// datagram (direction "LNS>LAC" or "LAC>LNS", message kind).
struct World {
    dl::core::VirtualTimeLoop loop;
    dl::core::EventBus bus{loop.clock()};
    dl::core::TimerRegistry registry;
    dl::core::EventRecorder rec{bus, {"l2tp", ""}};
    Side lns, lac;
    std::function<bool(const std::string& dir, const std::string& kind)> drop, dup;
    std::function<dl::core::Duration(const std::string& dir, const std::string& kind)> delay;  // extra
    std::vector<std::string> wire;  // "LNS>LAC SCCRQ"
    std::vector<std::vector<std::uint8_t>> raw;  // every datagram sent, in order
    dl::core::Duration latency = 10ms;

    using Policy = std::function<PeerPolicy(PeerId)>;
    World(EngineConfig lns_cfg = {}, EngineConfig lac_cfg = {}, Policy lns_policy = {}, Policy lac_policy = {}) {
        lns_cfg.seed = lns_cfg.seed ? lns_cfg.seed : 11;
        lac_cfg.seed = lac_cfg.seed ? lac_cfg.seed : 22;
        lac_cfg.host_name = "lac";
        auto lns_cb = callbacks(lns, kLac, "LNS>LAC", lac);
        lns_cb.peer_policy = std::move(lns_policy);
        auto lac_cb = callbacks(lac, kLns, "LAC>LNS", lns);
        lac_cb.peer_policy = std::move(lac_policy);
        lns.engine = std::make_unique<Engine>(loop.timers(), registry, bus, lns_cfg, std::move(lns_cb));
        lac.engine = std::make_unique<Engine>(loop.timers(), registry, bus, lac_cfg, std::move(lac_cb));
    }
    EngineCallbacks callbacks(Side& me, PeerId, std::string dir, Side& other) {
        EngineCallbacks cb;
        PeerId from = &me == &lns ? kLns : kLac;
        cb.send = [this, dir, &other, from](PeerId, std::vector<std::uint8_t> b) {
            std::string k = kind(b);
            wire.push_back(dir + " " + k);
            raw.push_back(b);
            if (drop && drop(dir, k)) return;
            int copies = dup && dup(dir, k) ? 2 : 1;
            auto d = latency + (delay ? delay(dir, k) : dl::core::Duration{});
            for (int i = 0; i < copies; ++i)
                loop.timers().arm(d, [&other, from, b] { other.engine->receive(from, b); });
        };
        cb.tunnel_up = [&me](std::uint16_t t, PeerId) { me.ups.push_back(t); me.log.push_back("tunnel-up"); };
        cb.tunnel_down = [&me](std::uint16_t, const std::string& c) { me.log.push_back("tunnel-down: " + c); };
        cb.connected = [&me](SessionKey k, const ConnectInfo& ci) {
            me.keys.push_back(k);
            me.connects.push_back(ci);
            me.log.push_back("connected");
            me.order.push_back("connected");
        };
        cb.call_ended = [&me](SessionKey k, const CallFailure& f) {
            me.failures.push_back(f);
            me.ended.push_back(k);
            me.log.push_back("failed " + std::to_string(f.result));
            if (me.on_ended) me.on_ended(k, f);
        };
        cb.ppp_frame = [&me](SessionKey, std::span<const std::uint8_t> f) {
            me.frames.emplace_back(f.begin(), f.end());
            me.order.push_back("ppp " + std::to_string(f.size() > 3 ? f[3] : -1));
        };
        cb.sli = [&me](SessionKey, const Accm& a) { me.accms.push_back(a); };
        cb.wen = [&me](SessionKey, const CallErrors& e) { me.wens.push_back(e); };
        cb.ocrq = [&me](SessionKey k, const OutgoingCall&) { me.ocrqs.push_back(k); me.log.push_back("ocrq"); };
        return cb;
    }
    std::string wire_text() const {
        std::string s;
        for (auto& w : wire) s += w + "\n";
        return s;
    }
};

const char* const kOutgoingGolden = R"(+0.000000s l2tp.session 50163/33077: idle -> wait-tunnel on call-request (cause=place outgoing call to 5551234)
+0.000000s l2tp.tunnel 50163: idle -> wait-ctl-reply on open (cause=local open)
+0.010000s l2tp.tunnel 20597: idle -> wait-ctl-conn on recv-SCCRQ-acceptable (cause=SCCRQ from dl-lns)
+0.020000s l2tp.tunnel 50163: wait-ctl-reply -> established on recv-SCCRP-acceptable (cause=SCCRP from lac)
+0.020000s l2tp.session 50163/33077: wait-tunnel -> wait-reply on tunnel-up (cause=tunnel established)
+0.030000s l2tp.tunnel 20597: wait-ctl-conn -> established on recv-SCCCN-acceptable (cause=SCCCN)
+0.030000s l2tp.session 20597/43791: idle -> wait-cs-answer on recv-OCRQ (cause=OCRQ to 5551234)
+1.000000s l2tp.session 20597/43791: wait-cs-answer -> wait-cs-answer on accept (cause=accept)
+1.010000s l2tp.session 50163/33077: wait-reply -> wait-connect on recv-OCRP (cause=OCRP)
+2.000000s l2tp.session 20597/43791: wait-cs-answer -> established on bearer-up (cause=call connected)
+2.010000s l2tp.session 50163/33077: wait-connect -> established on recv-OCCN (cause=OCCN)
)";

const char* const kAuthFailureGolden = R"(+0.000000s l2tp.tunnel 50163: idle -> wait-ctl-reply on open (cause=local open)
+0.010000s l2tp.tunnel 20597: idle -> wait-ctl-conn on recv-SCCRQ-acceptable (cause=SCCRQ from dl-lns)
+0.020000s l2tp.tunnel 50163: wait-ctl-reply -> idle on recv-SCCRP-not-acceptable (cause=wrong Challenge Response (StopCCN result 4))
+0.030000s l2tp.tunnel 20597: wait-ctl-conn -> idle on recv-StopCCN (cause=StopCCN result 4 error 0 (bad Challenge Response))
)";

OutgoingCall call() {
    OutgoingCall c;
    c.called_number = "5551234";
    c.max_bps = 64000;
    c.call_serial_number = 7;
    return c;
}

}  // namespace

// req: L2TP.outgoing
TEST(Engine, OutgoingCallToOccnGoldenLog) {
    World w;
    SessionKey k = w.lns.engine->place_outgoing_call(kLac, call());
    w.loop.advance(1s);
    ASSERT_EQ(w.lac.ocrqs.size(), 1u);
    SessionKey lk = w.lac.ocrqs[0];
    EXPECT_EQ(w.lac.engine->session_state(lk), "wait-cs-answer");
    EXPECT_EQ(w.lns.engine->session_state(k), "wait-reply");
    ASSERT_TRUE(w.lac.engine->accept(lk));
    w.loop.advance(1s);
    EXPECT_EQ(w.lns.engine->session_state(k), "wait-connect");
    ASSERT_TRUE(w.lac.engine->call_connected(lk, 56000, kFramingSync));
    w.loop.advance(1s);
    EXPECT_EQ(w.lns.engine->session_state(k), "established");
    ASSERT_EQ(w.lns.connects.size(), 1u);
    EXPECT_EQ(w.lns.connects[0].tx_connect_speed, 56000u);
    EXPECT_EQ(w.wire_text(),
              "LNS>LAC SCCRQ\nLAC>LNS SCCRP\nLNS>LAC SCCCN\nLNS>LAC OCRQ\nLAC>LNS ZLB\nLAC>LNS OCRP\nLNS>LAC ZLB\n"
              "LAC>LNS OCCN\nLNS>LAC ZLB\n");
    // Golden event log of both ends (tunnel IDs come from the seeded random sources).
    EXPECT_EQ(w.rec.text(), kOutgoingGolden);
    // PPP both ways.
    std::vector<std::uint8_t> lcp{0xc0, 0x21, 1, 1, 0, 4};
    EXPECT_TRUE(w.lns.engine->send_ppp(k, lcp));
    EXPECT_TRUE(w.lac.engine->send_ppp(lk, lcp));
    w.loop.advance(1s);
    ASSERT_EQ(w.lac.frames.size(), 1u);
    EXPECT_EQ(w.lac.frames[0], lcp);
    EXPECT_EQ(w.lns.frames.size(), 1u);
}

/// When each "LAC>LNS ZLB" left the LAC (virtual ms since the start) on an outgoing call set up to
/// its OCRQ, with the LAC's `zlb-ack` registry value `zlb_ack` (none: the default).
std::vector<std::int64_t> lac_zlb_times(std::optional<std::string> zlb_ack) {
    World w;
    if (zlb_ack) w.registry.set("zlb-ack", *zlb_ack);
    const auto t0 = w.loop.now();
    std::vector<std::int64_t> times;
    w.delay = [&](const std::string& dir, const std::string& k) {
        if (dir == "LAC>LNS" && k == "ZLB")
            times.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(w.loop.now() - t0).count());
        return dl::core::Duration{};
    };
    w.lns.engine->place_outgoing_call(kLac, call());
    w.loop.advance(1s);
    EXPECT_EQ(w.lac.ocrqs.size(), 1u);
    return times;
}

// req: L2TP.reliable
TEST(Engine, ZlbAckAtTheEndOfThePassByDefaultOrAfterTheConfiguredDelay) {
    // The SCCCN and the OCRQ reach the LAC at 30 ms (10 ms links) and nothing answers them at
    // once (the OCRP waits for the bearer): RFC 2661 §5.8's ZLB, at 30 ms by default (the end of
    // the pass: both messages arrive in it, one ZLB acks both), at 30 + zlb-ack when one is set.
    EXPECT_EQ(lac_zlb_times(std::nullopt), (std::vector<std::int64_t>{30}));
    EXPECT_EQ(lac_zlb_times("0s"), (std::vector<std::int64_t>{30}));
    EXPECT_EQ(lac_zlb_times("20ms"), (std::vector<std::int64_t>{50}));
    EXPECT_EQ(lac_zlb_times("1s"), (std::vector<std::int64_t>{}));  // not within the second: 1 030 ms
}

// req: L2TP.reliable
TEST(Engine, ZlbAckRegistryEntry) {
    dl::core::TimerRegistry r;
    register_l2tp_timers(r);
    EXPECT_EQ(r.get("zlb-ack"), dl::core::Duration::zero()) << "default: at the end of the pass";
    EXPECT_EQ(r.entry("zlb-ack").spec.min, dl::core::Duration::zero());
    EXPECT_EQ(r.entry("zlb-ack").spec.max, dl::core::Duration(1s));
    r.set("zlb-ack", "0ms");
    EXPECT_EQ(r.get("zlb-ack"), dl::core::Duration::zero());
    r.set("zlb-ack", "100ms");
    EXPECT_EQ(r.get("zlb-ack"), dl::core::Duration(100ms));
    auto message = [&](std::string_view text) -> std::string {
        try {
            r.set("zlb-ack", text);
        } catch (const std::exception& e) {
            return e.what();
        }
        return "accepted";
    };
    EXPECT_NE(message("0").find("timers.zlb-ack"), std::string::npos) << message("0");
    EXPECT_NE(message("0").find("has no unit; write 0s"), std::string::npos) << message("0");
    EXPECT_NE(message("2s").find("timers.zlb-ack"), std::string::npos) << message("2s");
    EXPECT_NE(message("2s").find("is above the maximum 1s"), std::string::npos) << message("2s");
    EXPECT_NE(message("-1ms").find("is negative"), std::string::npos) << message("-1ms");
    EXPECT_EQ(r.get("zlb-ack"), dl::core::Duration(100ms)) << "a refused value changes nothing";
}

// req: L2TP.outgoing
TEST(Engine, OutgoingCallFailsWithCdnAndQ931) {
    World w;
    SessionKey k = w.lns.engine->place_outgoing_call(kLac, call());
    w.loop.advance(1s);
    ASSERT_EQ(w.lac.ocrqs.size(), 1u);
    ASSERT_TRUE(w.lac.engine->accept(w.lac.ocrqs[0]));
    ASSERT_TRUE(w.lac.engine->disconnect(w.lac.ocrqs[0], CdnResult::Busy, std::nullopt, Q931Cause{17, 0x5a, "busy"}));
    w.loop.advance(1s);
    ASSERT_EQ(w.lns.failures.size(), 1u);
    EXPECT_EQ(w.lns.failures[0].result, 8u);
    ASSERT_TRUE(w.lns.failures[0].q931);
    EXPECT_EQ(w.lns.failures[0].q931->cause_code, 17u);
    EXPECT_EQ(w.lns.engine->session_state(k), "");
    EXPECT_EQ(w.lns.engine->tunnel_state(k.tunnel), "established");  // tunnel stays
}

// req: L2TP.incoming
TEST(Engine, IncomingCallWithProxyAvps) {
    World w;
    IncomingCall c;
    c.calling_number = "0123";
    c.tx_connect_speed = 10'000'000;
    c.rx_connect_speed = 2'000'000;
    c.initial_received_lcp_confreq = std::vector<std::uint8_t>{1, 4, 5, 0xdc};
    c.proxy_authen_type = 2;
    c.proxy_authen_name = "user@realm";
    c.proxy_authen_challenge = std::vector<std::uint8_t>(16, 0xaa);
    c.proxy_authen_id = 9;
    c.proxy_authen_response = std::vector<std::uint8_t>(16, 0xbb);
    SessionKey lk = w.lac.engine->place_incoming_call(kLns, c);
    w.loop.advance(1s);
    EXPECT_EQ(w.lac.engine->session_state(lk), "established");
    ASSERT_EQ(w.lns.connects.size(), 1u);
    const ConnectInfo& ci = w.lns.connects[0];
    EXPECT_EQ(ci.tx_connect_speed, 10'000'000u);
    EXPECT_EQ(ci.rx_connect_speed, 2'000'000u);
    ASSERT_TRUE(ci.incoming);
    EXPECT_EQ(ci.incoming->proxy_authen_name, "user@realm");
    EXPECT_EQ(ci.incoming->proxy_authen_id, 9);
    EXPECT_EQ(ci.incoming->calling_number, "0123");
    EXPECT_EQ(ci.incoming->initial_received_lcp_confreq, c.initial_received_lcp_confreq);
}

// req: L2TP.tunnel-auth, L2TP.hidden
TEST(Engine, TunnelAuthenticationSuccessAndHiddenAvps) {
    EngineConfig a, b;
    a.secret = b.secret = "s3cret";
    a.hide_avps = b.hide_avps = true;
    World w(a, b);
    IncomingCall c;
    c.proxy_authen_name = "hidden-user";
    w.lac.engine->place_incoming_call(kLns, c);
    w.loop.advance(1s);
    ASSERT_EQ(w.lns.connects.size(), 1u);
    EXPECT_EQ(w.lns.connects[0].incoming->proxy_authen_name, "hidden-user");
    EXPECT_EQ(w.lns.engine->stats().auth_failures, 0u);
}

// req: L2TP.tunnel-auth, L2TP.stopccn
TEST(Engine, TunnelAuthenticationWrongSecretStopCcn4) {
    EngineConfig a, b;
    a.secret = "one";
    b.secret = "two";
    World w(a, b);
    std::uint16_t t = w.lns.engine->open_tunnel(kLac);
    w.loop.advance(1s);
    // LNS checks the SCCRP's Challenge Response and refuses: StopCCN Result Code 4 (§4.4.2).
    EXPECT_EQ(w.lns.engine->stats().auth_failures, 1u);
    EXPECT_EQ(w.lns.engine->tunnel_state(t), "idle");
    ASSERT_FALSE(w.lac.log.empty());
    EXPECT_EQ(w.lac.log.back().rfind("tunnel-down: StopCCN result 4", 0), 0u) << w.lac.log.back();
    EXPECT_EQ(w.rec.text(), kAuthFailureGolden);
}

// req: L2TP.tunnel-auth
TEST(Engine, MissingChallengeRefused) {
    EngineConfig a, b;
    b.secret = "two";  // the LAC requires authentication, the LNS sends no Challenge
    World w(a, b);
    w.lns.engine->open_tunnel(kLac);
    w.loop.advance(1s);
    EXPECT_EQ(w.lac.engine->stats().auth_failures, 1u);
    EXPECT_EQ(w.lns.log.back().rfind("tunnel-down: StopCCN result 4", 0), 0u) << w.lns.log.back();
}

// req: L2TP.reliable
TEST(Engine, LossOfEachEstablishmentMessageRecovers) {
    for (std::string victim : {"SCCRQ", "SCCRP", "SCCCN", "OCRQ", "OCRP", "OCCN", "ZLB"}) {
        World w;
        int dropped = 0;
        w.drop = [&](const std::string&, const std::string& k) { return k == victim && dropped++ == 0; };
        SessionKey k = w.lns.engine->place_outgoing_call(kLac, call());
        w.loop.advance(5s);
        ASSERT_EQ(w.lac.ocrqs.size(), 1u) << victim;
        w.lac.engine->accept(w.lac.ocrqs[0]);
        w.lac.engine->call_connected(w.lac.ocrqs[0], 64000, kFramingSync);
        w.loop.advance(10s);
        EXPECT_EQ(w.lns.engine->session_state(k), "established") << victim;
        EXPECT_EQ(dropped >= 1, true) << victim;
    }
}

// req: L2TP.reliable
TEST(Engine, DuplicationOfEveryMessageIsHarmless) {
    World w;
    w.dup = [](const std::string&, const std::string&) { return true; };
    SessionKey k = w.lns.engine->place_outgoing_call(kLac, call());
    w.loop.advance(1s);
    ASSERT_EQ(w.lac.ocrqs.size(), 1u);
    w.lac.engine->accept(w.lac.ocrqs[0]);
    w.lac.engine->call_connected(w.lac.ocrqs[0], 64000, kFramingSync);
    w.loop.advance(1s);
    EXPECT_EQ(w.lns.engine->session_state(k), "established");
    EXPECT_EQ(w.lns.connects.size(), 1u);
    EXPECT_EQ(w.lac.engine->tunnel_count(), 1u);
    EXPECT_GT(w.lac.engine->channel(w.lac.ocrqs[0].tunnel)->stats().duplicates, 0u);
}

// req: L2TP.hello
TEST(Engine, HelloTimeoutDeclaresPeerDead) {
    World w;
    std::uint16_t t = w.lns.engine->open_tunnel(kLac);
    w.loop.advance(1s);
    ASSERT_EQ(w.lns.engine->tunnel_state(t), "established");
    w.drop = [](const std::string&, const std::string&) { return true; };  // link cut
    w.loop.advance(60s);
    EXPECT_EQ(w.rec.count("transport-failure"), 0u);
    w.loop.advance(32s);  // HELLO at 60 s, retransmitted at 1,2,4,8,8 s, failed 31 s after
    EXPECT_GE(w.rec.count("transport-failure"), 1u);
    EXPECT_EQ(w.lns.engine->tunnel_state(t), "idle");
    w.loop.advance(40s);  // §5.7 hold, then released
    EXPECT_EQ(w.lns.engine->tunnel_state(t), "");
}

// req: L2TP.stopccn
TEST(Engine, StopCcnClearsSessions) {
    World w;
    SessionKey k = w.lns.engine->place_outgoing_call(kLac, call());
    w.loop.advance(1s);
    w.lac.engine->accept(w.lac.ocrqs[0]);
    w.lac.engine->call_connected(w.lac.ocrqs[0], 64000, kFramingSync);
    w.loop.advance(1s);
    ASSERT_TRUE(w.lac.engine->close_tunnel(w.lac.ocrqs[0].tunnel, StopCcnResult::ShuttingDown));
    w.loop.advance(1s);
    EXPECT_EQ(w.lns.engine->session_state(k), "");
    ASSERT_EQ(w.lns.failures.size(), 1u);
    EXPECT_EQ(w.lns.log.back(), "tunnel-down: StopCCN result 6");
    EXPECT_EQ(w.lns.engine->session_count(), 0u);
}

// req: L2TP.tie-breaker
TEST(Engine, TieBreakerLowerWins) {
    for (int round = 0; round < 2; ++round) {
        EngineConfig a, b;
        a.seed = round ? 5 : 6;
        b.seed = round ? 6 : 5;
        World w(a, b);
        SessionKey k = w.lns.engine->place_outgoing_call(kLac, call());
        w.lac.engine->open_tunnel(kLns);
        w.loop.advance(5s);
        ASSERT_EQ(w.rec.count("tie-breaker-lost"), 1u);
        EXPECT_EQ(w.rec.count("tie-breaker-won"), 1u);
        // §4.4.3: the SCCRQ with the lower Tie Breaker wins; the other end's connection is discarded.
        std::vector<L2TP> sccrqs;
        for (auto& bytes : w.raw)
            if (kind(bytes) == "SCCRQ") sccrqs.emplace_back(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
        ASSERT_EQ(sccrqs.size(), 2u);
        const L2TP& loser = *sccrqs[0].tie_breaker() > *sccrqs[1].tie_breaker() ? sccrqs[0] : sccrqs[1];
        std::string lost_id;
        for (auto& e : w.rec.events())
            if (e.event == "tie-breaker-lost") lost_id = e.id;
        EXPECT_EQ(lost_id, std::to_string(*loser.assigned_tunnel_id())) << round;
        EXPECT_EQ(w.lns.ups.size(), 1u);
        EXPECT_EQ(w.lac.ups.size(), 1u);
        EXPECT_EQ(w.lns.engine->tunnel_count(), 1u);
        // The outgoing call waiting for the tunnel goes through either way.
        ASSERT_EQ(w.lac.ocrqs.size(), 1u) << round;
        EXPECT_EQ(w.lns.engine->session_state(k), "wait-reply");
    }
}

// req: L2TP.unknown-avp
TEST(Engine, UnknownMandatoryAvpStopsTunnel) {
    World w;
    std::uint16_t t = w.lns.engine->open_tunnel(kLac);
    w.loop.advance(1s);
    ASSERT_EQ(w.lns.engine->tunnel_state(t), "established");
    const ReliableChannel* ch = w.lac.engine->channel(w.lac.ups.at(0));
    L2TP m = make_hello({t, 0, ch->next_ns(), ch->next_nr()});
    std::vector<std::uint8_t> v{1, 2};
    m.add_avp(0, 99, Avp::kMandatory, v);
    w.lns.engine->receive(kLac, m.bytes());
    w.loop.advance(1s);
    EXPECT_EQ(w.rec.count("unknown-mandatory-avp"), 1u);
    EXPECT_EQ(w.lac.log.back(), "tunnel-down: StopCCN result 2 error 8 (unknown mandatory AVP)");
}

TEST(Engine, MalformedCountedNeverThrows) {
    World w;
    std::vector<std::uint8_t> junk{0xc8, 0x02, 0x00};
    w.lns.engine->receive(kLac, junk);
    std::vector<std::uint8_t> empty;
    w.lns.engine->receive(kLac, empty);
    EXPECT_EQ(w.lns.engine->stats().malformed, 2u);
    L2TP z = make_zlb(0, 0, 0, 0);
    w.lns.engine->receive(kLac, z.bytes());
    EXPECT_EQ(w.lns.engine->stats().unknown_tunnel, 1u);
}

TEST(Engine, SizesAreSmall) {
    EXPECT_LT(Engine::sizeof_session(), 512u);
    EXPECT_LT(Engine::sizeof_tunnel(), 2048u);
    std::printf("sizeof Tunnel=%zu Session=%zu\n", Engine::sizeof_tunnel(), Engine::sizeof_session());
}

namespace {
/// Establishes one outgoing call; returns {LNS key, LAC key}.
std::pair<SessionKey, SessionKey> establish(World& w) {
    SessionKey k = w.lns.engine->place_outgoing_call(kLac, call());
    w.loop.advance(1s);
    EXPECT_EQ(w.lac.ocrqs.size(), 1u);
    SessionKey lk = w.lac.ocrqs.at(0);
    EXPECT_TRUE(w.lac.engine->accept(lk));
    EXPECT_TRUE(w.lac.engine->call_connected(lk, 64000, kFramingSync));
    w.loop.advance(1s);
    EXPECT_EQ(w.lns.engine->session_state(k), "established");
    return {k, lk};
}
/// A control message injected into `to` as if sent next by the other side's channel.
void inject(Side& to, PeerId from, const ReliableChannel& ch, L2TP m) {
    m.set_tunnel_id(ch.peer_tunnel_id());
    m.set_sequence(ch.next_ns(), ch.next_nr());
    to.engine->receive(from, m.bytes());
}
}  // namespace

namespace {
/// Every datagram of `kind` sent in direction `dir` ("LNS>LAC"), parsed.
std::vector<L2TP> sent(const World& w, const std::string& dir, const std::string& k) {
    std::vector<L2TP> out;
    for (std::size_t i = 0; i < w.wire.size(); ++i)
        if (w.wire[i] == dir + " " + k) out.emplace_back(w.raw[i].data(), static_cast<std::uint32_t>(w.raw[i].size()));
    return out;
}
/// A control message of an unknown Message Type (99), M bit as given.
L2TP unknown_type(bool mandatory) {
    L2TP m;
    const std::uint8_t v[2] = {0, 99};
    m.add_avp(0, 0, mandatory ? Avp::kMandatory : 0, v);
    return m;
}
}  // namespace

// req: L2TP.unknown-message-type
TEST(Engine, UnknownMessageTypeWithMBitClearsTheTunnel) {
    // RFC 2661 §4.4.1: "if the M-bit is set within the Message Type AVP and the Message Type is
    // unknown to the implementation, the tunnel MUST be cleared".
    World w;
    std::uint16_t t = w.lns.engine->open_tunnel(kLac);
    w.loop.advance(1s);
    ASSERT_EQ(w.lns.engine->tunnel_state(t), "established");
    inject(w.lns, kLac, *w.lac.engine->channel(w.lac.ups.at(0)), unknown_type(true));
    w.loop.advance(1s);
    auto stops = sent(w, "LNS>LAC", "StopCCN");
    ASSERT_EQ(stops.size(), 1u) << w.wire_text();
    EXPECT_EQ(stops[0].result_code()->result, 2);
    EXPECT_EQ(stops[0].result_code()->error, std::uint16_t{3});
    EXPECT_EQ(w.lns.engine->tunnel_state(t), "idle");
    EXPECT_EQ(w.lns.engine->stats().unknown_message_type, 1u);
    EXPECT_EQ(w.lac.log.back(), "tunnel-down: StopCCN result 2 error 3 (unknown Message Type 99 with the M bit)");
}

// req: L2TP.unknown-message-type
TEST(Engine, UnknownMessageTypeWithoutMBitIsIgnoredButAcknowledged) {
    World w;
    std::uint16_t t = w.lns.engine->open_tunnel(kLac);
    w.loop.advance(1s);
    const ReliableChannel& lac_ch = *w.lac.engine->channel(w.lac.ups.at(0));
    const std::uint16_t ns = lac_ch.next_ns();
    inject(w.lns, kLac, lac_ch, unknown_type(false));
    w.loop.advance(1s);
    EXPECT_TRUE(sent(w, "LNS>LAC", "StopCCN").empty()) << w.wire_text();
    EXPECT_EQ(w.lns.engine->tunnel_state(t), "established");
    EXPECT_EQ(w.lns.engine->stats().unknown_message_type, 1u);
    EXPECT_EQ(w.lns.engine->channel(t)->next_nr(), static_cast<std::uint16_t>(ns + 1)) << "sequenced and acked";
}

// req: L2TP.tie-breaker
TEST(Engine, EqualTieBreakersBothSidesDiscard) {
    // §4.4.3: "In the case where a tie breaker is present on both sides, and the value is equal,
    // both sides MUST discard their tunnels". The same seed and the same sequence of draws (tunnel
    // ID, session ID, Tie Breaker) give both ends the same value.
    EngineConfig a, b;
    a.seed = b.seed = 9;
    World w(a, b);
    SessionKey out = w.lns.engine->place_outgoing_call(kLac, call());
    SessionKey in = w.lac.engine->place_incoming_call(kLns, IncomingCall{});
    w.loop.advance(5s);
    auto lns_rq = sent(w, "LNS>LAC", "SCCRQ"), lac_rq = sent(w, "LAC>LNS", "SCCRQ");
    ASSERT_FALSE(lns_rq.empty());
    ASSERT_FALSE(lac_rq.empty());
    ASSERT_EQ(*lns_rq[0].tie_breaker(), *lac_rq[0].tie_breaker()) << "test set-up: equal values";
    EXPECT_TRUE(sent(w, "LNS>LAC", "SCCRP").empty()) << w.wire_text();
    EXPECT_TRUE(sent(w, "LAC>LNS", "SCCRP").empty()) << w.wire_text();
    EXPECT_TRUE(sent(w, "LNS>LAC", "StopCCN").empty()) << "discarded silently";
    EXPECT_TRUE(w.lns.ups.empty());
    EXPECT_TRUE(w.lac.ups.empty());
    EXPECT_EQ(w.rec.count("tie-breaker-equal"), 2u);
    ASSERT_EQ(w.lns.ended.size(), 1u);
    EXPECT_EQ(w.lns.ended[0], out);
    EXPECT_EQ(w.lns.failures[0].ended_by, CallEndedBy::not_placed);
    ASSERT_EQ(w.lac.ended.size(), 1u);
    EXPECT_EQ(w.lac.ended[0], in);
    const auto sccrqs = w.wire.size();
    w.loop.advance(30s);
    EXPECT_EQ(w.wire.size(), sccrqs) << "no retransmission of a discarded SCCRQ";
}

// req: L2TP.tie-breaker
TEST(Engine, PeersSccrqWithoutTieBreakerLosesToOursWithOne) {
    // §4.4.3: "If a tie breaker is received, and an outstanding SCCRQ had no tie breaker value,
    // the initiator which included the Tie Breaker AVP wins".
    World w;
    w.lns.engine->place_outgoing_call(kLac, call());
    SccrqParams p;
    p.assigned_tunnel_id = 4242;
    p.host_name = "lac";
    L2TP rq = make_sccrq(p);
    ASSERT_FALSE(rq.tie_breaker());
    rq.set_sequence(0, 0);
    w.lns.engine->receive(kLac, rq.bytes());  // while our SCCRQ is outstanding
    EXPECT_EQ(w.rec.count("tie-breaker-won"), 1u);
    w.loop.advance(2s);
    EXPECT_EQ(w.lns.engine->tunnel_count(), 1u) << "no second tunnel for the peer's SCCRQ";
    EXPECT_TRUE(sent(w, "LNS>LAC", "SCCRP").empty()) << w.wire_text();
    EXPECT_EQ(w.lac.ocrqs.size(), 1u) << "our tunnel and its call go on";
}

// req: L2TP.bearer-framing
TEST(Engine, OcrqCarriesOnlyBearerAndFramingBitsTheLacAdvertised) {
    EngineConfig lac;
    lac.bearer_capabilities = kBearerAnalog;
    lac.framing_capabilities = kFramingSync;
    World w({}, lac);
    OutgoingCall c = call();
    c.bearer_type = kBearerDigital | kBearerAnalog;
    c.framing_type = kFramingSync | kFramingAsync;
    w.lns.engine->place_outgoing_call(kLac, c);
    w.loop.advance(1s);
    auto ocrq = sent(w, "LNS>LAC", "OCRQ");
    ASSERT_EQ(ocrq.size(), 1u);
    EXPECT_EQ(ocrq[0].bearer_type(), kBearerAnalog);
    EXPECT_EQ(ocrq[0].framing_type(), kFramingSync);
}

// req: L2TP.bearer-framing
TEST(Engine, OutgoingCallTheLacCannotCarryIsNotPlaced) {
    // §4.4.3: bits "MUST only be set by the LNS for an OCRQ if it was set in the Bearer [Framing]
    // Capabilities AVP received from the LAC". Nothing left: no OCRQ, the call ends (Result 5).
    for (int bearer = 0; bearer < 2; ++bearer) {
        EngineConfig lac;
        if (bearer) lac.bearer_capabilities = kBearerAnalog;
        else lac.framing_capabilities = kFramingAsync;
        World w({}, lac);
        OutgoingCall c = call();  // digital, synchronous
        SessionKey k = w.lns.engine->place_outgoing_call(kLac, c);
        SessionKey k2 = w.lns.engine->place_outgoing_call(kLac, c);
        w.loop.advance(1s);
        EXPECT_TRUE(sent(w, "LNS>LAC", "OCRQ").empty()) << w.wire_text();
        EXPECT_TRUE(sent(w, "LNS>LAC", "CDN").empty()) << "the LAC never heard of the call";
        ASSERT_EQ(w.lns.ended.size(), 2u);
        EXPECT_EQ(w.lns.ended[0], k);
        EXPECT_EQ(w.lns.ended[1], k2);
        EXPECT_EQ(w.lns.failures[0].result, 5);
        EXPECT_EQ(w.lns.failures[0].ended_by, CallEndedBy::not_placed);
        EXPECT_NE(w.lns.failures[0].message->find(bearer ? "Bearer Type 1" : "Framing Type 1"), std::string::npos)
            << *w.lns.failures[0].message;
        EXPECT_EQ(w.lns.engine->stats().capability_refused, 2u);
        EXPECT_EQ(w.lns.engine->session_state(k), "");
        EXPECT_EQ(w.lns.engine->tunnel_count(), 1u) << "the tunnel itself stays up";
    }
}

// req: L2TP.priority
TEST(Engine, PriorityBitOnPppControlFramesOnly) {
    // RFC 2661 §3.1: P "should" be set on keepalive LCP Echo-Requests; lnsd sets it on every PPP
    // control frame (LCP, authentication, NCPs: Protocol >= 0x8000, RFC 1661 §2), not on IP.
    World w;
    auto [k, lk] = establish(w);
    const std::vector<std::vector<std::uint8_t>> control = {
        {0xFF, 0x03, 0xC0, 0x21, 0x09, 0x01, 0x00, 0x08, 1, 2, 3, 4},  // LCP Echo-Request
        {0xC2, 0x23, 0x01, 0x01, 0x00, 0x04},                          // CHAP, no FF 03
        {0xFF, 0x03, 0x80, 0x21, 0x01, 0x01, 0x00, 0x04}};             // IPCP
    const std::vector<std::vector<std::uint8_t>> user = {{0xFF, 0x03, 0x00, 0x21, 0x45}, {0x21, 0x45}};
    for (const auto& f : control) EXPECT_TRUE(ppp_priority(f));
    for (const auto& f : user) EXPECT_FALSE(ppp_priority(f));
    for (const auto& f : control) ASSERT_TRUE(w.lns.engine->send_ppp(k, f));
    for (const auto& f : user) ASSERT_TRUE(w.lns.engine->send_ppp(k, f));
    auto data = sent(w, "LNS>LAC", "data");
    ASSERT_EQ(data.size(), 5u);
    for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(data[i].priority(), i < 3) << i;
    w.loop.advance(1s);
    EXPECT_EQ(w.lac.frames.size(), 5u) << "the LAC takes them all";
}

// req: L2TP.host-name
TEST(EnginePolicy, PeerHostNameCheckedOnSccrqAndSccrp) {
    for (const char* expected : {"lac", "someone-else"}) {
        const bool ok = std::string(expected) == "lac";
        for (int lns_opens = 0; lns_opens < 2; ++lns_opens) {
            World w({}, {}, [expected](PeerId) {
                PeerPolicy p;
                p.peer_host_name = expected;
                return p;
            });
            if (lns_opens) w.lns.engine->open_tunnel(kLac);
            else w.lac.engine->open_tunnel(kLns);
            w.loop.advance(2s);
            EXPECT_EQ(w.lns.ups.size(), ok ? 1u : 0u) << expected << " " << lns_opens;
            if (ok) {
                EXPECT_EQ(w.lns.engine->peer_host_name(w.lns.ups[0]), "lac");
            }
            EXPECT_EQ(w.lns.engine->stats().host_name_refused, ok ? 0u : 1u);
            auto stops = sent(w, "LNS>LAC", "StopCCN");
            ASSERT_EQ(stops.size(), ok ? 0u : 1u) << w.wire_text();
            if (!ok) {
                EXPECT_EQ(stops[0].result_code()->result, 4);
                if (!lns_opens) {
                    EXPECT_TRUE(sent(w, "LNS>LAC", "SCCRP").empty()) << "refused before any SCCRP";
                }
            }
        }
    }
}

TEST(Engine, CallConnectedBeforeAcceptRefused) {
    World w;
    w.lns.engine->place_outgoing_call(kLac, call());
    w.loop.advance(1s);
    EXPECT_FALSE(w.lac.engine->call_connected(w.lac.ocrqs.at(0), 64000, kFramingSync));
    EXPECT_TRUE(w.lac.engine->accept(w.lac.ocrqs.at(0)));
    EXPECT_FALSE(w.lac.engine->accept(w.lac.ocrqs.at(0)));
}

// req: L2TP.reliable
TEST(Engine, ReorderedControlMessagesDeliveredInOrder) {
    World w;
    // The SCCCN is overtaken by the OCRQ sent right after it.
    w.delay = [](const std::string& dir, const std::string& k) {
        return dir == "LNS>LAC" && k == "SCCCN" ? dl::core::Duration(50ms) : dl::core::Duration{};
    };
    auto [k, lk] = establish(w);
    EXPECT_EQ(w.lac.engine->channel(lk.tunnel)->stats().out_of_order, 1u);
    EXPECT_EQ(w.lns.engine->channel(k.tunnel)->stats().retransmitted, 0u);
}

// req: L2TP.outgoing
TEST(Engine, LnsClearsCallWithCdn) {
    World w;
    auto [k, lk] = establish(w);
    ASSERT_TRUE(w.lns.engine->disconnect(k, CdnResult::Administrative));
    w.loop.advance(1s);
    ASSERT_EQ(w.lac.failures.size(), 1u);
    EXPECT_EQ(w.lac.failures[0].result, 3u);
    EXPECT_EQ(w.lac.engine->session_state(lk), "");
    EXPECT_FALSE(w.lns.engine->send_ppp(k, std::vector<std::uint8_t>{1}));
}

// req: L2TP.unknown-avp
TEST(Engine, UnknownMandatoryAvpInSessionMessageSendsCdn) {
    World w;
    auto [k, lk] = establish(w);
    const ReliableChannel& ch = *w.lac.engine->channel(lk.tunnel);
    L2TP m = make_sli({0, k.session, 0, 0}, Accm{0, 0});
    std::vector<std::uint8_t> v{1};
    m.add_avp(9, 1, Avp::kMandatory, v);  // vendor AVP with M set
    inject(w.lns, kLac, ch, std::move(m));
    w.loop.advance(1s);
    EXPECT_EQ(w.lns.engine->session_state(k), "");
    EXPECT_EQ(w.lns.engine->tunnel_state(k.tunnel), "established");
    ASSERT_EQ(w.lac.failures.size(), 1u);
    EXPECT_EQ(w.lac.failures[0].result, 2u);
    EXPECT_EQ(w.lac.failures[0].error, 8u);
}

// req: L2TP.unknown-avp
TEST(Engine, UnknownOptionalAvpIgnored) {
    World w;
    auto [k, lk] = establish(w);
    std::vector<Accm> got;
    const ReliableChannel& ch = *w.lns.engine->channel(k.tunnel);
    L2TP m = make_sli({0, lk.session, 0, 0}, Accm{0x0a, 0x0b});
    std::vector<std::uint8_t> v{1};
    m.add_avp(9, 1, 0, v);  // M clear: ignored (§4.1)
    std::size_t before = w.lac.failures.size();
    inject(w.lac, kLns, ch, std::move(m));
    w.loop.advance(1s);
    EXPECT_EQ(w.lac.failures.size(), before);
    EXPECT_EQ(w.lac.engine->session_state(lk), "established");
}

TEST(Engine, NotPermittedMessageLoggedAndCounted) {
    World w;
    SessionKey k = w.lns.engine->place_outgoing_call(kLac, call());
    w.loop.advance(1s);
    SessionKey lk = w.lac.ocrqs.at(0);
    ASSERT_EQ(w.lns.engine->session_state(k), "wait-reply");
    OccnParams p;
    p.header.session_id = k.session;
    (void)lk;
    inject(w.lns, kLac, *w.lac.engine->channel(lk.tunnel), make_occn(p));
    EXPECT_EQ(w.lns.engine->stats().not_permitted, 1u);
    EXPECT_EQ(w.rec.lines().back().find("wait-reply: recv-OCCN NOT PERMITTED") != std::string::npos, true)
        << w.rec.lines().back();
    EXPECT_EQ(w.lns.engine->session_state(k), "wait-reply");
}

TEST(Engine, SliAndWenReachTheOtherEnd) {
    World w;
    auto [k, lk] = establish(w);
    ASSERT_TRUE(w.lns.engine->set_link_info(k, Accm{0, 0x000a0000}));
    ASSERT_TRUE(w.lac.engine->wan_error(lk, CallErrors{1, 2, 3, 4, 5, 6}));
    w.loop.advance(1s);
    ASSERT_EQ(w.lac.accms.size(), 1u);
    EXPECT_EQ(w.lac.accms[0].receive_accm, 0x000a0000u);
    ASSERT_EQ(w.lns.wens.size(), 1u);
    EXPECT_EQ(w.lns.wens[0], (CallErrors{1, 2, 3, 4, 5, 6}));
    EXPECT_EQ(w.rec.count("WEN-received"), 1u);
}

// req: L2TP.hidden
TEST(Engine, HiddenAvpsAreHiddenOnTheWire) {
    EngineConfig a, b;
    a.secret = b.secret = "s3cret";
    a.hide_avps = b.hide_avps = true;
    World w(a, b);
    IncomingCall c;
    c.proxy_authen_name = "hidden-user";
    c.calling_number = "0123";
    SessionKey lk = w.lac.engine->place_incoming_call(kLns, c);
    w.loop.advance(1s);
    EXPECT_EQ(w.lac.engine->session_state(lk), "established");
    ASSERT_EQ(w.lns.connects.size(), 1u);
    EXPECT_EQ(w.lns.connects[0].incoming->proxy_authen_name, "hidden-user");
    EXPECT_EQ(w.lns.connects[0].incoming->calling_number, "0123");
    int hidden = 0;
    for (auto& bytes : w.raw) {
        L2TP m(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
        for (const Avp& avp : m.avps())
            if (avp.hidden()) {
                ++hidden;
                EXPECT_TRUE(avp.is(AvpType::ProxyAuthenName) || avp.is(AvpType::CallingNumber));
            }
        EXPECT_FALSE(m.proxy_authen_name());  // not readable without the secret
    }
    EXPECT_EQ(hidden, 2);
}

// req: L2TP.reliable
TEST(Engine, WindowOfOneAndFour) {
    for (std::uint16_t window : {1, 4}) {
        EngineConfig lns, lac;
        lac.receive_window = window;
        World w(lns, lac);
        std::vector<SessionKey> keys;
        for (int i = 0; i < 16; ++i) keys.push_back(w.lns.engine->place_outgoing_call(kLac, call()));
        w.loop.advance(5s);
        ASSERT_EQ(w.lac.ocrqs.size(), 16u) << window;
        EXPECT_EQ(w.lns.engine->channel(keys[0].tunnel)->config().peer_window, window);
        for (auto lk : w.lac.ocrqs) {
            w.lac.engine->accept(lk);
            w.lac.engine->call_connected(lk, 64000, kFramingSync);
        }
        w.loop.advance(5s);
        for (auto k : keys) EXPECT_EQ(w.lns.engine->session_state(k), "established") << window;
        EXPECT_EQ(w.lac.engine->channel(w.lac.ocrqs[0].tunnel)->stats().outside_window, 0u);
    }
}

// req: L2TP.reliable
TEST(Engine, SixteenInFlightWithDefaultWindow) {
    EngineConfig lns, lac;
    World w(lns, lac);
    std::uint16_t t = w.lns.engine->open_tunnel(kLac);
    w.loop.advance(1s);
    w.drop = [](const std::string& dir, const std::string& k) { return dir == "LAC>LNS" && k == "ZLB"; };
    std::size_t max_in_flight = 0;
    for (int i = 0; i < 40; ++i) w.lns.engine->place_outgoing_call(kLac, call());
    for (int i = 0; i < 200; ++i) {
        w.loop.advance(100ms);
        max_in_flight = std::max(max_in_flight, w.lns.engine->channel(t)->in_flight());
    }
    EXPECT_LE(max_in_flight, 16u);
    EXPECT_GE(max_in_flight, 2u);
    w.drop = nullptr;
    w.loop.advance(60s);
    EXPECT_EQ(w.lac.ocrqs.size(), 40u);
}

// req: L2TP.reliable
TEST(Engine, SequenceNumbersWrapAt65535) {
    World w;
    w.lns.engine->set_initial_sequence(65533, 65534);
    w.lac.engine->set_initial_sequence(65534, 65533);
    auto [k, lk] = establish(w);
    EXPECT_EQ(w.lns.engine->channel(k.tunnel)->next_ns(), 0u);  // SCCRQ, SCCCN, OCRQ = 65533..65535
    EXPECT_EQ(w.lac.engine->channel(lk.tunnel)->next_ns(), 1u);  // SCCRP, OCRP, OCCN = 65534, 65535, 0
    EXPECT_EQ(w.lns.engine->channel(k.tunnel)->next_nr(), 1u);
    EXPECT_TRUE(w.lac.engine->channel(lk.tunnel)->idle());
    EXPECT_TRUE(w.lns.engine->channel(k.tunnel)->idle());
    EXPECT_EQ(w.lns.engine->channel(k.tunnel)->stats().retransmitted, 0u);
}

// req: L2TP.reliable
TEST(Engine, SccrqRetransmittedThenTunnelDown) {
    World w;
    std::vector<std::int64_t> times;
    w.drop = [&](const std::string&, const std::string& k) {
        if (k == "SCCRQ") times.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(w.loop.now().time_since_epoch()).count());
        return true;
    };
    SessionKey k = w.lns.engine->place_outgoing_call(kLac, call());
    w.loop.advance(40s);
    EXPECT_EQ(times, (std::vector<std::int64_t>{0, 1000, 3000, 7000, 15000, 23000}));
    ASSERT_EQ(w.lns.failures.size(), 1u);
    EXPECT_EQ(w.lns.log.back(), "tunnel-down: retransmissions exhausted (5)");
    EXPECT_EQ(w.lns.engine->session_state(k), "");
}

TEST(Engine, SequencedDataWhenLnsRequiresIt) {
    EngineConfig lns, lac;
    lns.require_sequencing = true;
    World w(lns, lac);
    auto [k, lk] = establish(w);
    std::vector<std::uint8_t> f1{0xc0, 0x21, 9, 1, 0, 4}, f2{0xc0, 0x21, 9, 2, 0, 4};
    bool saw_s = false;
    w.drop = [&](const std::string&, const std::string&) { return false; };
    EXPECT_TRUE(w.lns.engine->send_ppp(k, f1));
    w.loop.advance(100ms);
    EXPECT_TRUE(w.lac.engine->send_ppp(lk, f2));
    w.loop.advance(100ms);
    ASSERT_EQ(w.lns.frames.size(), 1u);
    // The LAC now sequences its data too (§5.9): a stale Ns is dropped.
    L2TP stale = make_data(k.tunnel, k.session, f1, std::uint16_t{0}, std::uint16_t{0});
    saw_s = stale.has_sequence();
    w.lns.engine->receive(kLac, stale.bytes());
    EXPECT_TRUE(saw_s);
    EXPECT_EQ(w.lns.frames.size(), 1u);
    EXPECT_EQ(w.lns.engine->stats().data_dropped, 1u);
}

TEST(Engine, DataWithOffsetAndLength) {
    World w;
    auto [k, lk] = establish(w);
    std::vector<std::uint8_t> f{0xc0, 0x21, 5, 1, 0, 4};
    DataOptions o;
    o.length = true;
    o.offset_pad = std::vector<std::uint8_t>{0xee, 0xee, 0xee};
    L2TP m = make_data(k.tunnel, k.session, f, o);
    w.lns.engine->receive(kLac, m.bytes());
    ASSERT_EQ(w.lns.frames.size(), 1u);
    EXPECT_EQ(w.lns.frames[0], f);
    (void)lk;
}

// req: L2TP.stopccn
TEST(Engine, UnsupportedProtocolVersionStopCcn5) {
    World w;
    SccrqParams p;
    p.assigned_tunnel_id = 77;
    p.protocol_version = ProtocolVersion{2, 0};
    L2TP m = make_sccrq(p);
    w.lns.engine->receive(kLac, m.bytes());
    w.loop.advance(100ms);
    ASSERT_FALSE(w.raw.empty());
    L2TP stop(w.raw.back().data(), static_cast<std::uint32_t>(w.raw.back().size()));
    ASSERT_EQ(stop.message_type(), static_cast<std::uint16_t>(MessageType::StopCCN));
    EXPECT_EQ(stop.tunnel_id(), 77u);
    EXPECT_EQ(stop.result_code()->result, 5u);
    EXPECT_EQ(stop.result_code()->error, 0x0100u);
}

// req: L2TP.hello
TEST(Engine, HelloKeepsIdleTunnelAlive) {
    World w;
    std::uint16_t t = w.lns.engine->open_tunnel(kLac);
    w.loop.advance(10min);
    EXPECT_EQ(w.lns.engine->tunnel_state(t), "established");
    // HELLOs were exchanged about every 60 s, each acknowledged by a ZLB.
    auto hellos = std::count(w.wire.begin(), w.wire.end(), std::string("LNS>LAC HELLO")) +
                  std::count(w.wire.begin(), w.wire.end(), std::string("LAC>LNS HELLO"));
    EXPECT_GE(hellos, 9);
    EXPECT_LE(hellos, 20);
    EXPECT_EQ(w.lns.engine->channel(t)->stats().retransmitted, 0u);
}

TEST(Engine, SetupWithoutScccnTimesOut) {
    World w;
    // The SCCCN never arrives: the LAC abandons the connection after the hello interval.
    w.drop = [](const std::string&, const std::string& k) { return k == "SCCCN"; };
    w.lns.engine->open_tunnel(kLac);
    w.loop.advance(1s);
    EXPECT_EQ(w.lac.engine->tunnel_count(), 1u);
    w.loop.advance(120s);
    EXPECT_GE(w.rec.count("close"), 1u);
    w.loop.advance(120s);
    EXPECT_EQ(w.lac.engine->tunnel_count(), 0u);
    EXPECT_EQ(w.lns.engine->tunnel_count(), 0u);
}

TEST(Engine, InvalidSccrqForgotten) {
    World w;
    L2TP m = make_control(MessageType::SCCRQ, {});  // no required AVPs
    w.lns.engine->receive(kLac, m.bytes());
    EXPECT_EQ(w.lns.engine->tunnel_count(), 0u);
    EXPECT_EQ(w.lns.engine->stats().invalid, 1u);
    // A wrong-length Message Type value is counted, not thrown.
    std::vector<std::uint8_t> bad{0xc8, 0x02, 0x00, 0x16, 0, 0, 0, 0, 0, 0, 0, 0,
                                  0x80, 0x0a, 0, 0, 0, 0, 0, 0, 0, 1};
    w.lns.engine->receive(kLac, bad);
    EXPECT_EQ(w.lns.engine->stats().invalid, 2u);
}

// req: L2TP.reliable, L2TP.stopccn
TEST(Engine, LossOfCdnAndStopCcnRecovers) {
    {
        World w;
        auto [k, lk] = establish(w);
        int dropped = 0;
        w.drop = [&](const std::string&, const std::string& kd) { return kd == "CDN" && dropped++ == 0; };
        w.lac.engine->disconnect(lk, CdnResult::LossOfCarrier);
        w.loop.advance(3s);
        EXPECT_EQ(dropped, 2);
        ASSERT_EQ(w.lns.failures.size(), 1u);
        EXPECT_EQ(w.lns.failures[0].result, 1u);
    }
    {
        World w;
        auto [k, lk] = establish(w);
        int dropped = 0;
        w.drop = [&](const std::string&, const std::string& kd) { return kd == "StopCCN" && dropped++ == 0; };
        w.lns.engine->close_tunnel(k.tunnel);
        w.loop.advance(3s);
        EXPECT_EQ(w.lac.log.back(), "tunnel-down: StopCCN result 1");
        EXPECT_TRUE(w.lns.engine->channel(k.tunnel)->idle());  // the StopCCN was acknowledged
        w.loop.advance(40s);
        EXPECT_EQ(w.lns.engine->tunnel_count(), 0u);  // released after the §5.7 hold
        EXPECT_EQ(w.lac.engine->tunnel_count(), 0u);
    }
}

// req: L2TP.outgoing
TEST(Engine, LnsAbandonsCallBeforeOcrp) {
    World w;
    SessionKey k = w.lns.engine->place_outgoing_call(kLac, call());
    w.loop.advance(1s);
    ASSERT_EQ(w.lac.ocrqs.size(), 1u);
    ASSERT_EQ(w.lns.engine->session_state(k), "wait-reply");
    // CDN with Session ID 0 (the LAC's ID is not known yet): matched by its Assigned Session ID.
    ASSERT_TRUE(w.lns.engine->disconnect(k, CdnResult::Administrative));
    w.loop.advance(1s);
    EXPECT_EQ(w.lac.engine->session_state(w.lac.ocrqs[0]), "");
    ASSERT_EQ(w.lac.failures.size(), 1u);
    EXPECT_EQ(w.lac.engine->stats().unknown_session, 0u);
}

// ---------------------------------------------------------------------------------------------
// Per-peer security policy (PeerPolicy): secret, hiding and acceptance fixed per tunnel.

namespace {
PeerPolicy policy(std::string secret, bool hide = false) {
    PeerPolicy p;
    p.secret = std::move(secret);
    p.hide_avps = hide;
    return p;
}
/// Hidden AVPs in the datagrams sent in direction `dir` ("LNS>LAC" / "LAC>LNS") with message `kind`.
int hidden_avps(const World& w, const std::string& dir, const std::string& message = {}) {
    int n = 0;
    for (std::size_t i = 0; i < w.raw.size(); ++i) {
        if (w.wire[i].rfind(dir, 0) != 0) continue;
        if (!message.empty() && w.wire[i] != dir + " " + message) continue;
        L2TP m(w.raw[i].data(), static_cast<std::uint32_t>(w.raw[i].size()));
        for (const Avp& avp : m.avps()) n += avp.hidden();
    }
    return n;
}
/// The first datagram of `kind` on the wire, parsed.
std::optional<L2TP> first(const World& w, const std::string& wire_line) {
    for (std::size_t i = 0; i < w.raw.size(); ++i)
        if (w.wire[i] == wire_line) return L2TP(w.raw[i].data(), static_cast<std::uint32_t>(w.raw[i].size()));
    return std::nullopt;
}
}  // namespace

// req: L2TP.tunnel-auth
TEST(EnginePolicy, RightWrongOrNoSecretPerPeer) {
    struct Case {
        const char* lns_secret;  // the LNS's policy for this LAC (its config default is "unused-default")
        const char* lac_secret;
        bool up;
        const char* lac_last;  // the LAC's last upcall
    };
    const Case cases[] = {
        {"right", "right", true, "tunnel-up"},
        {"right", "wrong", false, "tunnel-down: StopCCN result 4 error 0 (bad Challenge Response)"},
        {"", "", true, "tunnel-up"},  // no secret for this peer although the engine has a default one
        {"", "lac-only", false, "tunnel-down: no Challenge (RFC 2661 §5.1.1) (StopCCN result 4)"},
    };
    for (const auto& c : cases) {
        EngineConfig lns, lac;
        lns.secret = "unused-default";
        lac.secret = c.lac_secret;
        int asked = 0;
        World w(lns, lac, [&](PeerId p) {
            ++asked;
            EXPECT_EQ(p, kLac);
            return policy(c.lns_secret);
        });
        const std::uint16_t t = w.lns.engine->open_tunnel(kLac);
        w.loop.advance(2s);
        const std::string label = std::string(c.lns_secret) + "/" + c.lac_secret;
        EXPECT_EQ(asked, 1) << label << ": the policy is asked once, when the tunnel is created";
        EXPECT_EQ(w.lns.engine->tunnel_state(t), c.up ? "established" : "idle") << label;
        ASSERT_FALSE(w.lac.log.empty()) << label;
        EXPECT_EQ(w.lac.log.back(), c.lac_last) << label;
        auto sccrq = first(w, "LNS>LAC SCCRQ");
        ASSERT_TRUE(sccrq) << label;
        EXPECT_EQ(sccrq->challenge().has_value(), *c.lns_secret != 0) << label << ": Challenge only with a secret";
        ASSERT_NE(w.lns.engine->tunnel_policy(t), nullptr) << label;
        EXPECT_EQ(w.lns.engine->tunnel_policy(t)->secret, c.lns_secret) << label;
    }
}

// req: L2TP.tunnel-auth, L2TP.incoming
TEST(EnginePolicy, IncomingSccrqCheckedWithThePeersSecret) {
    // LNS role: the policy is consulted when the LAC's SCCRQ arrives; the LAC's Challenge is
    // answered with that peer's secret, not the engine default.
    EngineConfig lns, lac;
    lns.secret = "default";
    lac.secret = "per-peer";
    PeerId asked_for = 0;
    World w(lns, lac, [&](PeerId p) {
        asked_for = p;
        return policy("per-peer");
    });
    SessionKey lk = w.lac.engine->place_incoming_call(kLns, IncomingCall{});
    w.loop.advance(1s);
    EXPECT_EQ(asked_for, kLac);
    EXPECT_EQ(w.lac.engine->session_state(lk), "established");
    EXPECT_EQ(w.lns.engine->stats().auth_failures, 0u);
    EXPECT_EQ(w.lac.engine->stats().auth_failures, 0u);
}

// req: L2TP.hidden
TEST(EnginePolicy, HiddenAvpsPerPeer) {
    for (bool hide : {true, false}) {
        EngineConfig lns, lac;
        lns.hide_avps = !hide;  // the engine default says the opposite: the policy wins
        lns.secret = "x";
        lac.secret = "s";
        World w(lns, lac, [&](PeerId) { return policy("s", hide); });
        auto [k, lk] = establish(w);
        ASSERT_TRUE(w.lns.engine->set_link_info(k, Accm{1, 2})) << hide;
        w.loop.advance(1s);
        EXPECT_EQ(w.lac.accms.size(), 1u) << hide << ": SLI read (ACCM unhidden with the tunnel's secret)";
        EXPECT_EQ(hidden_avps(w, "LNS>LAC", "OCRQ"), hide ? 1 : 0) << "Called Number hidden: " << hide;
        EXPECT_EQ(hidden_avps(w, "LNS>LAC", "SLI"), hide ? 1 : 0) << "ACCM hidden: " << hide;
        EXPECT_EQ(hidden_avps(w, "LAC>LNS"), 0) << "the LAC does not hide (hide_avps off there)";
        EXPECT_EQ(w.lns.engine->tunnel_policy(k.tunnel)->hide_avps, hide);
    }
    // Hiding needs a secret (§4.3): a policy with hide_avps and no secret hides nothing.
    World w({}, {}, [](PeerId) { return policy("", true); });
    auto [k, lk] = establish(w);
    EXPECT_EQ(hidden_avps(w, "LNS>LAC"), 0);
    EXPECT_FALSE(w.lns.engine->tunnel_policy(k.tunnel)->hide_avps);
}

// req: L2TP.tunnel-auth, L2TP.outgoing
TEST(EnginePolicy, ExplicitPolicyPerOutgoingCall) {
    // The LNS has no secret configured; the call carries one (RADIUS Tunnel-Password).
    EngineConfig lns, lac;
    lac.secret = "tunnel-pw";
    World w(lns, lac);
    SessionKey a = w.lns.engine->place_outgoing_call(kLac, call(), policy("tunnel-pw"));
    SessionKey b = w.lns.engine->place_outgoing_call(kLac, call(), policy("tunnel-pw"));
    w.loop.advance(1s);
    EXPECT_EQ(a.tunnel, b.tunnel) << "same peer, same policy: the same tunnel";
    EXPECT_EQ(w.lns.engine->tunnel_state(a.tunnel), "established");
    EXPECT_EQ(w.lac.ocrqs.size(), 2u);
    EXPECT_EQ(w.lns.engine->tunnel_policy(a.tunnel)->secret, "tunnel-pw");
    SessionKey c = w.lns.engine->place_outgoing_call(kLac, call());
    EXPECT_EQ(c.tunnel, a.tunnel) << "no policy given: the newest tunnel to the peer";
    SessionKey d = w.lns.engine->place_outgoing_call(kLac, call(), policy("another-pw"));
    EXPECT_NE(d.tunnel, a.tunnel) << "another secret: another tunnel";
    w.loop.advance(2s);
    EXPECT_EQ(w.lns.engine->tunnel_state(d.tunnel), "idle") << "the LAC does not know another-pw";
    ASSERT_FALSE(w.lns.failures.empty());
    EXPECT_EQ(w.lns.engine->session_state(d), "");
    EXPECT_EQ(w.lns.engine->session_state(a), "wait-reply") << "the first tunnel is untouched";
    // An explicit open with a policy.
    std::uint16_t t = w.lns.engine->open_tunnel(kLac, policy("tunnel-pw"));
    w.loop.advance(1s);
    EXPECT_EQ(w.lns.engine->tunnel_state(t), "established");
}

const char* const kRefusedGolden = R"(+0.000000s l2tp.tunnel 50163: idle -> wait-ctl-reply on open (cause=local open)
+0.010000s l2tp.tunnel 20597: refused (cause=destination is shut down) {"result":4}
+0.010000s l2tp.tunnel 20597: idle -> idle on recv-SCCRQ-not-acceptable (cause=destination is shut down (StopCCN result 4))
+1.020000s l2tp.tunnel 50163: wait-ctl-reply -> idle on recv-StopCCN (cause=StopCCN result 4 error 0 (destination is shut down))
+1.020000s l2tp.session 50163/33077: wait-tunnel -> idle on tunnel-down (cause=StopCCN result 4 error 0 (destination is shut down))
+1.020000s l2tp.session 50163/33077: call-ended (cause=StopCCN result 4 error 0 (destination is shut down)) {"by":"peer-stopccn","result":1}
)";

// req: L2TP.stopccn
TEST(EnginePolicy, RefusedSccrqGetsStopCcnWithoutSccrp) {
    PeerPolicy refuse;
    refuse.accept = false;
    refuse.refuse_message = "destination is shut down";
    World w({}, {}, {}, [&](PeerId) { return refuse; });
    SessionKey k = w.lns.engine->place_outgoing_call(kLac, call());
    // The first StopCCN is lost: the SCCRQ retransmission must reach the held (refused) tunnel.
    int dropped = 0;
    w.drop = [&](const std::string&, const std::string& kd) { return kd == "StopCCN" && dropped++ == 0; };
    w.loop.advance(5s);
    // No SCCRP ever; the duplicate SCCRQ is acknowledged (ZLB) by the held tunnel, and the LNS's ZLB
    // acknowledging the StopCCN reaches the LAC's tunnel (named by the StopCCN's Assigned Tunnel ID).
    EXPECT_EQ(w.wire_text(),
              "LNS>LAC SCCRQ\nLAC>LNS StopCCN\nLNS>LAC SCCRQ\nLAC>LNS StopCCN\nLAC>LNS ZLB\nLNS>LAC ZLB\n");
    EXPECT_EQ(w.lac.engine->stats().unknown_tunnel, 0u) << "the acknowledgement was not to Tunnel ID 0";
    EXPECT_EQ(w.lac.engine->stats().refused, 1u) << "one refusal, the retransmission went to the same tunnel";
    EXPECT_EQ(w.lac.engine->tunnel_count(), 1u) << "held for the §5.7 period";
    auto stop = first(w, "LAC>LNS StopCCN");
    ASSERT_TRUE(stop);
    EXPECT_EQ(stop->result_code()->result, 4u);
    EXPECT_EQ(stop->result_code()->message, "destination is shut down");
    ASSERT_EQ(w.lns.failures.size(), 1u);
    EXPECT_EQ(w.lns.engine->session_state(k), "");
    EXPECT_EQ(w.rec.text().substr(w.rec.text().find("+0.000000s l2tp.tunnel")), kRefusedGolden);
    w.loop.advance(40s);
    EXPECT_EQ(w.lac.engine->tunnel_count(), 0u) << "released after the hold";
}

// req: L2TP.stopccn
TEST(EnginePolicy, RefusalResultCodeFromPolicy) {
    PeerPolicy refuse;
    refuse.accept = false;
    refuse.refuse_result = StopCcnResult::ShuttingDown;
    World w({}, {}, {}, [&](PeerId) { return refuse; });
    w.lns.engine->open_tunnel(kLac);
    w.loop.advance(1s);
    auto stop = first(w, "LAC>LNS StopCCN");
    ASSERT_TRUE(stop);
    EXPECT_EQ(stop->result_code()->result, 6u);
    EXPECT_EQ(w.lns.log.back(), "tunnel-down: StopCCN result 6");
    EXPECT_FALSE(first(w, "LAC>LNS SCCRP")) << "refused before any SCCRP";
}

// ---------------------------------------------------------------------------------------------
// RFC 2661 §4.4.2 Result Codes: every StopCCN and CDN code sent and received, with golden
// transition lines (IDs from the seeded random sources: LNS tunnel 50163, LAC tunnel 20597).

namespace {
std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (std::size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
    return s;
}
/// The event lines after `from` (a time prefix such as "+1.").
std::string lines_from(const World& w, std::string_view marker) {
    std::string out;
    bool on = false;
    for (const auto& l : w.rec.lines()) {
        if (l.find(marker) != std::string::npos) on = true;
        if (on) out += l + "\n";
    }
    return out;
}
}  // namespace

// req: L2TP.stopccn
TEST(EngineResultCodes, StopCcnEveryCodeSentByLacReceivedByLns) {
    const char* const golden =
        "+1.000000s l2tp.tunnel 20597: established -> idle on close (cause=local close (StopCCN result R))\n"
        "+1.010000s l2tp.tunnel 50163: established -> idle on recv-StopCCN (cause=CAUSE)\n";
    for (std::uint16_t r = 1; r <= 7; ++r) {
        World w;
        std::uint16_t t = w.lns.engine->open_tunnel(kLac);
        w.loop.advance(1s);
        ASSERT_EQ(w.lac.ups.size(), 1u);
        std::optional<GeneralError> err;
        if (r == 2) err = GeneralError::InsufficientResources;
        if (r == 5) err = static_cast<GeneralError>(0x0100);  // highest version supported: 1.0
        const std::string msg = r == 3 ? "" : "code " + std::to_string(r);
        ASSERT_TRUE(w.lac.engine->close_tunnel(w.lac.ups[0], static_cast<StopCcnResult>(r), err, msg)) << r;
        w.loop.advance(1s);
        std::string cause = "StopCCN result " + std::to_string(r);
        if (err) cause += " error " + std::to_string(static_cast<int>(*err));
        else if (!msg.empty()) cause += " error 0";
        if (!msg.empty()) cause += " (" + msg + ")";
        EXPECT_EQ(w.lns.log.back(), "tunnel-down: " + cause) << r;
        EXPECT_EQ(w.lns.engine->tunnel_state(t), "idle") << r;
        EXPECT_TRUE(w.lac.engine->channel(w.lac.ups[0])->idle()) << r << ": StopCCN acknowledged (ZLB)";
        EXPECT_EQ(lines_from(w, "on close"),
                  replace_all(replace_all(golden, "CAUSE", cause), "result R", "result " + std::to_string(r)))
            << r;
    }
}

// req: L2TP.stopccn
TEST(EngineResultCodes, StopCcnEveryCodeSentByLnsReceivedByLac) {
    for (std::uint16_t r = 1; r <= 7; ++r) {
        World w;
        std::uint16_t t = w.lns.engine->open_tunnel(kLac);
        w.loop.advance(1s);
        ASSERT_TRUE(w.lns.engine->close_tunnel(t, static_cast<StopCcnResult>(r))) << r;
        EXPECT_FALSE(w.lns.engine->close_tunnel(t)) << r << ": already closing";
        w.loop.advance(1s);
        EXPECT_EQ(w.lac.log.back(), "tunnel-down: StopCCN result " + std::to_string(r)) << r;
        EXPECT_EQ(lines_from(w, "on close"),
                  "+1.000000s l2tp.tunnel 50163: established -> idle on close (cause=local close (StopCCN result " +
                      std::to_string(r) +
                      "))\n"
                      "+1.010000s l2tp.tunnel 20597: established -> idle on recv-StopCCN (cause=StopCCN result " +
                      std::to_string(r) + ")\n")
            << r;
    }
}

// req: L2TP.stopccn, L2TP.unknown-avp
TEST(EngineResultCodes, StopCcnCodesTheEngineProduces) {
    // 2 / error 8: unknown mandatory AVP (§4.1) — engine-detected, golden log.
    {
        World w;
        std::uint16_t t = w.lns.engine->open_tunnel(kLac);
        w.loop.advance(1s);
        const ReliableChannel* ch = w.lac.engine->channel(w.lac.ups.at(0));
        L2TP m = make_hello({t, 0, ch->next_ns(), ch->next_nr()});
        std::vector<std::uint8_t> v{1, 2};
        m.add_avp(0, 99, Avp::kMandatory, v);
        w.lns.engine->receive(kLac, m.bytes());
        w.loop.advance(1s);
        EXPECT_EQ(lines_from(w, "unknown-mandatory-avp"),
                  "+1.000000s l2tp.tunnel 50163: unknown-mandatory-avp (cause=vendor 0 type 99)\n"
                  "+1.000000s l2tp.tunnel 50163: established -> idle on close (cause=unknown mandatory AVP (StopCCN "
                  "result 2))\n"
                  "+1.010000s l2tp.tunnel 20597: established -> idle on recv-StopCCN (cause=StopCCN result 2 error 8 "
                  "(unknown mandatory AVP))\n");
    }
    // 2 / error 0: control connection setup timed out (no SCCCN within the hello interval).
    {
        EngineConfig lns;
        lns.max_retransmits = 10;  // the LNS keeps retransmitting its SCCCN past the LAC's 60 s
        World w(lns);
        w.drop = [](const std::string&, const std::string& k) { return k == "SCCCN"; };
        w.lns.engine->open_tunnel(kLac);
        w.loop.advance(61s);
        EXPECT_EQ(lines_from(w, "on close"),
                  "+60.010000s l2tp.tunnel 20597: wait-ctl-conn -> idle on close (cause=setup timeout (StopCCN "
                  "result 2))\n"
                  "+60.020000s l2tp.tunnel 50163: established -> idle on recv-StopCCN (cause=StopCCN result 2 error 0 "
                  "(control connection setup timed out))\n");
    }
    // An SCCRP with Assigned Tunnel ID 0 never reaches the FSM: validation (§4.4.3, ID 0 is
    // reserved) counts it as invalid and the connection keeps waiting for a valid SCCRP.
    {
        World w;
        std::uint16_t t = w.lns.engine->open_tunnel(kLac);
        SccrpParams p;
        p.header = {t, 0, 0, 1};
        p.assigned_tunnel_id = 0;
        p.host_name = "bad";
        L2TP m = make_sccrp(p);
        w.lns.engine->receive(kLac, m.bytes());
        EXPECT_EQ(w.lns.engine->stats().invalid, 1u);
        EXPECT_EQ(w.lns.engine->tunnel_state(t), "wait-ctl-reply");
        EXPECT_FALSE(first(w, "LNS>LAC StopCCN"));
    }
    // 4 (authentication) and 5 (protocol version): TunnelAuthenticationWrongSecretStopCcn4,
    // MissingChallengeRefused, UnsupportedProtocolVersionStopCcn5; 4 by policy: EnginePolicy.*.
}

// req: L2TP.outgoing
TEST(EngineResultCodes, CdnEveryCodeSentByLacReceivedByLns) {
    // 1-3 end an established call; 4-11 are "call failed" codes, sent after OCRP before OCCN.
    for (std::uint16_t r = 1; r <= 11; ++r) {
        World w;
        SessionKey k = w.lns.engine->place_outgoing_call(kLac, call());
        w.loop.advance(1s);
        ASSERT_EQ(w.lac.ocrqs.size(), 1u);
        SessionKey lk = w.lac.ocrqs[0];
        ASSERT_TRUE(w.lac.engine->accept(lk));
        if (r <= 3) {
            ASSERT_TRUE(w.lac.engine->call_connected(lk, 64000, kFramingSync));
        }
        w.loop.advance(1s);
        const std::string before = w.lns.engine->session_state(k);
        ASSERT_EQ(before, r <= 3 ? "established" : "wait-connect") << r;
        std::optional<GeneralError> err;
        if (r == 2) err = GeneralError::VendorSpecific;
        std::optional<Q931Cause> q931;
        if (r >= 4) q931 = Q931Cause{static_cast<std::uint16_t>(r == 8 ? 17 : 30 + r), 0x4D, "cause " + std::to_string(r)};
        ASSERT_TRUE(w.lac.engine->disconnect(lk, static_cast<CdnResult>(r), err, q931)) << r;
        w.loop.advance(1s);
        ASSERT_EQ(w.lns.failures.size(), 1u) << r;
        const CallFailure& f = w.lns.failures[0];
        EXPECT_EQ(f.result, r);
        EXPECT_EQ(f.error, err ? std::optional<std::uint16_t>(static_cast<std::uint16_t>(*err)) : std::nullopt) << r;
        EXPECT_EQ(f.q931, q931) << r << ": Q.931 Cause Code AVP (§4.4.10) carried unchanged";
        EXPECT_EQ(w.lns.engine->session_state(k), "") << r;
        EXPECT_EQ(w.lns.engine->tunnel_state(k.tunnel), "established") << r << ": the tunnel stays";
        EXPECT_EQ(lines_from(w, "on disconnect"),
                  "+2.000000s l2tp.session 20597/43791: " + std::string(r <= 3 ? "established" : "wait-cs-answer") +
                      " -> idle on disconnect (cause=CDN result " + std::to_string(r) +
                      ")\n+2.000000s l2tp.session 20597/43791: call-ended {\"by\":\"local-disconnect\",\"result\":" +
                      std::to_string(r) + "}\n+2.010000s l2tp.session 50163/33077: " + before +
                      " -> idle on recv-CDN (cause=CDN result " + std::to_string(r) +
                      ")\n+2.010000s l2tp.session 50163/33077: call-ended {\"by\":\"peer-cdn\",\"result\":" +
                      std::to_string(r) + "}\n")
            << r;
        EXPECT_EQ(w.lac.failures.size(), 1u) << r << ": the LAC told once of its own CDN";
        EXPECT_EQ(w.lac.failures.at(0).ended_by, CallEndedBy::local_disconnect) << r;
        EXPECT_EQ(f.ended_by, CallEndedBy::peer_cdn) << r;
    }
}

// req: L2TP.outgoing
TEST(EngineResultCodes, CdnEveryCodeSentByLnsReceivedByLac) {
    for (std::uint16_t r = 1; r <= 11; ++r) {
        World w;
        auto [k, lk] = establish(w);
        std::optional<GeneralError> err;
        if (r == 2) err = GeneralError::InvalidSessionId;
        ASSERT_TRUE(w.lns.engine->disconnect(k, static_cast<CdnResult>(r), err)) << r;
        EXPECT_FALSE(w.lns.engine->disconnect(k, static_cast<CdnResult>(r))) << r << ": already gone";
        w.loop.advance(1s);
        ASSERT_EQ(w.lac.failures.size(), 1u) << r;
        EXPECT_EQ(w.lac.failures[0].result, r);
        EXPECT_EQ(w.lac.failures[0].error, err ? std::optional<std::uint16_t>(static_cast<std::uint16_t>(*err))
                                               : std::nullopt)
            << r;
        EXPECT_EQ(w.lac.engine->session_state(lk), "") << r;
        EXPECT_EQ(lines_from(w, "on disconnect"),
                  "+2.000000s l2tp.session 50163/33077: established -> idle on disconnect (cause=CDN result " +
                      std::to_string(r) + ")\n+2.000000s l2tp.session 50163/33077: call-ended {\"by\":\"local-disconnect\","
                      "\"result\":" + std::to_string(r) + "}\n+2.010000s l2tp.session 20597/43791: established -> idle on "
                      "recv-CDN (cause=CDN result " + std::to_string(r) + ")\n+2.010000s l2tp.session 20597/43791: "
                      "call-ended {\"by\":\"peer-cdn\",\"result\":" + std::to_string(r) + "}\n")
            << r;
        EXPECT_EQ(w.lns.failures.size(), 1u) << r << ": the LNS told once of its own CDN";
    }
}

// req: L2TP.stopccn, L2TP.outgoing
TEST(EngineResultCodes, TunnelLossEndsCallsWithResult1) {
    // A tunnel that goes down (StopCCN received, or transport failure) ends each of its calls with
    // a local failure of Result Code 1 (loss of carrier), no CDN on the wire (§5.7).
    World w;
    auto [k, lk] = establish(w);
    SessionKey k2 = w.lns.engine->place_outgoing_call(kLac, call());
    w.loop.advance(1s);
    w.drop = [](const std::string&, const std::string&) { return true; };
    w.loop.advance(200s);
    ASSERT_EQ(w.lns.failures.size(), 2u);
    for (const auto& f : w.lns.failures) {
        EXPECT_EQ(f.result, 1u);
        EXPECT_EQ(f.message.value_or("").rfind("retransmissions exhausted", 0), 0u) << f.message.value_or("");
    }
    EXPECT_EQ(w.lns.engine->session_state(k), "");
    EXPECT_EQ(w.lns.engine->session_state(k2), "");
    EXPECT_EQ(std::count(w.wire.begin(), w.wire.end(), std::string("LNS>LAC CDN")), 0);
    (void)lk;
}

// ---------------------------------------------------------------------------------------------
// Session IDs (RFC 2661 §5.2; hostile peers): random, unique while in use, O(1) lookup.

TEST(EngineSessions, ManyCallsOnOneTunnelGetDistinctIds) {
    World w;
    std::uint16_t t = w.lns.engine->open_tunnel(kLac);
    w.loop.advance(1s);
    std::set<std::uint16_t> ids;
    for (int i = 0; i < 3000; ++i) {
        SessionKey k = w.lns.engine->place_outgoing_call(kLac, call());
        EXPECT_EQ(k.tunnel, t);
        EXPECT_NE(k.session, 0u);
        ids.insert(k.session);
    }
    EXPECT_EQ(ids.size(), 3000u) << "no Session ID given twice while in use";
    EXPECT_EQ(w.lns.engine->session_count(), 3000u);
    w.loop.advance(60s);
    EXPECT_EQ(w.lac.ocrqs.size(), 3000u) << "each waiting call sent its OCRQ once";
    EXPECT_EQ(std::count(w.wire.begin(), w.wire.end(), std::string("LNS>LAC OCRQ")), 3000);
}

// req: L2TP.flood-limits
TEST(EngineSessions, LacAnsweringABurstOfOcrqsQueuesPastTheSendQueueLimitAndLosesNoCall) {
    // A LAC answers each OCRQ at once with OCRP + OCCN (RFC 2661 §7.5): two replies per call wait
    // behind the LNS's receive window, so a burst of calls queues more than `send_queue` messages.
    // That bound is for ICRQs (a peer that acknowledges nothing while it asks); an OCRQ must never be
    // dropped after the channel acknowledged it, or the call is lost for good.
    EngineConfig lac_cfg;
    lac_cfg.send_queue = 16;
    World w({}, lac_cfg);
    w.lns.engine->open_tunnel(kLac);
    w.loop.advance(1s);
    constexpr int kCalls = 300;
    for (int i = 0; i < kCalls; ++i) w.lns.engine->place_outgoing_call(kLac, call());
    std::size_t answered = 0;
    for (int step = 0; step < 60000 && w.lns.connects.size() < static_cast<std::size_t>(kCalls); ++step) {
        w.loop.advance(1ms);
        for (; answered < w.lac.ocrqs.size(); ++answered) {
            ASSERT_TRUE(w.lac.engine->accept(w.lac.ocrqs[answered]));
            ASSERT_TRUE(w.lac.engine->call_connected(w.lac.ocrqs[answered], 56000, kFramingSync));
        }
    }
    EXPECT_EQ(w.lns.connects.size(), static_cast<std::size_t>(kCalls)) << "every OCRQ answered and connected";
    EXPECT_EQ(w.lac.engine->stats().send_queue_overflows, 0u);
}

TEST(EngineSessions, TunnelFullAt65535Sessions) {
    // §5.4: Session ID 0 is the tunnel itself, so a tunnel carries at most 65 535 sessions; the
    // random allocation still finds the last free IDs (walk after the random probes miss).
    World w;
    std::uint16_t t = w.lns.engine->open_tunnel(kLac);
    w.loop.advance(1s);
    w.drop = [](const std::string&, const std::string&) { return true; };  // keep the LAC out of it
    std::vector<bool> seen(65536, false);
    for (int i = 0; i < 65535; ++i) {
        SessionKey k = w.lns.engine->place_outgoing_call(kLac, call());
        ASSERT_EQ(k.tunnel, t);
        ASSERT_NE(k.session, 0u);
        ASSERT_FALSE(seen[k.session]) << "Session ID " << k.session << " given twice";
        seen[k.session] = true;
    }
    EXPECT_EQ(w.lns.engine->session_count(), 65535u);
    // One call cleared: its ID is the only one free, and the next call gets it.
    std::uint16_t freed = 0;
    for (std::uint32_t v = 1; v < 65536 && !freed; ++v)
        if (seen[v]) freed = static_cast<std::uint16_t>(v);
    ASSERT_TRUE(w.lns.engine->disconnect({t, freed}, CdnResult::Administrative));
    const SessionKey again = w.lns.engine->place_outgoing_call(kLac, call());
    EXPECT_EQ(again.tunnel, t);
    EXPECT_EQ(again.session, freed);
    // The tunnel is full again: the 65 536th call opens a second tunnel to the same LAC (§3) and
    // the calls after it go there, instead of failing (a dial-out to one LAC past 65 535 calls).
    const SessionKey next = w.lns.engine->place_outgoing_call(kLac, call());
    EXPECT_NE(next.tunnel, t);
    EXPECT_NE(next.session, 0u);
    EXPECT_EQ(w.lns.engine->place_outgoing_call(kLac, call()).tunnel, next.tunnel);
    EXPECT_EQ(w.lns.engine->session_count(), 65537u);
    EXPECT_EQ(w.lns.engine->tunnel_count(), 2u);
}

TEST(EngineSessions, IncomingCallsPastAFullTunnelOpenAnotherTunnel) {
    // LAC role, the same rule (§5.4, §3): the 65 536th incoming call to one LNS opens a new tunnel.
    World w;
    w.drop = [](const std::string&, const std::string&) { return true; };
    IncomingCall ic;
    const SessionKey first = w.lac.engine->place_incoming_call(kLns, ic);
    for (int i = 1; i < 65535; ++i) ASSERT_EQ(w.lac.engine->place_incoming_call(kLns, ic).tunnel, first.tunnel);
    const SessionKey next = w.lac.engine->place_incoming_call(kLns, ic);
    EXPECT_NE(next.tunnel, first.tunnel);
    EXPECT_EQ(w.lac.engine->tunnel_count(), 2u);
}

// ---------------------------------------------------------------------------------------------
// Early data (EngineConfig::early_data_frames): data messages that overtake their OCCN / ICCN.

namespace {
/// An LCP Configure-Request whose Identifier (4th byte) names it in Side::order.
std::vector<std::uint8_t> lcp_req(std::uint8_t id) { return {0xc0, 0x21, 1, id, 0, 4}; }
/// Places an outgoing call and lets the LAC accept it: the LNS session is in wait-connect.
std::pair<SessionKey, SessionKey> until_wait_connect(World& w) {
    SessionKey k = w.lns.engine->place_outgoing_call(kLac, call());
    w.loop.advance(1s);
    EXPECT_EQ(w.lac.ocrqs.size(), 1u);
    SessionKey lk = w.lac.ocrqs.at(0);
    EXPECT_TRUE(w.lac.engine->accept(lk));
    w.loop.advance(1s);
    EXPECT_EQ(w.lns.engine->session_state(k), "wait-connect");
    return {k, lk};
}
/// The LAC connects the call and sends `n` LCP frames at once while its OCCN is 50 ms late on the
/// wire (a control channel paced by its send window, RFC 2661 §5.8): the data arrives first.
void connect_with_overtaking_data(World& w, SessionKey lk, int n) {
    w.delay = [](const std::string&, const std::string& kd) { return kd == "OCCN" ? 50ms : 0ms; };
    ASSERT_TRUE(w.lac.engine->call_connected(lk, 64000, kFramingSync));
    for (int i = 1; i <= n; ++i) ASSERT_TRUE(w.lac.engine->send_ppp(lk, lcp_req(static_cast<std::uint8_t>(i))));
}
}  // namespace

// req: L2TP.early-data
TEST(EngineEarlyData, DataBeforeOccnDeliveredAfterConnectedInOrder) {
    World w;
    auto [k, lk] = until_wait_connect(w);
    connect_with_overtaking_data(w, lk, 3);
    w.loop.advance(20ms);  // data arrived, OCCN not yet
    EXPECT_EQ(w.lns.engine->session_state(k), "wait-connect") << "the OCCN must still be on its way";
    EXPECT_TRUE(w.lns.frames.empty()) << "nothing goes up before the session is connected";
    EXPECT_EQ(w.lns.engine->stats().data_early_kept, 3u);
    EXPECT_EQ(w.lns.engine->stats().unknown_session, 0u) << "early data is no longer dropped";
    w.loop.advance(1s);
    EXPECT_EQ(w.lns.engine->session_state(k), "established");
    // Strictly after the connected upcall (which creates the PPP session upstairs), in arrival order.
    EXPECT_EQ(w.lns.order, (std::vector<std::string>{"connected", "ppp 1", "ppp 2", "ppp 3"}));
    EXPECT_EQ(w.lns.frames, (std::vector<std::vector<std::uint8_t>>{lcp_req(1), lcp_req(2), lcp_req(3)}));
    EXPECT_EQ(w.lns.engine->stats().data_early_delivered, 3u);
    EXPECT_EQ(w.lns.engine->stats().data_in, 3u) << "delivered early frames count as data in";
    EXPECT_EQ(w.lns.engine->stats().data_early_dropped, 0u);
    EXPECT_EQ(w.lns.engine->stats().data_early_discarded, 0u);
    EXPECT_EQ(w.rec.count("early-data-kept"), 1u) << "one event per session, not per frame";
    EXPECT_EQ(w.rec.count("early-data-delivered"), 1u);
    // Later data goes straight up, after the early frames.
    ASSERT_TRUE(w.lac.engine->send_ppp(lk, lcp_req(4)));
    w.loop.advance(1s);
    EXPECT_EQ(w.lns.order.back(), "ppp 4");
    EXPECT_EQ(w.lns.engine->stats().data_early_kept, 3u);
}

// req: L2TP.early-data
TEST(EngineEarlyData, BeyondKFramesDroppedAndCounted) {
    World w;  // default K = 4
    auto [k, lk] = until_wait_connect(w);
    connect_with_overtaking_data(w, lk, 5);
    w.loop.advance(1s);
    EXPECT_EQ(w.lns.engine->session_state(k), "established");
    EXPECT_EQ(w.lns.order, (std::vector<std::string>{"connected", "ppp 1", "ppp 2", "ppp 3", "ppp 4"}))
        << "the first K frames, in order; the 5th was dropped";
    EXPECT_EQ(w.lns.engine->stats().data_early_kept, 4u);
    EXPECT_EQ(w.lns.engine->stats().data_early_delivered, 4u);
    EXPECT_EQ(w.lns.engine->stats().data_early_dropped, 1u);
    EXPECT_EQ(w.lns.engine->stats().unknown_session, 0u);
}

// req: L2TP.early-data
TEST(EngineEarlyData, CallEndingBeforeOccnDiscardsKeptFrames) {
    {  // CDN from the LAC
        World w;
        auto [k, lk] = until_wait_connect(w);
        w.lns.engine->receive(kLac, make_data(k.tunnel, k.session, lcp_req(1)).bytes());
        w.lns.engine->receive(kLac, make_data(k.tunnel, k.session, lcp_req(2)).bytes());
        EXPECT_EQ(w.lns.engine->stats().data_early_kept, 2u);
        ASSERT_TRUE(w.lac.engine->disconnect(lk, CdnResult::Busy));
        w.loop.advance(1s);
        EXPECT_EQ(w.lns.engine->session_state(k), "");
        EXPECT_EQ(w.lns.log.back(), "failed 8");
        EXPECT_TRUE(w.lns.frames.empty()) << "frames of a call that never connected are not delivered";
        EXPECT_EQ(w.lns.engine->stats().data_early_discarded, 2u);
        EXPECT_EQ(w.lns.engine->stats().data_early_delivered, 0u);
        EXPECT_EQ(w.rec.count("early-data-discarded"), 1u);
    }
    {  // the LNS clears the call itself
        World w;
        auto [k, lk] = until_wait_connect(w);
        w.lns.engine->receive(kLac, make_data(k.tunnel, k.session, lcp_req(1)).bytes());
        ASSERT_TRUE(w.lns.engine->disconnect(k, CdnResult::Administrative));
        EXPECT_EQ(w.lns.engine->stats().data_early_discarded, 1u);
        (void)lk;
    }
    {  // the tunnel goes down
        World w;
        auto [k, lk] = until_wait_connect(w);
        w.lns.engine->receive(kLac, make_data(k.tunnel, k.session, lcp_req(1)).bytes());
        w.lns.engine->receive(kLac, make_data(k.tunnel, k.session, lcp_req(2)).bytes());
        w.lns.engine->receive(kLac, make_data(k.tunnel, k.session, lcp_req(3)).bytes());
        ASSERT_TRUE(w.lac.engine->close_tunnel(lk.tunnel));
        w.loop.advance(1s);
        EXPECT_EQ(w.lns.engine->session_state(k), "");
        EXPECT_TRUE(w.lns.frames.empty());
        EXPECT_EQ(w.lns.engine->stats().data_early_discarded, 3u);
    }
}

// req: L2TP.early-data
TEST(EngineEarlyData, SequencedDataBeforeIccnOfIncomingCall) {
    World w;
    w.delay = [](const std::string&, const std::string& kd) { return kd == "ICCN" ? 50ms : 0ms; };
    IncomingCall c;
    c.calling_number = "0123";
    c.sequencing_required = true;  // the LAC sends Ns on its data (§5.9)
    SessionKey lk = w.lac.engine->place_incoming_call(kLns, c);
    for (int i = 0; i < 200 && w.lac.engine->session_state(lk) != "established"; ++i) w.loop.advance(1ms);
    ASSERT_EQ(w.lac.engine->session_state(lk), "established") << "ICRP received, ICCN sent (delayed)";
    ASSERT_TRUE(w.lac.engine->send_ppp(lk, lcp_req(1)));
    ASSERT_TRUE(w.lac.engine->send_ppp(lk, lcp_req(2)));
    w.loop.advance(20ms);
    EXPECT_TRUE(w.lns.connects.empty()) << "the ICCN must still be on its way";
    EXPECT_EQ(w.lns.engine->stats().data_early_kept, 2u);
    // §5.9 applies at arrival: a copy of the first data message (Ns 0) is late, dropped, not kept.
    auto it = std::find_if(w.raw.begin(), w.raw.end(), [](const auto& b) { return kind(b) == "data"; });
    ASSERT_NE(it, w.raw.end());
    const auto first = *it;  // a copy: w.raw grows below (an iterator into it would dangle: ASan)
    w.lns.engine->receive(kLac, first);
    EXPECT_EQ(w.lns.engine->stats().data_dropped, 1u) << "duplicate Ns dropped";
    EXPECT_EQ(w.lns.engine->stats().data_early_kept, 2u) << "a late frame takes no place";
    w.loop.advance(1s);
    ASSERT_EQ(w.lns.connects.size(), 1u);
    EXPECT_TRUE(w.lns.connects[0].sequencing) << "sequenced early data turned sequencing on";
    EXPECT_EQ(w.lns.order, (std::vector<std::string>{"connected", "ppp 1", "ppp 2"}));
    EXPECT_EQ(w.lns.engine->stats().data_early_delivered, 2u);
    ASSERT_EQ(w.lns.engine->tunnel_count(), 1u);
    ASSERT_EQ(w.lns.keys.size(), 1u);
    auto ids = w.lns.engine->peer_ids(w.lns.keys[0]);
    ASSERT_TRUE(ids);
    EXPECT_EQ(ids->data_nr, 2u) << "a fast path taking over expects Ns 2 next";
    // Ns tracking continues from the early frames: Ns 2 goes up, a replay of Ns 0 does not.
    ASSERT_TRUE(w.lac.engine->send_ppp(lk, lcp_req(3)));
    w.loop.advance(100ms);
    EXPECT_EQ(w.lns.order.back(), "ppp 3");
    w.lns.engine->receive(kLac, first);
    EXPECT_EQ(w.lns.engine->stats().data_dropped, 2u);
    EXPECT_EQ(w.lns.frames.size(), 3u);
}

// req: L2TP.early-data
TEST(EngineEarlyData, WrongPeerOrUnknownSessionStaysUnknownSession) {
    World w;
    SessionKey k = w.lns.engine->place_outgoing_call(kLac, call());
    w.loop.advance(1s);
    ASSERT_EQ(w.lns.engine->session_state(k), "wait-reply");
    // wait-reply (OCRQ sent, OCRP not yet here): the LAC already has our Session ID; kept.
    w.lns.engine->receive(kLac, make_data(k.tunnel, k.session, lcp_req(1)).bytes());
    EXPECT_EQ(w.lns.engine->stats().data_early_kept, 1u);
    // Another peer using the same IDs, a Session ID that does not exist: dropped as before.
    w.lns.engine->receive(PeerId{99}, make_data(k.tunnel, k.session, lcp_req(2)).bytes());
    w.lns.engine->receive(kLac, make_data(k.tunnel, static_cast<std::uint16_t>(k.session + 1), lcp_req(3)).bytes());
    EXPECT_EQ(w.lns.engine->stats().unknown_session, 2u);
    EXPECT_EQ(w.lns.engine->stats().data_early_kept, 1u);
    ASSERT_TRUE(w.lac.engine->accept(w.lac.ocrqs.at(0)));
    ASSERT_TRUE(w.lac.engine->call_connected(w.lac.ocrqs.at(0), 64000, kFramingSync));
    w.loop.advance(1s);
    EXPECT_EQ(w.lns.order, (std::vector<std::string>{"connected", "ppp 1"}));
}

// req: L2TP.early-data
TEST(EngineEarlyData, ZeroFramesIsTheOldBehaviour) {
    EngineConfig lns;
    lns.early_data_frames = 0;
    World w(lns);
    auto [k, lk] = until_wait_connect(w);
    connect_with_overtaking_data(w, lk, 2);
    w.loop.advance(1s);
    EXPECT_EQ(w.lns.engine->session_state(k), "established");
    EXPECT_EQ(w.lns.order, (std::vector<std::string>{"connected"})) << "data before the OCCN is lost";
    EXPECT_EQ(w.lns.engine->stats().unknown_session, 2u);
    EXPECT_EQ(w.lns.engine->stats().data_early_kept, 0u);
    EXPECT_EQ(w.rec.count("early-data-kept"), 0u);
}

// ---------------------------------------------------------------------------------------------
// call_ended (issue: the engine reports the calls it ends itself): ONE upcall per session that
// ends, whoever ended it, with who ended it; never a second one, never none.

namespace {
/// `n` established outgoing calls on one tunnel: (LNS keys, LAC keys), in placing order.
std::pair<std::vector<SessionKey>, std::vector<SessionKey>> establish_n(World& w, std::size_t n) {
    std::vector<SessionKey> ks;
    for (std::size_t i = 0; i < n; ++i) ks.push_back(w.lns.engine->place_outgoing_call(kLac, call()));
    w.loop.advance(1s);
    EXPECT_EQ(w.lac.ocrqs.size(), n);
    for (const auto& lk : w.lac.ocrqs) {
        EXPECT_TRUE(w.lac.engine->accept(lk));
        EXPECT_TRUE(w.lac.engine->call_connected(lk, 64000, kFramingSync));
    }
    w.loop.advance(1s);
    for (const auto& k : ks) EXPECT_EQ(w.lns.engine->session_state(k), "established");
    return {ks, w.lac.ocrqs};
}
/// The golden lines of the call-ended events only.
std::string call_ended_lines(const World& w) {
    std::string s;
    for (const auto& line : w.rec.lines())
        if (line.find(" call-ended") != std::string::npos) s += line + "\n";
    return s;
}
std::size_t count_of(const std::vector<SessionKey>& v, SessionKey k) {
    return static_cast<std::size_t>(std::count(v.begin(), v.end(), k));
}
}  // namespace

// req: L2TP.call-ended, L2TP.outgoing
TEST(EngineCallEnded, PeerCdnOneUpcallEachSideWithWhoEndedIt) {
    World w;
    auto [k, lk] = establish(w);
    ASSERT_TRUE(w.lac.engine->disconnect(lk, CdnResult::Busy, std::nullopt, Q931Cause{17, 0x5a, "busy"}));
    // The LAC's own upcall runs inside disconnect(): before any time passes.
    ASSERT_EQ(w.lac.failures.size(), 1u) << "LAC not told of its own disconnect inside the call";
    EXPECT_EQ(w.lac.failures[0].ended_by, CallEndedBy::local_disconnect);
    EXPECT_EQ(w.lac.ended[0], lk);
    EXPECT_EQ(w.lac.failures[0].result, 8u);
    EXPECT_EQ(w.lac.failures[0].q931->cause_code, 17u);
    EXPECT_TRUE(w.lns.failures.empty()) << "the LNS told before the CDN arrived";
    w.loop.advance(5s);
    ASSERT_EQ(w.lns.failures.size(), 1u) << "LNS: exactly one upcall for the peer's CDN";
    EXPECT_EQ(w.lns.ended[0], k);
    EXPECT_EQ(w.lns.failures[0].ended_by, CallEndedBy::peer_cdn);
    EXPECT_EQ(w.lns.failures[0].result, 8u);
    ASSERT_TRUE(w.lns.failures[0].q931);
    EXPECT_EQ(w.lns.failures[0].q931->cause_code, 17u);
    EXPECT_EQ(w.lac.failures.size(), 1u) << "LAC: a second upcall";
    EXPECT_EQ(call_ended_lines(w),
              "+2.000000s l2tp.session 20597/43791: call-ended {\"by\":\"local-disconnect\",\"result\":8}\n"
              "+2.010000s l2tp.session 50163/33077: call-ended {\"by\":\"peer-cdn\",\"result\":8}\n");
}

// req: L2TP.call-ended, L2TP.outgoing
TEST(EngineCallEnded, LocalDisconnectUpcallInsideTheCallOnceWithTheCdnsContents) {
    World w;
    auto [k, lk] = establish(w);
    ASSERT_TRUE(w.lns.engine->disconnect(k, CdnResult::Administrative, std::nullopt, std::nullopt,
                                         "session cleared by administrator"));
    ASSERT_EQ(w.lns.failures.size(), 1u) << "no upcall from inside disconnect()";
    const CallFailure& f = w.lns.failures[0];
    EXPECT_EQ(w.lns.ended[0], k);
    EXPECT_EQ(f.ended_by, CallEndedBy::local_disconnect);
    EXPECT_EQ(f.result, 3u);
    EXPECT_EQ(f.error, std::optional<std::uint16_t>(0)) << "§4.4.2: an Error Message comes with Error Code 0";
    EXPECT_EQ(f.message.value_or(""), "session cleared by administrator");
    EXPECT_FALSE(f.q931);
    EXPECT_EQ(w.lns.engine->session_state(k), "") << "session still there during / after the upcall";
    EXPECT_FALSE(w.lns.engine->disconnect(k, CdnResult::Administrative)) << "a second disconnect succeeded";
    w.loop.advance(5s);
    EXPECT_EQ(w.lns.failures.size(), 1u) << "a second upcall for the same session";
    EXPECT_EQ(std::count(w.wire.begin(), w.wire.end(), std::string("LNS>LAC CDN")), 1) << w.wire_text();
    // The CDN carried what the upcall said (the peer's view).
    ASSERT_EQ(w.lac.failures.size(), 1u);
    EXPECT_EQ(w.lac.failures[0].ended_by, CallEndedBy::peer_cdn);
    EXPECT_EQ(w.lac.failures[0].result, 3u);
    EXPECT_EQ(w.lac.failures[0].message.value_or(""), "session cleared by administrator");
}

// req: L2TP.call-ended
TEST(EngineCallEnded, DisconnectOfACallWaitingForItsTunnelIsReportedWithoutACdn) {
    World w;
    w.drop = [](const std::string&, const std::string&) { return true; };
    SessionKey k = w.lns.engine->place_outgoing_call(kLac, call());
    ASSERT_EQ(w.lns.engine->session_state(k), "wait-tunnel");
    ASSERT_TRUE(w.lns.engine->disconnect(k, CdnResult::Administrative));
    ASSERT_EQ(w.lns.failures.size(), 1u);
    EXPECT_EQ(w.lns.failures[0].ended_by, CallEndedBy::local_disconnect);
    w.loop.advance(60s);  // the tunnel gives up (retransmissions exhausted): the call is not ended again
    EXPECT_EQ(w.lns.failures.size(), 1u) << "the gone call reported again with its tunnel";
    EXPECT_EQ(std::count(w.wire.begin(), w.wire.end(), std::string("LNS>LAC CDN")), 0);
}

// req: L2TP.call-ended, L2TP.stopccn
TEST(EngineCallEnded, LocalTunnelCloseWithThreeSessionsOneUpcallEachBeforeTunnelDown) {
    World w;
    auto [ks, lks] = establish_n(w, 3);
    ASSERT_EQ(ks[0].tunnel, ks[2].tunnel);
    ASSERT_TRUE(w.lns.engine->close_tunnel(ks[0].tunnel, StopCcnResult::GeneralRequestToClear, std::nullopt, "bye"));
    // All three, inside close_tunnel(), in ascending Session ID, then tunnel_down.
    ASSERT_EQ(w.lns.failures.size(), 3u) << "not one upcall per session inside close_tunnel()";
    std::vector<SessionKey> sorted = ks;
    std::sort(sorted.begin(), sorted.end(), [](SessionKey a, SessionKey b) { return a.session < b.session; });
    EXPECT_EQ(w.lns.ended, sorted);
    for (const auto& f : w.lns.failures) {
        EXPECT_EQ(f.ended_by, CallEndedBy::local_stopccn);
        EXPECT_EQ(f.result, 1u);
        EXPECT_EQ(f.message.value_or(""), "local close (StopCCN result 1)");
    }
    ASSERT_GE(w.lns.log.size(), 4u);
    EXPECT_EQ(w.lns.log.back(), "tunnel-down: local close (StopCCN result 1)") << "tunnel_down not after the calls";
    w.loop.advance(60s);  // StopCCN delivered, tunnel-hold, released
    EXPECT_EQ(w.lns.failures.size(), 3u) << "a session reported twice";
    for (const auto& k : ks) EXPECT_EQ(count_of(w.lns.ended, k), 1u);
    EXPECT_EQ(std::count(w.wire.begin(), w.wire.end(), std::string("LNS>LAC CDN")), 0) << "§5.7: no CDN";
    // The LAC: its three calls ended by our StopCCN.
    ASSERT_EQ(w.lac.failures.size(), 3u);
    for (const auto& f : w.lac.failures) EXPECT_EQ(f.ended_by, CallEndedBy::peer_stopccn);
    for (const auto& lk : lks) EXPECT_EQ(count_of(w.lac.ended, lk), 1u);
}

// req: L2TP.call-ended, L2TP.hello
TEST(EngineCallEnded, HelloTimeoutEndsTheCallOnceAsTimeout) {
    World w;
    auto [k, lk] = establish(w);
    w.drop = [](const std::string&, const std::string&) { return true; };  // link cut
    w.loop.advance(59s);
    EXPECT_TRUE(w.lns.failures.empty());
    w.loop.advance(33s);  // HELLO at 60 s, retransmitted 1,2,4,8,8 s, failed 31 s after
    ASSERT_EQ(std::count(w.wire.begin(), w.wire.end(), std::string("LNS>LAC HELLO")), 6) << w.wire_text();
    ASSERT_EQ(w.lns.failures.size(), 1u) << "the call lost with its tunnel not reported once";
    EXPECT_EQ(w.lns.ended[0], k);
    EXPECT_EQ(w.lns.failures[0].ended_by, CallEndedBy::timeout);
    EXPECT_EQ(w.lns.failures[0].result, 1u);
    EXPECT_EQ(w.lns.failures[0].message.value_or("").rfind("retransmissions exhausted", 0), 0u);
    w.loop.advance(200s);
    EXPECT_EQ(w.lns.failures.size(), 1u);
    (void)lk;
}

// req: L2TP.call-ended
TEST(EngineCallEnded, SetupTimeoutAndPeerStopCcnAndEngineCdnSayWhoEndedTheCall) {
    {  // the SCCRQ is never answered: retransmissions exhausted before the tunnel is up (§5.8)
        World w;
        w.drop = [](const std::string& dir, const std::string&) { return dir == "LAC>LNS"; };
        SessionKey k = w.lns.engine->place_outgoing_call(kLac, call());
        w.loop.advance(100s);
        ASSERT_EQ(w.lns.failures.size(), 1u);
        EXPECT_EQ(w.lns.ended[0], k);
        EXPECT_EQ(w.lns.failures[0].ended_by, CallEndedBy::timeout);
    }
    {  // the peer's StopCCN
        World w;
        auto [k, lk] = establish(w);
        ASSERT_TRUE(w.lac.engine->close_tunnel(lk.tunnel, StopCcnResult::ShuttingDown));
        EXPECT_EQ(w.lac.failures.size(), 1u);
        EXPECT_EQ(w.lac.failures[0].ended_by, CallEndedBy::local_stopccn);
        w.loop.advance(1s);
        ASSERT_EQ(w.lns.failures.size(), 1u);
        EXPECT_EQ(w.lns.failures[0].ended_by, CallEndedBy::peer_stopccn);
        EXPECT_EQ(w.lns.failures[0].message.value_or(""), "StopCCN result 6");
    }
    {  // §4.1: unknown M-bit AVP in a session message, the engine's own CDN 2 / 8
        World w;
        auto [k, lk] = establish(w);
        L2TP m = make_sli({0, k.session, 0, 0}, Accm{0, 0});
        std::vector<std::uint8_t> v{1};
        m.add_avp(9, 1, Avp::kMandatory, v);
        inject(w.lns, kLac, *w.lac.engine->channel(lk.tunnel), std::move(m));
        ASSERT_EQ(w.lns.failures.size(), 1u) << "the engine's own CDN ended the call without telling its owner";
        EXPECT_EQ(w.lns.ended[0], k);
        EXPECT_EQ(w.lns.failures[0].ended_by, CallEndedBy::engine_cdn);
        EXPECT_EQ(w.lns.failures[0].result, 2u);
        EXPECT_EQ(w.lns.failures[0].error, std::optional<std::uint16_t>(8));
        w.loop.advance(1s);
        EXPECT_EQ(w.lns.failures.size(), 1u);
    }
}

// req: L2TP.call-ended
TEST(EngineCallEnded, ReentrantCallbackDisconnectsAndPlacesCallsWithoutDoubleReports) {
    // From inside its first report (tunnel closing), the owner disconnects every session of the
    // tunnel and places a new call: every session is still reported exactly once (the others are
    // already gone: disconnect() is false), the new call goes on a new tunnel and connects.
    World w;
    const std::vector<SessionKey> ks = establish_n(w, 3).first;  // a named vector: the lambda below captures it
    const std::uint16_t old_tunnel = ks[0].tunnel;
    Engine& lns = *w.lns.engine;
    std::size_t disconnects_ok = 0, nested = 0;
    std::optional<SessionKey> replacement;
    w.lns.on_ended = [&](SessionKey, const CallFailure&) {
        ++nested;
        if (replacement) return;
        for (const auto& k : ks) disconnects_ok += lns.disconnect(k, CdnResult::Administrative);
        EXPECT_FALSE(lns.close_tunnel(old_tunnel)) << "a tunnel closed twice";
        replacement = lns.place_outgoing_call(kLac, call());
    };
    ASSERT_TRUE(lns.close_tunnel(old_tunnel));
    EXPECT_EQ(disconnects_ok, 0u) << "a session of the closing tunnel could be disconnected (reported twice)";
    EXPECT_EQ(nested, 3u);
    ASSERT_TRUE(replacement);
    EXPECT_NE(replacement->tunnel, old_tunnel) << "a call placed on a tunnel going down";
    for (const auto& k : ks) EXPECT_EQ(count_of(w.lns.ended, k), 1u);
    w.lns.on_ended = nullptr;
    w.loop.advance(1s);
    ASSERT_EQ(w.lac.ocrqs.size(), 4u);
    ASSERT_TRUE(w.lac.engine->accept(w.lac.ocrqs[3]));
    ASSERT_TRUE(w.lac.engine->call_connected(w.lac.ocrqs[3], 64000, kFramingSync));
    w.loop.advance(1s);
    EXPECT_EQ(lns.session_state(*replacement), "established") << "the replacement call did not connect";
    EXPECT_EQ(w.lns.failures.size(), 3u);
    EXPECT_EQ(count_of(w.lns.ended, *replacement), 0u);
}

// ---- bounded resources under a flood: SCCRQ admission (TunnelLimits), Tunnel / Session ID
// allocation, call set-up timer, session set-up cap, injected random source ----------------------

namespace {
/// One LNS-role engine fed hand-built datagrams; what it sends is kept.
struct Bare {
    dl::core::VirtualTimeLoop loop;
    dl::core::EventBus bus{loop.clock()};
    dl::core::TimerRegistry registry;
    std::vector<std::string> sent;  // message kinds
    std::unique_ptr<Engine> engine;
    explicit Bare(EngineConfig cfg, std::function<PeerPolicy(PeerId)> policy = {}) {
        if (!cfg.seed && !cfg.random) cfg.seed = 3;
        EngineCallbacks cb;
        cb.send = [this](PeerId, std::vector<std::uint8_t> b) { sent.push_back(kind(b)); };
        cb.peer_host = [](PeerId p) -> std::uint64_t { return p >> 16; };  // lnsd's address:port
        cb.peer_policy = std::move(policy);
        engine = std::make_unique<Engine>(loop.timers(), registry, bus, std::move(cfg), std::move(cb));
    }
    /// An SCCRQ (Ns 0) from host:port with the given Assigned Tunnel ID.
    void sccrq(std::uint64_t host, std::uint16_t port, std::uint16_t tid = 1) {
        SccrqParams p;
        p.assigned_tunnel_id = tid;
        p.host_name = "flood";
        engine->receive((host << 16) | port, make_sccrq(p).bytes());
    }
    std::size_t count(const std::string& k) const { return static_cast<std::size_t>(std::count(sent.begin(), sent.end(), k)); }
};
EngineConfig no_rate_limit() {
    EngineConfig c;
    c.limits.sccrq_rate = 0;
    return c;
}
}  // namespace

// req: L2TP.flood-limits
TEST(EngineLimits, SccrqFloodFromOneHostStopsAtItsSetupLimitAndOthersStillGetSccrp) {
    // 1 000 SCCRQs from 1 000 ports of one address (the flood of a single host): 16 tunnels (the
    // per-peer setup limit), 984 dropped in O(1) without an answer or a Tunnel ID; another address
    // still gets its SCCRP.
    EngineConfig c = no_rate_limit();
    c.limits.max_tunnels_per_peer = 64;  // the setup limit is the one reached
    Bare b(c);
    for (std::uint16_t port = 1; port <= 1000; ++port) b.sccrq(7, port, port);
    EXPECT_EQ(b.engine->tunnel_count(), 16u);
    EXPECT_EQ(b.count("SCCRP"), 16u);
    EXPECT_EQ(b.engine->stats().sccrq_dropped.peer_setup, 984u);
    EXPECT_EQ(b.engine->admission().setup(), 16u);
    b.sccrq(8, 1701);
    EXPECT_EQ(b.count("SCCRP"), 17u) << "a legitimate LAC at another address is still answered";
    // The setup attempts end (hello interval, then the §5.7 hold): every slot and ID comes back.
    b.loop.advance(120s);
    EXPECT_EQ(b.engine->admission().setup(), 0u);
    EXPECT_EQ(b.engine->admission().live(), 0u);
    EXPECT_EQ(b.engine->tunnel_count(), 0u);
    b.sccrq(7, 5000, 5000);
    EXPECT_EQ(b.engine->tunnel_count(), 1u) << "the host is admitted again once its tunnels are gone";
}

// req: L2TP.flood-limits
TEST(EngineLimits, SccrqFloodFromManyHostsStopsAtTheTotalSetupLimit) {
    Bare b(no_rate_limit());
    for (std::uint64_t host = 1; host <= 1000; ++host) b.sccrq(host, 1701);
    EXPECT_EQ(b.engine->tunnel_count(), 256u);
    EXPECT_EQ(b.engine->stats().sccrq_dropped.setup, 744u);
}

// req: L2TP.flood-limits
TEST(EngineLimits, TotalAndPerPeerTunnelLimitsCountEstablishedTunnels) {
    EngineConfig c = no_rate_limit();
    c.limits.max_tunnels = 3;
    c.limits.max_tunnels_per_peer = 2;
    Bare b(c);
    b.sccrq(1, 1);
    b.sccrq(1, 2);
    b.sccrq(1, 3);  // third of host 1
    EXPECT_EQ(b.engine->stats().sccrq_dropped.peer_tunnels, 1u);
    b.sccrq(2, 1);
    b.sccrq(3, 1);  // fourth in all
    EXPECT_EQ(b.engine->stats().sccrq_dropped.tunnels, 1u);
    EXPECT_EQ(b.engine->tunnel_count(), 3u);
}

// req: L2TP.flood-limits
TEST(EngineLimits, SccrqRatePerHostIsATokenBucket) {
    EngineConfig c;
    c.limits.max_tunnels_setup_per_peer = 0;
    c.limits.max_tunnels_per_peer = 0;
    c.limits.sccrq_rate = 20;
    c.limits.sccrq_burst = 40;
    Bare b(c);
    for (std::uint16_t port = 1; port <= 100; ++port) b.sccrq(7, port, port);
    EXPECT_EQ(b.engine->tunnel_count(), 40u) << "the burst";
    EXPECT_EQ(b.engine->stats().sccrq_dropped.rate, 60u);
    b.sccrq(9, 1);
    EXPECT_EQ(b.engine->tunnel_count(), 41u) << "another host has its own bucket";
    b.loop.advance(1s);
    for (std::uint16_t port = 101; port <= 200; ++port) b.sccrq(7, port, port);
    EXPECT_EQ(b.engine->tunnel_count(), 61u) << "20 more after one second";
}

// req: L2TP.flood-limits
TEST(EngineLimits, RefusedSccrqsBeyondTheHeldLimitAreSilentAndHoldNoTunnelId) {
    PeerPolicy refuse;
    refuse.accept = false;
    EngineConfig c = no_rate_limit();
    c.limits.max_refused_held = 10;
    Bare b(c, [&](PeerId) { return refuse; });
    for (std::uint64_t host = 1; host <= 1000; ++host) b.sccrq(host, 1701);
    EXPECT_EQ(b.count("StopCCN"), 10u);
    EXPECT_EQ(b.engine->tunnel_count(), 10u) << "only the answered refusals hold a Tunnel ID (§5.7)";
    EXPECT_EQ(b.engine->stats().sccrq_dropped.refused_held, 990u);
    EXPECT_EQ(b.engine->stats().refused, 10u);
    b.loop.advance(40s);  // tunnel-hold 31 s
    EXPECT_EQ(b.engine->tunnel_count(), 0u);
    EXPECT_EQ(b.engine->admission().refused_held(), 0u);
    b.sccrq(2000, 1701);
    EXPECT_EQ(b.engine->stats().refused, 11u) << "refusals are answered again once the held ones are released";
}

namespace {
/// A RandomSource that counts its draws and returns `value` (then value+1, …) for u64().
struct CountingRandom : RandomSource {
    std::uint64_t value = 0x1234, draws = 0;
    bool constant = false;
    void fill(std::span<std::uint8_t> out) override {
        for (auto& b : out) b = static_cast<std::uint8_t>(u64());
    }
    std::uint64_t u64() override {
        ++draws;
        return constant ? value : value++;
    }
};
}  // namespace

// req: L2TP.random-ids
TEST(EngineLimits, TunnelAndSessionIdsComeFromTheInjectedSource) {
    auto src = std::make_shared<CountingRandom>();
    src->value = 0xBEEF0000ABCDull;  // low 16 bits 0xABCD
    EngineConfig c;
    c.random = src;
    Bare b(c);
    b.sccrq(1, 1701);
    ASSERT_EQ(b.engine->tunnel_count(), 1u);
    EXPECT_EQ(b.engine->tunnel_state(0xABCD), "wait-ctl-conn");
    EXPECT_GT(src->draws, 0u);
}

// req: L2TP.random-ids
TEST(EngineLimits, DefaultRandomSourceIsTheOsCsprngNotASeed) {
    // Two engines with default configuration: different Tunnel IDs, Tie Breakers and Challenges
    // (with a 32-bit-seeded mt19937 the space of sequences is 2^32; here they come from RAND_bytes).
    std::set<std::uint16_t> ids;
    for (int i = 0; i < 8; ++i) {
        EngineConfig c;
        c.random = os_random();
        dl::core::VirtualTimeLoop loop;
        dl::core::EventBus bus{loop.clock()};
        dl::core::TimerRegistry reg;
        Engine e(loop.timers(), reg, bus, c, {});
        ids.insert(e.open_tunnel(1));
    }
    EXPECT_GE(ids.size(), 7u);
    // And the source itself: 64 octets twice are not equal, never all zero.
    auto r = os_random();
    std::array<std::uint8_t, 64> a{}, z{};
    std::array<std::uint8_t, 64> b2{};
    r->fill(a);
    r->fill(b2);
    EXPECT_NE(a, b2);
    EXPECT_NE(a, z);
}

// req: L2TP.random-ids
TEST(IdPoolTest, AllocatesEveryIdOnceInBoundedDrawsWhateverTheOccupancy) {
    IdPool pool;
    CountingRandom rnd;
    rnd.constant = true;  // the worst case: every draw hits the same (taken) ID
    rnd.value = 777;
    std::vector<bool> seen(65536);
    for (std::size_t i = 0; i < IdPool::capacity(); ++i) {
        const auto before = rnd.draws;
        auto id = pool.allocate(rnd);
        ASSERT_TRUE(id) << "at " << i;
        ASSERT_NE(*id, 0);
        ASSERT_FALSE(seen[*id]) << "ID " << *id << " handed out twice";
        seen[*id] = true;
        ASSERT_LE(rnd.draws - before, 4u) << "not O(1): draws per allocation";
    }
    EXPECT_FALSE(pool.allocate(rnd)) << "all 65 535 taken";
    pool.release(4242);
    EXPECT_EQ(pool.allocate(rnd), 4242);
    EXPECT_EQ(pool.size(), 65535u);
}

// req: L2TP.call-setup-timer
TEST(EngineLimits, IncomingCallWithoutIccnIsClearedWithCdn10AfterCallSetup) {
    World w;
    w.registry.set("call-setup", 5s);
    w.drop = [](const std::string& dir, const std::string& k) { return dir == "LAC>LNS" && k == "ICCN"; };
    IncomingCall ic;
    ic.call_serial_number = 1;
    w.lac.engine->place_incoming_call(kLns, ic);
    w.loop.advance(1s);
    EXPECT_EQ(w.lns.engine->session_count(), 1u) << "ICRQ answered, ICCN lost";
    w.loop.advance(5s);
    EXPECT_EQ(w.lns.engine->session_count(), 0u) << "the half-open call is gone";
    EXPECT_EQ(w.lns.engine->stats().call_setup_timeouts, 1u);
    auto cdn = first(w, "LNS>LAC CDN");
    ASSERT_TRUE(cdn);
    EXPECT_EQ(cdn->result_code()->result, static_cast<std::uint16_t>(CdnResult::Timeout));
    ASSERT_EQ(w.lns.failures.size(), 1u);
    EXPECT_EQ(w.lns.failures[0].ended_by, CallEndedBy::timeout);
    ASSERT_EQ(w.lac.failures.size(), 1u) << "the LAC is told (CDN)";
    EXPECT_EQ(w.lac.failures[0].result, 10u);
}

// req: L2TP.call-setup-timer
TEST(EngineLimits, ConnectedCallIsNotClearedByTheCallSetupTimer) {
    World w;
    w.registry.set("call-setup", 5s);
    IncomingCall ic;
    w.lac.engine->place_incoming_call(kLns, ic);
    w.loop.advance(30s);
    EXPECT_EQ(w.lns.engine->session_count(), 1u);
    EXPECT_EQ(w.lns.engine->stats().call_setup_timeouts, 0u);
}

// req: L2TP.flood-limits
TEST(EngineLimits, IcrqsBeyondTheSetupCapGetCdn4WithoutASession) {
    EngineConfig lc;
    lc.limits.max_sessions_setup_per_tunnel = 3;
    World w(lc);
    w.drop = [](const std::string& dir, const std::string& k) { return dir == "LAC>LNS" && k == "ICCN"; };
    for (int i = 0; i < 5; ++i) w.lac.engine->place_incoming_call(kLns, IncomingCall{});
    w.loop.advance(2s);
    EXPECT_EQ(w.lns.engine->session_count(), 3u);
    EXPECT_EQ(w.lns.engine->stats().sessions_refused_setup, 2u);
    std::size_t cdn4 = 0;
    for (const auto& f : w.lac.failures) cdn4 += f.result == 4 && f.error == 4;
    EXPECT_EQ(cdn4, 2u) << "CDN Result 4 (temporary lack of facilities), Error 4 (insufficient resources)";
}

// req: L2TP.flood-limits
TEST(EngineLimits, ControlMessagesBeyondTheReceiveWindowAreCountedInTheEngineStats) {
    // RFC 2661 §5.8: a message whose Ns is past the receive window is discarded. The campaign
    // `./lab bench campaign flood` (out-of-order) sent 180 000 of them and no lnsd counter moved.
    World w;
    auto [k, lk] = establish(w);
    const ReliableChannel& ch = *w.lac.engine->channel(lk.tunnel);
    for (std::uint16_t i = 0; i < 40; ++i) {
        L2TP m = make_hello({ch.peer_tunnel_id(), 0, static_cast<std::uint16_t>(ch.next_ns() + 100 + i), ch.next_nr()});
        w.lns.engine->receive(kLac, m.bytes());
    }
    EXPECT_EQ(w.lns.engine->stats().outside_window, 40u);
    EXPECT_EQ(w.lns.engine->stats().reorder_dropped, 0u);
    EXPECT_EQ(w.lns.engine->session_state(k), "established") << "the call survives the flood";
}

// req: L2TP.flood-limits
TEST(EngineLimits, IcrqsOfAPeerThatAcknowledgesNothingCannotGrowTheSendQueue) {
    EngineConfig lc;
    lc.send_queue = 10;
    World w(lc);
    w.lac.engine->place_incoming_call(kLns, IncomingCall{});
    w.loop.advance(1s);
    ASSERT_EQ(w.lac.connects.size(), 1u);
    // A peer that sends 200 ICRQs in sequence and acknowledges none of the ICRPs (its Nr stays).
    const std::uint16_t t = w.lns.ups.at(0);
    const ReliableChannel* lac_ch = w.lac.engine->channel(w.lac.ups.at(0));
    ASSERT_TRUE(lac_ch);
    const std::uint16_t ns0 = lac_ch->next_ns(), nr0 = lac_ch->next_nr();
    for (std::uint16_t i = 0; i < 200; ++i) {
        IcrqParams p;
        p.assigned_session_id = static_cast<std::uint16_t>(1000 + i);
        p.call_serial_number = i;
        L2TP m = make_icrq(p);
        m.set_tunnel_id(lac_ch->peer_tunnel_id());
        m.set_sequence(static_cast<std::uint16_t>(ns0 + i), nr0);
        w.lns.engine->receive(kLac, m.bytes());
    }
    const ReliableChannel* ch = w.lns.engine->channel(t);
    ASSERT_TRUE(ch);
    EXPECT_LE(ch->queued(), 10u);
    EXPECT_GT(w.lns.engine->stats().send_queue_overflows, 0u);
    EXPECT_LT(w.lns.engine->session_count(), 30u) << "no session for a dropped ICRQ";
}

// req: L2TP.flood-limits
TEST(EngineLimits, AConfiguredPeerIsAdmittedWhenUnlistedSourcesFillTheSetupSlots) {
    Bare b(no_rate_limit(), [](PeerId p) {
        PeerPolicy pol;
        pol.configured = (p >> 16) == 5000;
        return pol;
    });
    for (std::uint64_t host = 1; host <= 1000; ++host) b.sccrq(host, 1701);  // forged sources
    EXPECT_EQ(b.engine->admission().setup(), 256u);
    b.sccrq(5000, 1701);
    EXPECT_EQ(b.engine->tunnel_count(), 257u) << "the listed LAC still gets a tunnel";
    b.sccrq(4999, 1701);
    EXPECT_EQ(b.engine->tunnel_count(), 257u) << "an unlisted one does not";
}

// The typed upcalls (tunnel_changed / session_changed) carry every transition of the §7.2 and
// §7.4 / §7.5 FSMs with the peer and the direction: the owner's view needs no event parsing.
// req: L2TP.outgoing
TEST(Engine, TypedUpcallsFollowEveryTransitionWithPeerAndDirection) {
    World w;
    std::vector<std::string> lns_seen, lac_seen;
    auto watch = [](std::vector<std::string>& out) {
        return std::pair{[&out](const TunnelChange& c) {
                             out.push_back("tunnel " + std::to_string(c.tunnel) + " peer " + std::to_string(c.peer) +
                                           " " + to_string(c.direction) + ": " + to_string(c.from) + " -> " +
                                           to_string(c.to) + " on " + std::string(c.event));
                         },
                         [&out](const SessionChange& c) {
                             out.push_back("session " + std::to_string(c.key.tunnel) + "/" +
                                           std::to_string(c.key.session) + " peer " + std::to_string(c.peer) + " " +
                                           to_string(c.direction) + ": " + to_string(c.from) + " -> " +
                                           to_string(c.to) + " on " + std::string(c.event) +
                                           (c.permitted ? "" : " NOT PERMITTED"));
                         }};
    };
    EngineConfig lns_cfg, lac_cfg;
    lns_cfg.seed = 11;
    lac_cfg.seed = 22;
    lac_cfg.host_name = "lac";
    auto lns_cb = w.callbacks(w.lns, kLac, "LNS>LAC", w.lac);
    std::tie(lns_cb.tunnel_changed, lns_cb.session_changed) = watch(lns_seen);
    auto lac_cb = w.callbacks(w.lac, kLns, "LAC>LNS", w.lns);
    std::tie(lac_cb.tunnel_changed, lac_cb.session_changed) = watch(lac_seen);
    w.lns.engine = std::make_unique<Engine>(w.loop.timers(), w.registry, w.bus, lns_cfg, std::move(lns_cb));
    w.lac.engine = std::make_unique<Engine>(w.loop.timers(), w.registry, w.bus, lac_cfg, std::move(lac_cb));

    SessionKey k = w.lns.engine->place_outgoing_call(kLac, call());
    w.loop.advance(1s);
    ASSERT_EQ(w.lac.ocrqs.size(), 1u);
    const SessionKey lk = w.lac.ocrqs[0];
    ASSERT_TRUE(w.lac.engine->accept(lk));
    ASSERT_TRUE(w.lac.engine->call_connected(lk, 56000, kFramingSync));
    w.loop.advance(1s);
    EXPECT_FALSE(w.lac.engine->call_connected(lk, 56000, kFramingSync));  // refused in established
    ASSERT_TRUE(w.lns.engine->disconnect(k, CdnResult::Administrative));
    w.loop.advance(1s);
    const std::string t = std::to_string(k.tunnel), s = t + "/" + std::to_string(k.session);
    const std::string lt = std::to_string(lk.tunnel), ls = lt + "/" + std::to_string(lk.session);
    EXPECT_EQ(lns_seen, (std::vector<std::string>{
                            "session " + s + " peer 1 outgoing: idle -> wait-tunnel on call-request",
                            "tunnel " + t + " peer 1 outgoing: idle -> wait-ctl-reply on open",
                            "tunnel " + t + " peer 1 outgoing: wait-ctl-reply -> established on recv-SCCRP-acceptable",
                            "session " + s + " peer 1 outgoing: wait-tunnel -> wait-reply on tunnel-up",
                            "session " + s + " peer 1 outgoing: wait-reply -> wait-connect on recv-OCRP",
                            "session " + s + " peer 1 outgoing: wait-connect -> established on recv-OCCN",
                            "session " + s + " peer 1 outgoing: established -> idle on disconnect",
                        }));
    EXPECT_EQ(lac_seen, (std::vector<std::string>{
                            "tunnel " + lt + " peer 2 incoming: idle -> wait-ctl-conn on recv-SCCRQ-acceptable",
                            "tunnel " + lt + " peer 2 incoming: wait-ctl-conn -> established on recv-SCCCN-acceptable",
                            "session " + ls + " peer 2 outgoing: idle -> wait-cs-answer on recv-OCRQ",
                            "session " + ls + " peer 2 outgoing: wait-cs-answer -> wait-cs-answer on accept",
                            "session " + ls + " peer 2 outgoing: wait-cs-answer -> established on bearer-up",
                            "session " + ls + " peer 2 outgoing: established -> established on bearer-up NOT PERMITTED",
                            "session " + ls + " peer 2 outgoing: established -> idle on recv-CDN",
                        }));
}

// A refused SCCRQ (PeerPolicy::accept false) and the end of the §5.7 hold are typed changes too.
// req: L2TP.tunnel-auth
TEST(Engine, TypedUpcallsForRefusedAndReleasedTunnels) {
    World w;
    std::vector<std::string> seen;
    EngineConfig lns_cfg;
    lns_cfg.seed = 11;
    auto cb = w.callbacks(w.lns, kLac, "LNS>LAC", w.lac);
    cb.peer_policy = [](PeerId) {
        PeerPolicy p;
        p.accept = false;
        p.refuse_message = "not today";
        return p;
    };
    cb.tunnel_changed = [&seen](const TunnelChange& c) {
        static const char* const what[] = {"transition", "not-permitted", "refused", "released"};
        seen.push_back(std::string(what[static_cast<int>(c.what)]) + " " + to_string(c.direction) + " peer " +
                       std::to_string(c.peer) + ": " + to_string(c.from) + " -> " + to_string(c.to) + " (" +
                       std::string(c.cause) + ")");
    };
    w.lns.engine = std::make_unique<Engine>(w.loop.timers(), w.registry, w.bus, lns_cfg, std::move(cb));
    w.lac.engine->open_tunnel(kLns);
    w.loop.advance(1min);
    ASSERT_EQ(seen.size(), 3u) << ::testing::PrintToString(seen);
    EXPECT_EQ(seen[0], "refused incoming peer 1: idle -> idle (not today)");
    EXPECT_EQ(seen[1].rfind("transition incoming peer 1: idle -> idle (not today (StopCCN result 4))", 0), 0u) << seen[1];
    EXPECT_EQ(seen[2], "released incoming peer 1: idle -> idle (tunnel-hold expired)");
}

// The tunnel level of JunosE "Implementing L2TP" (shutdown / drain of one tunnel): a tunnel that
// refuses calls answers a new ICRQ with CDN 3 and the owner's message, keeps its sessions, carries
// none of our new outgoing calls (another tunnel is opened), and accepts calls again once allowed.
// req: L2TP.levels
TEST(Engine, TunnelThatRefusesCallsAnswersIcrqWithCdn3AndKeepsItsSessions) {
    World w;
    auto [k, lk] = establish(w);
    ASSERT_TRUE(w.lns.engine->refuse_calls(k.tunnel, true, "tunnel is shut down"));
    EXPECT_FALSE(w.lns.engine->refuse_calls(999, true));
    const SessionKey refused = w.lac.engine->place_incoming_call(kLns, IncomingCall{});
    w.loop.advance(1s);
    ASSERT_EQ(w.lac.failures.size(), 1u);
    EXPECT_EQ(w.lac.failures[0].result, 3u);
    EXPECT_EQ(w.lac.failures[0].message, "tunnel is shut down");
    EXPECT_EQ(w.lac.ended[0], refused);
    EXPECT_EQ(w.lns.engine->stats().calls_refused, 1u);
    EXPECT_EQ(w.lns.engine->session_state(k), "established") << "existing sessions are the owner's to clear";
    EXPECT_EQ(w.lns.engine->tunnel_count(), 1u);
    ASSERT_TRUE(w.lns.engine->refuse_calls(k.tunnel, false));
    const SessionKey again = w.lac.engine->place_incoming_call(kLns, IncomingCall{});
    w.loop.advance(1s);
    EXPECT_EQ(again.tunnel, lk.tunnel);
    EXPECT_EQ(w.lac.engine->session_state(again), "established");
    EXPECT_EQ(w.lns.engine->stats().calls_refused, 1u);
    // Our own new outgoing call does not go on a refusing tunnel: a second tunnel is opened.
    ASSERT_TRUE(w.lns.engine->refuse_calls(k.tunnel, true));
    const SessionKey out = w.lns.engine->place_outgoing_call(kLac, call());
    EXPECT_NE(out.tunnel, k.tunnel);
    EXPECT_EQ(w.lns.engine->tunnel_count(), 2u);
}
