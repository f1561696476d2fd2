#include "dl/core/duration.hpp"

#include <cctype>
#include <cstdint>
#include <iterator>
#include <numeric>

#include <fmt/format.h>

#include "dl/core/errors.hpp"

namespace dl::core {
namespace {

struct Unit {
    std::string_view name;
    std::int64_t ns;
};
// Longest names first where one is a prefix of another ("ms" before "m").
constexpr Unit kUnits[] = {{"ns", 1},
                           {"us", 1'000},
                           {"\xC2\xB5s", 1'000},  // µs
                           {"ms", 1'000'000},
                           {"s", 1'000'000'000},
                           {"m", 60'000'000'000},
                           {"h", 3'600'000'000'000}};

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

}  // namespace

Duration parse_duration(std::string_view text, std::string_view key) {
    const std::string shown(text);
    const std::string k(key);
    std::string_view s = trim(text);
    if (s.empty()) throw ConfigError(k, shown, "is empty; write a time with a unit, e.g. 30s");
    if (s.front() == '-') throw ConfigError(k, shown, "is negative; time values are >= 0");
    std::int64_t total = 0;
    while (!s.empty()) {
        // number: digits [ '.' digits ]
        std::size_t i = 0;
        std::int64_t whole = 0;
        bool any = false;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
            const int digit = s[i] - '0';
            if (whole > (INT64_MAX - digit) / 10) throw ConfigError(k, shown, "is too large");
            whole = whole * 10 + digit;
            ++i;
            any = true;
        }
        std::int64_t frac = 0, frac_scale = 1;
        if (i < s.size() && s[i] == '.') {
            ++i;
            while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
                if (frac_scale < 1'000'000'000LL) {
                    frac = frac * 10 + (s[i] - '0');
                    frac_scale *= 10;
                }
                ++i;
                any = true;
            }
        }
        if (!any) throw ConfigError(k, shown, "is not a time value; write e.g. 30s, 500ms, 2m, 1h");
        const std::string_view number = s.substr(0, i);
        s.remove_prefix(i);
        // unit
        std::size_t u = 0;
        while (u < s.size() && !std::isdigit(static_cast<unsigned char>(s[u])) && s[u] != '.' &&
               !std::isspace(static_cast<unsigned char>(s[u])))
            ++u;
        const std::string_view unit = s.substr(0, u);
        if (unit.empty()) {
            if (s.empty() && total == 0)
                throw ConfigError(k, shown, fmt::format("has no unit; write {}s", number));
            throw ConfigError(k, shown, fmt::format("has a number '{}' with no unit", number));
        }
        const Unit* found = nullptr;
        for (const auto& cand : kUnits)
            if (cand.name == unit) found = &cand;
        if (found == nullptr)
            throw ConfigError(k, shown, fmt::format("has an unknown unit '{}' (use ns, us, ms, s, m, h)", unit));
        s.remove_prefix(u);
        const std::int64_t limit = INT64_MAX / found->ns;
        if (whole > limit) throw ConfigError(k, shown, "is too large");
        std::int64_t term = whole * found->ns;
        // fractional part: frac / frac_scale * unit, must be a whole number of nanoseconds
        if (frac != 0) {
            // frac/frac_scale * ns without overflow: reduce by gcd(ns, frac_scale) first.
            const std::int64_t g = std::gcd(found->ns, frac_scale);
            const std::int64_t denom = frac_scale / g;
            if (frac % denom != 0) throw ConfigError(k, shown, "is finer than one nanosecond");
            const std::int64_t part = (frac / denom) * (found->ns / g);
            if (part > INT64_MAX - term) throw ConfigError(k, shown, "is too large");
            term += part;
        }
        if (term > INT64_MAX - total) throw ConfigError(k, shown, "is too large");
        total += term;
    }
    return Duration{total};
}

std::string format_duration(Duration d) {
    std::int64_t ns = d.count();
    if (ns == 0) return "0s";
    std::string out;
    if (ns < 0) {
        out = "-";
        ns = -ns;  // INT64_MIN is not a meaningful duration here
    }
    // Exact single unit if possible.
    for (auto it = std::rbegin(kUnits); it != std::rend(kUnits); ++it) {
        if (it->name == "\xC2\xB5s") continue;
        if (ns % it->ns == 0) return out + fmt::format("{}{}", ns / it->ns, it->name);
    }
    return out + fmt::format("{}ns", ns);  // unreachable: 1 ns divides everything
}

}  // namespace dl::core
