#include "dl/loadgen/triggers.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <set>
#include <string>

namespace dl::loadgen {
namespace {

int udp_on_loopback(std::uint16_t* port) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    if (port) *port = ntohs(a.sin_port);
    return fd;
}

// Every trigger of a range arrives once, with the payload, at its own destination; more than one
// batch takes more than one sendmmsg call, and a whole batch takes one.
TEST(TriggerSender, EverySiteOfTheRangeOnceInBatches) {
    constexpr std::size_t kSites = 600;
    std::array<int, 3> rx{};
    std::array<std::uint16_t, 3> ports{};
    for (std::size_t i = 0; i < rx.size(); ++i) rx[i] = udp_on_loopback(&ports[i]);
    int buf = 4 << 20;
    for (int fd : rx) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    std::vector<sockaddr_in> dests(kSites);
    for (std::size_t i = 0; i < kSites; ++i) {
        dests[i].sin_family = AF_INET;
        dests[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        dests[i].sin_port = htons(ports[i % 3]);
    }
    const int tx = udp_on_loopback(nullptr);
    TriggerSender s(tx, dests, "trigger");
    EXPECT_EQ(s.send(0, 2), 0u);
    EXPECT_EQ(s.calls(), 1u) << "two due triggers, one sendmmsg";
    EXPECT_EQ(s.send(2, kSites - 2 - 10), 0u);
    EXPECT_EQ(s.calls(), 1u + 3u) << "588 triggers: batches of 256, 256, 76";
    EXPECT_THROW(s.send(kSites - 5, 6), std::out_of_range);
    std::array<std::size_t, 3> got{};
    for (std::size_t i = 0; i < rx.size(); ++i) {
        char b[64];
        ssize_t n;
        while ((n = ::recv(rx[i], b, sizeof b, 0)) >= 0) {
            EXPECT_EQ(std::string(b, static_cast<std::size_t>(n)), "trigger");
            ++got[i];
        }
    }
    // sites 0..589 were sent: 197 to port 0 (i % 3 == 0), 197 to port 1, 196 to port 2
    EXPECT_EQ(got[0], 197u);
    EXPECT_EQ(got[1], 197u);
    EXPECT_EQ(got[2], 196u);
    for (int fd : rx) ::close(fd);
    ::close(tx);
}

TEST(TriggerSender, RefusedDatagramsAreCounted) {
    std::vector<sockaddr_in> dests(4);
    for (auto& d : dests) {
        d.sin_family = AF_INET;
        d.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        d.sin_port = htons(9);
    }
    TriggerSender s(-1, dests, "x");   // not a socket: every datagram refused (EBADF)
    EXPECT_EQ(s.send(0, 4), 4u);
}

}  // namespace
}  // namespace dl::loadgen
