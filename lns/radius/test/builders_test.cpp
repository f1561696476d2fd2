// Request builders and reply decoders: golden bytes, round trips, every deny reason.
#include "dl/radius/client/builders.hpp"

#include <gtest/gtest.h>

#include "dl/radius/auth.hpp"

#include "dl/testing/counting_new.hpp"

using namespace dl::radius;
using namespace dl::radius::client;
namespace core = dl::core;

namespace {

const NasInfo kNas{*core::Ipv4Address::parse("192.0.2.10"), "lns"};

std::vector<std::uint8_t> wire(const Radius& r) {
    std::vector<std::uint8_t> out;
    serialize_into(r, out);
    return out;
}

// req: AAA.service-type
TEST(Builders, DialOutAccessRequestGoldenBytes) {
    Radius r = build_dialout_access_request("u@d", kNas);
    const std::vector<std::uint8_t> expect{
        0x01, 0x00, 0x00, 0x2A,                                  // Access-Request, id 0, Length 42
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,          // Authenticator (set by submit)
        0x01, 0x05, 'u', '@', 'd',                               // User-Name
        0x06, 0x06, 0x00, 0x00, 0x00, 0x05,                      // Service-Type Outbound
        0x04, 0x06, 0xC0, 0x00, 0x02, 0x0A,                      // NAS-IP-Address 192.0.2.10
        0x20, 0x05, 'l', 'n', 's'};                              // NAS-Identifier
    EXPECT_EQ(wire(r), expect);
    EXPECT_EQ(r.find(AttributeType::User_Password), nullptr);
    EXPECT_THROW(build_dialout_access_request(std::string(254, 'x'), kNas), std::length_error);
}

// req: AAA.lns-attributes
TEST(Builders, PapAccessRequest) {
    PppAuthRequest q;
    q.user_name = "cpe";
    q.password = "pw";
    q.calling_station_id = "0301234";
    q.called_station_id = "0405678";
    q.nas_port = 7;
    q.connect_info = "64000/56000";
    q.nas_port_id = "l2tp 4711/42";
    q.tunnel = CallTunnel{.tag = 1, .server_endpoint = "192.0.2.10", .client_endpoint = "198.51.100.1",
                          .assignment_id = "lac1", .client_auth_id = "lac-1", .server_auth_id = "lns-1"};
    PreparedRequest p = build_ppp_access_request(q, kNas);
    const Radius& r = p.packet;
    EXPECT_EQ(p.user_password, "pw");
    EXPECT_EQ(r.find(AttributeType::User_Password), nullptr) << "hidden per server at submit";
    EXPECT_EQ(r.get_integer(AttributeType::NAS_Port_Type), 5u);
    EXPECT_EQ(r.get_integer(AttributeType::Service_Type), 2u);
    EXPECT_EQ(r.get_integer(AttributeType::Framed_Protocol), 1u);
    EXPECT_EQ(r.get_integer(AttributeType::NAS_Port), 7u);
    EXPECT_EQ(r.get_string(AttributeType::Calling_Station_Id), "0301234");
    EXPECT_EQ(r.get_string(AttributeType::Called_Station_Id), "0405678");
    EXPECT_EQ(r.get_integer(AttributeType::Tunnel_Type, 1), 3u);
    EXPECT_EQ(r.get_integer(AttributeType::Tunnel_Medium_Type, 1), 1u);
    EXPECT_EQ(r.get_string(AttributeType::Tunnel_Server_Endpoint, 1), "192.0.2.10");
    EXPECT_EQ(r.get_string(AttributeType::Tunnel_Client_Endpoint, 1), "198.51.100.1");
    EXPECT_EQ(r.get_string(AttributeType::Tunnel_Assignment_Id, 1), "lac1");
    EXPECT_EQ(r.get_string(AttributeType::Connect_Info), "64000/56000");
    EXPECT_EQ(r.get_string(AttributeType::NAS_Port_Id), "l2tp 4711/42");
    EXPECT_EQ(r.get_string(AttributeType::Tunnel_Client_Auth_Id, 1), "lac-1");
    EXPECT_EQ(r.get_string(AttributeType::Tunnel_Server_Auth_Id, 1), "lns-1");
    // Tagged Tunnel-Type on the wire: 40 06 01 00 00 03 (RFC 2868 §3.1).
    const auto w = wire(r);
    const std::vector<std::uint8_t> tt{0x40, 0x06, 0x01, 0x00, 0x00, 0x03};
    EXPECT_NE(std::search(w.begin(), w.end(), tt.begin(), tt.end()), w.end());
    // Round trip through the parser.
    Radius back(w.data(), static_cast<std::uint32_t>(w.size()));
    EXPECT_EQ(back.attributes().size(), r.attributes().size());
    q.tunnel->tag = 0;
    EXPECT_THROW(build_ppp_access_request(q, kNas), std::invalid_argument);
    q.tunnel.reset();
    q.password = std::string(129, 'p');
    EXPECT_THROW(build_ppp_access_request(q, kNas), std::length_error);
}

TEST(Builders, ChapAccessRequest) {
    PppAuthRequest q;
    q.method = PppAuthRequest::Method::chap;
    q.user_name = "cpe";
    q.chap_ident = 9;
    q.chap_challenge = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17};
    const auto full = chap_password(9, "secret", q.chap_challenge);
    std::copy(full.begin() + 1, full.end(), q.chap_response.begin());
    PreparedRequest p = build_ppp_access_request(q, kNas);
    EXPECT_FALSE(p.user_password);
    auto cp = p.packet.get_octets(AttributeType::CHAP_Password);
    ASSERT_TRUE(cp);
    EXPECT_EQ(cp->size(), 17u);
    EXPECT_EQ((*cp)[0], 9);
    EXPECT_TRUE(verify_chap_password(*cp, "secret", chap_challenge(p.packet)));
    EXPECT_FALSE(verify_chap_password(*cp, "wrong", chap_challenge(p.packet)));
    q.chap_challenge.clear();
    EXPECT_THROW(build_ppp_access_request(q, kNas), std::invalid_argument);
}

