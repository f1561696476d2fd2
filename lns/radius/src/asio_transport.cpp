// Boost.Asio UDP adapter for the RADIUS client. See asio_transport.hpp.
#include "dl/radius/client/asio_transport.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <optional>

#include "dl/core/readiness.hpp"

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
/// allocation. The readiness wait is core::ReadinessWait: re-armed without a system call after a
/// drain that found the socket empty (Boost 1.74's `async_wait` costs an epoll_ctl(EPOLL_CTL_MOD)
/// per re-arm, a speculative `async_receive_from` a recvfrom(2) that finds nothing), so a wake-up
/// with up to kBatch - 1 answers is one recvmmsg.
struct AsioUdpTransport::Impl : std::enable_shared_from_this<Impl> {
    static constexpr std::size_t kBatch = 16;       ///< datagrams per recvmmsg
    static constexpr int kRoundsPerWakeup = 4;      ///< full batches read before yielding the loop
    static constexpr std::size_t kSlot = Radius::kMaxLength + 1;

    explicit Impl(asio::io_context& io) : socket(io), context(io) {
        for (std::size_t i = 0; i < kBatch; ++i) {
            iov[i] = {buffer.data() + i * kSlot, kSlot};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &from[i];
        }
    }
    core::ReactorSocket<udp::socket> socket;
    asio::io_context& context;
    /// Created at start(); declared after `socket`, so destroyed (detached) before it closes.
    std::optional<core::ReadinessWait<udp::socket>> readiness;
    Client* client = nullptr;
    std::array<std::uint8_t, kBatch * kSlot> buffer{};
    std::array<mmsghdr, kBatch> msgs{};  // zeroed once; control stays empty
    std::array<iovec, kBatch> iov{};
    std::array<sockaddr_in, kBatch> from{};
    Endpoint bound;
    std::uint64_t sent = 0, received = 0, send_errors = 0, oversize = 0, batches = 0, receive_errors = 0;

    bool receiving() const { return socket.is_open() && client != nullptr; }

    /// How a drain ended, and so how the wait is re-armed: `dry` (a recvmmsg found the socket
    /// empty: arm(), no system call), `budget` (kRoundsPerWakeup full batches, answers may be
    /// left: arm_now(), the rest on the loop's next pass), `error` (a receive error such as
    /// ECONNREFUSED: arm_polled(), which re-reads the readiness with one epoll_ctl).
    enum class Drained { dry, budget, error };

    /// The wait's handler captures `this`: destroying the Impl destroys the wait, which detaches
    /// the handler (core::ReadinessWait), so it never runs on a destroyed Impl.
    void start() {
        if (!readiness)
            readiness.emplace(context, socket, [this](const boost::system::error_code& ec) { on_ready(ec); });
        readiness->arm();
    }
    void on_ready(const boost::system::error_code& ec) {
        const auto self = shared_from_this();  // a completion may destroy the transport meanwhile
        if (ec == asio::error::operation_aborted || !receiving()) return;
        const Drained how = drain();
        if (!receiving()) return;
        switch (how) {
            case Drained::dry: readiness->arm(); break;
            case Drained::budget: readiness->arm_now(); break;
            case Drained::error: readiness->arm_polled(); break;
        }
    }

    /// Reads every waiting answer, kBatch per recvmmsg, at most kRoundsPerWakeup full batches.
    /// A recvmmsg that fills fewer than kBatch slots found the queue empty: no further call.
    /// An error such as ECONNREFUSED (a server's ICMP port unreachable, reported once on the
    /// socket) is counted and the read goes on; EAGAIN ends it.
    Drained drain() {
        Drained how = Drained::budget;
        const int fd = socket.native_handle();
        for (int round = 0; round < kRoundsPerWakeup; ++round) {
            for (auto& m : msgs) m.msg_hdr.msg_namelen = sizeof(sockaddr_in);
            const int n = ::recvmmsg(fd, msgs.data(), static_cast<unsigned>(kBatch), MSG_DONTWAIT, nullptr);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) return how == Drained::error ? how : Drained::dry;
                ++receive_errors;
                how = Drained::error;
                if (errno == EINTR || errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH)
                    continue;  // the error is consumed: what follows it is still waiting
                return how;
            }
            ++batches;
            for (int i = 0; i < n; ++i) {
                if (!receiving()) return how;  // a completion stopped the transport
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
            if (static_cast<std::size_t>(n) < kBatch) return how == Drained::error ? how : Drained::dry;
        }
        return how;
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
    impl_->start();
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
