// The load generator's UDP sockets on its Boost.Asio io_context: received in recvmmsg(2) batches
// (BatchUdp, re-armed through core::ReadinessWait) and sent in sendmmsg(2) batches, one posted
// flush per pass of the loop (SendBatch).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include "dl/core/readiness.hpp"

namespace dl::loadgen {

/// A non-blocking UDP socket bound to `address:port` (host byte order; port 0: ephemeral), 4 MiB
/// send and receive buffers (best effort), read on `io`. Its read readiness is waited for with
/// core::ReadinessWait (Boost.Asio's epoll reactor, no system call per re-arm): on each readiness
/// it reads up to kRounds recvmmsg(2) batches of `batch` datagrams into buffers whose headers are
/// prepared once (no allocation per datagram) and hands each datagram, in arrival order, to
/// `on_receive(source address, source port, bytes)` (host byte order). Then it re-arms: arm()
/// when a recvmmsg filled fewer slots than the batch (the socket ran dry: EAGAIN inside it),
/// arm_now() after kRounds full batches (the rest is read after the handlers already queued),
/// arm_polled() after a receive error or a failed wait. A datagram longer than kSlot octets
/// (MSG_TRUNC; L2TP control messages from an LNS are far smaller) is counted as truncated and
/// dropped. std::system_error if the socket cannot be opened or bound. Destroy it before `io`;
/// `on_receive` is never called after destruction. The io_context's thread only.
class BatchUdp {
public:
    using Receive = std::function<void(std::uint32_t address, std::uint16_t port, std::span<const std::uint8_t>)>;
    /// How a drain ended, i.e. how the readiness wait is re-armed (see the class comment).
    enum class Drained { dry, budget, error };
    struct Counters {
        std::uint64_t wakeups = 0;       ///< drains (readiness handler runs)
        std::uint64_t batches = 0;       ///< recvmmsg calls that returned datagrams
        std::uint64_t datagrams = 0;     ///< datagrams received (truncated ones included)
        std::uint64_t truncated = 0;     ///< longer than kSlot, dropped
        std::uint64_t errors = 0;        ///< receive errors (other than EAGAIN, EINTR)
        std::uint64_t budget_stops = 0;  ///< drains that stopped after kRounds full batches
    };
    static constexpr std::size_t kSlot = 4096;
    static constexpr int kRounds = 4;

    BatchUdp(boost::asio::io_context& io, std::uint32_t address, std::uint16_t port, Receive on_receive,
             std::size_t batch = 32);
    ~BatchUdp();
    BatchUdp(const BatchUdp&) = delete;
    BatchUdp& operator=(const BatchUdp&) = delete;

    int native_handle() noexcept { return socket_.native_handle(); }
    /// The bound port (host byte order).
    std::uint16_t port() const noexcept { return port_; }
    const Counters& counters() const noexcept { return counters_; }

private:
    using Socket = boost::asio::ip::udp::socket;
    /// Reads what waits, up to kRounds batches.
    Drained drain();

    core::ReactorSocket<Socket> socket_;
    std::unique_ptr<core::ReadinessWait<Socket>> wait_;
    std::uint16_t port_ = 0;
    Receive on_receive_;
    std::vector<std::uint8_t> buf_;
    std::vector<mmsghdr> msgs_;
    std::vector<iovec> iov_;
    std::vector<sockaddr_in> from_;
    Counters counters_;
};

/// Datagrams queued on socket `fd` during one pass of `io` and sent together with sendmmsg(2)
/// (at most kBatch per call) by one flush handler posted on `io` at the first send() after a
/// flush (at most one waits, as lnsd's PassFlush): it runs after the handlers already queued, so
/// the answers to a whole recvmmsg batch, and what the handlers queued before the flush send,
/// leave in one call. Datagrams the socket refuses (EAGAIN, …) are dropped and counted: L2TP
/// retransmits (RFC 2661 §5.8). Headers are prepared once; the queue's storage is reused. A
/// SendBatch must outlive every run of `io` after a send() (or `io` must not run again: the
/// posted flush holds `this`). The io_context's thread only.
class SendBatch {
public:
    static constexpr std::size_t kBatch = 64;

    SendBatch(boost::asio::io_context& io, int fd) : io_(io), fd_(fd) {}
    SendBatch(const SendBatch&) = delete;
    SendBatch& operator=(const SendBatch&) = delete;

    /// Queues `bytes` to `address:port` (host byte order) and makes sure a flush is posted.
    void send(std::uint32_t address, std::uint16_t port, std::vector<std::uint8_t> bytes);
    /// Sends everything queued now.
    void flush();
    /// Datagrams the socket refused.
    std::uint64_t errors() const noexcept { return errors_; }
    /// sendmmsg calls (one per kBatch datagrams of a flush).
    std::uint64_t calls() const noexcept { return calls_; }
    /// Flushes run (posted ones and direct flush() calls that found something queued).
    std::uint64_t flushes() const noexcept { return flushes_; }

private:
    struct Out {
        std::uint32_t address;
        std::uint16_t port;
        std::vector<std::uint8_t> bytes;
    };
    boost::asio::io_context& io_;
    int fd_;
    bool posted_ = false;
    std::vector<Out> queue_;
    std::array<mmsghdr, kBatch> msgs_{};  // zeroed once; control, flags stay 0
    std::array<iovec, kBatch> iov_{};
    std::array<sockaddr_in, kBatch> to_{};
    std::uint64_t errors_ = 0, calls_ = 0, flushes_ = 0;
};

}  // namespace dl::loadgen
