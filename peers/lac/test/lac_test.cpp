// lac-emu core in virtual time: a scripted LNS (the project's engine in the LNS role) places
// outgoing calls through the LAC (engine in the LAC role + Lac glue) and the emulated exchange;
// each exchange behaviour yields OCCN or CDN with the right Result Code and Q.931 cause.
#include "dl/lac/lac.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "dl/core/event.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/isdn/exchange.hpp"
#include "dl/ppp/hdlc.hpp"

using namespace dl;
using namespace std::chrono_literals;
using l2tp::engine::CallFailure;
using l2tp::engine::ConnectInfo;
using l2tp::engine::Engine;
using l2tp::engine::SessionKey;

namespace {
constexpr l2tp::engine::PeerId kLnsPeer = 1, kLacPeer = 2;
constexpr isdn::Exchange::EndpointId kLacEp = 1, kCpeEp = 2;

struct World {
    core::VirtualTimeLoop loop;
    core::EventBus bus{loop.clock()};
    core::TimerRegistry registry;
    core::EventRecorder lac_calls{bus, {"lac.call", ""}};
    std::unique_ptr<isdn::Exchange> exchange;
    std::unique_ptr<lac::Lac> lac;
    std::unique_ptr<Engine> lac_engine, lns;
    // What the scripted LNS saw.
    std::vector<std::pair<SessionKey, ConnectInfo>> connected;
    std::vector<std::pair<SessionKey, CallFailure>> failed;  // call_ended, not by the LNS's own disconnect
    std::vector<std::pair<SessionKey, CallFailure>> ended;   // every call_ended
    std::vector<std::vector<std::uint8_t>> lns_ppp;
    // The CPE endpoint: what it got, and whether it answers.
    std::vector<isdn::Message> cpe_in;
    std::vector<isdn::Message> lac_out;  // every message the LAC sent to the exchange
    bool cpe_answers = true;
    std::uint32_t cpe_speed = 0;
    std::function<void(const isdn::Message&)> cpe_hook;  // also sees every message to the CPE
    std::vector<std::pair<SessionKey, ConnectInfo>> lns_incoming;  // ICCN received by the LNS

    explicit World(lac::LacConfig cfg = {}) {
        l2tp::engine::register_l2tp_timers(registry);
        exchange = std::make_unique<isdn::Exchange>(bus, loop.timers(), registry,
                                                    [this](isdn::Exchange::EndpointId ep, const isdn::Message& m) {
                                                        // 1 ms signalling latency: no re-entrancy between parts
                                                        loop.timers().arm(1ms, [this, ep, m] { to_endpoint(ep, m); });
                                                    });
        exchange->attach(kLacEp, "lac");
        exchange->attach(kCpeEp, "cpe");
        exchange->receive(kCpeEp, isdn::Message::reg({"5551000"}));
        lac = std::make_unique<lac::Lac>(loop.timers(), registry, bus, cfg, [this](const isdn::Message& m) {
            lac_out.push_back(m);
            loop.timers().arm(1ms, [this, m] { exchange->receive(kLacEp, m); });
        });
        l2tp::engine::EngineConfig lac_cfg, lns_cfg;
        lac_cfg.host_name = "lac";
        lac_cfg.secret = lns_cfg.secret = "s3cret";
        lac_cfg.hide_avps = lns_cfg.hide_avps = true;
        lac_cfg.seed = 2;
        lns_cfg.seed = 1;
        lac_engine = std::make_unique<Engine>(loop.timers(), registry, bus, lac_cfg,
                                              lac->callbacks([this](l2tp::engine::PeerId, std::vector<std::uint8_t> b) {
                                                  loop.timers().arm(5ms, [this, b] { lns->receive(kLacPeer, b); });
                                              }));
        lac->bind(*lac_engine);
        l2tp::engine::EngineCallbacks cb;
        cb.send = [this](l2tp::engine::PeerId, std::vector<std::uint8_t> b) {
            loop.timers().arm(5ms, [this, b] { lac_engine->receive(kLnsPeer, b); });
        };
        cb.connected = [this](SessionKey k, const ConnectInfo& i) {
            if (i.incoming) lns_incoming.emplace_back(k, i);
            else connected.emplace_back(k, i);
        };
        cb.call_ended = [this](SessionKey k, const CallFailure& f) {
            ended.emplace_back(k, f);
            if (f.ended_by != l2tp::engine::CallEndedBy::local_disconnect) failed.emplace_back(k, f);
        };
        cb.ppp_frame = [this](SessionKey, std::span<const std::uint8_t> f) { lns_ppp.emplace_back(f.begin(), f.end()); };
        lns = std::make_unique<Engine>(loop.timers(), registry, bus, lns_cfg, cb);
        lac->start();
        loop.advance(10ms);
        cpe_in.clear();
    }
    void to_endpoint(isdn::Exchange::EndpointId ep, const isdn::Message& m) {
        if (ep == kLacEp) {
            lac->isdn_receive(m);
            return;
        }
        cpe_in.push_back(m);
        if (cpe_hook) cpe_hook(m);
        if (m.type == isdn::MessageType::setup && cpe_answers) {
            isdn::Message c = isdn::Message::simple(isdn::MessageType::connect, m.call_ref);
            if (cpe_speed) c.speed = cpe_speed;
            loop.timers().arm(1ms, [this, c] { exchange->receive(kCpeEp, c); });
        }
    }
    SessionKey dial(std::string number, std::uint32_t bearer = l2tp::kBearerDigital, std::string sub = {}) {
        l2tp::engine::OutgoingCall oc;
        oc.called_number = std::move(number);
        oc.bearer_type = bearer;
        oc.framing_type = bearer == l2tp::kBearerDigital ? l2tp::kFramingSync : l2tp::kFramingAsync;
        oc.max_bps = 64000;
        if (!sub.empty()) oc.sub_address = sub;
        return lns->place_outgoing_call(kLacPeer, oc);
    }
    void policy(const std::string& number, isdn::Behaviour b, core::Duration d = {}) {
        isdn::NumberPolicy p;
        p.behaviour = b;
        p.delay = d;
        exchange->set_policy(number, p);
    }
};
}  // namespace

