// AVP hiding (RFC 2661 §4.3) and tunnel authentication (RFC 2661 §4.4.3, §5.1.1), over the MD5 of
// dl/proto/crypto.hpp.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "dl/proto/crypto.hpp"

namespace dl::l2tp {

/// Hides `value` of an AVP of `attribute_type` (RFC 2661 §4.3): builds the Hidden AVP Subformat
/// (2-octet original length ‖ value ‖ pad) and XORs it with b1 = MD5(type ‖ secret ‖ RV),
/// bi = MD5(secret ‖ c(i-1)). Returns the new Attribute Value (2 + value + pad octets).
/// Throws std::length_error if the result exceeds 1017 octets.
std::vector<std::uint8_t> hide_value(std::uint16_t attribute_type, std::string_view secret,
                                     std::span<const std::uint8_t> random_vector,
                                     std::span<const std::uint8_t> value, std::span<const std::uint8_t> pad);

/// Reverses hide_value(). nullopt if `hidden` is shorter than 2 octets or its decoded original
/// length exceeds the octets present (wrong secret or Random Vector, or corrupted AVP).
std::optional<std::vector<std::uint8_t>> unhide_value(std::uint16_t attribute_type, std::string_view secret,
                                                      std::span<const std::uint8_t> random_vector,
                                                      std::span<const std::uint8_t> hidden);

/// Same as unhide_value() but decodes into `out` (size ≥ hidden.size()); returns the original
/// length or nullopt. No allocation.
std::optional<std::size_t> unhide_into(std::uint16_t attribute_type, std::string_view secret,
                                       std::span<const std::uint8_t> random_vector,
                                       std::span<const std::uint8_t> hidden, std::uint8_t* out) noexcept;

/// Challenge Response (RFC 2661 §4.4.3, §5.1.1): MD5(message_type ‖ secret ‖ challenge), CHAP-style
/// (RFC 1994 §4.1) with the Message Type as the ID: 2 for the SCCRP's response, 3 for the SCCCN's.
dl::proto::crypto::Md5Digest challenge_response(std::uint8_t message_type, std::string_view secret,
                                                std::span<const std::uint8_t> challenge);

}  // namespace dl::l2tp
