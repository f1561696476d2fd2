// lnsd configuration (YAML, validated with dl::core::ConfigNode; errors name key, value and rule).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dl/core/clock.hpp"
#include "dl/core/event.hpp"
#include "dl/core/ipv4.hpp"

namespace dl::core {
class ConfigNode;
class TimerRegistry;
}  // namespace dl::core

namespace dl::lnsd {

/// One configured L2TP peer (LAC), matched by its IPv4 address.
struct PeerConfig {
    core::Ipv4Address address;
    std::string secret;             ///< tunnel secret (RFC 2661 §4.4.3, §5.1.1); "" = none
    bool hide_avps = false;         ///< hide session AVPs towards this peer (§4.3)
    /// `trusted`: this LAC's Proxy LCP and Proxy Authen AVPs (RFC 2661 §4.4.5) are believed in
    /// `incoming.mode: proxy`. From any other LAC a proxy-mode call renegotiates LCP and
    /// authenticates the user itself (the lcp-renegotiation mode): a captured CHAP triple replayed
    /// in an ICCN gives no session (RFC 2661 §9.3 "Proxy PPP Authentication").
    bool trusted = false;
};

/// How equal-preference endpoints are chosen for outgoing calls (issue 4 "Tunnel selection").
enum class SelectionMode { round_robin, weighted };

/// The whole daemon configuration.
///
/// ```yaml
/// local-address: 0.0.0.0     # IPv4 the L2TP socket binds
/// port: 1701                 # UDP port (RFC 2661 §8.1)
/// hostname: lns              # Host Name AVP
/// receive-window: 16         # Receive Window Size AVP, 1..1024 (§5.8)
/// max-retransmits: 5         # control message retries before the peer is declared dead
/// secret: ""                 # default tunnel secret for peers not listed
/// hide-avps: false
/// accept-unknown-peers: false # true: peers not listed may open tunnels (with the default secret)
/// require-sequencing: false
/// early-data-frames: 4       # data kept per call before its OCCN / ICCN, 0..64 (0 = dropped)
/// peers: [{address: 10.0.0.2, secret: s3cret, hide-avps: true, trusted: false}]
/// timers: {hello: 60s, retransmit: 1s, retransmit-cap: 8s, tunnel-hold: 31s}
/// tunnel-selection: {mode: round-robin|weighted, dead-time: 60s}
/// shutdown-wait: 3s          # bounded wait for StopCCN acknowledgements on SIGTERM
/// ```
struct LnsdConfig {
    core::Ipv4Address local_address{};
    std::uint16_t port = 1701;
    std::string hostname = "lnsd";
    std::uint16_t receive_window = 16;
    /// `events-flush`: the --events log written per event (line, default) or per loop pass.
    core::EventFlush events_flush = core::EventFlush::line;
    unsigned max_retransmits = 5;
    std::string secret;
    bool hide_avps = false;
    bool accept_unknown_peers = false;  ///< safe default: an SCCRQ from an unlisted address is refused
    bool require_sequencing = false;
    unsigned early_data_frames = 4;  ///< engine::EngineConfig::early_data_frames
    std::vector<PeerConfig> peers;
    SelectionMode selection_mode = SelectionMode::round_robin;
    core::Duration dead_time = std::chrono::seconds(60);
    core::Duration shutdown_wait = std::chrono::seconds(3);

    /// The configured peer with that address, or nullptr.
    const PeerConfig* find_peer(core::Ipv4Address a) const noexcept;
};

/// Reads a config tree. The `timers:` section is applied to `timers` (which must already hold
/// the L2TP timers). Throws dl::core::ConfigError naming key path, value and rule, e.g.
/// "receive-window: '0' is out of range [1..1024]".
LnsdConfig load_config(const core::ConfigNode& root, core::TimerRegistry& timers);

}  // namespace dl::lnsd
