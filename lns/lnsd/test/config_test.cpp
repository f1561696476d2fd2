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
  - address: 10.0.0.3
timers: {hello: 30s, retransmit: 500ms, retransmit-cap: 4s, tunnel-hold: 5s}
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
    EXPECT_EQ(c.selection_mode, lnsd::SelectionMode::weighted);
    EXPECT_EQ(c.dead_time, 120s);
    EXPECT_EQ(r.get("hello"), 30s);
    EXPECT_EQ(r.get("retransmit"), 500ms);
    EXPECT_EQ(r.get("retransmit-cap"), 4s);
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
}
