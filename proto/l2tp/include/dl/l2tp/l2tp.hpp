// The L2TPv2 PDU (RFC 2661 §3.1) with its AVPs (§4), hidden AVPs (§4.3) and typed accessors (§4.4),
// as a libtins PDU.
#pragma once

#include <tins/pdu.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dl/l2tp/avp.hpp"
#include "dl/l2tp/types.hpp"

namespace dl::l2tp {

/// Result Code AVP value (RFC 2661 §4.4.2). `result` is a StopCcnResult in a StopCCN and a
/// CdnResult in a CDN; `error` is a GeneralError.
struct ResultCode {
    std::uint16_t result = 0;
    std::optional<std::uint16_t> error;
    std::optional<std::string> message;  ///< only with an error code
    bool operator==(const ResultCode&) const = default;
};

/// Protocol Version AVP value (RFC 2661 §4.4.3): Ver 1, Rev 0 for RFC 2661.
struct ProtocolVersion {
    std::uint8_t version = 1;
    std::uint8_t revision = 0;
    bool operator==(const ProtocolVersion&) const = default;
};

/// Q.931 Cause Code AVP value (RFC 2661 §4.4.4): native ITU encodings + optional ASCII advisory.
struct Q931Cause {
    std::uint16_t cause_code = 0;
    std::uint8_t cause_msg = 0;
    std::string advisory;
    bool operator==(const Q931Cause&) const = default;
};

/// Call Errors AVP value (RFC 2661 §4.4.6): cumulative counters since the call was established.
struct CallErrors {
    std::uint32_t crc_errors = 0;
    std::uint32_t framing_errors = 0;
    std::uint32_t hardware_overruns = 0;
    std::uint32_t buffer_overruns = 0;
    std::uint32_t timeout_errors = 0;
    std::uint32_t alignment_errors = 0;
    bool operator==(const CallErrors&) const = default;
};

/// ACCM AVP value (RFC 2661 §4.4.6).
struct Accm {
    std::uint32_t send_accm = 0xFFFFFFFF;
    std::uint32_t receive_accm = 0xFFFFFFFF;
    bool operator==(const Accm&) const = default;
};

/// Options for hiding AVPs (RFC 2661 §4.3). Defaults are random; fix them for deterministic tests.
struct HideOptions {
    /// Random Vector to insert when no Random Vector AVP precedes a hidden AVP; empty = 16 random octets.
    std::vector<std::uint8_t> random_vector;
    /// Padding octets appended to each Hidden AVP Subformat; nullopt = random 0..15.
    std::optional<std::uint16_t> pad_length;
    /// Value of the padding octets; nullopt = random.
    std::optional<std::uint8_t> pad_byte;
};

/// L2TPv2 message (RFC 2661 §3.1): control message with AVPs, ZLB, or data message whose payload
/// (usually PPP) is the inner PDU, kept as a Tins::RawPDU.
///
/// Header: |T|L|x|x|S|x|O|P|x|x|x|x|Ver(4)|Length(opt)|Tunnel ID|Session ID|Ns(opt)|Nr(opt)|
///         |Offset Size(opt)|Offset pad(opt)…|
///
/// Parsing (constructor from bytes) throws dl::proto::ParseError for: a datagram shorter than the
/// header; Ver ≠ 2 (Ver 1 is L2F, RFC 2341); a control message without L and S or with O or P set;
/// Length smaller than the header or larger than the datagram; an Offset Size running past the
/// end; an AVP with Length < 6 or running past the end of the message. Octets after Length are
/// ignored (counted in trailing_octets()). Reserved header and AVP bits are kept as received, so
/// re-serialising a parsed message is byte-exact. Hidden AVPs are kept encoded until unhide().
class L2TP : public Tins::PDU {
public:
    /// libtins PDU type (USER_DEFINED_PDU + 1).
    static const Tins::PDU::PDUType pdu_flag = static_cast<Tins::PDU::PDUType>(Tins::PDU::USER_DEFINED_PDU + 1);

    static constexpr std::uint8_t kFlagType = 0x80;      ///< T
    static constexpr std::uint8_t kFlagLength = 0x40;    ///< L
    static constexpr std::uint8_t kFlagSequence = 0x08;  ///< S
    static constexpr std::uint8_t kFlagOffset = 0x02;    ///< O
    static constexpr std::uint8_t kFlagPriority = 0x01;  ///< P

