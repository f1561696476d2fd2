// lnsd's LNS core against LAC-role engines, back to back in virtual time.
#include "dl/lnsd/lns.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "dl/core/control.hpp"
#include "dl/lnsd/dialout_wiring.hpp"
#include "dl/l2tp/builders.hpp"

using namespace dl;
using namespace dl::l2tp::engine;
using namespace std::chrono_literals;

namespace {

core::Ipv4Address ip(const char* s) { return *core::Ipv4Address::parse(s); }
const PeerId kLnsPeer = lnsd::peer_id(ip("10.0.0.1"), 1701);

std::string kind(const std::vector<std::uint8_t>& b) {
    try {
        l2tp::L2TP m(b.data(), static_cast<std::uint32_t>(b.size()));
        if (m.is_data()) return "data";
        if (m.is_zlb()) return "ZLB";
        return std::string(l2tp::message_name(m.message_type().value_or(0)));
    } catch (...) {
        return "malformed";
    }
}

struct Lac {
    std::unique_ptr<Engine> engine;
    std::vector<CallFailure> failures;
    std::vector<std::string> downs;
    int connects = 0;
    bool answer_ocrq = true;
};

/// One Lns and any number of LAC-role engines (each at its own address:port), 10 ms apart.
/// lnsd's configuration with `accept-unknown-peers: true`: these tests' LACs are not listed
/// (the default refuses them; Lns.UnlistedPeerRefusedWhenNotAccepted, LnsdConfig.DefaultsAreSafe).
lnsd::LnsdConfig open_config() {
    lnsd::LnsdConfig c;
    c.accept_unknown_peers = true;
    return c;
}

struct World {
    core::VirtualTimeLoop loop;
    core::EventBus bus{loop.clock()};
    core::TimerRegistry registry;
    core::EventRecorder rec{bus, {"l2tp", ""}};
    std::unique_ptr<lnsd::Lns> lns;
    std::map<PeerId, std::unique_ptr<Lac>> lacs;
    std::vector<std::string> wire;
    std::function<bool(PeerId, const std::string&)> drop;  // LNS -> peer datagrams

    explicit World(lnsd::LnsdConfig cfg = open_config()) {
        core::register_well_known_timers(registry);
        register_l2tp_timers(registry);
        lns = std::make_unique<lnsd::Lns>(loop.timers(), registry, bus, cfg,
                                          [this](PeerId p, std::vector<std::uint8_t> b) {
                                              auto k = kind(b);
                                              wire.push_back("LNS>" + lnsd::peer_text(p) + " " + k);
                                              if (drop && drop(p, k)) return;
                                              loop.timers().arm(10ms, [this, p, b] {
                                                  if (auto it = lacs.find(p); it != lacs.end())
                                                      it->second->engine->receive(kLnsPeer, b);
                                              });
                                          },
                                          7);
    }
    Lac& add_lac(PeerId at, std::string secret = {}, bool hide = false) {
        auto lac = std::make_unique<Lac>();
        EngineConfig ec;
        ec.host_name = "lac";
        ec.secret = std::move(secret);
        ec.hide_avps = hide;
        ec.seed = 100 + lacs.size();
        Lac* me = lac.get();
        EngineCallbacks cb;
        cb.send = [this, at](PeerId, std::vector<std::uint8_t> b) {
            wire.push_back(lnsd::peer_text(at) + ">LNS " + kind(b));
            loop.timers().arm(10ms, [this, at, b] { lns->receive(at, b); });
        };
        cb.call_ended = [me](SessionKey, const CallFailure& f) { me->failures.push_back(f); };
        cb.connected = [me](SessionKey, const ConnectInfo&) { ++me->connects; };
        cb.tunnel_down = [me](std::uint16_t, const std::string& c) { me->downs.push_back(c); };
        cb.ocrq = [this, me](SessionKey k, const OutgoingCall&) {
            if (!me->answer_ocrq) return;
            loop.timers().arm(0ms, [me, k] {
                me->engine->accept(k);
                me->engine->call_connected(k, 64000, l2tp::kFramingSync);
            });
        };
        lac->engine = std::make_unique<Engine>(loop.timers(), registry, bus, ec, std::move(cb));
        return *(lacs[at] = std::move(lac));
    }
    nlohmann::json call(const std::string& cmd, nlohmann::json args = nlohmann::json::object()) {
        boost::asio::io_context io;
        core::ControlServer server(io, "/nonexistent/lnsd-test.sock");
        lns->register_commands(server);
        return nlohmann::json::parse(server.handle_line(nlohmann::json{{"id", 1}, {"cmd", cmd}, {"args", args}}.dump()));
    }
};

const PeerId kLac1 = lnsd::peer_id(ip("10.0.0.2"), 1701);
const PeerId kLac1b = lnsd::peer_id(ip("10.0.0.2"), 1702);
const PeerId kLac2 = lnsd::peer_id(ip("10.0.0.3"), 1701);

IncomingCall icall() {
    IncomingCall c;
    c.call_serial_number = 1;
    c.calling_number = "5550001";
    c.called_number = "5559999";
    return c;
}

}  // namespace

TEST(Lns, IncomingTunnelAndSessionShownAtEveryLevel) {
    World w;
    auto& lac = w.add_lac(kLac1);
    lac.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(1s);
    EXPECT_EQ(lac.connects, 1);
    EXPECT_EQ(w.lns->tunnel_count(), 1u);
    EXPECT_EQ(w.lns->session_count(), 1u);

    auto sum = w.call("show l2tp");
    ASSERT_TRUE(sum["ok"].get<bool>()) << sum.dump();
    EXPECT_EQ(sum["result"]["system"]["tunnels-established"], 1);
    EXPECT_EQ(sum["result"]["system"]["sessions-established"], 1);
    EXPECT_EQ(sum["result"]["system"]["destinations"], 1);

    auto d = w.call("show l2tp destination", {{"id", "10.0.0.2"}});
    ASSERT_TRUE(d["ok"].get<bool>()) << d.dump();
    EXPECT_EQ(d["result"][0]["state"], "enabled");
    EXPECT_EQ(d["result"][0]["tunnels"], 1);
    EXPECT_EQ(d["result"][0]["sessions"], 1);
    EXPECT_EQ(d["result"][0]["counters"]["tunnels-established"], 1);
    EXPECT_EQ(d["result"][0]["counters"]["sessions-established"], 1);

    auto t = w.call("show l2tp tunnel", {{"detail", true}});
    ASSERT_EQ(t["result"].size(), 1u) << t.dump();
    EXPECT_EQ(t["result"][0]["state"], "established");
    EXPECT_EQ(t["result"][0]["direction"], "incoming");
    EXPECT_EQ(t["result"][0]["peer"], "10.0.0.2:1701");
    EXPECT_EQ(t["result"][0]["receive-window"], 16);
    EXPECT_TRUE(t["result"][0].contains("ns"));

    auto s = w.call("show l2tp session", {{"detail", true}});
    ASSERT_EQ(s["result"].size(), 1u) << s.dump();
    EXPECT_EQ(s["result"][0]["state"], "established");
    EXPECT_EQ(s["result"][0]["calling-number"], "5550001");
    EXPECT_EQ(s["result"][0]["called-number"], "5559999");

    auto bad = w.call("show l2tp tunnel", {{"id", "70000"}});
    EXPECT_FALSE(bad["ok"].get<bool>());
    auto none = w.call("show l2tp destination", {{"id", "10.9.9.9"}});
    EXPECT_FALSE(none["ok"].get<bool>());
    auto timers = w.call("show timers");
    ASSERT_TRUE(timers["result"].is_array());
}

