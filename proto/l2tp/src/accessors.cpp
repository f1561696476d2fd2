// Typed accessors of the IETF AVPs (RFC 2661 §4.4.1-§4.4.6).
#include <string>

#include "dl/l2tp/l2tp.hpp"
#include "dl/l2tp/registry.hpp"
#include "dl/proto/errors.hpp"

namespace dl::l2tp {

namespace {

using Bytes = std::span<const std::uint8_t>;

// The AVP's cleartext if present and readable; checks the value length against the registry.
std::optional<Bytes> get(const L2TP& m, AvpType t) {
    const Avp* a = m.find(t);
    if (a == nullptr || a->hidden_state() == HiddenState::undecodable) return std::nullopt;
    const AvpInfo* info = avp_info(t);
    const auto v = a->value();
    if (v.size() < info->min_value_len || v.size() > info->max_value_len) {
        std::string expected = info->min_value_len == info->max_value_len
                                   ? std::to_string(info->min_value_len)
                                   : "at least " + std::to_string(info->min_value_len);
        throw dl::proto::ParseError(dl::proto::Protocol::l2tp, "avp " + std::string(info->name) + ".value",
                                    "value of " + std::to_string(v.size()) + " octets, expected " + expected,
                                    std::string(info->section));
    }
    return v;
}

std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
std::uint32_t be32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
void put16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
void put32(std::uint8_t* p, std::uint32_t v) {
    put16(p, static_cast<std::uint16_t>(v >> 16));
    put16(p + 2, static_cast<std::uint16_t>(v));
}

std::optional<std::uint16_t> get16(const L2TP& m, AvpType t) {
    auto v = get(m, t);
    if (!v) return std::nullopt;
    return be16(v->data());
}
std::optional<std::uint32_t> get32(const L2TP& m, AvpType t) {
    auto v = get(m, t);
    if (!v) return std::nullopt;
    return be32(v->data());
}
std::optional<std::string> get_str(const L2TP& m, AvpType t) {
    auto v = get(m, t);
    if (!v) return std::nullopt;
    return std::string(v->begin(), v->end());
}
std::optional<std::vector<std::uint8_t>> get_oct(const L2TP& m, AvpType t) {
    auto v = get(m, t);
    if (!v) return std::nullopt;
    return std::vector<std::uint8_t>(v->begin(), v->end());
}
void set16(L2TP& m, AvpType t, std::uint16_t v) {
    std::uint8_t b[2];
    put16(b, v);
    m.set_avp(t, b);
}
void set32(L2TP& m, AvpType t, std::uint32_t v) {
    std::uint8_t b[4];
    put32(b, v);
    m.set_avp(t, b);
}
void set_str(L2TP& m, AvpType t, std::string_view v) {
    m.set_avp(t, Bytes(reinterpret_cast<const std::uint8_t*>(v.data()), v.size()));
}

}  // namespace

std::optional<std::uint16_t> L2TP::message_type() const { return get16(*this, AvpType::MessageType); }
void L2TP::set_message_type(MessageType t) { set_message_type(static_cast<std::uint16_t>(t)); }
void L2TP::set_message_type(std::uint16_t t) { set16(*this, AvpType::MessageType, t); }

std::optional<ResultCode> L2TP::result_code() const {
    auto v = get(*this, AvpType::ResultCode);
    if (!v) return std::nullopt;
    if (v->size() == 3) {
        throw dl::proto::ParseError(dl::proto::Protocol::l2tp, "avp Result Code.value",
                                    "value of 3 octets: Error Code is 2 octets", "RFC 2661 §4.4.2");
    }
    ResultCode rc;
    rc.result = be16(v->data());
    if (v->size() >= 4) rc.error = be16(v->data() + 2);
    if (v->size() > 4) rc.message = std::string(v->begin() + 4, v->end());
    return rc;
}
void L2TP::set_result_code(const ResultCode& rc) {
    std::vector<std::uint8_t> b(2);
    put16(b.data(), rc.result);
    if (rc.error || rc.message) {
        b.resize(4);
        put16(b.data() + 2, rc.error.value_or(0));
        if (rc.message) b.insert(b.end(), rc.message->begin(), rc.message->end());
    }
    set_avp(AvpType::ResultCode, b);
}

std::optional<ProtocolVersion> L2TP::protocol_version() const {
    auto v = get(*this, AvpType::ProtocolVersion);
    if (!v) return std::nullopt;
    return ProtocolVersion{(*v)[0], (*v)[1]};
}
void L2TP::set_protocol_version(ProtocolVersion v) {
    const std::uint8_t b[2] = {v.version, v.revision};
    set_avp(AvpType::ProtocolVersion, b);
}

std::optional<std::uint32_t> L2TP::framing_capabilities() const { return get32(*this, AvpType::FramingCapabilities); }
void L2TP::set_framing_capabilities(std::uint32_t bits) { set32(*this, AvpType::FramingCapabilities, bits); }
std::optional<std::uint32_t> L2TP::bearer_capabilities() const { return get32(*this, AvpType::BearerCapabilities); }
void L2TP::set_bearer_capabilities(std::uint32_t bits) { set32(*this, AvpType::BearerCapabilities, bits); }

std::optional<std::uint64_t> L2TP::tie_breaker() const {
    auto v = get(*this, AvpType::TieBreaker);
    if (!v) return std::nullopt;
    return (std::uint64_t{be32(v->data())} << 32) | be32(v->data() + 4);
}
void L2TP::set_tie_breaker(std::uint64_t v) {
    std::uint8_t b[8];
    put32(b, static_cast<std::uint32_t>(v >> 32));
    put32(b + 4, static_cast<std::uint32_t>(v));
    set_avp(AvpType::TieBreaker, b);
}

std::optional<std::uint16_t> L2TP::firmware_revision() const { return get16(*this, AvpType::FirmwareRevision); }
void L2TP::set_firmware_revision(std::uint16_t v) { set16(*this, AvpType::FirmwareRevision, v); }
std::optional<std::string> L2TP::host_name() const { return get_str(*this, AvpType::HostName); }
void L2TP::set_host_name(std::string_view v) { set_str(*this, AvpType::HostName, v); }
std::optional<std::string> L2TP::vendor_name() const { return get_str(*this, AvpType::VendorName); }
void L2TP::set_vendor_name(std::string_view v) { set_str(*this, AvpType::VendorName, v); }
std::optional<std::uint16_t> L2TP::assigned_tunnel_id() const { return get16(*this, AvpType::AssignedTunnelId); }
void L2TP::set_assigned_tunnel_id(std::uint16_t v) { set16(*this, AvpType::AssignedTunnelId, v); }
std::optional<std::uint16_t> L2TP::receive_window_size() const { return get16(*this, AvpType::ReceiveWindowSize); }
void L2TP::set_receive_window_size(std::uint16_t v) { set16(*this, AvpType::ReceiveWindowSize, v); }
std::optional<std::vector<std::uint8_t>> L2TP::challenge() const { return get_oct(*this, AvpType::Challenge); }
void L2TP::set_challenge(std::span<const std::uint8_t> v) { set_avp(AvpType::Challenge, v); }

std::optional<Q931Cause> L2TP::q931_cause_code() const {
    auto v = get(*this, AvpType::Q931CauseCode);
    if (!v) return std::nullopt;
    return Q931Cause{be16(v->data()), (*v)[2], std::string(v->begin() + 3, v->end())};
}
void L2TP::set_q931_cause_code(const Q931Cause& c) {
    std::vector<std::uint8_t> b(3);
    put16(b.data(), c.cause_code);
    b[2] = c.cause_msg;
    b.insert(b.end(), c.advisory.begin(), c.advisory.end());
    set_avp(AvpType::Q931CauseCode, b);
}

std::optional<std::array<std::uint8_t, 16>> L2TP::challenge_response() const {
    auto v = get(*this, AvpType::ChallengeResponse);
    if (!v) return std::nullopt;
    std::array<std::uint8_t, 16> r{};
    std::copy(v->begin(), v->end(), r.begin());
    return r;
}
void L2TP::set_challenge_response(std::span<const std::uint8_t, 16> v) { set_avp(AvpType::ChallengeResponse, v); }

std::optional<std::uint16_t> L2TP::assigned_session_id() const { return get16(*this, AvpType::AssignedSessionId); }
void L2TP::set_assigned_session_id(std::uint16_t v) { set16(*this, AvpType::AssignedSessionId, v); }
std::optional<std::uint32_t> L2TP::call_serial_number() const { return get32(*this, AvpType::CallSerialNumber); }
void L2TP::set_call_serial_number(std::uint32_t v) { set32(*this, AvpType::CallSerialNumber, v); }
std::optional<std::uint32_t> L2TP::minimum_bps() const { return get32(*this, AvpType::MinimumBps); }
void L2TP::set_minimum_bps(std::uint32_t v) { set32(*this, AvpType::MinimumBps, v); }
std::optional<std::uint32_t> L2TP::maximum_bps() const { return get32(*this, AvpType::MaximumBps); }
void L2TP::set_maximum_bps(std::uint32_t v) { set32(*this, AvpType::MaximumBps, v); }
std::optional<std::uint32_t> L2TP::bearer_type() const { return get32(*this, AvpType::BearerType); }
void L2TP::set_bearer_type(std::uint32_t bits) { set32(*this, AvpType::BearerType, bits); }
std::optional<std::uint32_t> L2TP::framing_type() const { return get32(*this, AvpType::FramingType); }
void L2TP::set_framing_type(std::uint32_t bits) { set32(*this, AvpType::FramingType, bits); }
std::optional<std::string> L2TP::called_number() const { return get_str(*this, AvpType::CalledNumber); }
void L2TP::set_called_number(std::string_view v) { set_str(*this, AvpType::CalledNumber, v); }
std::optional<std::string> L2TP::calling_number() const { return get_str(*this, AvpType::CallingNumber); }
void L2TP::set_calling_number(std::string_view v) { set_str(*this, AvpType::CallingNumber, v); }
std::optional<std::string> L2TP::sub_address() const { return get_str(*this, AvpType::SubAddress); }
void L2TP::set_sub_address(std::string_view v) { set_str(*this, AvpType::SubAddress, v); }
std::optional<std::uint32_t> L2TP::tx_connect_speed() const { return get32(*this, AvpType::TxConnectSpeed); }
void L2TP::set_tx_connect_speed(std::uint32_t bps) { set32(*this, AvpType::TxConnectSpeed, bps); }
std::optional<std::uint32_t> L2TP::physical_channel_id() const { return get32(*this, AvpType::PhysicalChannelId); }
void L2TP::set_physical_channel_id(std::uint32_t v) { set32(*this, AvpType::PhysicalChannelId, v); }

std::optional<std::vector<std::uint8_t>> L2TP::initial_received_lcp_confreq() const {
    return get_oct(*this, AvpType::InitialReceivedLcpConfreq);
}
void L2TP::set_initial_received_lcp_confreq(std::span<const std::uint8_t> v) {
    set_avp(AvpType::InitialReceivedLcpConfreq, v);
}
std::optional<std::vector<std::uint8_t>> L2TP::last_sent_lcp_confreq() const {
    return get_oct(*this, AvpType::LastSentLcpConfreq);
}
void L2TP::set_last_sent_lcp_confreq(std::span<const std::uint8_t> v) { set_avp(AvpType::LastSentLcpConfreq, v); }
std::optional<std::vector<std::uint8_t>> L2TP::last_received_lcp_confreq() const {
    return get_oct(*this, AvpType::LastReceivedLcpConfreq);
}
void L2TP::set_last_received_lcp_confreq(std::span<const std::uint8_t> v) {
    set_avp(AvpType::LastReceivedLcpConfreq, v);
}

std::optional<std::uint16_t> L2TP::proxy_authen_type() const { return get16(*this, AvpType::ProxyAuthenType); }
void L2TP::set_proxy_authen_type(ProxyAuthenType v) {
    set16(*this, AvpType::ProxyAuthenType, static_cast<std::uint16_t>(v));
}
std::optional<std::string> L2TP::proxy_authen_name() const { return get_str(*this, AvpType::ProxyAuthenName); }
void L2TP::set_proxy_authen_name(std::string_view v) { set_str(*this, AvpType::ProxyAuthenName, v); }
std::optional<std::vector<std::uint8_t>> L2TP::proxy_authen_challenge() const {
    return get_oct(*this, AvpType::ProxyAuthenChallenge);
}
void L2TP::set_proxy_authen_challenge(std::span<const std::uint8_t> v) { set_avp(AvpType::ProxyAuthenChallenge, v); }
std::optional<std::uint8_t> L2TP::proxy_authen_id() const {
    auto v = get(*this, AvpType::ProxyAuthenId);
    if (!v) return std::nullopt;
    return (*v)[1];
}
void L2TP::set_proxy_authen_id(std::uint8_t id) { set16(*this, AvpType::ProxyAuthenId, id); }
std::optional<std::vector<std::uint8_t>> L2TP::proxy_authen_response() const {
    return get_oct(*this, AvpType::ProxyAuthenResponse);
}
void L2TP::set_proxy_authen_response(std::span<const std::uint8_t> v) { set_avp(AvpType::ProxyAuthenResponse, v); }

std::optional<CallErrors> L2TP::call_errors() const {
    auto v = get(*this, AvpType::CallErrors);
    if (!v) return std::nullopt;
    const std::uint8_t* p = v->data() + 2;
    return CallErrors{be32(p), be32(p + 4), be32(p + 8), be32(p + 12), be32(p + 16), be32(p + 20)};
}
void L2TP::set_call_errors(const CallErrors& e) {
    std::uint8_t b[26] = {};
    const std::uint32_t c[6] = {e.crc_errors,      e.framing_errors, e.hardware_overruns,
                                e.buffer_overruns, e.timeout_errors, e.alignment_errors};
    for (int i = 0; i < 6; ++i) put32(b + 2 + 4 * i, c[i]);
    set_avp(AvpType::CallErrors, b);
}

std::optional<Accm> L2TP::accm() const {
    auto v = get(*this, AvpType::Accm);
    if (!v) return std::nullopt;
    return Accm{be32(v->data() + 2), be32(v->data() + 6)};
}
void L2TP::set_accm(const Accm& a) {
    std::uint8_t b[10] = {};
    put32(b + 2, a.send_accm);
    put32(b + 6, a.receive_accm);
    set_avp(AvpType::Accm, b);
}

std::optional<std::vector<std::uint8_t>> L2TP::random_vector() const {
    const Avp* last = nullptr;
    for (const auto& a : avps()) {
        if (a.is(AvpType::RandomVector) && a.recognized()) last = &a;
    }
    if (last == nullptr) return std::nullopt;
    return std::vector<std::uint8_t>(last->value().begin(), last->value().end());
}
void L2TP::set_random_vector(std::span<const std::uint8_t> v) {
    if (find(AvpType::RandomVector) != nullptr) {
        set_avp(AvpType::RandomVector, v);
        return;
    }
    std::size_t at = avps_.size();
    for (std::size_t i = 0; i < avps_.size(); ++i) {
        if (avps_[i].hidden()) {
            at = i;
            break;
        }
    }
    insert_random_vector_before(at, v);
}

std::optional<std::vector<std::uint8_t>> L2TP::private_group_id() const {
    return get_oct(*this, AvpType::PrivateGroupId);
}
void L2TP::set_private_group_id(std::span<const std::uint8_t> v) { set_avp(AvpType::PrivateGroupId, v); }
std::optional<std::uint32_t> L2TP::rx_connect_speed() const { return get32(*this, AvpType::RxConnectSpeed); }
void L2TP::set_rx_connect_speed(std::uint32_t bps) { set32(*this, AvpType::RxConnectSpeed, bps); }
bool L2TP::sequencing_required() const noexcept { return find(AvpType::SequencingRequired) != nullptr; }
void L2TP::set_sequencing_required(bool on) {
    if (on) {
        set_avp(AvpType::SequencingRequired, {});
    } else {
        remove_avp(AvpType::SequencingRequired);
    }
}

}  // namespace dl::l2tp
