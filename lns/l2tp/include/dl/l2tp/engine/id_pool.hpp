// Random 16-bit identifiers (Tunnel ID, Session ID; RFC 2661 §3.1, §5.2) in O(1) whatever the
// occupancy: a two-level bitmap over the 65 535 non-zero values.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>

#include "dl/l2tp/engine/random.hpp"

namespace dl::l2tp::engine {

/// The set of IDs in use out of 1..65535 (0 is reserved: RFC 2661 §3.1 Tunnel ID 0 and Session
/// ID 0 name the control connection / the tunnel itself).
///
/// allocate(): a random candidate from `rng` (taken at once when free: a uniform draw over the
/// free IDs while the space is sparse); else up to 3 more draws; else the first free ID after the
/// last candidate, found through a summary of full 64-ID words (16 words) and one word: at most
/// 4 draws + 17 word reads, whatever the occupancy. Memory: 8 KiB + 128 B, allocated on the first
/// allocate()/insert() (an empty pool is a pointer).
class IdPool {
public:
    /// A free ID, now taken; nullopt when all 65 535 are taken.
    std::optional<std::uint16_t> allocate(RandomSource& rng);
    /// Marks `id` taken (it was chosen elsewhere, e.g. restored); false if already taken or 0.
    bool insert(std::uint16_t id);
    /// Frees `id`; no effect if it was free.
    void release(std::uint16_t id) noexcept;
    bool taken(std::uint16_t id) const noexcept;
    std::size_t size() const noexcept { return count_; }
    static constexpr std::size_t capacity() noexcept { return 65535; }

private:
    struct Bits {
        std::array<std::uint64_t, 1024> words{};  // bit i of word w: ID w*64+i taken
        std::array<std::uint64_t, 16> full{};     // bit j of full[k]: words[k*64+j] has no free ID
    };
    void take(std::uint16_t id) noexcept;
    std::unique_ptr<Bits> bits_;
    std::size_t count_ = 0;
};

}  // namespace dl::l2tp::engine
