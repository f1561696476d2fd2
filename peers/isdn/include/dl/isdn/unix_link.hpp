// Unix-domain SOCK_SEQPACKET transport between isdn-emu and its subscribers (one datagram = one
// Message), on a Boost.Asio io_context. Thin I/O shells around the sans-I/O Exchange and the
// subscriber engines of lac-emu / cpe-emu.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

namespace boost::asio {
class io_context;
}

namespace dl::isdn {

/// The exchange's listening socket. Each accepted connection gets an id (1, 2, …): on_open(id),
/// then on_datagram(id, bytes) per received datagram, on_close(id) when the peer goes away.
/// send(id, bytes) queues a datagram (dropped and counted if more than 4096 are queued).
class SeqPacketServer {
public:
    using Id = std::uint32_t;
    struct Handlers {
        std::function<void(Id)> on_open;
        std::function<void(Id, std::span<const std::uint8_t>)> on_datagram;
        std::function<void(Id)> on_close;
    };
    SeqPacketServer(boost::asio::io_context& io, std::string path, Handlers h);
    ~SeqPacketServer();
    /// Removes a stale socket file, binds (mode 0660), listens. std::system_error on failure.
    void start();
    void send(Id id, std::span<const std::uint8_t> datagram);
    void close(Id id);
    std::uint64_t dropped() const noexcept;

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

/// A subscriber's connection to isdn-emu. on_datagram per received datagram; on_close when the
/// exchange goes away (the owner decides whether to reconnect).
class SeqPacketClient {
public:
    struct Handlers {
        std::function<void(std::span<const std::uint8_t>)> on_datagram;
        std::function<void()> on_close;
    };
    SeqPacketClient(boost::asio::io_context& io, Handlers h);
    ~SeqPacketClient();
    /// Connects (blocking, local socket). std::system_error on failure.
    void connect(const std::string& path);
    bool connected() const noexcept;
    void send(std::span<const std::uint8_t> datagram);

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace dl::isdn
