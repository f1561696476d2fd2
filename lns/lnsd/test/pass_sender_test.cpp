// lnsd's per-pass send queue (pass_sender.hpp) on loopback sockets: the datagrams of one pass of
// the loop leave in one sendmmsg in order, a datagram queued from a timer handler (a RADIUS
// retransmission) leaves before the loop waits again, no heap allocation per datagram; and its two
// users: the RADIUS client's requests (dialout_runtime.cpp) and the L2TP control messages of
// UdpEndpoint::defer_sends.
#include "dl/lnsd/pass_sender.hpp"
#include "dl/testing/counting_new.hpp"
#include "loopback_udp.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "dl/core/asio_driver.hpp"
#include "dl/core/clock.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/lnsd/lns.hpp"
#include "dl/lnsd/udp.hpp"
#include "dl/radius/client/builders.hpp"
#include "dl/radius/client/client.hpp"


using namespace dl;
using namespace std::chrono_literals;
using Bytes = std::vector<std::uint8_t>;

namespace {

/// A bound loopback UDP socket that receives (non-blocking), and its address.
struct Receiver {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    Receiver() { lnsd::test::bind_loopback(fd, addr, 4 << 20); }
    ~Receiver() { ::close(fd); }
    std::uint16_t port() const { return ntohs(addr.sin_port); }
    /// Datagrams waiting now (no wait).
    std::vector<Bytes> ready() const {
        std::vector<Bytes> out;
        std::vector<std::uint8_t> b(65536);
        for (;;) {
            const ssize_t r = ::recv(fd, b.data(), b.size(), MSG_DONTWAIT);
            if (r < 0) break;
            out.emplace_back(b.begin(), b.begin() + r);
        }
        return out;
    }
    /// Up to `n` datagrams, waiting (poll, 2 s deadline) for each.
    std::vector<Bytes> receive(std::size_t n) const {
        std::vector<Bytes> out;
        std::vector<std::uint8_t> b(65536);
        while (out.size() < n) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 2000) <= 0) break;
            const ssize_t r = ::recv(fd, b.data(), b.size(), MSG_DONTWAIT);
            if (r > 0) out.emplace_back(b.begin(), b.begin() + r);
        }
        return out;
    }
};

int udp_socket() { return ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); }

}  // namespace

TEST(PassSender, DatagramsOfALoopPassLeaveInOneSendmmsgInOrder) {
    Receiver rx;
    const int fd = udp_socket();
    boost::asio::io_context io;
    std::size_t posts = 0;
    {
        lnsd::PassSender out(8, 512);
        out.set_socket(fd);
        out.defer([&](std::function<void()> w) {
            ++posts;
            boost::asio::post(io, std::move(w));
        });
        // One pass: a handler sends 20 datagrams (more than the 8 slots: a full queue is sent first).
        boost::asio::post(io, [&] {
            for (std::uint8_t i = 0; i < 20; ++i) {
                Bytes d(10 + i, i);  // the buffer dies at once: the queue holds a copy
                ASSERT_TRUE(out.send(rx.addr, d));
            }
            EXPECT_EQ(out.pending(), 4u) << "16 left when the queue filled twice, 4 wait for the pass's end";
            EXPECT_EQ(out.counters().syscalls, 2u);
        });
        io.run();
        EXPECT_EQ(posts, 1u) << "one flush posted for the pass";
        EXPECT_EQ(out.pending(), 0u) << "nothing left queued when the loop went idle";
        EXPECT_EQ(out.counters().syscalls, 3u) << "20 datagrams in 3 sendmmsg (8 + 8 + 4)";
        EXPECT_EQ(out.counters().sent, 20u);
        const auto got = rx.receive(20);
        ASSERT_EQ(got.size(), 20u);
        for (std::uint8_t i = 0; i < 20; ++i) EXPECT_EQ(got[i], Bytes(10 + i, i)) << "in the order sent";

        // Changing the socket (lnsd's shutdown) sends what waits first.
        ASSERT_TRUE(out.send(rx.addr, Bytes{1, 2, 3}));
        EXPECT_EQ(out.pending(), 1u);
        out.set_socket(-1);
        EXPECT_EQ(out.pending(), 0u);
        EXPECT_EQ(rx.receive(1).size(), 1u);
        EXPECT_FALSE(out.send(rx.addr, Bytes{4})) << "no socket: dropped and counted";
        EXPECT_EQ(out.counters().errors, 1u);
        io.restart();
        io.run();  // the flush posted by the send above (no socket: nothing waits)
    }
    ::close(fd);
}

