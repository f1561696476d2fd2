// The tables of RFC 2661: message types (§3.2) with required / optional AVPs (§6.1-§6.14), and AVPs
// (§4.4) with value layout, M-bit rule and whether they may be hidden.
#include "dl/l2tp/registry.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace dl::l2tp {
namespace {

constexpr std::uint16_t kAny = kMaxAvpValue;
using enum ValueKind;
using enum MRule;

// type, name, kind, min value length, max value length, M rule, may hide, section
constexpr std::array<AvpInfo, 39> kAvps{{
    {0, "Message Type", u16, 2, 2, must_be_1, false, "RFC 2661 §4.4.1"},
    {1, "Result Code", result_code, 2, kAny, must_be_1, false, "RFC 2661 §4.4.2"},
    {2, "Protocol Version", protocol_version, 2, 2, must_be_1, false, "RFC 2661 §4.4.3"},
    {3, "Framing Capabilities", bitmask32, 4, 4, must_be_1, true, "RFC 2661 §4.4.3"},
    {4, "Bearer Capabilities", bitmask32, 4, 4, must_be_1, true, "RFC 2661 §4.4.3"},
    {5, "Tie Breaker", u64, 8, 8, must_be_0, false, "RFC 2661 §4.4.3"},
    {6, "Firmware Revision", u16, 2, 2, must_be_0, true, "RFC 2661 §4.4.3"},
    {7, "Host Name", string, 1, kAny, must_be_1, false, "RFC 2661 §4.4.3"},
    {8, "Vendor Name", string, 0, kAny, must_be_0, true, "RFC 2661 §4.4.3"},
    {9, "Assigned Tunnel ID", u16, 2, 2, must_be_1, true, "RFC 2661 §4.4.3"},
    {10, "Receive Window Size", u16, 2, 2, must_be_1, false, "RFC 2661 §4.4.3"},
    {11, "Challenge", octets, 1, kAny, must_be_1, true, "RFC 2661 §4.4.3"},
    {12, "Q.931 Cause Code", q931_cause, 3, kAny, must_be_1, false, "RFC 2661 §4.4.4"},
    {13, "Challenge Response", octets, 16, 16, must_be_1, true, "RFC 2661 §4.4.3"},
    {14, "Assigned Session ID", u16, 2, 2, must_be_1, true, "RFC 2661 §4.4.4"},
    {15, "Call Serial Number", u32, 4, 4, must_be_1, true, "RFC 2661 §4.4.4"},
    {16, "Minimum BPS", u32, 4, 4, must_be_1, true, "RFC 2661 §4.4.4"},
    {17, "Maximum BPS", u32, 4, 4, must_be_1, true, "RFC 2661 §4.4.4"},
    {18, "Bearer Type", bitmask32, 4, 4, must_be_1, true, "RFC 2661 §4.4.4"},
    {19, "Framing Type", bitmask32, 4, 4, must_be_1, true, "RFC 2661 §4.4.4"},
    {21, "Called Number", string, 0, kAny, must_be_1, true, "RFC 2661 §4.4.4"},
    {22, "Calling Number", string, 0, kAny, must_be_1, true, "RFC 2661 §4.4.4"},
    {23, "Sub-Address", string, 0, kAny, must_be_1, true, "RFC 2661 §4.4.4"},
    {24, "(Tx) Connect Speed", u32, 4, 4, must_be_1, true, "RFC 2661 §4.4.4"},
    {25, "Physical Channel ID", u32, 4, 4, must_be_0, true, "RFC 2661 §4.4.4"},
    {26, "Initial Received LCP CONFREQ", octets, 0, kAny, must_be_0, true, "RFC 2661 §4.4.5"},
    {27, "Last Sent LCP CONFREQ", octets, 0, kAny, must_be_0, true, "RFC 2661 §4.4.5"},
    {28, "Last Received LCP CONFREQ", octets, 0, kAny, must_be_0, true, "RFC 2661 §4.4.5"},
    {29, "Proxy Authen Type", u16, 2, 2, must_be_0, true, "RFC 2661 §4.4.5"},
    {30, "Proxy Authen Name", string, 0, kAny, must_be_0, true, "RFC 2661 §4.4.5"},
    {31, "Proxy Authen Challenge", octets, 1, kAny, must_be_0, true, "RFC 2661 §4.4.5"},
    {32, "Proxy Authen ID", proxy_authen_id, 2, 2, must_be_0, true, "RFC 2661 §4.4.5"},
    {33, "Proxy Authen Response", octets, 0, kAny, must_be_0, true, "RFC 2661 §4.4.5"},
    {34, "Call Errors", call_errors, 26, 26, must_be_1, true, "RFC 2661 §4.4.6"},
    {35, "ACCM", accm, 10, 10, must_be_1, true, "RFC 2661 §4.4.6"},
    {36, "Random Vector", octets, 1, kAny, must_be_1, false, "RFC 2661 §4.4.1"},
    {37, "Private Group ID", octets, 0, kAny, must_be_0, true, "RFC 2661 §4.4.4"},
    {38, "Rx Connect Speed", u32, 4, 4, must_be_0, true, "RFC 2661 §4.4.4"},
    {39, "Sequencing Required", empty, 0, 0, must_be_1, false, "RFC 2661 §4.4.4"},
}};

// Index by type (types 0..39; 20 is unassigned).
constexpr std::array<std::int8_t, 40> kAvpIndex = [] {
    std::array<std::int8_t, 40> idx{};
    for (auto& i : idx) i = -1;
    for (std::size_t i = 0; i < kAvps.size(); ++i) idx[kAvps[i].type] = static_cast<std::int8_t>(i);
    return idx;
}();

using A = AvpType;
constexpr std::uint16_t n(A a) { return static_cast<std::uint16_t>(a); }

// §6.1-§6.14: AVPs that MUST / MAY be present besides Message Type.
constexpr std::uint16_t kSccrqReq[] = {n(A::ProtocolVersion), n(A::HostName), n(A::FramingCapabilities),
                                       n(A::AssignedTunnelId)};
constexpr std::uint16_t kSccrqOpt[] = {n(A::BearerCapabilities), n(A::ReceiveWindowSize), n(A::Challenge),
                                       n(A::TieBreaker), n(A::FirmwareRevision), n(A::VendorName)};
constexpr std::uint16_t kSccrpReq[] = {n(A::ProtocolVersion), n(A::HostName), n(A::FramingCapabilities),
                                       n(A::AssignedTunnelId)};
constexpr std::uint16_t kSccrpOpt[] = {n(A::BearerCapabilities), n(A::ReceiveWindowSize), n(A::Challenge),
                                       n(A::FirmwareRevision), n(A::VendorName), n(A::ChallengeResponse)};
constexpr std::uint16_t kScccnOpt[] = {n(A::ChallengeResponse)};
constexpr std::uint16_t kStopccnReq[] = {n(A::AssignedTunnelId), n(A::ResultCode)};
constexpr std::uint16_t kIcrqReq[] = {n(A::AssignedSessionId), n(A::CallSerialNumber)};
constexpr std::uint16_t kIcrqOpt[] = {n(A::BearerType), n(A::PhysicalChannelId), n(A::CallingNumber),
                                      n(A::CalledNumber), n(A::SubAddress)};
constexpr std::uint16_t kSessionReq[] = {n(A::AssignedSessionId)};
constexpr std::uint16_t kConnReq[] = {n(A::TxConnectSpeed), n(A::FramingType)};
constexpr std::uint16_t kIccnOpt[] = {
    n(A::InitialReceivedLcpConfreq), n(A::LastSentLcpConfreq), n(A::LastReceivedLcpConfreq),
    n(A::ProxyAuthenType), n(A::ProxyAuthenName), n(A::ProxyAuthenChallenge), n(A::ProxyAuthenId),
    n(A::ProxyAuthenResponse), n(A::PrivateGroupId), n(A::RxConnectSpeed), n(A::SequencingRequired)};
constexpr std::uint16_t kOcrqReq[] = {n(A::AssignedSessionId), n(A::CallSerialNumber), n(A::MinimumBps),
                                      n(A::MaximumBps), n(A::BearerType), n(A::FramingType),
                                      n(A::CalledNumber)};
constexpr std::uint16_t kOcrqOpt[] = {n(A::SubAddress)};
constexpr std::uint16_t kOcrpOpt[] = {n(A::PhysicalChannelId)};
constexpr std::uint16_t kOccnOpt[] = {n(A::RxConnectSpeed), n(A::SequencingRequired)};
constexpr std::uint16_t kCdnReq[] = {n(A::ResultCode), n(A::AssignedSessionId)};
constexpr std::uint16_t kCdnOpt[] = {n(A::Q931CauseCode)};
constexpr std::uint16_t kWenReq[] = {n(A::CallErrors)};
constexpr std::uint16_t kSliReq[] = {n(A::Accm)};

using enum Scope;
const std::array<MessageInfo, 14> kMessages{{
    {1, "SCCRQ", "Start-Control-Connection-Request", "RFC 2661 §6.1", tunnel, kSccrqReq, kSccrqOpt},
    {2, "SCCRP", "Start-Control-Connection-Reply", "RFC 2661 §6.2", tunnel, kSccrpReq, kSccrpOpt},
    {3, "SCCCN", "Start-Control-Connection-Connected", "RFC 2661 §6.3", tunnel, {}, kScccnOpt},
    {4, "StopCCN", "Stop-Control-Connection-Notification", "RFC 2661 §6.4", tunnel, kStopccnReq, {}},
    {6, "HELLO", "Hello", "RFC 2661 §6.5", tunnel, {}, {}},
    {7, "OCRQ", "Outgoing-Call-Request", "RFC 2661 §6.9", session, kOcrqReq, kOcrqOpt},
    {8, "OCRP", "Outgoing-Call-Reply", "RFC 2661 §6.10", session, kSessionReq, kOcrpOpt},
    {9, "OCCN", "Outgoing-Call-Connected", "RFC 2661 §6.11", session, kConnReq, kOccnOpt},
    {10, "ICRQ", "Incoming-Call-Request", "RFC 2661 §6.6", session, kIcrqReq, kIcrqOpt},
    {11, "ICRP", "Incoming-Call-Reply", "RFC 2661 §6.7", session, kSessionReq, {}},
    {12, "ICCN", "Incoming-Call-Connected", "RFC 2661 §6.8", session, kConnReq, kIccnOpt},
    {14, "CDN", "Call-Disconnect-Notify", "RFC 2661 §6.12", session, kCdnReq, kCdnOpt},
    {15, "WEN", "WAN-Error-Notify", "RFC 2661 §6.13", session, kWenReq, {}},
    {16, "SLI", "Set-Link-Info", "RFC 2661 §6.14", session, kSliReq, {}},
}};

constexpr std::array<std::int8_t, 17> kMsgIndex{-1, 0, 1, 2, 3, -1, 4, 5, 6, 7, 8, 9, 10, -1, 11, 12, 13};

}  // namespace

