#include "dl/lnsd/udp.hpp"

#include <arpa/inet.h>

#include <string>
#include <system_error>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>

#include "dl/core/readiness.hpp"
#include "dl/dataplane/packet_batch.hpp"
#include "dl/dataplane/udp_batch.hpp"
#include "dl/lnsd/lns.hpp"

namespace dl::lnsd {

using boost::asio::ip::udp;
using l2tp::engine::PeerId;
namespace dp = dataplane;

using Socket = core::ReactorSocket<udp::socket>;
using Wait = core::ReadinessWait<udp::socket>;

struct UdpEndpoint::Impl : std::enable_shared_from_this<Impl> {
    /// A socket connected to one peer (connect_peer); shared_ptr: its wait handler holds a weak_ptr.
    struct PeerSocket {
        explicit PeerSocket(boost::asio::io_context& io) : socket(io) {}
        Socket socket;
        std::unique_ptr<Wait> wait;  // made by start(PeerSocket) (its handler holds weak pointers)
        bool released = false;  // release_peer: to be closed by a posted handler
    };

    /// How a drain ended, i.e. how its socket's readiness wait is re-armed: `dry` — the last
    /// recvmmsg found the socket empty (EAGAIN): arm() (no system call); `budget` — stopped with
    /// datagrams possibly left: arm_now(); `error` — the last receive failed (e.g. an ICMP error
    /// reported on a connected socket) and may have left datagrams queued without a new event:
    /// arm_polled() (epoll_ctl, re-reading the readiness).
    enum class Drained { dry, budget, error };

    // Slots of kSlot octets (a data message with a 1 500-octet PPP frame and its headers fits),
    // packed densely: one slot of 64 KiB each put every slot's first octets in the same cache
    // sets. An L2TP datagram (control or data) may still be as large as UDP allows: the longer
    // ones spill into the receiver's spill area (max 65 535) and arrive whole.
    static constexpr std::size_t kSlot = 2048;
    Impl(boost::asio::io_context& ctx, std::size_t batch, std::size_t b)
        : io(ctx), socket(ctx), rx(batch, kSlot, 0), receiver(batch, 65535), items(batch), budget(b) {}
    boost::asio::io_context& io;
    Socket socket;
    std::unique_ptr<Wait> wait;  // the shared socket's, made by start()
    dp::PacketBatch rx;  // shared by every socket: drains never nest (each runs from the io_context)
    dp::UdpBatchReceiver receiver;
    std::vector<RxDatagram> items;  // the batch's sources and payloads (one entry per recvmmsg slot)
    std::size_t budget;
    Receive on_receive;
    BatchReceive on_batch;
    std::function<void()> batch_end;
    UdpCounters counters;
    std::unordered_map<PeerId, std::shared_ptr<PeerSocket>> peers;
    std::size_t max_peer_sockets = 256;
    bool reuse_set = false;
    PassSender out{64, 4096};  // control messages: slots of 4 KiB, a longer one is sent on its own

    /// Reads up to `budget` datagrams from `s` and hands them to on_receive (or each batch whole
    /// to on_batch, set_batch_receive). Stops early if a
    /// handler closes the shared socket; a per-peer socket is never closed inside a drain.
    /// `how`: how it ended (Drained).
    std::size_t drain(udp::socket& s, Drained* how = nullptr) {
        const int fd = s.native_handle();
        std::size_t total = 0;
        Drained end = Drained::budget;
        while (total < budget) {
            rx.reset();
            const std::uint64_t errors_before = receiver.errors();
            const std::size_t n = receiver.receive(fd, rx);
            if (n == 0) {
                end = receiver.errors() != errors_before ? Drained::error : Drained::dry;
                break;
            }
            ++counters.batches;
            total += n;
            for (std::size_t i = 0; i < n; ++i) {
                const sockaddr_in& from = receiver.source(i);
                items[i] = {peer_id({ntohl(from.sin_addr.s_addr)}, ntohs(from.sin_port)), receiver.datagram(i, rx)};
            }
            if (on_batch) {  // the whole batch in one call (Lns::receive_batch)
                counters.datagrams += n;
                on_batch(std::span<const RxDatagram>(items.data(), n));
                if (!socket.is_open()) return total;  // closed from the handler
            } else {
                for (std::size_t i = 0; i < n; ++i) {
                    ++counters.datagrams;
                    if (on_receive) on_receive(items[i].peer, items[i].bytes);
                    if (!socket.is_open()) return total;  // closed from a handler
                }
            }
            if (batch_end) batch_end();
            if (n < rx.capacity()) {  // the socket ran dry before the batch filled (or an error
                // ended the batch early: recvmmsg keeps it for the next call, so ask the kernel)
                end = receiver.errors() != errors_before ? Drained::error : Drained::dry;
                break;
            }
        }
        if (how) *how = end;
        if (total) ++counters.wakeups;
        counters.truncated = receiver.truncated();
        counters.spilled = receiver.spilled();
        counters.errors = receiver.errors();
        return total;
    }

