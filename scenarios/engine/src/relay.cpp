// UdpRelay (relay.hpp): Boost.Asio sockets on the relay's own thread; the engine decides.
#include "dl/scenario/relay.hpp"

#include <unistd.h>

#include <array>
#include <functional>
#include <optional>
#include <stdexcept>
#include <system_error>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace dl::scenario {

namespace asio = boost::asio;
using udp = asio::ip::udp;

struct UdpRelay::Io {
    asio::io_context ctx;
    udp::socket listen{ctx};
    udp::socket upstream{ctx};
    udp::endpoint peer;
    std::optional<udp::endpoint> client;
    asio::steady_timer timer{ctx};
    std::array<std::uint8_t, 65536> lbuf{}, ubuf{};
    udp::endpoint lfrom, ufrom;
};

namespace {

int dup_or_throw(int fd, const char* what) {
    const int d = ::dup(fd);
    if (d < 0) throw std::system_error(errno, std::generic_category(), std::string("UdpRelay: dup of the ") + what);
    return d;
}

}  // namespace

UdpRelay::UdpRelay(int listen_fd, int upstream_fd, const std::string& peer_address, std::uint16_t peer_port,
                   const core::Clock& clock)
    : clock_(clock), io_(std::make_unique<Io>()) {
    boost::system::error_code ec;
    const auto addr = asio::ip::make_address_v4(peer_address, ec);
    if (ec) throw std::invalid_argument("UdpRelay: peer address '" + peer_address + "' is not an IPv4 address");
    io_->peer = udp::endpoint(addr, peer_port);
    const int l = dup_or_throw(listen_fd, "listening socket");
    const int u = dup_or_throw(upstream_fd, "upstream socket");
    io_->listen.assign(udp::v4(), l, ec);
    if (!ec) io_->upstream.assign(udp::v4(), u, ec);
    if (ec) throw std::system_error(ec, "UdpRelay: socket");
}

UdpRelay::~UdpRelay() { stop(); }

bool UdpRelay::running() const noexcept { return thread_.joinable(); }

RelayCounters UdpRelay::counters() const {
    std::lock_guard lock(mutex_);
    return counters_;
}

void UdpRelay::start() {
    if (thread_.joinable()) return;
    Io& io = *io_;
    io.ctx.restart();
    // Sends what the engine has due, then re-arms the timer on the next due time. Caller holds mutex_.
    auto flush = std::make_shared<std::function<void()>>();
    *flush = [this, &io, flush] {
        for (auto& e : engine_.take_due(clock_.now())) {
            boost::system::error_code ec;
            if (e.dir == Direction::forward) {
                io.upstream.send_to(asio::buffer(e.bytes), io.peer, 0, ec);
                if (!ec) ++counters_.tx_forward;
            } else if (io.client) {
                io.listen.send_to(asio::buffer(e.bytes), *io.client, 0, ec);
                if (!ec) ++counters_.tx_reverse;
            } else {
                ++counters_.no_client;
            }
            if (ec) ++counters_.tx_errors;
        }
        if (auto next = engine_.next_due()) {
            io.timer.expires_at(*next);  // core::TimePoint has steady_clock's representation (clock.hpp)
            io.timer.async_wait([this, flush](const boost::system::error_code& ec) {
                if (ec) return;
                std::lock_guard lock(mutex_);
                (*flush)();
            });
        }
    };
    auto on_listen = std::make_shared<std::function<void()>>();
    *on_listen = [this, &io, flush, on_listen] {
        io.listen.async_receive_from(asio::buffer(io.lbuf), io.lfrom,
                                     [this, &io, flush, on_listen](const boost::system::error_code& ec, std::size_t n) {
            if (ec == asio::error::operation_aborted) return;
            if (!ec) {
                std::lock_guard lock(mutex_);
                ++counters_.rx_forward;
                io.client = io.lfrom;
                engine_.submit(Direction::forward, io.lfrom.port(), io.peer.port(),
                               std::vector<std::uint8_t>(io.lbuf.begin(), io.lbuf.begin() + static_cast<std::ptrdiff_t>(n)),
                               clock_.now());
                (*flush)();
            }
            (*on_listen)();
        });
    };
    auto on_upstream = std::make_shared<std::function<void()>>();
    *on_upstream = [this, &io, flush, on_upstream] {
        io.upstream.async_receive_from(asio::buffer(io.ubuf), io.ufrom,
                                       [this, &io, flush, on_upstream](const boost::system::error_code& ec, std::size_t n) {
            if (ec == asio::error::operation_aborted) return;
            if (!ec) {
                std::lock_guard lock(mutex_);
                if (io.ufrom.address() != io.peer.address()) {
                    ++counters_.foreign;
                } else {
                    ++counters_.rx_reverse;
                    const std::uint16_t cport = io.client ? io.client->port() : 0;
                    engine_.submit(Direction::reverse, io.ufrom.port(), cport,
                                   std::vector<std::uint8_t>(io.ubuf.begin(), io.ubuf.begin() + static_cast<std::ptrdiff_t>(n)),
                                   clock_.now());
                    (*flush)();
                }
            }
            (*on_upstream)();
        });
    };
    (*on_listen)();
    (*on_upstream)();
    thread_ = std::thread([&io, flush, on_listen, on_upstream]() mutable {
        io.ctx.run();
        // break the self-references of the handlers
        *flush = nullptr;
        *on_listen = nullptr;
        *on_upstream = nullptr;
    });
}

void UdpRelay::stop() {
    if (!thread_.joinable()) return;
    asio::post(io_->ctx, [this] {
        boost::system::error_code ec;
        io_->listen.cancel(ec);
        io_->upstream.cancel(ec);
        io_->timer.cancel();
        io_->ctx.stop();
    });
    thread_.join();
}

}  // namespace dl::scenario
