// A PassFlush::Post onto a Boost.Asio io_context that allocates nothing per post: the posted
// handler's operation lives in one block reserved up front (Asio's associated allocator, "Custom
// Memory Allocation" in the Boost.Asio overview), which suffices because a PassFlush keeps at most one
// flush posted at a time.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>

#include "dl/lnsd/pass_flush.hpp"

namespace dl::lnsd {

namespace loop_post_detail {

/// The reserved block: room for one posted operation (Asio's op header + the handler below).
struct Slot {
    static constexpr std::size_t kSize = 256;  // octets; an op of Handler fits (LoopPost tests: 0 fallbacks)
    alignas(std::max_align_t) unsigned char storage[kSize];
    bool in_use = false;
    std::uint64_t fallbacks = 0;  // allocations that did not fit (a second post in flight, or too big)
};

/// Hands out the slot when it is free and large enough, else the global operator new (counted).
/// Holds the slot by shared_ptr: an operation destroyed with the io_context (never run) still
/// gives its memory back to a live slot, whatever the order in which the owners go.
template <class T>
struct SlotAllocator {
    using value_type = T;
    std::shared_ptr<Slot> slot;
    explicit SlotAllocator(std::shared_ptr<Slot> s) noexcept : slot(std::move(s)) {}
    template <class U>
    SlotAllocator(const SlotAllocator<U>& o) noexcept : slot(o.slot) {}
    T* allocate(std::size_t n) {
        if (!slot->in_use && n * sizeof(T) <= Slot::kSize && alignof(T) <= alignof(std::max_align_t)) {
            slot->in_use = true;
            return reinterpret_cast<T*>(slot->storage);
        }
        ++slot->fallbacks;
        return static_cast<T*>(::operator new(n * sizeof(T)));
    }
    void deallocate(T* p, std::size_t) noexcept {
        if (reinterpret_cast<unsigned char*>(p) == slot->storage) slot->in_use = false;
        else ::operator delete(p);
    }
    template <class U>
    bool operator==(const SlotAllocator<U>& o) const noexcept { return slot == o.slot; }
    template <class U>
    bool operator!=(const SlotAllocator<U>& o) const noexcept { return slot != o.slot; }
};

/// The posted handler: runs the flush; its operation is allocated from the slot.
struct Handler {
    std::shared_ptr<Slot> slot;
    std::function<void()> work;
    using allocator_type = SlotAllocator<void>;
    allocator_type get_allocator() const noexcept { return allocator_type(slot); }
    void operator()() { work(); }
};

}  // namespace loop_post_detail

/// A PassFlush::Post (DataPath::defer_flush, Lns::defer_data_flush, PassSender::defer) that queues the work on `io`
/// with boost::asio::post, without heap allocation per post: Asio allocates the operation through
/// the handler's associated allocator, which returns one 256-octet block reserved here. A second
/// post while one is in flight (a PassFlush never does this) or an operation that does not fit falls
/// back to operator new (counted: `fallbacks`). Asio's own recycling of handler memory is not
/// relied on (it needs the posting thread to be inside io.run() and a free per-thread cache
/// entry). `io` must outlive the returned function's use; the block lives as long as the function
/// or a pending operation holds it. Allocates once, here.
class LoopPost {
public:
    explicit LoopPost(boost::asio::io_context& io) : io_(&io), slot_(std::make_shared<loop_post_detail::Slot>()) {}

    /// The function to hand to defer_flush (holds this poster's block; may outlive this object).
    PassFlush::Post post() const {
        return [io = io_, slot = slot_](std::function<void()> work) {
            boost::asio::post(*io, loop_post_detail::Handler{slot, std::move(work)});
        };
    }
    /// Posts that could not use the block (0 when its PassFlush keeps at most one flush posted).
    std::uint64_t fallbacks() const noexcept { return slot_->fallbacks; }
    /// Whether a posted operation holds the block now.
    bool in_flight() const noexcept { return slot_->in_use; }

private:
    boost::asio::io_context* io_;
    std::shared_ptr<loop_post_detail::Slot> slot_;
};

}  // namespace dl::lnsd