TEST(PassSender, WithoutDeferEveryDatagramLeavesAtOnce) {
    Receiver rx;
    const int fd = udp_socket();
    lnsd::PassSender out(8, 512);
    out.set_socket(fd);
    for (std::uint8_t i = 0; i < 3; ++i) {
        ASSERT_TRUE(out.send(rx.addr, Bytes(5, i)));
        EXPECT_EQ(out.pending(), 0u);
        EXPECT_EQ(rx.receive(1).size(), 1u) << "on the wire before send() returns";
    }
    EXPECT_EQ(out.counters().syscalls, 3u);
    ::close(fd);
}

TEST(PassSender, ADatagramLongerThanASlotLeavesAfterTheQueuedOnes) {
    Receiver rx;
    const int fd = udp_socket();
    boost::asio::io_context io;
    lnsd::PassSender out(8, 512);
    out.set_socket(fd);
    out.defer([&](std::function<void()> w) { boost::asio::post(io, std::move(w)); });
    boost::asio::post(io, [&] {
        ASSERT_TRUE(out.send(rx.addr, Bytes(100, 1)));
        ASSERT_TRUE(out.send(rx.addr, Bytes(2000, 2)));  // longer than a slot: sent at once, after the first
        ASSERT_TRUE(out.send(rx.addr, Bytes(100, 3)));
    });
    io.run();
    const auto got = rx.receive(3);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0], Bytes(100, 1));
    EXPECT_EQ(got[1], Bytes(2000, 2));
    EXPECT_EQ(got[2], Bytes(100, 3));
    EXPECT_EQ(out.counters().direct, 1u);
    EXPECT_EQ(out.counters().sent, 3u);
    ::close(fd);
}

// req: DP.no-allocation
TEST(PassSender, NoHeapAllocationPerDatagram) {
    Receiver rx;
    const int fd = udp_socket();
    lnsd::PassSender out(16, 512);
    out.set_socket(fd);
    std::function<void()> waiting;  // the "loop": one posted flush at a time (a lambda of one pointer)
    std::size_t posts = 0;
    out.defer([&](std::function<void()> w) {
        ++posts;
        waiting = std::move(w);
    });
    const Bytes d(64, 7);
    auto pass = [&] {
        for (int i = 0; i < 10; ++i) ASSERT_TRUE(out.send(rx.addr, d));
        auto w = std::move(waiting);
        waiting = nullptr;
        ASSERT_TRUE(w);
        w();
    };
    pass();  // warm-up
    (void)rx.ready();
    const std::uint64_t before = dl::testing::allocations();
    for (int k = 0; k < 20; ++k) pass();
    const std::uint64_t allocations = dl::testing::allocations() - before;
    EXPECT_EQ(allocations, 0u) << "200 datagrams queued, copied and sent in 20 passes without operator new";
    EXPECT_EQ(posts, 21u);
    EXPECT_EQ(out.counters().sent, 210u);
    EXPECT_EQ(out.counters().syscalls, 21u);
    EXPECT_EQ(rx.ready().size(), 200u);
    ::close(fd);
}

