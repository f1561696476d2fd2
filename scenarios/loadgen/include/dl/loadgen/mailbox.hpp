// A FIFO of values handed between the generator's components through posted handlers, whose slots
// are reused: no allocation per hand-over once the ring holds the largest backlog.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace dl::loadgen {

/// FIFO ring of T. push() copy-assigns into a slot kept from earlier use, so a T's strings and
/// vectors keep their capacity and a copy of one no longer than before allocates nothing;
/// pop_into() swaps the oldest value into the caller's object (whose old storage returns to the
/// ring). The ring doubles when full (moving its values); it never shrinks. Not thread-safe.
/// T must be default-constructible, copy-assignable and swappable.
template <class T>
class Mailbox {
public:
    explicit Mailbox(std::size_t capacity = 16) : ring_(capacity ? capacity : 1) {}

    /// Appends a copy of `v`; returns the stored value (valid until the next push or pop).
    T& push(const T& v) {
        if (size_ == ring_.size()) grow();
        T& slot = ring_[(head_ + size_) % ring_.size()];
        slot = v;
        ++size_;
        return slot;
    }
    /// Moves the oldest value into `out` (swap). Precondition: !empty().
    void pop_into(T& out) {
        using std::swap;
        swap(out, ring_[head_]);
        head_ = (head_ + 1) % ring_.size();
        --size_;
    }
    bool empty() const noexcept { return size_ == 0; }
    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return ring_.size(); }

private:
    void grow() {
        std::vector<T> bigger(ring_.size() * 2);
        for (std::size_t i = 0; i < size_; ++i) bigger[i] = std::move(ring_[(head_ + i) % ring_.size()]);
        ring_ = std::move(bigger);
        head_ = 0;
    }
    std::vector<T> ring_;
    std::size_t head_ = 0, size_ = 0;
};

}  // namespace dl::loadgen