TEST(Lac, AnsweredCallGivesOccnAndBridgesPpp) {
    World w;
    w.cpe_speed = 56000;
    SessionKey k = w.dial("5551000", l2tp::kBearerDigital, "42");
    w.loop.advance(1s);
    ASSERT_EQ(w.connected.size(), 1u);
    EXPECT_EQ(w.connected[0].second.tx_connect_speed, 56000u);
    EXPECT_EQ(w.connected[0].second.framing_type, l2tp::kFramingSync);
    EXPECT_EQ(w.lns->session_state(k), "established");
    ASSERT_FALSE(w.cpe_in.empty());
    EXPECT_EQ(w.cpe_in[0].describe(), "SETUP ref=0x8001 called=5551000 calling=1701 subaddress=42 bearer=digital speed=64000");
    const std::string last = w.lac_calls.lines().back();
    EXPECT_EQ(last.substr(last.find(':')), ": alerting -> connected on CONNECT (cause=56000 bit/s)");

    // LNS -> LAC -> B-channel: a sync HDLC frame with FCS.
    const std::vector<std::uint8_t> lcp{0xFF, 0x03, 0xC0, 0x21, 0x01, 0x01, 0x00, 0x04};
    ASSERT_TRUE(w.lns->send_ppp(k, lcp));
    w.loop.advance(100ms);
    ASSERT_EQ(w.cpe_in.back().type, isdn::MessageType::data);
    auto body = ppp::decode_sync(w.cpe_in.back().payload);
    EXPECT_EQ(std::vector<std::uint8_t>(body.begin(), body.end()),
              (std::vector<std::uint8_t>{0xC0, 0x21, 0x01, 0x01, 0x00, 0x04}));
    // B-channel -> LAC -> LNS.
    w.exchange->receive(kCpeEp, isdn::Message::data(w.cpe_in[0].call_ref, ppp::encode_sync(body)));
    w.loop.advance(100ms);
    ASSERT_EQ(w.lns_ppp.size(), 1u);
    EXPECT_EQ(w.lns_ppp[0], lcp);
    // A corrupted B-channel frame is counted, not forwarded.
    auto bad = ppp::encode_sync(body);
    bad.back() ^= 1;
    w.exchange->receive(kCpeEp, isdn::Message::data(w.cpe_in[0].call_ref, bad));
    w.loop.advance(100ms);
    EXPECT_EQ(w.lac->counters().bad_b_frames, 1u);
    EXPECT_EQ(w.lns_ppp.size(), 1u);

    // The LNS clears: the ISDN call is released with cause 16.
    ASSERT_TRUE(w.lns->disconnect(k, l2tp::CdnResult::Administrative));
    w.loop.advance(100ms);
    EXPECT_EQ(w.cpe_in.back().describe(), "RELEASE ref=0x8001 cause=16");
    EXPECT_EQ(w.lac->call_count(), 0u);
    EXPECT_EQ(w.exchange->call_count(), 0u);
}

