#include "dl/core/clock.hpp"

#include <ctime>
#include <stdexcept>

#include <fmt/format.h>

namespace dl::core {

TimePoint SystemClock::now() const noexcept {
    return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
}

WallTime SystemClock::wall_now() const noexcept {
    return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

void VirtualClock::advance(Duration d) {
    if (d < Duration::zero()) throw std::invalid_argument("VirtualClock::advance: negative duration");
    now_ += d;
}

void VirtualClock::set(TimePoint t) {
    if (t < now_) throw std::invalid_argument("VirtualClock::set: time would move backwards");
    now_ = t;
}

std::string format_iso8601(WallTime t) {
    const auto ns = t.time_since_epoch().count();
    std::int64_t secs = ns / 1'000'000'000;
    std::int64_t frac = ns % 1'000'000'000;
    if (frac < 0) {
        frac += 1'000'000'000;
        --secs;
    }
    const std::time_t tt = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                       tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac / 1000);
}

}  // namespace dl::core
