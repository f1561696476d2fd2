// Injected clocks: every part of the daemon and the peers takes time from a Clock so that unit
// tests run timers in virtual time (docs/architecture.md "Timers registry").
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace dl::core {

/// Time intervals everywhere in lns/, peers/ and scenarios/: signed 64-bit nanoseconds.
using Duration = std::chrono::nanoseconds;

/// A point on a monotonic clock, in nanoseconds since that clock's epoch. Same representation as
/// std::chrono::steady_clock::time_point on libstdc++ (nanosecond ticks), so a SystemClock value
/// can be handed to Boost.Asio steady timers directly.
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

/// Wall-clock time (UTC), used only for human-readable timestamps in logs.
using WallTime = std::chrono::time_point<std::chrono::system_clock, Duration>;

/// Source of time. Implementations: SystemClock (real) and VirtualClock (tests, simulation).
///  - now():      monotonic time; never goes backwards.
///  - wall_now(): wall-clock time for log timestamps only (never used for timer arithmetic).
class Clock {
public:
    virtual ~Clock() = default;
    virtual TimePoint now() const noexcept = 0;
    virtual WallTime wall_now() const noexcept = 0;
};

/// The real clock: now() is std::chrono::steady_clock, wall_now() is std::chrono::system_clock.
class SystemClock final : public Clock {
public:
    TimePoint now() const noexcept override;
    WallTime wall_now() const noexcept override;
};

/// A clock that only moves when told to. Starts at TimePoint{} (0 ns); wall_now() is
/// `wall_base + (now() - 0)`, with wall_base 1970-01-01T00:00:00Z unless given.
class VirtualClock final : public Clock {
public:
    explicit VirtualClock(WallTime wall_base = WallTime{}) noexcept : wall_base_(wall_base) {}

    TimePoint now() const noexcept override { return now_; }
    WallTime wall_now() const noexcept override { return wall_base_ + now_.time_since_epoch(); }

    /// Moves time forward by `d` (d >= 0; a negative d throws std::invalid_argument).
    void advance(Duration d);
    /// Sets the time to `t` (t >= now(); moving backwards throws std::invalid_argument).
    void set(TimePoint t);

private:
    TimePoint now_{};
    WallTime wall_base_;
};

/// Nanoseconds since the clock's epoch (the representation used in Event.time_ns).
inline std::int64_t to_ns(TimePoint t) noexcept { return t.time_since_epoch().count(); }

/// ISO 8601 UTC text with microseconds, e.g. "2026-11-21T09:00:00.123456Z" (the fraction
/// truncated, not rounded; years before 1000 zero-padded to four digits).
std::string format_iso8601(WallTime t);
/// Appends format_iso8601(t) to `out` (no temporary; the date part is cached per thread for the
/// current second).
void append_iso8601(std::string& out, WallTime t);

}  // namespace dl::core
