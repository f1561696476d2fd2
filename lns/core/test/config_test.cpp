#include "dl/core/config.hpp"
#include "dl/core/event.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "dl/core/timer_registry.hpp"

using namespace dl::core;
using namespace std::chrono_literals;

namespace {

const char* kLab = R"(
timers:
  trigger: 30s
dialout:
  mode: on-demand
  retries: 3
  enabled: yes
  targets:
    - vr: default
      prefix: 10.10.0.0/16
      lac: 198.51.100.2
      domain: L2TP-dial-out.de.dt
    - vr: vr-b
      prefix: 10.10.0.0/33
      lac: 198.51.100.300
      hold: 30
)";

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(Config, TypedGettersAndPaths) {
    const auto root = ConfigNode::parse(kLab, "lab.yaml");
    const auto dialout = root.at("dialout");
    EXPECT_EQ(dialout.path(), "dialout");
    EXPECT_EQ(dialout.at("mode").as_enum({"always", "on-demand"}), 1u);
    EXPECT_EQ(dialout.at("retries").as_int(0, 10), 3);
    EXPECT_TRUE(dialout.at("enabled").as_bool());
    const auto targets = dialout.at("targets");
    ASSERT_TRUE(targets.is_sequence());
    ASSERT_EQ(targets.size(), 2u);
    const auto t0 = targets.at(std::size_t{0});
    EXPECT_EQ(t0.path(), "dialout.targets[0]");
    EXPECT_EQ(t0.at("prefix").path(), "dialout.targets[0].prefix");
    EXPECT_EQ(t0.at("prefix").as_ipv4_prefix().to_string(), "10.10.0.0/16");
    EXPECT_EQ(t0.at("lac").as_ipv4().value, 0xC6336402u);
    EXPECT_EQ(t0.at("domain").as_string(), "L2TP-dial-out.de.dt");
    EXPECT_EQ(t0.keys(), (std::vector<std::string>{"vr", "prefix", "lac", "domain"}));
    EXPECT_EQ(t0.at("lac").location(), "lab.yaml:11:12");
    EXPECT_EQ(t0.get_string("profile", "remote-office"), "remote-office");
    EXPECT_EQ(t0.get_int("window", 4, 1, 65535), 4);
    EXPECT_EQ(t0.get_duration("hold", 5s), 5s);
    EXPECT_EQ(t0.get_bool("enabled", false), false);
    EXPECT_FALSE(t0.has("nothing"));
    EXPECT_FALSE(t0["nothing"].defined());
    EXPECT_EQ(root["timers"]["trigger"].as_duration(), 30s);
}

