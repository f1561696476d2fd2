// Fixed ring of packet buffers for batched TUN / UDP I/O: one allocation at construction, none on
// the forwarding path (no per-packet allocation).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace dl::dataplane {

/// One packet slot of a PacketBatch. `data` points at the first octet of the packet; `headroom`
/// octets before it are free, so a header (PPP + L2TP, 10..16 octets) can be prepended in place.
struct Packet {
    std::uint8_t* data = nullptr;
    std::uint32_t length = 0;    ///< octets of packet at `data`
    std::uint32_t headroom = 0;  ///< free octets before `data`
    std::uint32_t tailroom = 0;  ///< free octets after data + length

    std::span<std::uint8_t> bytes() const noexcept { return {data, length}; }
    /// Grows the packet at the front by `n` octets and returns the new start, or nullptr if the
    /// headroom is smaller than `n` (the packet is unchanged then).
    std::uint8_t* prepend(std::size_t n) noexcept {
        if (n > headroom) return nullptr;
        data -= n;
        headroom -= static_cast<std::uint32_t>(n);
        length += static_cast<std::uint32_t>(n);
        return data;
    }
    /// Removes `n` octets from the front (false, unchanged, if n > length).
    bool pull(std::size_t n) noexcept {
        if (n > length) return false;
        data += n;
        headroom += static_cast<std::uint32_t>(n);
        length -= static_cast<std::uint32_t>(n);
        return true;
    }
};

/// `capacity` buffers of `headroom + buffer_size` octets in one contiguous allocation.
/// size() slots are filled (by TunDevice::read_batch, a recvmmsg wrapper, or push()); reset()
/// empties the batch and restores every slot's headroom. Not thread-safe.
class PacketBatch {
public:
    /// capacity ≥ 1, buffer_size ≥ 1 (octets of packet room per slot, e.g. MTU), headroom ≥ 0.
    /// std::invalid_argument otherwise.
    PacketBatch(std::size_t capacity, std::size_t buffer_size, std::size_t headroom = 32);

    std::size_t capacity() const noexcept { return slots_.size(); }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    bool full() const noexcept { return size_ == slots_.size(); }
    std::size_t buffer_size() const noexcept { return buffer_size_; }
    std::size_t headroom() const noexcept { return headroom_; }

    Packet& operator[](std::size_t i) noexcept { return slots_[i]; }
    const Packet& operator[](std::size_t i) const noexcept { return slots_[i]; }
    Packet* begin() noexcept { return slots_.data(); }
    Packet* end() noexcept { return slots_.data() + size_; }

    /// The next free slot, reset to full buffer_size() room at the default headroom (length =
    /// buffer_size), for a reader to fill; commit(n) then marks it filled with n octets.
    /// nullptr if the batch is full.
    Packet* next_free() noexcept;
    /// The k-th free slot after the filled ones (k = 0 is next_free()), reset like next_free();
    /// nullptr if size() + k ≥ capacity(). For vectored reads (recvmmsg) that fill several at once.
    Packet* free_slot(std::size_t k) noexcept;
    /// Where slot i's packet starts when rewound (its buffer past the default headroom), without
    /// touching the slot: fixed for the batch's life, so a vectored reader (UdpBatchReceiver) can
    /// keep its I/O vectors pointing there across calls. i < capacity().
    std::uint8_t* slot_buffer(std::size_t i) noexcept { return storage_.data() + i * stride_ + headroom_; }
    /// Marks the slot returned by next_free() filled with `length` ≤ buffer_size octets.
    void commit(std::size_t length) noexcept;
    /// Copies `bytes` into the next free slot; false if full or bytes exceed buffer_size.
    bool push(std::span<const std::uint8_t> bytes) noexcept;
    /// Empties the batch (slots keep their memory).
    void reset() noexcept { size_ = 0; }

private:
    void rewind(std::size_t i) noexcept;
    std::vector<std::uint8_t> storage_;
    std::vector<Packet> slots_;
    std::size_t buffer_size_;
    std::size_t headroom_;
    std::size_t stride_;
    std::size_t size_ = 0;
};

}  // namespace dl::dataplane
