#include "dl/core/timer_registry.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dl/core/config.hpp"
#include "dl/core/errors.hpp"

using namespace dl::core;
using namespace std::chrono_literals;

namespace {

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(TimerRegistry, WellKnownDefaults) {
    TimerRegistry r;
    register_well_known_timers(r);
    EXPECT_EQ(r.get("trigger"), 30s);
    EXPECT_EQ(r.get("dormant"), 300s);
    EXPECT_EQ(r.get("hello"), 60s);
    EXPECT_EQ(r.get("retransmit"), 1s);
    EXPECT_EQ(r.get("retransmit-cap"), 8s);
    EXPECT_EQ(r.get("ppp-restart"), 3s);
    EXPECT_EQ(r.get("radius-retry"), 3s);
    EXPECT_EQ(r.entry("trigger").spec.min, 1s);
    EXPECT_EQ(r.entry("trigger").spec.max, 1h);
    EXPECT_THROW(r.get("nope"), std::out_of_range);
    register_well_known_timers(r);  // idempotent
    EXPECT_EQ(r.list().size(), well_known_timers().size());
}

TEST(TimerRegistry, AddValidatesSpec) {
    TimerRegistry r;
    r.add({"x", 2s, 1s, 3s, "test"});
    EXPECT_THROW(r.add({"x", 2s, 1s, 3s, "dup"}), std::invalid_argument);
    EXPECT_THROW(r.add({"", 2s, 1s, 3s, ""}), std::invalid_argument);
    EXPECT_THROW(r.add({"y", 5s, 1s, 3s, ""}), std::invalid_argument);
    EXPECT_THROW(r.add({"z", 0s, -1s, 3s, ""}), std::invalid_argument);
}

// req: L2TP.retransmit-cap
TEST(TimerRegistry, OverridesAreBoundsChecked) {
    TimerRegistry r;
    register_well_known_timers(r);
    r.set("trigger", "45s");
    EXPECT_EQ(r.get("trigger"), 45s);
    EXPECT_TRUE(r.entry("trigger").overridden);
    r.set("trigger", 1h);  // inclusive bounds
    r.set("trigger", 1s);
    EXPECT_EQ(error_of([&] { r.set("trigger", "2h"); }), "timers.trigger: '2h' is above the maximum 1h");
    EXPECT_EQ(error_of([&] { r.set("trigger", "500ms"); }), "timers.trigger: '500ms' is below the minimum 1s");
    EXPECT_EQ(error_of([&] { r.set("trigger", "30"); }), "timers.trigger: '30' has no unit; write 30s");
    EXPECT_EQ(error_of([&] { r.set("trigger", 0s); }), "timers.trigger: '0s' is below the minimum 1s");
    // RFC 2661 §5.8: "This cap MUST be no less than 8 seconds per retransmission" — the error names the rule.
    EXPECT_EQ(error_of([&] { r.set("retransmit-cap", "4s"); }),
              "timers.retransmit-cap: '4s' is below the minimum 8s (RFC 2661 §5.8: the retransmission cap MUST be "
              "no less than 8 seconds)");
    r.set("retransmit-cap", 8s);
    EXPECT_EQ(error_of([&] { r.set("triger", "1s"); }),
              "timers.triger: 'triger' is not a known timer (known: dormant, hello, ppp-restart, radius-retry, "
              "retransmit, retransmit-cap, trigger)");
    EXPECT_EQ(r.get("trigger"), 1s);  // failed sets change nothing
    r.reset("trigger");
    EXPECT_EQ(r.get("trigger"), 30s);
    EXPECT_FALSE(r.entry("trigger").overridden);
}

TEST(TimerRegistry, LoadsFromConfig) {
    TimerRegistry r;
    register_well_known_timers(r);
    const auto cfg = ConfigNode::parse("timers:\n  trigger: 20s\n  hello: 2m\n");
    r.load(cfg["timers"]);
    EXPECT_EQ(r.get("trigger"), 20s);
    EXPECT_EQ(r.get("hello"), 2min);
    EXPECT_EQ(error_of([&] { r.load(ConfigNode::parse("timers:\n  trigger: 30\n")["timers"]); }),
              "timers.trigger: '30' has no unit; write 30s");
    EXPECT_EQ(error_of([&] { r.load(ConfigNode::parse("timers:\n  dormant: 2d\n")["timers"]); }),
              "timers.dormant: '2d' has an unknown unit 'd' (use ns, us, ms, s, m, h)");
    EXPECT_EQ(error_of([&] { r.load(ConfigNode::parse("timers:\n  hello: 0s\n")["timers"]); }),
              "timers.hello: '0s' is below the minimum 1s");
    EXPECT_EQ(error_of([&] { r.load(ConfigNode::parse("timers: [1, 2]\n")["timers"]); }),
              "timers: '[…]' is not a mapping");
    r.load(ConfigNode::parse("other: 1\n")["timers"]);  // absent section: defaults stay
    EXPECT_EQ(r.get("trigger"), 20s);
}

TEST(TimerRegistry, JsonListing) {
    TimerRegistry r;
    register_well_known_timers(r);
    r.set("hello", 90s);
    const auto j = nlohmann::json::parse(r.to_json());
    ASSERT_TRUE(j.is_array());
    ASSERT_EQ(j.size(), 7u);
    EXPECT_EQ(j[1]["name"], "hello");
    EXPECT_EQ(j[1]["value"], "90s");
    EXPECT_EQ(j[1]["value_ns"], 90'000'000'000LL);
    EXPECT_EQ(j[1]["default"], "1m");
    EXPECT_EQ(j[1]["min"], "1s");
    EXPECT_EQ(j[1]["max"], "1h");
    EXPECT_EQ(j[1]["overridden"], true);
    EXPECT_FALSE(j[1]["description"].get<std::string>().empty());
}

}  // namespace
