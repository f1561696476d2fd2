#include "dl/lnsd/config.hpp"

#include "dl/core/config.hpp"
#include "dl/core/timer_registry.hpp"

namespace dl::lnsd {

const PeerConfig* LnsdConfig::find_peer(core::Ipv4Address a) const noexcept {
    for (const auto& p : peers)
        if (p.address == a) return &p;
    return nullptr;
}

LnsdConfig load_config(const core::ConfigNode& root, core::TimerRegistry& timers) {
    LnsdConfig c;
    if (!root.defined() || root.is_null()) return c;
    root.require_map();
    root.allow_keys({"local-address", "port", "hostname", "receive-window", "max-retransmits", "secret", "hide-avps",
                     "accept-unknown-peers", "require-sequencing", "early-data-frames", "peers", "timers", "tunnel-selection",
                     "shutdown-wait", "events-flush", "events-max-bytes", "limits", "loop-moderation",
                     // read by load_wiring_config / Manager::load (dialout_wiring.hpp)
                     "virtual-routers", "ppp-profiles", "incoming", "dialout", "fault-injection",
                     // read by DialOutRuntime (dialout_runtime.hpp)
                     "icmp-frag-needed"});
    if (root.has("local-address")) c.local_address = root["local-address"].as_ipv4();
    c.port = static_cast<std::uint16_t>(root.get_int("port", 1701, 0, 65535));
    c.hostname = root.get_string("hostname", c.hostname);
    if (c.hostname.empty()) root["hostname"].fail("must not be empty");
    c.receive_window = static_cast<std::uint16_t>(root.get_int("receive-window", 16, 1, 1024));
    c.events_flush = core::event_flush_from(root);
    c.events_max_bytes = static_cast<std::uint64_t>(
        root.get_int("events-max-bytes", static_cast<std::int64_t>(c.events_max_bytes), 0, std::int64_t{1} << 40));
    c.max_retransmits = static_cast<unsigned>(root.get_int("max-retransmits", 5, 1, 100));
    c.secret = root.get_string("secret", "");
    c.hide_avps = root.get_bool("hide-avps", false);
    c.accept_unknown_peers = root.get_bool("accept-unknown-peers", false);
    c.require_sequencing = root.get_bool("require-sequencing", false);
    // Data messages that overtake their OCCN / ICCN (RFC 2661 §3.1, §5.8): kept per call, bounded.
    c.early_data_frames = static_cast<unsigned>(root.get_int("early-data-frames", 4, 0, 64));
    c.shutdown_wait = root.get_duration("shutdown-wait", c.shutdown_wait, std::chrono::milliseconds(0),
                                        std::chrono::seconds(60));
    c.loop_moderation = root.get_duration("loop-moderation", c.loop_moderation, core::Duration::zero(),
                                          std::chrono::milliseconds(10));
    if (auto peers = root["peers"]; peers.defined() && !peers.is_null()) {
        peers.require_sequence();
        for (std::size_t i = 0; i < peers.size(); ++i) {
            auto p = peers.at(i);
            p.require_map();
            p.allow_keys({"address", "secret", "hide-avps", "host-name", "trusted"});
            PeerConfig pc;
            pc.address = p.at("address").as_ipv4();
            if (c.find_peer(pc.address)) p.at("address").fail("is configured twice");
            pc.secret = p.get_string("secret", c.secret);
            pc.hide_avps = p.get_bool("hide-avps", c.hide_avps);
            pc.trusted = p.get_bool("trusted", false);
            if (pc.hide_avps && pc.secret.empty()) p["hide-avps"].fail("needs a secret (RFC 2661 §4.3)");
            if (p.has("host-name")) {
                pc.host_name = p["host-name"].as_string();
                if (pc.host_name->empty()) p["host-name"].fail("must not be empty (RFC 2661 §4.4.3 Host Name)");
            }
            c.peers.push_back(std::move(pc));
        }
    }
    if (c.hide_avps && c.secret.empty()) root["hide-avps"].fail("needs a secret (RFC 2661 §4.3)");
    if (auto t = root["timers"]; t.defined() && !t.is_null()) timers.load(t);
    if (auto s = root["tunnel-selection"]; s.defined() && !s.is_null()) {
        s.require_map();
        s.allow_keys({"mode", "dead-time"});
        if (s.has("mode"))
            c.selection_mode = s["mode"].as_enum({"round-robin", "weighted"}) == 0 ? SelectionMode::round_robin
                                                                                  : SelectionMode::weighted;
        c.dead_time = s.get_duration("dead-time", c.dead_time, std::chrono::seconds(0), std::chrono::hours(24));
    }
    if (auto l = root["limits"]; l.defined() && !l.is_null()) {
        l.require_map();
        l.allow_keys({"tunnels", "tunnels-per-peer", "tunnels-setup", "tunnels-setup-per-peer", "refused-held",
                      "sccrq-rate", "sccrq-burst", "sessions-setup-per-tunnel", "reorder-packets", "reorder-bytes",
                      "send-queue", "destinations-kept", "peer-sockets"});
        auto& t = c.limits;
        auto count = [&l](const char* key, std::size_t fallback, std::int64_t max) {
            return static_cast<std::size_t>(l.get_int(key, static_cast<std::int64_t>(fallback), 0, max));
        };
        t.max_tunnels = count("tunnels", t.max_tunnels, 65535);
        t.max_tunnels_per_peer = count("tunnels-per-peer", t.max_tunnels_per_peer, 65535);
        t.max_tunnels_setup = count("tunnels-setup", t.max_tunnels_setup, 65535);
        t.max_tunnels_setup_per_peer = count("tunnels-setup-per-peer", t.max_tunnels_setup_per_peer, 65535);
        t.max_refused_held = count("refused-held", t.max_refused_held, 65535);
        t.sccrq_rate = static_cast<double>(count("sccrq-rate", static_cast<std::size_t>(t.sccrq_rate), 1000000));
        t.sccrq_burst = static_cast<double>(count("sccrq-burst", static_cast<std::size_t>(t.sccrq_burst), 1000000));
        if (t.sccrq_rate > 0 && t.sccrq_burst < 1) l["sccrq-burst"].fail("must be at least 1 when sccrq-rate is set");
        t.max_sessions_setup_per_tunnel = count("sessions-setup-per-tunnel", t.max_sessions_setup_per_tunnel, 65535);
        c.reorder_packets = count("reorder-packets", c.reorder_packets, 1024);
        c.reorder_bytes = count("reorder-bytes", c.reorder_bytes, 64 * 1024 * 1024);
        c.send_queue = count("send-queue", c.send_queue, 1000000);
        c.destinations_kept = count("destinations-kept", c.destinations_kept, 1000000);
        c.peer_sockets = count("peer-sockets", c.peer_sockets, 65535);
    }
    return c;
}

}  // namespace dl::lnsd
