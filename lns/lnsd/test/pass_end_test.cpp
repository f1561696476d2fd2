// The end-of-handler work of lnsd's loop (pass_end.hpp): queued flushes and already-due timers
// run right after the handler that queued them, timers first, chains to the end, with no handler
// posted on the io_context and no allocation per post; what a throwing work leaves stays queued.
#include "dl/lnsd/pass_end.hpp"
#include "dl/testing/counting_new.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "dl/core/asio_driver.hpp"
#include "dl/core/clock.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/lnsd/pass_flush.hpp"

using namespace dl;

namespace {

/// An io_context with a TimerQueue on the system clock driven by an AsioTimerDriver, as in lnsd.
struct Loop {
    boost::asio::io_context io;
    core::SystemClock clock;
    core::TimerQueue q{clock};
    core::AsioTimerDriver driver{io, q};
};

TEST(PassEnd, QueuedWorksRunInOrderAndWhatTheyQueueRunsInTheNextRound) {
    lnsd::PassEnd end;
    std::vector<std::string> ran;
    auto post = end.post();
    post([&] {
        ran.push_back("a");
        post([&] { ran.push_back("c"); });
    });
    post([&] { ran.push_back("b"); });
    EXPECT_EQ(end.queued(), 2u);
    EXPECT_EQ(end.run(), 2u) << "two rounds: a, b; then c";
    EXPECT_EQ(ran, (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(end.queued(), 0u);
    EXPECT_EQ(end.run(), 0u) << "nothing queued";
}

// The chain lnsd runs per dial-out step: a handler arms a zero-delay timer (an effect deferred out
// of its call stack), whose callback queues a datagram (a flush is requested). All of it runs
// before the next handler, the timer before the flush, and nothing is posted for it.
TEST(PassEnd, DueTimersRunFirstThenTheFlushesBeforeTheNextHandler) {
    Loop l;  // named references, not a structured binding: clang 14 cannot capture one in a lambda
    auto& io = l.io;
    auto& q = l.q;
    auto& driver = l.driver;
    lnsd::PassEnd end;
    end.drive_timers(&driver);
    std::vector<std::string> ran;
    int flushes = 0;
    lnsd::PassFlush flush([&] {
        ++flushes;
        ran.push_back("flush");
    });
    flush.defer(end.post());  // flushes what waits (nothing) once
    ran.clear();
    flushes = 0;
    boost::asio::post(io, [&] {
        ran.push_back("handler 1");
        flush.request();  // queued before the timer's run …
        q.arm(core::Duration::zero(), [&] {
            ran.push_back("timer");
            flush.request();  // … and again from the timer: one flush for both
        });
    });
    boost::asio::post(io, [&] {
        ran.push_back("handler 2");
        io.stop();
    });
    end.drive(io);
    EXPECT_EQ(ran, (std::vector<std::string>{"handler 1", "timer", "flush", "handler 2"}))
        << "timer, then the one flush, between the two handlers";
    EXPECT_EQ(flushes, 1);
    EXPECT_EQ(driver.arms(), 0u) << "no OS timer for the due timer";
    io.restart();
    EXPECT_EQ(io.poll(), 0u) << "nothing was posted on the io_context for the timer or the flush";
}

TEST(PassEnd, AThrowingWorkLeavesTheRestQueuedAndPropagates) {
    lnsd::PassEnd end;
    std::vector<int> ran;
    auto post = end.post();
    post([&] { ran.push_back(1); });
    post([&] { throw std::runtime_error("flush failed"); });
    post([&] { ran.push_back(3); });
    EXPECT_THROW(end.run(), std::runtime_error);
    EXPECT_EQ(ran, (std::vector<int>{1}));
    EXPECT_EQ(end.queued(), 1u) << "the work after the throwing one is still queued";
    end.run();
    EXPECT_EQ(ran, (std::vector<int>{1, 3}));
}

// A PassEnd destroyed before the driver gives the due runs back: they are posted on the loop again.
TEST(PassEnd, DestroyedFirstGivesTheDueRunsBackToTheDriver) {
    Loop l;
    auto& io = l.io;
    auto& q = l.q;
    auto& driver = l.driver;
    {
        lnsd::PassEnd end;
        end.drive_timers(&driver);
    }
    int fired = 0;
    q.arm(core::Duration::zero(), [&] { ++fired; });
    EXPECT_EQ(io.poll(), 1u);
    EXPECT_EQ(fired, 1);
}

// loop-moderation: after a wake-up that found work, the loop sleeps before it looks again, so an
// event that became ready 1 ms after the first handler is handled only once the 40 ms sleep is over
// (without moderation, when it is ready: not asserted, a loaded machine may be late). A stop ends
// the loop either way.
TEST(PassEnd, ModerationHandlesWhatGathersAfterTheSleep) {
    using namespace std::chrono_literals;
    for (const auto moderation : {std::chrono::nanoseconds(0), std::chrono::nanoseconds(40ms)}) {
        boost::asio::io_context io{1};
        lnsd::PassEnd end;
        boost::asio::steady_timer second(io);
        std::chrono::steady_clock::time_point first_at, second_at;
        boost::asio::post(io, [&] {
            first_at = std::chrono::steady_clock::now();
            second.expires_after(1ms);
            second.async_wait([&](const boost::system::error_code&) {
                second_at = std::chrono::steady_clock::now();
                io.stop();
            });
        });
        end.drive(io, moderation);
        ASSERT_NE(second_at, std::chrono::steady_clock::time_point{}) << "the loop ran until the stop";
        const auto waited = second_at - first_at;
        if (moderation > 0ns) {
            EXPECT_GE(waited, moderation) << "handled after the sleep, not when it became ready";
        }
    }
}

// req: DP.no-allocation
TEST(PassEnd, NoAllocationPerPost) {
    lnsd::PassEnd end;
    int flushes = 0;
    lnsd::PassFlush a([&] { ++flushes; }), b([&] { ++flushes; });
    a.defer(end.post());
    b.defer(end.post());
    a.request();
    b.request();
    end.run();  // the first round may reserve nothing more; count from here
    const auto before = dl::testing::allocations();
    for (int i = 0; i < 1000; ++i) {
        a.request();
        b.request();
        a.request();  // already queued: no second entry
        end.run();
    }
    EXPECT_EQ(dl::testing::allocations() - before, 0u);
    EXPECT_EQ(flushes, 2 + 2 + 2000) << "one at each defer(), two in the first round, two per round after";
}

}  // namespace
