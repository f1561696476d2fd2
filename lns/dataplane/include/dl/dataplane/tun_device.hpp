// A Linux TUN device (one per virtual router, e.g. "dlo-<vr>"), non-blocking, with batch reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "dl/dataplane/packet_batch.hpp"

namespace dl::dataplane {

struct TunOptions {
    std::string name;          ///< interface name, ≤ 15 characters (IFNAMSIZ - 1)
    int mtu = 1500;            ///< octets; 68..65535
    bool multi_queue = false;  ///< IFF_MULTI_QUEUE: attach again with the same name for more queues
    bool up = true;            ///< set IFF_UP after creation
};

/// Outcome of one write.
enum class WriteStatus : std::uint8_t { written, would_block, error };

/// Owns one queue (fd) of a TUN device opened with IFF_TUN | IFF_NO_PI (raw IPv4/IPv6 packets, no
/// packet-information prefix), O_NONBLOCK. Creating it needs CAP_NET_ADMIN and creates the device
/// in the calling thread's network namespace. Move-only; the fd is closed on destruction (a
/// non-persistent device disappears with its last queue).
class TunDevice {
public:
    /// Creates or attaches the device, sets MTU and (if asked) IFF_UP.
    /// std::system_error naming the device and the step (open /dev/net/tun, TUNSETIFF, SIOCSIFMTU…).
    static TunDevice open(const TunOptions& options);

    TunDevice() = default;
    TunDevice(TunDevice&& other) noexcept;
    TunDevice& operator=(TunDevice&& other) noexcept;
    TunDevice(const TunDevice&) = delete;
    TunDevice& operator=(const TunDevice&) = delete;
    ~TunDevice();

    bool is_open() const noexcept { return fd_ >= 0; }
    int fd() const noexcept { return fd_; }
    const std::string& name() const noexcept { return name_; }
    int ifindex() const noexcept { return ifindex_; }
    int mtu() const noexcept { return mtu_; }

    /// Reads packets until `batch` is full, `max` packets were read, or the device has none
    /// (EAGAIN). Appends to the batch; returns the number read. A packet longer than the
    /// batch's buffer_size is truncated by the kernel and dropped here (counted in
    /// truncated()). Other read errors end the batch and are counted in read_errors().
    std::size_t read_batch(PacketBatch& batch, std::size_t max = SIZE_MAX) noexcept;
    /// Writes one packet (the TUN ABI has no multi-packet write: one write(2) each).
    WriteStatus write(std::span<const std::uint8_t> packet) noexcept;
    /// Writes every packet of the batch; returns the number written (the rest were dropped
    /// and are counted in write_drops()).
    std::size_t write_batch(const PacketBatch& batch) noexcept;

    /// Changes the MTU (SIOCSIFMTU). std::system_error on failure.
    void set_mtu(int mtu);
    /// Sets or clears IFF_UP (SIOCSIFFLAGS). std::system_error on failure.
    void set_up(bool up);

    std::uint64_t read_errors() const noexcept { return read_errors_; }
    std::uint64_t truncated() const noexcept { return truncated_; }
    std::uint64_t write_drops() const noexcept { return write_drops_; }

private:
    int fd_ = -1;
    std::string name_;
    int ifindex_ = 0;
    int mtu_ = 0;
    std::uint64_t read_errors_ = 0;
    std::uint64_t truncated_ = 0;
    std::uint64_t write_drops_ = 0;
};

}  // namespace dl::dataplane