TEST(Config, ErrorsNameKeyValueAndRule) {
    const auto root = ConfigNode::parse(kLab, "lab.yaml");
    const auto t1 = root.at("dialout").at("targets").at(std::size_t{1});
    EXPECT_EQ(error_of([&] { t1.at("prefix").as_ipv4_prefix(); }),
              "dialout.targets[1].prefix: '10.10.0.0/33' is not an IPv4 prefix");
    EXPECT_EQ(error_of([&] { t1.at("lac").as_ipv4(); }), "dialout.targets[1].lac: '198.51.100.300' is not an IPv4 address");
    EXPECT_EQ(error_of([&] { t1.at("hold").as_duration(); }), "dialout.targets[1].hold: '30' has no unit; write 30s");
    EXPECT_EQ(error_of([&] { t1.at("domain"); }), "dialout.targets[1].domain: is required");
    EXPECT_EQ(error_of([&] { root.at("dialout").at("targets").at(std::size_t{5}); }),
              "dialout.targets[5]: is required (the list has 2 entries)");
    EXPECT_EQ(error_of([&] { root.at("dialout").at("mode").as_enum({"always", "never"}); }),
              "dialout.mode: 'on-demand' is not one of: always, never");
    EXPECT_EQ(error_of([&] { root.at("dialout").at("retries").as_int(5, 10); }),
              "dialout.retries: '3' is out of range [5..10]");
    EXPECT_EQ(error_of([&] { root.at("dialout").at("mode").as_int(0, 10); }), "dialout.mode: 'on-demand' is not an integer");
    EXPECT_EQ(error_of([&] { root.at("dialout").at("mode").as_bool(); }),
              "dialout.mode: 'on-demand' is not a boolean (true or false)");
    EXPECT_EQ(error_of([&] { root.at("dialout").at("targets").as_string(); }),
              "dialout.targets: '[…]' is not a single value");
    EXPECT_EQ(error_of([&] { root.at("dialout").at("targets").at("x"); }), "dialout.targets: '[…]' is not a mapping");
    EXPECT_EQ(error_of([&] { root.at("dialout").allow_keys({"mode", "retries", "targets"}); }),
              "dialout.enabled: 'enabled' is not a known key (known: mode, retries, targets)");
    EXPECT_EQ(error_of([&] { ConfigNode::parse("a: 10.10.1.0/16").at("a").as_ipv4_prefix(); }),
              "a: '10.10.1.0/16' has bits set beyond /16; write 10.10.0.0/16");
    EXPECT_EQ(error_of([&] { ConfigNode::parse("a: 99999999999999999999").at("a").as_int(0, 10); }),
              "a: '99999999999999999999' is out of range [0..10]");
    EXPECT_EQ(error_of([&] { ConfigNode::parse("a:").at("a").as_string(); }), "a: is empty; a value is required");
    // The location is carried beside the message.
    try {
        t1.at("prefix").as_ipv4_prefix();
        FAIL();
    } catch (const ConfigError& e) {
        EXPECT_EQ(e.path(), "dialout.targets[1].prefix");
        EXPECT_EQ(e.value(), "10.10.0.0/33");
        EXPECT_EQ(e.rule(), "is not an IPv4 prefix");
        EXPECT_EQ(e.location(), "lab.yaml:14:15");
    }
}

// yaml-cpp keeps both pairs of a repeated key and lookups take the first: `port: 1701` then
// `port: 1702` silently ran on 1701. A repeated key is a configuration error at its second position.
TEST(Config, DuplicateKeysAreAnErrorAtTheSecondOccurrence) {
    try {
        ConfigNode::parse("port: 1701\nhostname: a\nport: 1702\n", "lnsd.yaml");
        FAIL() << "a duplicate top-level key was accepted";
    } catch (const ConfigError& e) {
        EXPECT_EQ(e.path(), "port");
        EXPECT_EQ(e.location(), "lnsd.yaml:3:1");
        EXPECT_NE(std::string(e.what()).find("is a duplicate key"), std::string::npos) << e.what();
        EXPECT_EQ(e.located().rfind("lnsd.yaml:3:1: port: 'port' is a duplicate key", 0), 0u) << e.located();
    }
    // Nested in a list of mappings: the path names the element.
    try {
        ConfigNode::parse("peers:\n  - {address: 10.0.0.2, secret: a, secret: b}\n", "lnsd.yaml");
        FAIL() << "a duplicate nested key was accepted";
    } catch (const ConfigError& e) {
        EXPECT_EQ(e.path(), "peers[0].secret");
        EXPECT_EQ(e.location(), "lnsd.yaml:2:36");
    }
    // The same key in different mappings is fine.
    EXPECT_NO_THROW(ConfigNode::parse("a: {x: 1}\nb: {x: 2}\nc: [{x: 1}, {x: 2}]\n"));
    // Without a location, located() is what().
    EXPECT_EQ(ConfigError("a", "1", "is bad").located(), "a: '1' is bad");
}

TEST(Config, DurationsWithRegistryBounds) {
    const TimerSpec* trigger = nullptr;
    for (const auto& s : well_known_timers())
        if (s.name == "trigger") trigger = &s;
    ASSERT_NE(trigger, nullptr);
    EXPECT_EQ(ConfigNode::parse("t: 2m").at("t").as_duration(*trigger), 2min);
    EXPECT_EQ(error_of([&] { ConfigNode::parse("t: 2h").at("t").as_duration(*trigger); }),
              "t: '2h' is above the maximum 1h");
    EXPECT_EQ(error_of([&] { ConfigNode::parse("t: 10ms").at("t").as_duration(*trigger); }),
              "t: '10ms' is below the minimum 1s");
}

