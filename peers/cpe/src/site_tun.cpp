// cpe-emu's TUN glue (site_tun.hpp): lns/dataplane TunDevice + Netlink on Boost.Asio readiness.
#include "dl/cpe/site_tun.hpp"

#include <memory>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "dl/dataplane/netlink.hpp"
#include "dl/dataplane/packet_batch.hpp"
#include "dl/dataplane/tun_device.hpp"

namespace dl::cpe {

namespace {

using dataplane::Netlink;
using dataplane::PacketBatch;
using dataplane::TunDevice;

// The readiness watcher lives in a shared_ptr so a completion queued after the SiteTun is gone
// finds an expired weak_ptr instead of freed memory.
struct Reader : std::enable_shared_from_this<Reader> {
    Reader(boost::asio::io_context& io, int fd, TunDevice& t, std::size_t batch,
           std::function<void(std::span<const std::uint8_t>)> f)
        : sd(io, fd), tun(t), packets(batch, static_cast<std::size_t>(t.mtu())), from_tun(std::move(f)) {}
    ~Reader() { stop(); }
    void stop() {
        if (stopped) return;
        stopped = true;
        boost::system::error_code ec;
        sd.cancel(ec);
        sd.release();  // the TunDevice owns the fd
    }
    void arm() {
        sd.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                      [weak = weak_from_this()](const boost::system::error_code& ec) {
                          auto self = weak.lock();
                          if (!self || ec || self->stopped) return;
                          self->packets.reset();
                          self->tun.read_batch(self->packets);
                          for (const auto& p : self->packets) {
                              if (self->stopped) return;  // the SiteTun went away meanwhile
                              self->from_tun(p.bytes());
                          }
                          self->packets.reset();
                          if (!self->stopped) self->arm();
                      });
    }
    boost::asio::posix::stream_descriptor sd;
    TunDevice& tun;
    PacketBatch packets;
    std::function<void(std::span<const std::uint8_t>)> from_tun;
    bool stopped = false;
};

class AsioSiteTun final : public SiteTun {
public:
    AsioSiteTun(boost::asio::io_context& io, std::size_t batch, const TunRequest& req)
        : tun_(TunDevice::open({.name = req.config.name, .mtu = req.config.mtu})) {
        const int ifx = tun_.ifindex();
        nl_.add_address(ifx, core::Ipv4Prefix{{req.local_ip}, 32});
        if (req.peer_ip) add_route(core::Ipv4Prefix{{req.peer_ip}, 32});
        for (const auto& r : req.config.routes) add_route(r.network());
        reader_ = std::make_shared<Reader>(io, tun_.fd(), tun_, batch, req.from_tun);
        reader_->arm();
    }
    ~AsioSiteTun() override {
        reader_->stop();
        reader_.reset();
        for (auto it = routes_.rbegin(); it != routes_.rend(); ++it) {
            try {
                nl_.delete_route(*it, tun_.ifindex());
            } catch (const std::exception&) {
                // The kernel removes a vanished device's routes anyway.
            }
        }
    }
    bool write(std::span<const std::uint8_t> packet) override {
        return tun_.write(packet) == dataplane::WriteStatus::written;
    }

private:
    void add_route(core::Ipv4Prefix p) {
        nl_.add_route(p, tun_.ifindex());
        routes_.push_back(p);
    }
    TunDevice tun_;
    Netlink nl_;
    std::vector<core::Ipv4Prefix> routes_;
    std::shared_ptr<Reader> reader_;
};

}  // namespace

TunFactory make_asio_tun_factory(boost::asio::io_context& io, std::size_t batch) {
    return [&io, batch](const TunRequest& req) -> std::unique_ptr<SiteTun> {
        return std::make_unique<AsioSiteTun>(io, batch, req);
    };
}

}  // namespace dl::cpe