// req: PEER.accm
TEST(Lac, AnalogCallUsesAsyncFraming) {
    World w;
    SessionKey k = w.dial("5551000", l2tp::kBearerAnalog);
    w.loop.advance(1s);
    ASSERT_EQ(w.connected.size(), 1u);
    EXPECT_EQ(w.connected[0].second.framing_type, l2tp::kFramingAsync);
    EXPECT_EQ(w.connected[0].second.tx_connect_speed, 33600u);
    ASSERT_TRUE(w.lns->set_link_info(k, l2tp::Accm{0x000A0000, 0}));
    w.loop.advance(100ms);
    const std::vector<std::uint8_t> ipcp{0xFF, 0x03, 0x80, 0x21, 0x01, 0x11, 0x00, 0x04};
    ASSERT_TRUE(w.lns->send_ppp(k, ipcp));
    w.loop.advance(100ms);
    ppp::AsyncOptions o;
    o.accm = 0x000A0000;
    EXPECT_EQ(w.cpe_in.back().payload, ppp::encode_async(std::vector<std::uint8_t>(ipcp.begin() + 2, ipcp.end()), o));
    // The CPE's async stream, split in two datagrams, arrives as one PPP frame at the LNS.
    auto stream = ppp::encode_async(std::vector<std::uint8_t>(ipcp.begin() + 2, ipcp.end()));
    const std::uint16_t ref = w.cpe_in[0].call_ref;
    w.exchange->receive(kCpeEp, isdn::Message::data(ref, std::span(stream).first(5)));
    w.exchange->receive(kCpeEp, isdn::Message::data(ref, std::span(stream).subspan(5)));
    w.loop.advance(100ms);
    ASSERT_EQ(w.lns_ppp.size(), 1u);
    EXPECT_EQ(w.lns_ppp[0], ipcp);
}

struct FailCase {
    isdn::Behaviour behaviour;
    std::uint16_t result;
    std::uint16_t q931;
};

TEST(Lac, ExchangeBehavioursGiveCdnResultAndQ931Cause) {
    const std::vector<FailCase> cases{{isdn::Behaviour::busy, 8, 17},
                                      {isdn::Behaviour::no_answer, 10, 19},
                                      {isdn::Behaviour::reject, 4, 21},
                                      {isdn::Behaviour::unallocated, 6, 1}};
    for (const auto& fc : cases) {
        World w;
        w.policy("5551000", fc.behaviour);
        SessionKey k = w.dial("5551000");
        w.loop.advance(40s);  // beyond the no-answer timer
        ASSERT_EQ(w.failed.size(), 1u) << to_string(fc.behaviour);
        EXPECT_EQ(w.failed[0].first, k);
        EXPECT_EQ(w.failed[0].second.result, fc.result) << to_string(fc.behaviour);
        ASSERT_TRUE(w.failed[0].second.q931) << to_string(fc.behaviour);
        EXPECT_EQ(w.failed[0].second.q931->cause_code, fc.q931);
        EXPECT_EQ(w.failed[0].second.q931->cause_msg, 0x4D);
        EXPECT_TRUE(w.connected.empty());
        EXPECT_EQ(w.lac->call_count(), 0u);
    }
}

TEST(Lac, AnswerAfterDelaysOccn) {
    World w;
    w.policy("5551000", isdn::Behaviour::answer_after, 5s);
    w.dial("5551000");
    w.loop.advance(4s);
    EXPECT_TRUE(w.connected.empty());
    w.loop.advance(2s);
    EXPECT_EQ(w.connected.size(), 1u);
}

TEST(Lac, DropAfterGivesCdnLossOfCarrier) {
    World w;
    isdn::NumberPolicy p;
    p.behaviour = isdn::Behaviour::drop_after;
    p.delay = 10s;
    p.cause = isdn::cause::temporary_failure;
    w.exchange->set_policy("5551000", p);
    w.dial("5551000");
    w.loop.advance(1s);
    ASSERT_EQ(w.connected.size(), 1u);
    w.loop.advance(10s);
    ASSERT_EQ(w.failed.size(), 1u);
    EXPECT_EQ(w.failed[0].second.result, 1);
    EXPECT_EQ(w.failed[0].second.q931->cause_code, 41);
}

TEST(Lac, CapacityAndBearerRefusals) {
    lac::LacConfig cfg;
    cfg.channels = 1;
    cfg.bearer_capabilities = l2tp::kBearerDigital;
    World w(cfg);
    w.dial("5551000");
    w.loop.advance(1s);
    ASSERT_EQ(w.connected.size(), 1u);
    w.dial("5551000");
    w.loop.advance(1s);
    ASSERT_EQ(w.failed.size(), 1u);
    EXPECT_EQ(w.failed[0].second.result, 4);
    EXPECT_EQ(w.failed[0].second.q931->cause_code, 34);
    EXPECT_EQ(w.lac->counters().refused_capacity, 1u);
    // The refused call never held the channel; clearing the first frees it for the next OCRQ.
    ASSERT_TRUE(w.lns->disconnect(w.connected[0].first, l2tp::CdnResult::Administrative));
    w.loop.advance(1s);
    EXPECT_EQ(w.lac->call_count(), 0u) << "both released calls reaped";
    w.dial("5551000");
    w.loop.advance(1s);
    EXPECT_EQ(w.connected.size(), 2u) << "the single channel is free again";
    EXPECT_EQ(w.lac->counters().refused_capacity, 1u);

    World w2(cfg);
    w2.dial("5551000", l2tp::kBearerAnalog);
    w2.loop.advance(1s);
    ASSERT_EQ(w2.failed.size(), 1u);
    EXPECT_EQ(w2.failed[0].second.result, 5);
    EXPECT_EQ(w2.failed[0].second.q931->cause_code, 58);
    EXPECT_TRUE(w2.cpe_in.empty());  // nothing dialled
}

