// RFC 1662 Appendix C: table-driven FCS-16 and FCS-32. The tables are generated at compile time by
// the RFC's own generator loop (§C.2 "Generate a FCS table for the HDLC FCS", and the same for
// FCS-32 with polynomial 0xedb88320, §C.3).
#include "dl/ppp/fcs.hpp"

#include <array>

namespace dl::ppp {
namespace {

constexpr std::array<std::uint16_t, 256> make_fcs16_table() {
    std::array<std::uint16_t, 256> t{};
    constexpr std::uint16_t P = 0x8408;  // RFC 1662 §C.2: #define P 0x8408
    for (unsigned b = 0; b < 256; ++b) {
        unsigned v = b;
        for (int i = 8; i--;) v = (v & 1) ? (v >> 1) ^ P : v >> 1;
        t[b] = static_cast<std::uint16_t>(v & 0xffff);
    }
    return t;
}

constexpr std::array<std::uint32_t, 256> make_fcs32_table() {
    std::array<std::uint32_t, 256> t{};
    constexpr std::uint32_t P = 0xedb88320;  // RFC 1662 §C.3 (x**0 + ... + x**32, reflected)
    for (std::uint32_t b = 0; b < 256; ++b) {
        std::uint32_t v = b;
        for (int i = 8; i--;) v = (v & 1) ? (v >> 1) ^ P : v >> 1;
        t[b] = v;
    }
    return t;
}

constexpr auto kFcs16Tab = make_fcs16_table();
constexpr auto kFcs32Tab = make_fcs32_table();

// Spot checks against the tables printed in RFC 1662 §C.2 and §C.3.
static_assert(kFcs16Tab[1] == 0x1189 && kFcs16Tab[128] == 0x8408 && kFcs16Tab[255] == 0x0f78);
static_assert(kFcs32Tab[1] == 0x77073096 && kFcs32Tab[128] == 0xedb88320 && kFcs32Tab[255] == 0x2d02ef8d);

}  // namespace

std::uint16_t fcs16(std::uint16_t fcs, std::span<const std::uint8_t> data) noexcept {
    // RFC 1662 §C.2: fcs = (fcs >> 8) ^ fcstab[(fcs ^ *cp++) & 0xff];
    for (std::uint8_t c : data) fcs = static_cast<std::uint16_t>((fcs >> 8) ^ kFcs16Tab[(fcs ^ c) & 0xff]);
    return fcs;
}

std::uint32_t fcs32(std::uint32_t fcs, std::span<const std::uint8_t> data) noexcept {
    // RFC 1662 §C.3: fcs = (((fcs) >> 8) ^ fcstab_32[((fcs) ^ (c)) & 0xff])
    for (std::uint8_t c : data) fcs = (fcs >> 8) ^ kFcs32Tab[(fcs ^ c) & 0xff];
    return fcs;
}

bool fcs16_good(std::span<const std::uint8_t> frame_with_fcs) noexcept {
    return frame_with_fcs.size() >= 2 && fcs16(kFcs16Init, frame_with_fcs) == kFcs16Good;
}

bool fcs32_good(std::span<const std::uint8_t> frame_with_fcs) noexcept {
    return frame_with_fcs.size() >= 4 && fcs32(kFcs32Init, frame_with_fcs) == kFcs32Good;
}

}  // namespace dl::ppp
