#include "dl/loadgen/triggers.hpp"

#include <cerrno>
#include <stdexcept>

namespace dl::loadgen {

TriggerSender::TriggerSender(int fd, std::span<const sockaddr_in> dests, std::string_view payload)
    : fd_(fd), dests_(dests), iov_{const_cast<char*>(payload.data()), payload.size()}, msgs_(kBatch) {
    for (auto& m : msgs_) {
        m.msg_hdr.msg_iov = &iov_;
        m.msg_hdr.msg_iovlen = 1;
        m.msg_hdr.msg_namelen = sizeof(sockaddr_in);
    }
}

std::size_t TriggerSender::send(std::size_t first, std::size_t count) {
    if (first > dests_.size() || count > dests_.size() - first)
        throw std::out_of_range("TriggerSender::send: sites beyond the destinations");
    std::size_t refused = 0;
    while (count > 0) {
        const std::size_t n = count < kBatch ? count : kBatch;
        for (std::size_t i = 0; i < n; ++i)
            msgs_[i].msg_hdr.msg_name = const_cast<sockaddr_in*>(&dests_[first + i]);
        std::size_t done = 0;
        while (done < n) {
            ++calls_;
            const int r = ::sendmmsg(fd_, msgs_.data() + done, static_cast<unsigned>(n - done), 0);
            if (r < 0) {
                if (errno == EINTR) continue;
                ++refused;   // the first datagram of the rest is refused: skip it, try the others
                ++done;
                continue;
            }
            done += static_cast<std::size_t>(r);
        }
        first += n;
        count -= n;
    }
    return refused;
}

}  // namespace dl::loadgen
