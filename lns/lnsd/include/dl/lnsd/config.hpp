// lnsd configuration (YAML, validated with dl::core::ConfigNode; errors name key, value and rule).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dl/core/clock.hpp"
#include "dl/core/event.hpp"
#include "dl/core/ipv4.hpp"
#include "dl/l2tp/engine/admission.hpp"

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
    /// `host-name`: the Host Name AVP (RFC 2661 §4.4.3) this peer must send in its SCCRQ / SCCRP;
    /// another is refused with StopCCN 4 (JunosE "Implementing L2TP": the LNS verifies the LAC's
    /// host name and tunnel password). Unset: any name.
    std::optional<std::string> host_name;
    /// `trusted`: this LAC's Proxy LCP and Proxy Authen AVPs (RFC 2661 §4.4.5) are believed in
    /// `incoming.mode: proxy`. From any other LAC a proxy-mode call renegotiates LCP and
    /// authenticates the user itself (the lcp-renegotiation mode): a captured CHAP triple replayed
    /// in an ICCN gives no session (RFC 2661 §9.3 "Proxy PPP Authentication").
    bool trusted = false;
};

/// How equal-preference endpoints are chosen for outgoing calls (JunosE "L2TP Dial-Out" Outgoing Call).
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
/// peers: [{address: 10.0.0.2, secret: s3cret, hide-avps: true, host-name: lac-1, trusted: false}]
/// timers: {hello: 60s, retransmit: 1s, retransmit-cap: 8s, tunnel-hold: 31s}  # retransmit-cap >= 8s (§5.8)
/// tunnel-selection: {mode: round-robin|weighted, dead-time: 60s}
/// shutdown-wait: 3s          # bounded wait for StopCCN acknowledgements on SIGTERM
/// events-max-bytes: 67108864 # the --events log is rotated to <file>.1 at this size (0 = no cap)
/// limits:                    # what a peer can make lnsd hold (docs/reliability.md); 0 = no limit
///   tunnels: 4096            # tunnels not closing (both directions)
///   tunnels-per-peer: 16     # … per peer IPv4 address
///   tunnels-setup: 256       # tunnels not yet established
///   tunnels-setup-per-peer: 16
///   refused-held: 256        # refused SCCRQs held for tunnel-hold; beyond, refusals are silent
///   sccrq-rate: 20           # new SCCRQs per second per peer address (token bucket), 0 = off
///   sccrq-burst: 40
///   sessions-setup-per-tunnel: 256   # ICRQ beyond: CDN 4 / error 4
///   reorder-packets: 16      # out-of-order control messages kept per tunnel
///   reorder-bytes: 32768     # … and their octets
///   send-queue: 256          # replies queued per tunnel; beyond, ICRQs are dropped
///   destinations-kept: 1024  # destinations with no tunnel whose counters are kept
///   peer-sockets: 256        # UDP sockets connected to a LAC for its data (UdpEndpoint::connect_peer); 0 = none
/// ```
struct LnsdConfig {
    core::Ipv4Address local_address{};
    std::uint16_t port = 1701;
    std::string hostname = "lnsd";
    std::uint16_t receive_window = 16;
    /// `events-flush`: the --events log written per event (line, default) or per loop pass.
    core::EventFlush events_flush = core::EventFlush::line;
    /// `events-max-bytes`: the --events log is rotated to `<file>.1` at this size (JsonLinesSink::
    /// set_size_cap): at most ~2 × this on disk, whatever a peer makes lnsd log. 0 = no cap.
    std::uint64_t events_max_bytes = 64ULL * 1024 * 1024;
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
    /// `loop-moderation` (0s..10ms): after a wake-up that found work, the event loop sleeps this
    /// long and handles what gathered in one pass, while each sleep finds work (PassEnd::drive):
    /// fewer wake-ups per datagram for up to this much latency per step. 0s (default): off.
    core::Duration loop_moderation = core::Duration::zero();
    /// `limits:` (SCCRQ admission and per-tunnel session setup; l2tp::engine::TunnelLimits).
    l2tp::engine::TunnelLimits limits;
    std::size_t reorder_packets = 16;
    std::size_t reorder_bytes = 32 * 1024;
    std::size_t send_queue = 256;
    /// Destination records (address, counters) kept for addresses that have no tunnel any more;
    /// beyond, the oldest such record is forgotten. Shut-down and configured ones are always kept.
    std::size_t destinations_kept = 1024;
    /// `limits.peer-sockets`: most LAC peers whose data messages go on a UDP socket connected to
    /// them (one file descriptor each; UdpEndpoint::connect_peer); further peers use the shared
    /// socket. 0 = none.
    std::size_t peer_sockets = 256;

    /// The configured peer with that address, or nullptr.
    const PeerConfig* find_peer(core::Ipv4Address a) const noexcept;
};

/// Reads a config tree. The `timers:` section is applied to `timers` (which must already hold
/// the L2TP timers). Throws dl::core::ConfigError naming key path, value and rule, e.g.
/// "receive-window: '0' is out of range [1..1024]".
LnsdConfig load_config(const core::ConfigNode& root, core::TimerRegistry& timers);

}  // namespace dl::lnsd
