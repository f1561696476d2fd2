// SOCK_SEQPACKET Unix sockets on Boost.Asio (unix_link.hpp): readiness waits on
// posix::stream_descriptor, then plain recv()/send() of whole datagrams.
#include "dl/isdn/unix_link.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <system_error>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

namespace dl::isdn {

namespace {
using Desc = boost::asio::posix::stream_descriptor;
constexpr std::size_t kMaxQueued = 4096;

sockaddr_un make_addr(const std::string& path) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path.size() >= sizeof(a.sun_path))
        throw std::system_error(ENAMETOOLONG, std::generic_category(), "unix socket path too long: " + path);
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    return a;
}

// One connected SOCK_SEQPACKET socket: read loop and a queue of outgoing datagrams.
struct Conn : std::enable_shared_from_this<Conn> {
    Desc desc;
    std::deque<std::vector<std::uint8_t>> outq;
    bool writing = false;
    bool closed = false;
    std::uint64_t dropped = 0;
    std::function<void(std::span<const std::uint8_t>)> on_datagram;
    std::function<void()> on_close;

    Conn(boost::asio::io_context& io, int fd) : desc(io, fd) { desc.non_blocking(true); }

    void start_read() {
        desc.async_wait(Desc::wait_read, [self = shared_from_this()](const boost::system::error_code& ec) {
            if (ec || self->closed) return;
            std::vector<std::uint8_t> buf(65536);
            for (;;) {
                ssize_t n = ::recv(self->desc.native_handle(), buf.data(), buf.size(), MSG_DONTWAIT);
                if (n > 0) {
                    if (self->on_datagram) self->on_datagram({buf.data(), static_cast<std::size_t>(n)});
                    if (self->closed) return;
                    continue;
                }
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
                if (n < 0 && errno == EINTR) continue;
                self->shutdown();  // 0: orderly close; other errors: treat as closed
                return;
            }
            self->start_read();
        });
    }
    void send(std::span<const std::uint8_t> d) {
        if (closed) return;
        if (outq.size() >= kMaxQueued) {
            ++dropped;
            return;
        }
        outq.emplace_back(d.begin(), d.end());
        flush();
    }
    void flush() {
        while (!outq.empty()) {
            ssize_t n = ::send(desc.native_handle(), outq.front().data(), outq.front().size(), MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n >= 0) {
                outq.pop_front();
                continue;
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (!writing) {
                    writing = true;
                    desc.async_wait(Desc::wait_write, [self = shared_from_this()](const boost::system::error_code& ec) {
                        self->writing = false;
                        if (!ec && !self->closed) self->flush();
                    });
                }
                return;
            }
            shutdown();
            return;
        }
    }
    void shutdown() {
        if (closed) return;
        closed = true;
        boost::system::error_code ec;
        desc.close(ec);
        if (on_close) on_close();
    }
};
}  // namespace

struct SeqPacketServer::Impl : std::enable_shared_from_this<SeqPacketServer::Impl> {
    boost::asio::io_context& io;
    std::string path;
    Handlers h;
    std::unique_ptr<Desc> listener;
    std::map<Id, std::shared_ptr<Conn>> conns;
    Id next = 1;
    std::uint64_t dropped = 0;

    Impl(boost::asio::io_context& i, std::string p, Handlers hs) : io(i), path(std::move(p)), h(std::move(hs)) {}

    void accept_loop() {
        listener->async_wait(Desc::wait_read, [self = shared_from_this()](const boost::system::error_code& ec) {
            if (ec || !self->listener) return;
            for (;;) {
                int fd = ::accept4(self->listener->native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) break;
                const Id id = self->next++;
                auto c = std::make_shared<Conn>(self->io, fd);
                std::weak_ptr<Impl> weak = self;
                c->on_datagram = [weak, id](std::span<const std::uint8_t> d) {
                    if (auto s = weak.lock(); s && s->h.on_datagram) s->h.on_datagram(id, d);
                };
                c->on_close = [weak, id] {
                    auto s = weak.lock();
                    if (!s) return;
                    auto it = s->conns.find(id);
                    if (it == s->conns.end()) return;
                    s->dropped += it->second->dropped;
                    s->conns.erase(it);
                    if (s->h.on_close) s->h.on_close(id);
                };
                self->conns[id] = c;
                if (self->h.on_open) self->h.on_open(id);
                c->start_read();
            }
            self->accept_loop();
        });
    }
};