    /// Hands on what `ps` holds (bounded: a peer sending without pause cannot keep the loop
    /// here), then closes it. Runs from the io_context, never inside another drain.
    void drain_and_close(PeerSocket& ps) {
        for (int round = 0; round < 64 && socket.is_open() && ps.socket.is_open(); ++round)
            if (drain(ps.socket) < budget) break;
        boost::system::error_code ignored;
        ps.socket.close(ignored);
    }

    /// Re-arms `w` after a drain that ended `how` (or after a wait error: as after a receive error).
    static void rearm(Wait& w, Drained how) {
        switch (how) {
        case Drained::dry: w.arm(); break;
        case Drained::budget: w.arm_now(); break;
        case Drained::error: w.arm_polled(); break;
        }
    }

    /// Arms the shared socket's readiness wait: drain, re-arm (core::ReadinessWait: no system
    /// call per re-arm when the drain found the socket empty).
    void start() {
        if (!socket.is_open()) return;
        if (!wait) {
            std::weak_ptr<Impl> weak = weak_from_this();
            wait = std::make_unique<Wait>(io, socket, [weak](const boost::system::error_code& ec) {
                auto self = weak.lock();
                if (!self) return;
                if (ec == boost::asio::error::operation_aborted || !self->socket.is_open()) return;
                Drained how = Drained::error;
                if (!ec) self->drain(self->socket, &how);
                if (self->socket.is_open()) rearm(*self->wait, how);
            });
        }
        wait->arm();
    }

    void start(const std::shared_ptr<PeerSocket>& peer) {
        if (!peer->socket.is_open()) return;
        if (!peer->wait) {
            std::weak_ptr<Impl> weak = weak_from_this();
            std::weak_ptr<PeerSocket> weak_ps = peer;
            peer->wait = std::make_unique<Wait>(io, peer->socket, [weak, weak_ps](const boost::system::error_code& ec) {
                auto self = weak.lock();
                auto ps = weak_ps.lock();
                if (!self || !ps) return;
                if (ec == boost::asio::error::operation_aborted || !ps->socket.is_open() || !self->socket.is_open())
                    return;
                Drained how = Drained::error;
                if (!ec) self->drain(ps->socket, &how);
                if (ps->socket.is_open() && self->socket.is_open()) rearm(*ps->wait, how);
            });
        }
        peer->wait->arm();
    }

