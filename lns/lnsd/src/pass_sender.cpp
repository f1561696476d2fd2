// Datagrams of one UDP socket sent once per pass of lnsd's loop. See pass_sender.hpp.
#include "dl/lnsd/pass_sender.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace dl::lnsd {

PassSender::PassSender(std::size_t slots, std::size_t slot_size)
    : copies_((slots == 0 || slots > 1024) ? throw std::invalid_argument("PassSender: slots 1..1024") : slots,
              slot_size, 0),
      sender_(slots) {}

sockaddr_in PassSender::destination(std::uint32_t address, std::uint16_t port) noexcept {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(address);
    a.sin_port = htons(port);
    return a;
}

void PassSender::set_socket(int fd) noexcept {
    if (fd != fd_) flush();
    fd_ = fd;
}

void PassSender::defer(Post post) { pass_flush_.defer(std::move(post)); }

bool PassSender::send(const sockaddr_in& to, std::span<const std::uint8_t> datagram) noexcept {
    ++queued_;
    if (fd_ < 0) {
        ++dropped_;
        return false;
    }
    if (datagram.size() > copies_.buffer_size()) {
        // Longer than a slot (rare: an L2TP control message with long AVPs): what waits goes
        // first, then this one on its own.
        flush();
        ++direct_;
        for (;;) {
            const ssize_t n = ::sendto(fd_, datagram.data(), datagram.size(), 0, reinterpret_cast<const sockaddr*>(&to),
                                       sizeof to);
            if (n >= 0) {
                ++direct_sent_;
                return true;
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                ++direct_would_block_;
            else
                ++direct_errors_;
            return false;
        }
    }
    if (copies_.full()) flush();
    if (!copies_.push(datagram)) {  // cannot happen after the flush above; counted if it does
        ++dropped_;
        return false;
    }
    const dataplane::Packet& p = copies_[copies_.size() - 1];
    if (!sender_.add(fd_, p.bytes(), &to)) return false;  // counted by the sender (errors)
    flush_later();
    return true;
}

void PassSender::flush_later() noexcept { pass_flush_.request(); }

void PassSender::flush() noexcept {
    if (sender_.pending() > 0) sender_.flush(fd_);  // queued only while fd_ ≥ 0 (set_socket flushes first)
    copies_.reset();
}

const PassSenderCounters& PassSender::counters() const noexcept {
    counters_.queued = queued_;
    counters_.sent = sender_.sent() + direct_sent_;
    counters_.syscalls = sender_.syscalls() + direct_;
    counters_.direct = direct_;
    counters_.would_block = sender_.would_block() + direct_would_block_;
    counters_.errors = sender_.errors() + direct_errors_ + dropped_;
    return counters_;
}

}  // namespace dl::lnsd