SeqPacketServer::SeqPacketServer(boost::asio::io_context& io, std::string path, Handlers h)
    : impl_(std::make_shared<Impl>(io, std::move(path), std::move(h))) {}

SeqPacketServer::~SeqPacketServer() {
    for (auto& [id, c] : impl_->conns) {
        c->on_close = nullptr;
        c->shutdown();
    }
    impl_->conns.clear();
    if (impl_->listener) {
        boost::system::error_code ec;
        impl_->listener->close(ec);
        impl_->listener.reset();
        ::unlink(impl_->path.c_str());
    }
}

void SeqPacketServer::start() {
    sockaddr_un a = make_addr(impl_->path);
    struct stat st{};
    if (::lstat(impl_->path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            throw std::system_error(EEXIST, std::generic_category(), impl_->path + " exists and is not a socket");
        ::unlink(impl_->path.c_str());
    }
    int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket(AF_UNIX, SOCK_SEQPACKET)");
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) < 0 || ::listen(fd, 128) < 0) {
        int e = errno;
        ::close(fd);
        throw std::system_error(e, std::generic_category(), "bind/listen " + impl_->path);
    }
    ::chmod(impl_->path.c_str(), 0660);
    impl_->listener = std::make_unique<Desc>(impl_->io, fd);
    impl_->accept_loop();
}

void SeqPacketServer::send(Id id, std::span<const std::uint8_t> d) {
    auto it = impl_->conns.find(id);
    if (it == impl_->conns.end()) {
        ++impl_->dropped;
        return;
    }
    it->second->send(d);
}

void SeqPacketServer::close(Id id) {
    auto it = impl_->conns.find(id);
    if (it != impl_->conns.end()) it->second->shutdown();
}

std::uint64_t SeqPacketServer::dropped() const noexcept {
    std::uint64_t n = impl_->dropped;
    for (const auto& [id, c] : impl_->conns) n += c->dropped;
    return n;
}

struct SeqPacketClient::Impl {
    boost::asio::io_context& io;
    Handlers h;
    std::shared_ptr<Conn> conn;
};

SeqPacketClient::SeqPacketClient(boost::asio::io_context& io, Handlers h)
    : impl_(std::make_shared<Impl>(Impl{io, std::move(h), nullptr})) {}

SeqPacketClient::~SeqPacketClient() {
    if (impl_->conn) {
        impl_->conn->on_close = nullptr;
        impl_->conn->on_datagram = nullptr;
        impl_->conn->shutdown();
    }
}

void SeqPacketClient::connect(const std::string& path) {
    sockaddr_un a = make_addr(path);
    int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket(AF_UNIX, SOCK_SEQPACKET)");
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) < 0) {
        int e = errno;
        ::close(fd);
        throw std::system_error(e, std::generic_category(), "connect " + path);
    }
    impl_->conn = std::make_shared<Conn>(impl_->io, fd);
    std::weak_ptr<Impl> weak = impl_;
    impl_->conn->on_datagram = [weak](std::span<const std::uint8_t> d) {
        if (auto s = weak.lock(); s && s->h.on_datagram) s->h.on_datagram(d);
    };
    impl_->conn->on_close = [weak] {
        if (auto s = weak.lock(); s && s->h.on_close) s->h.on_close();
    };
    impl_->conn->start_read();
}

bool SeqPacketClient::connected() const noexcept { return impl_->conn && !impl_->conn->closed; }

void SeqPacketClient::send(std::span<const std::uint8_t> d) {
    if (impl_->conn) impl_->conn->send(d);
}

}  // namespace dl::isdn
