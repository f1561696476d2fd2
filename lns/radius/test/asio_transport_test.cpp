// Asio adapter on 127.0.0.1 with a tiny in-test UDP RADIUS server (real time, short timeouts,
// a safety deadline instead of sleeps).
#include "dl/radius/client/asio_transport.hpp"

#include <gtest/gtest.h>

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

struct Rig {
    asio::io_context io;
    core::SystemClock clock;
    core::TimerQueue timers{clock};
    core::AsioTimerDriver driver{io, timers};
    core::TimerRegistry registry;
    AsioUdpTransport transport{io, Endpoint{kLoopback, 0}};
    Client client{timers, registry, nullptr, transport.sender()};
    TinyServer server{io, "s3cret"};
    asio::steady_timer safety{io};
    Rig() {
        registry.set("radius-timeout", 100ms);
        ServerGroup g;
        g.authentication = {{server.endpoint(), "s3cret", true}};
        client.set_servers("default", g);
        transport.start(client);
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

}  // namespace
