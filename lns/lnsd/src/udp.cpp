#include "dl/lnsd/udp.hpp"

#include <arpa/inet.h>

#include <string>
#include <system_error>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include "dl/dataplane/packet_batch.hpp"
#include "dl/dataplane/udp_batch.hpp"
#include "dl/lnsd/lns.hpp"

namespace dl::lnsd {

using boost::asio::ip::udp;
namespace dp = dataplane;

struct UdpEndpoint::Impl : std::enable_shared_from_this<Impl> {
    // 65 535: an L2TP datagram (control or data) may be as large as UDP allows.
    Impl(boost::asio::io_context& io, std::size_t batch, std::size_t b)
        : socket(io), rx(batch, 65535, 0), receiver(batch), budget(b) {}
    udp::socket socket;
    dp::PacketBatch rx;
    dp::UdpBatchReceiver receiver;
    std::size_t budget;
    Receive on_receive;
    std::function<void()> batch_end;
    UdpCounters counters;
    bool armed = false;

    void drain() {
        const int fd = socket.native_handle();
        std::size_t total = 0;
        while (total < budget) {
            rx.reset();
            const std::size_t n = receiver.receive(fd, rx);
            if (n == 0) break;
            ++counters.batches;
            total += n;
            for (std::size_t i = 0; i < n; ++i) {
                const sockaddr_in& from = receiver.source(i);
                const auto p = peer_id({ntohl(from.sin_addr.s_addr)}, ntohs(from.sin_port));
                ++counters.datagrams;
                if (on_receive) on_receive(p, rx[i].bytes());
                if (!socket.is_open()) return;  // closed from a handler
            }
            if (batch_end) batch_end();
            if (n < rx.capacity()) break;  // the socket ran dry before the batch filled
        }
        if (total) ++counters.wakeups;
    }

    void start() {
        if (armed || !socket.is_open()) return;
        armed = true;
        std::weak_ptr<Impl> weak = weak_from_this();
        socket.async_wait(udp::socket::wait_read, [weak](const boost::system::error_code& ec) {
            auto self = weak.lock();
            if (!self) return;
            self->armed = false;
            if (ec == boost::asio::error::operation_aborted || !self->socket.is_open()) return;
            if (!ec) self->drain();
            self->counters.truncated = self->receiver.truncated();
            self->counters.errors = self->receiver.errors();
            self->start();
        });
    }
};

UdpEndpoint::UdpEndpoint(boost::asio::io_context& io, core::Ipv4Address address, std::uint16_t port,
                         Receive on_receive, std::size_t batch, std::size_t budget)
    : impl_(std::make_shared<Impl>(io, batch, budget)) {
    impl_->on_receive = std::move(on_receive);
    udp::endpoint ep(boost::asio::ip::address_v4(address.value), port);
    impl_->socket.open(udp::v4());
    // No SO_REUSEADDR: a second process bound to the same address and port would share (and steal)
    // this one's datagrams; binding must fail instead.
    // Bursts of thousands of SCCRQs must not overflow the default (~200 KiB) buffers; the kernel
    // caps these at net.core.rmem_max / wmem_max.
    boost::system::error_code ignored;
    impl_->socket.set_option(boost::asio::socket_base::receive_buffer_size(4 << 20), ignored);
    impl_->socket.set_option(boost::asio::socket_base::send_buffer_size(4 << 20), ignored);
    boost::system::error_code ec;
    impl_->socket.bind(ep, ec);
    if (ec)
        throw std::system_error(ec.value(), std::generic_category(),
                                "cannot bind the L2TP socket to " + address.to_string() + ":" + std::to_string(port) +
                                    (ec == boost::asio::error::address_in_use ? " (in use by another process)" : ""));
    impl_->start();
}

UdpEndpoint::~UdpEndpoint() { close(); }

void UdpEndpoint::close() {
    boost::system::error_code ec;
    if (impl_->socket.is_open()) impl_->socket.close(ec);
}

void UdpEndpoint::send(l2tp::engine::PeerId peer, const std::vector<std::uint8_t>& bytes) {
    udp::endpoint to(boost::asio::ip::address_v4(peer_address(peer).value), peer_port(peer));
    boost::system::error_code ec;
    impl_->socket.send_to(boost::asio::buffer(bytes), to, 0, ec);
    if (ec) ++impl_->counters.send_errors;
}

void UdpEndpoint::set_batch_end(std::function<void()> fn) { impl_->batch_end = std::move(fn); }
std::uint16_t UdpEndpoint::local_port() const { return impl_->socket.local_endpoint().port(); }
int UdpEndpoint::native_handle() const {
    return impl_->socket.is_open() ? const_cast<udp::socket&>(impl_->socket).native_handle() : -1;
}
std::uint64_t UdpEndpoint::send_errors() const noexcept { return impl_->counters.send_errors; }
const UdpCounters& UdpEndpoint::counters() const noexcept { return impl_->counters; }

}  // namespace dl::lnsd