// req: PEER.hangup
TEST(Lac, RefuseNextAndHangup) {
    World w;
    w.lac->refuse_next(l2tp::CdnResult::NoDialTone, 41);
    w.dial("5551000");
    w.loop.advance(1s);
    ASSERT_EQ(w.failed.size(), 1u);
    EXPECT_EQ(w.failed[0].second.result, 9);
    SessionKey k = w.dial("5551000");
    w.loop.advance(1s);
    ASSERT_EQ(w.connected.size(), 1u);
    auto lac_key = w.lac->state()["calls"][0]["id"].get<std::string>();
    auto slash = lac_key.find('/');
    SessionKey lk{static_cast<std::uint16_t>(std::stoi(lac_key.substr(0, slash))),
                  static_cast<std::uint16_t>(std::stoi(lac_key.substr(slash + 1)))};
    ASSERT_TRUE(w.lac->hangup(lk));
    w.loop.advance(1s);
    ASSERT_EQ(w.failed.size(), 2u);
    EXPECT_EQ(w.failed[1].first, k);
    EXPECT_EQ(w.failed[1].second.result, 3);
    EXPECT_EQ(w.cpe_in.back().describe(), "RELEASE ref=0x8001 cause=16");
}

namespace {
std::size_t sent(const std::vector<isdn::Message>& v, isdn::MessageType t) {
    return static_cast<std::size_t>(std::count_if(v.begin(), v.end(), [t](const auto& m) { return m.type == t; }));
}
/// The LAC's key of its (only) outgoing call.
SessionKey lac_key_of_outgoing(lac::Lac& lac) {
    auto id = lac.state()["calls"][0]["id"].get<std::string>();
    auto slash = id.find('/');
    return {static_cast<std::uint16_t>(std::stoi(id.substr(0, slash))),
            static_cast<std::uint16_t>(std::stoi(id.substr(slash + 1)))};
}
}  // namespace

// The engine reports every call that ends (call_ended), the LAC's own disconnects included: the
// ISDN side of a call is released exactly once whoever ended it, and the LNS gets one CDN.
// req: L2TP.call-ended, PEER.hangup
TEST(Lac, EveryWayACallEndsReleasesTheIsdnCallOnce) {
    using isdn::MessageType;
    enum How { hangup, cpe_release, lns_cdn, lns_stopccn };
    for (How how : {hangup, cpe_release, lns_cdn, lns_stopccn}) {
        const std::string what = std::to_string(static_cast<int>(how));
        World w;
        SessionKey k = w.dial("5551000");
        w.loop.advance(1s);
        ASSERT_EQ(w.connected.size(), 1u) << what;
        const SessionKey lk = lac_key_of_outgoing(*w.lac);
        w.lac_out.clear();
        switch (how) {
            case hangup: ASSERT_TRUE(w.lac->hangup(lk)) << what; break;
            case cpe_release:
                w.exchange->receive(kCpeEp, isdn::Message::release(w.cpe_in.at(0).call_ref, isdn::cause::normal_clearing));
                break;
            case lns_cdn: ASSERT_TRUE(w.lns->disconnect(k, l2tp::CdnResult::Administrative)) << what; break;
            case lns_stopccn: ASSERT_TRUE(w.lns->close_tunnel(k.tunnel)) << what; break;
        }
        w.loop.advance(2s);
        // The LAC ends the ISDN call once: RELEASE when it clears, RELEASE COMPLETE when the CPE did.
        EXPECT_EQ(sent(w.lac_out, MessageType::release), how == cpe_release ? 0u : 1u) << what;
        EXPECT_EQ(sent(w.lac_out, MessageType::release_complete), how == cpe_release ? 1u : 0u) << what;
        EXPECT_EQ(w.lac->call_count(), 0u) << what;
        EXPECT_EQ(w.exchange->call_count(), 0u) << what;
        EXPECT_EQ(w.lac->counters().cleared_by_lns, how == lns_cdn || how == lns_stopccn ? 1u : 0u) << what;
        // No second end of the call reached its FSM (a "CDN" after it was released by itself).
        for (const auto& e : w.lac_calls.events())
            EXPECT_TRUE(e.permitted) << what << ": " << dl::core::format_golden(e);
        // The LNS: one report of the call.
        ASSERT_EQ(w.ended.size(), 1u) << what;
        EXPECT_EQ(w.ended[0].first, k) << what;
        const auto by = w.ended[0].second.ended_by;
        using By = l2tp::engine::CallEndedBy;
        EXPECT_EQ(by, how == lns_cdn ? By::local_disconnect : how == lns_stopccn ? By::local_stopccn : By::peer_cdn)
            << what;
    }
}

