// FCS-16 / FCS-32 (RFC 1662 Appendix C) against check values and a bitwise reference.
#include "dl/ppp/fcs.hpp"
#include "dl/testing/bytes.hpp"

#include <gtest/gtest.h>

#include <random>


namespace dl::ppp {
namespace {

using dl::testing::Bytes;
using dl::testing::hex;
using dl::testing::str;

// Bitwise (table-free) reference of the same CRCs, to cross-check the RFC's table algorithm.
std::uint16_t ref16(std::uint16_t f, const Bytes& d) {
    for (auto b : d) {
        f ^= b;
        for (int i = 0; i < 8; ++i) f = (f & 1) ? (f >> 1) ^ 0x8408 : f >> 1;
    }
    return f;
}
std::uint32_t ref32(std::uint32_t f, const Bytes& d) {
    for (auto b : d) {
        f ^= b;
        for (int i = 0; i < 8; ++i) f = (f & 1) ? (f >> 1) ^ 0xedb88320u : f >> 1;
    }
    return f;
}

// req: PPP.hdlc
TEST(Fcs, CheckValues) {
    const Bytes s = str("123456789");
    // CRC-16/X.25 (the PPP FCS-16) check value 0x906e; CRC-32 check value 0xcbf43926.
    EXPECT_EQ(fcs16(kFcs16Init, s), 0x6f91);
    EXPECT_EQ(static_cast<std::uint16_t>(~fcs16(kFcs16Init, s)), 0x906e);
    EXPECT_EQ(~fcs32(kFcs32Init, s), 0xcbf43926u);
}

// req: PPP.hdlc
TEST(Fcs, GoodResidueConstants) {
    Bytes f = hex("ff 03 c0 21 01 01 00 04");
    const auto c16 = static_cast<std::uint16_t>(~fcs16(kFcs16Init, f));
    Bytes f16 = f;
    f16.push_back(static_cast<std::uint8_t>(c16 & 0xff));  // least significant octet first
    f16.push_back(static_cast<std::uint8_t>(c16 >> 8));
    EXPECT_EQ(f16, hex("ff 03 c0 21 01 01 00 04 d1 b5"));
    EXPECT_EQ(fcs16(kFcs16Init, f16), kFcs16Good);
    EXPECT_EQ(kFcs16Good, 0xf0b8);
    EXPECT_TRUE(fcs16_good(f16));
    f16[3] ^= 0x01;
    EXPECT_FALSE(fcs16_good(f16));

    const std::uint32_t c32 = ~fcs32(kFcs32Init, f);
    Bytes f32 = f;
    for (int i = 0; i < 4; ++i) f32.push_back(static_cast<std::uint8_t>(c32 >> (8 * i)));
    EXPECT_EQ(fcs32(kFcs32Init, f32), kFcs32Good);
    EXPECT_EQ(kFcs32Good, 0xdebb20e3u);
    EXPECT_TRUE(fcs32_good(f32));
    f32.back() ^= 0x80;
    EXPECT_FALSE(fcs32_good(f32));
}

// req: PPP.hdlc
TEST(Fcs, ShortInputsAreNotGood) {
    EXPECT_FALSE(fcs16_good(Bytes{}));
    EXPECT_FALSE(fcs16_good(Bytes{0xb8}));
    EXPECT_FALSE(fcs32_good(Bytes{1, 2, 3}));
}

// req: PPP.hdlc
TEST(Fcs, TableMatchesBitwiseReferenceAndIsIncremental) {
    std::mt19937 rng(1662);
    for (int n = 0; n < 200; ++n) {
        Bytes d(rng() % 300);
        for (auto& b : d) b = static_cast<std::uint8_t>(rng());
        EXPECT_EQ(fcs16(kFcs16Init, d), ref16(0xffff, d));
        EXPECT_EQ(fcs32(kFcs32Init, d), ref32(0xffffffff, d));
        const std::size_t cut = d.empty() ? 0 : rng() % d.size();
        std::span<const std::uint8_t> all(d);
        EXPECT_EQ(fcs16(fcs16(kFcs16Init, all.first(cut)), all.subspan(cut)), fcs16(kFcs16Init, d));
        EXPECT_EQ(fcs32(fcs32(kFcs32Init, all.first(cut)), all.subspan(cut)), fcs32(kFcs32Init, d));
    }
}

}  // namespace
}  // namespace dl::ppp
