// Helpers shared by the proto/radius tests.
#pragma once

#include <cctype>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace dl::radius::test {

/// "01 0a ff" (blanks and newlines ignored) -> bytes.
inline std::vector<std::uint8_t> hex(std::string_view s) {
    std::vector<std::uint8_t> out;
    int hi = -1;
    for (char c : s) {
        if (std::isspace(static_cast<unsigned char>(c))) continue;
        int v = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                : (c >= 'a' && c <= 'f')                     ? c - 'a' + 10
                : (c >= 'A' && c <= 'F')                     ? c - 'A' + 10
                                                             : -1;
        if (v < 0) throw std::invalid_argument("bad hex");
        if (hi < 0) hi = v;
        else out.push_back(static_cast<std::uint8_t>(hi * 16 + v)), hi = -1;
    }
    if (hi >= 0) throw std::invalid_argument("odd hex");
    return out;
}

inline std::string to_hex(const std::vector<std::uint8_t>& v) {
    static const char* d = "0123456789abcdef";
    std::string s;
    for (auto b : v) {
        if (!s.empty()) s += ' ';
        s += d[b >> 4];
        s += d[b & 15];
    }
    return s;
}

}  // namespace dl::radius::test
