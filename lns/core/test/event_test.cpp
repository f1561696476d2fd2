#include "dl/core/event.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>

#include "dl/core/timer_queue.hpp"

using namespace dl::core;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

Event transition(std::string entity, std::string id, std::string from, std::string to, std::string ev,
                 std::string cause = {}) {
    Event e;
    e.entity = std::move(entity);
    e.id = std::move(id);
    e.from = std::move(from);
    e.to = std::move(to);
    e.event = std::move(ev);
    e.cause = std::move(cause);
    return e;
}

TEST(Event, GoldenFormat) {
    Event e = transition("dialout.session", "default/10.10.1.1", "connecting", "inhibited", "timer-expiry",
                         "trigger expired");
    e.time_ns = 1'500'000'000;
    e.timer = TimerArmed{"inhibited", 30s};
    EXPECT_EQ(format_golden(e),
              "+1.500000s dialout.session default/10.10.1.1: connecting -> inhibited on timer-expiry "
              "(cause=trigger expired) [timer inhibited=30s]");
    e.permitted = false;
    e.to = e.from;
    e.timer.reset();
    EXPECT_EQ(format_golden(e, TimePoint{500ms}),
              "+1.000000s dialout.session default/10.10.1.1: connecting: timer-expiry NOT PERMITTED "
              "(cause=trigger expired)");
    Event plain;
    plain.time_ns = 2'000'001'000;
    plain.entity = "l2tp.tunnel";
    plain.id = "7";
    plain.event = "malformed";
    plain.extra = {{"reason", "short"}, {"bytes", 3}};
    EXPECT_EQ(format_golden(plain, TimePoint{3s}), "-0.999999s l2tp.tunnel 7: malformed {\"bytes\":3,\"reason\":\"short\"}");
}

TEST(Event, JsonRoundTrip) {
    Event e = transition("ppp.lcp", "s1", "req-sent", "ack-rcvd", "RCA", "Configure-Ack");
    e.time_ns = 42;
    e.wall = WallTime{1700000000s};
    e.timer = TimerArmed{"ppp-restart", 3s};
    e.extra = {{"id", 5}};
    const json j = e.to_json();
    EXPECT_EQ(j["time"], "2023-11-14T22:13:20.000000Z");
    EXPECT_EQ(j["timer"]["duration"], "3s");
    EXPECT_FALSE(j.contains("permitted"));
    const Event back = Event::from_json(j);
    EXPECT_EQ(back.entity, e.entity);
    EXPECT_EQ(back.id, e.id);
    EXPECT_EQ(back.from, e.from);
    EXPECT_EQ(back.to, e.to);
    EXPECT_EQ(back.event, e.event);
    EXPECT_EQ(back.cause, e.cause);
    EXPECT_EQ(back.timer, e.timer);
    EXPECT_EQ(back.time_ns, 42);
    EXPECT_EQ(back.extra, e.extra);
    e.permitted = false;
    EXPECT_EQ(e.to_json()["permitted"], false);
    EXPECT_FALSE(Event::from_json(e.to_json()).permitted);
}

TEST(EventFilter, DottedPrefixAndId) {
    const Event lcp = transition("ppp.lcp", "a", "", "", "x");
    EXPECT_TRUE(EventFilter{}.matches(lcp));
    EXPECT_TRUE((EventFilter{"ppp", ""}.matches(lcp)));
    EXPECT_TRUE((EventFilter{"ppp.lcp", "a"}.matches(lcp)));
    EXPECT_FALSE((EventFilter{"ppp.lcp", "b"}.matches(lcp)));
    EXPECT_FALSE((EventFilter{"pp", ""}.matches(lcp)));
    EXPECT_FALSE((EventFilter{"ppp.lcp.x", ""}.matches(lcp)));
    EXPECT_FALSE((EventFilter{"l2tp", ""}.matches(lcp)));
}

