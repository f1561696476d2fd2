#include "dl/loadgen/batch_udp.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

namespace dl::loadgen {

BatchUdp::BatchUdp(EventLoop& loop, std::uint32_t address, std::uint16_t port, Receive on_receive, std::size_t batch)
    : loop_(loop), on_receive_(std::move(on_receive)), buf_(batch * kSlot), msgs_(batch), iov_(batch), from_(batch) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
    int size = 4 << 20;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);  // best effort: capped at rmem_max
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(address);
    a.sin_port = htons(port);
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
        const int err = errno;
        ::close(fd_);
        char text[INET_ADDRSTRLEN] = {};
        ::inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
        throw std::system_error(err, std::generic_category(),
                                "cannot bind to " + std::string(text) + ":" + std::to_string(port));
    }
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    for (std::size_t i = 0; i < batch; ++i) {
        iov_[i] = {buf_.data() + i * kSlot, kSlot};
        msgs_[i].msg_hdr.msg_iov = &iov_[i];
        msgs_[i].msg_hdr.msg_iovlen = 1;
        msgs_[i].msg_hdr.msg_name = &from_[i];
    }
    try {
        loop_.watch(fd_, [this] { drain(); });
    } catch (...) {
        ::close(fd_);
        throw;
    }
}

BatchUdp::~BatchUdp() {
    loop_.unwatch(fd_);
    ::close(fd_);
}

void BatchUdp::drain() {
    ++counters_.wakeups;
    const auto n_slots = static_cast<unsigned>(msgs_.size());
    for (int round = 0; round < kRounds; ++round) {
        for (auto& m : msgs_) m.msg_hdr.msg_namelen = sizeof(sockaddr_in);
        const int n = ::recvmmsg(fd_, msgs_.data(), n_slots, MSG_DONTWAIT, nullptr);
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ++counters_.errors;
            return;
        }
        ++counters_.batches;
        for (int i = 0; i < n; ++i) {
            ++counters_.datagrams;
            const auto& h = msgs_[static_cast<std::size_t>(i)];
            if (h.msg_hdr.msg_flags & MSG_TRUNC) {
                ++counters_.truncated;
                continue;
            }
            const auto& f = from_[static_cast<std::size_t>(i)];
            on_receive_(ntohl(f.sin_addr.s_addr), ntohs(f.sin_port),
                        {static_cast<const std::uint8_t*>(iov_[static_cast<std::size_t>(i)].iov_base), h.msg_len});
        }
        if (static_cast<unsigned>(n) < n_slots) return;  // ran dry before the batch filled
    }
}

}  // namespace dl::loadgen
