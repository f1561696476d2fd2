#include "dl/lnsd/pass_end.hpp"

#include <time.h>

#include <boost/asio/io_context.hpp>
#include <utility>

#include "dl/core/asio_driver.hpp"

namespace dl::lnsd {

PassEnd::PassEnd(std::size_t reserve) {
    queued_.reserve(reserve);
    running_.reserve(reserve);
}

PassEnd::~PassEnd() {
    if (driver_) driver_->defer_due_runs({});
}

PassFlush::Post PassEnd::post() {
    return [this](std::function<void()> work) { queued_.push_back(std::move(work)); };
}

void PassEnd::drive_timers(core::AsioTimerDriver* driver) {
    if (driver_) driver_->defer_due_runs({});
    driver_ = driver;
    timers_due_ = false;
    if (driver_) driver_->defer_due_runs([this] { timers_due_ = true; });
}

std::size_t PassEnd::run() {
    std::size_t rounds = 0;
    for (;;) {
        bool ran = false;
        if (timers_due_) {
            timers_due_ = false;
            ran = driver_->run_due();
        }
        if (!queued_.empty()) {
            running_.swap(queued_);  // works queued by these go to the next round
            std::size_t i = 0;
            try {
                for (; i < running_.size(); ++i) running_[i]();
            } catch (...) {
                // The rest stays queued (ahead of what the thrown work's round queued).
                queued_.insert(queued_.begin(), std::make_move_iterator(running_.begin() + static_cast<std::ptrdiff_t>(i) + 1),
                               std::make_move_iterator(running_.end()));
                running_.clear();
                throw;
            }
            running_.clear();
            ran = true;
        }
        if (!ran) return rounds;
        ++rounds;
    }
}

void PassEnd::drive(boost::asio::io_context& io) {
    run();
    while (io.run_one() != 0) run();
    run();
}

void PassEnd::drive(boost::asio::io_context& io, std::chrono::nanoseconds moderation) {
    if (moderation <= std::chrono::nanoseconds::zero()) return drive(io);
    const timespec pause{static_cast<time_t>(moderation.count() / 1000000000),
                         static_cast<long>(moderation.count() % 1000000000)};
    run();
    while (io.run_one() != 0) {  // blocks until something is ready
        run();
        for (;;) {
            while (io.poll_one() != 0) run();  // what is ready now, without blocking
            if (io.stopped()) break;
            ::nanosleep(&pause, nullptr);  // let the next datagrams gather
            std::size_t found = 0;
            while (io.poll_one() != 0) {
                run();
                ++found;
            }
            if (found == 0 || io.stopped()) break;  // quiet: back to blocking
        }
        if (io.stopped()) break;
    }
    run();
}

}  // namespace dl::lnsd
