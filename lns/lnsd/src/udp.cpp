#include "dl/lnsd/udp.hpp"

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include "dl/lnsd/lns.hpp"

namespace dl::lnsd {

using boost::asio::ip::udp;

struct UdpEndpoint::Impl : std::enable_shared_from_this<Impl> {
    Impl(boost::asio::io_context& io) : socket(io) {}
    udp::socket socket;
    udp::endpoint from;
    std::array<std::uint8_t, 65536> buf{};
    Receive on_receive;
    std::uint64_t send_errors = 0;

    void start() {
        std::weak_ptr<Impl> weak = weak_from_this();
        socket.async_receive_from(boost::asio::buffer(buf), from,
                                  [weak](const boost::system::error_code& ec, std::size_t n) {
                                      auto self = weak.lock();
                                      if (!self) return;
                                      if (ec == boost::asio::error::operation_aborted || !self->socket.is_open())
                                          return;
                                      if (!ec && self->from.address().is_v4()) {
                                          const auto p = peer_id({self->from.address().to_v4().to_uint()},
                                                                 self->from.port());
                                          if (self->on_receive) self->on_receive(p, {self->buf.data(), n});
                                      }
                                      self->start();
                                  });
    }
};

UdpEndpoint::UdpEndpoint(boost::asio::io_context& io, core::Ipv4Address address, std::uint16_t port,
                         Receive on_receive)
    : impl_(std::make_shared<Impl>(io)) {
    impl_->on_receive = std::move(on_receive);
    udp::endpoint ep(boost::asio::ip::address_v4(address.value), port);
    impl_->socket.open(udp::v4());
    impl_->socket.set_option(udp::socket::reuse_address(true));
    // Bursts of thousands of SCCRQs must not overflow the default (~200 KiB) buffers; the kernel
    // caps these at net.core.rmem_max / wmem_max.
    boost::system::error_code ignored;
    impl_->socket.set_option(boost::asio::socket_base::receive_buffer_size(4 << 20), ignored);
    impl_->socket.set_option(boost::asio::socket_base::send_buffer_size(4 << 20), ignored);
    impl_->socket.bind(ep);
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
    if (ec) ++impl_->send_errors;
}

std::uint16_t UdpEndpoint::local_port() const { return impl_->socket.local_endpoint().port(); }
std::uint64_t UdpEndpoint::send_errors() const noexcept { return impl_->send_errors; }

}  // namespace dl::lnsd
