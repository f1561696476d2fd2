#include "dl/dataplane/packet_batch.hpp"

#include <cstring>
#include <stdexcept>

namespace dl::dataplane {

namespace {
constexpr std::size_t kAlign = 64;  // keep each slot on its own cache line(s)
}

PacketBatch::PacketBatch(std::size_t capacity, std::size_t buffer_size, std::size_t headroom)
    : buffer_size_(buffer_size), headroom_(headroom) {
    if (capacity == 0 || buffer_size == 0 || buffer_size > (1u << 20) || headroom > 4096 ||
        capacity > (1u << 16))
        throw std::invalid_argument("PacketBatch: capacity 1..65536, buffer_size 1..1 MiB, headroom ≤ 4096");
    // +1: one spare octet after every slot so a reader can detect an oversized packet.
    stride_ = (headroom + buffer_size + 1 + kAlign - 1) / kAlign * kAlign;
    storage_.resize(stride_ * capacity);
    slots_.resize(capacity);
    for (std::size_t i = 0; i < capacity; ++i) rewind(i);
}

void PacketBatch::rewind(std::size_t i) noexcept {
    Packet& p = slots_[i];
    p.data = storage_.data() + i * stride_ + headroom_;
    p.headroom = static_cast<std::uint32_t>(headroom_);
    p.length = static_cast<std::uint32_t>(buffer_size_);
    p.tailroom = static_cast<std::uint32_t>(stride_ - headroom_ - buffer_size_);
}

Packet* PacketBatch::next_free() noexcept {
    if (size_ == slots_.size()) return nullptr;
    rewind(size_);
    return &slots_[size_];
}

Packet* PacketBatch::free_slot(std::size_t k) noexcept {
    if (k >= slots_.size() - size_) return nullptr;
    rewind(size_ + k);
    return &slots_[size_ + k];
}

void PacketBatch::commit(std::size_t length) noexcept {
    if (size_ == slots_.size() || length > buffer_size_) return;
    Packet& p = slots_[size_];
    p.length = static_cast<std::uint32_t>(length);
    p.tailroom = static_cast<std::uint32_t>(stride_ - headroom_ - length);
    ++size_;
}

bool PacketBatch::push(std::span<const std::uint8_t> bytes) noexcept {
    if (bytes.size() > buffer_size_) return false;
    Packet* p = next_free();
    if (!p) return false;
    if (!bytes.empty()) std::memcpy(p->data, bytes.data(), bytes.size());
    commit(bytes.size());
    return true;
}

}  // namespace dl::dataplane
