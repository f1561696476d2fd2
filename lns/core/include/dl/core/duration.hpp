// Time values with units, as written in configuration and shown by `show timers`.
#pragma once

#include <string>
#include <string_view>

#include "dl/core/clock.hpp"

namespace dl::core {

/// Parses a duration with units (docs/architecture.md "Configuration": time values carry units).
/// Grammar: one or more `<number><unit>` terms, e.g. "30s", "500ms", "2m", "1h", "250us", "1m30s",
/// "1.5s"; units ns, us (or µs), ms, s, m, h. Whitespace around the text is ignored. Only
/// non-negative values that fit in int64 nanoseconds (~292 years) and whole nanoseconds.
/// Throws ConfigError(key, text, rule), e.g. `trigger: '30' has no unit; write 30s`,
/// `trigger: '5x' has an unknown unit 'x' (use ns, us, ms, s, m, h)`.
Duration parse_duration(std::string_view text, std::string_view key = "duration");

/// Formats with the largest unit that represents `d` exactly:
/// 30s -> "30s", 500ms -> "500ms", 120s -> "2m", 90s -> "90s", 0 -> "0s", 1500us -> "1500us".
/// Negative durations get a leading '-'. parse_duration(format_duration(d)) == d for d >= 0.
std::string format_duration(Duration d);

}  // namespace dl::core
