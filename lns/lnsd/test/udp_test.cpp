// lnsd's Lns core behind its UDP adapter, a LAC-role engine behind another, over real loopback
// sockets in one Asio loop (one TimerQueue, AsioTimerDriver, SystemClock).
#include "dl/lnsd/udp.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "dl/core/asio_driver.hpp"
#include "dl/lnsd/lns.hpp"

using namespace dl;
using namespace std::chrono_literals;

TEST(LnsUdp, IncomingCallOverLoopbackThenCloseAll) {
    boost::asio::io_context io;
    core::SystemClock clock;
    core::TimerQueue timers(clock);
    core::AsioTimerDriver driver(io, timers);
    core::TimerRegistry registry;
    core::register_well_known_timers(registry);
    l2tp::engine::register_l2tp_timers(registry);
    core::EventBus bus(clock);
    core::EventRecorder rec(bus, {"l2tp.tunnel", ""});
    const auto lo = *core::Ipv4Address::parse("127.0.0.1");

    std::unique_ptr<lnsd::UdpEndpoint> lns_udp, lac_udp;
    lnsd::LnsdConfig cfg;
    cfg.local_address = lo;
    cfg.peers.push_back({lo, "s3cret", true});
    lnsd::Lns lns(timers, registry, bus, cfg, [&](lnsd::PeerId p, std::vector<std::uint8_t> b) { lns_udp->send(p, b); });
    lns_udp = std::make_unique<lnsd::UdpEndpoint>(io, lo, 0, [&](lnsd::PeerId p, std::span<const std::uint8_t> b) {
        lns.receive(p, b);
    });
    l2tp::engine::EngineConfig lc;
    lc.secret = "s3cret";
    lc.hide_avps = true;
    lc.host_name = "lac";
    int connects = 0;
    std::vector<std::string> downs;
    l2tp::engine::EngineCallbacks cb;
    cb.send = [&](lnsd::PeerId p, std::vector<std::uint8_t> b) { lac_udp->send(p, b); };
    cb.connected = [&](l2tp::engine::SessionKey, const l2tp::engine::ConnectInfo&) { ++connects; };
    cb.tunnel_down = [&](std::uint16_t, const std::string& c) { downs.push_back(c); };
    core::EventBus lac_bus(clock);
    l2tp::engine::Engine lac(timers, registry, lac_bus, lc, cb);
    lac_udp = std::make_unique<lnsd::UdpEndpoint>(io, lo, 0, [&](lnsd::PeerId p, std::span<const std::uint8_t> b) {
        lac.receive(p, b);
    });
    ASSERT_NE(lns_udp->local_port(), 0);
    const auto lns_peer = lnsd::peer_id(lo, lns_udp->local_port());
    l2tp::engine::IncomingCall ic;
    ic.calling_number = "5550001";
    lac.place_incoming_call(lns_peer, ic);
    // Bounded real-time loop: stop as soon as the session is up (or after 5 s).
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (connects == 0 && std::chrono::steady_clock::now() < deadline) io.run_one_for(100ms);
    ASSERT_EQ(connects, 1);
    EXPECT_EQ(lns.session_count(), 1u);
    EXPECT_EQ(lns.show_tunnels("", true)[0]["hidden-avps"], true);
    EXPECT_EQ(lns.close_all(), 1u);
    deadline = std::chrono::steady_clock::now() + 5s;
    while (!(lns.quiescent() && !downs.empty()) && std::chrono::steady_clock::now() < deadline) io.run_one_for(100ms);
    EXPECT_TRUE(lns.quiescent());
    EXPECT_FALSE(downs.empty());
    EXPECT_EQ(lns_udp->send_errors(), 0u);
}
