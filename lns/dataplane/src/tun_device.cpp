#include "dl/dataplane/tun_device.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

namespace dl::dataplane {

namespace {

[[noreturn]] void fail(const std::string& name, const char* step, int err) {
    throw std::system_error(err, std::generic_category(), "TUN " + name + ": " + step);
}

struct Ctl {
    int fd;
    explicit Ctl(const std::string& name) : fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
        if (fd < 0) fail(name, "socket(AF_INET) for ioctl", errno);
    }
    ~Ctl() { ::close(fd); }
};

ifreq make_ifreq(const std::string& name) {
    ifreq ifr{};
    std::memcpy(ifr.ifr_name, name.data(), std::min(name.size(), std::size_t{IFNAMSIZ - 1}));
    return ifr;
}

}  // namespace

TunDevice TunDevice::open(const TunOptions& o) {
    if (o.name.empty() || o.name.size() >= IFNAMSIZ) fail(o.name, "name must be 1..15 characters", EINVAL);
    if (o.mtu < 68 || o.mtu > 65535) fail(o.name, "MTU must be 68..65535", EINVAL);
    TunDevice t;
    t.name_ = o.name;
    t.fd_ = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (t.fd_ < 0) fail(o.name, "open /dev/net/tun", errno);
    ifreq ifr = make_ifreq(o.name);
    ifr.ifr_flags = static_cast<short>(IFF_TUN | IFF_NO_PI | (o.multi_queue ? IFF_MULTI_QUEUE : 0));
    if (::ioctl(t.fd_, TUNSETIFF, &ifr) < 0) fail(o.name, "ioctl TUNSETIFF", errno);
    t.name_ = ifr.ifr_name;
    t.ifindex_ = static_cast<int>(::if_nametoindex(t.name_.c_str()));
    if (t.ifindex_ == 0) fail(t.name_, "if_nametoindex", errno);
    t.set_mtu(o.mtu);
    if (o.up) t.set_up(true);
    return t;
}

TunDevice::TunDevice(TunDevice&& other) noexcept { *this = std::move(other); }

TunDevice& TunDevice::operator=(TunDevice&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(other.fd_, -1);
        name_ = std::move(other.name_);
        ifindex_ = other.ifindex_;
        mtu_ = other.mtu_;
        read_errors_ = other.read_errors_;
        truncated_ = other.truncated_;
        write_drops_ = other.write_drops_;
    }
    return *this;
}

TunDevice::~TunDevice() {
    if (fd_ >= 0) ::close(fd_);
}

void TunDevice::set_mtu(int mtu) {
    Ctl ctl(name_);
    ifreq ifr = make_ifreq(name_);
    ifr.ifr_mtu = mtu;
    if (::ioctl(ctl.fd, SIOCSIFMTU, &ifr) < 0) fail(name_, "ioctl SIOCSIFMTU", errno);
    mtu_ = mtu;
}

void TunDevice::set_up(bool up) {
    Ctl ctl(name_);
    ifreq ifr = make_ifreq(name_);
    if (::ioctl(ctl.fd, SIOCGIFFLAGS, &ifr) < 0) fail(name_, "ioctl SIOCGIFFLAGS", errno);
    if (up)
        ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    else
        ifr.ifr_flags = static_cast<short>(ifr.ifr_flags & ~IFF_UP);
    if (::ioctl(ctl.fd, SIOCSIFFLAGS, &ifr) < 0) fail(name_, "ioctl SIOCSIFFLAGS", errno);
}

std::size_t TunDevice::read_batch(PacketBatch& batch, std::size_t max) noexcept {
    std::size_t n = 0;
    while (n < max) {
        Packet* p = batch.next_free();
        if (!p) break;
        // Read one octet more than the slot holds so an oversized packet is detected, not
        // silently cut (the slot's tailroom, padding to 64 octets, always has room for it).
        const std::size_t room = p->length + (p->tailroom > 0 ? 1 : 0);
        const ssize_t r = ::read(fd_, p->data, room);
        if (r < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) ++read_errors_;
            break;
        }
        if (static_cast<std::size_t>(r) > batch.buffer_size()) {
            ++truncated_;
            continue;
        }
        batch.commit(static_cast<std::size_t>(r));
        ++n;
    }
    return n;
}

WriteStatus TunDevice::write(std::span<const std::uint8_t> packet) noexcept {
    for (;;) {
        const ssize_t r = ::write(fd_, packet.data(), packet.size());
        if (r >= 0) return WriteStatus::written;
        if (errno == EINTR) continue;
        ++write_drops_;
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? WriteStatus::would_block : WriteStatus::error;
    }
}

std::size_t TunDevice::write_batch(const PacketBatch& batch) noexcept {
    std::size_t ok = 0;
    for (std::size_t i = 0; i < batch.size(); ++i)
        if (write(batch[i].bytes()) == WriteStatus::written) ++ok;
    return ok;
}

}  // namespace dl::dataplane
