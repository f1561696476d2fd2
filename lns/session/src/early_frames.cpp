// Early PPP frames of a call. See dl/session/early_frames.hpp.
#include "dl/session/early_frames.hpp"

#include <iterator>
#include <utility>

namespace dl::session {

bool EarlyFrames::hold(std::span<const std::uint8_t> frame, std::size_t max, FrameCounters* counters) {
    if (frames_.size() >= max) {
        if (counters) ++counters->frames_dropped;
        return false;
    }
    frames_.emplace_back(frame.begin(), frame.end());
    if (counters) ++counters->frames_early;
    return true;
}

void EarlyFrames::append(EarlyFrames&& other) {
    if (frames_.empty()) {
        frames_ = std::move(other.frames_);
    } else {
        frames_.insert(frames_.end(), std::make_move_iterator(other.frames_.begin()),
                       std::make_move_iterator(other.frames_.end()));
    }
    other.frames_.clear();
}

std::vector<std::vector<std::uint8_t>> EarlyFrames::take() noexcept {
    auto out = std::move(frames_);
    frames_.clear();
    return out;
}

}  // namespace dl::session
