#include "dl/core/duration.hpp"

#include <gtest/gtest.h>

#include "dl/core/errors.hpp"

using namespace dl::core;
using namespace std::chrono_literals;

namespace {

std::string error_of(std::string_view text, std::string_view key = "trigger") {
    try {
        parse_duration(text, key);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(Duration, ParsesUnits) {
    EXPECT_EQ(parse_duration("30s"), 30s);
    EXPECT_EQ(parse_duration("500ms"), 500ms);
    EXPECT_EQ(parse_duration("2m"), 2min);
    EXPECT_EQ(parse_duration("1h"), 1h);
    EXPECT_EQ(parse_duration("250us"), 250us);
    EXPECT_EQ(parse_duration("250\xC2\xB5s"), 250us);
    EXPECT_EQ(parse_duration("7ns"), 7ns);
    EXPECT_EQ(parse_duration("0s"), 0s);
    EXPECT_EQ(parse_duration(" 1m30s "), 90s);
    EXPECT_EQ(parse_duration("1h2m3s4ms"), 1h + 2min + 3s + 4ms);
    EXPECT_EQ(parse_duration("1.5s"), 1500ms);
    EXPECT_EQ(parse_duration("0.25h"), 15min);
    EXPECT_EQ(parse_duration(".5s"), 500ms);
}

TEST(Duration, ErrorsNameKeyValueAndRule) {
    EXPECT_EQ(error_of("30"), "trigger: '30' has no unit; write 30s");
    EXPECT_EQ(error_of("5x"), "trigger: '5x' has an unknown unit 'x' (use ns, us, ms, s, m, h)");
    EXPECT_EQ(error_of("5 s"), "trigger: '5 s' has a number '5' with no unit");
    EXPECT_EQ(error_of("1m30"), "trigger: '1m30' has a number '30' with no unit");
    EXPECT_EQ(error_of(""), "trigger: is empty; write a time with a unit, e.g. 30s");
    EXPECT_EQ(error_of("-5s"), "trigger: '-5s' is negative; time values are >= 0");
    EXPECT_EQ(error_of("s"), "trigger: 's' is not a time value; write e.g. 30s, 500ms, 2m, 1h");
    EXPECT_EQ(error_of("1.5ns"), "trigger: '1.5ns' is finer than one nanosecond");
    EXPECT_EQ(error_of("99999999999999999999s"), "trigger: '99999999999999999999s' is too large");
    EXPECT_EQ(error_of("3000000h"), "trigger: '3000000h' is too large");
    EXPECT_EQ(error_of("30S", "timers.hello"), "timers.hello: '30S' has an unknown unit 'S' (use ns, us, ms, s, m, h)");
}

TEST(Duration, FormatsWithLargestExactUnit) {
    EXPECT_EQ(format_duration(30s), "30s");
    EXPECT_EQ(format_duration(500ms), "500ms");
    EXPECT_EQ(format_duration(120s), "2m");
    EXPECT_EQ(format_duration(90s), "90s");
    EXPECT_EQ(format_duration(1h), "1h");
    EXPECT_EQ(format_duration(1500us), "1500us");
    EXPECT_EQ(format_duration(0s), "0s");
    EXPECT_EQ(format_duration(-3s), "-3s");
    EXPECT_EQ(format_duration(1ns), "1ns");
}

TEST(Duration, RoundTrips) {
    for (const auto d : {Duration{1}, Duration{999}, Duration{1000}, Duration(250us), Duration(1s), Duration(61s),
                         Duration(3h), Duration(3h + 1ns), Duration(240s)})
        EXPECT_EQ(parse_duration(format_duration(d)), d) << format_duration(d);
}

}  // namespace