TEST(Lns, PerPeerSecretAuthenticatesAndWrongSecretIsRefused) {
    lnsd::LnsdConfig cfg = open_config();
    cfg.peers.push_back({ip("10.0.0.2"), "s3cret", true});
    cfg.peers.push_back({ip("10.0.0.3"), "other", false});
    World w(cfg);
    auto& good = w.add_lac(kLac1, "s3cret", true);
    auto& bad = w.add_lac(kLac2, "wrong");
    good.engine->place_incoming_call(kLnsPeer, icall());
    bad.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(5s);
    EXPECT_EQ(good.connects, 1);
    EXPECT_EQ(bad.connects, 0);
    ASSERT_FALSE(bad.failures.empty());
    auto t = w.call("show l2tp tunnel");
    ASSERT_EQ(t["result"].size(), 2u) << t.dump();  // the refused one is held (§5.7) in idle
    for (auto& row : t["result"])
        EXPECT_EQ(row["state"], row["destination"] == "10.0.0.2" ? "established" : "idle") << row.dump();
    w.loop.advance(40s);
    EXPECT_EQ(w.call("show l2tp tunnel")["result"].size(), 1u);
    auto sum = w.call("show l2tp")["result"]["system"];
    EXPECT_GE(sum["counters"]["auth-failures"].get<int>() + static_cast<int>(!bad.downs.empty()), 1) << sum.dump();
}

TEST(Lns, ShowSessionsOfOneTunnelAndOneSession) {
    // "show l2tp session <tunnel>" and "<tunnel>/<session>" are a range / a look-up in the
    // (Tunnel ID, Session ID) order: each gives exactly its own, whichever tunnel comes first.
    World w;
    auto& a = w.add_lac(kLac1);
    auto& b = w.add_lac(kLac1b);
    auto& c = w.add_lac(kLac2);
    for (int i = 0; i < 3; ++i) a.engine->place_incoming_call(kLnsPeer, icall());
    b.engine->place_incoming_call(kLnsPeer, icall());
    for (int i = 0; i < 2; ++i) c.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(2s);
    ASSERT_EQ(w.lns->session_count(), 6u);
    const auto all = w.call("show l2tp session")["result"];
    ASSERT_EQ(all.size(), 6u);
    std::map<std::uint16_t, std::size_t> per_tunnel;
    for (const auto& s : all) ++per_tunnel[s["tunnel"].get<std::uint16_t>()];
    ASSERT_EQ(per_tunnel.size(), 3u);
    for (const auto& [t, n] : per_tunnel) {
        const auto r = w.call("show l2tp session", {{"id", std::to_string(t)}})["result"];
        ASSERT_EQ(r.size(), n) << "tunnel " << t << ": " << r.dump();
        for (const auto& s : r) EXPECT_EQ(s["tunnel"], t);
    }
    for (const auto& s : all) {
        const auto r = w.call("show l2tp session", {{"id", s["id"]}});
        ASSERT_TRUE(r["ok"].get<bool>()) << r.dump();
        ASSERT_EQ(r["result"].size(), 1u);
        EXPECT_EQ(r["result"][0]["id"], s["id"]);
        EXPECT_TRUE(r["result"][0].contains("calling-number")) << "one session is shown in detail";
    }
    // A Session ID that is not in use on that tunnel (the next one in order belongs to another).
    const auto t0 = per_tunnel.begin()->first;
    std::set<std::uint16_t> used;
    for (const auto& s : all)
        if (s["tunnel"] == t0) used.insert(s["session"].get<std::uint16_t>());
    std::uint16_t unused = 1;
    while (used.count(unused)) ++unused;
    EXPECT_FALSE(w.call("show l2tp session", {{"id", std::to_string(t0) + "/" + std::to_string(unused)}})["ok"].get<bool>());
    std::uint16_t idle_tunnel = 1;
    while (per_tunnel.count(idle_tunnel)) ++idle_tunnel;
    EXPECT_TRUE(w.call("show l2tp session", {{"id", std::to_string(idle_tunnel)}})["result"].empty());
    // The summary and the destinations count the same sessions without walking them.
    const auto sum = w.call("show l2tp")["result"]["system"];
    EXPECT_EQ(sum["sessions"], 6);
    EXPECT_EQ(sum["sessions-established"], 6);
    std::size_t dest_sessions = 0;
    const auto dests = w.call("show l2tp destination")["result"];
    for (const auto& d : dests) dest_sessions += d["sessions"].get<std::size_t>();
    EXPECT_EQ(dest_sessions, 6u) << dests.dump();
    ASSERT_TRUE(w.call("l2tp clear session", {{"id", all[0]["id"]}})["ok"].get<bool>());
    w.loop.advance(1s);
    EXPECT_EQ(w.call("show l2tp")["result"]["system"]["sessions-established"], 5);
}

