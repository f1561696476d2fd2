// RADIUS attributes: the wire model (RFC 2865 §5), value types, tags (RFC 2868 §3) and the
// built-in registry of the attributes the LNS itself uses (so that it needs no dictionary file).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace dl::radius {

/// Vendor-Id of Juniper Networks (formerly Unisphere) E-series / ERX, IANA enterprise 4874.
inline constexpr std::uint32_t kVendorErx = 4874;

/// Attribute numbers (RFC 2865 §5 and later) the LNS uses. Names follow the RFCs, with '-' -> '_'.
enum class AttributeType : std::uint8_t {
    User_Name = 1,                  // RFC 2865 §5.1
    User_Password = 2,              // RFC 2865 §5.2
    CHAP_Password = 3,              // RFC 2865 §5.3
    NAS_IP_Address = 4,             // RFC 2865 §5.4
    NAS_Port = 5,                   // RFC 2865 §5.5
    Service_Type = 6,               // RFC 2865 §5.6
    Framed_Protocol = 7,            // RFC 2865 §5.7
    Framed_IP_Address = 8,          // RFC 2865 §5.8
    Framed_IP_Netmask = 9,          // RFC 2865 §5.9
    Filter_Id = 11,                 // RFC 2865 §5.11
    Framed_MTU = 12,                // RFC 2865 §5.12
    Reply_Message = 18,             // RFC 2865 §5.18
    Framed_Route = 22,              // RFC 2865 §5.22
    State = 24,                     // RFC 2865 §5.24
    Class = 25,                     // RFC 2865 §5.25
    Vendor_Specific = 26,           // RFC 2865 §5.26
    Session_Timeout = 27,           // RFC 2865 §5.27
    Idle_Timeout = 28,              // RFC 2865 §5.28
    Called_Station_Id = 30,         // RFC 2865 §5.30
    Calling_Station_Id = 31,        // RFC 2865 §5.31
    NAS_Identifier = 32,            // RFC 2865 §5.32
    Proxy_State = 33,               // RFC 2865 §5.33
    Acct_Status_Type = 40,          // RFC 2866 §5.1
    Acct_Delay_Time = 41,           // RFC 2866 §5.2
    Acct_Input_Octets = 42,         // RFC 2866 §5.3
    Acct_Output_Octets = 43,        // RFC 2866 §5.4
    Acct_Session_Id = 44,           // RFC 2866 §5.5
    Acct_Authentic = 45,            // RFC 2866 §5.6
    Acct_Session_Time = 46,         // RFC 2866 §5.7
    Acct_Input_Packets = 47,        // RFC 2866 §5.8
    Acct_Output_Packets = 48,       // RFC 2866 §5.9
    Acct_Terminate_Cause = 49,      // RFC 2866 §5.10
    Event_Timestamp = 55,           // RFC 2869 §5.3
    CHAP_Challenge = 60,            // RFC 2865 §5.40
    NAS_Port_Type = 61,             // RFC 2865 §5.41
    Tunnel_Type = 64,               // RFC 2868 §3.1
    Tunnel_Medium_Type = 65,        // RFC 2868 §3.2
    Tunnel_Client_Endpoint = 66,    // RFC 2868 §3.3
    Tunnel_Server_Endpoint = 67,    // RFC 2868 §3.4
    Acct_Tunnel_Connection = 68,    // RFC 2867 §4.1
    Tunnel_Password = 69,           // RFC 2868 §3.5
    Connect_Info = 77,              // RFC 2869 §5.11
    EAP_Message = 79,               // RFC 3579 §3.1
    Message_Authenticator = 80,     // RFC 3579 §3.2
    Tunnel_Private_Group_Id = 81,   // RFC 2868 §3.6
    Tunnel_Assignment_Id = 82,      // RFC 2868 §3.7
    Tunnel_Preference = 83,         // RFC 2868 §3.8
    Acct_Interim_Interval = 85,     // RFC 2869 §5.16
    Acct_Tunnel_Packets_Lost = 86,  // RFC 2867 §4.2
    NAS_Port_Id = 87,               // RFC 2869 §5.17
    Tunnel_Client_Auth_Id = 90,     // RFC 2868 §3.9
    Tunnel_Server_Auth_Id = 91,     // RFC 2868 §3.10
    Error_Cause = 101,              // RFC 5176 §3.5
};