    /// The posted second half of release_peer: what the socket holds is handed on, then it closes.
    void finish_release(PeerId peer) {
        auto it = peers.find(peer);
        if (it == peers.end() || !it->second->released) return;  // re-connected meanwhile, or closed
        auto ps = it->second;
        peers.erase(it);  // a connect_peer from a handler below opens a new one
        drain_and_close(*ps);
        counters.peer_sockets = peers.size();
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
    impl_->out.set_socket(impl_->socket.native_handle());
    impl_->start();
}

UdpEndpoint::~UdpEndpoint() { close(); }

void UdpEndpoint::close() {
    impl_->out.set_socket(-1);  // what waits leaves first
    boost::system::error_code ec;
    if (impl_->socket.is_open()) impl_->socket.close(ec);
    for (auto& [peer, ps] : impl_->peers) ps->socket.close(ec);
    impl_->peers.clear();
    impl_->counters.peer_sockets = 0;
}

int UdpEndpoint::connect_peer(l2tp::engine::PeerId peer) {
    Impl& m = *impl_;
    if (!m.socket.is_open()) return -1;
    if (auto it = m.peers.find(peer); it != m.peers.end()) {
        it->second->released = false;
        return it->second->socket.native_handle();
    }
    if (m.peers.size() >= m.max_peer_sockets) {
        ++m.counters.peer_sockets_refused;
        return -1;
    }
    boost::system::error_code ec;
    if (!m.reuse_set) {  // the shared socket was bound without it: a second lnsd's bind still fails
        m.socket.set_option(boost::asio::socket_base::reuse_address(true), ec);
        if (ec) {
            ++m.counters.peer_socket_errors;
            return -1;
        }
        m.reuse_set = true;
    }
    auto ps = std::make_shared<Impl::PeerSocket>(m.io);
    const udp::endpoint local = m.socket.local_endpoint(ec);
    const udp::endpoint to(boost::asio::ip::address_v4(peer_address(peer).value), peer_port(peer));
    if (!ec) ps->socket.open(udp::v4(), ec);
    if (!ec) ps->socket.set_option(boost::asio::socket_base::reuse_address(true), ec);
    if (!ec) {
        boost::system::error_code ignored;  // as the shared socket: capped by rmem_max / wmem_max
        ps->socket.set_option(boost::asio::socket_base::receive_buffer_size(4 << 20), ignored);
        ps->socket.set_option(boost::asio::socket_base::send_buffer_size(4 << 20), ignored);
        ps->socket.bind(local, ec);
    }
    if (!ec) ps->socket.connect(to, ec);
    if (!ec) ps->socket.non_blocking(true, ec);
    if (ec) {
        ++m.counters.peer_socket_errors;
        // Bound but not connected, it may have taken other peers' datagrams: those are handed on
        // from the io_context (this call may run inside a drain, whose batch they would overwrite).
        std::weak_ptr<Impl> weak = impl_;
        boost::asio::post(m.io, [weak, ps] {
            if (auto self = weak.lock()) self->drain_and_close(*ps);
        });
        return -1;
    }
    m.peers.emplace(peer, ps);
    ++m.counters.peer_sockets_opened;
    m.counters.peer_sockets = m.peers.size();
    m.start(ps);
    return ps->socket.native_handle();
}

void UdpEndpoint::release_peer(l2tp::engine::PeerId peer) {
    auto it = impl_->peers.find(peer);
    if (it == impl_->peers.end() || it->second->released) return;
    it->second->released = true;
    std::weak_ptr<Impl> weak = impl_;
    boost::asio::post(impl_->io, [weak, peer] {
        if (auto self = weak.lock()) self->finish_release(peer);
    });
}

void UdpEndpoint::set_max_peer_sockets(std::size_t n) noexcept { impl_->max_peer_sockets = n; }

void UdpEndpoint::send(l2tp::engine::PeerId peer, std::span<const std::uint8_t> bytes) {
    impl_->out.send(PassSender::destination(peer_address(peer).value, peer_port(peer)), bytes);
}

void UdpEndpoint::defer_sends(PassSender::Post post) { impl_->out.defer(std::move(post)); }

const PassSenderCounters& UdpEndpoint::send_counters() const noexcept { return impl_->out.counters(); }

void UdpEndpoint::set_batch_receive(BatchReceive fn) { impl_->on_batch = std::move(fn); }
void UdpEndpoint::set_batch_end(std::function<void()> fn) { impl_->batch_end = std::move(fn); }
std::uint16_t UdpEndpoint::local_port() const { return impl_->socket.local_endpoint().port(); }
int UdpEndpoint::native_handle() const {
    return impl_->socket.is_open() ? const_cast<Socket&>(impl_->socket).native_handle() : -1;
}
std::uint64_t UdpEndpoint::send_errors() const noexcept {
    const auto& c = impl_->out.counters();
    return c.errors + c.would_block;
}
const UdpCounters& UdpEndpoint::counters() const noexcept {
    impl_->counters.send_errors = send_errors();
    return impl_->counters;
}

}  // namespace dl::lnsd
