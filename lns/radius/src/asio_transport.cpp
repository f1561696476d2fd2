// Boost.Asio UDP adapter for the RADIUS client. See asio_transport.hpp.
#include "dl/radius/client/asio_transport.hpp"

#include <array>
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

struct AsioUdpTransport::Impl : std::enable_shared_from_this<Impl> {
    explicit Impl(asio::io_context& io) : socket(io) {}
    udp::socket socket;
    Client* client = nullptr;
    std::array<std::uint8_t, Radius::kMaxLength + 1> buffer{};
    udp::endpoint from;
    Endpoint bound;
    std::uint64_t sent = 0, received = 0, send_errors = 0, oversize = 0;

    void receive() {
        socket.async_receive_from(asio::buffer(buffer), from,
                                  [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                                      self->on_receive(ec, n);
                                  });
    }
    void on_receive(const boost::system::error_code& ec, std::size_t n) {
        if (ec == asio::error::operation_aborted || !socket.is_open() || !client) return;
        if (!ec) {
            ++received;
            if (n > Radius::kMaxLength)
                ++oversize;
            else
                client->on_datagram(from_asio(from), std::span<const std::uint8_t>(buffer.data(), n));
        }
        // Errors such as ICMP port unreachable (ECONNREFUSED) on a UDP socket: keep receiving.
        if (socket.is_open() && client) receive();
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
    impl_->receive();
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

}  // namespace dl::radius::client
