#include "dl/dataplane/asio_tun.hpp"

#include <sys/socket.h>

#include <boost/asio/basic_raw_socket.hpp>
#include <boost/asio/generic/raw_protocol.hpp>
#include <boost/asio/io_context.hpp>

#include "dl/core/readiness.hpp"

namespace dl::dataplane {

namespace {
// The TUN descriptor is registered with the io_context's reactor through a raw socket object
// (assigned, never closed: released at the end), so that core::ReadinessWait can re-arm its
// readiness wait without a system call; Asio reads nothing from it (poll_tun does).
using TunHandle = boost::asio::basic_raw_socket<boost::asio::generic::raw_protocol>;
}  // namespace

struct AsioTunWatcher::Impl : std::enable_shared_from_this<AsioTunWatcher::Impl> {
    Impl(boost::asio::io_context& ctx, ForwardingLoop& l, VrId v, std::size_t b)
        : io(ctx), handle(ctx), loop(l), vr(v), budget(b) {
        // The protocol only tells Asio how to treat the descriptor: neither stream nor datagram.
        handle.assign(boost::asio::generic::raw_protocol(AF_UNSPEC, 0), l.tun_fd(v));
    }
    ~Impl() {
        wait.reset();  // detached: never called again
        boost::system::error_code ec;
        handle.cancel(ec);
        handle.release(ec);  // the TunDevice owns the fd
    }
    void arm() {
        if (!wait)
            wait = std::make_unique<core::ReadinessWait<TunHandle>>(
                io, handle,
                [weak = weak_from_this()](const boost::system::error_code& ec) {
                    auto self = weak.lock();
                    if (!self) return;
                    if (ec || self->stopped) return;
                    ++self->wakeups;
                    const std::uint64_t errors = self->loop.tun(self->vr).read_errors();
                    const std::size_t n = self->loop.poll_tun(self->vr, self->budget);
                    if (self->stopped || !self->wait) return;
                    // Drained until EAGAIN: the next event re-arms without a system call. At the
                    // budget, data may be left: run again soon. After a read error the kernel is
                    // asked for the readiness (epoll_ctl), as a plain async_wait does.
                    if (self->loop.tun(self->vr).read_errors() != errors)
                        self->wait->arm_polled();
                    else if (n >= self->budget)
                        self->wait->arm_now();
                    else
                        self->wait->arm();
                });
        wait->arm();
    }
    boost::asio::io_context& io;
    core::ReactorSocket<TunHandle> handle;
    std::unique_ptr<core::ReadinessWait<TunHandle>> wait;
    ForwardingLoop& loop;
    VrId vr;
    std::size_t budget;
    bool stopped = false;
    std::uint64_t wakeups = 0;
};

AsioTunWatcher::AsioTunWatcher(boost::asio::io_context& io, ForwardingLoop& loop, VrId vr, std::size_t budget)
    : impl_(std::make_shared<Impl>(io, loop, vr, budget)) {}

AsioTunWatcher::~AsioTunWatcher() { stop(); }

void AsioTunWatcher::start() {
    impl_->stopped = false;
    impl_->arm();
}

void AsioTunWatcher::stop() {
    impl_->stopped = true;
    boost::system::error_code ec;
    impl_->handle.cancel(ec);
}

std::uint64_t AsioTunWatcher::wakeups() const noexcept { return impl_->wakeups; }

}  // namespace dl::dataplane
