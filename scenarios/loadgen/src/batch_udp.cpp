#include "dl/loadgen/batch_udp.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <system_error>

#include <boost/asio/post.hpp>

namespace dl::loadgen {

BatchUdp::BatchUdp(boost::asio::io_context& io, std::uint32_t address, std::uint16_t port, Receive on_receive,
                   std::size_t batch)
    : socket_(io), on_receive_(std::move(on_receive)), buf_(batch * kSlot), msgs_(batch), iov_(batch), from_(batch) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
    int size = 4 << 20;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);  // best effort: capped at rmem_max
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(address);
    a.sin_port = htons(port);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
        const int err = errno;
        ::close(fd);
        char text[INET_ADDRSTRLEN] = {};
        ::inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
        throw std::system_error(err, std::generic_category(),
                                "cannot bind to " + std::string(text) + ":" + std::to_string(port));
    }
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    boost::system::error_code ec;
    socket_.assign(boost::asio::ip::udp::v4(), fd, ec);  // registers it with the reactor (one epoll_ctl)
    if (ec) {
        ::close(fd);
        throw std::system_error(ec.value(), std::generic_category(), "cannot register the socket");
    }
    for (std::size_t i = 0; i < batch; ++i) {
        iov_[i] = {buf_.data() + i * kSlot, kSlot};
        msgs_[i].msg_hdr.msg_iov = &iov_[i];
        msgs_[i].msg_hdr.msg_iovlen = 1;
        msgs_[i].msg_hdr.msg_name = &from_[i];
    }
    wait_ = std::make_unique<core::ReadinessWait<Socket>>(io, socket_, [this](const boost::system::error_code& e) {
        if (e == boost::asio::error::operation_aborted || !socket_.is_open()) return;
        const Drained how = e ? Drained::error : drain();
        switch (how) {
        case Drained::dry: wait_->arm(); break;
        case Drained::budget: wait_->arm_now(); break;
        case Drained::error: wait_->arm_polled(); break;
        }
    });
    wait_->arm();
}

BatchUdp::~BatchUdp() {
    wait_.reset();  // detaches the handler: never called after this
    boost::system::error_code ignored;
    socket_.close(ignored);
}

BatchUdp::Drained BatchUdp::drain() {
    ++counters_.wakeups;
    const int fd = socket_.native_handle();
    const auto n_slots = static_cast<unsigned>(msgs_.size());
    for (int round = 0; round < kRounds; ++round) {
        for (auto& m : msgs_) m.msg_hdr.msg_namelen = sizeof(sockaddr_in);
        const int n = ::recvmmsg(fd, msgs_.data(), n_slots, MSG_DONTWAIT, nullptr);
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                ++counters_.errors;
                return Drained::error;
            }
            return n < 0 && errno == EINTR ? Drained::budget : Drained::dry;
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
        // Fewer than the batch: the socket ran dry (EAGAIN inside recvmmsg). (An error that ended
        // the batch early is kept by recvmmsg for its next call, at the next readiness.)
        if (static_cast<unsigned>(n) < n_slots) return Drained::dry;
    }
    ++counters_.budget_stops;
    return Drained::budget;
}

void SendBatch::send(std::uint32_t address, std::uint16_t port, std::vector<std::uint8_t> bytes) {
    queue_.push_back({address, port, std::move(bytes)});
    if (posted_) return;  // the waiting flush sends this one too
    posted_ = true;
    boost::asio::post(io_, [this] {
        posted_ = false;
        flush();
    });
}

void SendBatch::flush() {
    if (queue_.empty()) return;
    ++flushes_;
    // Headers live in the object, set per datagram: no kBatch-entry zeroing per flush.
    for (std::size_t base = 0; base < queue_.size(); base += kBatch) {
        const std::size_t k = std::min(kBatch, queue_.size() - base);
        for (std::size_t i = 0; i < k; ++i) {
            auto& o = queue_[base + i];
            auto& to = to_[i];
            to.sin_family = AF_INET;
            to.sin_addr.s_addr = htonl(o.address);
            to.sin_port = htons(o.port);
            iov_[i] = {o.bytes.data(), o.bytes.size()};
            auto& h = msgs_[i].msg_hdr;
            h.msg_name = &to;
            h.msg_namelen = sizeof(sockaddr_in);
            h.msg_iov = &iov_[i];
            h.msg_iovlen = 1;
        }
        std::size_t done = 0;
        while (done < k) {
            const int r = ::sendmmsg(fd_, msgs_.data() + done, static_cast<unsigned>(k - done), 0);
            if (r <= 0) {
                errors_ += k - done;
                break;
            }
            done += static_cast<std::size_t>(r);
        }
        ++calls_;
    }
    queue_.clear();
}

}  // namespace dl::loadgen
