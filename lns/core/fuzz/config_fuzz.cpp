// libFuzzer harness: YAML configuration loading and the typed getters (errors must be ConfigError).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dl/core/config.hpp"
#include "dl/core/timer_registry.hpp"

namespace {
void walk(const dl::core::ConfigNode& n, int depth) {
    if (depth > 8) return;
    const auto attempt = [](auto&& f) {
        try {
            f();
        } catch (const dl::core::ConfigError&) {
        }
    };
    attempt([&] { (void)n.as_string(); });
    attempt([&] { (void)n.as_int(-5, 5); });
    attempt([&] { (void)n.as_bool(); });
    attempt([&] { (void)n.as_duration(); });
    attempt([&] { (void)n.as_ipv4(); });
    attempt([&] { (void)n.as_ipv4_prefix(); });
    attempt([&] { (void)n.as_enum({"a", "b"}); });
    attempt([&] { n.allow_keys({"timers", "dialout"}); });
    (void)n.location();
    (void)n.text();
    if (n.is_map()) {
        for (const auto& k : n.keys()) walk(n[k], depth + 1);
    } else if (n.is_sequence()) {
        for (std::size_t i = 0; i < n.size() && i < 16; ++i) walk(n.at(i), depth + 1);
    }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 4096) return 0;  // yaml-cpp recursion depth grows with nesting; keep inputs small
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        const auto root = dl::core::ConfigNode::parse(text, "fuzz.yaml");
        walk(root, 0);
        dl::core::TimerRegistry registry;
        dl::core::register_well_known_timers(registry);
        try {
            registry.load(root["timers"]);
        } catch (const dl::core::ConfigError&) {
        }
    } catch (const dl::core::ConfigError&) {
    }
    return 0;
}