TEST(Lac, OcrpDelayAndGoldenLog) {
    World w;
    w.registry.set("ocrp-delay", 2s);
    w.dial("5551000");
    w.loop.advance(3s);
    ASSERT_EQ(w.connected.size(), 1u);
    const auto lines = w.lac_calls.lines();
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_NE(lines[0].find(": idle -> wait-ocrp on OCRQ (cause=called 5551000 digital) [timer ocrp-delay=2s]"),
              std::string::npos);
    EXPECT_NE(lines[1].find("wait-ocrp -> dialing on timer-expiry (cause=ocrp-delay expired)"), std::string::npos);
    EXPECT_NE(lines[2].find("dialing -> alerting on ALERTING"), std::string::npos);
    EXPECT_NE(lines[3].find("alerting -> connected on CONNECT (cause=64000 bit/s)"), std::string::npos);
}

TEST(Lac, ExchangeLossClearsCalls) {
    World w;
    w.dial("5551000");
    w.loop.advance(1s);
    ASSERT_EQ(w.connected.size(), 1u);
    w.lac->isdn_down();
    w.loop.advance(1s);
    ASSERT_EQ(w.failed.size(), 1u);
    EXPECT_EQ(w.failed[0].second.result, 1);
    EXPECT_EQ(w.failed[0].second.q931->cause_code, 27);
    EXPECT_LE(lac::Lac::call_footprint(), 512u);
    RecordProperty("lac_call_bytes", static_cast<int>(lac::Lac::call_footprint()));
}

TEST(Lac, BearerTypeZeroMeansAny) {
    World w;
    w.dial("5551000", 0);  // xl2tpd sends Bearer Type 0 in its OCRQ
    w.loop.advance(1s);
    ASSERT_EQ(w.connected.size(), 1u);
    EXPECT_EQ(w.cpe_in[0].bearer, isdn::Bearer::digital);
}

// ---- incoming calls (§7.4.1): operator hang-up and the SLI ACCM -------------------------------------

namespace {
/// A dialling client on the CPE endpoint: the project's PPP Link as peer (CHAP), async or sync
/// HDLC on the B-channel, until the LAC has tunnelled the call (then `feed` is turned off and the
/// test speaks on the B-channel itself).
struct DialIn {
    World& w;
    isdn::Bearer bearer;
    std::uint16_t ref = 1;
    std::unique_ptr<ppp::engine::Link> link;
    ppp::AsyncDeframer deframer;
    bool feed = true;
    std::vector<std::vector<std::uint8_t>> data_in;  // B-channel payloads received after `feed` off

    DialIn(World& world, isdn::Bearer b) : w(world), bearer(b) {
        ppp::engine::LinkConfig lc;
        lc.name = "alice@example.com";
        lc.secret = "alice-pw";
        ppp::engine::LinkCallbacks cb;
        cb.send = [this](std::uint16_t proto, std::vector<std::uint8_t> info) {
            std::vector<std::uint8_t> f{static_cast<std::uint8_t>(proto >> 8), static_cast<std::uint8_t>(proto)};
            f.insert(f.end(), info.begin(), info.end());
            send_frame(f);
        };
        link = std::make_unique<ppp::engine::Link>(lc, cb, core::FsmEnv{&w.bus, &w.loop.timers(), &w.registry}, "client");
        w.cpe_hook = [this](const isdn::Message& m) {
            if (m.call_ref != ref) return;
            if (m.type == isdn::MessageType::connect) link->open();
            if (m.type != isdn::MessageType::data) return;
            if (!feed) {
                data_in.push_back(m.payload);
                return;
            }
            if (bearer == isdn::Bearer::digital) link->receive(ppp::decode_sync(m.payload));
            else
                for (auto& f : deframer.feed(m.payload)) link->receive(f);
        };
        w.exchange->receive(kCpeEp, isdn::Message::setup(ref, "1701", "5551000", bearer, "", std::nullopt));
    }
    ~DialIn() { w.cpe_hook = nullptr; }
    void send_frame(std::span<const std::uint8_t> f, std::optional<std::uint32_t> accm = std::nullopt) {
        std::vector<std::uint8_t> out;
        if (bearer == isdn::Bearer::digital) {
            out = ppp::encode_sync(f);
        } else {
            ppp::AsyncOptions o;
            if (accm) o.accm = *accm;
            out = ppp::encode_async(f, o);
        }
        w.loop.timers().arm(1ms, [this, out] { w.exchange->receive(kCpeEp, isdn::Message::data(ref, out)); });
    }
};

lac::LacConfig tunnel_everything() {
    lac::LacConfig c;
    c.domains["*"] = kLnsPeer;
    return c;
}

SessionKey lac_key_of_incoming(const lac::Lac& l) {
    const auto st = l.state();
    const auto& in = st.at("incoming");
    if (in.size() != 1 || in[0]["call"].get<std::string>().empty()) return {};
    const std::string id = in[0]["call"].get<std::string>();
    const auto slash = id.find('/');
    return {static_cast<std::uint16_t>(std::stoi(id.substr(0, slash))),
            static_cast<std::uint16_t>(std::stoi(id.substr(slash + 1)))};
}
}  // namespace

