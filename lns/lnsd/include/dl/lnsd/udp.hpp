// Boost.Asio UDP adapter of lnsd: one socket on address:port, datagrams to/from the Lns core.
// Receives in batches (recvmmsg, several datagrams per wakeup); lnsd's data fast path sends on
// native_handle() with sendmmsg (data_path.hpp), control messages go through send(). Optionally
// one more socket per LAC peer, connected to it on the same address:port (connect_peer), so the
// data sent to that peer skips the kernel's route look-up per datagram.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "dl/core/ipv4.hpp"
#include "dl/l2tp/engine/engine.hpp"
#include "dl/lnsd/pass_sender.hpp"
#include "dl/lnsd/rx_datagram.hpp"

namespace boost::asio {
class io_context;
}

namespace dl::lnsd {

/// Receive statistics of a UdpEndpoint.
struct UdpCounters {
    std::uint64_t wakeups = 0;     ///< readiness callbacks that received ≥ 1 datagram
    std::uint64_t batches = 0;     ///< recvmmsg calls that returned ≥ 1 datagram
    std::uint64_t datagrams = 0;   ///< datagrams handed to on_receive
    std::uint64_t truncated = 0;   ///< datagrams longer than 65 535 octets (MSG_TRUNC): dropped
    std::uint64_t spilled = 0;     ///< datagrams longer than a 2 KiB receive slot, received whole
    std::uint64_t errors = 0;      ///< recvmmsg errors other than EAGAIN
    std::uint64_t send_errors = 0; ///< send() failures (at once, or in the pass's sendmmsg)
    std::uint64_t peer_sockets = 0;         ///< connected per-peer sockets open now (connect_peer)
    std::uint64_t peer_sockets_opened = 0;  ///< … opened since the start
    std::uint64_t peer_sockets_refused = 0; ///< connect_peer refused: max_peer_sockets reached
    std::uint64_t peer_socket_errors = 0;   ///< connect_peer failed (socket, bind or connect error)
};

/// A bound UDP socket; received datagrams go to `on_receive(peer, bytes)` (PeerId = ip<<16|port).
/// When the socket is readable, up to `budget` datagrams are received with recvmmsg in batches
/// of `batch` into 2 KiB slots, a longer datagram whole through a spill area (UdpBatchReceiver;
/// no allocation per datagram; `bytes` is valid during the call only), then the
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

    /// Sends one datagram on the shared socket (send errors are counted, never thrown): at once,
    /// or after defer_sends() with the other datagrams of the loop's pass in one sendmmsg.
    void send(l2tp::engine::PeerId peer, std::span<const std::uint8_t> bytes);
    /// send() queues the datagram (copied) and the datagrams of one pass of the loop leave
    /// together, in order, in one sendmmsg (PassSender; `post` queues work on the io_context).
    /// close() sends what waits first. An empty function: every send() at once (the default).
    /// The endpoint must outlive the posted flush, or the loop must not run it after (lnsd: the
    /// endpoint is destroyed after io_context::run() returned, before the io_context).
    void defer_sends(PassSender::Post post);
    /// The send queue's counters (sendmmsg calls, datagrams sent, drops).
    const PassSenderCounters& send_counters() const noexcept;
    /// A UDP socket bound to this endpoint's address:port and connected to `peer`, for the data
    /// fast path to send on (sendmmsg without a destination per datagram: the kernel keeps the
    /// route, Linux udp(7) / connect(2)). Returns its fd, the same one while it is open; -1 (and
    /// the data stays on native_handle()) when max_peer_sockets are open (counted
    /// peer_sockets_refused) or the socket cannot be made (peer_socket_errors). The first call
    /// sets SO_REUSEADDR on the shared socket, which the second bind needs (port 1701 is
    /// privileged, so only another privileged process could then bind it too).
    /// Receiving: the kernel hands a connected socket the datagrams of its 4-tuple in preference
    /// to the shared socket, so every datagram from `peer`, control messages included, arrives
    /// on it; it is read like the shared socket and handed to the same on_receive (with `peer`).
    /// New peers (an SCCRQ) still arrive on the shared socket. Datagrams that another peer sent
    /// in the instant between this socket's bind and its connect are read from it too: nothing
    /// is lost, though such a datagram may overtake one queued on the shared socket.
    int connect_peer(l2tp::engine::PeerId peer);
    /// The peer's connected socket is no longer needed: what it has received is read and handed
    /// on, then it is closed (after the current handler returns, from the io_context); the peer's
    /// later datagrams arrive on the shared socket. A connect_peer before then keeps it open.
    void release_peer(l2tp::engine::PeerId peer);
    /// Most connected per-peer sockets open at once (a peer can make lnsd open one: bounded).
    /// 0: none, every datagram on the shared socket. Default 256.
    void set_max_peer_sockets(std::size_t n) noexcept;
    /// Each recvmmsg batch (≤ `batch` datagrams, every socket's) goes whole, in order, to `fn`
    /// in one call, instead of one on_receive call per datagram (lnsd: Lns::receive_batch, which
    /// looks the batch's sessions up before delivering any). The datagrams' bytes are valid
    /// during the call only. A handler that closes the endpoint stops the drain after the batch
    /// (on_receive: after the datagram). An empty function: on_receive again (the default).
    using BatchReceive = std::function<void(std::span<const RxDatagram>)>;
    void set_batch_receive(BatchReceive fn);
    /// Called after every received batch has been handed to on_receive (e.g. to flush sends).
    void set_batch_end(std::function<void()> fn);
    std::uint16_t local_port() const;
    /// The shared socket's fd (for sendmmsg by the data fast path); -1 once closed.
    int native_handle() const;
    std::uint64_t send_errors() const noexcept;
    const UdpCounters& counters() const noexcept;
    /// Closes the shared socket and every per-peer socket.
    void close();

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace dl::lnsd
