// Declarative registries of RFC 2661 control messages (§3.2, §6.1-§6.14) and IETF AVPs (§4.4).
// Adding a message or an AVP is one row in src/registry.cpp.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "dl/l2tp/types.hpp"

namespace dl::l2tp {

/// How the Attribute Value of an AVP is laid out (RFC 2661 §4.4).
enum class ValueKind : std::uint8_t {
    empty,            ///< no value (Sequencing Required)
    u16,              ///< 2-octet unsigned integer
    u32,              ///< 4-octet unsigned integer
    u64,              ///< 8-octet value (Tie Breaker)
    bitmask32,        ///< 32-bit mask (capabilities, Bearer / Framing Type)
    string,           ///< text / ASCII string
    octets,           ///< opaque octets
    result_code,      ///< Result Code, Error Code (opt), Error Message (opt) (§4.4.2)
    protocol_version, ///< Ver, Rev (§4.4.3)
    q931_cause,       ///< Cause Code, Cause Msg, Advisory Msg (§4.4.4)
    proxy_authen_id,  ///< Reserved octet, ID octet (§4.4.5)
    call_errors,      ///< Reserved + six 32-bit counters (§4.4.6)
    accm,             ///< Reserved + Send ACCM + Receive ACCM (§4.4.6)
};

/// Rule for the M bit of an AVP as RFC 2661 §4.4 states it.
enum class MRule : std::uint8_t { must_be_1, must_be_0 };

/// One row of the AVP registry.
struct AvpInfo {
    std::uint16_t type;          ///< Attribute Type (Vendor ID 0)
    std::string_view name;       ///< RFC name, e.g. "Assigned Tunnel ID"
    ValueKind kind;
    std::uint16_t min_value_len; ///< minimum Attribute Value length in octets (before hiding)
    std::uint16_t max_value_len; ///< maximum Attribute Value length (1017 = unbounded)
    MRule m;                     ///< what the M bit must be
    bool may_hide;               ///< whether the H bit may be 1
    std::string_view section;    ///< "RFC 2661 §4.4.3"
};

/// Whether a message concerns the whole tunnel or one session (decides StopCCN vs CDN, §4.1).
enum class Scope : std::uint8_t { tunnel, session };

/// One row of the message registry. `required` and `optional` are in the order the builders emit
/// the AVPs (after Message Type, RFC 2661 §4.4.1).
struct MessageInfo {
    std::uint16_t type;                  ///< Message Type AVP value
    std::string_view name;               ///< "SCCRQ"
    std::string_view long_name;          ///< "Start-Control-Connection-Request"
    std::string_view section;            ///< "RFC 2661 §6.1"
    Scope scope;
    std::span<const std::uint16_t> required;  ///< AVPs that MUST be present (besides Message Type)
    std::span<const std::uint16_t> optional;  ///< AVPs that MAY be present
};

/// Largest Attribute Value an AVP can carry (10-bit Length minus the 6-octet header, §4.1).
inline constexpr std::uint16_t kMaxAvpValue = 1023 - 6;

/// The registry row for an IETF AVP type, or nullptr if unknown. O(1).
const AvpInfo* avp_info(std::uint16_t type) noexcept;
inline const AvpInfo* avp_info(AvpType t) noexcept { return avp_info(static_cast<std::uint16_t>(t)); }
/// Every registered AVP, in type order.
std::span<const AvpInfo> avp_registry() noexcept;

/// The keyword of an AVP name, as builders and the Python bindings spell it: lower case, runs of
/// anything but letters and digits become one '_', '.', '(' and ')' vanish, no '_' at either end.
/// "Assigned Tunnel ID" -> "assigned_tunnel_id", "(Tx) Connect Speed" -> "tx_connect_speed",
/// "Q.931 Cause Code" -> "q931_cause_code", "Sub-Address" -> "sub_address".
std::string avp_keyword(std::string_view name);
/// The registry row whose name or keyword is `name` ("Called Number" or "called_number"), or
/// nullptr. O(registry size).
const AvpInfo* avp_info_by_name(std::string_view name);

/// The registry row for a message type, or nullptr for reserved / unknown types. O(1).
const MessageInfo* message_info(std::uint16_t type) noexcept;
inline const MessageInfo* message_info(MessageType t) noexcept {
    return message_info(static_cast<std::uint16_t>(t));
}
/// Every registered message, in type order.
std::span<const MessageInfo> message_registry() noexcept;
/// The registry row whose short or long name is `name` ("OCRQ", "Outgoing-Call-Request"; case and
/// '-' / '_' / ' ' do not matter), or nullptr.
const MessageInfo* message_info_by_name(std::string_view name);

/// Whether `avp` is one of the required or optional AVPs of `message` (RFC 2661 §6.1-§6.14).
bool allows(const MessageInfo& message, std::uint16_t avp) noexcept;

}  // namespace dl::l2tp
