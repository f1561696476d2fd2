// loadgen::BatchUdp and loadgen::SendBatch on loopback sockets and the generator's loop —
// io_context::run() with core::AsioTimerDriver and core::ReadinessWait — real time (SystemClock),
// no sleeps: every test stops the loop from its last event and a safety timer bounds it.
#include "dl/loadgen/batch_udp.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "dl/core/asio_driver.hpp"
#include "dl/core/clock.hpp"
#include "dl/core/timer_queue.hpp"

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

/// The generator's loop: one io_context, its timers driven by core::AsioTimerDriver.
struct Rig {
    boost::asio::io_context io;
    core::SystemClock clock;
    core::TimerQueue timers{clock};
    core::AsioTimerDriver driver{io, timers};
    Rig() {
        timers.arm(5s, [this] {
            ADD_FAILURE() << "safety deadline reached";
            io.stop();
        });
    }
};

std::string text(std::span<const std::uint8_t> d) { return {d.begin(), d.end()}; }

// More datagrams than kRounds batches: one wake-up reads kRounds full batches and stops (its
// budget), the rest is read by the next handler (arm_now: no new datagram needed to wake it); a
// datagram longer than kSlot is counted as truncated and the others delivered in order.
TEST(BatchUdp, ReadsBatchesPerWakeupAndCountsTruncated) {
    Rig rig;
    Sender sender;
    constexpr std::size_t kBatch = 4;
    constexpr std::size_t kDatagrams = kBatch * BatchUdp::kRounds + 2;  // 18: 4 full batches, then 2
    std::vector<std::string> got;
    std::unique_ptr<BatchUdp> udp;
    udp = std::make_unique<BatchUdp>(rig.io, kLoopback, 0,
                                     [&](std::uint32_t a, std::uint16_t, std::span<const std::uint8_t> d) {
                                         EXPECT_EQ(a, kLoopback);
                                         got.push_back(text(d));
                                         if (got.size() == kDatagrams) rig.io.stop();
                                     },
                                     kBatch);
    sender.send(udp->port(), std::string(BatchUdp::kSlot + 1, 'x'));  // too long: truncated
    for (std::size_t i = 0; i < kDatagrams; ++i) sender.send(udp->port(), std::to_string(i));
    rig.io.run();
    ASSERT_EQ(got.size(), kDatagrams);
    for (std::size_t i = 0; i < kDatagrams; ++i) EXPECT_EQ(got[i], std::to_string(i));
    const auto& c = udp->counters();
    EXPECT_EQ(c.truncated, 1u);
    EXPECT_EQ(c.datagrams, kDatagrams + 1);
    EXPECT_EQ(c.wakeups, 2u);  // 4 full batches (the long one and 15), then the last 3
    EXPECT_EQ(c.batches, 5u);
    EXPECT_EQ(c.budget_stops, 1u);
    EXPECT_EQ(c.errors, 0u);
}

TEST(BatchUdp, BindFailureThrows) {
    Rig rig;
    BatchUdp first(rig.io, kLoopback, 0, [](std::uint32_t, std::uint16_t, std::span<const std::uint8_t>) {});
    EXPECT_THROW(BatchUdp(rig.io, kLoopback, first.port(), [](std::uint32_t, std::uint16_t, std::span<const std::uint8_t>) {}),
                 std::system_error);
}

