// The registry-driven control message builder and the message templates over it: RFC 2661 §4.4,
// §6.1-§6.14.
#include "dl/l2tp/builders.hpp"

#include <type_traits>

#include "dl/l2tp/registry.hpp"

namespace dl::l2tp {

namespace {

using dl::proto::Protocol;

ResultCode result(std::uint16_t r, const std::optional<GeneralError>& e, const std::optional<std::string>& msg) {
    ResultCode rc;
    rc.result = r;
    if (e || msg) rc.error = static_cast<std::uint16_t>(e.value_or(GeneralError::NoError));
    rc.message = msg;
    return rc;
}

// What each alternative of AvpValue is called in a refusal, in the variant's order.
constexpr std::string_view kAlternative[] = {"bool",        "integer",          "string",     "octets",
                                             "Result Code", "Protocol Version", "Q.931 Cause", "Call Errors",
                                             "ACCM"};
static_assert(std::size(kAlternative) == std::variant_size_v<AvpValue>);

/// The index of the AvpValue alternative that carries a value of kind `k`.
std::size_t alternative_of(ValueKind k) {
    switch (k) {
    case ValueKind::empty: return 0;
    case ValueKind::u16:
    case ValueKind::u32:
    case ValueKind::u64:
    case ValueKind::bitmask32:
    case ValueKind::proxy_authen_id: return 1;
    case ValueKind::string: return 2;
    case ValueKind::octets: return 3;
    case ValueKind::result_code: return 4;
    case ValueKind::protocol_version: return 5;
    case ValueKind::q931_cause: return 6;
    case ValueKind::call_errors: return 7;
    case ValueKind::accm: return 8;
    }
    return 0;
}

std::uint64_t max_of(ValueKind k) {
    switch (k) {
    case ValueKind::u16: return 0xFFFF;
    case ValueKind::u32:
    case ValueKind::bitmask32: return 0xFFFFFFFF;
    case ValueKind::proxy_authen_id: return 0xFF;
    default: return ~std::uint64_t{0};
    }
}

/// The registry row of one argument, and its checked value.
struct Resolved {
    const AvpInfo* info;
    const AvpValue* value;
};

[[noreturn]] void refuse(const MessageInfo& m, std::string_view item, std::string reason, std::string_view source) {
    throw BuildError(Protocol::l2tp, std::string(m.name), std::string(item), std::move(reason), std::string(source));
}

/// Checks one argument against the message row and the AVP row; nullopt for a Sequencing Required
/// given as false (left out).
std::optional<Resolved> resolve(const MessageInfo& m, const AvpArg& arg) {
    const AvpInfo* info = nullptr;
    if (const auto* t = std::get_if<AvpType>(&arg.avp)) {
        info = avp_info(*t);
        if (!info) refuse(m, "AVP " + std::to_string(static_cast<unsigned>(*t)), "not an AVP of the registry", "RFC 2661 §4.4");
    } else {
        const auto& name = std::get<std::string>(arg.avp);
        info = avp_info_by_name(name);
        if (!info) refuse(m, name, "not an AVP of the registry", "RFC 2661 §4.4");
    }
    if (!allows(m, info->type)) refuse(m, info->name, "not an AVP of " + std::string(m.name), m.section);
    if (arg.value.index() != alternative_of(info->kind))
        refuse(m, info->name,
               "expects " + std::string(kAlternative[alternative_of(info->kind)]) + ", got " +
                   std::string(kAlternative[arg.value.index()]),
               info->section);
    if (const auto* n = std::get_if<std::uint64_t>(&arg.value); n && *n > max_of(info->kind))
        refuse(m, info->name, "value " + std::to_string(*n) + " exceeds " + std::to_string(max_of(info->kind)),
               info->section);
    std::size_t len = 0;
    if (const auto* str = std::get_if<std::string>(&arg.value)) len = str->size();
    if (const auto* oct = std::get_if<std::vector<std::uint8_t>>(&arg.value)) len = oct->size();
    if (len > info->max_value_len || (info->kind == ValueKind::octets && info->min_value_len == info->max_value_len &&
                                      len != info->max_value_len))
        refuse(m, info->name,
               "value of " + std::to_string(len) + " octets, expected " +
                   (info->min_value_len == info->max_value_len ? std::to_string(info->max_value_len)
                                                               : "at most " + std::to_string(info->max_value_len)),
               info->section);
    if (const auto* b = std::get_if<bool>(&arg.value); b && !*b) return std::nullopt;
    return Resolved{info, &arg.value};
}

void put(L2TP& m, const AvpInfo& info, const AvpValue& value) {
    const auto type = static_cast<AvpType>(info.type);
    auto big_endian = [&](std::uint64_t v, std::size_t width) {
        std::uint8_t b[8];
        for (std::size_t i = 0; i < width; ++i) b[i] = static_cast<std::uint8_t>(v >> (8 * (width - 1 - i)));
        m.set_avp(type, std::span<const std::uint8_t>(b, width));
    };
    switch (info.kind) {
    case ValueKind::empty: m.set_avp(type, {}); return;
    case ValueKind::u16: big_endian(std::get<std::uint64_t>(value), 2); return;
    case ValueKind::u32:
    case ValueKind::bitmask32: big_endian(std::get<std::uint64_t>(value), 4); return;
    case ValueKind::u64: big_endian(std::get<std::uint64_t>(value), 8); return;
    case ValueKind::string: {
        const auto& s = std::get<std::string>(value);
        m.set_avp(type, std::span(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
        return;
    }
    case ValueKind::octets: m.set_avp(type, std::get<std::vector<std::uint8_t>>(value)); return;
    // The structured layouts belong to one AVP each (§4.4.2-§4.4.6): their setters encode them.
    case ValueKind::result_code: m.set_result_code(std::get<ResultCode>(value)); return;
    case ValueKind::protocol_version: m.set_protocol_version(std::get<ProtocolVersion>(value)); return;
    case ValueKind::q931_cause: m.set_q931_cause_code(std::get<Q931Cause>(value)); return;
    case ValueKind::proxy_authen_id:
        m.set_proxy_authen_id(static_cast<std::uint8_t>(std::get<std::uint64_t>(value)));
        return;
    case ValueKind::call_errors: m.set_call_errors(std::get<CallErrors>(value)); return;
    case ValueKind::accm: m.set_accm(std::get<Accm>(value)); return;
    }
}

}  // namespace

L2TP make_control(MessageType type, const ControlHeader& h) {
    L2TP m;
    m.set_tunnel_id(h.tunnel_id);
    m.set_session_id(h.session_id);
    m.set_sequence(h.ns, h.nr);
    m.set_message_type(type);
    return m;
}

L2TP build(MessageType type, const ControlHeader& header, std::span<const AvpArg> avps) {
    const MessageInfo* info = message_info(type);
    if (!info) {
        const auto n = std::to_string(static_cast<unsigned>(type));
        throw BuildError(Protocol::l2tp, "Message Type " + n, "Message Type",
                         "message type " + n + " is not in the registry", "RFC 2661 §3.2");
    }
    std::array<const AvpValue*, 64> by_type{};  // AVP types of the registry are < 64
    for (const auto& arg : avps) {
        const auto r = resolve(*info, arg);
        if (!r) continue;
        if (by_type.at(r->info->type)) refuse(*info, r->info->name, "given twice", r->info->section);
        by_type[r->info->type] = r->value;
    }
    L2TP m = make_control(type, header);
    for (std::uint16_t t : info->required) {
        if (!by_type[t]) refuse(*info, avp_name(t), "required AVP is missing", info->section);
        put(m, *avp_info(t), *by_type[t]);
    }
    for (std::uint16_t t : info->optional)
        if (by_type[t]) put(m, *avp_info(t), *by_type[t]);
    return m;
}

L2TP build(MessageType type, const ControlHeader& header, std::initializer_list<AvpArg> avps) {
    return build(type, header, std::span<const AvpArg>(avps.begin(), avps.size()));
}

namespace {

using A = AvpType;

/// Appends {type, value} when the optional is set.
template <class T> void opt(std::vector<AvpArg>& out, A type, const std::optional<T>& v) {
    if (!v) return;
    if constexpr (std::is_integral_v<T> || std::is_enum_v<T>)
        out.push_back({type, static_cast<std::uint64_t>(*v)});
    else if constexpr (std::is_same_v<T, std::array<std::uint8_t, 16>>)
        out.push_back({type, std::vector<std::uint8_t>(v->begin(), v->end())});
    else
        out.push_back({type, *v});
}

L2TP make_sccrx(MessageType type, const SccrqParams& p) {
    std::vector<AvpArg> a{{A::ProtocolVersion, p.protocol_version},
                          {A::HostName, p.host_name},
                          {A::FramingCapabilities, std::uint64_t{p.framing_capabilities}},
                          {A::AssignedTunnelId, std::uint64_t{p.assigned_tunnel_id}}};
    opt(a, A::BearerCapabilities, p.bearer_capabilities);
    opt(a, A::ReceiveWindowSize, p.receive_window_size);
    opt(a, A::Challenge, p.challenge);
    if (type == MessageType::SCCRQ) opt(a, A::TieBreaker, p.tie_breaker);
    opt(a, A::FirmwareRevision, p.firmware_revision);
    opt(a, A::VendorName, p.vendor_name);
    if (type == MessageType::SCCRP) opt(a, A::ChallengeResponse, p.challenge_response);
    return build(type, p.header, a);
}

L2TP make_connected(MessageType type, const ControlHeader& header, std::uint32_t tx_connect_speed,
                    std::uint32_t framing_type, std::vector<AvpArg> a, const std::optional<std::uint32_t>& rx,
                    bool sequencing_required) {
    a.push_back({A::TxConnectSpeed, std::uint64_t{tx_connect_speed}});
    a.push_back({A::FramingType, std::uint64_t{framing_type}});
    opt(a, A::RxConnectSpeed, rx);
    a.push_back({A::SequencingRequired, sequencing_required});
    return build(type, header, a);
}

}  // namespace

L2TP make_sccrq(const SccrqParams& p) { return make_sccrx(MessageType::SCCRQ, p); }
L2TP make_sccrp(const SccrpParams& p) { return make_sccrx(MessageType::SCCRP, p); }

L2TP make_scccn(const ScccnParams& p) {
    std::vector<AvpArg> a;
    opt(a, A::ChallengeResponse, p.challenge_response);
    return build(MessageType::SCCCN, p.header, a);
}

L2TP make_stopccn(const StopccnParams& p) {
    return build(MessageType::StopCCN, p.header,
                 {{A::AssignedTunnelId, std::uint64_t{p.assigned_tunnel_id}},
                  {A::ResultCode, result(static_cast<std::uint16_t>(p.result), p.error, p.error_message)}});
}

L2TP make_hello(const ControlHeader& header) {
    ControlHeader h = header;
    h.session_id = 0;
    return build(MessageType::HELLO, h, {});
}

L2TP make_ocrq(const OcrqParams& p) {
    std::vector<AvpArg> a{{A::AssignedSessionId, std::uint64_t{p.assigned_session_id}},
                          {A::CallSerialNumber, std::uint64_t{p.call_serial_number}},
                          {A::MinimumBps, std::uint64_t{p.min_bps}},
                          {A::MaximumBps, std::uint64_t{p.max_bps}},
                          {A::BearerType, std::uint64_t{p.bearer_type}},
                          {A::FramingType, std::uint64_t{p.framing_type}},
                          {A::CalledNumber, p.called_number}};
    opt(a, A::SubAddress, p.sub_address);
    return build(MessageType::OCRQ, p.header, a);
}

L2TP make_ocrp(const OcrpParams& p) {
    std::vector<AvpArg> a{{A::AssignedSessionId, std::uint64_t{p.assigned_session_id}}};
    opt(a, A::PhysicalChannelId, p.physical_channel_id);
    return build(MessageType::OCRP, p.header, a);
}

L2TP make_occn(const OccnParams& p) {
    return make_connected(MessageType::OCCN, p.header, p.tx_connect_speed, p.framing_type, {}, p.rx_connect_speed,
                          p.sequencing_required);
}

L2TP make_icrq(const IcrqParams& p) {
    std::vector<AvpArg> a{{A::AssignedSessionId, std::uint64_t{p.assigned_session_id}},
                          {A::CallSerialNumber, std::uint64_t{p.call_serial_number}}};
    opt(a, A::BearerType, p.bearer_type);
    opt(a, A::PhysicalChannelId, p.physical_channel_id);
    opt(a, A::CallingNumber, p.calling_number);
    opt(a, A::CalledNumber, p.called_number);
    opt(a, A::SubAddress, p.sub_address);
    return build(MessageType::ICRQ, p.header, a);
}

L2TP make_icrp(const IcrpParams& p) {
    return build(MessageType::ICRP, p.header, {{A::AssignedSessionId, std::uint64_t{p.assigned_session_id}}});
}

L2TP make_iccn(const IccnParams& p) {
    std::vector<AvpArg> a;
    opt(a, A::InitialReceivedLcpConfreq, p.initial_received_lcp_confreq);
    opt(a, A::LastSentLcpConfreq, p.last_sent_lcp_confreq);
    opt(a, A::LastReceivedLcpConfreq, p.last_received_lcp_confreq);
    opt(a, A::ProxyAuthenType, p.proxy_authen_type);
    opt(a, A::ProxyAuthenName, p.proxy_authen_name);
    opt(a, A::ProxyAuthenChallenge, p.proxy_authen_challenge);
    opt(a, A::ProxyAuthenId, p.proxy_authen_id);
    opt(a, A::ProxyAuthenResponse, p.proxy_authen_response);
    opt(a, A::PrivateGroupId, p.private_group_id);
    return make_connected(MessageType::ICCN, p.header, p.tx_connect_speed, p.framing_type, std::move(a),
                          p.rx_connect_speed, p.sequencing_required);
}

L2TP make_cdn(const CdnParams& p) {
    std::vector<AvpArg> a{{A::ResultCode, result(static_cast<std::uint16_t>(p.result), p.error, p.error_message)},
                          {A::AssignedSessionId, std::uint64_t{p.assigned_session_id}}};
    opt(a, A::Q931CauseCode, p.q931_cause);
    return build(MessageType::CDN, p.header, a);
}

L2TP make_wen(const ControlHeader& header, const CallErrors& errors) {
    return build(MessageType::WEN, header, {{A::CallErrors, errors}});
}

L2TP make_sli(const ControlHeader& header, const Accm& accm) {
    return build(MessageType::SLI, header, {{A::Accm, accm}});
}

L2TP make_zlb(std::uint16_t tunnel_id, std::uint16_t session_id, std::uint16_t ns, std::uint16_t nr) {
    L2TP m;
    m.set_tunnel_id(tunnel_id);
    m.set_session_id(session_id);
    m.set_sequence(ns, nr);
    return m;
}

L2TP make_data(std::uint16_t tunnel_id, std::uint16_t session_id, std::span<const std::uint8_t> payload,
               const DataOptions& o) {
    L2TP m = L2TP::data_message(tunnel_id, session_id);
    if (o.ns_nr) m.set_sequence(o.ns_nr->first, o.ns_nr->second);
    m.set_length_present(o.length);
    if (o.offset_pad) m.set_offset(*o.offset_pad);
    m.set_priority(o.priority);
    m.set_payload(payload);
    return m;
}

L2TP make_data(std::uint16_t tunnel_id, std::uint16_t session_id, std::span<const std::uint8_t> payload,
               std::optional<std::uint16_t> ns, std::optional<std::uint16_t> nr) {
    DataOptions o;
    if (ns || nr) o.ns_nr = std::make_pair(ns.value_or(0), nr.value_or(0));
    return make_data(tunnel_id, session_id, payload, o);
}

}  // namespace dl::l2tp
