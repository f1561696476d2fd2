// One flush per pass of lnsd's event loop, shared by the two senders that batch their datagrams
// that way: DataPath (the PPP frames to the CPEs) and PassSender (RADIUS requests, L2TP control
// messages).
#pragma once

#include <functional>
#include <utility>

namespace dl::lnsd {

/// Runs a sender's flush at once, or once per pass of the owner's event loop.
///
/// Each request() after something was queued either flushes at once (no Post given), or posts one
/// flush through the Post if none waits yet. The flush then runs when the owner runs what was
/// posted (lnsd: at the end of the loop's current handler, PassEnd), so everything queued until
/// then leaves in it too. At most one flush waits at a time. Nothing is allocated here: the posted work holds one pointer, which fits std::function's
/// small buffer. The owner's Post must not allocate either (lnsd: PassEnd::post(), pass_end.hpp). If the
/// Post throws, the flush runs at once, so nothing stays queued. The PassFlush must outlive the
/// posted work, or the loop must not run it after. Not thread-safe: the loop's thread only.
class PassFlush {
public:
    /// Queues `work` to run later on the owner's loop, after the handlers already queued.
    using Post = std::function<void(std::function<void()> work)>;

    /// `flush`: sends what the owner has queued; it must not throw.
    explicit PassFlush(std::function<void()> flush) : flush_(std::move(flush)) {}
    PassFlush(const PassFlush&) = delete;
    PassFlush& operator=(const PassFlush&) = delete;

    /// Flushes what waits, then defers later flushes through `post`. An empty `post` flushes at
    /// every request() again.
    void defer(Post post) {
        flush_();
        post_ = std::move(post);
    }

    /// Something was queued: flush now, or make sure that one flush is posted for this pass.
    void request() noexcept {
        if (!post_) {
            flush_();
            return;
        }
        if (posted_) return;  // the posted flush sends this one too
        posted_ = true;       // (before posting: a post may run the work at once)
        try {
            post_([this] {  // one pointer: no allocation in std::function
                posted_ = false;
                flush_();
            });
        } catch (...) {
            posted_ = false;
            flush_();  // the loop could not take the work: nothing stays queued
        }
    }

private:
    std::function<void()> flush_;
    Post post_;
    bool posted_ = false;
};

}  // namespace dl::lnsd
