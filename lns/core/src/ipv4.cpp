#include "dl/core/ipv4.hpp"

#include <charconv>

#include <fmt/format.h>

namespace dl::core {

std::optional<Ipv4Address> Ipv4Address::parse(std::string_view text) noexcept {
    std::uint32_t value = 0;
    for (int octet = 0; octet < 4; ++octet) {
        if (octet > 0) {
            if (text.empty() || text.front() != '.') return std::nullopt;
            text.remove_prefix(1);
        }
        std::size_t n = 0;
        while (n < text.size() && n < 4 && text[n] >= '0' && text[n] <= '9') ++n;
        if (n == 0 || n > 3 || (n > 1 && text[0] == '0')) return std::nullopt;
        unsigned v = 0;
        std::from_chars(text.data(), text.data() + n, v);
        if (v > 255) return std::nullopt;
        value = (value << 8) | v;
        text.remove_prefix(n);
    }
    if (!text.empty()) return std::nullopt;
    return Ipv4Address{value};
}

std::string Ipv4Address::to_string() const {
    return fmt::format("{}.{}.{}.{}", value >> 24, (value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF);
}

std::optional<Ipv4Prefix> Ipv4Prefix::parse(std::string_view text) noexcept {
    const auto slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    const auto addr = Ipv4Address::parse(text.substr(0, slash));
    if (!addr) return std::nullopt;
    const std::string_view len = text.substr(slash + 1);
    if (len.empty() || len.size() > 2 || (len.size() > 1 && len[0] == '0')) return std::nullopt;
    unsigned v = 0;
    const auto [p, ec] = std::from_chars(len.data(), len.data() + len.size(), v);
    if (ec != std::errc{} || p != len.data() + len.size() || v > 32) return std::nullopt;
    return Ipv4Prefix{*addr, static_cast<std::uint8_t>(v)};
}

std::string Ipv4Prefix::to_string() const { return fmt::format("{}/{}", address.to_string(), length); }

}  // namespace dl::core
