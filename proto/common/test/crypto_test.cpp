#include "dl/proto/crypto.hpp"

#include <gtest/gtest.h>

#include <string>

namespace c = dl::proto::crypto;

static std::string hex(std::span<const std::uint8_t> d) {
    static const char* k = "0123456789abcdef";
    std::string s;
    for (auto b : d) { s += k[b >> 4]; s += k[b & 15]; }
    return s;
}

TEST(Crypto, Md5Rfc1321Vectors) {
    // RFC 1321 appendix A.5 test suite.
    EXPECT_EQ(hex(c::md5({c::bytes("")})), "d41d8cd98f00b204e9800998ecf8427e");
    EXPECT_EQ(hex(c::md5({c::bytes("abc")})), "900150983cd24fb0d6963f7d28e17f72");
    EXPECT_EQ(hex(c::md5({c::bytes("message "), c::bytes("digest")})),
              "f96b697d7cb7938d525a2f31aaf161d0");
}

TEST(Crypto, HmacMd5Rfc2104Vector) {
    // RFC 2104 §A / RFC 2202 test case 2.
    EXPECT_EQ(hex(c::hmac_md5(c::bytes("Jefe"), c::bytes("what do ya want for nothing?"))),
              "750c783e6ab0b503eaa86e310a5db738");
}

TEST(Crypto, RandomBytesDiffer) {
    auto a = c::random_bytes(16), b = c::random_bytes(16);
    ASSERT_EQ(a.size(), 16u);
    EXPECT_NE(a, b) << "two 128-bit random draws were equal";
}

TEST(Crypto, HmacMd5RekeysBetweenCallsAndAcceptsEmptyKey) {
    // RFC 2202 test case 1 after a call with another key: the per-thread context must re-key.
    (void)c::hmac_md5(c::bytes("Jefe"), c::bytes("x"));
    std::vector<std::uint8_t> key(16, 0x0b);
    EXPECT_EQ(hex(c::hmac_md5(key, c::bytes("Hi There"))), "9294727a3638bb1c13f48ef8158bfc9d");
    // HMAC-MD5 with an empty key (value computed with Python's hmac module).
    EXPECT_EQ(hex(c::hmac_md5({}, c::bytes(""))), "74e6f7298a9c2d168935f58c001bad88");
}
