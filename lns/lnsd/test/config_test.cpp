#include "dl/lnsd/config.hpp"

#include <gtest/gtest.h>

#include "dl/core/config.hpp"
#include "dl/core/errors.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/l2tp/engine/engine.hpp"

using namespace dl;
using namespace std::chrono_literals;

namespace {
core::TimerRegistry registry() {
    core::TimerRegistry r;
    core::register_well_known_timers(r);
    l2tp::engine::register_l2tp_timers(r);
    return r;
}
std::string error_of(const std::string& yaml) {
    auto r = registry();
    try {
        lnsd::load_config(core::ConfigNode::parse(yaml, "lnsd.yaml"), r);
    } catch (const core::ConfigError& e) {
        return e.what();
    }
    return "";
}
}  // namespace

TEST(LnsdConfig, FullFileIsRead) {
    auto r = registry();
    auto c = lnsd::load_config(core::ConfigNode::parse(R"(
local-address: 10.0.0.1
port: 1702
hostname: lns-1
receive-window: 1024
max-retransmits: 7
early-data-frames: 16
secret: dflt
peers:
  - address: 10.0.0.2
    secret: s3cret
    hide-avps: true
    host-name: lac-1
  - address: 10.0.0.3
timers: {hello: 30s, retransmit: 500ms, retransmit-cap: 12s, tunnel-hold: 5s}
tunnel-selection: {mode: weighted, dead-time: 2m}
)"),
                               r);
    EXPECT_EQ(c.local_address.to_string(), "10.0.0.1");
    EXPECT_EQ(c.port, 1702);
    EXPECT_EQ(c.hostname, "lns-1");
    EXPECT_EQ(c.receive_window, 1024);
    EXPECT_EQ(c.max_retransmits, 7u);
    EXPECT_EQ(c.early_data_frames, 16u) << "early-data-frames is read";
    ASSERT_EQ(c.peers.size(), 2u);
    EXPECT_EQ(c.peers[0].secret, "s3cret");
    EXPECT_TRUE(c.peers[0].hide_avps);
    EXPECT_EQ(c.peers[1].secret, "dflt");  // inherits the default secret
    EXPECT_FALSE(c.peers[1].hide_avps);
    EXPECT_EQ(c.peers[0].host_name, "lac-1");
    EXPECT_FALSE(c.peers[1].host_name) << "no host-name: any Host Name is accepted";
    EXPECT_EQ(c.selection_mode, lnsd::SelectionMode::weighted);
    EXPECT_EQ(c.dead_time, 120s);
    EXPECT_EQ(r.get("hello"), 30s);
    EXPECT_EQ(r.get("retransmit"), 500ms);
    EXPECT_EQ(r.get("retransmit-cap"), 12s);
    EXPECT_EQ(r.get("tunnel-hold"), 5s);
    ASSERT_NE(c.find_peer(*core::Ipv4Address::parse("10.0.0.3")), nullptr);
    EXPECT_EQ(c.find_peer(*core::Ipv4Address::parse("10.0.0.4")), nullptr);
}

TEST(LnsdConfig, EmptyFileGivesDefaults) {
    auto r = registry();
    auto c = lnsd::load_config(core::ConfigNode::parse(""), r);
    EXPECT_EQ(c.port, 1701);
    EXPECT_EQ(c.receive_window, 16);
    EXPECT_EQ(c.early_data_frames, 4u) << "early-data-frames defaults to 4";
    EXPECT_EQ(c.selection_mode, lnsd::SelectionMode::round_robin);
    EXPECT_EQ(r.get("hello"), 60s);
    EXPECT_EQ(r.get("retransmit-cap"), 8s);
    EXPECT_EQ(c.loop_moderation, core::Duration::zero()) << "loop-moderation is off unless configured";
}

TEST(LnsdConfig, LoopModerationIsReadAndBounded) {
    auto r = registry();
    EXPECT_EQ(lnsd::load_config(core::ConfigNode::parse("loop-moderation: 300us"), r).loop_moderation, 300us);
    EXPECT_EQ(lnsd::load_config(core::ConfigNode::parse("loop-moderation: 0s"), r).loop_moderation, 0s);
    EXPECT_NE(error_of("loop-moderation: 20ms").find("loop-moderation"), std::string::npos) << error_of("loop-moderation: 20ms");
    EXPECT_NE(error_of("loop-moderation: fast").find("loop-moderation"), std::string::npos);
}

// An LNS on the open Internet: unlisted LACs refused, no LAC trusted for proxy authentication.
TEST(LnsdConfig, DefaultsAreSafe) {
    auto r = registry();
    auto c = lnsd::load_config(core::ConfigNode::parse("peers: [{address: 10.0.0.2}]"), r);
    EXPECT_FALSE(c.accept_unknown_peers) << "an SCCRQ from an unlisted address must be refused";
    ASSERT_EQ(c.peers.size(), 1u);
    EXPECT_FALSE(c.peers[0].trusted) << "proxy authentication must not be believed unless configured";
    auto t = lnsd::load_config(
        core::ConfigNode::parse("accept-unknown-peers: true\npeers: [{address: 10.0.0.2, trusted: true}]"), r);
    EXPECT_TRUE(t.accept_unknown_peers);
    EXPECT_TRUE(t.peers[0].trusted);
    EXPECT_EQ(error_of("peers: [{address: 10.0.0.2, trusted: yes-please}]"),
              "peers[0].trusted: 'yes-please' is not a boolean (true or false)");
}