// The loop over many passes: 300 waves of 1 to 31 datagrams, each sent once the previous one was
// all received, from a due timer (posted by AsioTimerDriver), a 1 ms timer (the OS timer) or a
// posted handler in turn. Every datagram arrives, in order, with no wave lost to a re-arm that
// missed data left in the socket (edge-triggered: a drain that stops at its budget must re-arm
// with arm_now, one that found the socket empty may arm without asking the kernel).
TEST(BatchUdp, DatagramsOverManyPassesAllReceived) {
    Rig rig;
    Sender sender;
    constexpr std::size_t kBatch = 4;  // 16 per wake-up at most: the larger waves hit the budget
    constexpr int kWaves = 300;
    int wave = 0;
    std::size_t expected = 0, sent = 0;
    std::vector<std::string> got;
    std::unique_ptr<BatchUdp> udp;
    std::function<void()> send_wave = [&] {
        const std::size_t k = static_cast<std::size_t>(wave % 7) * 5 + 1;
        for (std::size_t i = 0; i < k; ++i) sender.send(udp->port(), std::to_string(sent++));
        expected += k;
    };
    udp = std::make_unique<BatchUdp>(rig.io, kLoopback, 0,
                                     [&](std::uint32_t, std::uint16_t, std::span<const std::uint8_t> d) {
                                         got.push_back(text(d));
                                         if (got.size() < expected) return;
                                         if (++wave == kWaves) {
                                             rig.io.stop();
                                             return;
                                         }
                                         switch (wave % 3) {
                                         case 0: rig.timers.arm(0ms, send_wave); break;
                                         case 1: rig.timers.arm(1ms, send_wave); break;
                                         default: boost::asio::post(rig.io, send_wave); break;
                                         }
                                     },
                                     kBatch);
    send_wave();
    rig.io.run();
    EXPECT_EQ(wave, kWaves);
    ASSERT_EQ(got.size(), sent);
    for (std::size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], std::to_string(i));
    const auto& c = udp->counters();
    EXPECT_GT(c.budget_stops, 0u);
    EXPECT_EQ(c.errors, 0u);
    EXPECT_GT(rig.driver.posted_runs(), 0u);  // the 0 ms timers: posted, no OS timer
}

// One flush per pass: the datagrams that the handlers already queued send, and those sent before
// the flush runs, leave in one sendmmsg; a later pass's in another; more than kBatch in one
// flush take one call per kBatch.
TEST(SendBatch, OneFlushPerPassForEverythingQueuedBeforeIt) {
    Rig rig;
    std::vector<std::string> got;
    constexpr std::size_t kLater = SendBatch::kBatch + 6;
    BatchUdp to(rig.io, kLoopback, 0, [&](std::uint32_t, std::uint16_t, std::span<const std::uint8_t> d) {
        got.push_back(text(d));
        if (got.size() == 3 + kLater) rig.io.stop();
    });
    BatchUdp from(rig.io, kLoopback, 0, [](std::uint32_t, std::uint16_t, std::span<const std::uint8_t>) {});
    SendBatch out(rig.io, from.native_handle());
    auto bytes = [](const std::string& s) { return std::vector<std::uint8_t>(s.begin(), s.end()); };
    std::uint64_t calls_after_first = 0, flushes_after_first = 0;
    for (const char* s : {"a", "b", "c"})
        boost::asio::post(rig.io, [&, s] { out.send(kLoopback, to.port(), bytes(s)); });
    boost::asio::post(rig.io, [&] {  // queued after the three: runs before their flush
        rig.timers.arm(1ms, [&] {
            calls_after_first = out.calls();
            flushes_after_first = out.flushes();
            for (std::size_t i = 0; i < kLater; ++i) out.send(kLoopback, to.port(), bytes(std::to_string(i)));
        });
    });
    rig.io.run();
    ASSERT_EQ(got.size(), 3 + kLater);
    EXPECT_EQ(got[0], "a");
    EXPECT_EQ(got[1], "b");
    EXPECT_EQ(got[2], "c");
    for (std::size_t i = 0; i < kLater; ++i) EXPECT_EQ(got[3 + i], std::to_string(i));
    EXPECT_EQ(calls_after_first, 1u);
    EXPECT_EQ(flushes_after_first, 1u);
    EXPECT_EQ(out.flushes(), 2u);
    EXPECT_EQ(out.calls(), 3u);  // 1, then 64 + 6
    EXPECT_EQ(out.errors(), 0u);
}

}  // namespace
}  // namespace dl::loadgen
