// Frame Check Sequences of HDLC-like framing: RFC 1662 Appendix C.
#pragma once

#include <cstdint>
#include <span>

namespace dl::ppp {

/// Initial FCS-16 value (RFC 1662 §C.2, PPPINITFCS16).
inline constexpr std::uint16_t kFcs16Init = 0xffff;
/// FCS-16 residue over a frame followed by its complemented FCS (RFC 1662 §C.2, PPPGOODFCS16).
inline constexpr std::uint16_t kFcs16Good = 0xf0b8;
/// Initial FCS-32 value (RFC 1662 §C.3, PPPINITFCS32).
inline constexpr std::uint32_t kFcs32Init = 0xffffffff;
/// FCS-32 residue over a frame followed by its complemented FCS (RFC 1662 §C.3, PPPGOODFCS32).
inline constexpr std::uint32_t kFcs32Good = 0xdebb20e3;

/// Continues the 16-bit FCS `fcs` over `data` (table-driven, polynomial x^16+x^12+x^5+1,
/// reflected 0x8408): RFC 1662 §C.2 pppfcs16(). Start with kFcs16Init; the value to transmit is
/// the ones complement of the result, least significant octet first.
std::uint16_t fcs16(std::uint16_t fcs, std::span<const std::uint8_t> data) noexcept;

/// Continues the 32-bit FCS `fcs` over `data` (reflected 0xedb88320): RFC 1662 §C.3 pppfcs32().
/// Start with kFcs32Init; transmit the ones complement, least significant octet first.
std::uint32_t fcs32(std::uint32_t fcs, std::span<const std::uint8_t> data) noexcept;

/// True if `frame` (address … information, followed by its 2-octet FCS) has a good FCS-16
/// (RFC 1662 §C.2: the FCS over data + FCS equals kFcs16Good).
bool fcs16_good(std::span<const std::uint8_t> frame_with_fcs) noexcept;

/// True if `frame` followed by its 4-octet FCS has a good FCS-32 (RFC 1662 §C.3).
bool fcs32_good(std::span<const std::uint8_t> frame_with_fcs) noexcept;

}  // namespace dl::ppp
