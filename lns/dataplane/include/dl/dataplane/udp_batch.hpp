// Batched UDP I/O for the L2TP data path: recvmmsg into a PacketBatch, sendmmsg of queued
// datagrams (Linux recvmmsg(2) / sendmmsg(2)); no allocation after construction.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "dl/dataplane/packet_batch.hpp"

namespace dl::dataplane {

/// Receives up to batch-capacity datagrams per call with one recvmmsg (MSG_DONTWAIT) on a
/// non-blocking or blocking IPv4 UDP socket.
///
/// Small slots, whole datagrams: with `max_datagram` larger than the batch's buffer_size, each
/// message gets a second iovec (readv-style scatter, Linux recvmmsg(2) / recvmsg(2)) into its
/// own spill area of `max_datagram` octets, allocated once and left untouched (not even zeroed,
/// so not resident) until a datagram longer than its slot arrives. The batch's slots can then
/// be sized for the common packet (e.g. 2 KiB: a 1 500-octet PPP frame and its headers) and
/// packed densely in the cache, while a longer datagram (an L2TP control message may be as long
/// as UDP allows) is still received whole: datagram() hands it on contiguous.
class UdpBatchReceiver {
public:
    /// `capacity`: most datagrams per receive() (1..1024). `max_datagram`: longest datagram
    /// received whole (0: the batch's buffer_size, no spill area). std::invalid_argument otherwise.
    explicit UdpBatchReceiver(std::size_t capacity, std::size_t max_datagram = 0);
    /// Appends datagrams to `batch` (at most its free slots); returns how many. 0 when none is
    /// waiting (EAGAIN) or on error (counted in errors()). A datagram longer than the batch's
    /// buffer_size and than max_datagram is dropped (the kernel truncated it, MSG_TRUNC; counted
    /// in truncated()). One longer than buffer_size but within max_datagram is received whole
    /// (counted in spilled()): its slot holds the first buffer_size octets (Packet::length is
    /// buffer_size), datagram() gives all of it.
    std::size_t receive(int fd, PacketBatch& batch) noexcept;
    /// The i-th datagram appended by the last receive() (i relative to the batch size before that
    /// call), whole: the slot's bytes, or for a spilled datagram its spill area (slot part copied
    /// in front of the rest). Valid until the next receive() or until `batch` is reset.
    std::span<const std::uint8_t> datagram(std::size_t i, const PacketBatch& batch) const noexcept;
    /// Source address of the i-th datagram appended by the last receive() (i relative to the
    /// batch size before that call).
    const sockaddr_in& source(std::size_t i) const noexcept { return sources_[i]; }
    std::uint64_t errors() const noexcept { return errors_; }
    std::uint64_t truncated() const noexcept { return truncated_; }
    /// Datagrams longer than their slot received whole through the spill area.
    std::uint64_t spilled() const noexcept { return spilled_; }
    /// receive() calls that prepared every message header (the first one, and each one whose
    /// batch memory, first free slot, room or slot size differs from the previous call's); the
    /// others re-prepare only the headers the previous call used.
    std::uint64_t full_preparations() const noexcept { return full_preparations_; }

private:
    std::uint8_t* spill(std::size_t i) const noexcept { return spill_.get() + i * max_datagram_; }
    std::vector<mmsghdr> msgs_;
    std::vector<iovec> iov_;  // two per message: the batch's slot, then the spill area past it
    std::vector<sockaddr_in> sources_;
    std::vector<std::uint32_t> lengths_;  // whole length of each appended datagram
    std::size_t max_datagram_ = 0;
    std::unique_ptr<std::uint8_t[]> spill_;  // capacity × max_datagram, default-initialised
    std::size_t base_ = 0;                   // batch size before the last receive()
    // The slots the headers were prepared for (the first two slots' buffers, the room, the slot
    // size) and how many headers the last recvmmsg may have written back.
    const std::uint8_t* prepared_first_ = nullptr;
    const std::uint8_t* prepared_second_ = nullptr;
    std::size_t prepared_room_ = 0, prepared_slot_ = 0, used_ = 0;
    std::uint64_t errors_ = 0, truncated_ = 0, spilled_ = 0, full_preparations_ = 0;
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