    /// A control message (T=1, L=1, S=1, Ver 2) with no AVPs, i.e. a ZLB, to tunnel / session 0.
    L2TP();
    /// A data message (T=0, Ver 2) to `tunnel_id`/`session_id`, no Length/Ns/Nr/Offset.
    static L2TP data_message(std::uint16_t tunnel_id, std::uint16_t session_id);

    /// Parses one UDP payload. Throws dl::proto::ParseError (see class doc).
    L2TP(const std::uint8_t* data, std::uint32_t size);

    L2TP(const L2TP& other);
    L2TP& operator=(const L2TP& other);
    L2TP(L2TP&& other) noexcept;
    L2TP& operator=(L2TP&& other) noexcept;
    ~L2TP() override;

    // ---- header (§3.1) ----
    /// Raw first two octets' flag byte (T L x x S x O P).
    std::uint8_t flags() const noexcept { return flags_; }
    bool is_control() const noexcept { return flags_ & kFlagType; }
    bool is_data() const noexcept { return !is_control(); }
    /// Control message without AVPs: a Zero-Length Body acknowledgement (§5.8).
    bool is_zlb() const noexcept { return is_control() && avps_.empty(); }
    bool has_length() const noexcept { return flags_ & kFlagLength; }
    bool has_sequence() const noexcept { return flags_ & kFlagSequence; }
    bool has_offset() const noexcept { return flags_ & kFlagOffset; }
    bool priority() const noexcept { return flags_ & kFlagPriority; }
    /// Ver field (always 2 after parsing).
    std::uint8_t version() const noexcept { return ver_ & 0x0F; }
    /// Reserved bits as received: high nibble of the second octet, bits 2,3,5 of the first.
    std::uint16_t reserved_bits() const noexcept;
    /// Length field as received (0 if absent or built here); serialisation writes the real size.
    std::uint16_t length_field() const noexcept { return length_; }
    std::uint16_t tunnel_id() const noexcept { return tunnel_id_; }
    std::uint16_t session_id() const noexcept { return session_id_; }
    /// Ns / Nr (meaningful when has_sequence()).
    std::uint16_t ns() const noexcept { return ns_; }
    std::uint16_t nr() const noexcept { return nr_; }
    /// Offset Size (meaningful when has_offset()) and the pad octets that follow it.
    std::uint16_t offset_size() const noexcept { return static_cast<std::uint16_t>(offset_pad_.size()); }
    std::span<const std::uint8_t> offset_pad() const noexcept { return offset_pad_; }
    /// Octets of the datagram after Length (ignored, not re-emitted).
    std::uint32_t trailing_octets() const noexcept { return trailing_; }

    /// Sets T. A control message also gets L and S, and loses O and P (§3.1).
    void set_control(bool control) noexcept;
    void set_length_present(bool on) noexcept;
    void set_sequence_present(bool on) noexcept;
    void set_priority(bool on) noexcept;
    void set_tunnel_id(std::uint16_t v) noexcept { tunnel_id_ = v; }
    void set_session_id(std::uint16_t v) noexcept { session_id_ = v; }
    /// Sets Ns and Nr and the S bit.
    void set_sequence(std::uint16_t ns, std::uint16_t nr) noexcept;
    void set_ns(std::uint16_t v) noexcept { ns_ = v; }
    void set_nr(std::uint16_t v) noexcept { nr_ = v; }
    /// Sets the O bit and the offset pad (Offset Size = pad.size()); nullopt clears O.
    void set_offset(std::optional<std::vector<std::uint8_t>> pad);

    // ---- data payload ----
    /// The data message payload (inner RawPDU's bytes), empty if none.
    std::span<const std::uint8_t> payload() const noexcept;
    /// Replaces the inner PDU with a RawPDU holding `bytes`.
    void set_payload(std::span<const std::uint8_t> bytes);