TEST(Lns, ClearSessionTunnelAndDestination) {
    World w;
    auto& a = w.add_lac(kLac1);
    auto& b = w.add_lac(kLac1b);  // same destination (address), another tunnel
    auto& c = w.add_lac(kLac2);
    a.engine->place_incoming_call(kLnsPeer, icall());
    a.engine->place_incoming_call(kLnsPeer, icall());
    b.engine->place_incoming_call(kLnsPeer, icall());
    c.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(2s);
    ASSERT_EQ(w.lns->tunnel_count(), 3u);
    ASSERT_EQ(w.lns->session_count(), 4u);

    // Session level: CDN, administrative (Result Code 3).
    auto s = w.call("show l2tp session");
    std::string sid = s["result"][0]["id"];
    auto r = w.call("l2tp clear session", {{"id", sid}});
    ASSERT_TRUE(r["ok"].get<bool>()) << r.dump();
    w.loop.advance(1s);
    EXPECT_EQ(w.lns->session_count(), 3u);
    std::size_t cdn3 = 0;
    for (auto* l : {&a, &b, &c})
        for (auto& f : l->failures) cdn3 += f.result == 3;
    EXPECT_EQ(cdn3, 1u);
    EXPECT_FALSE(w.call("l2tp clear session", {{"id", "1/2/3"}})["ok"].get<bool>());

    // Destination level: both tunnels to 10.0.0.2 and their sessions; 10.0.0.3 untouched.
    r = w.call("l2tp clear destination", {{"id", "10.0.0.2"}});
    ASSERT_TRUE(r["ok"].get<bool>()) << r.dump();
    EXPECT_EQ(r["result"]["tunnels-cleared"], 2);
    w.loop.advance(2s);
    auto d = w.call("show l2tp destination", {{"id", "10.0.0.2"}})["result"][0];
    EXPECT_EQ(d["sessions"], 0) << d.dump();
    EXPECT_EQ(d["counters"]["tunnels-closed"], 2);
    EXPECT_EQ(c.connects, 1);
    EXPECT_FALSE(a.downs.empty());
    EXPECT_FALSE(b.downs.empty());
    EXPECT_TRUE(c.downs.empty());

    // Tunnel level.
    auto t = w.call("show l2tp tunnel", {{"id", ""}});
    std::string tid;
    for (auto& row : t["result"])
        if (row["destination"] == "10.0.0.3") tid = row["id"].dump();
    ASSERT_FALSE(tid.empty()) << t.dump();
    r = w.call("l2tp clear tunnel", {{"id", tid}});
    ASSERT_TRUE(r["ok"].get<bool>()) << r.dump();
    w.loop.advance(2s);
    EXPECT_FALSE(c.downs.empty());
    EXPECT_EQ(w.lns->session_count(), 0u);
    // Held for the §5.7 period, then released.
    w.loop.advance(40s);
    EXPECT_EQ(w.lns->tunnel_count(), 0u);
    EXPECT_TRUE(w.lns->quiescent());
}

namespace {
/// What the LNS sent to `to`, in order ("StopCCN", "SCCRP", "CDN"…).
std::vector<std::string> sent_to(const World& w, PeerId to) {
    const std::string prefix = "LNS>" + lnsd::peer_text(to) + " ";
    std::vector<std::string> out;
    for (const auto& x : w.wire)
        if (x.rfind(prefix, 0) == 0) out.push_back(x.substr(prefix.size()));
    return out;
}
std::size_t count_of(const std::vector<std::string>& v, const char* what) {
    return static_cast<std::size_t>(std::count(v.begin(), v.end(), std::string(what)));
}
lnsd::OutgoingResult dial(World& w, const char* endpoint) {
    radius::client::DialOutDefinition def;
    def.dial_out_number = "5551234";
    radius::client::TunnelDefinition t;
    t.tag = 1, t.server_endpoint = endpoint;
    def.tunnels = {t};
    OutgoingCall oc;
    oc.called_number = "5551234";
    std::optional<lnsd::OutgoingResult> r;
    w.lns->place_outgoing_call(lnsd::tunnel_endpoints(def), oc, [&](const lnsd::OutgoingResult& x) { r = x; });
    w.loop.advance(5s);
    EXPECT_TRUE(r.has_value());
    return r.value_or(lnsd::OutgoingResult{});
}
}  // namespace

// Destination level, drain (JunosE "Implementing L2TP": a change to a destination affects its
// tunnels and sessions): the old tunnel and session stay; no new tunnel (StopCCN 4, no SCCRP), no
// new session on the old tunnel (CDN 3), no outgoing call through it; `no drain` accepts again.
// req: L2TP.levels
TEST(Lns, DrainedDestinationKeepsWhatItHasAndAcceptsNothingNew) {
    World w;
    auto& a = w.add_lac(kLac1);
    a.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(1s);
    ASSERT_EQ(a.connects, 1);
    auto r = w.call("l2tp drain destination", {{"id", "10.0.0.2"}});
    ASSERT_TRUE(r["ok"].get<bool>()) << r.dump();
    EXPECT_EQ(r["result"]["tunnels-closed"], 0);
    EXPECT_EQ(w.call("show l2tp destination")["result"][0]["state"], "drain");
    auto& b = w.add_lac(kLac1b);
    b.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(3s);
    EXPECT_EQ(b.connects, 0);
    ASSERT_FALSE(b.downs.empty());
    EXPECT_EQ(b.downs.at(0), "StopCCN result 4 error 0 (destination is drained)");
    const auto to_b = sent_to(w, kLac1b);
    ASSERT_FALSE(to_b.empty());
    EXPECT_EQ(to_b[0], "StopCCN") << "first answer to the refused SCCRQ";
    EXPECT_EQ(count_of(to_b, "SCCRP"), 0u);
    EXPECT_EQ(w.call("show l2tp destination", {{"id", "10.0.0.2"}})["result"][0]["counters"]["tunnels-refused"], 1);
    EXPECT_TRUE(a.downs.empty()) << "the old tunnel stays";
    EXPECT_EQ(w.lns->session_count(), 1u) << "the old session stays";
    // No new session on the old tunnel: CDN 3 naming the level.
    a.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(1s);
    EXPECT_EQ(a.connects, 1);
    ASSERT_EQ(a.failures.size(), 1u);
    EXPECT_EQ(a.failures[0].result, 3u);
    EXPECT_EQ(a.failures[0].message, "destination is drained");
    EXPECT_EQ(w.call("show l2tp")["result"]["system"]["counters"]["calls-refused-admin"], 1);
    // No outgoing call through it either.
    EXPECT_FALSE(dial(w, "10.0.0.2").ok);
    ASSERT_TRUE(w.call("l2tp no drain destination", {{"id", "10.0.0.2"}})["ok"].get<bool>());
    EXPECT_EQ(w.call("show l2tp destination", {{"id", "10.0.0.2"}})["result"][0]["state"], "enabled");
    a.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(1s);
    EXPECT_EQ(a.connects, 2) << "new sessions on the old tunnel again";
    auto& c = w.add_lac(lnsd::peer_id(ip("10.0.0.2"), 1703));
    c.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(1s);
    EXPECT_EQ(c.connects, 1) << "new tunnels again";
}