// req: ACCT.start-stop
TEST(Builders, AccountingEchoesClass) {
    AccountingRecord a;
    a.session_id = "00000002";
    a.classes = {{'c', '1'}, {0x00, 0xff}};
    Radius start = build_accounting_request(a, kNas);
    const auto cls = start.find_all(static_cast<std::uint8_t>(AttributeType::Class));
    ASSERT_EQ(cls.size(), 2u) << "each Class of the Access-Accept, unmodified (RFC 2865 §5.25)";
    EXPECT_EQ(std::vector<std::uint8_t>(cls[1]->value().begin(), cls[1]->value().end()),
              (std::vector<std::uint8_t>{0x00, 0xff}));
    a.classes = {{}};
    EXPECT_THROW(build_accounting_request(a, kNas), std::invalid_argument) << "an empty Class";
}

TEST(Builders, AccountingStartInterimStop) {
    AccountingRecord a;
    a.session_id = "00000001";
    a.user_name = "cpe";
    a.tunnel_connection = "7/12";
    a.tunnel = CallTunnel{.server_endpoint = "192.0.2.10", .client_endpoint = "198.51.100.1"};
    Radius start = build_accounting_request(a, kNas);
    EXPECT_EQ(start.code(), Code::Accounting_Request);
    EXPECT_EQ(start.get_integer(AttributeType::Acct_Status_Type), 1u);
    EXPECT_EQ(start.get_string(AttributeType::Acct_Session_Id), "00000001");
    EXPECT_EQ(start.get_string(AttributeType::Acct_Tunnel_Connection), "7/12");
    EXPECT_EQ(start.find(AttributeType::Acct_Input_Octets), nullptr);
    a.status = AcctStatus::Interim_Update;
    a.input_octets = (std::uint64_t{3} << 32) + 5;
    a.output_octets = 1000;
    a.session_time = 60;
    Radius interim = build_accounting_request(a, kNas);
    EXPECT_EQ(interim.get_integer(AttributeType::Acct_Status_Type), 3u);
    EXPECT_EQ(interim.get_integer(AttributeType::Acct_Input_Octets), 5u);
    ASSERT_NE(interim.find(std::uint8_t{52}), nullptr);
    EXPECT_EQ(interim.find(std::uint8_t{52})->as_integer(), 3u);
    EXPECT_EQ(interim.find(std::uint8_t{53}), nullptr);
    EXPECT_EQ(interim.get_integer(AttributeType::Acct_Session_Time), 60u);
    EXPECT_EQ(interim.find(AttributeType::Acct_Terminate_Cause), nullptr);
    a.status = AcctStatus::Stop;
    a.terminate_cause = 1;  // User-Request
    Radius stop = build_accounting_request(a, kNas);
    EXPECT_EQ(stop.get_integer(AttributeType::Acct_Status_Type), 2u);
    EXPECT_EQ(stop.get_integer(AttributeType::Acct_Terminate_Cause), 1u);
    sign_request(stop, "s");
    EXPECT_EQ(verify_request(wire(stop), "s"), Verdict::ok);
    a.session_id.clear();
    EXPECT_THROW(build_accounting_request(a, kNas), std::invalid_argument);
}

