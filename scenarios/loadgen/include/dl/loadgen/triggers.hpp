// The dial-out triggers of the load generator: one UDP datagram per site, to the site's destination
// address, sent from the home network so that the LNS's dial-out route catches it (JunosE "L2TP
// Dial-Out": a packet to a dial-out route's destination triggers the call). The triggers that are
// due at one wake-up of the pace timer leave in one sendmmsg(2) call instead of one sendto(2) each.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace dl::loadgen {

/// Sends the triggers of sites [first, first + count) of `dests` from the UDP socket `fd` with
/// sendmmsg(2), at most kBatch datagrams per call, the same `payload` in each. The message
/// headers are prepared once (their addresses point into `dests`, which must outlive the sender
/// and not move). Not thread-safe.
class TriggerSender {
public:
    static constexpr std::size_t kBatch = 256;
    TriggerSender(int fd, std::span<const sockaddr_in> dests, std::string_view payload);
    /// Sends `count` triggers starting at site `first` (first + count ≤ dests.size(), else
    /// std::out_of_range). Returns how many the socket refused (an error, or a short sendmmsg
    /// whose next call fails): those datagrams are not retried (the caller counts them).
    std::size_t send(std::size_t first, std::size_t count);
    /// sendmmsg(2) calls made so far.
    std::uint64_t calls() const noexcept { return calls_; }

private:
    int fd_;
    std::span<const sockaddr_in> dests_;
    iovec iov_;
    std::vector<mmsghdr> msgs_;
    std::uint64_t calls_ = 0;
};

}  // namespace dl::loadgen
