// O(1) random identifier allocation (id_pool.hpp).
#include "dl/l2tp/engine/id_pool.hpp"

#include <bit>

namespace dl::l2tp::engine {

namespace {
constexpr std::uint64_t kAll = ~std::uint64_t{0};
}

bool IdPool::taken(std::uint16_t id) const noexcept {
    if (id == 0) return true;
    return bits_ && ((bits_->words[id >> 6] >> (id & 63)) & 1U);
}

void IdPool::take(std::uint16_t id) noexcept {
    auto& w = bits_->words[id >> 6];
    w |= std::uint64_t{1} << (id & 63);
    if (w == kAll) bits_->full[id >> 12] |= std::uint64_t{1} << ((id >> 6) & 63);
    ++count_;
}

bool IdPool::insert(std::uint16_t id) {
    if (!bits_) {
        bits_ = std::make_unique<Bits>();
        bits_->words[0] = 1;  // ID 0 is never handed out
    }
    if (taken(id)) return false;
    take(id);
    return true;
}

void IdPool::release(std::uint16_t id) noexcept {
    if (id == 0 || !taken(id)) return;
    bits_->words[id >> 6] &= ~(std::uint64_t{1} << (id & 63));
    bits_->full[id >> 12] &= ~(std::uint64_t{1} << ((id >> 6) & 63));
    --count_;
}

std::optional<std::uint16_t> IdPool::allocate(RandomSource& rng) {
    if (!bits_) {
        bits_ = std::make_unique<Bits>();
        bits_->words[0] = 1;
    }
    if (count_ >= capacity()) return std::nullopt;
    std::uint16_t v = 0;
    for (int i = 0; i < 4; ++i) {
        v = static_cast<std::uint16_t>(rng.u64());
        if (!taken(v)) {
            take(v);
            return v;
        }
    }
    // Dense: the first free ID at or after v (wrapping). Word v>>6 first (bits from v on)…
    const unsigned w0 = v >> 6;
    if (std::uint64_t free = ~bits_->words[w0] & (kAll << (v & 63))) {
        const auto id = static_cast<std::uint16_t>((w0 << 6) | static_cast<unsigned>(std::countr_zero(free)));
        take(id);
        return id;
    }
    // …then the next word with a free ID, found in the summary: 16 summary words, one per 64 words.
    for (unsigned n = 1; n <= 1024;) {
        const unsigned w = (w0 + n) & 1023;
        const unsigned k = w >> 6;
        // Words w..end of summary word k that are not full.
        std::uint64_t open = ~bits_->full[k] & (kAll << (w & 63));
        if (open) {
            const unsigned ww = (k << 6) | static_cast<unsigned>(std::countr_zero(open));
            const std::uint64_t free = ~bits_->words[ww];
            const auto id = static_cast<std::uint16_t>((ww << 6) | static_cast<unsigned>(std::countr_zero(free)));
            take(id);
            return id;
        }
        n += 64 - (w & 63);  // next summary word
    }
    // Only the part of word w0 before v is left.
    const std::uint64_t free = ~bits_->words[w0];
    if (!free) return std::nullopt;
    const auto id = static_cast<std::uint16_t>((w0 << 6) | static_cast<unsigned>(std::countr_zero(free)));
    take(id);
    return id;
}

}  // namespace dl::l2tp::engine