// Destination level, shutdown: its tunnels and sessions are closed (StopCCN 1), other
// destinations untouched, no new tunnel from it (StopCCN 4, no SCCRP) until `no shutdown`.
// req: L2TP.levels
TEST(Lns, ShutDownDestinationClosesItsTunnelsAndRefusesNewOnes) {
    World w;
    auto& a = w.add_lac(kLac1);
    auto& other = w.add_lac(kLac2);
    a.engine->place_incoming_call(kLnsPeer, icall());
    other.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(1s);
    ASSERT_EQ(a.connects + other.connects, 2);
    auto r = w.call("l2tp shutdown destination", {{"id", "10.0.0.2"}});
    ASSERT_TRUE(r["ok"].get<bool>()) << r.dump();
    EXPECT_EQ(r["result"]["tunnels-closed"], 1);
    w.loop.advance(1s);
    ASSERT_EQ(a.downs.size(), 1u);
    EXPECT_EQ(a.downs[0], "StopCCN result 1 error 0 (destination shut down by administrator)");
    EXPECT_TRUE(other.downs.empty()) << "another destination is not affected";
    EXPECT_EQ(w.call("show l2tp destination", {{"id", "10.0.0.2"}})["result"][0]["sessions"], 0);
    EXPECT_EQ(w.call("show l2tp")["result"]["system"]["destinations-shutdown"], 1);
    auto& b = w.add_lac(kLac1b);
    b.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(3s);
    EXPECT_EQ(b.connects, 0);
    ASSERT_FALSE(b.downs.empty());
    EXPECT_EQ(b.downs.at(0), "StopCCN result 4 error 0 (destination is shut down)");
    EXPECT_EQ(count_of(sent_to(w, kLac1b), "SCCRP"), 0u);
    EXPECT_EQ(w.call("show l2tp")["result"]["system"]["counters"]["tunnels-refused"], 1);
    ASSERT_TRUE(w.call("l2tp no shutdown destination", {{"id", "10.0.0.2"}})["ok"].get<bool>());
    auto& c = w.add_lac(lnsd::peer_id(ip("10.0.0.2"), 1703));
    c.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(1s);
    EXPECT_EQ(c.connects, 1);
}

// System level: close tears every tunnel down and accepts new ones; drain keeps them and refuses
// new tunnels (StopCCN 2 / Error 7 "try another", §4.4.2), sessions (CDN 3) and outgoing calls;
// shutdown closes every tunnel with StopCCN 6 "requester is being shut down" and refuses the same
// until `no shutdown`.
// req: L2TP.levels
TEST(Lns, SystemCloseDrainAndShutdownAffectEveryDestination) {
    World w;
    auto& a = w.add_lac(kLac1);
    auto& b = w.add_lac(kLac2);
    a.engine->place_incoming_call(kLnsPeer, icall());
    b.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(1s);
    ASSERT_EQ(a.connects + b.connects, 2);
    EXPECT_EQ(w.call("show l2tp")["result"]["system"]["state"], "enabled");
    // close
    auto r = w.call("l2tp clear system");
    ASSERT_TRUE(r["ok"].get<bool>()) << r.dump();
    EXPECT_EQ(r["result"]["tunnels-cleared"], 2);
    w.loop.advance(1s);
    ASSERT_EQ(a.downs.size(), 1u);
    ASSERT_EQ(b.downs.size(), 1u);
    EXPECT_EQ(a.downs[0], "StopCCN result 1 error 0 (system cleared by administrator)");
    EXPECT_EQ(w.lns->session_count(), 0u);
    a.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(1s);
    EXPECT_EQ(a.connects, 2) << "close accepts new tunnels";
    // drain
    r = w.call("l2tp drain");
    ASSERT_TRUE(r["ok"].get<bool>()) << r.dump();
    EXPECT_EQ(r["result"]["tunnels-closed"], 0);
    EXPECT_EQ(w.call("show l2tp")["result"]["system"]["state"], "drain");
    a.engine->place_incoming_call(kLnsPeer, icall());
    b.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(3s);
    EXPECT_EQ(a.downs.size(), 1u) << "drain keeps the tunnel";
    ASSERT_EQ(a.failures.size(), 2u);  // the first: its session ended with the cleared tunnel
    EXPECT_EQ(a.failures[1].result, 3u);
    EXPECT_EQ(a.failures[1].message, "L2TP is drained");
    ASSERT_EQ(b.downs.size(), 2u);
    EXPECT_EQ(b.downs[1], "StopCCN result 2 error 7 (L2TP is drained)");
    EXPECT_EQ(count_of(sent_to(w, kLac2), "SCCRP"), 1u) << "only the first tunnel's";
    EXPECT_FALSE(dial(w, "10.0.0.3").ok);
    // shutdown
    r = w.call("l2tp shutdown");
    ASSERT_TRUE(r["ok"].get<bool>()) << r.dump();
    EXPECT_EQ(r["result"]["tunnels-closed"], 1);
    w.loop.advance(1s);
    ASSERT_EQ(a.downs.size(), 2u);
    EXPECT_EQ(a.downs[1], "StopCCN result 6 error 0 (L2TP shut down by administrator)");
    EXPECT_EQ(w.call("show l2tp")["result"]["system"]["state"], "shutdown");
    auto& c = w.add_lac(lnsd::peer_id(ip("10.0.0.4"), 1701));
    c.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(3s);
    ASSERT_EQ(c.downs.size(), 1u);
    EXPECT_EQ(c.downs[0], "StopCCN result 2 error 7 (L2TP is shut down)");
    EXPECT_EQ(count_of(sent_to(w, lnsd::peer_id(ip("10.0.0.4"), 1701)), "SCCRP"), 0u);
    auto o = dial(w, "10.0.0.3");
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.reason, "L2TP is not enabled (system level)");
    ASSERT_TRUE(w.call("l2tp no shutdown")["ok"].get<bool>());
    c.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(1s);
    EXPECT_EQ(c.connects, 1) << "enabled again";
}