/// Juniper ERX vendor attributes (vendor 4874), numbers as in FreeRADIUS dictionary.erx.
enum class ErxAttribute : std::uint8_t {
    Virtual_Router_Name = 1,
    Dial_Out_Number = 35,
    PPP_Username = 36,
    PPP_Password = 37,
    PPP_Auth_Protocol = 38,  // 0 None, 1 PAP, 2 CHAP, 3 PAP-CHAP, 4 CHAP-PAP
    Minimum_BPS = 39,
    Maximum_BPS = 40,
    Bearer_Type = 41,        // 0 None, 1 Analog, 2 Digital
    Service_Activate = 65,   // string, has_tag
};

/// Service-Type values used here (RFC 2865 §5.6).
enum class ServiceType : std::uint32_t { Login = 1, Framed = 2, Outbound = 5 };
/// Tunnel-Type L2TP (RFC 2868 §3.1) and Tunnel-Medium-Type IPv4 (RFC 2868 §3.2).
inline constexpr std::uint32_t kTunnelTypeL2tp = 3;
inline constexpr std::uint32_t kTunnelMediumIpv4 = 1;

/// Data types of the FreeRADIUS dictionary format. Unknown type names load as `octets`.
enum class ValueType : std::uint8_t {
    string, octets, ipaddr, ipv4prefix, integer, date, byte, short_, signed_, integer64,
    ipv6addr, ipv6prefix, ifid, ether, abinary, combo_ip, tlv, vsa, extended, long_extended,
    evs, struct_
};

/// Dictionary name of a ValueType ("string", "short", "combo-ip"...).
std::string_view to_string(ValueType t) noexcept;

/// How an attribute's value is laid out: type, RFC 2868 tag, and hiding method
/// (`encrypt`: 0 none, 1 User-Password RFC 2865 §5.2, 2 Tunnel-Password RFC 2868 §3.5, 3 Ascend).
struct AttributeFormat {
    ValueType type = ValueType::octets;
    bool has_tag = false;
    std::uint8_t encrypt = 0;
};

/// One entry of the built-in registry (declarative: add a line to the table in attribute.cpp).
struct AttributeSpec {
    std::string_view name;    ///< dictionary name, e.g. "Tunnel-Type"
    std::uint32_t vendor;     ///< 0 for standard attributes
    std::uint8_t number;      ///< Type (or vendor type)
    AttributeFormat format;
    std::string_view source;  ///< RFC and section
};

/// The built-in registry: standard attributes of RFC 2865/2866/2867/2868/2869/3579/5176 the LNS
/// uses and ERX 1, 35-41, 65. Order: as in the table.
std::span<const AttributeSpec> builtin_attributes() noexcept;
/// Built-in spec for (vendor, number), or nullptr.
const AttributeSpec* builtin_attribute(std::uint32_t vendor, std::uint8_t number) noexcept;
/// Built-in spec by dictionary name (case-insensitive), or nullptr.
const AttributeSpec* builtin_attribute(std::string_view name) noexcept;

/// One attribute as it travels (RFC 2865 §5): Type, and for a Vendor-Specific attribute
/// (Type 26, RFC 2865 §5.26, vendor format 1-octet type / 1-octet length) the Vendor-Id and
/// vendor type of one sub-attribute. `value()` holds the raw value octets exactly as on the wire,
/// i.e. including an RFC 2868 tag octet, a Tunnel-Password salt, or hidden User-Password octets;
/// the typed helpers below decode them.
///
/// A Type-26 attribute whose content is not in the 1/1 vendor format is kept opaque: vendor()==0
/// and value() is the whole Vendor-Specific value (Vendor-Id included), so it re-serialises exactly.
class Attribute {
public:
    static constexpr std::size_t kMaxValue = 253;  ///< 255 - Type - Length (RFC 2865 §5)

