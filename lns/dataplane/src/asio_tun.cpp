#include "dl/dataplane/asio_tun.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

namespace dl::dataplane {

struct AsioTunWatcher::Impl : std::enable_shared_from_this<AsioTunWatcher::Impl> {
    Impl(boost::asio::io_context& io, ForwardingLoop& l, VrId v, std::size_t b)
        : sd(io, l.tun_fd(v)), loop(l), vr(v), budget(b) {}
    ~Impl() {
        boost::system::error_code ec;
        sd.cancel(ec);
        sd.release();  // the TunDevice owns the fd
    }
    void arm() {
        if (armed) return;
        armed = true;
        sd.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                      [weak = weak_from_this()](const boost::system::error_code& ec) {
                          auto self = weak.lock();
                          if (!self) return;
                          self->armed = false;
                          if (ec || self->stopped) return;
                          ++self->wakeups;
                          self->loop.poll_tun(self->vr, self->budget);
                          self->arm();
                      });
    }
    boost::asio::posix::stream_descriptor sd;
    ForwardingLoop& loop;
    VrId vr;
    std::size_t budget;
    bool armed = false;
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
    impl_->sd.cancel(ec);
}

std::uint64_t AsioTunWatcher::wakeups() const noexcept { return impl_->wakeups; }

}  // namespace dl::dataplane
