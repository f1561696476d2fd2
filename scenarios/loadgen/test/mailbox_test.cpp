#include "dl/loadgen/mailbox.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

// The replacements below pair malloc with free; GCC 12 cannot see that through inlining.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
// ---- counting allocator: every operator new of this test binary is counted ----
namespace {
std::atomic<std::uint64_t> g_allocations{0};
}
void* operator new(std::size_t n) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace dl::loadgen {
namespace {

struct Item {
    int id = 0;
    std::vector<std::uint8_t> payload;
};

// First in, first out, across growth of the ring (pushes while values wait, pops between).
TEST(Mailbox, FifoAcrossGrowth) {
    Mailbox<Item> box(2);
    Item out;
    int next_out = 0;
    for (int i = 0; i < 50; ++i) {
        box.push(Item{i, std::vector<std::uint8_t>(static_cast<std::size_t>(i % 7), static_cast<std::uint8_t>(i))});
        if (i % 3 == 2) {
            box.pop_into(out);
            EXPECT_EQ(out.id, next_out);
            EXPECT_EQ(out.payload.size(), static_cast<std::size_t>(next_out % 7));
            ++next_out;
        }
    }
    while (!box.empty()) {
        box.pop_into(out);
        EXPECT_EQ(out.id, next_out++);
    }
    EXPECT_EQ(next_out, 50);
    EXPECT_GE(box.capacity(), 34u);
}

// Once the slots have held payloads as long, a hand-over (push a copy, pop it) allocates nothing:
// what a copy of the value into a posted handler would cost (one allocation per payload) is gone.
TEST(Mailbox, NoAllocationPerHandOverOnceWarm) {
    Mailbox<Item> box(4);
    Item out;
    const Item frame{7, std::vector<std::uint8_t>(60, 0x7e)};
    for (int i = 0; i < 8; ++i) {  // warm every slot and `out`
        box.push(frame);
        box.push(frame);
        box.pop_into(out);
        box.pop_into(out);
    }
    const auto before = g_allocations.load();
    for (int i = 0; i < 1000; ++i) {
        box.push(frame);
        box.push(frame);
        box.pop_into(out);
        box.pop_into(out);
    }
    EXPECT_EQ(g_allocations.load() - before, 0u);
    EXPECT_EQ(out.payload, frame.payload);
}

}  // namespace
}  // namespace dl::loadgen
