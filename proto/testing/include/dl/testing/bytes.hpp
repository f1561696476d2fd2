// Byte-string helpers for tests: hex literals in, hex text out.
#pragma once

#include <cctype>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace dl::testing {

/// An octet string as the codecs take and give it.
using Bytes = std::vector<std::uint8_t>;

/// Parses hex text into octets: "c8 02 00 0c", "c802000c" and "C8 02\n00 0C" all give
/// {0xc8, 0x02, 0x00, 0x0c}. White space (blanks, tabs, newlines) may stand anywhere, also inside an
/// octet; digits are case-insensitive.
/// Throws std::invalid_argument on any other character ("bad hex") or an odd number of hex digits
/// ("odd hex"), so that a typo in a golden vector fails loudly instead of shifting every octet.
inline Bytes hex(std::string_view s) {
    Bytes out;
    out.reserve(s.size() / 2);
    int hi = -1;
    for (char c : s) {
        if (std::isspace(static_cast<unsigned char>(c))) continue;
        const int v = (c >= '0' && c <= '9')   ? c - '0'
                      : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                      : (c >= 'A' && c <= 'F') ? c - 'A' + 10
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

/// Prints octets as lower-case hex, two digits each, `sep` between octets (not before the first,
/// not after the last): to_hex({0x0d, 0xbe}) == "0dbe", to_hex({0x0d, 0xbe}, " ") == "0d be".
/// Accepts anything contiguous (std::vector, std::array, std::span of std::uint8_t).
inline std::string to_hex(std::span<const std::uint8_t> b, std::string_view sep = {}) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string s;
    s.reserve(b.size() * (2 + sep.size()));
    for (std::size_t i = 0; i < b.size(); ++i) {
        if (i != 0) s += sep;
        s += kDigits[b[i] >> 4];
        s += kDigits[b[i] & 15];
    }
    return s;
}

/// `a` followed by `b` (a new vector; `a` is taken by value so a temporary is reused).
inline Bytes cat(Bytes a, std::span<const std::uint8_t> b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

/// The characters of `s` as octets, unchanged (no terminating NUL): str("ping") has 4 octets.
inline Bytes str(std::string_view s) { return Bytes(s.begin(), s.end()); }

}  // namespace dl::testing