    // ---- AVPs (§4.1) ----
    std::span<const Avp> avps() const noexcept { return avps_; }
    /// First recognised IETF AVP of `type`, or nullptr.
    const Avp* find(AvpType type) const noexcept;
    /// Appends an AVP as given (any vendor, flags kept). `flags` uses Avp::kMandatory/kHidden/kReserved.
    /// If kHidden is set the value is cleartext to be hidden: encoded at once if set_hiding() was
    /// called, else left pending. Throws std::length_error if value.size() > 1017 (§4.1).
    void add_avp(std::uint16_t vendor_id, std::uint16_t type, std::uint8_t flags, std::span<const std::uint8_t> value);
    /// Replaces the value of the first AVP of `type` (keeping its flags) or appends it with the M
    /// bit the registry prescribes. Message Type is always placed first (§4.4.1).
    void set_avp(AvpType type, std::span<const std::uint8_t> value);
    /// Removes every IETF AVP of `type`. Returns how many were removed.
    std::size_t remove_avp(AvpType type);
    /// Removes every AVP.
    void clear_avps() noexcept;
    /// Sets or clears the H bit of the first AVP of `type` (must exist); hides it at once if a
    /// secret is set. Throws std::invalid_argument if absent or the registry forbids hiding.
    void set_hidden(AvpType type, bool hidden = true);

    // ---- hidden AVPs (§4.3) ----
    /// After parsing, every hidden AVP is HiddenState::undecodable ("no secret given").
    /// Unhides every hidden AVP it can with `secret`, using the closest preceding Random Vector
    /// AVP. Returns the number decoded. AVPs that cannot be decoded become
    /// HiddenState::undecodable with a reason; the message stays usable. Never throws ParseError.
    std::size_t unhide(std::string_view secret);
    /// Stores the tunnel secret used to hide AVPs, and hides every pending AVP now; later
    /// set_hidden()/add_avp(kHidden) hide at once. Inserts a Random Vector AVP before the first
    /// hidden AVP when none precedes it.
    void set_hiding(std::string secret, HideOptions options = {});
    /// Number of AVPs waiting for a secret (serialisation throws std::logic_error while > 0).
    std::size_t pending_hidden() const noexcept;

    // ---- typed accessors (§4.4). Getters: nullopt if absent or hidden-and-undecodable; throw
    // dl::proto::ParseError if the value has the wrong length for its layout. Setters replace. ----
    std::optional<std::uint16_t> message_type() const;
    void set_message_type(MessageType t);
    void set_message_type(std::uint16_t t);
    std::optional<ResultCode> result_code() const;
    void set_result_code(const ResultCode& rc);
    std::optional<ProtocolVersion> protocol_version() const;
    void set_protocol_version(ProtocolVersion v = {});
    std::optional<std::uint32_t> framing_capabilities() const;
    void set_framing_capabilities(std::uint32_t bits);
    std::optional<std::uint32_t> bearer_capabilities() const;
    void set_bearer_capabilities(std::uint32_t bits);
    std::optional<std::uint64_t> tie_breaker() const;
    void set_tie_breaker(std::uint64_t v);
    std::optional<std::uint16_t> firmware_revision() const;
    void set_firmware_revision(std::uint16_t v);
    std::optional<std::string> host_name() const;
    void set_host_name(std::string_view v);
    std::optional<std::string> vendor_name() const;
    void set_vendor_name(std::string_view v);
    std::optional<std::uint16_t> assigned_tunnel_id() const;
    void set_assigned_tunnel_id(std::uint16_t v);
    std::optional<std::uint16_t> receive_window_size() const;
    void set_receive_window_size(std::uint16_t v);
    std::optional<std::vector<std::uint8_t>> challenge() const;
    void set_challenge(std::span<const std::uint8_t> v);
    std::optional<Q931Cause> q931_cause_code() const;
    void set_q931_cause_code(const Q931Cause& v);
    std::optional<std::array<std::uint8_t, 16>> challenge_response() const;
    void set_challenge_response(std::span<const std::uint8_t, 16> v);
    std::optional<std::uint16_t> assigned_session_id() const;
    void set_assigned_session_id(std::uint16_t v);
    std::optional<std::uint32_t> call_serial_number() const;
    void set_call_serial_number(std::uint32_t v);
    std::optional<std::uint32_t> minimum_bps() const;
    void set_minimum_bps(std::uint32_t v);
    std::optional<std::uint32_t> maximum_bps() const;
    void set_maximum_bps(std::uint32_t v);
    std::optional<std::uint32_t> bearer_type() const;
    void set_bearer_type(std::uint32_t bits);
    std::optional<std::uint32_t> framing_type() const;
    void set_framing_type(std::uint32_t bits);
    std::optional<std::string> called_number() const;
    void set_called_number(std::string_view v);
    std::optional<std::string> calling_number() const;
    void set_calling_number(std::string_view v);
    std::optional<std::string> sub_address() const;
    void set_sub_address(std::string_view v);
    std::optional<std::uint32_t> tx_connect_speed() const;
    void set_tx_connect_speed(std::uint32_t bps);
    std::optional<std::uint32_t> physical_channel_id() const;
    void set_physical_channel_id(std::uint32_t v);
    std::optional<std::vector<std::uint8_t>> initial_received_lcp_confreq() const;
    void set_initial_received_lcp_confreq(std::span<const std::uint8_t> v);
    std::optional<std::vector<std::uint8_t>> last_sent_lcp_confreq() const;
    void set_last_sent_lcp_confreq(std::span<const std::uint8_t> v);
    std::optional<std::vector<std::uint8_t>> last_received_lcp_confreq() const;
    void set_last_received_lcp_confreq(std::span<const std::uint8_t> v);
    std::optional<std::uint16_t> proxy_authen_type() const;
    void set_proxy_authen_type(ProxyAuthenType v);
    std::optional<std::string> proxy_authen_name() const;
    void set_proxy_authen_name(std::string_view v);
    std::optional<std::vector<std::uint8_t>> proxy_authen_challenge() const;
    void set_proxy_authen_challenge(std::span<const std::uint8_t> v);
    /// The ID octet (the reserved high octet must be 0, §4.4.5).
    std::optional<std::uint8_t> proxy_authen_id() const;
    void set_proxy_authen_id(std::uint8_t id);
    std::optional<std::vector<std::uint8_t>> proxy_authen_response() const;
    void set_proxy_authen_response(std::span<const std::uint8_t> v);
    std::optional<CallErrors> call_errors() const;
    void set_call_errors(const CallErrors& v);
    std::optional<Accm> accm() const;
    void set_accm(const Accm& v);
    /// The last Random Vector AVP's value (hidden AVPs use the closest preceding one, §4.3).
    std::optional<std::vector<std::uint8_t>> random_vector() const;
    /// Replaces the first Random Vector or inserts one before the first hidden AVP (else appends).
    void set_random_vector(std::span<const std::uint8_t> v);
    std::optional<std::vector<std::uint8_t>> private_group_id() const;
    void set_private_group_id(std::span<const std::uint8_t> v);
    std::optional<std::uint32_t> rx_connect_speed() const;
    void set_rx_connect_speed(std::uint32_t bps);
    bool sequencing_required() const noexcept;
    void set_sequencing_required(bool on);