// req: PEER.hangup
TEST(Lac, OperatorHangsUpATunnelledIncomingCall) {
    World w(tunnel_everything());
    DialIn client(w, isdn::Bearer::digital);
    w.loop.advance(3s);
    ASSERT_EQ(w.lns_incoming.size(), 1u) << "the client's call was tunnelled (ICRQ/ICCN)";
    const SessionKey lns_key = w.lns_incoming[0].first;
    const SessionKey k = lac_key_of_incoming(*w.lac);
    ASSERT_NE(k.session, 0) << w.lac->state().dump();
    EXPECT_EQ(w.lns->session_state(lns_key), "established");
    w.cpe_in.clear();

    // Any Result Code / cause the operator names reaches both legs (RFC 2661 §4.4.2, §4.4.10).
    ASSERT_TRUE(w.lac->hangup(k, l2tp::CdnResult::LossOfCarrier, 31));
    w.loop.advance(1s);
    ASSERT_EQ(w.failed.size(), 1u) << "the LNS got a CDN";
    EXPECT_EQ(w.failed[0].first, lns_key);
    EXPECT_EQ(w.failed[0].second.result, 1);
    ASSERT_TRUE(w.failed[0].second.q931);
    EXPECT_EQ(w.failed[0].second.q931->cause_code, 31);
    EXPECT_EQ(w.failed[0].second.q931->cause_msg, 0x4D);
    ASSERT_FALSE(w.cpe_in.empty());
    EXPECT_EQ(w.cpe_in.front().describe(), "RELEASE ref=0x0001 cause=31") << "the client's call is released";
    EXPECT_EQ(w.exchange->call_count(), 0u);
    EXPECT_EQ(w.lac->state()["incoming"].size(), 0u);
    EXPECT_EQ(w.lac->counters().hangups, 1u);
    EXPECT_FALSE(w.lac->hangup(k)) << "already gone";
    EXPECT_EQ(w.lns->session_count(), 0u);
}

// An OCRQ while an incoming call is up: the outgoing SETUP takes a call reference the exchange's
// incoming call does not hold (found with xl2tpd as the LNS: its OCRQ got OCRP and then nothing).
TEST(Lac, OutgoingCallWhileAnIncomingCallIsUpGetsItsOwnCallReference) {
    World w(tunnel_everything());
    DialIn client(w, isdn::Bearer::digital);
    w.loop.advance(3s);
    ASSERT_EQ(w.lns_incoming.size(), 1u) << "the client's call was tunnelled";
    SessionKey k = w.dial("5551000");
    w.loop.advance(1s);
    ASSERT_EQ(w.connected.size(), 1u) << "the outgoing call connected (OCCN): " << w.lac->state().dump();
    EXPECT_EQ(w.lns->session_state(k), "established");
    EXPECT_EQ(w.lac->state()["incoming"].size(), 1u) << "the incoming call is still up";
}

// req: PEER.hangup
TEST(Lac, HangupDefaultsToAdministrativeAndNormalClearing) {
    World w(tunnel_everything());
    DialIn client(w, isdn::Bearer::digital);
    w.loop.advance(3s);
    const SessionKey k = lac_key_of_incoming(*w.lac);
    ASSERT_NE(k.session, 0) << w.lac->state().dump();
    w.cpe_in.clear();
    ASSERT_TRUE(w.lac->hangup(k));
    w.loop.advance(1s);
    ASSERT_EQ(w.failed.size(), 1u);
    EXPECT_EQ(w.failed[0].second.result, 3) << "§4.4.2: 3 = administrative reasons";
    EXPECT_EQ(w.failed[0].second.q931->cause_code, 16);
    EXPECT_EQ(w.cpe_in.front().describe(), "RELEASE ref=0x0001 cause=16");
    EXPECT_FALSE(w.lac->hangup(SessionKey{k.tunnel, static_cast<std::uint16_t>(k.session + 1)})) << "unknown session";
}

