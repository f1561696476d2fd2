// libFuzzer harness: duration text, IPv4 address and prefix parsers (config input).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dl/core/duration.hpp"
#include "dl/core/errors.hpp"
#include "dl/core/ipv4.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        const auto d = dl::core::parse_duration(text, "fuzz");
        if (d.count() < 0) __builtin_trap();
        // Round trip must hold for every accepted value.
        if (dl::core::parse_duration(dl::core::format_duration(d), "fuzz") != d) __builtin_trap();
    } catch (const dl::core::ConfigError&) {
    }
    if (const auto a = dl::core::Ipv4Address::parse(text)) {
        if (dl::core::Ipv4Address::parse(a->to_string()) != a) __builtin_trap();
    }
    if (const auto p = dl::core::Ipv4Prefix::parse(text)) {
        if (p->length > 32) __builtin_trap();
        if (dl::core::Ipv4Prefix::parse(p->to_string()) != p) __builtin_trap();
    }
    return 0;
}
