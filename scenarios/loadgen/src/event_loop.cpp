#include "dl/loadgen/event_loop.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <ctime>
#include <system_error>

#include <boost/asio/executor_work_guard.hpp>

namespace dl::loadgen {

namespace {
[[noreturn]] void fail(const char* what) { throw std::system_error(errno, std::generic_category(), what); }
}  // namespace

EventLoop::EventLoop(boost::asio::io_context& io, core::TimerQueue& timers) : io_(io), timers_(timers) {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) fail("epoll_create1");
}

EventLoop::~EventLoop() {
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

void EventLoop::watch(int fd, Ready on_readable) {
    std::size_t slot = watches_.size();
    for (std::size_t i = 0; i < watches_.size(); ++i)
        if (watches_[i].fd < 0) {
            slot = i;
            break;
        }
    epoll_event ev{};
    ev.events = EPOLLIN;  // level-triggered: registered once, never re-armed
    ev.data.u32 = static_cast<std::uint32_t>(slot);
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) fail("epoll_ctl(EPOLL_CTL_ADD)");
    ++counters_.registrations;
    if (slot == watches_.size()) watches_.push_back({});
    watches_[slot] = {fd, std::move(on_readable)};
}

void EventLoop::unwatch(int fd) noexcept {
    for (auto& w : watches_)
        if (w.fd == fd) {
            ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
            w = {};
        }
}

std::uint64_t EventLoop::run() {
    // Keeps io.poll() from stopping the io_context when no handler is queued.
    auto work = boost::asio::make_work_guard(io_);
    std::array<epoll_event, 32> events{};
    std::uint64_t passes = 0;
    while (!io_.stopped()) {
        ++passes;
        ++counters_.passes;
        io_.poll();
        if (io_.stopped()) break;
        for (auto& hook : pass_end_) hook();
        std::int64_t ns = -1;  // no timer: until a socket is readable
        if (const auto next = timers_.next_deadline()) ns = std::max<std::int64_t>(0, (*next - timers_.now()).count());
        ++counters_.waits;
        int n = -1;
        if (pwait2_) {
            timespec timeout{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
            n = ::epoll_pwait2(epoll_fd_, events.data(), static_cast<int>(events.size()), ns < 0 ? nullptr : &timeout,
                               nullptr);
            if (n < 0 && errno == ENOSYS) pwait2_ = false;  // e.g. under valgrind 3.19: milliseconds then
        }
        if (!pwait2_) {
            // rounded up: never woken before the deadline (then a pass would find nothing due)
            const int ms = ns < 0 ? -1 : static_cast<int>(std::min<std::int64_t>((ns + 999'999) / 1'000'000, 60'000));
            n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), ms);
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("epoll_pwait2");
        }
        for (int i = 0; i < n; ++i) {
            const auto slot = events[static_cast<std::size_t>(i)].data.u32;
            // a handler may have unwatched this or another socket meanwhile (or stopped the loop)
            if (io_.stopped()) break;
            if (slot < watches_.size() && watches_[slot].fd >= 0 && watches_[slot].on_readable) {
                ++counters_.ready;
                watches_[slot].on_readable();
            }
        }
        if (io_.stopped()) break;  // a readiness handler stopped the loop
        // The due timers after the sockets and before the posted handlers: what both send leaves
        // in the same posted flush (one sendmmsg per pass, not one for each).
        if (timers_.run_due(timers_.now()) > 0) ++counters_.timer_runs;
    }
    work.reset();
    return passes;
}

}  // namespace dl::loadgen
