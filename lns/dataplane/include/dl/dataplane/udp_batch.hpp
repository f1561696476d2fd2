// Batched UDP I/O for the L2TP data path: recvmmsg into a PacketBatch, sendmmsg of queued
// datagrams (Linux recvmmsg(2) / sendmmsg(2)); no allocation after construction.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "dl/dataplane/packet_batch.hpp"

namespace dl::dataplane {

/// Receives up to batch-capacity datagrams per call with one recvmmsg (MSG_DONTWAIT) on a
/// non-blocking or blocking IPv4 UDP socket.
class UdpBatchReceiver {
public:
    /// `capacity`: most datagrams per receive() (≥ 1).
    explicit UdpBatchReceiver(std::size_t capacity);
    /// Appends datagrams to `batch` (at most its free slots); returns how many. 0 when none is
    /// waiting (EAGAIN) or on error (counted in errors()). A datagram longer than the batch's
    /// buffer_size is dropped (MSG_TRUNC, counted in truncated()).
    std::size_t receive(int fd, PacketBatch& batch) noexcept;
    /// Source address of the i-th datagram appended by the last receive() (i relative to the
    /// batch size before that call).
    const sockaddr_in& source(std::size_t i) const noexcept { return sources_[i]; }
    std::uint64_t errors() const noexcept { return errors_; }
    std::uint64_t truncated() const noexcept { return truncated_; }

private:
    std::vector<mmsghdr> msgs_;
    std::vector<iovec> iov_;
    std::vector<sockaddr_in> sources_;
    std::uint64_t errors_ = 0, truncated_ = 0;
};

/// Queues datagrams (pointers, not copies: the bytes must stay valid until flush()) and sends
/// them with sendmmsg. A full queue is flushed automatically by add().
class UdpBatchSender {
public:
    /// `capacity`: most datagrams queued (1..1024). `nonblocking`: send with MSG_DONTWAIT, so a
    /// full socket buffer (EAGAIN) drops the rest of the burst (counted in would_block()) instead
    /// of blocking the forwarding thread; false: the socket's own blocking mode applies.
    explicit UdpBatchSender(std::size_t capacity, bool nonblocking = false);
    /// Queues `datagram` to `destination` (nullptr: the socket's connected peer).
    /// Returns false only if the queue was full and the automatic flush failed (datagram dropped).
    bool add(int fd, std::span<const std::uint8_t> datagram, const sockaddr_in* destination = nullptr) noexcept;
    /// Sends everything queued with as few sendmmsg calls as the kernel allows; returns the
    /// number sent. A partial send (sendmmsg accepting fewer than offered) and EINTR are retried
    /// from the first unsent datagram; EAGAIN drops every datagram still queued (would_block());
    /// ECONNREFUSED (a connected socket reporting an earlier datagram's ICMP error, udp(7)) is
    /// counted in refused() and the datagram offered once more; any other error drops the one
    /// datagram the kernel refused (errors()) and goes on.
    std::size_t flush(int fd) noexcept;
    std::size_t pending() const noexcept { return pending_; }
    std::uint64_t sent() const noexcept { return sent_; }
    std::uint64_t errors() const noexcept { return errors_; }
    std::uint64_t would_block() const noexcept { return would_block_; }
    std::uint64_t refused() const noexcept { return refused_; }
    std::uint64_t syscalls() const noexcept { return syscalls_; }

private:
    std::vector<mmsghdr> msgs_;
    std::vector<iovec> iov_;
    std::vector<sockaddr_in> dests_;
    int flags_ = 0;
    std::size_t pending_ = 0;
    std::uint64_t sent_ = 0, errors_ = 0, would_block_ = 0, syscalls_ = 0, refused_ = 0;
};

}  // namespace dl::dataplane
