// PPP control protocols sharing the LCP packet format (RFC 1661 §5): LCP (RFC 1661, 1570) and
// IPCP (RFC 1332, 1877). One implementation, two declarative tables (codes and options).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include <tins/pdu.h>

namespace dl::ppp {

/// Which control protocol a table or packet belongs to.
enum class ControlProtocol : std::uint8_t { lcp, ipcp };

/// Packet codes (RFC 1661 §5; 12/13 RFC 1570 §1, LCP only; 8–11 LCP only).
enum class CpCode : std::uint8_t {
    configure_request = 1,
    configure_ack = 2,
    configure_nak = 3,
    configure_reject = 4,
    terminate_request = 5,
    terminate_ack = 6,
    code_reject = 7,
    protocol_reject = 8,
    echo_request = 9,
    echo_reply = 10,
    discard_request = 11,
    identification = 12,
    time_remaining = 13,
};

/// How the Data field of a code is laid out.
enum class CpData : std::uint8_t {
    options,          ///< Configuration Options (codes 1–4)
    opaque,           ///< uninterpreted data (Terminate-Request/Ack, RFC 1661 §5.5)
    rejected_packet,  ///< Code-Reject: copy of the rejected packet (§5.6)
    protocol_reject,  ///< Rejected-Protocol (2) + Rejected-Information (§5.7)
    magic_data,       ///< Magic-Number (4) + data/message (§5.8, §5.9, RFC 1570 §1.1)
    time_remaining,   ///< Magic-Number (4) + Seconds-Remaining (4) + Message (RFC 1570 §1.2)
};

/// One row of a code table.
struct CodeSpec {
    std::uint8_t code;
    std::string_view name;    ///< RFC term, e.g. "Configure-Request"
    CpData data;
    std::size_t min_data;     ///< minimum Data octets
    std::string_view source;  ///< RFC and section
};

/// How an option's value is typed.
enum class OptValue : std::uint8_t {
    none,           ///< boolean option, no value (PFC, ACFC)
    u8, u16, u32,   ///< big-endian integer of that width
    ipv4,           ///< 4-octet IPv4 address
    ipv4_pair,      ///< two IPv4 addresses (IPCP IP-Addresses)
    protocol_data,  ///< 2-octet protocol + data (Authentication-/Quality-/IP-Compression-Protocol)
    bytes,          ///< uninterpreted
};

/// One row of an option table: Type, name, total Length rule (Type+Length+value), RFC section.
struct OptionSpec {
    std::uint8_t type;
    std::string_view name;
    std::uint8_t min_len;
    std::uint8_t max_len;
    OptValue value;
    std::string_view source;
};

/// The declarative tables. Adding a code or option is one row in src/control.cpp.
std::span<const CodeSpec> code_table(ControlProtocol p) noexcept;
std::span<const OptionSpec> option_table(ControlProtocol p) noexcept;
const CodeSpec* find_code(ControlProtocol p, std::uint8_t code) noexcept;
const OptionSpec* find_option_spec(ControlProtocol p, std::uint8_t type) noexcept;

/// LCP option types (RFC 1661 §6, RFC 1570 §2).
namespace lcp_opt {
inline constexpr std::uint8_t mru = 1, accm = 2, auth_protocol = 3, quality_protocol = 4,
                              magic_number = 5, pfc = 7, acfc = 8, fcs_alternatives = 9,
                              self_describing_padding = 10, callback = 13;
}
/// IPCP option types (RFC 1332 §3, RFC 1877 §1).
namespace ipcp_opt {
inline constexpr std::uint8_t ip_addresses = 1, ip_compression_protocol = 2, ip_address = 3,
                              primary_nbns = 128, primary_dns = 129, secondary_nbns = 130,
                              secondary_dns = 131;
}
/// CHAP Algorithm octet for MD5 in the Authentication-Protocol option (RFC 1994 §3).
inline constexpr std::uint8_t kChapMd5 = 5;

/// One Configuration Option: Type and the value octets (Type and Length octets excluded).
struct CpOption {
    std::uint8_t type = 0;
    std::vector<std::uint8_t> value;
    bool operator==(const CpOption&) const = default;
};

/// Authentication-Protocol option value (RFC 1661 §6.2): protocol + data (CHAP: algorithm).
struct AuthProtocol {
    std::uint16_t protocol = 0;
    std::vector<std::uint8_t> data;
    bool operator==(const AuthProtocol&) const = default;
};

/// A control protocol packet (RFC 1661 §5): Code, Identifier, Length, Data. Base of LCP and IPCP.
///
/// Parsing (constructor of LCP/IPCP) throws dl::proto::ParseError (Protocol::ppp) when: fewer than
/// 4 octets; Length < 4 or beyond the buffer (§5: octets past Length are padding and ignored);
/// Data shorter than the code requires; an option with Length < 2, overrunning the packet, or
/// breaking its row's length rule (field "option[i] <Name>", reason, RFC section). Unknown codes
/// keep their Data raw (for Code-Reject, §5.6); unknown option types are kept.
class ControlPacket : public Tins::PDU {
public:
    ControlProtocol control_protocol() const noexcept { return proto_; }
    std::uint8_t code() const noexcept { return code_; }
    void code(std::uint8_t c) noexcept { code_ = c; }
    std::uint8_t identifier() const noexcept { return identifier_; }
    void identifier(std::uint8_t id) noexcept { identifier_ = id; }
    /// The Length field as it will be serialised (4 + Data).
    std::uint16_t length() const noexcept { return static_cast<std::uint16_t>(header_size()); }
    /// RFC name of the code, or "Unknown".
    std::string_view code_name() const noexcept;
    /// True if the code is in this protocol's table (else it warrants a Code-Reject).
    bool known_code() const noexcept;
    /// True if the Data field holds Configuration Options (codes 1–4).
    bool has_options() const noexcept;

