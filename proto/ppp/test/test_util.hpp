// Small helpers shared by the proto/ppp tests.
#pragma once

#include <cctype>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace dl::ppp::test {

using Bytes = std::vector<std::uint8_t>;

/// "ff 03 c0 21" (spaces optional) -> bytes.
inline Bytes hex(std::string_view s) {
    Bytes out;
    int hi = -1;
    for (char c : s) {
        if (std::isspace(static_cast<unsigned char>(c))) continue;
        int v = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
                : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                            : -1;
        if (v < 0) throw std::invalid_argument("bad hex");
        if (hi < 0) {
            hi = v;
        } else {
            out.push_back(static_cast<std::uint8_t>(hi << 4 | v));
            hi = -1;
        }
    }
    if (hi >= 0) throw std::invalid_argument("odd hex");
    return out;
}

inline Bytes cat(Bytes a, const Bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

inline Bytes str(std::string_view s) { return Bytes(s.begin(), s.end()); }

}  // namespace dl::ppp::test

namespace dl::ppp::test {
/// gtest parameter name from a free-text description ("MRU length 3" -> "MRU_length_3").
inline std::string param_name(std::string_view what) {
    std::string s;
    for (char c : what) s += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    return s;
}
}  // namespace dl::ppp::test
