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

    void reschedule() {
        const auto next = queue.next_deadline();
        if (next == scheduled) return;
        scheduled = next;
        if (!next) {
            timer.cancel();
            return;
        }
        const Duration wait = std::max(Duration::zero(), *next - queue.now());
        timer.expires_after(std::chrono::duration_cast<boost::asio::steady_timer::duration>(wait));
        std::weak_ptr<Impl> weak = weak_from_this();
        timer.async_wait([weak](const boost::system::error_code& ec) {
            if (ec == boost::asio::error::operation_aborted) return;
            auto self = weak.lock();
            if (!self || !self->alive) return;
            self->scheduled.reset();
            try {
                self->queue.run_due(self->queue.now());
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

void AsioTimerDriver::reschedule() { impl_->reschedule(); }

}  // namespace dl::core
