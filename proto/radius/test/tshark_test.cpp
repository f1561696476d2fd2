// Cross-check with Wireshark: packets built here, written to a pcap inside Ethernet/IPv4/UDP,
// must decode in tshark without malformed / error-level expert items and with the same values.
#include "dl/radius/auth.hpp"
#include "dl/radius/radius.hpp"
#include "dl/proto/errors.hpp"
#include "dl/testing/tshark.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>
#include <tins/tins.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

using namespace dl::radius;

namespace {

using dl::testing::have_tshark;
using dl::testing::run;

using Row = std::map<std::string, std::string>;

// Runs tshark -T fields over `pcap` and returns one map field -> value(s) per frame.
std::vector<Row> tshark_fields(const std::string& pcap, const std::vector<std::string>& fields,
                               const std::string& extra = {}) {
    std::string cmd = "tshark -n -r '" + pcap + "' " + extra +
                      " -T fields -E occurrence=a -E aggregator=, -E separator=/t";
    for (const auto& f : fields) cmd += " -e " + f;
    cmd += " 2>/dev/null";
    std::vector<Row> rows;
    std::istringstream in(run(cmd));
    std::string line;
    while (std::getline(in, line)) {
        Row r;
        std::size_t start = 0;
        for (const auto& f : fields) {
            std::size_t tab = line.find('\t', start);
            if (tab == std::string::npos) tab = line.size();
            r[f] = line.substr(start, tab - start);
            start = tab + 1;
        }
        rows.push_back(std::move(r));
    }
    return rows;
}

constexpr const char* kSecret = "testing123";

struct Corpus {
    std::string path;
    std::vector<std::vector<std::uint8_t>> packets;
    std::string tunnel_password_hex;  // Salt + String as sent
};

Corpus write_corpus() {
    namespace fs = std::filesystem;
    Corpus c;
    c.path = (fs::temp_directory_path() / ("dl_radius_tshark_" + std::to_string(::getpid()) + ".pcap")).string();
    Tins::PacketWriter writer(c.path, Tins::DataLinkType<Tins::EthernetII>());
    auto emit = [&](const Radius& pkt, bool to_server, std::uint16_t port) {
        auto bytes = const_cast<Radius&>(pkt).serialize();
        c.packets.push_back(bytes);
        Tins::EthernetII eth = to_server
            ? Tins::EthernetII() / Tins::IP("192.0.2.10", "192.0.2.1") / Tins::UDP(port, 40000) / Tins::RawPDU(bytes)
            : Tins::EthernetII() / Tins::IP("192.0.2.1", "192.0.2.10") / Tins::UDP(40000, port) / Tins::RawPDU(bytes);
        writer.write(eth);
    };

    // 1. Dial-out Access-Request (DESIGN §4 step 2) with Message-Authenticator.
    Radius req(Code::Access_Request, 1);
    req.add_string(AttributeType::User_Name, "0.0.0.0:65000/10.10.1.1@L2TP-dial-out.de.dt");
    req.add_integer(AttributeType::Service_Type, static_cast<std::uint32_t>(ServiceType::Outbound));
    req.add_ipaddr(AttributeType::NAS_IP_Address, {192, 0, 2, 1});
    add_message_authenticator(req);
    sign_request(req, kSecret);
    emit(req, true, 1812);

    // 2. Its Access-Accept: tagged tunnel attributes, Tunnel-Password, ERX 35-41.
    Radius acc(Code::Access_Accept, 1);
    acc.add_integer(AttributeType::Service_Type, 5);
    acc.add_integer(AttributeType::Tunnel_Type, kTunnelTypeL2tp, 1);
    acc.add_integer(AttributeType::Tunnel_Medium_Type, kTunnelMediumIpv4, 1);
    acc.add_string(AttributeType::Tunnel_Server_Endpoint, "198.51.100.2", 1);
    const Attribute& tp = acc.add(tunnel_password_attribute(1, "tunnelsecret", kSecret, req.authenticator()));
    for (std::size_t i = 1; i < tp.value().size(); ++i) {
        char h[3];
        std::snprintf(h, sizeof h, "%02x", tp.value()[i]);
        c.tunnel_password_hex += h;
    }
    EXPECT_EQ(tunnel_password(acc, kSecret, req.authenticator(), 1), "tunnelsecret");
    acc.add_integer(AttributeType::Tunnel_Preference, 10, 1);
    acc.add_string(AttributeType::Tunnel_Assignment_Id, "lac1", 1);
    acc.add_string(AttributeType::Tunnel_Client_Auth_Id, "lns", 1);
    acc.add_string(AttributeType::Tunnel_Server_Auth_Id, "lac", 1);
    acc.add_string(ErxAttribute::Dial_Out_Number, "0301234567");
    acc.add_string(ErxAttribute::PPP_Username, "lns-user");
    acc.add_string(ErxAttribute::PPP_Password, "lns-pass");
    acc.add_integer(ErxAttribute::PPP_Auth_Protocol, 2);
    acc.add_integer(ErxAttribute::Minimum_BPS, 56000);
    acc.add_integer(ErxAttribute::Maximum_BPS, 64000);
    acc.add_integer(ErxAttribute::Bearer_Type, 2);
    add_message_authenticator(acc);
    sign_response(acc, req.authenticator(), kSecret);
    emit(acc, false, 1812);

    // 3. PAP Access-Request (User-Password) and 4. CHAP Access-Request.
    Radius pap(Code::Access_Request, 2);
    pap.authenticator(random_authenticator());
    pap.add_string(AttributeType::User_Name, "cpe");
    add_user_password(pap, "cpe-password", kSecret);
    sign_request(pap, kSecret);
    emit(pap, true, 1812);

    Radius chap(Code::Access_Request, 3);
    chap.authenticator(random_authenticator());
    chap.add_string(AttributeType::User_Name, "cpe");
    const std::vector<std::uint8_t> challenge{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    chap.add_octets(AttributeType::CHAP_Password, chap_password(0x21, "cpe-password", challenge));
    chap.add_octets(AttributeType::CHAP_Challenge, challenge);
    sign_request(chap, kSecret);
    emit(chap, true, 1812);

    // 5. Accounting-Request with Acct-Tunnel-Connection (RFC 2867 §4.1).
    Radius acct(Code::Accounting_Request, 4);
    acct.add_string(AttributeType::User_Name, "0.0.0.0:65000/10.10.1.1@L2TP-dial-out.de.dt");
    acct.add_integer(AttributeType::Acct_Status_Type, 1);
    acct.add_string(AttributeType::Acct_Session_Id, "00000001");
    acct.add_integer(AttributeType::Tunnel_Type, kTunnelTypeL2tp, 0);
    acct.add_string(AttributeType::Acct_Tunnel_Connection, "tunnel 7 session 9 serial 1");
    sign_request(acct, kSecret);
    emit(acct, true, 1813);
    return c;
}

}  // namespace

// req: RADIUS.packet, RADIUS.tunnel, RADIUS.erx
TEST(TsharkCrossCheck, DialOutCorpusDecodesCleanly) {
    if (!have_tshark()) GTEST_SKIP() << "tshark not on PATH";
    Corpus c = write_corpus();
    const std::vector<std::string> f = {
        "frame.number", "radius.code", "radius.id", "radius.length", "_ws.malformed",
        "_ws.expert.severity", "_ws.expert.message", "radius.authenticator.valid",
        "radius.User_Name", "radius.Service_Type", "radius.Tunnel_Type", "radius.Tunnel_Type.tag",
        "radius.Tunnel_Medium_Type", "radius.Tunnel_Server_Endpoint", "radius.Tunnel_Server_Endpoint.tag",
        "radius.Tunnel_Password_encrypted", "radius.Tunnel_Password.tag", "radius.Tunnel_Preference", "radius.Tunnel_Assignment_Id",
        "radius.Tunnel_Client_Auth_Id", "radius.Tunnel_Server_Auth_Id",
        "radius.Unisphere_Tunnel_Dialout_Number", "radius.Unisphere_PPP_Username",
        "radius.Unisphere_PPP_Password", "radius.Unisphere_PPP_Protocol",
        "radius.Unisphere_Tunnel_Min_Bps", "radius.Unisphere_Tunnel_Max_Bps",
        "radius.Unisphere_Tunnel_Bearer_Type", "radius.User_Password", "radius.CHAP_Ident",
        "radius.Acct_Tunnel_Connection", "radius.Acct_Status_Type", "radius.Message_Authenticator"};
    auto rows = tshark_fields(c.path, f,
                              std::string("-o radius.shared_secret:") + kSecret +
                                  " -o radius.validate_authenticator:TRUE");
    ASSERT_EQ(rows.size(), c.packets.size()) << "tshark output rows";
    for (std::size_t i = 0; i < rows.size(); ++i) {
        Row& r = rows[i];
        SCOPED_TRACE("frame " + r["frame.number"]);
        EXPECT_EQ(r["_ws.malformed"], "");
        if (std::getenv("DL_RADIUS_KEEP")) std::printf("kept %s\n", c.path.c_str());
        // Error-level expert items have severity 0x00800000 (PI_ERROR).
        EXPECT_EQ(r["_ws.expert.severity"].find("8388608"), std::string::npos) << r["_ws.expert.message"];
        EXPECT_EQ(r["radius.length"], std::to_string(c.packets[i].size()));
    }
    // 1. Dial-out Access-Request.
    EXPECT_EQ(rows[0]["radius.code"], "1");
    EXPECT_EQ(rows[0]["radius.User_Name"], "0.0.0.0:65000/10.10.1.1@L2TP-dial-out.de.dt");
    EXPECT_EQ(rows[0]["radius.Service_Type"], "5");
    EXPECT_FALSE(rows[0]["radius.Message_Authenticator"].empty());
    // 2. Access-Accept: Wireshark checks the Response Authenticator and decrypts Tunnel-Password.
    Row& a = rows[1];
    EXPECT_EQ(a["radius.code"], "2");
    EXPECT_EQ(a["radius.authenticator.valid"], "1");
    EXPECT_EQ(a["radius.Tunnel_Type"], "3");
    EXPECT_EQ(a["radius.Tunnel_Type.tag"], "0x01");
    EXPECT_EQ(a["radius.Tunnel_Medium_Type"], "1");
    EXPECT_EQ(a["radius.Tunnel_Server_Endpoint"], "198.51.100.2");
    EXPECT_EQ(a["radius.Tunnel_Server_Endpoint.tag"], "0x01");
    EXPECT_EQ(a["radius.Tunnel_Password.tag"], "0x01");
    // Wireshark 4.0 shows Tunnel-Password as Salt + String without decrypting it.
    EXPECT_EQ(a["radius.Tunnel_Password_encrypted"], c.tunnel_password_hex);
    EXPECT_EQ(a["radius.Tunnel_Preference"], "10");
    EXPECT_EQ(a["radius.Tunnel_Assignment_Id"], "lac1");
    EXPECT_EQ(a["radius.Tunnel_Client_Auth_Id"], "lns");
    EXPECT_EQ(a["radius.Tunnel_Server_Auth_Id"], "lac");
    EXPECT_EQ(a["radius.Unisphere_Tunnel_Dialout_Number"], "0301234567");
    EXPECT_EQ(a["radius.Unisphere_PPP_Username"], "lns-user");
    EXPECT_EQ(a["radius.Unisphere_PPP_Password"], "lns-pass");
    EXPECT_EQ(a["radius.Unisphere_PPP_Protocol"], "2");
    EXPECT_EQ(a["radius.Unisphere_Tunnel_Min_Bps"], "56000");
    EXPECT_EQ(a["radius.Unisphere_Tunnel_Max_Bps"], "64000");
    EXPECT_EQ(a["radius.Unisphere_Tunnel_Bearer_Type"], "2");
    // 3. PAP: Wireshark unhides User-Password with the shared secret.
    EXPECT_EQ(rows[2]["radius.User_Password"], "cpe-password");
    // 4. CHAP.
    EXPECT_EQ(rows[3]["radius.CHAP_Ident"], "0x21");
    // 5. Accounting-Request: Wireshark checks the Request Authenticator too.
    EXPECT_EQ(rows[4]["radius.code"], "4");
    EXPECT_EQ(rows[4]["radius.Acct_Tunnel_Connection"], "tunnel 7 session 9 serial 1");
    EXPECT_EQ(rows[4]["radius.Acct_Status_Type"], "1");
    // (Wireshark 4.0 validates only response authenticators; verify_request is unit-tested.)
    if (!std::getenv("DL_RADIUS_KEEP")) std::filesystem::remove(c.path);
}

// Every RADIUS packet that Wireshark decodes without a malformed item in the nDPI corpus also
// parses here; and everything rejected here is malformed for Wireshark or not RADIUS to it.
// req: RADIUS.packet, RADIUS.tunnel, RADIUS.erx
TEST(TsharkCrossCheck, NdpiCleanPacketsAccepted) {
    if (!have_tshark()) GTEST_SKIP() << "tshark not on PATH";
    const std::string path = std::string(DL_SHARED_DIR) + "/captures/ndpi_fuzz-2020-02-16-11740.pcap";
    auto rows = tshark_fields(path, {"frame.number", "radius.code", "_ws.malformed"});
    std::set<int> clean, malformed;
    for (auto& r : rows) {
        if (r["radius.code"].empty()) continue;
        (r["_ws.malformed"].empty() ? clean : malformed).insert(std::stoi(r["frame.number"]));
    }
    ASSERT_GT(clean.size(), 100u);
    int accepted_clean = 0;
    for (const auto& d : dl::radius::test::radius_datagrams(path)) {
        bool ok = true;
        try {
            Radius p(d.payload.data(), static_cast<std::uint32_t>(d.payload.size()));
        } catch (const dl::proto::ParseError& e) {
            ok = false;
            EXPECT_FALSE(clean.count(d.frame)) << "frame " << d.frame << " clean in tshark: " << e.what();
        }
        if (ok && clean.count(d.frame)) ++accepted_clean;
    }
    EXPECT_EQ(accepted_clean, static_cast<int>(clean.size()));
}