const AvpInfo* avp_info(std::uint16_t type) noexcept {
    if (type >= kAvpIndex.size() || kAvpIndex[type] < 0) return nullptr;
    return &kAvps[static_cast<std::size_t>(kAvpIndex[type])];
}

std::span<const AvpInfo> avp_registry() noexcept { return kAvps; }

const MessageInfo* message_info(std::uint16_t type) noexcept {
    if (type >= kMsgIndex.size() || kMsgIndex[type] < 0) return nullptr;
    return &kMessages[static_cast<std::size_t>(kMsgIndex[type])];
}

std::span<const MessageInfo> message_registry() noexcept { return kMessages; }

std::string avp_keyword(std::string_view name) {
    std::string out;
    bool gap = false;
    for (char c : name) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '.' || c == '(' || c == ')') continue;
        if (std::isalnum(u) == 0) {
            gap = true;
            continue;
        }
        if (gap && !out.empty()) out += '_';
        gap = false;
        out += static_cast<char>(std::tolower(u));
    }
    return out;
}

const AvpInfo* avp_info_by_name(std::string_view name) {
    for (const auto& a : kAvps)
        if (a.name == name || avp_keyword(a.name) == name) return &a;
    return nullptr;
}

namespace {
bool same_message_name(std::string_view a, std::string_view b) {
    auto norm = [](std::string_view s) {
        std::string o;
        for (char c : s)
            if (c != '-' && c != '_' && c != ' ') o += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return o;
    };
    return norm(a) == norm(b);
}
}  // namespace

