// Request builders and reply decoders. See builders.hpp.
#include "dl/radius/client/builders.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <stdexcept>

#include "dl/proto/errors.hpp"
#include "dl/radius/auth.hpp"

namespace dl::radius::client {

namespace {
/// Attributes a request's list holds before it grows: a PPP Access-Request or an Accounting-Request
/// without tunnel attributes has 10-16 with the Message-Authenticator the client adds, so each is
/// built in one allocation instead of doubling from one (5 allocations and copies of 264-octet
/// Attributes).
constexpr std::size_t kReserveAttributes = 16;

/// An empty request of `code` with room for kReserveAttributes attributes.
Radius new_request(Code code) {
    Radius r(code);
    r.attributes().reserve(kReserveAttributes);
    return r;
}

std::array<std::uint8_t, 4> octets(core::Ipv4Address a) {
    return {static_cast<std::uint8_t>(a.value >> 24), static_cast<std::uint8_t>(a.value >> 16),
            static_cast<std::uint8_t>(a.value >> 8), static_cast<std::uint8_t>(a.value)};
}

core::Ipv4Address from_octets(const std::array<std::uint8_t, 4>& o) {
    return {static_cast<std::uint32_t>(o[0]) << 24 | static_cast<std::uint32_t>(o[1]) << 16 |
            static_cast<std::uint32_t>(o[2]) << 8 | o[3]};
}

void check_string(std::string_view what, std::string_view v, std::size_t max = Attribute::kMaxValue) {
    if (v.size() > max) throw std::length_error(std::string(what) + " longer than " + std::to_string(max) + " octets");
}

void add_nas(Radius& r, const NasInfo& nas) {
    r.add_ipaddr(AttributeType::NAS_IP_Address, octets(nas.ip));  // RFC 2865 §5.4
    if (!nas.identifier.empty()) {
        check_string("NAS-Identifier", nas.identifier);
        r.add_string(AttributeType::NAS_Identifier, nas.identifier);  // RFC 2865 §5.32
    }
}

/// A tagged string tunnel attribute (RFC 2868 §3: 252 octets after the tag), omitted when empty.
void add_tagged(Radius& r, std::string_view name, AttributeType type, const std::string& v, std::uint8_t tag) {
    if (v.empty()) return;
    check_string(name, v, 252);
    r.add_string(type, v, tag);
}

void add_tunnel(Radius& r, const CallTunnel& t) {
    if (t.tag == 0 || t.tag > 0x1F) throw std::invalid_argument("tunnel tag must be 1..31 (RFC 2868 §3.1)");
    r.add_integer(AttributeType::Tunnel_Type, t.type, t.tag);           // RFC 2868 §3.1
    r.add_integer(AttributeType::Tunnel_Medium_Type, t.medium, t.tag);  // RFC 2868 §3.2
    add_tagged(r, "Tunnel-Client-Endpoint", AttributeType::Tunnel_Client_Endpoint, t.client_endpoint, t.tag);  // §3.3
    add_tagged(r, "Tunnel-Server-Endpoint", AttributeType::Tunnel_Server_Endpoint, t.server_endpoint, t.tag);  // §3.4
    add_tagged(r, "Tunnel-Assignment-Id", AttributeType::Tunnel_Assignment_Id, t.assignment_id, t.tag);        // §3.7
    add_tagged(r, "Tunnel-Client-Auth-ID", AttributeType::Tunnel_Client_Auth_Id, t.client_auth_id, t.tag);     // §3.9
    add_tagged(r, "Tunnel-Server-Auth-ID", AttributeType::Tunnel_Server_Auth_Id, t.server_auth_id, t.tag);     // §3.10
}

}  // namespace

Radius build_dialout_access_request(std::string_view user_name, const NasInfo& nas) {
    check_string("User-Name", user_name);
    Radius r = new_request(Code::Access_Request);
    r.add_string(AttributeType::User_Name, user_name);  // RFC 2865 §5.1
    r.add_integer(AttributeType::Service_Type, static_cast<std::uint32_t>(ServiceType::Outbound));  // §5.6
    add_nas(r, nas);
    return r;
}

PreparedRequest build_ppp_access_request(const PppAuthRequest& q, const NasInfo& nas) {
    check_string("User-Name", q.user_name);
    PreparedRequest out{new_request(Code::Access_Request), std::nullopt};
    Radius& r = out.packet;
    r.add_string(AttributeType::User_Name, q.user_name);
    if (q.method == PppAuthRequest::Method::pap) {
        if (q.password.size() > 128) throw std::length_error("User-Password longer than 128 octets (RFC 2865 §5.2)");
        out.user_password = q.password;
    } else {
        if (q.chap_challenge.empty() || q.chap_challenge.size() > Attribute::kMaxValue)
            throw std::invalid_argument("CHAP challenge must be 1..253 octets (RFC 2865 §5.40)");
        std::array<std::uint8_t, 17> pw{};
        pw[0] = q.chap_ident;  // RFC 2865 §5.3: CHAP Ident + 16-octet Response
        std::copy(q.chap_response.begin(), q.chap_response.end(), pw.begin() + 1);
        r.add_octets(AttributeType::CHAP_Password, pw);
        r.add_octets(AttributeType::CHAP_Challenge, q.chap_challenge);
    }
    add_nas(r, nas);
    if (q.nas_port) r.add_integer(AttributeType::NAS_Port, *q.nas_port);  // §5.5
    r.add_integer(AttributeType::NAS_Port_Type, 5);                       // Virtual, §5.41
    r.add_integer(AttributeType::Service_Type, static_cast<std::uint32_t>(ServiceType::Framed));
    r.add_integer(AttributeType::Framed_Protocol, 1);  // PPP, §5.7
    if (!q.called_station_id.empty()) {
        check_string("Called-Station-Id", q.called_station_id);
        r.add_string(AttributeType::Called_Station_Id, q.called_station_id);  // §5.30
    }
    if (!q.calling_station_id.empty()) {
        check_string("Calling-Station-Id", q.calling_station_id);
        r.add_string(AttributeType::Calling_Station_Id, q.calling_station_id);  // §5.31
    }
    if (!q.connect_info.empty()) {
        check_string("Connect-Info", q.connect_info);
        r.add_string(AttributeType::Connect_Info, q.connect_info);  // RFC 2869 §5.11
    }
    if (!q.nas_port_id.empty()) {
        check_string("NAS-Port-Id", q.nas_port_id);
        r.add_string(AttributeType::NAS_Port_Id, q.nas_port_id);  // RFC 2869 §5.17
    }
    if (q.tunnel) add_tunnel(r, *q.tunnel);
    return out;
}

Radius build_accounting_on_off(AcctStatus status, std::string_view session_id, const NasInfo& nas) {
    if (status != AcctStatus::Accounting_On && status != AcctStatus::Accounting_Off)
        throw std::invalid_argument("Accounting-On/Off: status must be 7 or 8 (RFC 2866 §5.1)");
    if (session_id.empty()) throw std::invalid_argument("Acct-Session-Id is required (RFC 2866 §5.5)");
    check_string("Acct-Session-Id", session_id);
    Radius r = new_request(Code::Accounting_Request);
    r.add_integer(AttributeType::Acct_Status_Type, static_cast<std::uint32_t>(status));  // RFC 2866 §5.1
    r.add_string(AttributeType::Acct_Session_Id, session_id);                          // §5.5
    add_nas(r, nas);
    r.add_integer(AttributeType::Acct_Delay_Time, 0);  // §5.2
    return r;
}

Radius build_accounting_request(const AccountingRecord& a, const NasInfo& nas) {
    if (a.session_id.empty()) throw std::invalid_argument("Acct-Session-Id is required (RFC 2866 §5.5)");
    check_string("Acct-Session-Id", a.session_id);
    Radius r = new_request(Code::Accounting_Request);
    r.add_integer(AttributeType::Acct_Status_Type, static_cast<std::uint32_t>(a.status));  // RFC 2866 §5.1
    r.add_string(AttributeType::Acct_Session_Id, a.session_id);                           // §5.5
    if (!a.user_name.empty()) {
        check_string("User-Name", a.user_name);
        r.add_string(AttributeType::User_Name, a.user_name);
    }
    add_nas(r, nas);
    r.add_integer(AttributeType::NAS_Port_Type, 5);
    r.add_integer(AttributeType::Service_Type, static_cast<std::uint32_t>(ServiceType::Framed));
    r.add_integer(AttributeType::Framed_Protocol, 1);
    if (a.framed_ip) r.add_ipaddr(AttributeType::Framed_IP_Address, octets(*a.framed_ip));
    r.add_integer(AttributeType::Acct_Delay_Time, a.delay_time);  // §5.2
    r.add_integer(AttributeType::Acct_Authentic, 1);              // RADIUS, §5.6
    if (a.status != AcctStatus::Start) {
        r.add_integer(AttributeType::Acct_Session_Time, a.session_time);  // §5.7
        r.add_integer(AttributeType::Acct_Input_Octets, static_cast<std::uint32_t>(a.input_octets));    // §5.3
        r.add_integer(AttributeType::Acct_Output_Octets, static_cast<std::uint32_t>(a.output_octets));  // §5.4
        if (a.input_octets >> 32)  // Acct-Input-Gigawords, RFC 2869 §5.1
            r.add(Attribute::integer(52, static_cast<std::uint32_t>(a.input_octets >> 32)));
        if (a.output_octets >> 32)  // Acct-Output-Gigawords, RFC 2869 §5.2
            r.add(Attribute::integer(53, static_cast<std::uint32_t>(a.output_octets >> 32)));
        r.add_integer(AttributeType::Acct_Input_Packets, a.input_packets);    // §5.8
        r.add_integer(AttributeType::Acct_Output_Packets, a.output_packets);  // §5.9
    }
    if (a.status == AcctStatus::Stop && a.terminate_cause)
        r.add_integer(AttributeType::Acct_Terminate_Cause, *a.terminate_cause);  // §5.10
    for (const auto& c : a.classes) {  // RFC 2865 §5.25: sent unmodified in accounting
        if (c.empty() || c.size() > 253) throw std::invalid_argument("Class must be 1..253 octets (RFC 2865 §5.25)");
        r.add_octets(AttributeType::Class, c);
    }
    if (a.tunnel) add_tunnel(r, *a.tunnel);
    if (!a.tunnel_connection.empty()) {
        check_string("Acct-Tunnel-Connection", a.tunnel_connection);
        r.add_string(AttributeType::Acct_Tunnel_Connection, a.tunnel_connection);  // RFC 2867 §4.1
    }
    return r;
}

// --- decoders ------------------------------------------------------------------------------------

Decoded<DialOutDefinition> decode_dialout_accept(const Radius& acc, std::string_view secret,
                                                 const Authenticator& request_auth) {
    Decoded<DialOutDefinition> out;
    auto& P = out.problems;
    DialOutDefinition d;
    if (acc.code() != Code::Access_Accept) P.push_back("not an Access-Accept but " + std::string(to_string(acc.code())));

    // Service-Type must be Outbound (JunosE "L2TP Dial-Out" Table 75; RFC 2865 §5.6).
    if (auto st = acc.get_integer(AttributeType::Service_Type)) {
        d.service_type = *st;
        if (*st != static_cast<std::uint32_t>(ServiceType::Outbound))
            P.push_back("Service-Type is " + std::to_string(*st) + ", must be Outbound (5)");
    } else {
        P.push_back("Service-Type missing (must be Outbound (5))");
    }

    // RFC 2868 §3: attributes with the same tag describe one tunnel (proto/radius groups them).
    auto grouped = decode_tagged_tunnels(acc, secret, request_auth);
    P.insert(P.end(), grouped.problems.begin(), grouped.problems.end());
    auto& by_tag = grouped.tunnels;
    if (by_tag.empty()) P.push_back("tunnel attributes missing (Tunnel-Type, Tunnel-Medium-Type, Tunnel-Server-Endpoint)");
    for (auto& t : by_tag) {
        const std::string who = "tag " + std::to_string(t.tag) + ": ";
        if (t.type == 0)
            P.push_back(who + "Tunnel-Type missing");
        else if (t.type != kTunnelTypeL2tp)
            P.push_back(who + "Tunnel-Type is " + std::to_string(t.type) + ", must be L2TP (3)");
        if (t.medium == 0)
            P.push_back(who + "Tunnel-Medium-Type missing");
        else if (t.medium != kTunnelMediumIpv4)
            P.push_back(who + "Tunnel-Medium-Type is " + std::to_string(t.medium) + ", must be IPv4 (1)");
        if (t.server_endpoint.empty()) P.push_back(who + "Tunnel-Server-Endpoint missing");
        d.tunnels.push_back(std::move(t));
    }
    // RFC 2868 §3.8: lower Tunnel-Preference is preferred; absent counts as equal-lowest priority.
    std::stable_sort(d.tunnels.begin(), d.tunnels.end(), [](const TunnelDefinition& a, const TunnelDefinition& b) {
        return a.preference.value_or(0) < b.preference.value_or(0);
    });

    // JunosE ERX VSAs 35-41.
    if (auto n = acc.get_string(ErxAttribute::Dial_Out_Number); n && !n->empty())
        d.dial_out_number = *n;
    else
        P.push_back("ERX-Dial-Out-Number missing");
    d.ppp_username = acc.get_string(ErxAttribute::PPP_Username);
    d.ppp_password = acc.get_string(ErxAttribute::PPP_Password);
    d.ppp_auth_protocol = acc.get_integer(ErxAttribute::PPP_Auth_Protocol);
    if (d.ppp_auth_protocol && *d.ppp_auth_protocol > 4)
        P.push_back("ERX-PPP-Auth-Protocol is " + std::to_string(*d.ppp_auth_protocol) + ", must be 0..4");
    d.minimum_bps = acc.get_integer(ErxAttribute::Minimum_BPS);
    d.maximum_bps = acc.get_integer(ErxAttribute::Maximum_BPS);
    if (d.minimum_bps && d.maximum_bps && *d.minimum_bps > *d.maximum_bps)
        P.push_back("ERX-Minimum-BPS " + std::to_string(*d.minimum_bps) + " above ERX-Maximum-BPS " +
                    std::to_string(*d.maximum_bps));
    d.bearer_type = acc.get_integer(ErxAttribute::Bearer_Type);
    if (d.bearer_type && *d.bearer_type > 2)
        P.push_back("ERX-Bearer-Type is " + std::to_string(*d.bearer_type) + ", must be 0..2");

    if (P.empty()) out.value = std::move(d);
    return out;
}

std::optional<FramedRoute> parse_framed_route(std::string_view text) {
    std::vector<std::string_view> tok;
    std::size_t i = 0;
    while (i < text.size() && tok.size() < 16) {
        while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
        std::size_t j = i;
        while (j < text.size() && text[j] != ' ' && text[j] != '\t') ++j;
        if (j > i) tok.push_back(text.substr(i, j - i));
        i = j;
    }
    if (tok.empty()) return std::nullopt;
    FramedRoute r;
    std::string_view pfx = tok[0];
    if (pfx.find('/') == std::string_view::npos) {
        auto a = core::Ipv4Address::parse(pfx);
        if (!a) return std::nullopt;
        r.prefix = {*a, 32};
    } else {
        auto p = core::Ipv4Prefix::parse(pfx);
        if (!p) return std::nullopt;
        r.prefix = *p;
    }
    if (tok.size() > 1) {
        auto g = core::Ipv4Address::parse(tok[1]);
        if (!g) return std::nullopt;
        r.gateway = *g;
    }
    if (tok.size() > 2) {
        std::uint32_t m = 0;
        auto [p, ec] = std::from_chars(tok[2].data(), tok[2].data() + tok[2].size(), m);
        if (ec != std::errc{} || p != tok[2].data() + tok[2].size()) return std::nullopt;
        r.metric = m;
    }
    return r;
}

Decoded<PppAuthorisation> decode_ppp_authorisation(const Radius& acc) {
    Decoded<PppAuthorisation> out;
    PppAuthorisation a;
    if (acc.code() != Code::Access_Accept)
        out.problems.push_back("not an Access-Accept but " + std::string(to_string(acc.code())));
    if (auto ip = acc.get_ipaddr(AttributeType::Framed_IP_Address)) a.framed_ip = from_octets(*ip);
    else if (acc.find(AttributeType::Framed_IP_Address)) out.problems.push_back("Framed-IP-Address is not 4 octets");
    if (auto m = acc.get_ipaddr(AttributeType::Framed_IP_Netmask)) a.framed_netmask = from_octets(*m);
    else if (acc.find(AttributeType::Framed_IP_Netmask)) out.problems.push_back("Framed-IP-Netmask is not 4 octets");
    for (const Attribute* r : acc.find_all(static_cast<std::uint8_t>(AttributeType::Framed_Route))) {
        const std::string text = r->as_string();
        if (auto fr = parse_framed_route(text)) a.routes.push_back(*fr);
        else out.problems.push_back("Framed-Route '" + text + "' is not 'prefix [gateway [metric]]'");
    }
    auto integer = [&](AttributeType t, const char* name, std::optional<std::uint32_t>& dst) {
        if (auto v = acc.get_integer(t)) dst = v;
        else if (acc.find(t)) out.problems.push_back(std::string(name) + " is not 4 octets");
    };
    integer(AttributeType::Session_Timeout, "Session-Timeout", a.session_timeout);
    integer(AttributeType::Idle_Timeout, "Idle-Timeout", a.idle_timeout);
    integer(AttributeType::Acct_Interim_Interval, "Acct-Interim-Interval", a.acct_interim_interval);
    for (const Attribute* c : acc.find_all(static_cast<std::uint8_t>(AttributeType::Class)))
        a.classes.emplace_back(c->value().begin(), c->value().end());
    if (out.problems.empty()) out.value = std::move(a);
    return out;
}

}  // namespace dl::radius::client
