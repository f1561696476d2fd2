#include "dl/proto/crypto.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <set>
#include <string>
#include <vector>

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

// Small draws come from a per-thread buffer: across several refills (512 octets each) no draw
// repeats, and a forked child never hands out what its parent had buffered (the next draw of
// parent and child differ).
TEST(Crypto, RandomBufferNeverRepeatsNotEvenAcrossFork) {
    std::set<std::vector<std::uint8_t>> seen;
    for (int i = 0; i < 200; ++i) EXPECT_TRUE(seen.insert(c::random_bytes(16)).second) << "draw " << i;
    std::array<std::uint8_t, 4> odd{};
    c::random_fill(odd);  // leaves the buffer part-used
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        const auto v = c::random_bytes(16);
        const bool ok = ::write(fds[1], v.data(), v.size()) == 16;
        ::_exit(ok ? 0 : 1);
    }
    ::close(fds[1]);
    const auto mine = c::random_bytes(16);
    std::vector<std::uint8_t> theirs(16);
    EXPECT_EQ(::read(fds[0], theirs.data(), theirs.size()), 16);
    ::close(fds[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    EXPECT_NE(mine, theirs) << "the child handed out its parent's buffered octets";
    EXPECT_FALSE(seen.count(theirs));
    // Large requests bypass the buffer and are still random.
    EXPECT_NE(c::random_bytes(4096), c::random_bytes(4096));
}

TEST(Crypto, HmacMd5RekeysBetweenCallsAndAcceptsEmptyKey) {
    // RFC 2202 test case 1 after a call with another key: the per-thread context must re-key.
    (void)c::hmac_md5(c::bytes("Jefe"), c::bytes("x"));
    std::vector<std::uint8_t> key(16, 0x0b);
    EXPECT_EQ(hex(c::hmac_md5(key, c::bytes("Hi There"))), "9294727a3638bb1c13f48ef8158bfc9d");
    // HMAC-MD5 with an empty key (value computed with Python's hmac module).
    EXPECT_EQ(hex(c::hmac_md5({}, c::bytes(""))), "74e6f7298a9c2d168935f58c001bad88");
}
