// RADIUS packet (RFC 2865 §3) as a libtins PDU.
#pragma once

#include "dl/radius/attribute.hpp"

#include <tins/pdu.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dl::radius {

class Dictionary;
struct AttributeDef;

/// RADIUS Code (RFC 2865 §3, RFC 2866 §3, RFC 5176 §2.3). Other values are rejected on parse.
enum class Code : std::uint8_t {
    Access_Request = 1,
    Access_Accept = 2,
    Access_Reject = 3,
    Accounting_Request = 4,
    Accounting_Response = 5,
    Access_Challenge = 11,
    Status_Server = 12,
    Status_Client = 13,
    Disconnect_Request = 40,
    Disconnect_ACK = 41,
    Disconnect_NAK = 42,
    CoA_Request = 43,
    CoA_ACK = 44,
    CoA_NAK = 45,
};

/// RFC name of a Code ("Access-Request", "CoA-ACK"...); "Unknown" otherwise.
std::string_view to_string(Code c) noexcept;
/// True for the codes listed in `Code`.
bool is_known_code(std::uint8_t c) noexcept;
/// True for the codes that answer a request (2, 3, 5, 11, 41, 42, 44, 45).
bool is_response(Code c) noexcept;

/// 16-octet Request/Response Authenticator (RFC 2865 §3).
using Authenticator = std::array<std::uint8_t, 16>;

/// A RADIUS packet: Code, Identifier, Length, Authenticator, Attributes (RFC 2865 §3).
///
/// Parsing (`Radius(data, size)`) throws dl::proto::ParseError (Protocol::radius) when:
/// the buffer is shorter than 20 octets; Length is outside 20..4096 or exceeds the buffer
/// (octets beyond Length are padding and ignored, RFC 2865 §3); the Code is unknown; an attribute
/// has Length < 2 or overruns the packet (RFC 2865 §5); a Vendor-Specific attribute is shorter
/// than 7 octets (RFC 2865 §5.26). Vendor-Specific attributes in the 1-octet type / 1-octet
/// length vendor format are split into sub-attributes; any other layout is kept opaque.
/// `serialize()` (from Tins::PDU) reproduces the parsed bytes exactly (up to Length).
///
/// The Authenticator is stored as given; use auth.hpp (sign/verify) to compute it.
class Radius : public Tins::PDU {
public:
    static const PDU::PDUType pdu_flag = static_cast<PDU::PDUType>(PDU::USER_DEFINED_PDU + 30);
    static constexpr std::size_t kHeaderSize = 20;
    static constexpr std::size_t kMaxLength = 4096;  ///< RFC 2865 §3

    explicit Radius(Code code = Code::Access_Request, std::uint8_t identifier = 0);
    /// Parses `size` octets at `data`; see the class comment for the errors.
    Radius(const std::uint8_t* data, std::uint32_t size);

    // --- header ---------------------------------------------------------------------------
    Code code() const noexcept { return code_; }
    void code(Code c) noexcept { code_ = c; }
    std::uint8_t identifier() const noexcept { return identifier_; }
    void identifier(std::uint8_t id) noexcept { identifier_ = id; }
    /// Length field value this packet serialises with (20 + attributes).
    std::uint16_t length() const noexcept { return static_cast<std::uint16_t>(header_size()); }
    const Authenticator& authenticator() const noexcept { return authenticator_; }
    void authenticator(const Authenticator& a) noexcept { authenticator_ = a; }

    // --- attributes (in wire order) --------------------------------------------------------
    const std::vector<Attribute>& attributes() const noexcept { return attributes_; }
    std::vector<Attribute>& attributes() noexcept { return attributes_; }
    /// Appends `a`; returns a reference to the stored copy.
    Attribute& add(const Attribute& a);
    /// Removes every attribute `type` (standard attributes only); returns how many.
    std::size_t remove(std::uint8_t type);
    std::size_t remove(AttributeType type) { return remove(static_cast<std::uint8_t>(type)); }

