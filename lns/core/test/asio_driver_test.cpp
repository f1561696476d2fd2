#include "dl/core/asio_driver.hpp"

#include <gtest/gtest.h>

#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "dl/core/timer_queue.hpp"

using namespace dl::core;
using namespace std::chrono_literals;

namespace {

TEST(AsioTimerDriver, FiresQueueTimersInOrderWithOneOsTimer) {
    boost::asio::io_context io;
    SystemClock clock;
    TimerQueue q(clock);
    AsioTimerDriver driver(io, q);
    std::vector<int> order;
    const auto start = clock.now();
    q.arm(30ms, [&] { order.push_back(3); });
    q.arm(10ms, [&] { order.push_back(1); });  // earlier: re-arms the OS timer through the wakeup hook
    const TimerId cancelled = q.arm(15ms, [&] { order.push_back(99); });
    q.arm(20ms, [&] {
        order.push_back(2);
        // armed from a callback, at an absolute deadline (start + 25 ms) so a late wake-up on a loaded
        // machine cannot reorder it after the 30 ms timer
        q.arm_at(start + 25ms, [&] { order.push_back(4); });
    });
    q.cancel(cancelled);
    io.run();  // returns when no more work: the driver holds none once the queue is empty
    EXPECT_EQ(order, (std::vector<int>{1, 2, 4, 3}));
    EXPECT_GE(clock.now() - start, 30ms);
    EXPECT_TRUE(q.empty());
}

// The earliest timer cancelled and a later one armed: the OS timer is not re-armed (no
// timerfd_settime); it wakes up early once and is re-armed for the later deadline then. An earlier
// timer does re-arm it. Deadlines are absolute, so a late wake-up on a loaded machine changes no
// assertion (only whether the early wake-up still finds nothing due).
TEST(AsioTimerDriver, LaterDeadlineKeepsTheOsTimerAndItsEarlyWakeupRearms) {
    boost::asio::io_context io;
    SystemClock clock;
    TimerQueue q(clock);
    AsioTimerDriver driver(io, q);
    const auto start = clock.now();
    std::vector<int> fired;
    const TimerId a = q.arm_at(start + 20ms, [&] { fired.push_back(1); });
    EXPECT_EQ(driver.arms(), 1u);
    q.cancel(a);
    q.arm_at(start + 40ms, [&] { fired.push_back(2); });
    EXPECT_EQ(driver.arms(), 1u) << "a later earliest deadline does not re-arm the OS timer";
    q.arm_at(start + 30ms, [&] { fired.push_back(3); });
    EXPECT_EQ(driver.arms(), 1u) << "still later than the 20 ms it waits for";
    io.run();
    EXPECT_EQ(fired, (std::vector<int>{3, 2}));
    EXPECT_GE(clock.now() - start, 40ms) << "the 40 ms timer did not fire early";
    EXPECT_LE(driver.arms(), 3u) << "20 ms, then at most 30 and 40 ms";
    EXPECT_LE(driver.early_wakeups(), 1u);
    EXPECT_TRUE(q.empty());
    // An earlier deadline re-arms at once.
    io.restart();
    const auto arms = driver.arms();
    const auto t0 = clock.now();
    const TimerId late = q.arm_at(t0 + 1h, [&] { fired.push_back(4); });
    EXPECT_EQ(driver.arms(), arms + 1);
    const TimerId early = q.arm_at(t0 + 10ms, [&] { fired.push_back(5); });
    EXPECT_EQ(driver.arms(), arms + 2) << "an earlier deadline re-arms";
    q.cancel(late);
    q.cancel(early);
    driver.reschedule();  // exact: the queue is empty, the OS timer is cancelled
    io.run();             // returns at once: nothing waits
    EXPECT_EQ(fired, (std::vector<int>{3, 2}));
}

// A zero-delay timer (work deferred to the loop) runs from a posted handler: the OS timer is not
// armed for it (no timerfd_settime), the loop does not wait for it (io_context::poll runs ready
// handlers only), and it runs after the handlers already queued. The OS timer keeps waiting for
// the later deadline.
TEST(AsioTimerDriver, DueTimersRunFromAPostedHandlerWithoutTheOsTimer) {
    boost::asio::io_context io;
    SystemClock clock;
    TimerQueue q(clock);
    AsioTimerDriver driver(io, q);
    std::vector<int> order;
    const TimerId later = q.arm(1h, [&] { order.push_back(99); });
    EXPECT_EQ(driver.arms(), 1u);
    boost::asio::post(io, [&] {
        q.arm(Duration::zero(), [&] { order.push_back(2); });
        q.arm(Duration::zero(), [&] { order.push_back(3); });  // shares the posted run
        boost::asio::post(io, [&] { order.push_back(1); });    // queued after the run
    });
    io.poll();
    EXPECT_EQ(order, (std::vector<int>{2, 3, 1})) << "in arming order, before the handlers queued after them";
    EXPECT_EQ(driver.arms(), 1u) << "the OS timer was not armed for the due timers";
    EXPECT_EQ(driver.posted_runs(), 1u) << "one posted run for both";
    // Armed from outside a handler too (e.g. at start-up): the posted run waits for the loop.
    q.arm(Duration::zero(), [&] { order.push_back(4); });
    EXPECT_EQ(order.size(), 3u);
    io.restart();
    io.poll();
    EXPECT_EQ(order.back(), 4);
    EXPECT_EQ(driver.arms(), 1u);
    EXPECT_EQ(driver.posted_runs(), 2u);
    q.cancel(later);
}

// defer_due_runs: a due run is requested from the owner (once until run_due()), nothing is posted
// on the io_context; run_due() runs it (and what its callbacks arm due meanwhile is requested
// again); an empty request posts them again, including one that was requested and never run.
TEST(AsioTimerDriver, DueRunsDeferredToTheOwnerPostNothing) {
    boost::asio::io_context io;
    SystemClock clock;
    TimerQueue q(clock);
    AsioTimerDriver driver(io, q);
    int requests = 0;
    driver.defer_due_runs([&] { ++requests; });
    std::vector<int> order;
    q.arm(Duration::zero(), [&] {
        order.push_back(1);
        q.arm(Duration::zero(), [&] { order.push_back(3); });
    });
    q.arm(Duration::zero(), [&] { order.push_back(2); });
    EXPECT_EQ(requests, 1) << "one request for both due timers";
    EXPECT_EQ(io.poll(), 0u) << "no handler was posted for them";
    EXPECT_TRUE(order.empty());
    EXPECT_TRUE(driver.run_due());
    ASSERT_GE(order.size(), 2u);
    EXPECT_EQ(order[0], 1) << "in arming order";
    EXPECT_EQ(order[1], 2);
    for (int i = 0; i < 3 && driver.run_due(); ++i) {  // the timer armed by a callback: requested again
    }
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(io.poll(), 0u);
    EXPECT_FALSE(driver.run_due()) << "nothing requested: no run";
    EXPECT_EQ(driver.arms(), 0u) << "the OS timer was never armed";
    // Requested, then handed back: the run is posted.
    const int before = requests;
    q.arm(Duration::zero(), [&] { order.push_back(4); });
    EXPECT_EQ(requests, before + 1);
    driver.defer_due_runs({});
    io.restart();
    EXPECT_EQ(io.poll(), 1u) << "the requested run, posted when the owner handed it back";
    EXPECT_EQ(order.back(), 4);
    EXPECT_TRUE(q.empty());
}

TEST(AsioTimerDriver, IdleQueueDoesNotKeepLoopAliveAndDetaches) {
    boost::asio::io_context io;
    SystemClock clock;
    TimerQueue q(clock);
    {
        AsioTimerDriver driver(io, q);
        io.run();  // nothing armed: returns immediately
    }
    int fired = 0;
    q.arm(1ms, [&] { ++fired; });  // driver gone: no hook, nothing runs it
    io.restart();
    io.run();
    EXPECT_EQ(fired, 0);
    EXPECT_EQ(q.run_due(clock.now() + 1s), 1u);
}

}  // namespace
