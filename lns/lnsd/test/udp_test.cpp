// lnsd's Lns core behind its UDP adapter, a LAC-role engine behind another, over real loopback
// sockets in one Asio loop (one TimerQueue, AsioTimerDriver, SystemClock).
#include "dl/lnsd/udp.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

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

// req: DP.batching
TEST(LnsUdp, SeveralDatagramsPerWakeupWithRecvmmsgBatches) {
    boost::asio::io_context io;
    const auto lo = *core::Ipv4Address::parse("127.0.0.1");
    std::vector<std::pair<lnsd::PeerId, std::vector<std::uint8_t>>> got;
    std::vector<std::size_t> at_batch_end;
    lnsd::UdpEndpoint ep(
        io, lo, 0, [&](lnsd::PeerId p, std::span<const std::uint8_t> b) { got.emplace_back(p, std::vector(b.begin(), b.end())); },
        /*batch=*/8, /*budget=*/16);
    ep.set_batch_end([&] { at_batch_end.push_back(got.size()); });
    ASSERT_GE(ep.native_handle(), 0);

    // 20 datagrams queued before the loop runs: one wakeup takes 16 (two recvmmsg of 8), the next 4.
    const int tx = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(tx, 0);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    from.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(tx, reinterpret_cast<sockaddr*>(&from), sizeof from), 0);
    socklen_t fl = sizeof from;
    ASSERT_EQ(::getsockname(tx, reinterpret_cast<sockaddr*>(&from), &fl), 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(ep.local_port());
    for (std::uint8_t i = 0; i < 20; ++i) {
        const std::uint8_t d[3] = {i, i, i};
        ASSERT_EQ(::sendto(tx, d, sizeof d, 0, reinterpret_cast<sockaddr*>(&to), sizeof to), 3);
    }
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (got.size() < 20 && std::chrono::steady_clock::now() < deadline) io.run_one_for(100ms);
    ASSERT_EQ(got.size(), 20u);
    for (std::uint8_t i = 0; i < 20; ++i) {
        EXPECT_EQ(got[i].second, (std::vector<std::uint8_t>{i, i, i})) << "in order, intact: " << int(i);
        EXPECT_EQ(got[i].first, lnsd::peer_id(lo, ntohs(from.sin_port)));
    }
    const auto& c = ep.counters();
    EXPECT_EQ(c.datagrams, 20u);
    EXPECT_EQ(c.batches, 3u) << "8 + 8 + 4";
    EXPECT_EQ(c.wakeups, 2u) << "16 (the budget), then 4";
    EXPECT_EQ(at_batch_end, (std::vector<std::size_t>{8, 16, 20}));
    EXPECT_EQ(c.errors, 0u);
    ::close(tx);
    ep.close();
    EXPECT_EQ(ep.native_handle(), -1);
}

// A second lnsd with the same configuration must not share (and steal) the first one's L2TP
// traffic: no SO_REUSEADDR, so its bind fails with a message naming the address and port.
TEST(LnsUdp, SecondEndpointOnTheSameAddressAndPortIsRefused) {
    boost::asio::io_context io;
    const auto lo = *core::Ipv4Address::parse("127.0.0.1");
    lnsd::UdpEndpoint first(io, lo, 0, [](lnsd::PeerId, std::span<const std::uint8_t>) {});
    const auto port = first.local_port();
    try {
        lnsd::UdpEndpoint second(io, lo, port, [](lnsd::PeerId, std::span<const std::uint8_t>) {});
        FAIL() << "the second bind to 127.0.0.1:" << port << " succeeded";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), EADDRINUSE);
        const std::string what = e.what();
        EXPECT_NE(what.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << what;
        EXPECT_NE(what.find("in use by another process"), std::string::npos) << what;
    }
}