    /// Options (Configure-Request/Ack/Nak/Reject), in wire order.
    const std::vector<CpOption>& options() const noexcept { return options_; }
    std::vector<CpOption>& options() noexcept { return options_; }
    /// First option of `type`, or nullptr.
    const CpOption* find_option(std::uint8_t type) const noexcept;
    /// Appends an option (no validation until serialisation; values > 253 octets throw
    /// std::length_error at add time).
    void add_option(std::uint8_t type, std::span<const std::uint8_t> value = {});
    /// Replaces the first option of `type` in place, or appends it.
    void set_option(std::uint8_t type, std::span<const std::uint8_t> value = {});
    /// Removes every option of `type`; returns how many were removed.
    std::size_t remove_option(std::uint8_t type);

    /// The raw Data field for non-option codes (Terminate data, Code-Reject rejected packet,
    /// Echo magic+data…). Typed accessors below read/write into it.
    const std::vector<std::uint8_t>& data() const noexcept { return data_; }
    void data(std::vector<std::uint8_t> d) { data_ = std::move(d); }

    std::uint32_t header_size() const override;

protected:
    ControlPacket(ControlProtocol p, std::uint8_t code, std::uint8_t identifier);
    ControlPacket(ControlProtocol p, const std::uint8_t* data, std::uint32_t size);

    std::optional<std::uint32_t> u32_option(std::uint8_t type) const;
    void u32_option(std::uint8_t type, std::uint32_t v, int width);

private:
    void write_serialization(std::uint8_t* buffer, std::uint32_t total_sz) override;

    ControlProtocol proto_;
    std::uint8_t code_ = 0;
    std::uint8_t identifier_ = 0;
    std::vector<CpOption> options_;
    std::vector<std::uint8_t> data_;
};

/// Appends to `out` the wire form of a control protocol packet (RFC 1661 §5: Code, Identifier,
/// Length, Data) without building an LCP / IPCP object: Data is `options` for the codes that carry
/// Configuration Options (1–4, RFC 1661 §5.1–§5.4), else `data` — the same octets as an LCP / IPCP
/// with that code, identifier and options / data serialises to. Reserves nothing beyond the
/// packet; `out` keeps what it held before. Throws std::length_error when Length would exceed
/// 65535 octets.
void serialize_control(ControlProtocol p, std::uint8_t code, std::uint8_t identifier,
                       std::span<const CpOption> options, std::span<const std::uint8_t> data,
                       std::vector<std::uint8_t>& out);

/// Link Control Protocol packet (RFC 1661 §5, RFC 1570 §1). Protocol 0xc021.
class LCP : public ControlPacket {
public:
    static const PDU::PDUType pdu_flag = static_cast<PDU::PDUType>(PDU::USER_DEFINED_PDU + 11);

    explicit LCP(CpCode code = CpCode::configure_request, std::uint8_t identifier = 0);
    /// Parses an LCP packet; see ControlPacket for the errors thrown.
    LCP(const std::uint8_t* data, std::uint32_t size);

