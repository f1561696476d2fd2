#include "dl/core/asio_driver.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <optional>

#include "dl/core/timer_queue.hpp"

namespace dl::core {

struct AsioTimerDriver::Impl : std::enable_shared_from_this<Impl> {
    Impl(boost::asio::io_context& ctx, TimerQueue& q) : io(ctx), timer(ctx), queue(q) {}

    boost::asio::io_context& io;
    boost::asio::steady_timer timer;
    TimerQueue& queue;
    std::optional<TimePoint> scheduled;  // deadline the OS timer waits for
    bool alive = true;
    bool posted = false;  // a run of the due timers is posted and has not run yet (at most one)
    bool requested = false;  // a run was requested from the owner (defer_due_runs) and not yet run
    std::function<void()> request;  // defer_due_runs: the owner runs them (run_due)

    std::uint64_t arms = 0, early_wakeups = 0, posted_runs = 0;

    /// The due timers run from a handler posted on the loop: no OS timer for them.
    void post_run() {
        if (request) {
            if (requested || posted) return;
            requested = true;
            ++posted_runs;
            request();
            return;
        }
        if (posted) return;
        posted = true;
        ++posted_runs;
        std::weak_ptr<Impl> weak = weak_from_this();
        boost::asio::post(io, [weak] {
            auto self = weak.lock();
            if (!self || !self->alive) return;
            self->posted = false;
            try {
                self->queue.run_due(self->queue.now());
            } catch (...) {
                self->reschedule();  // keep driving the rest; the exception leaves io_context::run()
                throw;
            }
            self->reschedule();
        });
    }

    /// The owner's run of a requested due run (defer_due_runs).
    bool run_requested() {
        if (!requested || !alive) return false;
        requested = false;
        try {
            queue.run_due(queue.now());
        } catch (...) {
            reschedule();
            throw;
        }
        reschedule();
        return true;
    }

    /// `exact`: re-arm at the queue's earliest deadline even when it is later than the scheduled one.
    void reschedule(bool exact = false) {
        const auto next = queue.next_deadline();
        if (next == scheduled) return;
        // Already due (a zero-delay timer: work deferred to the loop, e.g. lnsd's call results):
        // run it from a posted handler after the ones already queued, instead of arming the OS
        // timer for a deadline in the past (two timerfd_settime and a wake-up of epoll_wait).
        if (next && *next <= queue.now()) {
            post_run();
            return;
        }
        // Waiting for an earlier deadline: keep it (one early wake-up, then the re-arm below).
        if (!exact && scheduled && (!next || *next > *scheduled)) return;
        scheduled = next;
        if (!next) {
            timer.cancel();
            return;
        }
        const Duration wait = std::max(Duration::zero(), *next - queue.now());
        ++arms;
        timer.expires_after(std::chrono::duration_cast<boost::asio::steady_timer::duration>(wait));
        std::weak_ptr<Impl> weak = weak_from_this();
        timer.async_wait([weak](const boost::system::error_code& ec) {
            if (ec == boost::asio::error::operation_aborted) return;
            auto self = weak.lock();
            if (!self || !self->alive) return;
            self->scheduled.reset();
            try {
                if (self->queue.run_due(self->queue.now()) == 0) ++self->early_wakeups;
            } catch (...) {
                self->reschedule();  // keep driving the rest; the exception leaves io_context::run()
                throw;
            }
            self->reschedule();
        });
    }
};

AsioTimerDriver::AsioTimerDriver(boost::asio::io_context& io, TimerQueue& queue)
    : impl_(std::make_shared<Impl>(io, queue)) {
    Impl* raw = impl_.get();
    queue.set_wakeup([raw] { raw->reschedule(); });
    impl_->reschedule();
}

AsioTimerDriver::~AsioTimerDriver() {
    impl_->alive = false;
    impl_->queue.set_wakeup({});
    impl_->timer.cancel();
}

void AsioTimerDriver::reschedule() { impl_->reschedule(/*exact=*/true); }
void AsioTimerDriver::defer_due_runs(std::function<void()> request) {
    impl_->request = std::move(request);
    if (!impl_->request && impl_->requested) {  // a run the owner will no longer make: posted
        impl_->requested = false;
        impl_->post_run();
    }
}
bool AsioTimerDriver::run_due() { return impl_->run_requested(); }
std::uint64_t AsioTimerDriver::arms() const noexcept { return impl_->arms; }
std::uint64_t AsioTimerDriver::early_wakeups() const noexcept { return impl_->early_wakeups; }
std::uint64_t AsioTimerDriver::posted_runs() const noexcept { return impl_->posted_runs; }

}  // namespace dl::core