const MessageInfo* message_info_by_name(std::string_view name) {
    for (const auto& m : kMessages)
        if (same_message_name(m.name, name) || same_message_name(m.long_name, name)) return &m;
    return nullptr;
}

bool allows(const MessageInfo& message, std::uint16_t avp) noexcept {
    return std::ranges::find(message.required, avp) != message.required.end() ||
           std::ranges::find(message.optional, avp) != message.optional.end();
}

std::string_view message_name(std::uint16_t type) noexcept {
    if (const auto* m = message_info(type)) return m->name;
    if (type == 0 || type == 5 || type == 13) return "reserved";
    return "unknown";
}

std::string_view avp_name(std::uint16_t type) noexcept {
    if (const auto* a = avp_info(type)) return a->name;
    return "unknown";
}

std::string_view to_string(StopCcnResult r) noexcept {
    static constexpr std::string_view kText[] = {
        "Reserved",
        "General request to clear control connection",
        "General error--Error Code indicates the problem",
        "Control channel already exists",
        "Requester is not authorized to establish a control channel",
        "The protocol version of the requester is not supported",
        "Requester is being shut down",
        "Finite State Machine error"};
    auto i = static_cast<std::size_t>(r);
    return i < std::size(kText) ? kText[i] : "unknown";
}

std::string_view to_string(CdnResult r) noexcept {
    static constexpr std::string_view kText[] = {
        "Reserved",
        "Call disconnected due to loss of carrier",
        "Call disconnected for the reason indicated in error code",
        "Call disconnected for administrative reasons",
        "Call failed due to lack of appropriate facilities being available (temporary condition)",
        "Call failed due to lack of appropriate facilities being available (permanent condition)",
        "Invalid destination",
        "Call failed due to no carrier detected",
        "Call failed due to detection of a busy signal",
        "Call failed due to lack of a dial tone",
        "Call was not established within time allotted by LAC",
        "Call was connected but no appropriate framing was detected"};
    auto i = static_cast<std::size_t>(r);
    return i < std::size(kText) ? kText[i] : "unknown";
}

std::string_view to_string(GeneralError e) noexcept {
    static constexpr std::string_view kText[] = {
        "No general error",
        "No control connection exists yet for this LAC-LNS pair",
        "Length is wrong",
        "One of the field values was out of range or reserved field was non-zero",
        "Insufficient resources to handle this operation now",
        "The Session ID is invalid in this context",
        "A generic vendor-specific error occurred in the LAC",
        "Try another",
        "Session or tunnel was shutdown due to receipt of an unknown AVP with the M-bit set"};
    auto i = static_cast<std::size_t>(e);
    return i < std::size(kText) ? kText[i] : "unknown";
}

}  // namespace dl::l2tp