TEST(Config, SyntaxAndFileErrors) {
    const std::string err = error_of([] { ConfigNode::parse("a: [1, 2\nb: 3\n", "bad.yaml"); });
    EXPECT_EQ(err.rfind("bad.yaml: is not valid YAML: ", 0), 0u) << err;
    EXPECT_NE(err.find("line"), std::string::npos);
    EXPECT_EQ(error_of([] { ConfigNode::load_file("/nonexistent/lab.yaml"); }), "/nonexistent/lab.yaml: cannot be read");

    char tmpl[] = "/tmp/dl-core-config-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    const std::string path = std::string(tmpl) + "/lab.yaml";
    std::ofstream(path) << kLab;
    const auto root = ConfigNode::load_file(path);
    EXPECT_EQ(root.at("dialout").at("retries").as_int(0, 9), 3);
    EXPECT_EQ(root.at("dialout").location().rfind(path + ":", 0), 0u);
    std::filesystem::remove_all(tmpl);
}

TEST(Ipv4, ParseAndFormat) {
    EXPECT_EQ(Ipv4Address::parse("10.10.1.1")->value, 0x0A0A0101u);
    EXPECT_EQ(Ipv4Address::parse("255.255.255.255")->to_string(), "255.255.255.255");
    EXPECT_EQ(Ipv4Address{0}.to_string(), "0.0.0.0");
    EXPECT_EQ(Ipv4Address{0xC0000209u}.to_string(), "192.0.2.9");
    char quad[Ipv4Address::kMaxText];  // the longest fits exactly, without a NUL
    EXPECT_EQ(std::string(quad, Ipv4Address{0xFFFFFFFFu}.write(quad)), "255.255.255.255");
    EXPECT_EQ((Ipv4Prefix{Ipv4Address{0}, 0}.to_string()), "0.0.0.0/0");
    EXPECT_EQ((Ipv4Prefix{Ipv4Address{0x0A0A0101u}, 32}.to_string()), "10.10.1.1/32");
    for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ", "a.b.c.d", "1..2.3", "1.2.3.4/8"})
        EXPECT_FALSE(Ipv4Address::parse(bad)) << bad;
    const auto p = Ipv4Prefix::parse("10.10.0.0/16");
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->contains(*Ipv4Address::parse("10.10.1.1")));
    EXPECT_FALSE(p->contains(*Ipv4Address::parse("10.11.0.1")));
    EXPECT_FALSE(p->has_host_bits());
    EXPECT_EQ(Ipv4Prefix::parse("0.0.0.0/0")->mask(), 0u);
    EXPECT_TRUE(Ipv4Prefix::parse("0.0.0.0/0")->contains(Ipv4Address{0xFFFFFFFF}));
    EXPECT_EQ(Ipv4Prefix::parse("10.10.1.1/32")->mask(), 0xFFFFFFFFu);
    for (const char* bad : {"10.10.0.0", "10.10.0.0/", "10.10.0.0/33", "10.10.0.0/016", "10.10.0.0/1a", "x/8"})
        EXPECT_FALSE(Ipv4Prefix::parse(bad)) << bad;
}

TEST(Config, EventsFlushLineOrLoop) {
    EXPECT_EQ(event_flush_from(ConfigNode::parse("x: 1")), EventFlush::line) << "absent: line";
    EXPECT_EQ(event_flush_from(ConfigNode::parse("x: 1"), EventFlush::loop), EventFlush::loop) << "absent: fallback";
    EXPECT_EQ(event_flush_from(ConfigNode::parse("events-flush: line")), EventFlush::line);
    EXPECT_EQ(event_flush_from(ConfigNode::parse("events-flush: loop")), EventFlush::loop);
    EXPECT_EQ(error_of([] { event_flush_from(ConfigNode::parse("events-flush: sometimes")); }),
              "events-flush: 'sometimes' must be line (flush every event) or loop (once per pass of the event loop)");
}

}  // namespace
