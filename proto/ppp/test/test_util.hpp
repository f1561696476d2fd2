// Small helpers of the proto/ppp tests (byte helpers: dl/testing/bytes.hpp).
#pragma once

#include <cctype>
#include <string>
#include <string_view>

namespace dl::ppp::test {

/// gtest parameter name from a free-text description ("MRU length 3" -> "MRU_length_3").
inline std::string param_name(std::string_view what) {
    std::string s;
    for (char c : what) s += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    return s;
}

}  // namespace dl::ppp::test
