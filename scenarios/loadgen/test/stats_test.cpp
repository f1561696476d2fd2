#include "dl/loadgen/stats.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <thread>

using namespace dl::loadgen;

TEST(LatencySamples, NearestRankPercentiles) {
    LatencySamples s;
    EXPECT_FALSE(s.percentile(50).has_value());
    EXPECT_EQ(s.summary(), nlohmann::json({{"count", 0}}));
    for (int i = 100; i >= 1; --i) s.add(i);  // 1..100 ms, unsorted
    EXPECT_DOUBLE_EQ(*s.percentile(50), 50);
    EXPECT_DOUBLE_EQ(*s.percentile(90), 90);
    EXPECT_DOUBLE_EQ(*s.percentile(99), 99);
    EXPECT_DOUBLE_EQ(*s.percentile(100), 100);
    EXPECT_DOUBLE_EQ(*s.percentile(0.5), 1);
    const auto j = s.summary();
    EXPECT_EQ(j["count"], 100);
    EXPECT_DOUBLE_EQ(j["mean"].get<double>(), 50.5);
    EXPECT_DOUBLE_EQ(j["max"].get<double>(), 100);
    EXPECT_THROW((void)s.percentile(0), std::invalid_argument);
    EXPECT_THROW((void)s.percentile(101), std::invalid_argument);
}

TEST(LatencySamples, FewSamplesTakeTheMeasuredValue) {
    LatencySamples s;
    s.add(3.5);
    s.add(20);
    EXPECT_DOUBLE_EQ(*s.percentile(50), 3.5);   // rank ceil(1) = 1
    EXPECT_DOUBLE_EQ(*s.percentile(99), 20);    // rank ceil(1.98) = 2
}

TEST(DueNow, PacedByRate) {
    // 1 000/s: at t = 0 the first is due, at 10.5 ms eleven in all.
    EXPECT_EQ(due_now(0, 1000, 0, 0, 0, 100), 1u);
    EXPECT_EQ(due_now(0.0105, 1000, 1, 0, 0, 100), 10u);
    EXPECT_EQ(due_now(0.0105, 1000, 11, 0, 0, 100), 0u);
    // a late tick catches up on everything due, never beyond the total
    EXPECT_EQ(due_now(5.0, 1000, 11, 0, 0, 100), 89u);
    EXPECT_EQ(due_now(5.0, 1000, 100, 0, 0, 100), 0u);
}

TEST(DueNow, WindowBoundsInFlight) {
    EXPECT_EQ(due_now(0, 0, 0, 0, 64, 1000), 64u);     // as fast as possible: a full window
    EXPECT_EQ(due_now(0, 0, 64, 64, 64, 1000), 0u);    // window full
    EXPECT_EQ(due_now(0, 0, 64, 60, 64, 1000), 4u);
    EXPECT_EQ(due_now(0, 0, 0, 0, 0, 1000), 1000u);    // no window, no rate: everything
    EXPECT_EQ(due_now(1.0, 100, 0, 0, 8, 1000), 8u);   // rate allows 101, window 8
}

TEST(MessageCounters, ByTypeName) {
    MessageCounters m;
    m.count(1, false);
    m.count(1, false);
    m.count(12, false);
    m.count(std::nullopt, false);
    m.count(std::nullopt, true);
    m.count(99, false);
    EXPECT_EQ(m.to_json(), nlohmann::json({{"SCCRQ", 2}, {"ICCN", 1}, {"ZLB", 1}, {"data", 1}, {"type-99", 1}}));
}

TEST(MessageCounters, EveryTypeValueAndNoneEmpty) {
    MessageCounters m;
    EXPECT_EQ(m.to_json(), nlohmann::json::object());
    m.count(0, false);       // reserved (RFC 2661 §3.2)
    m.count(16, false);      // SLI
    m.count(63, false);
    m.count(64, false);
    m.count(65535, false);
    m.count(65535, false);
    EXPECT_EQ(m.to_json(), nlohmann::json({{"type-0", 1}, {"SLI", 1}, {"type-63", 1}, {"type-64", 1}, {"type-65535", 2}}));
}

TEST(ReadProc, SelfAndMissing) {
    const auto u = read_proc(static_cast<int>(getpid()));
    ASSERT_TRUE(u.has_value());
    EXPECT_GT(u->rss_kib, 0);
    EXPECT_GE(u->hwm_kib, u->rss_kib);
    EXPECT_GE(u->cpu_s, 0);
    EXPECT_GT(u->minor_faults, 0u) << "a running process has touched pages";
    // Blocking once (a poll that waits) counts one more voluntary context switch.
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    std::thread writer([&] {
        const auto t0 = std::chrono::steady_clock::now();
        while (read_proc(static_cast<int>(getpid())).value().sleeps == u->sleeps &&
               std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5)) {
            std::this_thread::yield();  // until the main thread blocked once more (bounded)
        }
        ASSERT_EQ(write(fds[1], "x", 1), 1);
    });
    char c = 0;
    ASSERT_EQ(read(fds[0], &c, 1), 1);
    writer.join();
    close(fds[0]);
    close(fds[1]);
    EXPECT_GT(read_proc(static_cast<int>(getpid()))->sleeps, u->sleeps);
    EXPECT_FALSE(read_proc(-5).has_value());
}

TEST(WatchPid, ParsesNameEqualsPid) {
    const auto w = parse_watch_pid("radius-home=4242");
    EXPECT_EQ(w.name, "radius-home");
    EXPECT_EQ(w.pid, 4242);
    for (const char* bad : {"radius", "=12", "home=", "home=0", "home=-3", "home=12x", "home=1234567890"})
        EXPECT_THROW(parse_watch_pid(bad), std::invalid_argument) << bad;
}

TEST(ProcDelta, CpuPerCallOverTheInterval) {
    ProcDelta d{static_cast<int>(getpid())};
    EXPECT_EQ(d.to_json(10).dump(), nlohmann::json({{"pid", getpid()}, {"error", "cannot read /proc/<pid>"}}).dump());
    d.before = ProcUsage{1.0, 1000, 1000, 500, 40};
    d.after = ProcUsage{1.5, 1100, 1200, 700, 340};
    const auto j = d.to_json(100);
    EXPECT_DOUBLE_EQ(j["cpu_s"].get<double>(), 0.5);
    EXPECT_DOUBLE_EQ(j["cpu_ms_per_call"].get<double>(), 5.0);   // 500 ms over 100 calls
    EXPECT_DOUBLE_EQ(j["rss_bytes_per_call"].get<double>(), 1024.0);
    EXPECT_EQ(j["hwm_kib"], 1200);
    EXPECT_DOUBLE_EQ(j["wakeups_per_call"].get<double>(), 3.0);      // 300 over 100 calls
    EXPECT_DOUBLE_EQ(j["page_faults_per_call"].get<double>(), 2.0);  // 200 over 100 calls
    EXPECT_TRUE(ProcDelta{}.to_json(10).is_null());
}