// --- dial-out Access-Accept ------------------------------------------------------------------

const Authenticator kReqAuth{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

Radius good_accept() {
    Radius a(Code::Access_Accept, 1);
    a.add_integer(AttributeType::Service_Type, 5);
    for (std::uint8_t tag : {1, 2}) {
        a.add_integer(AttributeType::Tunnel_Type, 3, tag);
        a.add_integer(AttributeType::Tunnel_Medium_Type, 1, tag);
        a.add_string(AttributeType::Tunnel_Server_Endpoint, tag == 1 ? "198.51.100.1" : "198.51.100.2", tag);
        a.add_integer(AttributeType::Tunnel_Preference, tag == 1 ? 20 : 10, tag);
        a.add(tunnel_password_attribute(tag, tag == 1 ? "tunnelpw1" : "tunnelpw2", "sec", kReqAuth, 0x8001));
        a.add_string(AttributeType::Tunnel_Assignment_Id, "lac", tag);
        a.add_string(AttributeType::Tunnel_Client_Auth_Id, "lns-host", tag);
        a.add_string(AttributeType::Tunnel_Server_Auth_Id, "lac-host", tag);
    }
    a.add_string(ErxAttribute::Dial_Out_Number, "0301234567");
    a.add_string(ErxAttribute::PPP_Username, "lns");
    a.add_string(ErxAttribute::PPP_Password, "lnspw");
    a.add_integer(ErxAttribute::PPP_Auth_Protocol, 2);
    a.add_integer(ErxAttribute::Minimum_BPS, 56000);
    a.add_integer(ErxAttribute::Maximum_BPS, 64000);
    a.add_integer(ErxAttribute::Bearer_Type, 2);
    // Through the wire and back, as the client hands it over.
    auto w = wire(a);
    return Radius(w.data(), static_cast<std::uint32_t>(w.size()));
}

// req: T75.service-type, T75.tunnel-attributes, T75.dial-out-number, T75.ppp-credentials, T75.ppp-auth-protocol, T75.bps, T75.bearer-type, RADIUS.erx
TEST(DialOutDecode, FullDefinition) {
    auto d = decode_dialout_accept(good_accept(), "sec", kReqAuth);
    ASSERT_TRUE(d.ok()) << (d.problems.empty() ? "" : d.problems[0]);
    const DialOutDefinition& v = *d.value;
    EXPECT_EQ(v.service_type, 5u);
    ASSERT_EQ(v.tunnels.size(), 2u);
    EXPECT_EQ(v.tunnels[0].tag, 2) << "Tunnel-Preference 10 before 20";
    EXPECT_EQ(v.tunnels[0].server_endpoint, "198.51.100.2");
    EXPECT_EQ(v.tunnels[0].password, "tunnelpw2");
    EXPECT_EQ(v.tunnels[1].password, "tunnelpw1");
    EXPECT_EQ(v.tunnels[1].preference, 20u);
    EXPECT_EQ(v.tunnels[1].assignment_id, "lac");
    EXPECT_EQ(v.tunnels[1].client_auth_id, "lns-host");
    EXPECT_EQ(v.tunnels[1].server_auth_id, "lac-host");
    EXPECT_EQ(v.dial_out_number, "0301234567");
    EXPECT_EQ(v.ppp_username, "lns");
    EXPECT_EQ(v.ppp_password, "lnspw");
    EXPECT_EQ(v.ppp_auth_protocol, 2u);
    EXPECT_EQ(v.minimum_bps, 56000u);
    EXPECT_EQ(v.maximum_bps, 64000u);
    EXPECT_EQ(v.bearer_type, 2u);
    EXPECT_TRUE(d.problems.empty());
}

struct DenyCase {
    const char* name;
    std::function<void(Radius&)> mutate;
    std::string problem;
};

void remove_tagged(Radius& r, AttributeType t, std::uint8_t tag) {
    auto& v = r.attributes();
    const auto type = static_cast<std::uint8_t>(t);
    const AttributeFormat f = builtin_format(0, type);
    v.erase(std::remove_if(v.begin(), v.end(), [&](const Attribute& a) {
                return !a.is_vsa() && a.type() == type && a.tag(f) == tag;
            }),
            v.end());
}
void remove_vsa(Radius& r, std::uint8_t vt) {
    auto& v = r.attributes();
    v.erase(std::remove_if(v.begin(), v.end(), [&](const Attribute& a) { return a.is_vsa() && a.vendor_type() == vt; }),
            v.end());
}

class DialOutDeny : public ::testing::TestWithParam<DenyCase> {};

// req: T75.service-type, T75.tunnel-attributes
TEST_P(DialOutDeny, NamesTheProblem) {
    Radius a = good_accept();
    GetParam().mutate(a);
    auto d = decode_dialout_accept(a, "sec", kReqAuth);
    EXPECT_FALSE(d.ok());
    ASSERT_FALSE(d.problems.empty());
    EXPECT_NE(std::find(d.problems.begin(), d.problems.end(), GetParam().problem), d.problems.end())
        << "got: " << d.problems[0];
}

INSTANTIATE_TEST_SUITE_P(
    Table75, DialOutDeny,
    ::testing::Values(
        DenyCase{"service_type_missing", [](Radius& r) { r.remove(AttributeType::Service_Type); }, "Service-Type missing (must be Outbound (5))"},
        DenyCase{"service_type_framed",
                 [](Radius& r) { r.remove(AttributeType::Service_Type); r.add_integer(AttributeType::Service_Type, 2); },
                 "Service-Type is 2, must be Outbound (5)"},
        DenyCase{"no_tunnel_attributes",
                 [](Radius& r) { for (std::uint8_t ty : {64, 65, 67, 69, 82, 83, 90, 91}) r.remove(ty); },
                 "tunnel attributes missing (Tunnel-Type, Tunnel-Medium-Type, Tunnel-Server-Endpoint)"},
        DenyCase{"tunnel_type_missing", [](Radius& r) { remove_tagged(r, AttributeType::Tunnel_Type, 1); }, "tag 1: Tunnel-Type missing"},
        DenyCase{"tunnel_type_pptp",
                 [](Radius& r) { remove_tagged(r, AttributeType::Tunnel_Type, 2); r.add_integer(AttributeType::Tunnel_Type, 1, 2); },
                 "tag 2: Tunnel-Type is 1, must be L2TP (3)"},
        DenyCase{"medium_missing", [](Radius& r) { remove_tagged(r, AttributeType::Tunnel_Medium_Type, 1); }, "tag 1: Tunnel-Medium-Type missing"},
        DenyCase{"medium_ipv6",
                 [](Radius& r) { remove_tagged(r, AttributeType::Tunnel_Medium_Type, 1); r.add_integer(AttributeType::Tunnel_Medium_Type, 2, 1); },
                 "tag 1: Tunnel-Medium-Type is 2, must be IPv4 (1)"},
        DenyCase{"server_endpoint_missing", [](Radius& r) { remove_tagged(r, AttributeType::Tunnel_Server_Endpoint, 2); },
                 "tag 2: Tunnel-Server-Endpoint missing"},
        DenyCase{"dial_out_number_missing", [](Radius& r) { remove_vsa(r, 35); }, "ERX-Dial-Out-Number missing"},
        DenyCase{"auth_protocol_out_of_range",
                 [](Radius& r) { remove_vsa(r, 38); r.add_integer(ErxAttribute::PPP_Auth_Protocol, 7); },
                 "ERX-PPP-Auth-Protocol is 7, must be 0..4"},
        DenyCase{"bearer_out_of_range",
                 [](Radius& r) { remove_vsa(r, 41); r.add_integer(ErxAttribute::Bearer_Type, 3); },
                 "ERX-Bearer-Type is 3, must be 0..2"},
        DenyCase{"min_above_max",
                 [](Radius& r) { remove_vsa(r, 39); r.add_integer(ErxAttribute::Minimum_BPS, 128000); },
                 "ERX-Minimum-BPS 128000 above ERX-Maximum-BPS 64000"},
        DenyCase{"not_accept", [](Radius& r) { r.code(Code::Access_Reject); }, "not an Access-Accept but Access-Reject"}),
    [](const ::testing::TestParamInfo<DenyCase>& pinfo) { return std::string(pinfo.param.name); });

// req: T75.service-type, T75.tunnel-attributes
TEST(DialOutDecode, BadTunnelPasswordIsAProblem) {
    Radius a = good_accept();
    remove_tagged(a, AttributeType::Tunnel_Password, 1);
    const std::vector<std::uint8_t> v{1, 0x80, 0x01, 5};  // tag, salt, 1 octet: too short
    a.add(Attribute(static_cast<std::uint8_t>(AttributeType::Tunnel_Password), v));
    auto d = decode_dialout_accept(a, "sec", kReqAuth);
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.problems.size(), 1u);
    EXPECT_EQ(d.problems[0].rfind("tag 1: Tunnel-Password cannot be decrypted", 0), 0u) << d.problems[0];
}

