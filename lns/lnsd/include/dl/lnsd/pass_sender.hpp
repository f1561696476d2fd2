// Datagrams of one UDP socket sent once per pass of lnsd's loop: the RADIUS requests and the L2TP
// control messages (OCRQ, ZLB acknowledgements, …) a pass produces leave in one sendmmsg.
#pragma once

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "dl/dataplane/packet_batch.hpp"
#include "dl/dataplane/udp_batch.hpp"
#include "dl/lnsd/pass_flush.hpp"

namespace dl::lnsd {

/// Counters of a PassSender.
struct PassSenderCounters {
    std::uint64_t queued = 0;       ///< datagrams handed to send()
    std::uint64_t sent = 0;         ///< accepted by the kernel
    std::uint64_t syscalls = 0;     ///< sendmmsg / sendto calls
    std::uint64_t direct = 0;       ///< longer than a slot: sent at once with sendto (after the queue)
    std::uint64_t would_block = 0;  ///< dropped: non-blocking socket's buffer full (EAGAIN)
    std::uint64_t errors = 0;       ///< dropped: other send errors, or no socket
};

/// A send queue for one UDP socket, flushed once per pass of the owner's event loop.
///
/// send() copies the datagram into a slot (`slots` slots of `slot_size` octets, allocated once:
/// no allocation per datagram) and, after defer(), posts ONE flush on the owner's loop (at most
/// one waits at a time); the flush sends every queued datagram with sendmmsg(2), in the order
/// they were queued. So the datagrams one pass of the loop produces — e.g. lnsd's RADIUS
/// Access-Requests and Accounting-Requests of every call it served, or its L2TP control
/// messages — leave in one system call instead of one sendto(2) each. A retransmission queued
/// from a timer handler leaves in the flush that follows that handler, i.e. at its deadline.
/// Without defer() (the default) every send() is flushed at once. A full queue is flushed
/// before the next datagram is queued; a datagram longer than a slot is sent at once with
/// sendto(2) after what is queued (order kept; counted `direct`).
///
/// Send errors are counted, never thrown (the protocols above retransmit): the socket's own
/// blocking mode applies (a non-blocking socket drops the rest of a burst on EAGAIN, counted
/// would_block). The datagram's bytes need not stay valid after send() returns. Not thread-safe:
/// the event loop's thread only. The PassSender must outlive the posted flush (or the loop must
/// not run it after).
class PassSender {
public:
    /// Queues `work` to run later on the owner's loop, after the handlers already queued (lnsd:
    /// boost::asio::post on its io_context).
    using Post = PassFlush::Post;

    /// `slots`: most datagrams per sendmmsg (1..1024); `slot_size`: longest datagram queued.
    /// std::invalid_argument otherwise.
    explicit PassSender(std::size_t slots = 64, std::size_t slot_size = 4096);
    PassSender(const PassSender&) = delete;
    PassSender& operator=(const PassSender&) = delete;

    /// The socket to send on (-1: none, datagrams are counted as errors). What is queued for
    /// the previous socket is sent first.
    void set_socket(int fd) noexcept;
    int socket() const noexcept { return fd_; }
    /// Flush once per pass of the owner's loop through `post` (see the class comment); an empty
    /// function sends every datagram at once. What is queued is sent first.
    void defer(Post post);
    /// The destination for send(): IPv4 `address` and UDP `port`, both in host byte order.
    static sockaddr_in destination(std::uint32_t address, std::uint16_t port) noexcept;
    /// Queues (or sends) `datagram` to `to`; false if it was dropped at once (no socket, or a
    /// full queue that could not be flushed). Errors of the later flush are counted only.
    bool send(const sockaddr_in& to, std::span<const std::uint8_t> datagram) noexcept;
    /// Sends everything queued now.
    void flush() noexcept;
    /// Datagrams queued and not sent yet.
    std::size_t pending() const noexcept { return sender_.pending(); }
    const PassSenderCounters& counters() const noexcept;

private:
    void flush_later() noexcept;

    int fd_ = -1;
    dataplane::PacketBatch copies_;
    dataplane::UdpBatchSender sender_;
    PassFlush pass_flush_{[this] { flush(); }};
    std::uint64_t direct_sent_ = 0, direct_errors_ = 0, direct_would_block_ = 0, direct_ = 0, queued_ = 0,
                  dropped_ = 0;
    mutable PassSenderCounters counters_;
};

}  // namespace dl::lnsd
