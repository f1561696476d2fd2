// One UDP socket of the load generator, read in recvmmsg(2) batches on an EventLoop.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "dl/loadgen/event_loop.hpp"

namespace dl::loadgen {

/// A non-blocking UDP socket bound to `address:port` (host byte order; port 0: ephemeral), 4 MiB
/// send and receive buffers (best effort), watched by `loop`. On each pass in which it is
/// readable it reads up to kRounds recvmmsg(2) batches of `batch` datagrams into buffers whose
/// headers are prepared once (no allocation per datagram) and hands each datagram, in arrival
/// order, to `on_receive(source address, source port, bytes)` (host byte order). A recvmmsg that
/// fills fewer slots than the batch found the socket empty: no further call; what is left after
/// kRounds full batches is read on the loop's next pass (level-triggered). A datagram longer than
/// kSlot octets (MSG_TRUNC; L2TP control messages from an LNS are far smaller) is counted as
/// truncated and dropped. std::system_error if the socket cannot be opened or bound.
class BatchUdp {
public:
    using Receive = std::function<void(std::uint32_t address, std::uint16_t port, std::span<const std::uint8_t>)>;
    struct Counters {
        std::uint64_t wakeups = 0, batches = 0, datagrams = 0, truncated = 0, errors = 0;
    };
    static constexpr std::size_t kSlot = 4096;
    static constexpr int kRounds = 4;

    BatchUdp(EventLoop& loop, std::uint32_t address, std::uint16_t port, Receive on_receive, std::size_t batch = 32);
    ~BatchUdp();
    BatchUdp(const BatchUdp&) = delete;
    BatchUdp& operator=(const BatchUdp&) = delete;

    int native_handle() const noexcept { return fd_; }
    /// The bound port (host byte order).
    std::uint16_t port() const noexcept { return port_; }
    const Counters& counters() const noexcept { return counters_; }
    /// Reads what waits (up to kRounds batches); called by the loop when the socket is readable.
    void drain();

private:
    EventLoop& loop_;
    int fd_ = -1;
    std::uint16_t port_ = 0;
    Receive on_receive_;
    std::vector<std::uint8_t> buf_;
    std::vector<mmsghdr> msgs_;
    std::vector<iovec> iov_;
    std::vector<sockaddr_in> from_;
    Counters counters_;
};

}  // namespace dl::loadgen
