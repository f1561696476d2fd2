// RxIndex (rx_index.hpp): the data fast path's (peer, tunnel, session) index. Insert, find,
// replace, erase, growth, collision runs built from home() and erase in the middle of a run
// (backward shift), checked against std::unordered_map over a long random sequence.
#include "dl/lnsd/rx_index.hpp"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>
#include <vector>


namespace {
struct V {
    int n = 0;
};
using Index = dl::lnsd::RxIndex<V*>;
constexpr std::uint64_t kPeer = (std::uint64_t{0x0A000002} << 16) | 1701;  // 10.0.0.2:1701

/// The value stored for (peer, ids), or nullptr if absent.
V* at(const Index& idx, std::uint64_t peer, std::uint32_t ids) {
    V* const* v = idx.find(peer, ids);
    return v ? *v : nullptr;
}

/// `count` distinct ids whose home slot is `home` in `idx` (capacity fixed, found by search).
std::vector<std::uint32_t> ids_at(const Index& idx, std::size_t home, std::size_t count, std::uint32_t from = 1) {
    std::vector<std::uint32_t> out;
    for (std::uint32_t ids = from; out.size() < count; ++ids)
        if (idx.home(kPeer, ids) == home) out.push_back(ids);
    return out;
}
}  // namespace

TEST(RxIndex, InsertFindReplaceErase) {
    Index idx(42);
    V a, b;
    EXPECT_EQ(idx.find(kPeer, 0x00010001), nullptr);  // empty table: no slots at all
    EXPECT_FALSE(idx.erase(kPeer, 0x00010001));
    idx.insert_or_assign(kPeer, 0x00010001, &a);
    EXPECT_EQ(at(idx, kPeer, 0x00010001), &a);
    EXPECT_EQ(at(idx, kPeer, 0x00010002), nullptr);      // other session
    EXPECT_EQ(at(idx, kPeer + 1, 0x00010001), nullptr);  // same IDs, other peer port
    idx.insert_or_assign(kPeer, 0x00010001, &b);          // replaced, not added
    EXPECT_EQ(idx.size(), 1u);
    EXPECT_EQ(at(idx, kPeer, 0x00010001), &b);
    EXPECT_FALSE(idx.erase_if(kPeer, 0x00010001, [&](V* v) { return v == &a; }));  // b now: kept
    EXPECT_EQ(at(idx, kPeer, 0x00010001), &b);
    EXPECT_TRUE(idx.erase_if(kPeer, 0x00010001, [&](V* v) { return v == &b; }));
    EXPECT_EQ(at(idx, kPeer, 0x00010001), nullptr);
    EXPECT_EQ(idx.size(), 0u);
}

TEST(RxIndex, TheValueIsHeldInTheSlotAndMayBeZero) {
    Index idx(3);
    idx.insert_or_assign(kPeer, 0x00020003, nullptr);  // a zero value is still an entry
    V* const* v = idx.find(kPeer, 0x00020003);
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(*v, nullptr);
    EXPECT_EQ(idx.size(), 1u);
    EXPECT_TRUE(idx.erase(kPeer, 0x00020003));
    EXPECT_EQ(idx.find(kPeer, 0x00020003), nullptr);
}

TEST(RxIndex, GrowsKeepingLoadAtMostHalfAndEveryEntry) {
    Index idx(7);
    std::vector<V> v(5000);
    for (std::uint32_t i = 0; i < v.size(); ++i) {
        idx.insert_or_assign(kPeer, i * 7919u, &v[i]);
        ASSERT_LE(idx.size() * 2, idx.capacity());
    }
    EXPECT_EQ(idx.size(), v.size());
    EXPECT_EQ(idx.capacity() & (idx.capacity() - 1), 0u);  // a power of two
    for (std::uint32_t i = 0; i < v.size(); ++i) ASSERT_EQ(at(idx, kPeer, i * 7919u), &v[i]) << i;
    EXPECT_EQ(at(idx, kPeer, 1), nullptr);
}