// --- PPP authorisation -------------------------------------------------------------------------

TEST(FramedRoute, Parse) {
    auto r = parse_framed_route("10.20.0.0/16 192.0.2.1 5");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->prefix.to_string(), "10.20.0.0/16");
    EXPECT_EQ(r->gateway->to_string(), "192.0.2.1");
    EXPECT_EQ(r->metric, 5u);
    r = parse_framed_route("  10.1.2.3  ");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->prefix.length, 32);
    EXPECT_FALSE(r->gateway);
    EXPECT_FALSE(r->metric);
    r = parse_framed_route("10.20.0.0/16 0.0.0.0 1 2 3");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->metric, 1u);
    for (const char* bad : {"", "   ", "10.20.0.0/33", "10.20.0/16", "10.0.0.0/8 gw", "10.0.0.0/8 1.2.3.4 x",
                            "10.0.0.0/8 1.2.3.4 99999999999", "300.1.1.1"})
        EXPECT_FALSE(parse_framed_route(bad)) << bad;
}

TEST(PppAuthorisationDecode, AllAttributes) {
    Radius a(Code::Access_Accept, 3);
    a.add_ipaddr(AttributeType::Framed_IP_Address, {10, 0, 0, 2});
    a.add_ipaddr(AttributeType::Framed_IP_Netmask, {255, 255, 255, 255});
    a.add_string(AttributeType::Framed_Route, "10.20.0.0/16 0.0.0.0 1");
    a.add_string(AttributeType::Framed_Route, "10.30.0.0/24");
    a.add_integer(AttributeType::Session_Timeout, 3600);
    a.add_integer(AttributeType::Idle_Timeout, 600);
    a.add_integer(AttributeType::Acct_Interim_Interval, 900);  // RFC 2869 §5.16
    a.add_string(AttributeType::Class, "c1");
    auto d = decode_ppp_authorisation(a);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d.value->framed_ip->to_string(), "10.0.0.2");
    EXPECT_EQ(d.value->framed_netmask->to_string(), "255.255.255.255");
    ASSERT_EQ(d.value->routes.size(), 2u);
    EXPECT_EQ(d.value->routes[1].prefix.to_string(), "10.30.0.0/24");
    EXPECT_EQ(d.value->session_timeout, 3600u);
    EXPECT_EQ(d.value->idle_timeout, 600u);
    EXPECT_EQ(d.value->acct_interim_interval, 900u);
    ASSERT_EQ(d.value->classes.size(), 1u);
    EXPECT_EQ(d.value->classes[0], (std::vector<std::uint8_t>{'c', '1'}));
}