    Attribute() = default;
    /// Standard attribute `type` with raw `value` (≤ 253 octets; std::length_error otherwise).
    Attribute(std::uint8_t type, std::span<const std::uint8_t> value);
    /// Vendor sub-attribute (Type 26) with raw `value` (≤ 247 octets for the 1/1 format).
    Attribute(std::uint32_t vendor, std::uint8_t vendor_type, std::span<const std::uint8_t> value);

    std::uint8_t type() const noexcept { return type_; }
    /// Vendor-Id for a decoded VSA sub-attribute, 0 otherwise.
    std::uint32_t vendor() const noexcept { return vendor_; }
    std::uint8_t vendor_type() const noexcept { return vendor_type_; }
    bool is_vsa() const noexcept { return vendor_ != 0; }
    /// True when this is the 2nd+ sub-attribute packed in the same Vendor-Specific attribute as the
    /// previous one (RFC 2865 §5.26 allows several); kept so that parsing and serialising round-trip.
    bool continues_vsa() const noexcept { return continues_vsa_; }
    void continues_vsa(bool v) noexcept { continues_vsa_ = v; }

    std::span<const std::uint8_t> value() const noexcept { return {value_.data(), size_}; }
    /// Replaces the raw value; std::length_error above the format's maximum.
    void value(std::span<const std::uint8_t> v);
    /// Octets this attribute adds to a packet when serialised on its own (2 + value, or 8 + value).
    std::size_t wire_size() const noexcept { return is_vsa() ? 8u + size_ : 2u + size_; }

    // --- typed constructors (tag: 0 = untagged, 1..0x1F = RFC 2868 tag) ------------------------
    /// String/octets value; with a tag (or when the value starts with an octet ≤ 0x1F and
    /// `tagged_format` is set) a tag octet is prepended (RFC 2868 §3.3).
    static Attribute string(std::uint8_t type, std::string_view v, std::uint8_t tag = 0,
                            bool tagged_format = false);
    /// 32-bit integer; with tagged_format the tag replaces the high octet (RFC 2868 §3.1:
    /// value must fit in 24 bits, else std::out_of_range).
    static Attribute integer(std::uint8_t type, std::uint32_t v, std::uint8_t tag = 0,
                             bool tagged_format = false);
    /// IPv4 address in network order.
    static Attribute ipaddr(std::uint8_t type, std::array<std::uint8_t, 4> a);
    static Attribute vendor_string(std::uint32_t vendor, std::uint8_t vtype, std::string_view v,
                                   std::uint8_t tag = 0, bool tagged_format = false);
    static Attribute vendor_integer(std::uint32_t vendor, std::uint8_t vtype, std::uint32_t v,
                                    std::uint8_t tag = 0, bool tagged_format = false);

    // --- typed accessors, given the format (from builtin_attribute() or a Dictionary) ---------
    /// RFC 2868 §3 tag of this attribute under `f` (0 if untagged or f.has_tag is false).
    std::uint8_t tag(const AttributeFormat& f) const noexcept;
    /// Value octets without the tag octet (integers: the 3 value octets; see RFC 2868 §3.1).
    std::span<const std::uint8_t> payload(const AttributeFormat& f) const noexcept;
    /// Value as text (payload octets, not validated as UTF-8).
    std::string as_string(const AttributeFormat& f = {}) const;
    /// Integer value: 4 octets big-endian, or 3 octets after a tag. nullopt when the size is wrong.
    std::optional<std::uint32_t> as_integer(const AttributeFormat& f = {}) const noexcept;
    /// IPv4 address (4 octets), nullopt when the size is wrong.
    std::optional<std::array<std::uint8_t, 4>> as_ipaddr() const noexcept;

    friend bool operator==(const Attribute& a, const Attribute& b) noexcept;

private:
    std::uint8_t type_ = 0;
    std::uint8_t vendor_type_ = 0;
    std::uint8_t size_ = 0;
    bool continues_vsa_ = false;
    std::uint32_t vendor_ = 0;
    std::array<std::uint8_t, kMaxValue> value_{};
};

/// Format of (vendor, number) from the built-in registry; untagged octets when unknown.
AttributeFormat builtin_format(std::uint32_t vendor, std::uint8_t number) noexcept;

}  // namespace dl::radius
