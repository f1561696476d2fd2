// Boost.Asio UDP adapter of lnsd: one socket on address:port, datagrams to/from the Lns core.
// Receives in batches (recvmmsg, several datagrams per wakeup); lnsd's data fast path sends on
// native_handle() with sendmmsg (data_path.hpp), control messages go through send().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "dl/core/ipv4.hpp"
#include "dl/l2tp/engine/engine.hpp"

namespace boost::asio {
class io_context;
}

namespace dl::lnsd {

/// Receive statistics of a UdpEndpoint.
struct UdpCounters {
    std::uint64_t wakeups = 0;     ///< readiness callbacks that received ≥ 1 datagram
    std::uint64_t batches = 0;     ///< recvmmsg calls that returned ≥ 1 datagram
    std::uint64_t datagrams = 0;   ///< datagrams handed to on_receive
    std::uint64_t truncated = 0;   ///< datagrams longer than the receive buffer: dropped
    std::uint64_t errors = 0;      ///< recvmmsg errors other than EAGAIN
    std::uint64_t send_errors = 0; ///< send() failures
};

/// A bound UDP socket; received datagrams go to `on_receive(peer, bytes)` (PeerId = ip<<16|port).
/// When the socket is readable, up to `budget` datagrams are received with recvmmsg in batches
/// of `batch` (no allocation per datagram; `bytes` is valid during the call only), then the
/// endpoint re-arms so other handlers get their turn. std::system_error if the bind fails, naming
/// the address and port ("… (in use by another process)" for EADDRINUSE: no SO_REUSEADDR, so a
/// second lnsd cannot share the first one's socket). Use from the io_context's thread only.
class UdpEndpoint {
public:
    using Receive = std::function<void(l2tp::engine::PeerId, std::span<const std::uint8_t>)>;
    UdpEndpoint(boost::asio::io_context& io, core::Ipv4Address address, std::uint16_t port, Receive on_receive,
                std::size_t batch = 64, std::size_t budget = 256);
    ~UdpEndpoint();
    UdpEndpoint(const UdpEndpoint&) = delete;
    UdpEndpoint& operator=(const UdpEndpoint&) = delete;

    /// Sends one datagram (synchronously; send errors are counted, never thrown).
    void send(l2tp::engine::PeerId peer, const std::vector<std::uint8_t>& bytes);
    /// Called after every received batch has been handed to on_receive (e.g. to flush sends).
    void set_batch_end(std::function<void()> fn);
    std::uint16_t local_port() const;
    /// The socket's fd (for sendmmsg by the data fast path); -1 once closed.
    int native_handle() const;
    std::uint64_t send_errors() const noexcept;
    const UdpCounters& counters() const noexcept;
    void close();

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace dl::lnsd
