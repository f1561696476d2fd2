// Message templates: RFC 2661 §6.1-§6.14.
#include "dl/l2tp/builders.hpp"

namespace dl::l2tp {

namespace {
ResultCode result(std::uint16_t r, const std::optional<GeneralError>& e, const std::optional<std::string>& msg) {
    ResultCode rc;
    rc.result = r;
    if (e || msg) rc.error = static_cast<std::uint16_t>(e.value_or(GeneralError::NoError));
    rc.message = msg;
    return rc;
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

namespace {
L2TP make_sccrx(MessageType type, const SccrqParams& p) {
    L2TP m = make_control(type, p.header);
    m.set_protocol_version(p.protocol_version);
    m.set_host_name(p.host_name);
    m.set_framing_capabilities(p.framing_capabilities);
    m.set_assigned_tunnel_id(p.assigned_tunnel_id);
    if (p.bearer_capabilities) m.set_bearer_capabilities(*p.bearer_capabilities);
    if (p.receive_window_size) m.set_receive_window_size(*p.receive_window_size);
    if (p.challenge) m.set_challenge(*p.challenge);
    if (p.tie_breaker && type == MessageType::SCCRQ) m.set_tie_breaker(*p.tie_breaker);
    if (p.firmware_revision) m.set_firmware_revision(*p.firmware_revision);
    if (p.vendor_name) m.set_vendor_name(*p.vendor_name);
    if (p.challenge_response && type == MessageType::SCCRP) m.set_challenge_response(*p.challenge_response);
    return m;
}
}  // namespace

L2TP make_sccrq(const SccrqParams& p) { return make_sccrx(MessageType::SCCRQ, p); }
L2TP make_sccrp(const SccrpParams& p) { return make_sccrx(MessageType::SCCRP, p); }

L2TP make_scccn(const ScccnParams& p) {
    L2TP m = make_control(MessageType::SCCCN, p.header);
    if (p.challenge_response) m.set_challenge_response(*p.challenge_response);
    return m;
}

L2TP make_stopccn(const StopccnParams& p) {
    L2TP m = make_control(MessageType::StopCCN, p.header);
    m.set_assigned_tunnel_id(p.assigned_tunnel_id);
    m.set_result_code(result(static_cast<std::uint16_t>(p.result), p.error, p.error_message));
    return m;
}

L2TP make_hello(const ControlHeader& header) {
    ControlHeader h = header;
    h.session_id = 0;
    return make_control(MessageType::HELLO, h);
}

L2TP make_ocrq(const OcrqParams& p) {
    L2TP m = make_control(MessageType::OCRQ, p.header);
    m.set_assigned_session_id(p.assigned_session_id);
    m.set_call_serial_number(p.call_serial_number);
    m.set_minimum_bps(p.min_bps);
    m.set_maximum_bps(p.max_bps);
    m.set_bearer_type(p.bearer_type);
    m.set_framing_type(p.framing_type);
    m.set_called_number(p.called_number);
    if (p.sub_address) m.set_sub_address(*p.sub_address);
    return m;
}

L2TP make_ocrp(const OcrpParams& p) {
    L2TP m = make_control(MessageType::OCRP, p.header);
    m.set_assigned_session_id(p.assigned_session_id);
    if (p.physical_channel_id) m.set_physical_channel_id(*p.physical_channel_id);
    return m;
}

L2TP make_occn(const OccnParams& p) {
    L2TP m = make_control(MessageType::OCCN, p.header);
    m.set_tx_connect_speed(p.tx_connect_speed);
    m.set_framing_type(p.framing_type);
    if (p.rx_connect_speed) m.set_rx_connect_speed(*p.rx_connect_speed);
    if (p.sequencing_required) m.set_sequencing_required(true);
    return m;
}

L2TP make_icrq(const IcrqParams& p) {
    L2TP m = make_control(MessageType::ICRQ, p.header);
    m.set_assigned_session_id(p.assigned_session_id);
    m.set_call_serial_number(p.call_serial_number);
    if (p.bearer_type) m.set_bearer_type(*p.bearer_type);
    if (p.physical_channel_id) m.set_physical_channel_id(*p.physical_channel_id);
    if (p.calling_number) m.set_calling_number(*p.calling_number);
    if (p.called_number) m.set_called_number(*p.called_number);
    if (p.sub_address) m.set_sub_address(*p.sub_address);
    return m;
}

L2TP make_icrp(const IcrpParams& p) {
    L2TP m = make_control(MessageType::ICRP, p.header);
    m.set_assigned_session_id(p.assigned_session_id);
    return m;
}

L2TP make_iccn(const IccnParams& p) {
    L2TP m = make_control(MessageType::ICCN, p.header);
    m.set_tx_connect_speed(p.tx_connect_speed);
    m.set_framing_type(p.framing_type);
    if (p.initial_received_lcp_confreq) m.set_initial_received_lcp_confreq(*p.initial_received_lcp_confreq);
    if (p.last_sent_lcp_confreq) m.set_last_sent_lcp_confreq(*p.last_sent_lcp_confreq);
    if (p.last_received_lcp_confreq) m.set_last_received_lcp_confreq(*p.last_received_lcp_confreq);
    if (p.proxy_authen_type) m.set_proxy_authen_type(*p.proxy_authen_type);
    if (p.proxy_authen_name) m.set_proxy_authen_name(*p.proxy_authen_name);
    if (p.proxy_authen_challenge) m.set_proxy_authen_challenge(*p.proxy_authen_challenge);
    if (p.proxy_authen_id) m.set_proxy_authen_id(*p.proxy_authen_id);
    if (p.proxy_authen_response) m.set_proxy_authen_response(*p.proxy_authen_response);
    if (p.private_group_id) m.set_private_group_id(*p.private_group_id);
    if (p.rx_connect_speed) m.set_rx_connect_speed(*p.rx_connect_speed);
    if (p.sequencing_required) m.set_sequencing_required(true);
    return m;
}

L2TP make_cdn(const CdnParams& p) {
    L2TP m = make_control(MessageType::CDN, p.header);
    m.set_result_code(result(static_cast<std::uint16_t>(p.result), p.error, p.error_message));
    m.set_assigned_session_id(p.assigned_session_id);
    if (p.q931_cause) m.set_q931_cause_code(*p.q931_cause);
    return m;
}

L2TP make_wen(const ControlHeader& header, const CallErrors& errors) {
    L2TP m = make_control(MessageType::WEN, header);
    m.set_call_errors(errors);
    return m;
}

L2TP make_sli(const ControlHeader& header, const Accm& accm) {
    L2TP m = make_control(MessageType::SLI, header);
    m.set_accm(accm);
    return m;
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