TEST(RxIndex, ReserveSizesUpFrontSoInsertsDoNotGrow) {
    Index idx(9);
    idx.reserve(1000);
    const std::size_t cap = idx.capacity();
    EXPECT_GE(cap, 2000u);
    std::vector<V> v(1000);
    for (std::uint32_t i = 0; i < v.size(); ++i) idx.insert_or_assign(kPeer, i, &v[i]);
    EXPECT_EQ(idx.capacity(), cap);
}

TEST(RxIndex, CollisionRunAndEraseInTheMiddleShiftsTheRestBack) {
    Index idx(1234);
    idx.reserve(8);  // 16 slots: room for the run without growing
    ASSERT_EQ(idx.capacity(), 16u);
    // Three keys whose home is slot 3, one whose home is slot 4: A@3 B@4 C@5 D@6 (D displaced by the run).
    const auto at3 = ids_at(idx, 3, 3);
    const auto at4 = ids_at(idx, 4, 1);
    V a, b, c, d;
    idx.insert_or_assign(kPeer, at3[0], &a);
    idx.insert_or_assign(kPeer, at3[1], &b);
    idx.insert_or_assign(kPeer, at3[2], &c);
    idx.insert_or_assign(kPeer, at4[0], &d);
    ASSERT_EQ(idx.capacity(), 16u);
    EXPECT_EQ(idx.slot_of(kPeer, at3[0]), 3u);
    EXPECT_EQ(idx.slot_of(kPeer, at3[1]), 4u);
    EXPECT_EQ(idx.slot_of(kPeer, at3[2]), 5u);
    EXPECT_EQ(idx.slot_of(kPeer, at4[0]), 6u);
    // Erase B (middle of the run): C and D move back one slot each; without the shift (a bare
    // empty slot at 4) neither C nor D would be found.
    ASSERT_TRUE(idx.erase(kPeer, at3[1]));
    EXPECT_EQ(at(idx, kPeer, at3[1]), nullptr);
    EXPECT_EQ(at(idx, kPeer, at3[0]), &a);
    EXPECT_EQ(at(idx, kPeer, at3[2]), &c);
    EXPECT_EQ(at(idx, kPeer, at4[0]), &d);
    EXPECT_EQ(idx.slot_of(kPeer, at3[2]), 4u);
    EXPECT_EQ(idx.slot_of(kPeer, at4[0]), 5u);  // home 4 now taken by C: D next to it
    EXPECT_EQ(idx.slot_of(kPeer, at3[0]), 3u);
    // Erase A (head of the run): C moves to 3 (its home); D to 4 (its home); slot 5 empty.
    ASSERT_TRUE(idx.erase(kPeer, at3[0]));
    EXPECT_EQ(idx.slot_of(kPeer, at3[2]), 3u);
    EXPECT_EQ(idx.slot_of(kPeer, at4[0]), 4u);
    EXPECT_EQ(at(idx, kPeer, at4[0]), &d);
    EXPECT_EQ(idx.size(), 2u);
}

TEST(RxIndex, EraseDoesNotMoveAnEntryBeforeItsHome) {
    Index idx(99);
    idx.reserve(8);
    // X home 5 at 5, Y home 6 at 6, then erase X: Y must stay at 6 (moving it to 5 would put it
    // before its home, where a look-up starting at 6 never sees it).
    const auto x = ids_at(idx, 5, 1);
    const auto y = ids_at(idx, 6, 1);
    V vx, vy;
    idx.insert_or_assign(kPeer, x[0], &vx);
    idx.insert_or_assign(kPeer, y[0], &vy);
    ASSERT_TRUE(idx.erase(kPeer, x[0]));
    EXPECT_EQ(idx.slot_of(kPeer, y[0]), 6u);
    EXPECT_EQ(at(idx, kPeer, y[0]), &vy);
}

