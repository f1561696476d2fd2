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
                     "shutdown-wait", "events-flush",
                     // read by load_wiring_config / Manager::load (dialout_wiring.hpp)
                     "virtual-routers", "ppp-profiles", "incoming", "dialout", "fault-injection"});
    if (root.has("local-address")) c.local_address = root["local-address"].as_ipv4();
    c.port = static_cast<std::uint16_t>(root.get_int("port", 1701, 0, 65535));
    c.hostname = root.get_string("hostname", c.hostname);
    if (c.hostname.empty()) root["hostname"].fail("must not be empty");
    c.receive_window = static_cast<std::uint16_t>(root.get_int("receive-window", 16, 1, 1024));
    c.events_flush = core::event_flush_from(root);
    c.max_retransmits = static_cast<unsigned>(root.get_int("max-retransmits", 5, 1, 100));
    c.secret = root.get_string("secret", "");
    c.hide_avps = root.get_bool("hide-avps", false);
    c.accept_unknown_peers = root.get_bool("accept-unknown-peers", false);
    c.require_sequencing = root.get_bool("require-sequencing", false);
    // Data messages that overtake their OCCN / ICCN (RFC 2661 §3.1, §5.8): kept per call, bounded.
    c.early_data_frames = static_cast<unsigned>(root.get_int("early-data-frames", 4, 0, 64));
    c.shutdown_wait = root.get_duration("shutdown-wait", c.shutdown_wait, std::chrono::milliseconds(0),
                                        std::chrono::seconds(60));
    if (auto peers = root["peers"]; peers.defined() && !peers.is_null()) {
        peers.require_sequence();
        for (std::size_t i = 0; i < peers.size(); ++i) {
            auto p = peers.at(i);
            p.require_map();
            p.allow_keys({"address", "secret", "hide-avps", "trusted"});
            PeerConfig pc;
            pc.address = p.at("address").as_ipv4();
            if (c.find_peer(pc.address)) p.at("address").fail("is configured twice");
            pc.secret = p.get_string("secret", c.secret);
            pc.hide_avps = p.get_bool("hide-avps", c.hide_avps);
            pc.trusted = p.get_bool("trusted", false);
            if (pc.hide_avps && pc.secret.empty()) p["hide-avps"].fail("needs a secret (RFC 2661 §4.3)");
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
    return c;
}

}  // namespace dl::lnsd