TEST(PppAuthorisationDecode, ProblemsNamed) {
    Radius a(Code::Access_Accept, 3);
    a.add_string(AttributeType::Framed_Route, "junk");
    const std::vector<std::uint8_t> three{1, 2, 3};
    a.add(Attribute(static_cast<std::uint8_t>(AttributeType::Framed_IP_Address), three));
    a.add(Attribute(static_cast<std::uint8_t>(AttributeType::Session_Timeout), three));
    a.add(Attribute(static_cast<std::uint8_t>(AttributeType::Acct_Interim_Interval), three));
    auto d = decode_ppp_authorisation(a);
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.problems, (std::vector<std::string>{"Framed-IP-Address is not 4 octets",
                                                    "Framed-Route 'junk' is not 'prefix [gateway [metric]]'",
                                                    "Session-Timeout is not 4 octets",
                                                    "Acct-Interim-Interval is not 4 octets"}));
}

}  // namespace

// Each request's attribute list is allocated once (kReserveAttributes), not doubled from one
// attribute up (5 allocations, each copying the 264-octet Attributes so far).
TEST(Builders, RequestsAllocateTheirAttributeListOnce) {
    PppAuthRequest q;
    q.method = PppAuthRequest::Method::chap;
    q.user_name = "cpe-0001@isp.example";
    q.chap_ident = 7;
    q.chap_challenge.assign(16, 0x42);
    q.calling_station_id = "0049301234567";
    q.called_station_id = "0049309876543";
    q.nas_port = 17;
    AccountingRecord a;
    a.session_id = "0000000000000042";
    a.user_name = q.user_name;
    a.framed_ip = *core::Ipv4Address::parse("10.1.2.3");
    (void)build_ppp_access_request(q, kNas);  // warm-up: the attribute registry's index is built once
    (void)build_accounting_request(a, kNas);
    std::uint64_t n = dl::testing::allocations();
    PreparedRequest p = build_ppp_access_request(q, kNas);
    EXPECT_EQ(dl::testing::allocations() - n, 1u) << "PPP Access-Request of " << p.packet.attributes().size() << " attributes";
    n = dl::testing::allocations();
    Radius d = build_dialout_access_request("site-0001", kNas);
    EXPECT_EQ(dl::testing::allocations() - n, 1u) << "dial-out Access-Request of " << d.attributes().size() << " attributes";
    n = dl::testing::allocations();
    Radius acct = build_accounting_request(a, kNas);
    EXPECT_EQ(dl::testing::allocations() - n, 1u) << "Accounting-Request of " << acct.attributes().size() << " attributes";
    n = dl::testing::allocations();
    add_message_authenticator(p.packet);  // the client's addition still fits
    EXPECT_EQ(dl::testing::allocations() - n, 0u);
}
