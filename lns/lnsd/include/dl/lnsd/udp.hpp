// Boost.Asio UDP adapter of lnsd: one socket on address:port, datagrams to/from the Lns core.
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

/// A bound UDP socket; received datagrams go to `on_receive(peer, bytes)` (PeerId = ip<<16|port).
/// std::system_error if the bind fails. Use from the io_context's thread only.
class UdpEndpoint {
public:
    using Receive = std::function<void(l2tp::engine::PeerId, std::span<const std::uint8_t>)>;
    UdpEndpoint(boost::asio::io_context& io, core::Ipv4Address address, std::uint16_t port, Receive on_receive);
    ~UdpEndpoint();
    UdpEndpoint(const UdpEndpoint&) = delete;
    UdpEndpoint& operator=(const UdpEndpoint&) = delete;

    /// Sends one datagram (synchronously; send errors are counted, never thrown).
    void send(l2tp::engine::PeerId peer, const std::vector<std::uint8_t>& bytes);
    std::uint16_t local_port() const;
    std::uint64_t send_errors() const noexcept;
    void close();

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace dl::lnsd