// Tunnel level: shutdown clears the tunnel's sessions (CDN 3) and refuses new ones on it (CDN 3)
// while the tunnel itself and other tunnels stay; drain keeps its sessions; `no shutdown` accepts
// again; close (clear) ends the tunnel.
// req: L2TP.levels
TEST(Lns, TunnelShutdownClearsItsSessionsAndRefusesNewOnesTunnelStays) {
    World w;
    auto& a = w.add_lac(kLac1);
    auto& b = w.add_lac(kLac2);
    a.engine->place_incoming_call(kLnsPeer, icall());
    a.engine->place_incoming_call(kLnsPeer, icall());
    b.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(1s);
    ASSERT_EQ(a.connects + b.connects, 3);
    int ta = 0;
    const auto shown = w.call("show l2tp tunnel")["result"];
    for (const auto& x : shown)
        if (x["destination"] == "10.0.0.2") ta = x["id"].get<int>();
    ASSERT_NE(ta, 0) << shown.dump();
    auto r = w.call("l2tp shutdown tunnel", {{"id", std::to_string(ta)}});
    ASSERT_TRUE(r["ok"].get<bool>()) << r.dump();
    EXPECT_EQ(r["result"]["sessions-cleared"], 2);
    w.loop.advance(1s);
    ASSERT_EQ(a.failures.size(), 2u);
    EXPECT_EQ(a.failures[0].result, 3u);
    EXPECT_EQ(a.failures[0].message, "tunnel shut down by administrator");
    EXPECT_TRUE(a.downs.empty()) << "the tunnel stays";
    EXPECT_EQ(w.lns->session_count(), 1u) << "the other tunnel's session stays";
    auto t = w.call("show l2tp tunnel", {{"id", std::to_string(ta)}})["result"][0];
    EXPECT_EQ(t["state"], "established");
    EXPECT_EQ(t["admin-state"], "shutdown");
    a.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(1s);
    ASSERT_EQ(a.failures.size(), 3u);
    EXPECT_EQ(a.failures[2].message, "tunnel is shut down");
    b.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(1s);
    EXPECT_EQ(b.connects, 2) << "another tunnel accepts";
    // drain after no shutdown: new ones refused, existing kept
    ASSERT_TRUE(w.call("l2tp no shutdown tunnel", {{"id", std::to_string(ta)}})["ok"].get<bool>());
    a.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(1s);
    EXPECT_EQ(a.connects, 3);
    r = w.call("l2tp drain tunnel", {{"id", std::to_string(ta)}});
    EXPECT_EQ(r["result"]["sessions-cleared"], 0);
    a.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(1s);
    ASSERT_EQ(a.failures.size(), 4u);
    EXPECT_EQ(a.failures[3].message, "tunnel is drained");
    EXPECT_EQ(w.lns->session_count(), 3u);
    // errors name what is wrong
    EXPECT_FALSE(w.call("l2tp shutdown tunnel", {{"id", "0"}})["ok"].get<bool>());
    EXPECT_FALSE(w.call("l2tp shutdown tunnel", {{"id", "65000"}})["ok"].get<bool>());
    EXPECT_FALSE(w.call("l2tp shutdown tunnel")["ok"].get<bool>());
    // close
    EXPECT_EQ(w.call("l2tp clear tunnel", {{"id", std::to_string(ta)}})["result"]["tunnels-cleared"], 1);
    w.loop.advance(1s);
    EXPECT_EQ(a.downs.size(), 1u);
}

// Session level: close and shutdown alike end the one session with CDN 3 and an Error Message
// naming which; its tunnel and the tunnel's other sessions stay.
// req: L2TP.levels
TEST(Lns, SessionCloseAndShutdownEndOneSessionWithCdn3) {
    World w;
    auto& a = w.add_lac(kLac1);
    a.engine->place_incoming_call(kLnsPeer, icall());
    a.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(1s);
    ASSERT_EQ(a.connects, 2);
    auto ss = w.call("show l2tp session")["result"];
    ASSERT_EQ(ss.size(), 2u);
    auto r = w.call("l2tp shutdown session", {{"id", ss[0]["id"]}});
    ASSERT_TRUE(r["ok"].get<bool>()) << r.dump();
    r = w.call("l2tp clear session", {{"id", ss[1]["id"]}});
    ASSERT_TRUE(r["ok"].get<bool>()) << r.dump();
    w.loop.advance(1s);
    ASSERT_EQ(a.failures.size(), 2u);
    EXPECT_EQ(a.failures[0].result, 3u);
    std::set<std::string> messages{a.failures[0].message.value_or(""), a.failures[1].message.value_or("")};
    EXPECT_EQ(messages, (std::set<std::string>{"session shut down by administrator", "session cleared by administrator"}));
    EXPECT_TRUE(a.downs.empty());
    EXPECT_EQ(w.lns->tunnel_count(), 1u);
    EXPECT_FALSE(w.call("l2tp shutdown session", {{"id", ss[0]["id"]}})["ok"].get<bool>()) << "gone";
    EXPECT_FALSE(w.call("l2tp shutdown session", {{"id", "12"}})["ok"].get<bool>()) << "not <tunnel>/<session>";
    a.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(1s);
    EXPECT_EQ(a.connects, 3) << "a session is not shut down for good: new ones come";
}

TEST(Lns, UnlistedPeerRefusedWhenNotAccepted) {
    lnsd::LnsdConfig cfg = open_config();
    cfg.accept_unknown_peers = false;
    cfg.peers.push_back({ip("10.0.0.2"), "", false});
    World w(cfg);
    auto& a = w.add_lac(kLac1);
    auto& x = w.add_lac(kLac2);
    a.engine->place_incoming_call(kLnsPeer, icall());
    x.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(3s);
    EXPECT_EQ(a.connects, 1);
    EXPECT_EQ(x.connects, 0);
    EXPECT_FALSE(x.downs.empty());
}

TEST(Lns, OutgoingCallFailsOverAndMarksEndpointDead) {
    lnsd::LnsdConfig cfg = open_config();
    cfg.max_retransmits = 2;
    cfg.dead_time = 5min;
    World w(cfg);
    w.add_lac(kLac1);
    auto& second = w.add_lac(kLac2);
    w.drop = [](PeerId p, const std::string&) { return p == kLac1; };  // 10.0.0.2 never answers
    radius::client::DialOutDefinition def;
    def.dial_out_number = "5551234";
    radius::client::TunnelDefinition t1, t2;
    t1.tag = 1, t1.server_endpoint = "10.0.0.2", t1.preference = 1;
    t2.tag = 2, t2.server_endpoint = "10.0.0.3", t2.preference = 2;
    def.tunnels = {t1, t2};
    std::vector<lnsd::OutgoingResult> results;
    OutgoingCall oc;
    oc.called_number = "5551234";
    w.lns->place_outgoing_call(lnsd::tunnel_endpoints(def), oc, [&](const lnsd::OutgoingResult& r) { results.push_back(r); });
    w.loop.advance(2min);
    ASSERT_EQ(results.size(), 1u);
    EXPECT_TRUE(results[0].ok) << results[0].reason;
    EXPECT_EQ(results[0].endpoint, "10.0.0.3");
    EXPECT_EQ(second.engine->session_count(), 1u);
    EXPECT_TRUE(w.lns->selector().is_dead("10.0.0.2"));
    // The next call reuses the open tunnel to 10.0.0.3 at once (10.0.0.2 is dead anyway).
    const auto before = w.wire.size();
    w.lns->place_outgoing_call(lnsd::tunnel_endpoints(def), oc, [&](const lnsd::OutgoingResult& r) { results.push_back(r); });
    w.loop.advance(1s);
    ASSERT_EQ(results.size(), 2u);
    EXPECT_TRUE(results[1].ok);
    EXPECT_EQ(results[1].endpoint, "10.0.0.3");
    for (std::size_t i = before; i < w.wire.size(); ++i) EXPECT_EQ(w.wire[i].find("SCCRQ"), std::string::npos);
    const auto tunnels = w.call("show l2tp tunnel", {{"detail", true}})["result"];
    ASSERT_EQ(tunnels.size(), 1u);
    // Both calls counted on the tunnel that carries them, though the first was placed before any
    // tunnel to 10.0.0.3 existed (it waited for one: it was shown with 0 sessions).
    EXPECT_EQ(tunnels[0]["sessions"], 2u) << tunnels.dump();
    EXPECT_EQ(tunnels[0]["sessions-total"], 2u) << tunnels.dump();
    auto s = w.call("show l2tp session")["result"];
    ASSERT_EQ(s.size(), 2u);
    EXPECT_EQ(s[0]["direction"], "outgoing");
    EXPECT_EQ(s[0]["destination"], "10.0.0.3");
    const auto dest = w.call("show l2tp destination", {{"id", "10.0.0.3"}})["result"];
    ASSERT_EQ(dest.size(), 1u);
    EXPECT_EQ(dest[0]["sessions"], 2u) << dest.dump();
}