TEST(EventBus, StampsFiltersAndUnsubscribes) {
    VirtualClock clock;
    EventBus bus(clock);
    EXPECT_FALSE(bus.has_subscribers());
    bus.publish(transition("a", "1", "", "", "ignored"));
    EXPECT_EQ(bus.published_count(), 1u);

    std::vector<std::string> got;
    const auto all = bus.subscribe({}, [&](const Event& e) { got.push_back("all:" + e.event); });
    const auto ppp = bus.subscribe({"ppp", ""}, [&](const Event& e) { got.push_back("ppp:" + e.event); });
    clock.advance(2s);
    std::int64_t stamped = 0;
    const auto stamp = bus.subscribe({}, [&](const Event& e) { stamped = e.time_ns; });
    bus.publish(transition("ppp.ipcp", "1", "", "", "up"));
    bus.publish(transition("l2tp.tunnel", "1", "", "", "down"));
    EXPECT_EQ(stamped, 2'000'000'000);
    EXPECT_EQ(got, (std::vector<std::string>{"all:up", "ppp:up", "all:down"}));
    EXPECT_TRUE(bus.unsubscribe(ppp));
    EXPECT_FALSE(bus.unsubscribe(ppp));
    EXPECT_TRUE(bus.unsubscribe(stamp));
    got.clear();
    Event pre = transition("ppp.lcp", "1", "", "", "pre-stamped");
    pre.time_ns = 7;
    bus.publish(pre);
    EXPECT_EQ(got, (std::vector<std::string>{"all:pre-stamped"}));
    EXPECT_TRUE(bus.unsubscribe(all));
    EXPECT_EQ(bus.subscriber_count(), 0u);
}

TEST(EventBus, ReentrantPublishSubscribeUnsubscribe) {
    VirtualClock clock;
    EventBus bus(clock);
    std::vector<std::string> got;
    EventBus::SubscriptionId self = 0;
    EventBus::SubscriptionId later = 0;
    self = bus.subscribe({}, [&](const Event& e) {
        got.push_back("once:" + e.event);
        bus.unsubscribe(self);  // unsubscribes itself while running
        later = bus.subscribe({}, [&](const Event& e2) { got.push_back("later:" + e2.event); });
        bus.publish(transition("x", "1", "", "", "nested"));
    });
    bus.subscribe({}, [&](const Event& e) { got.push_back("second:" + e.event); });
    bus.publish(transition("x", "1", "", "", "outer"));
    // Nested publish is delivered before "second" sees "outer"; "later" (added during delivery)
    // sees the nested event but not the outer one.
    EXPECT_EQ(got, (std::vector<std::string>{"once:outer", "second:nested", "later:nested", "second:outer"}));
    got.clear();
    bus.publish(transition("x", "1", "", "", "again"));
    EXPECT_EQ(got, (std::vector<std::string>{"second:again", "later:again"}));
}

TEST(EventRecorder, RecordsGoldenLines) {
    VirtualTimeLoop loop;
    EventBus bus(loop.clock());
    EventRecorder rec(bus, {"dialout", ""});
    loop.advance(1500ms);
    bus.publish(transition("dialout.session", "default/10.10.1.1", "dormant", "authenticating", "trigger"));
    bus.publish(transition("l2tp.tunnel", "3", "idle", "wait-ctl-reply", "open"));
    EXPECT_EQ(rec.text(), "+1.500000s dialout.session default/10.10.1.1: dormant -> authenticating on trigger\n");
    EXPECT_EQ(rec.count("trigger"), 1u);
    EXPECT_EQ(rec.count(), 1u);
    rec.clear();
    EXPECT_TRUE(rec.events().empty());
}

// The sink's direct writer produces exactly nlohmann's dump of to_json() for every field shape.
TEST(Event, JsonLineIsTheDumpOfToJson) {
    std::vector<Event> cases;
    Event plain;
    plain.time_ns = 1'500'000'000;
    plain.entity = "dialout.session";
    plain.id = "default/10.10.0.0/16/10.10.1.1";
    plain.from = "authenticating";
    plain.to = "connecting";
    plain.event = "aaa-grant";
    plain.cause = "Access-Accept";
    cases.push_back(plain);
    Event odd = plain;
    odd.time_ns = Event::kUnstamped;
    odd.cause = "quote \" backslash \\ newline \n tab \t bell \x07 del \x7f";
    odd.id = "umlaut \xc3\xbc and invalid \xff\xfe";
    odd.event = "";
    odd.permitted = false;
    odd.timer = TimerArmed{"inhibited", std::chrono::milliseconds(1500)};
    odd.extra = {{"b", 1}, {"a", {{"nested", "x\"y"}}}, {"list", {1, 2, 3}}};
    cases.push_back(odd);
    Event negative = plain;
    negative.time_ns = -42;
    negative.timer = TimerArmed{"t", Duration{-5}};
    cases.push_back(negative);
    for (const Event& e : cases) {
        std::string line;
        e.append_json_line(line);
        EXPECT_EQ(line, e.to_json().dump(-1, ' ', false, json::error_handler_t::replace)) << e.cause;
    }
}

// format_iso8601 caches the date part per second: the text must still be, for every instant,
// what gmtime_r and the format "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z" give (the reference
// below), within one second, across second, day, year and epoch boundaries, and backwards.
TEST(Clock, Iso8601CachedPerSecondMatchesGmtime) {
    const auto reference = [](std::int64_t ns) {
        std::int64_t secs = ns / 1'000'000'000, frac = ns % 1'000'000'000;
        if (frac < 0) frac += 1'000'000'000, --secs;
        const std::time_t tt = static_cast<std::time_t>(secs);
        std::tm tm{};
        gmtime_r(&tt, &tm);
        char buf[64];
        std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                      tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(frac / 1000));
        return std::string(buf);
    };
    const std::int64_t s = 1'000'000'000;
    const std::vector<std::int64_t> instants = {
        0, 1, 999, 1000, 999'999'999, s, s + 1'500, 1'796'000'000 * s + 123'456'789,
        1'796'000'000 * s + 999'999'999, 1'796'000'001 * s, 1'796'000'000 * s,  // back into a second seen
        946'684'799 * s + 999'999'000, 946'684'800 * s,                          // 1999 -> 2000
        -1, -s, -s - 1, -86'400 * s * 365 * 10, 9'223'372'035 * s + 999'999'999};  // 2262, the end of int64 ns
    for (const std::int64_t ns : instants) {
        const WallTime t{Duration{ns}};
        EXPECT_EQ(format_iso8601(t), reference(ns)) << ns;
        std::string out = "x";
        append_iso8601(out, t);
        EXPECT_EQ(out, "x" + reference(ns)) << ns;
    }
    Event e;
    e.time_ns = 7;
    e.wall = WallTime{Duration{1'796'000'000 * s + 42'000}};
    std::string line;
    e.append_json_line(line);
    EXPECT_NE(line.find("\"time\":\"2026-11-30T00:53:20.000042Z"), std::string::npos) << line;
    EXPECT_NE(line.find(".000042Z\",\"time_ns\":7,"), std::string::npos) << line;
    EXPECT_EQ(line, e.to_json().dump());
}

