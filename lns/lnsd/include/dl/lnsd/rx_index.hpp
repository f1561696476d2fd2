// The receive-side session index of lnsd's data fast path: (peer, local Tunnel ID, local Session
// ID) → session, in one flat open-addressed table so that a data message's look-up touches one
// cache line of the index (a node-based hash map costs a bucket, a node and the value, each a
// likely cache miss when TUN writes run between two received datagrams).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "dl/lnsd/csprng.hpp"

namespace dl::lnsd {

/// Open-addressed hash index from (peer, ids) to a small trivially copyable `V` held in the slot
/// itself: `peer` is the PeerId ((IPv4 << 16) | UDP port), `ids` is (local Tunnel ID << 16) |
/// local Session ID, the two IDs a data message names (RFC 2661 §3.1). What the receive path
/// needs per packet goes in `V` (lnsd: the session's key and a pointer to the rest), so a look-up
/// touches the index slot and nothing else.
///
/// Layout: a power-of-two vector of slots {peer, ids, 32-bit hash (top bit: in use), V} (32
/// octets for a 16-octet V), linear probing, load ≤ 1/2, so a look-up usually reads one slot and
/// at most a short run of neighbours. erase() uses backward-shift deletion (no tombstones: the
/// table never fills with dead slots, and a look-up stops at the first empty slot).
///
/// Memory and hostile input: the index holds exactly the entries its owner inserts. lnsd's
/// DataPath inserts one per established session, so it is bounded by what bounds sessions (the
/// engine's tunnel and session limits); a peer's data messages, known or not, never insert and
/// never grow it. find() on an unknown key costs at most the probe run at its home slot. The hash
/// is keyed with 64 bits from the OS CSPRNG (getrandom(2)) per index, so a peer cannot compute
/// which keys share a slot and aim collisions at one run; it is a fast mixing hash (128-bit
/// multiply-fold), not a cryptographic PRF. The IDs in the key are ours (chosen by the engine when
/// the tunnel and session were set up), so a peer chooses at most its own address and port.
///
/// Allocation: insert_or_assign() may grow (a new vector, every entry moved); find() and erase
/// never allocate. reserve(n) sizes it for n entries up front. Not thread-safe.
template <class V>
class RxIndex {
    static_assert(std::is_trivially_copyable_v<V>, "slots are moved by copy");

public:
    /// An index keyed with `seed` (and a second word derived from it); the default asks the CSPRNG.
    explicit RxIndex(std::uint64_t seed = csprng_u64()) noexcept
        : k0_(seed | 1), k1_(mix(seed ^ 0xA0761D6478BD642Full, 0xE7037ED1A0B428DBull)) {}

    /// The value for (peer, ids), or nullptr; valid until the next insert_or_assign() or erase.
    const V* find(std::uint64_t peer, std::uint32_t ids) const noexcept {
        const Slot* s = locate(peer, ids);
        return s ? &s->value : nullptr;
    }

    /// The key's hash, for find(peer, ids, hash) later: computed once, and the key's home slot
    /// prefetched (__builtin_prefetch, read), so that the look-ups of a batch of keys, each made
    /// after every prefetch was issued, overlap their cache misses instead of taking them one by
    /// one. Valid while the table is not resized (insert_or_assign may resize; find() with a hash
    /// from before is still correct then, only the prefetch was wasted). Never allocates.
    std::uint32_t prefetch(std::uint64_t peer, std::uint32_t ids) const noexcept {
        const std::uint32_t h = hash(peer, ids);
        if (!slots_.empty()) __builtin_prefetch(&slots_[h & mask_]);
        return h;
    }
    /// find() with the hash prefetch() returned for (peer, ids) (the same answer as find(peer, ids)).
    const V* find(std::uint64_t peer, std::uint32_t ids, std::uint32_t h) const noexcept {
        const Slot* s = locate(peer, ids, h);
        return s ? &s->value : nullptr;
    }

    /// Sets (peer, ids) → value, replacing an existing entry. May grow (allocates).
    void insert_or_assign(std::uint64_t peer, std::uint32_t ids, const V& value) {
        if (Slot* s = locate(peer, ids)) {
            s->value = value;
            return;
        }
        if ((size_ + 1) * 2 > slots_.size()) rehash(slots_.empty() ? kMinSlots : slots_.size() * 2);
        place(Slot{peer, ids, hash(peer, ids), value});
        ++size_;
    }