TEST(Lns, OutgoingCallWithNoUsableEndpointFails) {
    World w;
    radius::client::DialOutDefinition def;
    radius::client::TunnelDefinition t1;
    t1.server_endpoint = "not-an-address";
    def.tunnels = {t1};
    std::vector<lnsd::OutgoingResult> results;
    w.lns->place_outgoing_call(lnsd::tunnel_endpoints(def), {}, [&](const lnsd::OutgoingResult& r) { results.push_back(r); });
    EXPECT_TRUE(results.empty());  // never inside the call
    w.loop.advance(1s);
    ASSERT_EQ(results.size(), 1u);
    EXPECT_FALSE(results[0].ok);
    EXPECT_EQ(results[0].reason, "no usable tunnel endpoint");
}

TEST(Lns, OutgoingCallRefusedByLacReportsCdn) {
    World w;
    auto& lac = w.add_lac(kLac1);
    radius::client::DialOutDefinition def;
    radius::client::TunnelDefinition t1;
    t1.server_endpoint = "10.0.0.2:1701";
    t1.password = "pw";  // Tunnel-Password: the LAC has no secret -> authentication fails
    def.tunnels = {t1};
    std::vector<lnsd::OutgoingResult> results;
    w.lns->place_outgoing_call(lnsd::tunnel_endpoints(def), {}, [&](const lnsd::OutgoingResult& r) { results.push_back(r); });
    w.loop.advance(1min);
    ASSERT_EQ(results.size(), 1u);
    EXPECT_FALSE(results[0].ok);
    EXPECT_EQ(lac.connects, 0);
    EXPECT_TRUE(w.lns->selector().is_dead("10.0.0.2:1701"));
}

TEST(Lns, CloseAllSendsStopCcnAndBecomesQuiescent) {
    World w;
    auto& a = w.add_lac(kLac1);
    auto& c = w.add_lac(kLac2);
    a.engine->place_incoming_call(kLnsPeer, icall());
    c.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(1s);
    EXPECT_FALSE(w.lns->quiescent());
    EXPECT_EQ(w.lns->close_all(), 2u);
    std::size_t stop = 0;
    for (auto& x : w.wire) stop += x.find("StopCCN") != std::string::npos;
    EXPECT_EQ(stop, 2u);
    w.loop.advance(1s);
    EXPECT_TRUE(w.lns->quiescent());
    EXPECT_FALSE(a.downs.empty());
    EXPECT_FALSE(c.downs.empty());
}

TEST(Lns, MalformedDatagramsCountedNeverThrow) {
    World w;
    const std::vector<std::uint8_t> junk = {0xc8, 0x02, 0x00};
    w.lns->receive(kLac1, junk);
    w.lns->receive(kLac1, {});
    auto sum = w.call("show l2tp")["result"]["system"]["counters"];
    EXPECT_EQ(sum["datagrams-in"], 2);
    EXPECT_EQ(sum["malformed"], 2);
    EXPECT_EQ(w.lns->tunnel_count(), 0u);
}

const char* const kGolden =
    R"(+0.010000s l2tp.tunnel 55719: idle -> wait-ctl-conn on recv-SCCRQ-acceptable (cause=SCCRQ from lac)
+0.030000s l2tp.tunnel 55719: wait-ctl-conn -> established on recv-SCCCN-acceptable (cause=SCCCN)
+0.030000s l2tp.session 55719/49506: idle -> wait-connect on recv-ICRQ (cause=ICRQ)
+0.050000s l2tp.session 55719/49506: wait-connect -> established on recv-ICCN (cause=ICCN)
+1.000000s l2tp.destination 10.0.0.2: enabled -> shutdown on shutdown (cause=administrator)
+1.000000s l2tp.tunnel 55719: established -> idle on close (cause=local close (StopCCN result 1))
+1.000000s l2tp.session 55719/49506: established -> idle on tunnel-down (cause=local close (StopCCN result 1))
+1.000000s l2tp.session 55719/49506: call-ended (cause=local close (StopCCN result 1)) {"by":"local-stopccn","result":1}
)";

TEST(Lns, GoldenEventLogOfAnIncomingCallAndDestinationShutdown) {
    World w;
    core::EventRecorder lns_only(w.bus, {"l2tp", ""});
    auto& a = w.add_lac(kLac1);
    // Only the LNS side: the LAC engines publish on the same bus, so filter on the Lns' tunnel.
    a.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(1s);
    const auto t = w.call("show l2tp tunnel")["result"][0]["id"].get<int>();
    EXPECT_EQ(w.lns->set_destination_state(ip("10.0.0.2"), lnsd::AdminState::shutdown), 1u);
    w.loop.advance(1s);
    std::string log;
    for (const auto& e : lns_only.events()) {
        const bool mine = e.entity == "l2tp.destination" || e.id == std::to_string(t) ||
                          e.id.rfind(std::to_string(t) + "/", 0) == 0;
        if (mine) log += core::format_golden(e) + "\n";
    }
    // IDs are random but reproducible: the engines are seeded.
    EXPECT_EQ(w.call("show l2tp destination")["result"][0]["state"], "shutdown");
    EXPECT_EQ(log, kGolden) << log;
}

