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
    std::vector<Accm> accms;
    std::vector<CallErrors> wens;
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
            raw.push_back(b);
            if (drop && drop(dir, k)) return;
            int copies = dup && dup(dir, k) ? 2 : 1;
            auto d = latency + (delay ? delay(dir, k) : dl::core::Duration{});
            for (int i = 0; i < copies; ++i)
                loop.timers().arm(d, [&other, from, b] { other.engine->receive(from, b); });
        };
        cb.tunnel_up = [&me](std::uint16_t t, PeerId) { me.ups.push_back(t); me.log.push_back("tunnel-up"); };
        cb.tunnel_down = [&me](std::uint16_t, const std::string& c) { me.log.push_back("tunnel-down: " + c); };
        cb.connected = [&me](SessionKey, const ConnectInfo& ci) { me.connects.push_back(ci); me.log.push_back("connected"); };
        cb.failed = [&me](SessionKey, const CallFailure& f) {
            me.failures.push_back(f);
            me.log.push_back("failed " + std::to_string(f.result));
        };
        cb.ppp_frame = [&me](SessionKey, std::span<const std::uint8_t> f) { me.frames.emplace_back(f.begin(), f.end()); };
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
    EXPECT_EQ(w.rec.text(), kAuthFailureGolden);
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

TEST(Engine, CallConnectedBeforeAcceptRefused) {
    World w;
    w.lns.engine->place_outgoing_call(kLac, call());
    w.loop.advance(1s);
    EXPECT_FALSE(w.lac.engine->call_connected(w.lac.ocrqs.at(0), 64000, kFramingSync));
    EXPECT_TRUE(w.lac.engine->accept(w.lac.ocrqs.at(0)));
    EXPECT_FALSE(w.lac.engine->accept(w.lac.ocrqs.at(0)));
}

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