    /// First standard attribute `type` (and tag, if given: RFC 2868 §3, format from the built-in
    /// registry), or nullptr.
    const Attribute* find(AttributeType type, std::optional<std::uint8_t> tag = {}) const noexcept;
    const Attribute* find(std::uint8_t type, std::optional<std::uint8_t> tag = {}) const noexcept;
    /// First vendor sub-attribute (vendor, vendor_type) (and tag), or nullptr.
    const Attribute* find_vendor(std::uint32_t vendor, std::uint8_t vendor_type,
                                 std::optional<std::uint8_t> tag = {}) const noexcept;
    /// Every standard attribute `type`, in order.
    std::vector<const Attribute*> find_all(std::uint8_t type) const;

    // --- typed access by number (formats from the built-in registry; no dictionary) ----------
    std::optional<std::string> get_string(AttributeType t, std::optional<std::uint8_t> tag = {}) const;
    std::optional<std::uint32_t> get_integer(AttributeType t, std::optional<std::uint8_t> tag = {}) const;
    std::optional<std::array<std::uint8_t, 4>> get_ipaddr(AttributeType t) const;
    std::optional<std::vector<std::uint8_t>> get_octets(AttributeType t) const;
    std::optional<std::string> get_string(ErxAttribute t) const;
    std::optional<std::uint32_t> get_integer(ErxAttribute t) const;

    /// Appends a string attribute; tags are written only for tagged attributes (RFC 2868 §3).
    Attribute& add_string(AttributeType t, std::string_view v, std::uint8_t tag = 0);
    Attribute& add_integer(AttributeType t, std::uint32_t v, std::uint8_t tag = 0);
    Attribute& add_ipaddr(AttributeType t, std::array<std::uint8_t, 4> a);
    Attribute& add_octets(AttributeType t, std::span<const std::uint8_t> v);
    Attribute& add_string(ErxAttribute t, std::string_view v);
    Attribute& add_integer(ErxAttribute t, std::uint32_t v);

    // --- typed access by dictionary name (e.g. "ERX-Dial-Out-Number", "Tunnel-Type") ---------
    // Unknown names throw std::out_of_range. Values of the wrong size give nullopt.
    std::optional<std::string> get_string(const Dictionary& d, std::string_view name,
                                          std::optional<std::uint8_t> tag = {}) const;
    std::optional<std::uint32_t> get_integer(const Dictionary& d, std::string_view name,
                                             std::optional<std::uint8_t> tag = {}) const;
    std::optional<std::array<std::uint8_t, 4>> get_ipaddr(const Dictionary& d,
                                                           std::string_view name,
                                                           std::optional<std::uint8_t> tag = {}) const;
    /// First attribute named `name` (and tag) via the dictionary, or nullptr.
    const Attribute* find(const Dictionary& d, std::string_view name,
                          std::optional<std::uint8_t> tag = {}) const;
    /// Appends an attribute by dictionary name; `value` is text, as in FreeRADIUS:
    /// integers in decimal/hex or a VALUE name, ipaddr dotted quad, octets as 0x-hex, strings as is.
    /// Throws std::out_of_range (unknown name) or std::invalid_argument (bad value text).
    Attribute& add(const Dictionary& d, std::string_view name, std::string_view value,
                   std::uint8_t tag = 0);

    /// Writes the wire form into `buffer` (≥ header_size() octets; std::length_error otherwise);
    /// the same bytes as serialize(). dl::proto::ValidationError when the packet exceeds 4096.
    void serialize_to(std::uint8_t* buffer, std::size_t size) const;

    // --- Tins::PDU ---------------------------------------------------------------------------
    std::uint32_t header_size() const override;
    Radius* clone() const override { return new Radius(*this); }
    PDUType pdu_type() const override { return pdu_flag; }

private:
    void write_serialization(std::uint8_t* buffer, std::uint32_t total_sz) override;
    const Attribute* find_by(std::uint32_t vendor, std::uint8_t number, const AttributeFormat& f,
                             std::optional<std::uint8_t> tag) const noexcept;

    Code code_;
    std::uint8_t identifier_;
    Authenticator authenticator_{};
    std::vector<Attribute> attributes_;
};

/// Writes the packet in wire form to `out` (cleared first); same bytes as serialize() without
/// allocating when `out` has capacity. Throws dl::proto::ValidationError if it exceeds 4096 octets.
void serialize_into(const Radius& pkt, std::vector<std::uint8_t>& out);

}  // namespace dl::radius