// req: L2TP.tunnel-auth
TEST(Lns, TunnelPasswordAuthenticatesOutgoingTunnelAlongsideConfiguredSecrets) {
    // One engine, three secrets at once: the configured one for 10.0.0.2 (incoming), the call's
    // Tunnel-Password for 10.0.0.3 (outgoing), none for an unlisted peer; `authenticated` per tunnel.
    lnsd::LnsdConfig cfg = open_config();
    cfg.peers.push_back({ip("10.0.0.2"), "s3cret", true});
    World w(cfg);
    auto& in = w.add_lac(kLac1, "s3cret", true);
    auto& out = w.add_lac(kLac2, "tunnel-pw");
    auto& open = w.add_lac(lnsd::peer_id(ip("10.0.0.4"), 1701));
    in.engine->place_incoming_call(kLnsPeer, icall());
    open.engine->place_incoming_call(kLnsPeer, icall());
    radius::client::DialOutDefinition def;
    radius::client::TunnelDefinition t1;
    t1.server_endpoint = "10.0.0.3";
    t1.password = "tunnel-pw";
    def.tunnels = {t1};
    std::vector<lnsd::OutgoingResult> results;
    OutgoingCall oc;
    oc.called_number = "5551234";
    w.lns->place_outgoing_call(lnsd::tunnel_endpoints(def), oc, [&](const lnsd::OutgoingResult& r) { results.push_back(r); });
    w.loop.advance(5s);
    ASSERT_EQ(results.size(), 1u);
    EXPECT_TRUE(results[0].ok) << results[0].reason;
    EXPECT_EQ(in.connects, 1);
    EXPECT_EQ(open.connects, 1);
    EXPECT_TRUE(out.downs.empty()) << "the LAC at 10.0.0.3 accepted the Tunnel-Password's Challenge Response";
    EXPECT_EQ(w.lns->session_count(), 3u);
    auto t = w.call("show l2tp tunnel", {{"detail", true}})["result"];
    ASSERT_EQ(t.size(), 3u) << t.dump();
    std::map<std::string, std::pair<bool, bool>> auth;
    for (auto& row : t) auth[row["destination"]] = {row["authenticated"], row["hidden-avps"]};
    EXPECT_EQ(auth["10.0.0.2"], std::make_pair(true, true)) << t.dump();
    EXPECT_EQ(auth["10.0.0.3"], std::make_pair(true, false)) << t.dump();
    EXPECT_EQ(auth["10.0.0.4"], std::make_pair(false, false)) << t.dump();
    EXPECT_EQ(w.call("show l2tp")["result"]["system"]["counters"]["auth-failures"], 0);
}

TEST(Lns, WeightedSelectionPicksTheEndpointWithFewestSessions) {
    // Weighted mode counts each endpoint's sessions (kept per peer as sessions come and go).
    lnsd::LnsdConfig cfg = open_config();
    cfg.selection_mode = lnsd::SelectionMode::weighted;
    World w(cfg);
    auto& busy = w.add_lac(kLac1);
    auto& idle = w.add_lac(kLac2);
    busy.engine->place_incoming_call(kLnsPeer, icall());
    busy.engine->place_incoming_call(kLnsPeer, icall());
    idle.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(2s);
    ASSERT_EQ(w.lns->session_count(), 3u);
    radius::client::DialOutDefinition def;
    radius::client::TunnelDefinition t1, t2;
    // An assignment id the open (incoming) tunnels do not have: no reuse, both endpoints compete.
    t1.tag = 1, t1.server_endpoint = "10.0.0.2", t1.assignment_id = "a";
    t2.tag = 2, t2.server_endpoint = "10.0.0.3", t2.assignment_id = "a";
    def.tunnels = {t1, t2};
    std::vector<lnsd::OutgoingResult> results;
    OutgoingCall oc;
    oc.called_number = "5551234";
    auto place = [&] {
        w.lns->place_outgoing_call(lnsd::tunnel_endpoints(def), oc, [&](const lnsd::OutgoingResult& r) { results.push_back(r); });
        w.loop.advance(2s);
    };
    place();
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].endpoint, "10.0.0.3") << "1 session there, 2 at 10.0.0.2";
    // 10.0.0.3 now has 2, 10.0.0.2 has 2; clear both of 10.0.0.3's: the next call goes there again.
    const auto before = w.call("show l2tp session")["result"];
    int cleared = 0;
    for (const auto& row : before)
        if (row["destination"] == "10.0.0.3")
            cleared += w.call("l2tp clear session", {{"id", row["id"]}})["ok"].get<bool>();
    ASSERT_EQ(cleared, 2) << before.dump();
    w.loop.advance(1s);
    def.tunnels[0].assignment_id = def.tunnels[1].assignment_id = "b";  // again no reuse
    place();
    ASSERT_EQ(results.size(), 2u);
    EXPECT_EQ(results[1].endpoint, "10.0.0.3") << "0 sessions there after the clear, 2 at 10.0.0.2 "
                                                << w.call("show l2tp session")["result"].dump();
}

// ---- bounded resources under a flood (docs/reliability.md) -------------------------------------

namespace {
void flood_sccrq(World& w, core::Ipv4Address from, int n) {
    for (int i = 1; i <= n; ++i) {
        l2tp::SccrqParams p;
        p.assigned_tunnel_id = static_cast<std::uint16_t>(i);
        p.host_name = "flood";
        w.lns->receive(lnsd::peer_id(from, static_cast<std::uint16_t>(i)), l2tp::make_sccrq(p).bytes());
    }
}
}  // namespace

// req: L2TP.flood-limits
TEST(LnsLimits, SccrqFloodIsCountedAndALegitimateLacStillConnects) {
    World w;
    flood_sccrq(w, ip("10.0.0.9"), 1000);
    EXPECT_EQ(w.lns->tunnel_count(), 16u) << "tunnels-setup-per-peer";
    auto& lac = w.add_lac(kLac1);
    lac.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(1s);
    EXPECT_EQ(lac.connects, 1) << "the legitimate call";
    auto sum = w.call("show l2tp");
    ASSERT_TRUE(sum["ok"].get<bool>()) << sum.dump();
    const auto& c = sum["result"]["system"]["counters"];
    const auto& d = c["sccrq-dropped"];
    int dropped = 0;
    for (const auto& [why, n] : d.items()) dropped += n.get<int>();
    EXPECT_EQ(dropped, 984) << d.dump();
    EXPECT_GT(d["tunnels-per-peer"].get<int>(), 0) << d.dump();
    EXPECT_GT(d["rate"].get<int>(), 0);
    EXPECT_EQ(sum["result"]["system"]["limits-usage"]["tunnels"], 17);
    const auto log = w.rec.text();
    std::size_t accepted = 0;
    for (auto at = log.find("SCCRQ from flood"); at != std::string::npos; at = log.find("SCCRQ from flood", at + 1))
        ++accepted;
    EXPECT_EQ(accepted, 16u) << "an event per admitted tunnel, none per dropped SCCRQ";
}

// req: L2TP.flood-limits
TEST(LnsLimits, DestinationRecordsOfGoneAddressesAreBounded) {
    lnsd::LnsdConfig cfg;
    cfg.accept_unknown_peers = false;
    cfg.destinations_kept = 2;
    World w(cfg);
    for (int i = 0; i < 5; ++i) flood_sccrq(w, core::Ipv4Address{0x0A000100u + static_cast<std::uint32_t>(i)}, 1);
    EXPECT_EQ(w.call("show l2tp")["result"]["system"]["limits-usage"]["destination-records"], 5);
    w.loop.advance(40s);  // tunnel-hold: the refused tunnels are released
    auto sum = w.call("show l2tp")["result"]["system"];
    EXPECT_EQ(sum["limits-usage"]["destination-records"], 2);
    EXPECT_EQ(sum["counters"]["destinations-forgotten"], 3);
    EXPECT_EQ(sum["tunnels"], 0);
}

