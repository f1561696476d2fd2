// Boost.Asio UDP adapter for the sans-I/O RADIUS client: one socket per local address, any number
// of requests in flight over it (their Identifiers are per server, RFC 5080 §2.2.1).
#pragma once
#include <cstdint>
#include <memory>

#include "dl/radius/client/client.hpp"

namespace boost::asio {
class io_context;
}

namespace dl::radius::client {

/// One UDP socket bound to `local` (port 0: ephemeral) feeding a Client.
///
/// Wiring: construct the transport, construct the Client with `transport.sender()`, then
/// `transport.start(client)`; drive the Client's TimerQueue with core::AsioTimerDriver on the same
/// io_context. Datagrams up to 4096 octets (RFC 2865 §3) are handed to Client::on_datagram with
/// their source; larger ones are counted as oversize and dropped. Every answer waiting when the
/// socket turns readable is read in that one wake-up, 16 per recvmmsg(2) into buffers prepared at
/// construction (no allocation per datagram; at most 64 per wake-up, the rest on the loop's next
/// pass), and handed over in arrival order. Sends are non-blocking; a failed
/// send is counted (the request's retransmission timer still runs). Single-threaded: everything
/// on the io_context's thread. std::system_error if the socket cannot be opened or bound.
class AsioUdpTransport {
public:
    AsioUdpTransport(boost::asio::io_context& io, Endpoint local);
    ~AsioUdpTransport();
    AsioUdpTransport(const AsioUdpTransport&) = delete;
    AsioUdpTransport& operator=(const AsioUdpTransport&) = delete;

    /// The bound address and port (kept after stop()).
    Endpoint local_endpoint() const;
    /// A send function for Client's constructor (valid while the transport lives): one
    /// sendto(2) per datagram, at once.
    Client::SendFn sender();
    /// The socket's descriptor (non-blocking), for an owner that sends on it itself (e.g.
    /// batched with sendmmsg); -1 once stopped. Its datagrams are not counted in datagrams_sent().
    int native_handle() const noexcept;
    /// Starts receiving into `client` (which must outlive the transport or stop()).
    void start(Client& client);
    /// Stops receiving and closes the socket.
    void stop();

    std::uint64_t datagrams_sent() const noexcept;
    std::uint64_t datagrams_received() const noexcept;
    std::uint64_t send_errors() const noexcept;
    std::uint64_t oversize() const noexcept;
    /// recvmmsg(2) calls that returned at least one datagram (a wake-up makes one per 16 answers).
    std::uint64_t receive_batches() const noexcept;
    /// recvmmsg(2) errors other than EAGAIN (e.g. ECONNREFUSED after a server's ICMP port
    /// unreachable); receiving goes on.
    std::uint64_t receive_errors() const noexcept;

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace dl::radius::client