// The RADIUS client of lnsd wired as dialout_runtime.cpp wires it: requests submitted in one
// pass leave in one sendmmsg; a retransmission is queued by the timer handler at its deadline and
// leaves before the loop waits for anything else (io_context::poll runs only ready handlers).
TEST(PassSender, RadiusRequestsOfOnePassInOneSendmmsgAndRetransmissionsAtTheirDeadline) {
    namespace rc = radius::client;
    Receiver server;  // never answers
    const int fd = udp_socket();
    boost::asio::io_context io;
    core::SystemClock clock;
    core::TimerQueue timers(clock);
    core::AsioTimerDriver driver(io, timers);
    core::TimerRegistry registry;
    rc::register_timers(registry);
    registry.set("radius-timeout", 100ms);
    lnsd::PassSender out(64, 4096);
    out.set_socket(fd);
    out.defer([&](std::function<void()> w) { boost::asio::post(io, std::move(w)); });
    rc::Client client(timers, registry, nullptr, [&](const rc::Endpoint& to, std::span<const std::uint8_t> d) {
        out.send(lnsd::PassSender::destination(to.address, to.port), d);
    });
    rc::ServerGroup g;
    g.authentication = {{rc::Endpoint{INADDR_LOOPBACK, server.port()}, "s3cret", true}};
    client.set_servers("default", g);
    int completions = 0;
    const auto t0 = std::chrono::steady_clock::now();  // before the requests' timers start
    boost::asio::post(io, [&] {
        for (int i = 0; i < 3; ++i)
            client.submit("default", rc::Service::authentication,
                          rc::build_dialout_access_request("u" + std::to_string(i), {}),
                          [&](const rc::Completion&) { ++completions; });
        EXPECT_EQ(out.pending(), 3u) << "queued until the pass ends";
    });
    io.poll();
    EXPECT_EQ(out.counters().syscalls, 1u) << "three Access-Requests in one sendmmsg";
    EXPECT_EQ(server.receive(3).size(), 3u);
    // Wait (deadline 5 s) for the three retransmission timers: one handler at a time, so the
    // loop stops right after the timer handler that queued the last retransmission.
    const auto give_up = t0 + 5s;
    while (client.counters().retransmissions < 3 && std::chrono::steady_clock::now() < give_up) io.run_one_for(100ms);
    ASSERT_EQ(client.counters().retransmissions, 3u);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 100ms) << "not before the timeout (RFC 5080 §2.2.1)";
    EXPECT_GT(out.pending(), 0u) << "the timer handler queued it";
    io.poll();  // ready handlers only: the posted flush, no wait
    EXPECT_EQ(out.pending(), 0u) << "sent right after the timer handler, before the loop waits again";
    EXPECT_EQ(server.receive(3).size(), 3u) << "every request retransmitted";
    EXPECT_LE(out.counters().syscalls, 4u) << "at most one sendmmsg per timer handler";
    EXPECT_EQ(completions, 0);
    ::close(fd);
}

// L2TP control messages through UdpEndpoint::defer_sends (lnsd's main.cpp): the messages of one
// pass in one sendmmsg, in order; close() sends what waits.
TEST(PassSender, L2tpControlMessagesOfOnePassInOneSendmmsg) {
    Receiver lac;
    boost::asio::io_context io;
    lnsd::UdpEndpoint ep(io, core::Ipv4Address{INADDR_LOOPBACK}, 0, [](lnsd::PeerId, std::span<const std::uint8_t>) {});
    ep.defer_sends([&](std::function<void()> w) { boost::asio::post(io, std::move(w)); });
    const lnsd::PeerId peer = lnsd::peer_id({INADDR_LOOPBACK}, lac.port());
    boost::asio::post(io, [&] {
        for (std::uint8_t i = 0; i < 5; ++i) ep.send(peer, Bytes{0xC8, 0x02, 0x00, 0x0C, 0, 1, 0, 2, 0, i, 0, 0});
        EXPECT_EQ(ep.send_counters().sent, 0u) << "queued until the pass ends";
    });
    io.poll();
    EXPECT_EQ(ep.send_counters().syscalls, 1u);
    EXPECT_EQ(ep.send_counters().sent, 5u);
    const auto got = lac.receive(5);
    ASSERT_EQ(got.size(), 5u);
    for (std::uint8_t i = 0; i < 5; ++i) EXPECT_EQ(got[i][9], i) << "in the order sent";
    ep.send(peer, Bytes{0xC8, 0x02, 0x00, 0x0C, 0, 1, 0, 2, 0, 9, 0, 0});
    ep.close();
    EXPECT_EQ(lac.receive(1).size(), 1u) << "close() sent what waited";
    EXPECT_EQ(ep.send_errors(), 0u);
}
