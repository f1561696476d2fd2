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

char* Ipv4Address::write(char* out) const noexcept {
    // By hand (not fmt::format): lnsd writes addresses into several events and keys per dial-out
    // call, and fmt's run-time format parsing cost ~1 000 instructions each.
    char* const end = out + kMaxText;
    for (int shift = 24; shift >= 0; shift -= 8) {
        out = std::to_chars(out, end, (value >> shift) & 0xFF).ptr;
        if (shift) *out++ = '.';
    }
    return out;
}

std::string Ipv4Address::to_string() const {
    char buf[kMaxText];
    return std::string(buf, write(buf));
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

std::string Ipv4Prefix::to_string() const {
    std::string s = address.to_string();
    s += '/';
    char buf[4];
    s.append(buf, std::to_chars(buf, buf + sizeof buf, static_cast<unsigned>(length)).ptr);
    return s;
}

}  // namespace dl::core