    // ---- Tins::PDU ----
    /// Header octets; for a control message this includes every AVP (it has no inner PDU).
    std::uint32_t header_size() const override;
    PDUType pdu_type() const override { return pdu_flag; }
    L2TP* clone() const override { return new L2TP(*this); }
    /// Serialises into a fresh buffer (same as Tins::PDU::serialize()).
    std::vector<std::uint8_t> bytes() { return serialize(); }

private:
    void write_serialization(std::uint8_t* buffer, std::uint32_t total_sz) override;
    std::uint32_t fixed_header_size() const noexcept;
    std::uint32_t append_arena(std::span<const std::uint8_t> bytes);
    void rebase() noexcept;
    Avp make_avp(std::uint16_t vendor, std::uint16_t type, std::uint8_t flags, std::span<const std::uint8_t> value);
    void hide_avp(std::size_t index);
    std::size_t insert_random_vector_before(std::size_t index, std::span<const std::uint8_t> rv);
    void parse_avps(const std::uint8_t* data, std::uint32_t size, std::uint32_t base_offset);

    std::uint8_t flags_ = kFlagType | kFlagLength | kFlagSequence;
    std::uint8_t ver_ = 2;  // second octet: reserved high nibble, Ver low nibble
    std::uint16_t length_ = 0;
    std::uint16_t tunnel_id_ = 0;
    std::uint16_t session_id_ = 0;
    std::uint16_t ns_ = 0;
    std::uint16_t nr_ = 0;
    std::uint32_t trailing_ = 0;
    std::vector<std::uint8_t> offset_pad_;
    std::vector<std::uint8_t> arena_;  // AVP values (cleartext and wire forms)
    std::vector<Avp> avps_;
    std::string secret_;
    bool hiding_set_ = false;
    HideOptions hide_options_;
};

}  // namespace dl::l2tp