// req: PEER.accm
TEST(Lac, IncomingAnalogCallHonoursTheSliAccm) {
    World w(tunnel_everything());
    DialIn client(w, isdn::Bearer::analog);
    w.loop.advance(3s);
    ASSERT_EQ(w.lns_incoming.size(), 1u);
    EXPECT_EQ(w.lns_incoming[0].second.framing_type, l2tp::kFramingAsync);
    const SessionKey lns_key = w.lns_incoming[0].first;
    client.feed = false;
    client.link.reset();  // from here the test speaks on the B-channel itself
    w.lns_ppp.clear();

    // IPCP Configure-Request: 0x01, 0x11, 0x00, 0x04 are control characters.
    const std::vector<std::uint8_t> ipcp{0x80, 0x21, 0x01, 0x11, 0x00, 0x04};
    std::vector<std::uint8_t> with_ac{0xFF, 0x03};
    with_ac.insert(with_ac.end(), ipcp.begin(), ipcp.end());
    // Before SLI: a stream with control characters left unescaped is garbled by the default
    // receive ACCM (RFC 1662 §7.1 all 32 set): the LAC drops it.
    client.send_frame(ipcp, 0u);
    w.loop.advance(100ms);
    EXPECT_TRUE(w.lns_ppp.empty()) << "default receive ACCM removes the unescaped control characters";

    // SLI (RFC 2661 §6.15): send 0x000A0000 (escape 0x11, 0x13), receive 0 (nothing escaped).
    ASSERT_TRUE(w.lns->set_link_info(lns_key, l2tp::Accm{0x000A0000, 0}));
    w.loop.advance(100ms);
    const auto st = w.lac->state();
    EXPECT_EQ(st["incoming"][0]["send_accm"], 0x000A0000u) << st.dump();
    EXPECT_EQ(st["incoming"][0]["receive_accm"], 0u) << st.dump();

    // LNS -> client: escaped with the Send ACCM, not the default.
    ASSERT_TRUE(w.lns->send_ppp(lns_key, with_ac));
    w.loop.advance(100ms);
    ASSERT_FALSE(client.data_in.empty());
    ppp::AsyncOptions o;
    o.accm = 0x000A0000;
    EXPECT_EQ(client.data_in.back(), ppp::encode_async(ipcp, o));
    EXPECT_NE(client.data_in.back(), ppp::encode_async(ipcp)) << "the default ACCM would escape 0x01, 0x00, 0x04";

    // Client -> LNS: the same unescaped stream now passes with the Receive ACCM 0.
    client.send_frame(ipcp, 0u);
    w.loop.advance(100ms);
    ASSERT_EQ(w.lns_ppp.size(), 1u) << "receive ACCM from SLI applied to the deframer";
    EXPECT_EQ(w.lns_ppp[0], with_ac);
}

// ---- per-LNS secrets (config `peers:`) ----

// req: L2TP.tunnel-auth
TEST(LacSecrets, ConfigPeersOverrideTheDefaultSecret) {
    auto root = core::ConfigNode::parse(R"(
secret: common
hide_avps: true
peers:
  - {address: 198.51.100.1, secret: one}
  - {address: 198.51.100.9, secret: "", hide_avps: false}
  - {address: 198.51.100.7}
)");
    const lac::LnsSecrets s = lac::load_lns_secrets(root);
    auto at = [&](const char* a) { return s.policy_for(*core::Ipv4Address::parse(a)); };
    EXPECT_EQ(at("198.51.100.1").secret, "one") << "listed peer: its own secret";
    EXPECT_TRUE(at("198.51.100.1").hide_avps) << "hide_avps defaults to the top-level value";
    EXPECT_EQ(at("198.51.100.9").secret, "") << "listed peer without authentication";
    EXPECT_FALSE(at("198.51.100.9").hide_avps);
    EXPECT_EQ(at("198.51.100.7").secret, "common") << "listed peer without secret: the default";
    EXPECT_EQ(at("203.0.113.5").secret, "common") << "unlisted peer: the default";
    EXPECT_TRUE(at("203.0.113.5").hide_avps);
}