// req: L2TP.retransmit-cap, L2TP.host-name
TEST(LnsdConfig, ErrorsNameKeyValueAndRule) {
    EXPECT_NE(error_of("receive-window: 0").find("receive-window: '0' is out of range [1..1024]"), std::string::npos)
        << error_of("receive-window: 0");
    EXPECT_NE(error_of("receive-window: 2000").find("receive-window"), std::string::npos);
    EXPECT_NE(error_of("early-data-frames: 65").find("early-data-frames: '65' is out of range [0..64]"),
              std::string::npos)
        << error_of("early-data-frames: 65");
    EXPECT_NE(error_of("early-data-frames: -1").find("early-data-frames"), std::string::npos)
        << error_of("early-data-frames: -1");
    EXPECT_NE(error_of("local-address: 10.0.0.256").find("local-address"), std::string::npos);
    EXPECT_NE(error_of("recieve-window: 4").find("is not a known key"), std::string::npos);
    EXPECT_NE(error_of("peers: [{address: 10.0.0.2}, {address: 10.0.0.2}]").find("configured twice"),
              std::string::npos);
    EXPECT_NE(error_of("peers: [{secret: x}]").find("peers[0].address: is required"), std::string::npos)
        << error_of("peers: [{secret: x}]");
    EXPECT_NE(error_of("hide-avps: true").find("needs a secret"), std::string::npos);
    EXPECT_NE(error_of("timers: {hello: 2h}").find("timers.hello"), std::string::npos);
    EXPECT_NE(error_of("timers: {helo: 2s}").find("not a known timer"), std::string::npos);
    EXPECT_NE(error_of("tunnel-selection: {mode: random}").find("is not one of: round-robin, weighted"),
              std::string::npos);
    EXPECT_NE(error_of("peers: {address: 1}").find("is not a list"), std::string::npos);
    EXPECT_EQ(error_of("timers: {retransmit-cap: 4s}"),
              "timers.retransmit-cap: '4s' is below the minimum 8s (RFC 2661 §5.8: the retransmission cap MUST be "
              "no less than 8 seconds)");
    EXPECT_NE(error_of("peers: [{address: 10.0.0.2, host-name: ''}]").find("peers[0].host-name: must not be empty (RFC 2661 §4.4.3 Host Name)"),
              std::string::npos)
        << error_of("peers: [{address: 10.0.0.2, host-name: ''}]");
}

// req: L2TP.flood-limits
TEST(LnsdConfig, LimitsHaveSafeDefaultsAndAreRead) {
    auto r = registry();
    auto d = lnsd::load_config(core::ConfigNode::parse("hostname: x\n", "lnsd.yaml"), r);
    EXPECT_EQ(d.limits.max_tunnels, 4096u);
    EXPECT_EQ(d.limits.max_tunnels_setup_per_peer, 16u);
    EXPECT_EQ(d.limits.sccrq_rate, 20.0);
    EXPECT_EQ(d.reorder_bytes, 32u * 1024);
    EXPECT_EQ(d.destinations_kept, 1024u);
    EXPECT_EQ(d.peer_sockets, 256u);
    EXPECT_EQ(r.get("call-setup"), 30s);
    EXPECT_EQ(d.events_max_bytes, 64u * 1024 * 1024);
    EXPECT_EQ(lnsd::load_config(core::ConfigNode::parse("events-max-bytes: 0\n", "lnsd.yaml"), r).events_max_bytes, 0u);
    EXPECT_NE(error_of("events-max-bytes: -5\n").find("events-max-bytes"), std::string::npos);
    auto c = lnsd::load_config(core::ConfigNode::parse(R"(
limits: {tunnels: 10, tunnels-per-peer: 2, tunnels-setup: 5, tunnels-setup-per-peer: 1, refused-held: 3,
         sccrq-rate: 0, sccrq-burst: 1, sessions-setup-per-tunnel: 7, reorder-packets: 4, reorder-bytes: 1000,
         send-queue: 50, destinations-kept: 9, peer-sockets: 0}
timers: {call-setup: 12s}
)", "lnsd.yaml"), r);
    EXPECT_EQ(c.limits.max_tunnels, 10u);
    EXPECT_EQ(c.limits.max_tunnels_per_peer, 2u);
    EXPECT_EQ(c.limits.max_tunnels_setup, 5u);
    EXPECT_EQ(c.limits.max_tunnels_setup_per_peer, 1u);
    EXPECT_EQ(c.limits.max_refused_held, 3u);
    EXPECT_EQ(c.limits.sccrq_rate, 0.0);
    EXPECT_EQ(c.limits.max_sessions_setup_per_tunnel, 7u);
    EXPECT_EQ(c.reorder_packets, 4u);
    EXPECT_EQ(c.reorder_bytes, 1000u);
    EXPECT_EQ(c.send_queue, 50u);
    EXPECT_EQ(c.destinations_kept, 9u);
    EXPECT_EQ(c.peer_sockets, 0u);
    EXPECT_EQ(r.get("call-setup"), 12s);
    EXPECT_NE(error_of("limits: {peer-sockets: 70000}\n").find("limits.peer-sockets"), std::string::npos);
    EXPECT_NE(error_of("limits: {tunnels: -1}\n").find("limits.tunnels"), std::string::npos) << error_of("limits: {tunnels: -1}\n");
    EXPECT_NE(error_of("limits: {sccrq-burst: 0}\n").find("sccrq-burst"), std::string::npos);
    EXPECT_NE(error_of("limits: {tunnel: 3}\n").find("tunnel"), std::string::npos);
}