TEST(JsonLinesSink, OneFlushedObjectPerLine) {
    char tmpl[] = "/tmp/dl-core-events-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    const std::string path = std::string(tmpl) + "/events.jsonl";
    VirtualClock clock;
    EventBus bus(clock);
    {
        JsonLinesSink sink(path, true);
        sink.attach(bus);
        bus.publish(transition("a.b", "1", "s0", "s1", "go", "because"));
        clock.advance(1s);
        bus.publish(transition("a.b", "1", "s1", "s2", "go\nwith newline"));
        // Flushed per line: readable before the sink closes.
        std::ifstream in(path);
        std::string l1, l2, l3;
        ASSERT_TRUE(std::getline(in, l1));
        ASSERT_TRUE(std::getline(in, l2));
        EXPECT_FALSE(std::getline(in, l3));
        EXPECT_EQ(json::parse(l1)["cause"], "because");
        EXPECT_EQ(json::parse(l2)["time_ns"], 1'000'000'000);
        EXPECT_EQ(json::parse(l2)["event"], "go\nwith newline");
        EXPECT_EQ(sink.lines_written(), 2u);
    }
    EXPECT_EQ(bus.subscriber_count(), 0u);  // detached on destruction
    EXPECT_THROW(JsonLinesSink("/nonexistent-dir/x.jsonl"), std::system_error);
    std::filesystem::remove_all(tmpl);
}

// A loop's burst of events reaches the file in one write when the flush is deferred: nothing is
// readable until the posted flush runs, then every line is; one flush is queued per burst.
// req: L2TP.flood-limits
TEST(JsonLinesSink, SizeCapRotatesSoTheLogNeverGrowsWithoutBound) {
    char tmpl[] = "/tmp/dl-core-events-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    const std::string path = std::string(tmpl) + "/events.jsonl";
    VirtualClock clock;
    EventBus bus(clock);
    {
        JsonLinesSink sink(path, true);
        sink.set_size_cap(4096);
        sink.attach(bus);
        for (int i = 0; i < 10000; ++i) bus.publish(transition("l2tp.tunnel", "0", "", "", "unknown-tunnel", "flood"));
        EXPECT_EQ(sink.lines_written(), 10000u);
        EXPECT_GT(sink.rotations(), 10u);
        sink.flush();
        EXPECT_LT(std::filesystem::file_size(path), 4096u + 200u);
        EXPECT_LT(std::filesystem::file_size(path + ".1"), 4096u + 200u);
        EXPECT_FALSE(std::filesystem::exists(path + ".2")) << "one old file only";
        std::ifstream in(path + ".1");
        std::string line;
        ASSERT_TRUE(std::getline(in, line));
        EXPECT_EQ(json::parse(line)["event"], "unknown-tunnel") << "whole lines in the rotated file";
    }
    {
        // Appending to an existing file counts what it already holds.
        std::ofstream(path) << std::string(3000, 'x') << '\n';
        JsonLinesSink again(path);
        again.set_size_cap(3050);
        again.write(transition("a", "1", "s0", "s1", "go"));
        EXPECT_EQ(again.rotations(), 1u);
    }
    std::filesystem::remove_all(tmpl);
}

TEST(JsonLinesSink, DeferredFlushWritesABurstOnce) {
    char tmpl[] = "/tmp/dl-core-events-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    const std::string path = std::string(tmpl) + "/events.jsonl";
    VirtualClock clock;
    EventBus bus(clock);
    std::vector<std::function<void()>> queued;  // the "loop"
    auto lines_in_file = [&] {
        std::ifstream in(path);
        std::size_t n = 0;
        for (std::string l; std::getline(in, l);) ++n;
        return n;
    };
    {
        JsonLinesSink sink(path, true);
        sink.attach(bus);
        sink.defer_flush([&](std::function<void()> w) { queued.push_back(std::move(w)); });
        const auto flushes_before = sink.flushes();
        for (int i = 0; i < 40; ++i) bus.publish(transition("a.b", std::to_string(i), "s0", "s1", "go"));
        EXPECT_EQ(queued.size(), 1u) << "one flush queued for the whole burst";
        EXPECT_EQ(lines_in_file(), 0u) << "lines wait for the posted flush";
        queued.front()();
        queued.clear();
        EXPECT_EQ(lines_in_file(), 40u) << "the posted flush writes the burst";
        EXPECT_EQ(sink.flushes(), flushes_before + 1);
        bus.publish(transition("a.b", "last", "s0", "s1", "go"));
        EXPECT_EQ(queued.size(), 1u) << "the next event queues the next flush";
        sink.defer_flush({});  // back to flush-per-line: writes what waits
        EXPECT_EQ(lines_in_file(), 41u);
        bus.publish(transition("a.b", "after", "s0", "s1", "go"));
        EXPECT_EQ(lines_in_file(), 42u) << "flush per line again";
        bus.publish(transition("a.b", "tail", "s0", "s1", "go"));
        sink.defer_flush([&](std::function<void()> w) { queued.push_back(std::move(w)); });
        bus.publish(transition("a.b", "unflushed", "s0", "s1", "go"));
        EXPECT_EQ(lines_in_file(), 43u);
    }
    EXPECT_EQ(lines_in_file(), 44u) << "destruction writes what is buffered";
    std::filesystem::remove_all(tmpl);
}

}  // namespace
