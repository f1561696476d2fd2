#include "dl/core/asio_driver.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
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
