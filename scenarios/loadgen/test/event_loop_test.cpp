// loadgen::EventLoop and loadgen::BatchUdp on loopback sockets, real time (SystemClock), no sleeps:
// every test stops the loop from its last event and a safety timer bounds it.
#include "dl/loadgen/batch_udp.hpp"
#include "dl/loadgen/event_loop.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "dl/core/clock.hpp"

namespace dl::loadgen {
namespace {

using namespace std::chrono_literals;
constexpr std::uint32_t kLoopback = 0x7F000001;

/// A plain UDP sender on loopback.
struct Sender {
    int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    ~Sender() { ::close(fd); }
    void send(std::uint16_t port, const std::string& text) const {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(kLoopback);
        a.sin_port = htons(port);
        ASSERT_EQ(::sendto(fd, text.data(), text.size(), 0, reinterpret_cast<const sockaddr*>(&a), sizeof a),
                  static_cast<ssize_t>(text.size()));
    }
};

struct Rig {
    boost::asio::io_context io;
    core::SystemClock clock;
    core::TimerQueue timers{clock};
    EventLoop loop{io, timers};
    Rig() {
        timers.arm(5s, [this] {
            ADD_FAILURE() << "safety deadline reached";
            io.stop();
        });
    }
};

// Posted handlers first, then a due timer, then a socket's readiness: a timer sends a datagram,
// the readiness handler receives it and arms a second timer, which sends the second datagram; the
// second readiness stops the loop. The socket is registered once (no re-arm), no timer fires
// before its deadline, and the loop sleeps in between (a few waits, not a busy loop).
TEST(EventLoop, PostedHandlersTimersAndReadinessInOneLoop) {
    Rig rig;
    std::vector<std::string> seen;
    Sender sender;
    std::vector<std::string> received;
    core::TimePoint armed_2{}, fired_2{};
    std::unique_ptr<BatchUdp> udp;
    udp = std::make_unique<BatchUdp>(rig.loop, kLoopback, 0, [&](std::uint32_t a, std::uint16_t, std::span<const std::uint8_t> d) {
        EXPECT_EQ(a, kLoopback);
        received.emplace_back(d.begin(), d.end());
        seen.push_back("readable");
        if (received.size() == 1) {
            armed_2 = rig.clock.now();
            rig.timers.arm(10ms, [&] {
                fired_2 = rig.clock.now();
                seen.push_back("timer-2");
                sender.send(udp->port(), "second");
            });
        }
        if (received.size() == 2) rig.io.stop();
    });
    const auto t0 = rig.clock.now();
    core::TimePoint fired_1{};
    rig.timers.arm(10ms, [&] {
        fired_1 = rig.clock.now();
        seen.push_back("timer-1");
        sender.send(udp->port(), "first");
    });
    boost::asio::post(rig.io, [&] { seen.push_back("posted"); });
    rig.loop.run();
    EXPECT_EQ(seen, (std::vector<std::string>{"posted", "timer-1", "readable", "timer-2", "readable"}));
    EXPECT_EQ(received, (std::vector<std::string>{"first", "second"}));
    EXPECT_GE(fired_1 - t0, 10ms);  // never before the deadline
    EXPECT_GE(fired_2 - armed_2, 10ms);
    EXPECT_EQ(rig.loop.counters().registrations, 1u);
    EXPECT_LE(rig.loop.counters().waits, 12u);
}

// Level-triggered: a handler that leaves data in the socket is called again on the next pass,
// without any re-arm; the datagrams come in arrival order.
TEST(EventLoop, DataLeftInTheSocketIsReportedOnTheNextPass) {
    Rig rig;
    Sender sender;
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(kLoopback);
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    for (int i = 0; i < 3; ++i) sender.send(ntohs(a.sin_port), std::to_string(i));
    std::vector<std::string> got;
    rig.loop.watch(fd, [&] {
        char b[16];
        const auto n = ::recv(fd, b, sizeof b, 0);  // one datagram per call
        if (n > 0) got.emplace_back(b, static_cast<std::size_t>(n));
        if (got.size() == 3) rig.io.stop();
    });
    rig.loop.run();
    EXPECT_EQ(got, (std::vector<std::string>{"0", "1", "2"}));
    EXPECT_EQ(rig.loop.counters().ready, 3u);
    EXPECT_EQ(rig.loop.counters().registrations, 1u);
    rig.loop.unwatch(fd);
    ::close(fd);
}

// The pass-end hook runs once per pass, after every posted handler of the pass, including those
// posted by handlers: a send queue flushed there sees everything the pass queued.
TEST(EventLoop, PassEndHookRunsAfterEveryPostedHandlerOfThePass) {
    Rig rig;
    std::vector<std::string> seen;
    rig.loop.at_pass_end([&] { seen.push_back("end"); });
    boost::asio::post(rig.io, [&] {
        seen.push_back("a");
        boost::asio::post(rig.io, [&] {
            seen.push_back("b");
            boost::asio::post(rig.io, [&] { seen.push_back("c"); });
        });
    });
    rig.timers.arm(2ms, [&] {
        seen.push_back("timer");
        boost::asio::post(rig.io, [&] {
            seen.push_back("d");
            rig.timers.arm(1ms, [&] { rig.io.stop(); });
        });
    });
    rig.loop.run();
    EXPECT_EQ(seen, (std::vector<std::string>{"a", "b", "c", "end", "timer", "d", "end"}));
}

// A stop from a timer ends run(); handlers posted by the stopping timer do not run after it.
TEST(EventLoop, StopFromATimerEndsTheRun) {
    Rig rig;
    bool after = false;
    rig.timers.arm(1ms, [&] {
        rig.io.stop();
        boost::asio::post(rig.io, [&] { after = true; });
    });
    rig.loop.run();
    EXPECT_TRUE(rig.io.stopped());
    EXPECT_FALSE(after);
}

// More datagrams than kRounds batches: one wake-up reads kRounds full batches, the rest is read on
// the next pass; a datagram longer than kSlot is counted as truncated and the others delivered.
TEST(BatchUdp, ReadsBatchesPerWakeupAndCountsTruncated) {
    Rig rig;
    Sender sender;
    constexpr std::size_t kBatch = 4;
    constexpr std::size_t kDatagrams = kBatch * BatchUdp::kRounds + 2;  // 18: 4 full batches, then 2
    std::vector<std::string> got;
    std::unique_ptr<BatchUdp> udp;
    udp = std::make_unique<BatchUdp>(rig.loop, kLoopback, 0,
                                     [&](std::uint32_t, std::uint16_t, std::span<const std::uint8_t> d) {
                                         got.emplace_back(d.begin(), d.end());
                                         if (got.size() == kDatagrams) rig.io.stop();
                                     },
                                     kBatch);
    sender.send(udp->port(), std::string(BatchUdp::kSlot + 1, 'x'));  // too long: truncated
    for (std::size_t i = 0; i < kDatagrams; ++i) sender.send(udp->port(), std::to_string(i));
    rig.loop.run();
    ASSERT_EQ(got.size(), kDatagrams);
    for (std::size_t i = 0; i < kDatagrams; ++i) EXPECT_EQ(got[i], std::to_string(i));
    const auto& c = udp->counters();
    EXPECT_EQ(c.truncated, 1u);
    EXPECT_EQ(c.datagrams, kDatagrams + 1);
    EXPECT_EQ(c.wakeups, 2u);  // 4 full batches (the long one and 15), then the last 3
    EXPECT_EQ(c.batches, 5u);
}

TEST(BatchUdp, BindFailureThrows) {
    Rig rig;
    BatchUdp first(rig.loop, kLoopback, 0, [](std::uint32_t, std::uint16_t, std::span<const std::uint8_t>) {});
    EXPECT_THROW(BatchUdp(rig.loop, kLoopback, first.port(), [](std::uint32_t, std::uint16_t, std::span<const std::uint8_t>) {}),
                 std::system_error);
}

}  // namespace
}  // namespace dl::loadgen
