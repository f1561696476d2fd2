// Asio adapter on 127.0.0.1 with a tiny in-test UDP RADIUS server (real time, short timeouts,
// a safety deadline instead of sleeps).
#include "dl/radius/client/asio_transport.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "dl/testing/counting_new.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "dl/core/asio_driver.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/radius/auth.hpp"
#include "dl/radius/client/builders.hpp"

using namespace dl::radius;
using namespace dl::radius::client;
using namespace std::chrono_literals;
namespace core = dl::core;
namespace asio = boost::asio;
using udp = asio::ip::udp;


namespace {

constexpr std::uint32_t kLoopback = 0x7F000001;

/// Answers Access-Requests with a signed Access-Accept; drops the first `drop_first` datagrams.
struct TinyServer {
    TinyServer(asio::io_context& io, std::string s) : socket(io, udp::endpoint(asio::ip::address_v4::loopback(), 0)),
                                                      secret(std::move(s)) { receive(); }
    void receive() {
        socket.async_receive_from(asio::buffer(buf), from, [this](const boost::system::error_code& ec, std::size_t n) {
            if (ec) return;
            ++received;
            if (received > drop_first) {
                Radius req(buf.data(), static_cast<std::uint32_t>(n));
                Radius resp(Code::Access_Accept, req.identifier());
                add_message_authenticator(resp);
                sign_response(resp, req.authenticator(), secret);
                std::vector<std::uint8_t> w;
                serialize_into(resp, w);
                socket.send_to(asio::buffer(w), from);
            }
            receive();
        });
    }
    Endpoint endpoint() const { return {kLoopback, socket.local_endpoint().port()}; }
    udp::socket socket;
    std::string secret;
    std::array<std::uint8_t, 4096> buf{};
    udp::endpoint from;
    int received = 0;
    int drop_first = 0;
};

/// The transport and a RADIUS client on one io_context (SystemClock, AsioTimerDriver); each rig
/// below adds its server and calls start().
struct ClientOnLoop {
    asio::io_context io;
    core::SystemClock clock;
    core::TimerQueue timers{clock};
    core::AsioTimerDriver driver{io, timers};
    core::TimerRegistry registry;
    AsioUdpTransport transport{io, Endpoint{kLoopback, 0}};
    Client client{timers, registry, nullptr, transport.sender()};
    /// Points the client at the server at `at` (secret "s3cret", authentication), `timeout` per try, and
    /// starts the transport.
    void start(const Endpoint& at, core::Duration timeout) {
        registry.set("radius-timeout", timeout);
        ServerGroup g;
        g.authentication = {{at, "s3cret", true}};
        client.set_servers("default", g);
        transport.start(client);
    }
};

struct Rig : ClientOnLoop {
    TinyServer server{io, "s3cret"};
    asio::steady_timer safety{io};
    Rig() {
        start(server.endpoint(), 100ms);
        safety.expires_after(5s);
        safety.async_wait([this](const boost::system::error_code& ec) {
            if (!ec) {
                ADD_FAILURE() << "safety deadline reached";
                io.stop();
            }
        });
    }
};

TEST(AsioUdpTransport, ManyRequestsInFlightOverOneSocket) {
    Rig rig;
    int done = 0;
    for (int i = 0; i < 50; ++i)
        rig.client.submit("default", Service::authentication,
                          build_dialout_access_request("u" + std::to_string(i), {}), [&](const Completion& c) {
                              EXPECT_EQ(c.result, Result::accept);
                              if (++done == 50) {
                                  rig.transport.stop();
                                  rig.safety.cancel();
                                  rig.server.socket.close();
                              }
                          });
    rig.io.run();
    EXPECT_EQ(done, 50);
    EXPECT_EQ(rig.server.received, 50);
    EXPECT_EQ(rig.transport.datagrams_received(), 50u);
    EXPECT_EQ(rig.client.counters().retransmissions, 0u);
    EXPECT_NE(rig.transport.local_endpoint().port, 0);
}

TEST(AsioUdpTransport, RetransmissionIsAnswered) {
    Rig rig;
    rig.server.drop_first = 1;
    std::optional<Completion> got;
    rig.client.submit("default", Service::authentication, build_dialout_access_request("u", {}),
                      [&](const Completion& c) {
                          got = c;
                          rig.transport.stop();
                          rig.safety.cancel();
                          rig.server.socket.close();
                      });
    rig.io.run();
    ASSERT_TRUE(got);
    EXPECT_EQ(got->result, Result::accept);
    EXPECT_EQ(got->transmissions, 2u);
    EXPECT_EQ(rig.server.received, 2);
}

/// A RADIUS server the test drives by hand: blocking reads of the client's requests, answers sent
/// when the test says, so several answers can wait on the transport's socket before the loop runs.
struct HandServer {
    asio::io_context io;
    udp::socket socket{io, udp::endpoint(asio::ip::address_v4::loopback(), 0)};
    std::string secret = "s3cret";
    struct Request {
        std::uint8_t identifier;
        Authenticator authenticator;
        udp::endpoint from;
    };
    Endpoint endpoint() const { return {kLoopback, socket.local_endpoint().port()}; }
    Request read() {
        std::array<std::uint8_t, 4096> buf{};
        udp::endpoint from;
        const auto n = socket.receive_from(asio::buffer(buf), from);
        Radius req(buf.data(), static_cast<std::uint32_t>(n));
        return {req.identifier(), req.authenticator(), from};
    }
    void accept(const Request& r) {
        Radius resp(Code::Access_Accept, r.identifier);
        add_message_authenticator(resp);
        sign_response(resp, r.authenticator, secret);
        std::vector<std::uint8_t> w;
        serialize_into(resp, w);
        socket.send_to(asio::buffer(w), r.from);
    }
    void raw(std::span<const std::uint8_t> d, const udp::endpoint& to) { socket.send_to(asio::buffer(d.data(), d.size()), to); }
};

/// The transport and client on a loop that is run by hand (`io.run_one()`: one wake-up).
struct HandRig : ClientOnLoop {
    HandServer server;
    HandRig() { start(server.endpoint(), 2s); }  // 2 s: no retransmission within a test
    udp::endpoint transport_endpoint() const {
        return {asio::ip::address_v4::loopback(), transport.local_endpoint().port};
    }
};

TEST(AsioUdpTransport, WaitingAnswersAreAllDeliveredInOneWakeupInArrivalOrder) {
    HandRig rig;
    std::vector<int> order;
    constexpr int kRequests = 5;
    for (int i = 0; i < kRequests; ++i)
        rig.client.submit("default", Service::authentication, build_dialout_access_request("u" + std::to_string(i), {}),
                          [&order, i](const Completion& c) {
                              EXPECT_EQ(c.result, Result::accept);
                              order.push_back(i);
                          });
    std::vector<HandServer::Request> requests;
    for (int i = 0; i < kRequests; ++i) requests.push_back(rig.server.read());
    // Answered in reverse order, with a 3-octet datagram (shorter than a RADIUS header, RFC 2865
    // §3) between the second and the third: all waiting before the loop runs.
    for (int i = kRequests - 1; i >= 0; --i) {
        rig.server.accept(requests[static_cast<std::size_t>(i)]);
        if (i == kRequests - 2) rig.server.raw(std::array<std::uint8_t, 3>{2, 1, 0}, rig.transport_endpoint());
    }
    EXPECT_EQ(rig.io.run_one(), 1u);  // one wake-up of the socket
    EXPECT_EQ(order, (std::vector<int>{4, 3, 2, 1, 0}));
    EXPECT_EQ(rig.transport.datagrams_received(), 6u);
    EXPECT_EQ(rig.client.counters().dropped.malformed, 1u);
    EXPECT_EQ(rig.transport.receive_batches(), 1u);
    EXPECT_EQ(rig.transport.oversize(), 0u);
}

TEST(AsioUdpTransport, MoreAnswersThanOneBatchInOneWakeupWithoutAllocation) {
    HandRig rig;
    // 40 datagrams: more than two recvmmsg batches. Too short to be RADIUS, so the Client drops
    // each one before it builds anything: what is counted is the transport's own receive path.
    constexpr int kDatagrams = 40;
    for (int i = 0; i < kDatagrams; ++i)
        rig.server.raw(std::array<std::uint8_t, 3>{2, static_cast<std::uint8_t>(i), 0}, rig.transport_endpoint());
    const std::uint64_t before = dl::testing::allocations();
    EXPECT_EQ(rig.io.run_one(), 1u);
    const std::uint64_t allocations = dl::testing::allocations() - before;
    EXPECT_EQ(rig.transport.datagrams_received(), static_cast<std::uint64_t>(kDatagrams));
    EXPECT_EQ(rig.client.counters().dropped.malformed, static_cast<std::uint64_t>(kDatagrams));
    EXPECT_EQ(rig.transport.receive_batches(), 3u);  // 16 + 16 + 8
    EXPECT_EQ(allocations, 0u) << "40 datagrams read and handed over without operator new";
}

// More than a wake-up's budget (4 batches of 16): the first wake-up reads 64 and yields to the
// loop; the rest is read on its next pass (the wait re-armed with arm_now), in order.
TEST(AsioUdpTransport, AnswersBeyondTheBudgetAreReadOnTheNextPass) {
    HandRig rig;
    // one datagram first: the wait is then armed on a drained socket
    rig.server.raw(std::array<std::uint8_t, 3>{2, 0, 0}, rig.transport_endpoint());
    EXPECT_EQ(rig.io.run_one(), 1u);
    ASSERT_EQ(rig.transport.datagrams_received(), 1u);
    constexpr int kDatagrams = 70;
    for (int i = 0; i < kDatagrams; ++i)
        rig.server.raw(std::array<std::uint8_t, 3>{2, static_cast<std::uint8_t>(i), 0}, rig.transport_endpoint());
    EXPECT_EQ(rig.io.run_one(), 1u);
    EXPECT_EQ(rig.transport.datagrams_received(), 65u);
    rig.io.poll();  // no new datagram, no new event: the re-armed wait runs anyway (ready handlers only)
    EXPECT_EQ(rig.transport.datagrams_received(), static_cast<std::uint64_t>(kDatagrams + 1));
    EXPECT_EQ(rig.client.counters().dropped.malformed, static_cast<std::uint64_t>(kDatagrams + 1));
}

TEST(AsioUdpTransport, OversizeDatagramAmongAnswersIsCountedAndTheRestDelivered) {
    HandRig rig;
    int done = 0;
    rig.client.submit("default", Service::authentication, build_dialout_access_request("u", {}),
                      [&](const Completion& c) {
                          EXPECT_EQ(c.result, Result::accept);
                          ++done;
                      });
    const auto request = rig.server.read();
    const std::vector<std::uint8_t> big(Radius::kMaxLength + 1, 0);  // RFC 2865 §3: at most 4096
    rig.server.raw(big, rig.transport_endpoint());
    rig.server.accept(request);
    EXPECT_EQ(rig.io.run_one(), 1u);
    EXPECT_EQ(done, 1);
    EXPECT_EQ(rig.transport.oversize(), 1u);
    EXPECT_EQ(rig.transport.datagrams_received(), 2u);
}

TEST(AsioUdpTransport, StopFromACompletionLeavesTheRestOfTheBatchUnread) {
    HandRig rig;
    int done = 0;
    for (int i = 0; i < 3; ++i)
        rig.client.submit("default", Service::authentication, build_dialout_access_request("u" + std::to_string(i), {}),
                          [&](const Completion&) {
                              ++done;
                              rig.transport.stop();
                          });
    std::vector<HandServer::Request> requests;
    for (int i = 0; i < 3; ++i) requests.push_back(rig.server.read());
    for (const auto& r : requests) rig.server.accept(r);
    rig.io.run_one();
    EXPECT_EQ(done, 1);
    EXPECT_EQ(rig.transport.datagrams_received(), 1u);
    EXPECT_EQ(rig.transport.native_handle(), -1);
    rig.io.poll();  // nothing left to run on the closed socket
    EXPECT_EQ(done, 1);
}

TEST(AsioUdpTransport, StopWhileWaitingEndsTheWaitWithoutDelivery) {
    HandRig rig;
    rig.transport.stop();
    // An answer that arrives after the stop is never read (the socket is closed, the send fails
    // or lands nowhere): the loop has no work left and returns.
    rig.io.run();
    EXPECT_EQ(rig.transport.datagrams_received(), 0u);
    EXPECT_EQ(rig.transport.native_handle(), -1);
}

}  // namespace
