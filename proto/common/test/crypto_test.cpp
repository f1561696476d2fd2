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

namespace {
std::vector<std::uint8_t> rep(std::size_t n, std::uint8_t b) { return std::vector<std::uint8_t>(n, b); }
}  // namespace

// RFC 2202 §2's seven HMAC-MD5 test cases, each computed twice in a row and interleaved with the
// others (more keys than the per-thread cache holds), so that every path of the keyed-context
// cache is checked against the published digests: first keying, reuse of a cached keyed context
// (reset without re-keying), eviction of the least recently used key, keys longer than one block
// (test cases 6 and 7: never cached).
TEST(Crypto, HmacMd5Rfc2202VectorsThroughTheKeyedContextCache) {
    std::vector<std::uint8_t> key4;
    for (std::uint8_t b = 1; b <= 25; ++b) key4.push_back(b);
    const std::string big1 = "Test Using Larger Than Block-Size Key - Hash Key First";
    const std::string big2 = "Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data";
    struct Case {
        std::vector<std::uint8_t> key, data;
        const char* digest;
    };
    auto b = [](std::string_view s) { auto v = c::bytes(s); return std::vector<std::uint8_t>(v.begin(), v.end()); };
    const std::vector<Case> cases = {
        {rep(16, 0x0b), b("Hi There"), "9294727a3638bb1c13f48ef8158bfc9d"},
        {b("Jefe"), b("what do ya want for nothing?"), "750c783e6ab0b503eaa86e310a5db738"},
        {rep(16, 0xaa), rep(50, 0xdd), "56be34521d144c88dbb8c733f0e8b3f6"},
        {key4, rep(50, 0xcd), "697eaf0aca3a3aea3a75164746ffaa79"},
        {rep(16, 0x0c), b("Test With Truncation"), "56461ef2342edc00f9bab995690efd4c"},
        {rep(80, 0xaa), b(big1), "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"},
        {rep(80, 0xaa), b(big2), "6f630fad67cda0ee1fb1f562db3aa53e"},
    };
    for (int round = 0; round < 3; ++round) {
        for (std::size_t i = 0; i < cases.size(); ++i) {
            for (int twice = 0; twice < 2; ++twice)
                EXPECT_EQ(hex(c::hmac_md5(cases[i].key, cases[i].data)), cases[i].digest)
                    << "RFC 2202 test case " << i + 1 << ", round " << round << ", call " << twice;
        }
        for (std::size_t i = cases.size(); i-- > 0;)  // and backwards: other evictions
            EXPECT_EQ(hex(c::hmac_md5(cases[i].key, cases[i].data)), cases[i].digest) << "backwards " << i + 1;
    }
}

// A RADIUS client's packets under one secret are keyed once per thread, not once per packet; a
// second secret alternating with it keeps its own context (4 are kept), so neither is re-keyed.
// A different secret of the same length is a different key (no false hit).
TEST(Crypto, HmacMd5KeysEachSecretOncePerThread) {
    const auto s1 = c::bytes("radius-secret-one");
    const auto s2 = c::bytes("radius-secret-two");
    const auto msg = c::bytes("an Access-Request of 60 octets or so, Message-Authenticator zeroed");
    const auto d1 = c::hmac_md5(s1, msg), d2 = c::hmac_md5(s2, msg);
    EXPECT_NE(d1, d2);
    const auto before = c::hmac_md5_stats();
    for (int i = 0; i < 100; ++i) {
        EXPECT_EQ(c::hmac_md5(s1, msg), d1);
        EXPECT_EQ(c::hmac_md5(s2, msg), d2);
    }
    const auto after = c::hmac_md5_stats();
    EXPECT_EQ(after.keyings - before.keyings, 0u) << "200 HMACs under two cached secrets re-keyed";
    EXPECT_EQ(after.reuses - before.reuses, 200u);
}
