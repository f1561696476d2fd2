// lnsd's Lns core behind its UDP adapter, a LAC-role engine behind another, over real loopback
// sockets in one Asio loop (one TimerQueue, AsioTimerDriver, SystemClock).
#include "dl/lnsd/udp.hpp"
#include "dl/testing/counting_new.hpp"
#include "loopback_udp.hpp"

#include <arpa/inet.h>
#include <poll.h>
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

// set_batch_receive: each recvmmsg batch goes whole, in order, in one call (on_receive is not
// called); batch_end still follows each batch.
// req: DP.batching
TEST(LnsUdp, ABatchReceiverGetsEachRecvmmsgBatchWholeAndInOrder) {
    boost::asio::io_context io;
    const auto lo = *core::Ipv4Address::parse("127.0.0.1");
    int per_datagram = 0;
    std::vector<std::pair<lnsd::PeerId, std::vector<std::uint8_t>>> got;
    std::vector<std::size_t> batch_sizes, at_batch_end;
    lnsd::UdpEndpoint ep(
        io, lo, 0, [&](lnsd::PeerId, std::span<const std::uint8_t>) { ++per_datagram; }, /*batch=*/8, /*budget=*/16);
    ep.set_batch_receive([&](std::span<const lnsd::RxDatagram> b) {
        batch_sizes.push_back(b.size());
        for (const auto& d : b) got.emplace_back(d.peer, std::vector(d.bytes.begin(), d.bytes.end()));
    });
    ep.set_batch_end([&] { at_batch_end.push_back(got.size()); });
    const int tx = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(tx, 0);
    sockaddr_in from{};
    lnsd::test::bind_loopback(tx, from, 1 << 20);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(ep.local_port());
    // 20 datagrams of different lengths (i + 1 octets; the 14th 3000 octets: spilled, arrives whole).
    for (std::uint8_t i = 0; i < 20; ++i) {
        const std::vector<std::uint8_t> d(i == 13 ? 3000 : i + 1u, i);
        ASSERT_EQ(::sendto(tx, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
                  static_cast<ssize_t>(d.size()));
    }
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (got.size() < 20 && std::chrono::steady_clock::now() < deadline) io.run_one_for(100ms);
    ASSERT_EQ(got.size(), 20u);
    for (std::uint8_t i = 0; i < 20; ++i) {
        EXPECT_EQ(got[i].second, std::vector<std::uint8_t>(i == 13 ? 3000 : i + 1u, i)) << "in order, intact: " << int(i);
        EXPECT_EQ(got[i].first, lnsd::peer_id(lo, ntohs(from.sin_port)));
    }
    EXPECT_EQ(per_datagram, 0) << "the batch receiver replaces on_receive";
    EXPECT_EQ(batch_sizes, (std::vector<std::size_t>{8, 8, 4})) << "one call per recvmmsg batch";
    EXPECT_EQ(at_batch_end, (std::vector<std::size_t>{8, 16, 20}));
    EXPECT_EQ(ep.counters().datagrams, 20u);
    EXPECT_EQ(ep.counters().batches, 3u);
    EXPECT_EQ(ep.counters().spilled, 1u);
    ::close(tx);
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

// The receive slots are 2 KiB (dense in the cache), but an L2TP datagram may be as long as UDP
// allows (RFC 2661 §3: a control message has no length limit below UDP's): longer ones, mixed
// with short ones in the same recvmmsg batch, must arrive whole and intact, none truncated.
// req: DP.batching
TEST(LnsUdp, DatagramsLongerThanAReceiveSlotArriveWhole) {
    boost::asio::io_context io;
    const auto lo = *core::Ipv4Address::parse("127.0.0.1");
    std::vector<std::vector<std::uint8_t>> got;
    lnsd::UdpEndpoint ep(
        io, lo, 0, [&](lnsd::PeerId, std::span<const std::uint8_t> b) { got.emplace_back(b.begin(), b.end()); },
        /*batch=*/8, /*budget=*/64);
    const int tx = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(tx, 0);
    const int big = 1 << 20;
    ::setsockopt(tx, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(ep.local_port());
    // 65 507: the longest UDP payload over IPv4. 2 048 and 2 049: either side of the slot.
    const std::vector<std::size_t> lengths = {12, 3000, 2048, 2049, 100, 65507, 1500, 40000, 7};
    std::vector<std::vector<std::uint8_t>> sent;
    for (std::size_t k = 0; k < lengths.size(); ++k) {
        std::vector<std::uint8_t> d(lengths[k]);
        for (std::size_t j = 0; j < d.size(); ++j) d[j] = static_cast<std::uint8_t>(j * 7 + k);
        ASSERT_EQ(::sendto(tx, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
                  static_cast<ssize_t>(d.size()));
        sent.push_back(std::move(d));
    }
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (got.size() < sent.size() && std::chrono::steady_clock::now() < deadline) io.run_one_for(100ms);
    ASSERT_EQ(got.size(), sent.size());
    for (std::size_t k = 0; k < sent.size(); ++k) EXPECT_EQ(got[k], sent[k]) << "datagram " << k << " whole, intact";
    const auto& c = ep.counters();
    EXPECT_EQ(c.truncated, 0u);
    EXPECT_EQ(c.spilled, 4u) << "3000, 2049, 65507 and 40000 (2048 and 1500 fit their slot)";
    ::close(tx);
}

// A second lnsd with the same configuration must not share (and steal) the first one's L2TP
// traffic: no SO_REUSEADDR, so its bind fails with a message naming the address and port.
TEST(LnsUdp, SecondEndpointOnTheSameAddressAndPortIsRefused) {
    boost::asio::io_context io;
    const auto lo = *core::Ipv4Address::parse("127.0.0.1");
    lnsd::UdpEndpoint first(io, lo, 0, [](lnsd::PeerId, std::span<const std::uint8_t>) {});
    const auto port = first.local_port();
    // … also once the first has a connected per-peer socket (which needs SO_REUSEADDR on both).
    ASSERT_GE(first.connect_peer(lnsd::peer_id(lo, 9)), 0);
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

namespace {
/// A loopback UDP socket bound to an ephemeral port (a "LAC"), its PeerId, send and peek helpers.
struct LoopbackPeer {
    int fd = -1;
    sockaddr_in addr{};
    LoopbackPeer() {
        fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        lnsd::test::bind_loopback(fd, addr);
    }
    ~LoopbackPeer() { ::close(fd); }
    lnsd::PeerId id() const { return lnsd::peer_id(*core::Ipv4Address::parse("127.0.0.1"), ntohs(addr.sin_port)); }
    void send_to(std::uint16_t port, std::uint8_t tag) const {
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        to.sin_port = htons(port);
        ::sendto(fd, &tag, 1, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
    }
};
/// The first octet queued on `fd` (not consumed), or -1 if none.
int peek(int fd) {
    std::uint8_t b = 0;
    return ::recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 1 ? b : -1;
}
}  // namespace

// The data fast path's socket per LAC (UdpEndpoint::connect_peer): the kernel gives it that
// peer's datagrams (control messages included) and they reach on_receive like the shared
// socket's; other peers (a new peer's SCCRQ) still arrive on the shared socket; what it sends
// leaves from the endpoint's address and port; once released, the peer is back on the shared
// socket and nothing queued on the released socket is lost.
// req: DP.connected-peer
TEST(LnsUdp, ConnectedPeerSocketCarriesThatPeerOnlyAndIsReleased) {
    boost::asio::io_context io;
    const auto lo = *core::Ipv4Address::parse("127.0.0.1");
    std::vector<std::pair<lnsd::PeerId, std::uint8_t>> got;
    lnsd::UdpEndpoint ep(io, lo, 0, [&](lnsd::PeerId p, std::span<const std::uint8_t> b) {
        if (!b.empty()) got.emplace_back(p, b[0]);
    });
    const std::uint16_t port = ep.local_port();
    LoopbackPeer a, b;
    const int fd = ep.connect_peer(a.id());
    ASSERT_GE(fd, 0);
    EXPECT_EQ(ep.connect_peer(a.id()), fd) << "one socket per peer";
    EXPECT_EQ(ep.counters().peer_sockets, 1u);
    EXPECT_EQ(ep.counters().peer_sockets_opened, 1u);

    a.send_to(port, 1);
    b.send_to(port, 2);
    auto run_until = [&](std::size_t n) {
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (got.size() < n && std::chrono::steady_clock::now() < deadline) io.run_one_for(100ms);
    };
    // Both queued before the loop runs: A's on its connected socket, B's (a new peer) on the shared one.
    const auto queued = std::chrono::steady_clock::now() + 5s;
    while ((peek(fd) < 0 || peek(ep.native_handle()) < 0) && std::chrono::steady_clock::now() < queued) {
    }
    EXPECT_EQ(peek(fd), 1);
    EXPECT_EQ(peek(ep.native_handle()), 2);
    run_until(2);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_TRUE((got[0] == std::pair{a.id(), std::uint8_t{1}} && got[1] == std::pair{b.id(), std::uint8_t{2}}) ||
                (got[1] == std::pair{a.id(), std::uint8_t{1}} && got[0] == std::pair{b.id(), std::uint8_t{2}}));

    // Sent on the connected socket: no destination, from the endpoint's port.
    const std::uint8_t d = 9;
    ASSERT_EQ(::send(fd, &d, 1, 0), 1);
    pollfd pa{a.fd, POLLIN, 0};
    ASSERT_EQ(::poll(&pa, 1, 2000), 1);
    sockaddr_in from{};
    socklen_t fl = sizeof from;
    std::uint8_t r = 0;
    ASSERT_EQ(::recvfrom(a.fd, &r, 1, 0, reinterpret_cast<sockaddr*>(&from), &fl), 1);
    EXPECT_EQ(r, 9);
    EXPECT_EQ(ntohs(from.sin_port), port);

    // Released with a datagram still queued on it: handed on before it closes; later ones from A
    // arrive on the shared socket.
    a.send_to(port, 3);
    const auto q3 = std::chrono::steady_clock::now() + 5s;
    while (peek(fd) < 0 && std::chrono::steady_clock::now() < q3) {
    }
    ep.release_peer(a.id());
    run_until(3);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[2], (std::pair{a.id(), std::uint8_t{3}}));
    const auto closed = std::chrono::steady_clock::now() + 5s;
    while (ep.counters().peer_sockets != 0 && std::chrono::steady_clock::now() < closed) io.run_one_for(10ms);
    EXPECT_EQ(ep.counters().peer_sockets, 0u);
    a.send_to(port, 4);
    const auto q4 = std::chrono::steady_clock::now() + 5s;
    while (peek(ep.native_handle()) < 0 && std::chrono::steady_clock::now() < q4) {
    }
    EXPECT_EQ(peek(ep.native_handle()), 4) << "back on the shared socket";
    run_until(4);
    ASSERT_EQ(got.size(), 4u);
    EXPECT_EQ(got[3], (std::pair{a.id(), std::uint8_t{4}}));
    EXPECT_EQ(ep.counters().errors, 0u);
}

// A peer can make lnsd open a connected socket (a session from a new address or port): bounded.
// req: DP.connected-peer
TEST(LnsUdp, ConnectedPeerSocketsAreCappedAndCounted) {
    boost::asio::io_context io;
    const auto lo = *core::Ipv4Address::parse("127.0.0.1");
    lnsd::UdpEndpoint ep(io, lo, 0, [](lnsd::PeerId, std::span<const std::uint8_t>) {});
    ep.set_max_peer_sockets(1);
    LoopbackPeer a, b;
    EXPECT_GE(ep.connect_peer(a.id()), 0);
    EXPECT_EQ(ep.connect_peer(b.id()), -1) << "beyond the cap: B stays on the shared socket";
    EXPECT_EQ(ep.counters().peer_sockets_refused, 1u);
    EXPECT_EQ(ep.counters().peer_sockets, 1u);
    ep.release_peer(a.id());
    io.poll();  // the release completes from the io_context
    EXPECT_EQ(ep.counters().peer_sockets, 0u);
    EXPECT_GE(ep.connect_peer(b.id()), 0) << "room again";
    ep.set_max_peer_sockets(0);
    EXPECT_EQ(ep.connect_peer(a.id()), -1) << "0: none";
    EXPECT_EQ(ep.counters().peer_sockets_refused, 2u);
}


namespace {
/// Runs `io` until `done()` or 5 s have passed.
template <class Done>
void run_until(boost::asio::io_context& io, Done done) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done() && std::chrono::steady_clock::now() < deadline) io.run_one_for(50ms);
}
}  // namespace

// The readiness waits are re-armed after every drain without asking the kernel again
// (core::ReadinessWait): what must hold is that nothing is missed. Many passes of the loop, each
// with a few datagrams on the shared socket and on a peer's connected socket, interleaved:
// every datagram arrives once, in order per socket, and the re-arms allocate nothing.
// req: DP.batching
TEST(LnsUdp, ManyPassesOfFewDatagramsAllArriveOnBothSockets) {
    boost::asio::io_context io;
    const auto lo = *core::Ipv4Address::parse("127.0.0.1");
    LoopbackPeer a, b;
    std::vector<std::uint8_t> from_a, from_b;
    from_a.reserve(1000);
    from_b.reserve(1000);
    std::size_t others = 0;
    lnsd::UdpEndpoint ep(io, lo, 0, [&](lnsd::PeerId p, std::span<const std::uint8_t> d) {
        if (d.empty()) return;
        if (p == a.id())
            from_a.push_back(d[0]);
        else if (p == b.id())
            from_b.push_back(d[0]);
        else
            ++others;
    });
    const int fd = ep.connect_peer(a.id());
    ASSERT_GE(fd, 0);
    io.poll();  // the waits' first arms
    std::uint64_t allocations = 0;
    std::size_t sent_a = 0, sent_b = 0;
    for (int pass = 0; pass < 200; ++pass) {
        for (int k = 0; k < pass % 4 + 1; ++k) a.send_to(ep.local_port(), static_cast<std::uint8_t>(sent_a++));
        if (pass % 3 != 2)
            for (int k = 0; k < pass % 2 + 1; ++k) b.send_to(ep.local_port(), static_cast<std::uint8_t>(sent_b++));
        const auto before = dl::testing::allocations();
        run_until(io, [&] { return from_a.size() == sent_a && from_b.size() == sent_b; });
        allocations += dl::testing::allocations() - before;
        ASSERT_EQ(from_a.size(), sent_a) << "pass " << pass;
        ASSERT_EQ(from_b.size(), sent_b) << "pass " << pass;
    }
    EXPECT_EQ(sent_a, 500u) << "200 passes of 1 to 4";
    EXPECT_EQ(sent_b, 201u);
    for (std::size_t i = 0; i < from_a.size(); ++i) EXPECT_EQ(from_a[i], static_cast<std::uint8_t>(i)) << i;
    for (std::size_t i = 0; i < from_b.size(); ++i) EXPECT_EQ(from_b[i], static_cast<std::uint8_t>(i)) << i;
    EXPECT_EQ(others, 0u);
    EXPECT_EQ(allocations, 0u) << "re-arming a readiness wait allocates nothing";
    EXPECT_EQ(ep.counters().errors, 0u);
}

// A drain stops at its budget with datagrams left on the socket. Edge-triggered readiness raises
// no new event for them: the endpoint must run again on its own, with no further datagram sent.
// req: DP.batching
TEST(LnsUdp, DatagramsLeftAtTheBudgetArriveWithoutANewOne) {
    boost::asio::io_context io;
    const auto lo = *core::Ipv4Address::parse("127.0.0.1");
    std::vector<std::uint8_t> got;
    lnsd::UdpEndpoint ep(
        io, lo, 0, [&](lnsd::PeerId, std::span<const std::uint8_t> d) { got.push_back(d.empty() ? 0 : d[0]); },
        /*batch=*/2, /*budget=*/4);
    io.poll();  // the first arm
    LoopbackPeer a;
    for (std::uint8_t i = 0; i < 30; ++i) a.send_to(ep.local_port(), i);
    const auto queued = std::chrono::steady_clock::now() + 5s;
    while (peek(ep.native_handle()) < 0 && std::chrono::steady_clock::now() < queued) {
    }
    run_until(io, [&] { return got.size() == 30; });
    ASSERT_EQ(got.size(), 30u);
    for (std::uint8_t i = 0; i < 30; ++i) EXPECT_EQ(got[i], i);
    EXPECT_GE(ep.counters().wakeups, 8u) << "4 per wake-up";
}

// A receive error (an ICMP port unreachable, reported on the connected socket's next receive,
// udp(7)) ends a drain with the peer's earlier datagrams still queued behind it and no new event
// for them: they must still arrive.
// req: DP.connected-peer
TEST(LnsUdp, DatagramsQueuedBehindAReceiveErrorStillArrive) {
    boost::asio::io_context io;
    const auto lo = *core::Ipv4Address::parse("127.0.0.1");
    std::vector<std::uint8_t> got;
    lnsd::UdpEndpoint ep(io, lo, 0, [&](lnsd::PeerId, std::span<const std::uint8_t> d) {
        got.push_back(d.empty() ? 0 : d[0]);
    });
    auto a = std::make_unique<LoopbackPeer>();
    const int fd = ep.connect_peer(a->id());
    ASSERT_GE(fd, 0);
    io.poll();  // the first arms
    for (std::uint8_t i = 1; i <= 5; ++i) a->send_to(ep.local_port(), i);
    const auto queued = std::chrono::steady_clock::now() + 5s;
    while (peek(fd) < 0 && std::chrono::steady_clock::now() < queued) {
    }
    ASSERT_EQ(peek(fd), 1);
    a.reset();  // the peer's port closes: what lnsd sends there draws a port unreachable
    const std::uint8_t d = 0;
    ASSERT_EQ(::send(fd, &d, 1, 0), 1);
    pollfd p{fd, 0, 0};  // POLLERR is reported without asking (and without clearing SO_ERROR)
    ASSERT_EQ(::poll(&p, 1, 2000), 1);
    ASSERT_TRUE(p.revents & POLLERR);
    run_until(io, [&] { return got.size() == 5; });
    ASSERT_EQ(got.size(), 5u);
    for (std::uint8_t i = 0; i < 5; ++i) EXPECT_EQ(got[i], i + 1);
    EXPECT_EQ(ep.counters().errors, 1u) << "the ECONNREFUSED, counted once";
}

// Closing the endpoint, releasing a peer socket or destroying the endpoint while their waits are
// armed: nothing is delivered afterwards, nothing runs on freed state, the loop ends.
// req: DP.connected-peer
TEST(LnsUdp, CloseReleaseAndDestroyWhileWaiting) {
    boost::asio::io_context io;
    const auto lo = *core::Ipv4Address::parse("127.0.0.1");
    std::size_t got = 0;
    LoopbackPeer a, b;
    auto ep = std::make_unique<lnsd::UdpEndpoint>(io, lo, 0, [&](lnsd::PeerId, std::span<const std::uint8_t>) { ++got; });
    const std::uint16_t port = ep->local_port();
    ASSERT_GE(ep->connect_peer(a.id()), 0);
    ASSERT_GE(ep->connect_peer(b.id()), 0);
    io.poll();  // armed, waiting
    ep->release_peer(b.id());
    io.poll();
    EXPECT_EQ(ep->counters().peer_sockets, 1u);
    a.send_to(port, 1);
    run_until(io, [&] { return got == 1; });
    EXPECT_EQ(got, 1u);
    ep->close();  // both remaining waits armed
    a.send_to(port, 2);
    io.poll();
    EXPECT_EQ(got, 1u) << "nothing after close";
    EXPECT_EQ(ep->native_handle(), -1);

    // Destroyed while armed, its waits' completions still queued in the io_context: run, then
    // another endpoint destroyed armed with the io_context destroyed after it (never run).
    auto ep2 = std::make_unique<lnsd::UdpEndpoint>(io, lo, 0, [&](lnsd::PeerId, std::span<const std::uint8_t>) { ++got; });
    ASSERT_GE(ep2->connect_peer(a.id()), 0);
    io.poll();
    ep2.reset();
    ep.reset();
    io.poll();
    EXPECT_EQ(got, 1u);
    {
        boost::asio::io_context io2;
        lnsd::UdpEndpoint ep3(io2, lo, 0, [&](lnsd::PeerId, std::span<const std::uint8_t>) { ++got; });
        ASSERT_GE(ep3.connect_peer(b.id()), 0);
        io2.poll();
    }  // ep3, then io2 with the cancelled completions in it
    EXPECT_EQ(got, 1u);
}
