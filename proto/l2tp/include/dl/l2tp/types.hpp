// L2TPv2 numbers: control message types (RFC 2661 §3.2), AVP attribute types (§4.4), result and
// error codes (§4.4.2), bit masks of the capability / type AVPs (§4.4.3, §4.4.4) and Proxy Authen
// Types (§4.4.5). Names are the RFC's.
#pragma once

#include <cstdint>
#include <string_view>

namespace dl::l2tp {

/// UDP port of L2TP (RFC 2661 §8.1).
inline constexpr std::uint16_t kUdpPort = 1701;

/// Control message types, the value of the Message Type AVP (RFC 2661 §3.2). 0, 5 and 13 are reserved.
enum class MessageType : std::uint16_t {
    SCCRQ = 1,    ///< Start-Control-Connection-Request (§6.1)
    SCCRP = 2,    ///< Start-Control-Connection-Reply (§6.2)
    SCCCN = 3,    ///< Start-Control-Connection-Connected (§6.3)
    StopCCN = 4,  ///< Stop-Control-Connection-Notification (§6.4)
    HELLO = 6,    ///< Hello (§6.5)
    OCRQ = 7,     ///< Outgoing-Call-Request (§6.9)
    OCRP = 8,     ///< Outgoing-Call-Reply (§6.10)
    OCCN = 9,     ///< Outgoing-Call-Connected (§6.11)
    ICRQ = 10,    ///< Incoming-Call-Request (§6.6)
    ICRP = 11,    ///< Incoming-Call-Reply (§6.7)
    ICCN = 12,    ///< Incoming-Call-Connected (§6.8)
    CDN = 14,     ///< Call-Disconnect-Notify (§6.12)
    WEN = 15,     ///< WAN-Error-Notify (§6.13)
    SLI = 16,     ///< Set-Link-Info (§6.14)
};

/// IETF AVP attribute types (Vendor ID 0), RFC 2661 §4.4.1-§4.4.6. 20 is unassigned in RFC 2661.
enum class AvpType : std::uint16_t {
    MessageType = 0,
    ResultCode = 1,
    ProtocolVersion = 2,
    FramingCapabilities = 3,
    BearerCapabilities = 4,
    TieBreaker = 5,
    FirmwareRevision = 6,
    HostName = 7,
    VendorName = 8,
    AssignedTunnelId = 9,
    ReceiveWindowSize = 10,
    Challenge = 11,
    Q931CauseCode = 12,
    ChallengeResponse = 13,
    AssignedSessionId = 14,
    CallSerialNumber = 15,
    MinimumBps = 16,
    MaximumBps = 17,
    BearerType = 18,
    FramingType = 19,
    CalledNumber = 21,
    CallingNumber = 22,
    SubAddress = 23,
    TxConnectSpeed = 24,
    PhysicalChannelId = 25,
    InitialReceivedLcpConfreq = 26,
    LastSentLcpConfreq = 27,
    LastReceivedLcpConfreq = 28,
    ProxyAuthenType = 29,
    ProxyAuthenName = 30,
    ProxyAuthenChallenge = 31,
    ProxyAuthenId = 32,
    ProxyAuthenResponse = 33,
    CallErrors = 34,
    Accm = 35,
    RandomVector = 36,
    PrivateGroupId = 37,
    RxConnectSpeed = 38,
    SequencingRequired = 39,
};

/// Result Code values of a StopCCN (RFC 2661 §4.4.2).
enum class StopCcnResult : std::uint16_t {
    Reserved = 0,
    GeneralRequestToClear = 1,     ///< General request to clear control connection
    GeneralError = 2,              ///< General error -- Error Code indicates the problem
    ControlChannelExists = 3,      ///< Control channel already exists
    NotAuthorized = 4,             ///< Requester is not authorized to establish a control channel
    UnsupportedProtocolVersion = 5,///< Error Code indicates highest version supported
    ShuttingDown = 6,              ///< Requester is being shut down
    FsmError = 7,                  ///< Finite State Machine error
};

/// Result Code values of a CDN (RFC 2661 §4.4.2).
enum class CdnResult : std::uint16_t {
    Reserved = 0,
    LossOfCarrier = 1,             ///< Call disconnected due to loss of carrier
    GeneralError = 2,              ///< Call disconnected for the reason indicated in error code
    Administrative = 3,            ///< Call disconnected for administrative reasons
    NoFacilitiesTemporary = 4,     ///< Lack of appropriate facilities (temporary condition)
    NoFacilitiesPermanent = 5,     ///< Lack of appropriate facilities (permanent condition)
    InvalidDestination = 6,        ///< Invalid destination
    NoCarrier = 7,                 ///< Call failed due to no carrier detected
    Busy = 8,                      ///< Call failed due to detection of a busy signal
    NoDialTone = 9,                ///< Call failed due to lack of a dial tone
    Timeout = 10,                  ///< Call was not established within time allotted by LAC
    NoFraming = 11,                ///< Call was connected but no appropriate framing was detected
};

/// General Error Codes of the Result Code AVP (RFC 2661 §4.4.2).
enum class GeneralError : std::uint16_t {
    NoError = 0,
    NoControlConnection = 1,       ///< No control connection exists yet for this LAC-LNS pair
    BadLength = 2,                 ///< Length is wrong
    OutOfRange = 3,                ///< A field value was out of range or a reserved field was non-zero
    InsufficientResources = 4,
    InvalidSessionId = 5,
    VendorSpecific = 6,            ///< A generic vendor-specific error occurred in the LAC
    TryAnother = 7,
    UnknownMandatoryAvp = 8,       ///< Shut down due to an unknown AVP with the M-bit set (§4.2)
};

/// Proxy Authen Type values (RFC 2661 §4.4.5).
enum class ProxyAuthenType : std::uint16_t {
    Reserved = 0,
    Textual = 1,     ///< Textual username/password exchange
    Chap = 2,        ///< PPP CHAP
    Pap = 3,         ///< PPP PAP
    None = 4,        ///< No Authentication
    MsChapV1 = 5,    ///< Microsoft CHAP Version 1
};

/// Bits of Framing Capabilities / Framing Type (RFC 2661 §4.4.3, §4.4.4): A = async, S = sync.
inline constexpr std::uint32_t kFramingSync = 0x1;
inline constexpr std::uint32_t kFramingAsync = 0x2;
/// Bits of Bearer Capabilities / Bearer Type (RFC 2661 §4.4.3, §4.4.4): A = analog, D = digital.
inline constexpr std::uint32_t kBearerDigital = 0x1;
inline constexpr std::uint32_t kBearerAnalog = 0x2;

/// "SCCRQ" … "SLI" for a known message type (RFC 2661 §3.2); "reserved" for 0, 5, 13;
/// "unknown" otherwise. Never throws.
std::string_view message_name(std::uint16_t type) noexcept;
inline std::string_view message_name(MessageType t) noexcept {
    return message_name(static_cast<std::uint16_t>(t));
}

/// RFC name of an IETF AVP ("Host Name", "Assigned Tunnel ID"…; §4.4), "unknown" if not in the
/// registry. Never throws.
std::string_view avp_name(std::uint16_t type) noexcept;
inline std::string_view avp_name(AvpType t) noexcept { return avp_name(static_cast<std::uint16_t>(t)); }

/// Text of a StopCCN / CDN Result Code (RFC 2661 §4.4.2), "unknown" if not defined.
std::string_view to_string(StopCcnResult r) noexcept;
std::string_view to_string(CdnResult r) noexcept;
std::string_view to_string(GeneralError e) noexcept;

}  // namespace dl::l2tp