    // --- Configuration Options (codes 1–4); getters return nullopt when absent. ---
    std::optional<std::uint16_t> mru() const;          ///< Maximum-Receive-Unit (§6.1), octets
    void mru(std::uint16_t v);
    std::optional<std::uint32_t> accm() const;         ///< ACCM bitmap (RFC 1662 §7.1)
    void accm(std::uint32_t v);
    std::optional<AuthProtocol> auth_protocol() const; ///< Authentication-Protocol (§6.2)
    void auth_protocol(std::uint16_t protocol, std::span<const std::uint8_t> data = {});
    /// Authentication-Protocol CHAP with MD5 (RFC 1994 §3): c2 23 05.
    void auth_chap_md5();
    std::optional<AuthProtocol> quality_protocol() const;  ///< Quality-Protocol (§6.3)
    bool pfc() const { return find_option(lcp_opt::pfc) != nullptr; }    ///< §6.5
    void pfc(bool on);
    bool acfc() const { return find_option(lcp_opt::acfc) != nullptr; }  ///< §6.6
    void acfc(bool on);

    /// Magic-Number: the option (§6.4) for codes 1–4, the Magic-Number field for codes 9–13
    /// (§5.8, §5.9, RFC 1570 §1). nullopt if absent or for other codes.
    std::optional<std::uint32_t> magic_number() const;
    /// Sets the option (codes 1–4) or the field (codes 9–13; Data is created if needed).
    void magic_number(std::uint32_t v);

    // --- Echo-Request/Reply, Discard-Request, Identification (data after the magic). ---
    /// Data/Message after the Magic-Number (codes 9–12), after Seconds-Remaining (13).
    std::span<const std::uint8_t> echo_data() const noexcept;
    void echo_data(std::span<const std::uint8_t> d);
    /// Time-Remaining Seconds-Remaining (RFC 1570 §1.2), nullopt for other codes.
    std::optional<std::uint32_t> seconds_remaining() const;
    void seconds_remaining(std::uint32_t s);

    // --- Protocol-Reject (§5.7), Code-Reject (§5.6), Terminate (§5.5). ---
    std::optional<std::uint16_t> rejected_protocol() const;
    std::span<const std::uint8_t> rejected_information() const noexcept;
    void protocol_reject(std::uint16_t protocol, std::span<const std::uint8_t> information);
    /// Code-Reject: the rejected packet (= data()).
    std::span<const std::uint8_t> rejected_packet() const noexcept { return data(); }

    PDU::PDUType pdu_type() const override { return pdu_flag; }
    LCP* clone() const override { return new LCP(*this); }
};

/// IP Control Protocol packet (RFC 1332, RFC 1877). Protocol 0x8021. Codes 1–7.
class IPCP : public ControlPacket {
public:
    static const PDU::PDUType pdu_flag = static_cast<PDU::PDUType>(PDU::USER_DEFINED_PDU + 12);

    explicit IPCP(CpCode code = CpCode::configure_request, std::uint8_t identifier = 0);
    /// Parses an IPCP packet; see ControlPacket for the errors thrown.
    IPCP(const std::uint8_t* data, std::uint32_t size);

    /// IPv4 option values are host-order integers (0x0a000001 = 10.0.0.1); nullopt if absent.
    std::optional<std::uint32_t> ip_address() const;     ///< IP-Address (RFC 1332 §3.3)
    void ip_address(std::uint32_t a);
    std::optional<std::uint32_t> primary_dns() const;    ///< RFC 1877 §1.1
    void primary_dns(std::uint32_t a);
    std::optional<std::uint32_t> secondary_dns() const;  ///< RFC 1877 §1.3
    void secondary_dns(std::uint32_t a);
    std::optional<std::uint32_t> primary_nbns() const;   ///< RFC 1877 §1.2
    void primary_nbns(std::uint32_t a);
    std::optional<std::uint32_t> secondary_nbns() const; ///< RFC 1877 §1.4
    void secondary_nbns(std::uint32_t a);
    /// IP-Compression-Protocol (RFC 1332 §3.2): protocol (0x002d Van Jacobson) + data.
    std::optional<AuthProtocol> ip_compression_protocol() const;
    /// Deprecated IP-Addresses (RFC 1332 §3.1): {source, destination}.
    std::optional<std::pair<std::uint32_t, std::uint32_t>> ip_addresses() const;
    /// Code-Reject / Terminate data (= data()).
    std::span<const std::uint8_t> rejected_packet() const noexcept { return data(); }

    PDU::PDUType pdu_type() const override { return pdu_flag; }
    IPCP* clone() const override { return new IPCP(*this); }
};

}  // namespace dl::ppp