TEST(Lns, ListingsPageAfterAKeyStableWhileSessionsGo) {
    // `limit` / `after` (core::ListPage): a page of the listing in key order, the whole count and
    // the key to resume after. A session closed between two pages neither repeats nor hides one
    // that stays (resuming after a key, not at an offset).
    World w;
    auto& a = w.add_lac(kLac1);
    auto& c = w.add_lac(kLac2);
    for (int i = 0; i < 4; ++i) a.engine->place_incoming_call(kLnsPeer, icall());
    for (int i = 0; i < 3; ++i) c.engine->place_incoming_call(kLnsPeer, icall());
    w.loop.advance(2s);
    ASSERT_EQ(w.lns->session_count(), 7u);
    const auto all = w.call("show l2tp session")["result"];
    ASSERT_TRUE(all.is_array());
    ASSERT_EQ(all.size(), 7u);

    const auto p1 = w.call("show l2tp session", {{"limit", 3}})["result"];
    ASSERT_EQ(p1["items"].size(), 3u) << p1.dump();
    EXPECT_EQ(p1["total"], 7);
    EXPECT_EQ(p1["next"], all[2]["id"]);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(p1["items"][i]["id"], all[i]["id"]);
    // The first item of the next page goes away, and one already listed: the next page starts
    // at the first one that stays after the key.
    ASSERT_TRUE(w.call("l2tp clear session", {{"id", all[3]["id"]}})["ok"].get<bool>());
    ASSERT_TRUE(w.call("l2tp clear session", {{"id", all[0]["id"]}})["ok"].get<bool>());
    w.loop.advance(1s);
    const auto p2 = w.call("show l2tp session", {{"limit", "3"}, {"after", p1["next"]}})["result"];
    ASSERT_EQ(p2["items"].size(), 3u) << p2.dump();
    EXPECT_EQ(p2["total"], 5);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(p2["items"][i]["id"], all[4 + i]["id"]);
    EXPECT_TRUE(p2["next"].is_null()) << "the last page";
    // `after` alone: the default page size; a key past the last item: an empty last page.
    const auto rest = w.call("show l2tp session", {{"after", all[5]["id"]}})["result"];
    ASSERT_EQ(rest["items"].size(), 1u);
    EXPECT_EQ(rest["items"][0]["id"], all[6]["id"]);
    const auto none = w.call("show l2tp session", {{"after", "65535/65535"}})["result"];
    EXPECT_TRUE(none["items"].empty());
    EXPECT_TRUE(none["next"].is_null());
    // One tunnel's sessions, paged: never another tunnel's.
    const auto t = all[6]["tunnel"].get<std::uint16_t>();
    std::vector<std::string> of_t;
    const auto listed = w.call("show l2tp session", {{"id", std::to_string(t)}})["result"];
    for (const auto& s : listed) of_t.push_back(s["id"]);
    ASSERT_GE(of_t.size(), 2u) << listed.dump();
    const auto tp = w.call("show l2tp session", {{"id", std::to_string(t)}, {"limit", 1}})["result"];
    EXPECT_EQ(tp["total"], of_t.size());
    EXPECT_EQ(tp["items"][0]["id"], of_t[0]);
    const auto tp2 = w.call("show l2tp session", {{"id", std::to_string(t)}, {"limit", 9}, {"after", "0/0"}})["result"];
    EXPECT_EQ(tp2["items"].size(), of_t.size()) << "after a key before the tunnel: from its first session";
    const auto tp3 =
        w.call("show l2tp session", {{"id", std::to_string(t)}, {"limit", 9}, {"after", of_t.back()}})["result"];
    EXPECT_TRUE(tp3["items"].empty()) << tp3.dump();

    // Tunnels and destinations page the same way.
    const auto tunnels = w.call("show l2tp tunnel", {{"limit", 1}})["result"];
    ASSERT_EQ(tunnels["items"].size(), 1u);
    EXPECT_EQ(tunnels["total"], 2);
    const auto tunnels2 = w.call("show l2tp tunnel", {{"limit", 1}, {"after", tunnels["next"]}})["result"];
    ASSERT_EQ(tunnels2["items"].size(), 1u);
    EXPECT_NE(tunnels2["items"][0]["id"], tunnels["items"][0]["id"]);
    EXPECT_TRUE(tunnels2["next"].is_null());
    const auto dests = w.call("show l2tp destination", {{"limit", 1}, {"after", "10.0.0.2"}})["result"];
    ASSERT_EQ(dests["items"].size(), 1u);
    EXPECT_EQ(dests["items"][0]["address"], "10.0.0.3");
    EXPECT_EQ(dests["total"], 2);

    // Bad values: a typed error naming the argument, nothing listed.
    for (const auto& [cmd, args, param] : std::vector<std::tuple<std::string, nlohmann::json, std::string>>{
             {"show l2tp session", {{"limit", 0}}, "limit"},
             {"show l2tp session", {{"limit", 10001}}, "limit"},
             {"show l2tp session", {{"limit", "ten"}}, "limit"},
             {"show l2tp session", {{"limit", -1}}, "limit"},
             {"show l2tp session", {{"after", "7"}}, "after"},
             {"show l2tp session", {{"after", 7}}, "after"},
             {"show l2tp tunnel", {{"after", "70000"}}, "after"},
             {"show l2tp destination", {{"after", "10.0.0"}}, "after"}}) {
        const auto r = w.call(cmd, args);
        EXPECT_FALSE(r["ok"].get<bool>()) << cmd << " " << args.dump();
        EXPECT_EQ(r.value("param", ""), param) << r.dump();
        EXPECT_EQ(r["error"].get<std::string>().rfind(param + ": ", 0), 0u) << r.dump();
    }
}

TEST(Lns, ShowMemoryReportsTheHeapAndTheResidentSet) {
    World w;
    const auto before = w.call("show memory")["result"];
    ASSERT_TRUE(before.contains("heap-in-use")) << before.dump();
    EXPECT_GT(before["rss-kib"].get<std::uint64_t>(), 0u);
    EXPECT_GE(before["rss-peak-kib"].get<std::uint64_t>(), before["rss-kib"].get<std::uint64_t>());
    // 4 MiB held by this test shows in the heap lnsd's process reports.
    std::vector<char> held(4 << 20, 1);
    const auto after = w.call("show memory")["result"];
    EXPECT_GE(after["heap-in-use"].get<std::uint64_t>(), before["heap-in-use"].get<std::uint64_t>() + (4u << 20))
        << before.dump() << " " << after.dump() << static_cast<int>(held[17]);
}
