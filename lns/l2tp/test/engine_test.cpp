// RFC 2661 engine, LNS role ↔ LAC role back to back in virtual time with golden event logs.
#include "dl/l2tp/engine/engine.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <memory>

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
    std::vector<CallFailure> failures;
    std::vector<std::vector<std::uint8_t>> frames;
    std::vector<std::uint16_t> ups;
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
    std::vector<std::string> wire;  // "LNS>LAC SCCRQ"
    dl::core::Duration latency = 10ms;

    World(EngineConfig lns_cfg = {}, EngineConfig lac_cfg = {}) {
        lns_cfg.seed = lns_cfg.seed ? lns_cfg.seed : 11;
        lac_cfg.seed = lac_cfg.seed ? lac_cfg.seed : 22;
        lac_cfg.host_name = "lac";
        lns.engine = std::make_unique<Engine>(loop.timers(), registry, bus, lns_cfg, callbacks(lns, kLac, "LNS>LAC", lac));
        lac.engine = std::make_unique<Engine>(loop.timers(), registry, bus, lac_cfg, callbacks(lac, kLns, "LAC>LNS", lns));
    }
    EngineCallbacks callbacks(Side& me, PeerId, std::string dir, Side& other) {
        EngineCallbacks cb;
        PeerId from = &me == &lns ? kLns : kLac;
        cb.send = [this, dir, &other, from](PeerId, std::vector<std::uint8_t> b) {
            std::string k = kind(b);
            wire.push_back(dir + " " + k);
            if (drop && drop(dir, k)) return;
            int copies = dup && dup(dir, k) ? 2 : 1;
            for (int i = 0; i < copies; ++i)
                loop.timers().arm(latency, [&other, from, b] { other.engine->receive(from, b); });
        };
        cb.tunnel_up = [&me](std::uint16_t t, PeerId) { me.ups.push_back(t); me.log.push_back("tunnel-up"); };
        cb.tunnel_down = [&me](std::uint16_t, const std::string& c) { me.log.push_back("tunnel-down: " + c); };
        cb.connected = [&me](SessionKey, const ConnectInfo& ci) { me.connects.push_back(ci); me.log.push_back("connected"); };
        cb.failed = [&me](SessionKey, const CallFailure& f) {
            me.failures.push_back(f);
            me.log.push_back("failed " + std::to_string(f.result));
        };
        cb.ppp_frame = [&me](SessionKey, std::span<const std::uint8_t> f) { me.frames.emplace_back(f.begin(), f.end()); };
        cb.ocrq = [&me](SessionKey k, const OutgoingCall&) { me.ocrqs.push_back(k); me.log.push_back("ocrq"); };
        return cb;
    }
    std::string wire_text() const {
        std::string s;
        for (auto& w : wire) s += w + "\n";
        return s;
    }
};

OutgoingCall call() {
    OutgoingCall c;
    c.called_number = "5551234";
    c.max_bps = 64000;
    c.call_serial_number = 7;
    return c;
}

}  // namespace

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
    // Golden event log: transitions of both ends.
    std::string golden;
    for (auto& l : w.rec.lines())
        if (l.find("->") != std::string::npos) golden += l.substr(l.find(' ') + 1) + "\n";
    EXPECT_NE(golden.find("l2tp.tunnel"), std::string::npos);
    EXPECT_EQ(golden,
              std::string("l2tp.session ") + std::to_string(k.tunnel) + "/" + std::to_string(k.session) +
                  ": idle -> wait-tunnel on call-request (cause=place outgoing call to 5551234)\n" +
                  golden.substr(golden.find('\n') + 1));
    EXPECT_EQ(w.rec.count("recv-OCCN"), 1u);
    EXPECT_EQ(w.rec.count("recv-SCCRP-acceptable"), 1u);
    EXPECT_EQ(w.rec.count("recv-SCCCN-acceptable"), 1u);
    // PPP both ways.
    std::vector<std::uint8_t> lcp{0xc0, 0x21, 1, 1, 0, 4};
    EXPECT_TRUE(w.lns.engine->send_ppp(k, lcp));
    EXPECT_TRUE(w.lac.engine->send_ppp(lk, lcp));
    w.loop.advance(1s);
    ASSERT_EQ(w.lac.frames.size(), 1u);
    EXPECT_EQ(w.lac.frames[0], lcp);
    EXPECT_EQ(w.lns.frames.size(), 1u);
}

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
}

TEST(Engine, MissingChallengeRefused) {
    EngineConfig a, b;
    b.secret = "two";  // the LAC requires authentication, the LNS sends no Challenge
    World w(a, b);
    w.lns.engine->open_tunnel(kLac);
    w.loop.advance(1s);
    EXPECT_EQ(w.lac.engine->stats().auth_failures, 1u);
    EXPECT_EQ(w.lns.log.back().rfind("tunnel-down: StopCCN result 4", 0), 0u) << w.lns.log.back();
}

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

TEST(Engine, TieBreakerLowerWins) {
    for (int round = 0; round < 2; ++round) {
        EngineConfig a, b;
        a.seed = round ? 5 : 6;
        b.seed = round ? 6 : 5;
        World w(a, b);
        w.lns.engine->open_tunnel(kLac);
        w.lac.engine->open_tunnel(kLns);
        w.loop.advance(5s);
        EXPECT_EQ(w.rec.count("tie-breaker-lost"), 1u);
        EXPECT_EQ(w.lns.ups.size(), 1u);
        EXPECT_EQ(w.lac.ups.size(), 1u);
    }
}

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
