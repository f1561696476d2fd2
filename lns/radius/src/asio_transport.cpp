// Boost.Asio UDP adapter for the RADIUS client. See asio_transport.hpp.
#include "dl/radius/client/asio_transport.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

namespace dl::radius::client {

namespace asio = boost::asio;
using udp = asio::ip::udp;

namespace {
udp::endpoint to_asio(const Endpoint& e) { return {asio::ip::address_v4(e.address), e.port}; }
Endpoint from_asio(const udp::endpoint& e) {
    return {e.address().is_v4() ? e.address().to_v4().to_uint() : 0u, e.port()};
}
}  // namespace

/// The socket and its receive batch. Answers are read with recvmmsg(2) into kBatch slots of
/// kMaxLength + 1 octets whose headers are prepared once (the extra octet tells an oversize
/// datagram from a 4096-octet one, RFC 2865 §3), so a wake-up costs its system calls and no
/// allocation. The readiness wait is Asio's `async_wait(wait_read)`: in Boost 1.74 it costs one
/// epoll_ctl(EPOLL_CTL_MOD) per re-arm, and a speculative `async_receive_from` costs one
/// recvfrom(2) (EAGAIN) per re-arm instead (its epoll_reactor tries every datagram socket's read
/// first), so either re-arm is one system call; with the wait, a wake-up is that call plus one
/// recvmmsg for up to kBatch - 1 answers, where a speculative read would add a recvfrom for the
/// first answer and leave the drain's recvmmsg to find the queue empty.
struct AsioUdpTransport::Impl : std::enable_shared_from_this<Impl> {
    static constexpr std::size_t kBatch = 16;       ///< datagrams per recvmmsg
    static constexpr int kRoundsPerWakeup = 4;      ///< full batches read before yielding the loop
    static constexpr std::size_t kSlot = Radius::kMaxLength + 1;

    explicit Impl(asio::io_context& io) : socket(io) {
        for (std::size_t i = 0; i < kBatch; ++i) {
            iov[i] = {buffer.data() + i * kSlot, kSlot};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &from[i];
        }
    }
    udp::socket socket;
    Client* client = nullptr;
    std::array<std::uint8_t, kBatch * kSlot> buffer{};
    std::array<mmsghdr, kBatch> msgs{};  // zeroed once; control stays empty
    std::array<iovec, kBatch> iov{};
    std::array<sockaddr_in, kBatch> from{};
    Endpoint bound;
    std::uint64_t sent = 0, received = 0, send_errors = 0, oversize = 0, batches = 0, receive_errors = 0;

    bool receiving() const { return socket.is_open() && client != nullptr; }

    void wait() {
        socket.async_wait(udp::socket::wait_read, [self = shared_from_this()](const boost::system::error_code& ec) {
            if (ec == asio::error::operation_aborted || !self->receiving()) return;
            self->drain();
            if (self->receiving()) self->wait();
        });
    }

    /// Reads every waiting answer, kBatch per recvmmsg, at most kRoundsPerWakeup full batches
    /// (then the re-arm finds the socket still readable and the rest waits for the loop's next
    /// pass). A recvmmsg that fills fewer than kBatch slots found the queue empty: no further call.
    /// An error such as ECONNREFUSED (a server's ICMP port unreachable, reported once on the
    /// socket) is counted and the read goes on; EAGAIN ends it.
    void drain() {
        const int fd = socket.native_handle();
        for (int round = 0; round < kRoundsPerWakeup; ++round) {
            for (auto& m : msgs) m.msg_hdr.msg_namelen = sizeof(sockaddr_in);
            const int n = ::recvmmsg(fd, msgs.data(), static_cast<unsigned>(kBatch), MSG_DONTWAIT, nullptr);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) return;
                ++receive_errors;
                if (errno == EINTR || errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH)
                    continue;  // the error is consumed: what follows it is still waiting
                return;
            }
            ++batches;
            for (int i = 0; i < n; ++i) {
                if (!receiving()) return;  // a completion stopped the transport
                const auto& h = msgs[static_cast<std::size_t>(i)];
                ++received;
                if ((h.msg_hdr.msg_flags & MSG_TRUNC) || h.msg_len > Radius::kMaxLength) {
                    ++oversize;
                    continue;
                }
                const auto& f = from[static_cast<std::size_t>(i)];
                const Endpoint source{f.sin_family == AF_INET ? ntohl(f.sin_addr.s_addr) : 0u, ntohs(f.sin_port)};
                client->on_datagram(source, std::span<const std::uint8_t>(
                                                static_cast<const std::uint8_t*>(iov[static_cast<std::size_t>(i)].iov_base),
                                                h.msg_len));
            }
            if (static_cast<std::size_t>(n) < kBatch) return;
        }
    }
};

AsioUdpTransport::AsioUdpTransport(asio::io_context& io, Endpoint local) : impl_(std::make_shared<Impl>(io)) {
    impl_->socket.open(udp::v4());
    // Room for a burst of replies (thousands of dial-outs authorised at once): with the default
    // buffer the kernel drops replies, each then costs a retransmission timeout and holds an
    // Identifier (RFC 2865 §3) meanwhile. Best effort: the kernel caps it at rmem_max.
    boost::system::error_code ignored;
    impl_->socket.set_option(asio::socket_base::receive_buffer_size(4 << 20), ignored);
    impl_->socket.bind(to_asio(local));
    impl_->socket.non_blocking(true);
    impl_->bound = from_asio(impl_->socket.local_endpoint());
}

AsioUdpTransport::~AsioUdpTransport() { stop(); }

Endpoint AsioUdpTransport::local_endpoint() const { return impl_->bound; }

Client::SendFn AsioUdpTransport::sender() {
    std::weak_ptr<Impl> weak = impl_;
    return [weak](const Endpoint& to, std::span<const std::uint8_t> d) {
        auto impl = weak.lock();
        if (!impl || !impl->socket.is_open()) return;
        boost::system::error_code ec;
        impl->socket.send_to(asio::buffer(d.data(), d.size()), to_asio(to), 0, ec);
        if (ec)
            ++impl->send_errors;
        else
            ++impl->sent;
    };
}

int AsioUdpTransport::native_handle() const noexcept {
    return impl_->socket.is_open() ? impl_->socket.native_handle() : -1;
}

void AsioUdpTransport::start(Client& client) {
    impl_->client = &client;
    impl_->wait();
}

void AsioUdpTransport::stop() {
    impl_->client = nullptr;
    boost::system::error_code ec;
    if (impl_->socket.is_open()) impl_->socket.close(ec);
}

std::uint64_t AsioUdpTransport::datagrams_sent() const noexcept { return impl_->sent; }
std::uint64_t AsioUdpTransport::datagrams_received() const noexcept { return impl_->received; }
std::uint64_t AsioUdpTransport::send_errors() const noexcept { return impl_->send_errors; }
std::uint64_t AsioUdpTransport::oversize() const noexcept { return impl_->oversize; }
std::uint64_t AsioUdpTransport::receive_batches() const noexcept { return impl_->batches; }
std::uint64_t AsioUdpTransport::receive_errors() const noexcept { return impl_->receive_errors; }

}  // namespace dl::radius::client
