// Admission of incoming SCCRQs (RFC 2661 §5.1): the limits that keep a flood of SCCRQs from
// taking every Tunnel ID, every setup slot or the event loop. O(1) per decision, bounded memory.
#pragma once

#include <array>
#include <cstdint>
#include <unordered_map>

#include "dl/core/clock.hpp"

namespace dl::l2tp::engine {

/// Limits on tunnels and their setup. A "peer host" is what EngineCallbacks::peer_host makes of a
/// PeerId (lnsd: the IPv4 address, every UDP port together). 0 in a count limit means "no limit".
struct TunnelLimits {
    std::size_t max_tunnels = 4096;           ///< tunnels not closing, both directions
    std::size_t max_tunnels_per_peer = 16;    ///< the same, per peer host
    std::size_t max_tunnels_setup = 256;      ///< tunnels not yet established (SCCRQ/SCCRP exchange)
    std::size_t max_tunnels_setup_per_peer = 16;
    /// Refused SCCRQs (PeerPolicy::accept false) answered with a StopCCN and held for the §5.7
    /// tunnel-hold; beyond this many held at once, further refusals are silent (no ID, no answer).
    std::size_t max_refused_held = 256;
    double sccrq_rate = 20;        ///< new SCCRQs per second per peer host (token bucket rate)
    double sccrq_burst = 40;       ///< … and bucket depth; rate 0 = no rate limit
    /// Incoming calls per tunnel not yet connected (ICRQ answered, no ICCN yet): an ICRQ beyond
    /// gets CDN Result Code 4 (temporary lack of facilities), Error Code 4 (insufficient resources).
    std::size_t max_sessions_setup_per_tunnel = 256;
};

/// Why an SCCRQ was dropped. Every drop is silent (no answer, no Tunnel ID, no event) and counted.
enum class SccrqDrop : std::uint8_t { none, rate, tunnels, peer_tunnels, setup, peer_setup, refused_held, no_id };

/// SCCRQ drops by reason (EngineStats::sccrq_dropped; `show l2tp` counters "sccrq-dropped").
struct SccrqDropCounters {
    std::uint64_t rate = 0, tunnels = 0, peer_tunnels = 0, setup = 0, peer_setup = 0, refused_held = 0, no_id = 0;
    std::uint64_t total() const noexcept {
        return rate + tunnels + peer_tunnels + setup + peer_setup + refused_held + no_id;
    }
    void count(SccrqDrop d) noexcept;
};

/// The counts behind TunnelLimits and the per-host SCCRQ token buckets. The engine tells it every
/// tunnel's life (opened, established, closing, released) and asks admit() before creating a
/// tunnel for a new SCCRQ. Memory: one map entry per host with a live tunnel (bounded by
/// max_tunnels) and a fixed table of 4096 token buckets (direct-mapped by host; a host that
/// collides takes the slot over with a full bucket): ~100 KiB whatever the number of sources.
class TunnelAdmission {
public:
    explicit TunnelAdmission(TunnelLimits limits = {}) : limits_(limits) {}
    const TunnelLimits& limits() const noexcept { return limits_; }

    /// May a new SCCRQ from `host` create a tunnel? `refusing`: the peer's policy will refuse it
    /// (StopCCN, then held); `configured`: a listed peer, exempt from max_tunnels_setup. Takes one
    /// token from the host's bucket (whatever the verdict).
    SccrqDrop admit(std::uint64_t host, bool refusing, bool configured, core::TimePoint now);
    /// A tunnel was created (incoming SCCRQ or our own open): live and in setup.
    void opened(std::uint64_t host);
    /// It reached established.
    void established(std::uint64_t host);
    /// It is closing (StopCCN sent or received, or lost); `was_setup`: never established;
    /// `refused`: it was an SCCRQ refused by policy (now held for tunnel-hold).
    void closing(std::uint64_t host, bool was_setup, bool refused);
    /// A refused tunnel's hold ended.
    void refused_released() noexcept {
        if (refused_held_) --refused_held_;
    }

    std::size_t live() const noexcept { return live_; }
    std::size_t setup() const noexcept { return setup_; }
    std::size_t refused_held() const noexcept { return refused_held_; }
    std::size_t hosts() const noexcept { return per_host_.size(); }

private:
    struct HostCount {
        std::uint32_t live = 0, setup = 0;
    };
    struct Bucket {
        std::uint64_t host = ~std::uint64_t{0};
        double tokens = 0;
        core::TimePoint last{};
    };
    TunnelLimits limits_;
    std::size_t live_ = 0, setup_ = 0, refused_held_ = 0;
    std::unordered_map<std::uint64_t, HostCount> per_host_;
    std::array<Bucket, 4096> buckets_{};
};

}  // namespace dl::l2tp::engine
