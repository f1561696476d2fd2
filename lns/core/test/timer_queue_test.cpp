#include "dl/core/timer_queue.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace dl::core;
using namespace std::chrono_literals;

namespace {

TEST(VirtualClock, StartsAtZeroAndOnlyMovesForward) {
    VirtualClock c;
    EXPECT_EQ(to_ns(c.now()), 0);
    c.advance(1500ms);
    EXPECT_EQ(to_ns(c.now()), 1'500'000'000);
    EXPECT_THROW(c.advance(-1ns), std::invalid_argument);
    EXPECT_THROW(c.set(TimePoint{1s}), std::invalid_argument);
    EXPECT_EQ(format_iso8601(c.wall_now()), "1970-01-01T00:00:01.500000Z");
}

TEST(SystemClock, IsMonotonic) {
    SystemClock c;
    const auto a = c.now();
    const auto b = c.now();
    EXPECT_LE(a, b);
    EXPECT_GT(c.wall_now().time_since_epoch().count(), 0);
}

TEST(TimerQueue, FiresInDeadlineThenArmingOrder) {
    VirtualTimeLoop loop;
    std::vector<std::string> log;
    auto& q = loop.timers();
    q.arm(3s, [&] { log.push_back("c@3"); });
    q.arm(1s, [&] { log.push_back("a@1"); });
    q.arm(2s, [&] { log.push_back("b1@2"); });
    q.arm(2s, [&] { log.push_back("b2@2"); });
    q.arm(2s, [&] { log.push_back("b3@2"); });
    EXPECT_EQ(q.size(), 5u);
    EXPECT_EQ(q.next_deadline(), TimePoint{1s});
    EXPECT_EQ(loop.advance(2s), 4u);
    EXPECT_EQ(log, (std::vector<std::string>{"a@1", "b1@2", "b2@2", "b3@2"}));
    EXPECT_EQ(loop.advance(999ms), 0u);
    EXPECT_EQ(loop.advance(1ms), 1u);
    EXPECT_EQ(log.back(), "c@3");
    EXPECT_TRUE(q.empty());
    EXPECT_FALSE(q.next_deadline());
}

TEST(TimerQueue, CallbacksSeeTheirOwnDeadlineAsNow) {
    VirtualTimeLoop loop;
    std::vector<std::int64_t> seen;
    for (int i = 1; i <= 3; ++i) loop.timers().arm(i * 100ms, [&] { seen.push_back(to_ns(loop.now()) / 1'000'000); });
    loop.advance(1s);
    EXPECT_EQ(seen, (std::vector<std::int64_t>{100, 200, 300}));
    EXPECT_EQ(to_ns(loop.now()), 1'000'000'000);
}

TEST(TimerQueue, CancelIsExactAndHandlesDoNotDangle) {
    VirtualTimeLoop loop;
    auto& q = loop.timers();
    int fired = 0;
    const TimerId a = q.arm(1s, [&] { fired += 1; });
    const TimerId b = q.arm(1s, [&] { fired += 10; });
    EXPECT_TRUE(q.armed(a));
    EXPECT_TRUE(q.cancel(a));
    EXPECT_FALSE(q.cancel(a));  // second cancel is a no-op
    EXPECT_FALSE(q.armed(a));
    // The slot of `a` is reused by `c`; the stale handle `a` must not cancel `c`.
    const TimerId c = q.arm(1s, [&] { fired += 100; });
    EXPECT_EQ(c.slot, a.slot);
    EXPECT_NE(c.generation, a.generation);
    EXPECT_FALSE(q.cancel(a));
    EXPECT_TRUE(q.armed(c));
    loop.advance(1s);
    EXPECT_EQ(fired, 110);
    EXPECT_FALSE(q.cancel(b));  // already fired
    EXPECT_FALSE(q.cancel(TimerId{}));
}

TEST(TimerQueue, CancelFromTheMiddleKeepsHeapOrder) {
    VirtualTimeLoop loop;
    auto& q = loop.timers();
    std::vector<int> order;
    std::vector<TimerId> ids;
    // Deadlines in a scrambled order, then cancel every third one.
    for (int i = 0; i < 300; ++i) {
        const int ms = (i * 37) % 300;
        ids.push_back(q.arm(std::chrono::milliseconds(ms), [&order, ms] { order.push_back(ms); }));
    }
    int cancelled = 0;
    for (std::size_t i = 0; i < ids.size(); i += 3) cancelled += q.cancel(ids[i]) ? 1 : 0;
    EXPECT_EQ(cancelled, 100);
    loop.advance(1s);
    ASSERT_EQ(order.size(), 200u);
    EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
}

TEST(TimerQueue, ReentrantArmAndCancel) {
    VirtualTimeLoop loop;
    auto& q = loop.timers();
    std::vector<std::string> log;
    TimerId victim;
    TimerId self;
    self = q.arm(1s, [&] {
        log.push_back("first");
        EXPECT_FALSE(q.cancel(self));  // own handle is already invalid
        EXPECT_TRUE(q.cancel(victim));  // cancel another due timer
        q.arm(0s, [&] { log.push_back("armed-now"); });  // due immediately: same advance
        q.arm(500ms, [&] { log.push_back("later"); });
    });
    victim = q.arm(1s, [&] { log.push_back("victim"); });
    q.arm(1s, [&] { log.push_back("second"); });
    loop.advance(1s);
    // "armed-now" has deadline 1s and a later sequence than "second".
    EXPECT_EQ(log, (std::vector<std::string>{"first", "second", "armed-now"}));
    loop.advance(1s);
    EXPECT_EQ(log.back(), "later");
}

TEST(TimerQueue, RunDueLimitAndPastDeadlines) {
    VirtualClock clock;
    TimerQueue q(clock);
    clock.advance(10s);
    int n = 0;
    for (int i = 0; i < 5; ++i) q.arm_at(TimePoint{1s}, [&] { ++n; });  // in the past
    EXPECT_EQ(q.run_due(clock.now(), 2), 2u);
    EXPECT_EQ(n, 2);
    EXPECT_EQ(q.run_due(clock.now()), 3u);
    EXPECT_THROW(q.arm(1s, {}), std::invalid_argument);
}

TEST(TimerQueue, ExceptionInCallbackLeavesQueueUsable) {
    VirtualTimeLoop loop;
    int n = 0;
    loop.timers().arm(1s, [] { throw std::runtime_error("boom"); });
    loop.timers().arm(2s, [&] { ++n; });
    EXPECT_THROW(loop.advance(3s), std::runtime_error);
    EXPECT_EQ(loop.timers().size(), 1u);
    loop.advance(3s);
    EXPECT_EQ(n, 1);
}

TEST(TimerQueue, SelfRearmingZeroDelayIsCaught) {
    VirtualTimeLoop loop;
    std::function<void()> again = [&] { loop.timers().arm(0s, again); };
    loop.timers().arm(1s, again);
    EXPECT_THROW(loop.advance(2s, 1000), std::runtime_error);
}

TEST(TimerQueue, WakeupHookOnlyWhenEarliestChanges) {
    VirtualTimeLoop loop;
    int wakeups = 0;
    loop.timers().set_wakeup([&] { ++wakeups; });
    loop.timers().arm(5s, [] {});
    EXPECT_EQ(wakeups, 1);
    loop.timers().arm(6s, [] {});
    EXPECT_EQ(wakeups, 1);
    loop.timers().arm(4s, [] {});
    EXPECT_EQ(wakeups, 2);
}

TEST(Timer, HandleArmsCancelsAndReportsRemaining) {
    VirtualTimeLoop loop;
    int fired = 0;
    Timer t(loop.timers());
    EXPECT_FALSE(t.armed());
    EXPECT_EQ(t.remaining(), 0ns);
    t.start(30s, [&] { ++fired; });
    EXPECT_TRUE(t.armed());
    EXPECT_EQ(t.armed_for(), 30s);
    loop.advance(10s);
    EXPECT_EQ(t.remaining(), 20s);
    t.start(5s, [&] { fired += 10; });  // restart replaces the pending expiry
    EXPECT_EQ(loop.timers().size(), 1u);
    loop.advance(5s);
    EXPECT_EQ(fired, 10);
    EXPECT_FALSE(t.armed());
    EXPECT_EQ(t.armed_for(), 5s);
    t.start(1s, [&] { fired += 100; });
    EXPECT_TRUE(t.cancel());
    EXPECT_FALSE(t.cancel());
    loop.advance(2s);
    EXPECT_EQ(fired, 10);
    Timer unbound;
    EXPECT_THROW(unbound.start(1s, [] {}), std::logic_error);
}

TEST(Timer, DestructionCancelsAndMoveTransfers) {
    VirtualTimeLoop loop;
    int fired = 0;
    {
        Timer t(loop.timers());
        t.start(1s, [&] { ++fired; });
    }
    EXPECT_TRUE(loop.timers().empty());
    Timer a(loop.timers());
    a.start(1s, [&] { fired += 10; });
    Timer b = std::move(a);
    EXPECT_FALSE(a.armed());
    EXPECT_TRUE(b.armed());
    Timer c(loop.timers());
    c.start(2s, [&] { fired += 1000; });
    c = std::move(b);  // cancels c's own timer, takes b's
    loop.advance(3s);
    EXPECT_EQ(fired, 10);
    EXPECT_LE(sizeof(Timer), 32u);
}

TEST(VirtualTimeLoop, RunUntilIdle) {
    VirtualTimeLoop loop;
    int n = 0;
    loop.timers().arm(1h, [&] { ++n; loop.timers().arm(1h, [&] { ++n; }); });
    EXPECT_EQ(loop.run_until_idle(), 2u);
    EXPECT_EQ(n, 2);
    EXPECT_EQ(loop.now(), TimePoint{2h});
}

TEST(TimerQueue, MemoryPerTimerIsSmall) {
    VirtualClock clock;
    TimerQueue q(clock);
    q.reserve(100'000);
    for (int i = 0; i < 100'000; ++i) q.arm(std::chrono::seconds(i % 97), [] {});
    EXPECT_LE(q.memory_bytes() / 100'000, 80u);
}

}  // namespace
