// Signalling between isdn-emu and its subscribers (lac-emu, cpe-emu): one message per
// SOCK_SEQPACKET datagram, modelled on ITU-T Q.931 (§4 message format, §4.5 information elements)
// but not its exact wire layout: the emulated exchange needs the call-control semantics (SETUP /
// ALERTING / CONNECT / RELEASE with a Q.850 cause) and B-channel bytes, not the D-channel framing.
//
// Datagram layout (all integers big-endian):
//   octet 0      message type (Q.931 Table 4-2 values; 0xF0.. private: REGISTER, REGISTERED, DATA)
//   octets 1-2   call reference (Q.931 §4.3; bit 15 = "flag": set on calls the exchange delivered)
//   then, for DATA: the B-channel bytes (rest of the datagram);
//   otherwise:    information elements, each {id (1 octet), length (1 octet), value}, Q.931 §4.5 ids:
//                 0x04 Bearer capability (1 octet: 0 = digital 64k unrestricted, 1 = analog 3.1 kHz),
//                 0x08 Cause (1 octet, Q.850 cause value), 0x6C Calling party number (IA5 digits),
//                 0x70 Called party number (IA5 digits), 0x71 Called party subaddress (IA5),
//                 0x7E Line speed (private; 4 octets, bit/s), 0x7D Number (private, REGISTER; repeated).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace dl::isdn {

/// Message types (Q.931 Table 4-2 for the call-control ones).
enum class MessageType : std::uint8_t {
    alerting = 0x01,
    setup = 0x05,
    connect = 0x07,
    connect_ack = 0x0F,
    release = 0x4D,
    release_complete = 0x5A,
    reg = 0xF0,         ///< private: subscriber registers its numbers
    registered = 0xF1,  ///< private: exchange confirms (cause 0) or refuses (cause set)
    data = 0xF2,        ///< private: B-channel bytes of an active call
};

/// Q.931 name of a message type ("SETUP", "RELEASE COMPLETE", "DATA"…); "UNKNOWN" otherwise.
std::string_view to_string(MessageType t) noexcept;

/// Bearer capability (Q.931 §4.5.5, reduced to the two cases a dial-up LAC cares about):
/// digital = unrestricted digital information, 64 kbit/s, sync HDLC frames as B-channel datagrams;
/// analog  = 3.1 kHz audio (modem), async HDLC byte stream.
enum class Bearer : std::uint8_t { digital = 0, analog = 1 };
std::string_view to_string(Bearer b) noexcept;

/// Q.850 cause values used by the emulation (ITU-T Q.850 Table 1).
namespace cause {
inline constexpr std::uint8_t unallocated_number = 1;
inline constexpr std::uint8_t normal_clearing = 16;
inline constexpr std::uint8_t user_busy = 17;
inline constexpr std::uint8_t no_user_responding = 18;
inline constexpr std::uint8_t no_answer = 19;  ///< "no answer from user (user alerted)"
inline constexpr std::uint8_t call_rejected = 21;
inline constexpr std::uint8_t destination_out_of_order = 27;
inline constexpr std::uint8_t invalid_number_format = 28;
inline constexpr std::uint8_t normal_unspecified = 31;
inline constexpr std::uint8_t no_channel = 34;
inline constexpr std::uint8_t temporary_failure = 41;
inline constexpr std::uint8_t bearer_not_available = 58;
inline constexpr std::uint8_t invalid_call_reference = 81;
inline constexpr std::uint8_t recovery_on_timer_expiry = 102;
}  // namespace cause

/// Thrown by Message::decode for malformed datagrams (proto/common's ParseError has no Q.931
/// protocol value, and peers/ may not edit it). field: what was read; offset: where it failed.
class DecodeError : public std::runtime_error {
public:
    DecodeError(std::string field, std::string reason, std::size_t offset);
    const std::string& field() const noexcept { return field_; }
    const std::string& reason() const noexcept { return reason_; }
    std::size_t offset() const noexcept { return offset_; }

private:
    std::string field_, reason_;
    std::size_t offset_;
};

/// One signalling message; unused fields stay empty. Number fields hold IA5 digits (0-9 * #),
/// at most 32 characters each (Q.931 §4.5.8 allows more; the emulation does not need it).
struct Message {
    MessageType type = MessageType::setup;
    std::uint16_t call_ref = 0;
    std::optional<Bearer> bearer;
    std::optional<std::uint8_t> cause;
    std::string calling;
    std::string called;
    std::string subaddress;
    std::optional<std::uint32_t> speed;  ///< line speed in bit/s (CONNECT; SETUP: requested)
    std::vector<std::string> numbers;    ///< REGISTER
    std::vector<std::uint8_t> payload;   ///< DATA

    static constexpr std::size_t kMaxDigits = 32;
    static constexpr std::size_t kMaxNumbers = 1024;  ///< per REGISTER datagram
    static constexpr std::size_t kMaxDatagram = 65535;

    /// Serialises as described in the file comment. std::invalid_argument if a number is longer
    /// than kMaxDigits or holds a character other than 0-9 * #, or the datagram exceeds kMaxDatagram.
    std::vector<std::uint8_t> encode() const;
    /// Parses one datagram. DecodeError on: fewer than 3 octets, unknown message type, an IE that
    /// overruns the datagram, a wrong IE length, a bad digit, a repeated IE (except Number),
    /// more than kMaxNumbers numbers, an unknown bearer value.
    static Message decode(std::span<const std::uint8_t> bytes);

    /// One-line text for logs: "SETUP ref=0x0001 called=5551000 calling=1701 bearer=digital".
    std::string describe() const;

    // Builders for the common cases.
    static Message setup(std::uint16_t ref, std::string called, std::string calling, Bearer bearer,
                         std::string subaddress = {}, std::optional<std::uint32_t> speed = std::nullopt);
    static Message simple(MessageType t, std::uint16_t ref);
    static Message connect(std::uint16_t ref, std::uint32_t speed);
    static Message release(std::uint16_t ref, std::uint8_t cause_value);
    static Message data(std::uint16_t ref, std::span<const std::uint8_t> bytes);
    static Message reg(std::vector<std::string> numbers);
};

/// True when `s` is 1..kMaxDigits characters of 0-9 * #.
bool valid_number(std::string_view s) noexcept;

}  // namespace dl::isdn
