// PPP frames of a call that arrive before its PPP link exists (RFC 2661 §5.4 / §5.5: the L2TP
// session carries data as soon as it is established, while lnsd starts PPP only after the outgoing
// call's completion or, for mandatory CHAP, after AAA accepted the proxy authentication). They are
// held, a bounded number per call, and given to the link in arrival order once it opens
// (CallSession::start_ppp). A peer decides how many frames it sends: the bound and the count of
// what did not fit keep that in check (refusals counted, never logged per frame).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace dl::session {

/// Frame counters shared by the owner's calls (`show l2tp dial-out chassis` "wiring").
struct FrameCounters {
    std::uint64_t frames_early = 0;    ///< frames held until the call's PPP link opened
    std::uint64_t frames_dropped = 0;  ///< frames dropped: a full early-frame buffer (and the owner's own drops)
};

/// Early frames held per call unless the owner says otherwise (CallPorts::early_frames_max).
inline constexpr std::size_t kEarlyFramesMax = 8;

/// A bounded FIFO of whole PPP frames (as the L2TP session delivered them, FF 03 or not). Empty
/// costs one std::vector. Not thread-safe.
class EarlyFrames {
public:
    /// Keeps a copy of `frame` when fewer than `max` frames are held (counted in
    /// `counters->frames_early`), else drops it (`counters->frames_dropped`); returns whether it
    /// was kept. `counters` may be null (not counted).
    bool hold(std::span<const std::uint8_t> frame, std::size_t max, FrameCounters* counters);
    /// Takes over the frames of `other`, placed after the ones already held (arrival order kept;
    /// none is counted again). `other` is left empty.
    void append(EarlyFrames&& other);
    /// Removes and returns every held frame, oldest first.
    std::vector<std::vector<std::uint8_t>> take() noexcept;
    std::size_t size() const noexcept { return frames_.size(); }
    bool empty() const noexcept { return frames_.empty(); }

private:
    std::vector<std::vector<std::uint8_t>> frames_;
};

}  // namespace dl::session
