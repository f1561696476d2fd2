// SCCRQ admission: tunnel counts and per-host token buckets (admission.hpp).
#include "dl/l2tp/engine/admission.hpp"

#include <algorithm>
#include <chrono>

namespace dl::l2tp::engine {

void SccrqDropCounters::count(SccrqDrop d) noexcept {
    switch (d) {
        case SccrqDrop::none: break;
        case SccrqDrop::rate: ++rate; break;
        case SccrqDrop::tunnels: ++tunnels; break;
        case SccrqDrop::peer_tunnels: ++peer_tunnels; break;
        case SccrqDrop::setup: ++setup; break;
        case SccrqDrop::peer_setup: ++peer_setup; break;
        case SccrqDrop::refused_held: ++refused_held; break;
        case SccrqDrop::no_id: ++no_id; break;
    }
}

namespace {
bool over(std::size_t n, std::size_t limit) { return limit != 0 && n >= limit; }
std::size_t slot_of(std::uint64_t host) {
    // Fibonacci hashing: the top 12 bits of host × 2^64/φ.
    return static_cast<std::size_t>((host * 0x9E3779B97F4A7C15ULL) >> 52);
}
}  // namespace

SccrqDrop TunnelAdmission::admit(std::uint64_t host, bool refusing, bool configured, core::TimePoint now) {
    if (limits_.sccrq_rate > 0) {
        Bucket& b = buckets_[slot_of(host)];
        if (b.host != host) b = {host, limits_.sccrq_burst, now};
        const double dt = std::chrono::duration<double>(now - b.last).count();
        b.tokens = std::min(limits_.sccrq_burst, b.tokens + std::max(0.0, dt) * limits_.sccrq_rate);
        b.last = now;
        if (b.tokens < 1) return SccrqDrop::rate;
        b.tokens -= 1;
    }
    if (refusing) return over(refused_held_, limits_.max_refused_held) ? SccrqDrop::refused_held : SccrqDrop::none;
    if (over(live_, limits_.max_tunnels)) return SccrqDrop::tunnels;
    if (!configured && over(setup_, limits_.max_tunnels_setup)) return SccrqDrop::setup;
    auto it = per_host_.find(host);
    if (it != per_host_.end()) {
        if (over(it->second.live, limits_.max_tunnels_per_peer)) return SccrqDrop::peer_tunnels;
        if (over(it->second.setup, limits_.max_tunnels_setup_per_peer)) return SccrqDrop::peer_setup;
    }
    return SccrqDrop::none;
}

void TunnelAdmission::opened(std::uint64_t host) {
    ++live_;
    ++setup_;
    auto& h = per_host_[host];
    ++h.live;
    ++h.setup;
}

void TunnelAdmission::established(std::uint64_t host) {
    if (setup_) --setup_;
    if (auto it = per_host_.find(host); it != per_host_.end() && it->second.setup) --it->second.setup;
}

void TunnelAdmission::closing(std::uint64_t host, bool was_setup, bool refused) {
    if (live_) --live_;
    if (was_setup && setup_) --setup_;
    if (refused) ++refused_held_;
    if (auto it = per_host_.find(host); it != per_host_.end()) {
        if (it->second.live) --it->second.live;
        if (was_setup && it->second.setup) --it->second.setup;
        if (it->second.live == 0 && it->second.setup == 0) per_host_.erase(it);
    }
}

}  // namespace dl::l2tp::engine
