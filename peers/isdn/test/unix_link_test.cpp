// SOCK_SEQPACKET transport with the exchange behind it: register, dial, connect, relay, close.
#include "dl/isdn/unix_link.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include <boost/asio/io_context.hpp>

#include "dl/core/event.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/isdn/exchange.hpp"

using namespace dl::isdn;

namespace {
// Runs the loop until pred() or 5 s of real time; never sleeps.
template <class P>
bool run_until(boost::asio::io_context& io, P pred) {
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!pred() && std::chrono::steady_clock::now() < end) io.run_one_for(std::chrono::milliseconds(50));
    return pred();
}
}  // namespace

TEST(UnixLink, ExchangeOverSeqPacket) {
    auto dir = std::filesystem::temp_directory_path() / ("isdn-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "x.sock").string();

    boost::asio::io_context io;
    dl::core::VirtualTimeLoop loop;
    dl::core::EventBus bus(loop.clock());
    dl::core::TimerRegistry reg;
    SeqPacketServer* srv = nullptr;
    Exchange ex(bus, loop.timers(), reg, [&](Exchange::EndpointId ep, const Message& m) { srv->send(ep, m.encode()); });
    SeqPacketServer server(io, path,
                           {[&](SeqPacketServer::Id id) { ex.attach(id); },
                            [&](SeqPacketServer::Id id, std::span<const std::uint8_t> d) { ex.receive_bytes(id, d); },
                            [&](SeqPacketServer::Id id) { ex.detach(id); }});
    srv = &server;
    server.start();

    std::vector<Message> a_in, b_in;
    bool b_closed = false;
    SeqPacketClient a(io, {[&](std::span<const std::uint8_t> d) { a_in.push_back(Message::decode(d)); }, {}});
    auto b = std::make_unique<SeqPacketClient>(
        io, SeqPacketClient::Handlers{[&](std::span<const std::uint8_t> d) { b_in.push_back(Message::decode(d)); },
                                      [&] { b_closed = true; }});
    a.connect(path);
    b->connect(path);
    a.send(Message::reg({"1701"}).encode());
    b->send(Message::reg({"100"}).encode());
    ASSERT_TRUE(run_until(io, [&] { return a_in.size() == 1 && b_in.size() == 1; }));
    EXPECT_EQ(a_in[0].type, MessageType::registered);

    a.send(Message::setup(1, "100", "1701", Bearer::digital).encode());
    ASSERT_TRUE(run_until(io, [&] { return a_in.size() == 2 && b_in.size() == 2; }));
    EXPECT_EQ(a_in[1].type, MessageType::alerting);
    ASSERT_EQ(b_in[1].type, MessageType::setup);
    b->send(Message::connect(b_in[1].call_ref, 64000).encode());
    ASSERT_TRUE(run_until(io, [&] { return a_in.size() == 3; }));
    EXPECT_EQ(a_in[2].type, MessageType::connect);
    std::vector<std::uint8_t> big(1500, 0x5A);
    a.send(Message::data(1, big).encode());
    ASSERT_TRUE(run_until(io, [&] { return b_in.size() == 4; }));  // CONNECT ACK, DATA
    EXPECT_EQ(b_in[3].payload, big);

    b.reset();  // the callee goes away: the caller gets RELEASE cause 27
    ASSERT_TRUE(run_until(io, [&] { return a_in.size() == 4; }));
    EXPECT_EQ(a_in[3].type, MessageType::release);
    EXPECT_EQ(a_in[3].cause, cause::destination_out_of_order);
    EXPECT_FALSE(b_closed);  // destroyed by its owner: no callback
    std::filesystem::remove_all(dir);
}