TEST(LacSecrets, BadPeersConfigNamesTheKey) {
    auto err = [](const char* yaml) {
        try {
            lac::load_lns_secrets(core::ConfigNode::parse(yaml));
        } catch (const core::ConfigError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(err("peers: [{secret: x}]").find("peers[0].address"), std::string::npos) << err("peers: [{secret: x}]");
    const char* twice = "peers: [{address: 10.0.0.1}, {address: 10.0.0.1}]";
    EXPECT_NE(err(twice).find("configured twice"), std::string::npos) << err(twice);
    const char* hide = "peers: [{address: 10.0.0.1, hide_avps: true}]";
    EXPECT_NE(err(hide).find("needs a secret"), std::string::npos) << err(hide);
    const char* typo = "peers: [{address: 10.0.0.1, secert: x}]";
    EXPECT_NE(err(typo).find("secert"), std::string::npos) << err(typo);
    EXPECT_NE(err("peers: {address: 10.0.0.1}").find("is not a list"), std::string::npos);
}

// req: L2TP.tunnel-auth, L2TP.hidden
TEST(LacSecrets, EachLnsAuthenticatedWithItsOwnSecret) {
    // One LAC-role engine, three LNS engines at three addresses: two with the secret listed for
    // them, one with a secret the LAC does not share (refused with StopCCN 4, RFC 2661 §4.4.2).
    core::VirtualTimeLoop loop;
    core::EventBus bus{loop.clock()};
    core::TimerRegistry registry;
    l2tp::engine::register_l2tp_timers(registry);
    const lac::LnsSecrets secrets = lac::load_lns_secrets(core::ConfigNode::parse(R"(
secret: default
peers:
  - {address: 10.0.0.1, secret: alpha, hide_avps: true}
  - {address: 10.0.0.2, secret: beta}
)"));
    const std::map<l2tp::engine::PeerId, const char*> addr{{1, "10.0.0.1"}, {2, "10.0.0.2"}, {3, "10.0.0.3"}};
    constexpr l2tp::engine::PeerId kLacAt = 100;
    std::unique_ptr<Engine> lac_engine;
    std::map<l2tp::engine::PeerId, std::unique_ptr<Engine>> lns;
    std::map<l2tp::engine::PeerId, int> downs;
    std::vector<std::string> ocrqs;  // "<secret of the LAC's tunnel>/<hidden?>/<Called Number>"
    std::vector<std::vector<std::uint8_t>> from_lac;
    l2tp::engine::EngineCallbacks lcb;
    lcb.send = [&](l2tp::engine::PeerId to, std::vector<std::uint8_t> b) {
        from_lac.push_back(b);
        loop.timers().arm(5ms, [&, to, b] { lns.at(to)->receive(kLacAt, b); });
    };
    lcb.ocrq = [&](SessionKey k, const l2tp::engine::OutgoingCall& c) {
        const auto* pol = lac_engine->tunnel_policy(k.tunnel);
        ocrqs.push_back((pol ? pol->secret : "?") + "/" + (pol && pol->hide_avps ? "hide" : "clear") + "/" +
                        c.called_number);
    };
    lcb.peer_policy = [&](l2tp::engine::PeerId p) { return secrets.policy_for(*core::Ipv4Address::parse(addr.at(p))); };
    l2tp::engine::EngineConfig lc;
    lc.host_name = "lac";
    lc.seed = 9;
    lac_engine = std::make_unique<Engine>(loop.timers(), registry, bus, lc, lcb);
    const std::map<l2tp::engine::PeerId, std::pair<std::string, bool>> lns_secret{
        {1, {"alpha", true}}, {2, {"beta", false}}, {3, {"gamma", false}}};
    for (const auto& [p, sec] : lns_secret) {
        l2tp::engine::EngineConfig c;
        c.secret = sec.first;
        c.hide_avps = sec.second;
        c.seed = p;
        l2tp::engine::EngineCallbacks cb;
        const l2tp::engine::PeerId me = p;
        cb.send = [&, me](l2tp::engine::PeerId, std::vector<std::uint8_t> b) {
            loop.timers().arm(5ms, [&, me, b] { lac_engine->receive(me, b); });
        };
        cb.tunnel_down = [&, me](std::uint16_t, const std::string&) { ++downs[me]; };
        lns[p] = std::make_unique<Engine>(loop.timers(), registry, bus, c, cb);
    }
    l2tp::engine::OutgoingCall oc;
    oc.called_number = "5551000";
    std::map<l2tp::engine::PeerId, SessionKey> keys;
    for (auto& [p, e] : lns) keys[p] = e->place_outgoing_call(kLacAt, oc);
    loop.advance(2s);
    EXPECT_EQ(lns[1]->session_state(keys[1]), "wait-reply") << "alpha: tunnel up, OCRQ answered by the LAC";
    EXPECT_EQ(lns[2]->session_state(keys[2]), "wait-reply") << "beta: tunnel up";
    EXPECT_EQ(lns[3]->session_state(keys[3]), "") << "gamma: not the LAC's secret for 10.0.0.3 (default)";
    EXPECT_EQ(downs[3], 1) << "the LNS with the wrong secret saw its tunnel refused";
    EXPECT_EQ(lns[3]->stats().auth_failures, 1u) << "the LAC answered gamma's Challenge with its default secret";
    EXPECT_EQ(lns[1]->stats().auth_failures + lns[2]->stats().auth_failures + lac_engine->stats().auth_failures, 0u);
    // The OCRQ from 10.0.0.1 hides its Called Number (§4.3): the LAC read it with alpha, that
    // tunnel's secret; the one from 10.0.0.2 is in clear.
    std::sort(ocrqs.begin(), ocrqs.end());
    EXPECT_EQ(ocrqs, (std::vector<std::string>{"alpha/hide/5551000", "beta/clear/5551000"}));
}
