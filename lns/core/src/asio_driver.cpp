#include "dl/core/asio_driver.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <optional>

#include "dl/core/timer_queue.hpp"

namespace dl::core {

struct AsioTimerDriver::Impl : std::enable_shared_from_this<Impl> {
    Impl(boost::asio::io_context& io, TimerQueue& q) : timer(io), queue(q) {}

    boost::asio::steady_timer timer;
    TimerQueue& queue;
    std::optional<TimePoint> scheduled;  // deadline the OS timer waits for
    bool alive = true;

    std::uint64_t arms = 0, early_wakeups = 0;

    /// `exact`: re-arm at the queue's earliest deadline even when it is later than the scheduled one.
    void reschedule(bool exact = false) {
        const auto next = queue.next_deadline();
        if (next == scheduled) return;
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
std::uint64_t AsioTimerDriver::arms() const noexcept { return impl_->arms; }
std::uint64_t AsioTimerDriver::early_wakeups() const noexcept { return impl_->early_wakeups; }

}  // namespace dl::core