    /// Removes (peer, ids) if present; true if removed. Backward-shift deletion: entries after it
    /// in its probe run move up (no tombstones).
    bool erase(std::uint64_t peer, std::uint32_t ids) noexcept {
        return erase_if(peer, ids, [](const V&) { return true; });
    }
    /// Removes (peer, ids) if present and `pred(value)` holds; true if removed.
    template <class Pred>
    bool erase_if(std::uint64_t peer, std::uint32_t ids, Pred pred) noexcept {
        Slot* s = locate(peer, ids);
        if (!s || !pred(std::as_const(s->value))) return false;
        std::size_t i = static_cast<std::size_t>(s - slots_.data());
        for (std::size_t j = (i + 1) & mask_; slots_[j].hash; j = (j + 1) & mask_) {
            // slots_[j] may fill the hole at i unless its home lies cyclically in (i, j].
            const std::size_t home = slots_[j].hash & mask_;
            if (((j - home) & mask_) >= ((j - i) & mask_)) {
                slots_[i] = slots_[j];
                i = j;
            }
        }
        slots_[i] = Slot{};
        --size_;
        return true;
    }

    /// Sizes the table so that `n` entries fit without growing (allocates now, not later).
    void reserve(std::size_t n) {
        std::size_t want = kMinSlots;
        while (want < n * 2) want *= 2;
        if (want > slots_.size()) rehash(want);
    }

    std::size_t size() const noexcept { return size_; }
    /// Slots (a power of two, 0 before the first insert); entries ≤ capacity() / 2.
    std::size_t capacity() const noexcept { return slots_.size(); }
    /// Where a look-up for (peer, ids) starts (for tests that build collision runs); capacity() > 0.
    std::size_t home(std::uint64_t peer, std::uint32_t ids) const noexcept { return hash(peer, ids) & mask_; }
    /// Slot of (peer, ids), or capacity() if absent (for tests of the probe runs).
    std::size_t slot_of(std::uint64_t peer, std::uint32_t ids) const noexcept {
        const Slot* s = locate(peer, ids);
        return s ? static_cast<std::size_t>(s - slots_.data()) : slots_.size();
    }

private:
    struct Slot {
        std::uint64_t peer = 0;
        std::uint32_t ids = 0;
        std::uint32_t hash = 0;  // 0: empty; else the key's hash with kUsed set
        V value{};
    };
    static constexpr std::size_t kMinSlots = 16;
    static constexpr std::uint32_t kUsed = 0x80000000u;  // above every mask (≤ 2^31 slots)

    static std::uint64_t mix(std::uint64_t a, std::uint64_t b) noexcept {
        __extension__ using U128 = unsigned __int128;  // GCC / Clang; __extension__: no -Wpedantic
        const U128 r = static_cast<U128>(a) * b;
        return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
    }
    std::uint32_t hash(std::uint64_t peer, std::uint32_t ids) const noexcept {
        const std::uint64_t h = mix(peer ^ k0_, (std::uint64_t{ids} << 32 | ids) ^ k1_);
        return static_cast<std::uint32_t>(mix(h ^ k1_, 0x9E3779B97F4A7C15ull)) | kUsed;
    }
    const Slot* locate(std::uint64_t peer, std::uint32_t ids) const noexcept {
        return locate(peer, ids, hash(peer, ids));
    }
    const Slot* locate(std::uint64_t peer, std::uint32_t ids, std::uint32_t h) const noexcept {
        if (slots_.empty()) return nullptr;
        for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
            const Slot& s = slots_[i];
            if (!s.hash) return nullptr;
            if (s.hash == h && s.ids == ids && s.peer == peer) return &s;
        }
    }
    Slot* locate(std::uint64_t peer, std::uint32_t ids) noexcept {
        return const_cast<Slot*>(std::as_const(*this).locate(peer, ids));
    }
    void place(const Slot& e) noexcept {
        std::size_t i = e.hash & mask_;
        while (slots_[i].hash) i = (i + 1) & mask_;
        slots_[i] = e;
    }
    void rehash(std::size_t n) {
        std::vector<Slot> old(n);
        old.swap(slots_);
        mask_ = n - 1;
        for (const Slot& s : old)
            if (s.hash) place(s);
    }

    std::uint64_t k0_, k1_;
    std::vector<Slot> slots_;
    std::size_t mask_ = 0;
    std::size_t size_ = 0;
};

}  // namespace dl::lnsd
