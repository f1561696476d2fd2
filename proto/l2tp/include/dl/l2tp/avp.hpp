// One AVP of an L2TP control message (RFC 2661 §4.1), as stored inside an L2TP PDU.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "dl/l2tp/types.hpp"

namespace dl::l2tp {

class L2TP;

/// Where a hidden AVP stands (RFC 2661 §4.3).
enum class HiddenState : std::uint8_t {
    not_hidden,   ///< H = 0: value() is the cleartext as on the wire.
    decoded,      ///< H = 1 and unhidden (or hidden here): value() is cleartext, wire_value() ciphertext.
    undecodable,  ///< H = 1, could not be unhidden: value() is the ciphertext; see undecodable_reason().
    pending,      ///< H = 1 requested but not yet encoded (no secret set): cannot be serialised.
};

/// Lower-case name of a HiddenState.
std::string_view to_string(HiddenState s) noexcept;

/// A view of one AVP inside an L2TP PDU. Values live in the PDU's own buffer: an Avp is valid
/// while the PDU that returned it is alive and unmodified.
///
/// Wire layout (RFC 2661 §4.1): |M|H|rsvd(4)|Length(10)|Vendor ID(16)|Attribute Type(16)|Value…|
class Avp {
public:
    static constexpr std::uint8_t kMandatory = 0x80;   ///< M bit, in flags()
    static constexpr std::uint8_t kHidden = 0x40;      ///< H bit, in flags()
    static constexpr std::uint8_t kReserved = 0x3C;    ///< the 4 reserved bits, in flags()

    /// Top 6 bits of the first octet (M, H, reserved), low 2 bits always 0.
    std::uint8_t flags() const noexcept { return flags_; }
    bool mandatory() const noexcept { return flags_ & kMandatory; }
    bool hidden() const noexcept { return flags_ & kHidden; }
    /// Reserved bits as received (shifted to bits 0-3). Non-zero makes the AVP unrecognised (§4.1).
    std::uint8_t reserved_bits() const noexcept { return static_cast<std::uint8_t>((flags_ & kReserved) >> 2); }
    std::uint16_t vendor_id() const noexcept { return vendor_; }
    std::uint16_t type() const noexcept { return type_; }
    bool is(AvpType t) const noexcept { return vendor_ == 0 && type_ == static_cast<std::uint16_t>(t); }

    /// True if this codec knows the AVP: Vendor ID 0, a type in the registry and no reserved bit
    /// set (RFC 2661 §4.1: "An AVP received with a reserved bit set to 1 MUST be treated as an
    /// unrecognized AVP").
    bool recognized() const noexcept;

    /// The Attribute Value: cleartext when known (not_hidden, decoded, pending), else the
    /// ciphertext as received (undecodable).
    std::span<const std::uint8_t> value() const noexcept { return {base_ + val_off_, val_len_}; }
    /// The Attribute Value as it is (or will be) on the wire: ciphertext for hidden AVPs.
    std::span<const std::uint8_t> wire_value() const noexcept { return {base_ + wire_off_, wire_len_}; }
    /// Length field on the wire: 6 + wire value length.
    std::uint16_t length() const noexcept { return static_cast<std::uint16_t>(6 + wire_len_); }

    HiddenState hidden_state() const noexcept { return state_; }
    /// Why a hidden AVP could not be unhidden ("no secret given", "no preceding Random Vector",
    /// "bad original length"); empty otherwise.
    std::string_view undecodable_reason() const noexcept { return reason_ ? reason_ : ""; }

private:
    friend class L2TP;
    const std::uint8_t* base_ = nullptr;  // the owning PDU's arena
    std::uint32_t val_off_ = 0;
    std::uint32_t wire_off_ = 0;
    std::uint16_t val_len_ = 0;
    std::uint16_t wire_len_ = 0;
    std::uint16_t vendor_ = 0;
    std::uint16_t type_ = 0;
    std::uint8_t flags_ = 0;
    HiddenState state_ = HiddenState::not_hidden;
    const char* reason_ = nullptr;  // static string
};

}  // namespace dl::l2tp
