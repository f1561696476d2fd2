// Every RFC 2661 control message built with every AVP §6.x allows (shared by builder, validation
// and tshark tests).
#pragma once

#include <vector>

#include "dl/l2tp/builders.hpp"

namespace dl::l2tp::test {

inline std::vector<L2TP> all_messages_full() {
    std::vector<L2TP> out;
    const std::vector<std::uint8_t> chal = {0xb6, 0x64, 0x98, 0x77, 0xb0, 0x9c, 0x81, 0xbf,
                                            0x59, 0xf1, 0x2f, 0x80, 0xd3, 0x79, 0x3d, 0x8c};
    std::array<std::uint8_t, 16> resp{};
    for (int i = 0; i < 16; ++i) resp[i] = static_cast<std::uint8_t>(0xc0 + i);

    SccrqParams q;
    q.header = {0, 0, 0, 0};
    q.assigned_tunnel_id = 0x1111;
    q.host_name = "lns.example";
    q.bearer_capabilities = kBearerDigital | kBearerAnalog;
    q.receive_window_size = 8;
    q.challenge = chal;
    q.tie_breaker = 0x0102030405060708ull;
    q.firmware_revision = 0x0100;
    q.vendor_name = "dialout-lab";
    out.push_back(make_sccrq(q));

    SccrpParams p = q;
    p.header = {0x1111, 0, 0, 1};
    p.assigned_tunnel_id = 0x2222;
    p.host_name = "lac.example";
    p.tie_breaker.reset();
    p.challenge_response = resp;
    out.push_back(make_sccrp(p));

    out.push_back(make_scccn({{0x2222, 0, 1, 1}, resp}));
    out.push_back(make_stopccn({{0x2222, 0, 2, 1}, 0x1111, StopCcnResult::GeneralError,
                                GeneralError::UnknownMandatoryAvp, std::string("AVP 99")}));
    out.push_back(make_hello({0x2222, 0, 3, 1}));

    OcrqParams oc;
    oc.header = {0x2222, 0, 4, 1};
    oc.called_number = "0301234567";
    oc.sub_address = "12";
    oc.min_bps = 56000;
    oc.max_bps = 64000;
    oc.bearer_type = kBearerDigital;
    oc.framing_type = kFramingSync;
    oc.assigned_session_id = 0x0033;
    oc.call_serial_number = 4711;
    out.push_back(make_ocrq(oc));
    out.push_back(make_ocrp({{0x1111, 0x0033, 1, 5}, 0x0044, 7}));
    out.push_back(make_occn({{0x1111, 0x0033, 2, 5}, 64000, kFramingSync, 64000, true}));

    IcrqParams ic;
    ic.header = {0x1111, 0, 3, 5};
    ic.assigned_session_id = 0x0055;
    ic.call_serial_number = 12;
    ic.bearer_type = kBearerAnalog;
    ic.physical_channel_id = 3;
    ic.calling_number = "5551234";
    ic.called_number = "5556789";
    ic.sub_address = "1";
    out.push_back(make_icrq(ic));
    out.push_back(make_icrp({{0x2222, 0x0055, 5, 4}, 0x0066, std::nullopt}));

    IccnParams cn;
    cn.header = {0x2222, 0x0066, 4, 6};
    cn.tx_connect_speed = 115200;
    cn.framing_type = kFramingAsync;
    cn.initial_received_lcp_confreq = std::vector<std::uint8_t>{0x01, 0x04, 0x05, 0xdc};
    cn.last_sent_lcp_confreq = std::vector<std::uint8_t>{0x03, 0x04, 0xc0, 0x23};
    cn.last_received_lcp_confreq = std::vector<std::uint8_t>{0x01, 0x04, 0x05, 0xdc};
    cn.proxy_authen_type = ProxyAuthenType::Chap;
    cn.proxy_authen_name = "alice";
    cn.proxy_authen_challenge = chal;
    cn.proxy_authen_id = 1;
    cn.proxy_authen_response = std::vector<std::uint8_t>(resp.begin(), resp.end());
    cn.private_group_id = std::vector<std::uint8_t>{'g', 'r', 'p'};
    cn.rx_connect_speed = 33600;
    cn.sequencing_required = true;
    out.push_back(make_iccn(cn));

    out.push_back(make_cdn({{0x2222, 0x0066, 6, 6}, CdnResult::Busy, GeneralError::NoError, std::string("busy"),
                            0x0055, Q931Cause{17, 0x45, "user busy"}}));
    out.push_back(make_wen({0x2222, 0x0066, 7, 6}, CallErrors{1, 2, 3, 4, 5, 6}));
    out.push_back(make_sli({0x1111, 0x0033, 6, 8}, Accm{0, 0xffffffff}));
    return out;
}

}  // namespace dl::l2tp::test
