#include "dl/dataplane/udp_batch.hpp"

#include <algorithm>
#include <cerrno>
#include <stdexcept>

namespace dl::dataplane {

UdpBatchReceiver::UdpBatchReceiver(std::size_t capacity, std::size_t max_datagram)
    : msgs_(capacity), iov_(2 * capacity), sources_(capacity), lengths_(capacity), max_datagram_(max_datagram) {
    if (capacity == 0 || capacity > 1024) throw std::invalid_argument("UdpBatchReceiver: capacity 1..1024");
    if (max_datagram > 65535) throw std::invalid_argument("UdpBatchReceiver: max_datagram 0..65535");
    // new T[] without (): default-initialised, so the kernel maps the pages only when a long
    // datagram is written there.
    if (max_datagram) spill_.reset(new std::uint8_t[capacity * max_datagram]);
}

std::size_t UdpBatchReceiver::receive(int fd, PacketBatch& batch) noexcept {
    const std::size_t room = std::min(msgs_.size(), batch.capacity() - batch.size());
    base_ = batch.size();
    if (room == 0) return 0;
    const std::size_t slot = batch.buffer_size();
    const bool spills = max_datagram_ > slot;
    // The message headers and I/O vectors stay prepared between calls for the same slots (same
    // batch memory, first free slot, room and slot size): recvmmsg writes only msg_len,
    // msg_flags, msg_namelen and msg_controllen back (and the source addresses), so only the
    // messages the last call used are re-prepared — one or two for a control message, not 64.
    std::uint8_t* const first = batch.slot_buffer(base_);
    std::uint8_t* const second = room > 1 ? batch.slot_buffer(base_ + 1) : nullptr;
    if (first != prepared_first_ || second != prepared_second_ || room != prepared_room_ || slot != prepared_slot_) {
        for (std::size_t i = 0; i < room; ++i) {
            iovec* v = &iov_[2 * i];
            v[0].iov_base = batch.slot_buffer(base_ + i);
            v[0].iov_len = slot;
            if (spills) {  // the octets past the slot land in the spill area, behind room for the slot's copy
                v[1].iov_base = spill(i) + slot;
                v[1].iov_len = max_datagram_ - slot;
            }
            msgs_[i] = mmsghdr{};
            msgs_[i].msg_hdr.msg_iov = v;
            msgs_[i].msg_hdr.msg_iovlen = spills ? 2 : 1;
            msgs_[i].msg_hdr.msg_name = &sources_[i];
            msgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
        }
        prepared_first_ = first;
        prepared_second_ = second;
        prepared_room_ = room;
        prepared_slot_ = slot;
        ++full_preparations_;
    } else {
        for (std::size_t i = 0; i < used_; ++i) {
            msgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
            msgs_[i].msg_hdr.msg_flags = 0;
            msgs_[i].msg_len = 0;
        }
    }
    int n;
    do {
        n = ::recvmmsg(fd, msgs_.data(), static_cast<unsigned>(room), MSG_DONTWAIT, nullptr);
    } while (n < 0 && errno == EINTR);
    // Messages the kernel may have written back: the n filled ones and, to be safe, the one
    // after them (a failed receive writes nothing back, recvmmsg(2)).
    used_ = std::min(room, static_cast<std::size_t>(n > 0 ? n : 0) + 1);
    if (n <= 0) {
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) ++errors_;
        return 0;
    }
    std::size_t added = 0;
    for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
        if (msgs_[i].msg_hdr.msg_flags & MSG_TRUNC) {
            ++truncated_;
            continue;
        }
        const std::size_t len = msgs_[i].msg_len;
        Packet* p = batch.free_slot(0);
        const std::size_t in_slot = std::min(len, slot);
        if (added != i) {  // a truncated datagram left a hole: move this one down
            sources_[added] = sources_[i];
            std::copy_n(static_cast<const std::uint8_t*>(iov_[2 * i].iov_base), in_slot, p->data);
            if (len > slot) std::copy_n(spill(i) + slot, len - slot, spill(added) + slot);
        }
        if (len > slot) {  // whole in the spill area: its first `slot` octets in front of the rest
            std::copy_n(p->data, slot, spill(added));
            ++spilled_;
        }
        lengths_[added] = static_cast<std::uint32_t>(len);
        batch.commit(in_slot);
        ++added;
    }
    return added;
}

std::span<const std::uint8_t> UdpBatchReceiver::datagram(std::size_t i, const PacketBatch& batch) const noexcept {
    const Packet& p = batch[base_ + i];
    if (lengths_[i] <= p.length) return {p.data, p.length};
    return {spill(i), lengths_[i]};
}

UdpBatchSender::UdpBatchSender(std::size_t capacity, bool nonblocking)
    : msgs_(capacity), iov_(capacity), dests_(capacity), flags_(nonblocking ? MSG_DONTWAIT : 0) {
    if (capacity == 0 || capacity > 1024) throw std::invalid_argument("UdpBatchSender: capacity 1..1024");
}

bool UdpBatchSender::add(int fd, std::span<const std::uint8_t> datagram, const sockaddr_in* destination) noexcept {
    if (pending_ == msgs_.size()) {
        flush(fd);
        if (pending_ != 0) {
            ++errors_;
            return false;
        }
    }
    const std::size_t i = pending_++;
    iov_[i].iov_base = const_cast<std::uint8_t*>(datagram.data());
    iov_[i].iov_len = datagram.size();
    msgs_[i] = mmsghdr{};
    msgs_[i].msg_hdr.msg_iov = &iov_[i];
    msgs_[i].msg_hdr.msg_iovlen = 1;
    if (destination) {
        dests_[i] = *destination;
        msgs_[i].msg_hdr.msg_name = &dests_[i];
        msgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
    }
    return true;
}

std::size_t UdpBatchSender::flush(int fd) noexcept {
    const std::uint64_t before = sent_;
    std::size_t done = 0;
    bool retried = false;  // the datagram at `done` was offered again after ECONNREFUSED
    while (done < pending_) {
        ++syscalls_;
        const int n = ::sendmmsg(fd, msgs_.data() + done, static_cast<unsigned>(pending_ - done), flags_);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {  // socket buffer full: drop the burst's rest
                would_block_ += pending_ - done;
                break;
            }
            // A connected socket reports an ICMP error that an earlier datagram drew (e.g. port
            // unreachable, udp(7)) on the next send, which it did not send: the error is cleared
            // by reporting it, so the same datagram is offered once more.
            if (errno == ECONNREFUSED && !retried) {
                ++refused_;
                retried = true;
                continue;
            }
            ++errors_;  // the first remaining datagram is refused: drop it and go on
            ++done;
            retried = false;
            continue;
        }
        if (n == 0) {  // nothing accepted and no error: do not spin
            errors_ += pending_ - done;
            break;
        }
        retried = false;
        done += static_cast<std::size_t>(n);  // partial send: retry from the first unsent
        sent_ += static_cast<std::uint64_t>(n);
    }
    pending_ = 0;
    return static_cast<std::size_t>(sent_ - before);
}

}  // namespace dl::dataplane