TEST(RxIndex, RunsWrapAroundTheEndOfTheTable) {
    Index idx(5);
    idx.reserve(8);
    const auto last = ids_at(idx, 15, 3);  // 15, 0, 1
    const auto zero = ids_at(idx, 0, 1);   // displaced to 2
    V v[4];
    for (int i = 0; i < 3; ++i) idx.insert_or_assign(kPeer, last[i], &v[i]);
    idx.insert_or_assign(kPeer, zero[0], &v[3]);
    EXPECT_EQ(idx.slot_of(kPeer, last[1]), 0u);
    EXPECT_EQ(idx.slot_of(kPeer, zero[0]), 2u);
    ASSERT_TRUE(idx.erase(kPeer, last[0]));  // at 15: everything moves back across the end
    EXPECT_EQ(idx.slot_of(kPeer, last[1]), 15u);
    EXPECT_EQ(idx.slot_of(kPeer, last[2]), 0u);
    EXPECT_EQ(idx.slot_of(kPeer, zero[0]), 1u);
    for (int i = 1; i < 3; ++i) EXPECT_EQ(at(idx, kPeer, last[i]), &v[i]);
    EXPECT_EQ(at(idx, kPeer, zero[0]), &v[3]);
}

TEST(RxIndex, MatchesAStdUnorderedMapOverRandomInsertsAndErases) {
    Index idx(31337);
    std::unordered_map<std::uint64_t, V*> ref;  // (peer low bits << 32 | ids)
    std::vector<V> pool(64);
    std::mt19937_64 rng(1);
    for (int step = 0; step < 200000; ++step) {
        const std::uint64_t peer = kPeer + (rng() % 4);
        const std::uint32_t ids = static_cast<std::uint32_t>(rng() % 512);  // dense: long runs, many collisions
        const std::uint64_t k = ((peer - kPeer) << 32) | ids;
        switch (rng() % 3) {
            case 0: {
                V* v = &pool[rng() % pool.size()];
                idx.insert_or_assign(peer, ids, v);
                ref[k] = v;
                break;
            }
            case 1:
                ASSERT_EQ(idx.erase(peer, ids), ref.erase(k) == 1) << step;
                break;
            default: {
                const auto it = ref.find(k);
                ASSERT_EQ(at(idx, peer, ids), it == ref.end() ? nullptr : it->second) << step;
            }
        }
        ASSERT_EQ(idx.size(), ref.size());
    }
    for (const auto& [k, v] : ref) EXPECT_EQ(at(idx, kPeer + (k >> 32), static_cast<std::uint32_t>(k)), v);
}

// prefetch() gives the key's hash; find(peer, ids, hash) answers as find(peer, ids), for present
// and absent keys, in collision runs, and with a hash taken before the table grew or entries moved
// (receive_batch looks a batch up with hashes from its first pass).
TEST(RxIndex, FindWithThePrefetchedHashAnswersAsFind) {
    Index idx(99);
    std::vector<V> pool(8);
    std::mt19937_64 rng(5);
    std::vector<std::pair<std::uint64_t, std::uint32_t>> keys;
    for (int i = 0; i < 4000; ++i) keys.emplace_back(kPeer + rng() % 3, static_cast<std::uint32_t>(rng() % 3000));
    std::vector<std::uint32_t> hashes;
    for (const auto& [peer, ids] : keys) hashes.push_back(idx.prefetch(peer, ids));  // empty table: still a hash
    for (int step = 0; step < 20; ++step) {
        // Grow and shuffle the table between the hashes and the look-ups.
        for (int i = 0; i < 150; ++i) {
            const auto& [peer, ids] = keys[rng() % keys.size()];
            if (rng() % 3) idx.insert_or_assign(peer, ids, &pool[rng() % pool.size()]);
            else idx.erase(peer, ids);
        }
        for (std::size_t i = 0; i < keys.size(); ++i) {
            const auto& [peer, ids] = keys[i];
            V* const* a = idx.find(peer, ids);
            V* const* b = idx.find(peer, ids, hashes[i]);
            ASSERT_EQ(a, b) << step << " " << i;
            if (step % 5 == 0) {
                ASSERT_EQ(idx.prefetch(peer, ids), hashes[i]) << "the hash is the key's, not the table's";
            }
        }
    }
    EXPECT_GT(idx.size(), 500u);
}

TEST(RxIndex, SeedsDifferSoHomesDiffer) {
    // Two indexes keyed from the CSPRNG place the same keys differently (a peer cannot know where).
    Index a, b;
    a.reserve(512);
    b.reserve(512);
    int same = 0;
    for (std::uint32_t ids = 0; ids < 256; ++ids) same += a.home(kPeer, ids) == b.home(kPeer, ids);
    EXPECT_LT(same, 32);  // ≈ 256 / 1024 expected by chance
}
