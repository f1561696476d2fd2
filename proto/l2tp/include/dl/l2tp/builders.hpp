// Control message builders derived from the registry (registry.hpp), in the spirit of Scapy's field
// registries: build() takes a message type and named AVP values and checks them against the
// message's row (RFC 2661 §6.1-§6.14) and each AVP's row (§4.4), so adding a message or an AVP is
// one registry row. The make_xxx templates (like osmo-ttcn3's ts_…) are typed C++ shorthands over
// build() with defaults for the AVPs §6.x requires; optional AVPs are emitted when set.
// AVP order: Message Type first (§4.4.1), then the registry row's required and optional AVPs.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "dl/l2tp/l2tp.hpp"
#include "dl/proto/errors.hpp"

namespace dl::l2tp {

/// Header fields of a control message (RFC 2661 §3.1): IDs are the recipient's.
struct ControlHeader {
    std::uint16_t tunnel_id = 0;
    std::uint16_t session_id = 0;
    std::uint16_t ns = 0;
    std::uint16_t nr = 0;
};

/// The value of one AVP given to build(), by the AVP's ValueKind (registry.hpp, RFC 2661 §4.4):
///  - empty (Sequencing Required): bool, true = present, false = left out;
///  - u16, u32, u64, bitmask32: std::uint64_t, range-checked against the width;
///  - proxy_authen_id: std::uint64_t, the ID octet (0..255);
///  - string: std::string; octets: std::vector<std::uint8_t> (exact length when the registry fixes it);
///  - result_code, protocol_version, q931_cause, call_errors, accm: the struct of l2tp.hpp.
using AvpValue = std::variant<bool, std::uint64_t, std::string, std::vector<std::uint8_t>, ResultCode,
                              ProtocolVersion, Q931Cause, CallErrors, Accm>;

/// One named AVP value for build(): the AVP by type, or by registry name / keyword ("Called Number",
/// "called_number", see avp_keyword()).
struct AvpArg {
    std::variant<AvpType, std::string> avp;
    AvpValue value;
};

/// Raised by build() for arguments the registry refuses: a message type that is not in it (RFC 2661
/// §3.2), an unknown AVP name (§4.4), an AVP the message does not carry or given twice, a value of
/// the wrong kind, out of range or of the wrong length (§4.4), a required AVP missing (§6.x).
/// message() names the message ("OCRQ"), item() the AVP ("Called Number", or the name as given
/// when unknown), source() the RFC section.
class BuildError : public dl::proto::ValidationError {
public:
    using dl::proto::ValidationError::ValidationError;
};

/// Control message `type` with `header` and the AVPs `avps` (any order, each at most once), checked
/// against the registry: Message Type first, then the row's required AVPs, then its optional ones,
/// each with the registry's M bit and H clear. Throws BuildError (see there). Hide AVPs afterwards
/// with L2TP::set_hidden / set_hiding (§4.3).
L2TP build(MessageType type, const ControlHeader& header, std::span<const AvpArg> avps);
L2TP build(MessageType type, const ControlHeader& header, std::initializer_list<AvpArg> avps);

/// SCCRQ (§6.1) / SCCRP (§6.2).
struct SccrqParams {
    ControlHeader header;
    std::uint16_t assigned_tunnel_id = 1;
    std::string host_name = "lns";
    std::uint32_t framing_capabilities = kFramingSync | kFramingAsync;
    ProtocolVersion protocol_version{};
    std::optional<std::uint32_t> bearer_capabilities;
    std::optional<std::uint16_t> receive_window_size;
    std::optional<std::vector<std::uint8_t>> challenge;
    std::optional<std::uint64_t> tie_breaker;           ///< SCCRQ only
    std::optional<std::uint16_t> firmware_revision;
    std::optional<std::string> vendor_name;
    std::optional<std::array<std::uint8_t, 16>> challenge_response;  ///< SCCRP only
};
using SccrpParams = SccrqParams;

/// SCCCN (§6.3).
struct ScccnParams {
    ControlHeader header;
    std::optional<std::array<std::uint8_t, 16>> challenge_response;
};

/// StopCCN (§6.4).
struct StopccnParams {
    ControlHeader header;
    std::uint16_t assigned_tunnel_id = 1;
    StopCcnResult result = StopCcnResult::GeneralRequestToClear;
    std::optional<GeneralError> error;
    std::optional<std::string> error_message;
};

/// OCRQ (§6.9).
struct OcrqParams {
    ControlHeader header;
    std::string called_number;
    std::optional<std::string> sub_address;
    std::uint32_t min_bps = 0;
    std::uint32_t max_bps = 0;
    std::uint32_t bearer_type = kBearerDigital;
    std::uint32_t framing_type = kFramingSync;
    std::uint16_t assigned_session_id = 1;
    std::uint32_t call_serial_number = 0;
};

/// OCRP (§6.10) / ICRP (§6.7: physical_channel_id unused).
struct OcrpParams {
    ControlHeader header;
    std::uint16_t assigned_session_id = 1;
    std::optional<std::uint32_t> physical_channel_id;
};
using IcrpParams = OcrpParams;

/// OCCN (§6.11) / ICCN (§6.8, with the proxy LCP / authentication fields).
struct OccnParams {
    ControlHeader header;
    std::uint32_t tx_connect_speed = 64000;
    std::uint32_t framing_type = kFramingSync;
    std::optional<std::uint32_t> rx_connect_speed;
    bool sequencing_required = false;
};
struct IccnParams {
    ControlHeader header;
    std::uint32_t tx_connect_speed = 64000;
    std::uint32_t framing_type = kFramingSync;
    std::optional<std::vector<std::uint8_t>> initial_received_lcp_confreq;
    std::optional<std::vector<std::uint8_t>> last_sent_lcp_confreq;
    std::optional<std::vector<std::uint8_t>> last_received_lcp_confreq;
    std::optional<ProxyAuthenType> proxy_authen_type;
    std::optional<std::string> proxy_authen_name;
    std::optional<std::vector<std::uint8_t>> proxy_authen_challenge;
    std::optional<std::uint8_t> proxy_authen_id;
    std::optional<std::vector<std::uint8_t>> proxy_authen_response;
    std::optional<std::vector<std::uint8_t>> private_group_id;
    std::optional<std::uint32_t> rx_connect_speed;
    bool sequencing_required = false;
};

/// ICRQ (§6.6).
struct IcrqParams {
    ControlHeader header;
    std::uint16_t assigned_session_id = 1;
    std::uint32_t call_serial_number = 0;
    std::optional<std::uint32_t> bearer_type;
    std::optional<std::uint32_t> physical_channel_id;
    std::optional<std::string> calling_number;
    std::optional<std::string> called_number;
    std::optional<std::string> sub_address;
};

/// CDN (§6.12).
struct CdnParams {
    ControlHeader header;
    CdnResult result = CdnResult::Administrative;
    std::optional<GeneralError> error;
    std::optional<std::string> error_message;
    std::uint16_t assigned_session_id = 1;
    std::optional<Q931Cause> q931_cause;
};

/// Empty control message of `type` (Message Type AVP only) with `header`.
L2TP make_control(MessageType type, const ControlHeader& header);
L2TP make_sccrq(const SccrqParams& p);
L2TP make_sccrp(const SccrpParams& p);
L2TP make_scccn(const ScccnParams& p);
L2TP make_stopccn(const StopccnParams& p);
/// HELLO (§6.5): Session ID is forced to 0.
L2TP make_hello(const ControlHeader& header);
L2TP make_ocrq(const OcrqParams& p);
L2TP make_ocrp(const OcrpParams& p);
L2TP make_occn(const OccnParams& p);
L2TP make_icrq(const IcrqParams& p);
L2TP make_icrp(const IcrpParams& p);
L2TP make_iccn(const IccnParams& p);
L2TP make_cdn(const CdnParams& p);
/// WEN (§6.13).
L2TP make_wen(const ControlHeader& header, const CallErrors& errors);
/// SLI (§6.14).
L2TP make_sli(const ControlHeader& header, const Accm& accm);
/// ZLB acknowledgement (§5.8): control header only.
L2TP make_zlb(std::uint16_t tunnel_id, std::uint16_t session_id, std::uint16_t ns, std::uint16_t nr);

/// Data message options (§3.1, §5.4).
struct DataOptions {
    std::optional<std::pair<std::uint16_t, std::uint16_t>> ns_nr;  ///< sets S
    bool length = false;                                          ///< sets L
    std::optional<std::vector<std::uint8_t>> offset_pad;          ///< sets O
    bool priority = false;                                        ///< sets P
};
/// Data message carrying `payload` (a PPP frame without HDLC framing) as a RawPDU.
L2TP make_data(std::uint16_t tunnel_id, std::uint16_t session_id, std::span<const std::uint8_t> payload,
               const DataOptions& options = {});
/// Data message with Ns/Nr (S=1).
L2TP make_data(std::uint16_t tunnel_id, std::uint16_t session_id, std::span<const std::uint8_t> payload,
               std::optional<std::uint16_t> ns, std::optional<std::uint16_t> nr);

}  // namespace dl::l2tp
