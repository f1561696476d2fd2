#include "dl/core/clock.hpp"

#include <cstdint>
#include <ctime>
#include <limits>
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

void append_iso8601(std::string& out, WallTime t) {
    const auto ns = t.time_since_epoch().count();
    std::int64_t secs = ns / 1'000'000'000;
    std::int64_t frac = ns % 1'000'000'000;
    if (frac < 0) {
        frac += 1'000'000'000;
        --secs;
    }
    // The date and time of day change once a second while a daemon stamps dozens of events per
    // dial-out call: gmtime_r and the formatting ran once per event and were a fifth of lnsd's
    // instructions per call (docs/performance.md "lnsd CPU per call"). Cached per thread.
    struct Cache {
        std::int64_t secs = std::numeric_limits<std::int64_t>::min();
        std::string text;  ///< "YYYY-MM-DDTHH:MM:SS" of `secs`
    };
    thread_local Cache cache;
    if (cache.secs != secs) {
        const std::time_t tt = static_cast<std::time_t>(secs);
        std::tm tm{};
        gmtime_r(&tt, &tm);
        cache.text = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                                 tm.tm_hour, tm.tm_min, tm.tm_sec);
        cache.secs = secs;
    }
    out += cache.text;
    // ".uuuuuuZ": microseconds, always six digits (0 <= frac / 1000 < 1 000 000).
    char tail[8] = {'.', '0', '0', '0', '0', '0', '0', 'Z'};
    auto us = static_cast<std::uint32_t>(frac / 1000);
    for (int i = 6; i >= 1; --i, us /= 10) tail[i] = static_cast<char>('0' + us % 10);
    out.append(tail, sizeof tail);
}

std::string format_iso8601(WallTime t) {
    std::string out;
    out.reserve(32);
    append_iso8601(out, t);
    return out;
}

}  // namespace dl::core
