// Cross-check with tshark: PPP frames written to a pcap with link type DLT_PPP (9) must decode
// without malformed/expert errors and with the field values we built. The pcap header is written
// by hand (libtins' PacketWriter has no DataLinkType for DLT_PPP).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "dl/ppp/auth.hpp"
#include "dl/ppp/control.hpp"
#include "dl/ppp/hdlc.hpp"
#include "dl/ppp/ppp.hpp"
#include "dl/testing/bytes.hpp"
#include "dl/testing/tshark.hpp"

namespace dl::ppp {
namespace {

using dl::testing::Bytes;
using dl::testing::cat;
using dl::testing::have_tshark;
using dl::testing::hex;
using dl::testing::lines;
using dl::testing::run;
using dl::testing::str;
using dl::testing::write_pcap;
namespace fs = std::filesystem;

Bytes with_ac(PPP& p) {
    return cat(Bytes{0xff, 0x03}, p.serialize());
}

class TsharkCrossCheck : public ::testing::Test {
protected:
    void SetUp() override {
        if (!have_tshark()) GTEST_SKIP() << "tshark not on PATH";
        dir_ = fs::temp_directory_path() / ("dl_ppp_tshark_" + std::to_string(::getpid()));
        fs::create_directories(dir_);
    }
    void TearDown() override {
        std::error_code ec;
        if (!dir_.empty()) fs::remove_all(dir_, ec);
    }
    fs::path dir_;
};

// req: PPP.lcp, PPP.pap, PPP.chap, PPP.ipcp, PPP.hdlc
TEST_F(TsharkCrossCheck, LcpPapChapIpcpFields) {
    std::vector<Bytes> frames;
    {
        LCP l(CpCode::configure_request, 1);
        l.mru(1492);
        l.accm(0);
        l.auth_chap_md5();
        l.magic_number(0x12345678);
        l.pfc(true);
        l.acfc(true);
        PPP p;
        p /= l;
        frames.push_back(with_ac(p));
    }
    {
        PAP a(PapCode::authenticate_request, 2);
        a.peer_id("markw");
        a.password("qwerty");
        PPP p;
        p /= a;
        frames.push_back(with_ac(p));
    }
    {
        CHAP c(ChapCode::challenge, 3);
        c.value(hex("0123456789abcdeffedcba9876543210"));
        c.name("LNS1");
        PPP p;
        p /= c;
        frames.push_back(with_ac(p));
    }
    {
        IPCP i(CpCode::configure_nak, 4);
        i.ip_address(0x0a000001);
        i.primary_dns(0xc0000235);
        i.secondary_dns(0xc6336435);
        PPP p;
        p /= i;
        frames.push_back(with_ac(p));
    }
    {
        LCP e(CpCode::echo_request, 5);
        e.magic_number(0xcafebabe);
        e.echo_data(str("ping"));
        PPP p;
        p /= e;
        frames.push_back(with_ac(p));
    }
    {
        LCP r(CpCode::configure_request, 6);
        r.protocol_reject(kProtoCCP, hex("01 01 00 04"));
        PPP p;
        p /= r;
        frames.push_back(with_ac(p));
    }
    const fs::path pcap = dir_ / "ppp.pcap";
    write_pcap(pcap, 9 /* DLT_PPP */, frames);

    const std::string json = run("tshark -r " + pcap.string() + " -T json 2>&1");
    ASSERT_FALSE(json.empty());
    EXPECT_EQ(json.find("_ws.malformed"), std::string::npos) << json;
    EXPECT_EQ(json.find("_ws.expert"), std::string::npos) << json;

    const std::string f = run(
        "tshark -r " + pcap.string() +
        " -T fields -E separator='|' -E occurrence=f -e ppp.protocol -e lcp.opt.mru"
        " -e lcp.opt.asyncmap -e lcp.opt.auth_protocol -e lcp.opt.algorithm -e lcp.opt.magic_number"
        " -e pap.peer_id -e pap.password -e chap.value -e chap.name -e ipcp.opt.ip_address"
        " -e ipcp.opt.pri_dns_address -e ipcp.opt.sec_dns_address -e lcp.magic_number"
        " -e lcp.rej_proto 2>/dev/null");
    const auto l = lines(f);
    ASSERT_EQ(l.size(), frames.size()) << f;
    EXPECT_EQ(l[0], "0xc021|1492|0x00000000|0xc223|5|0x12345678|||||||||") << f;
    EXPECT_EQ(l[1], "0xc023||||||markw|qwerty|||||||") << f;
    EXPECT_EQ(l[2], "0xc223||||||||0123456789abcdeffedcba9876543210|LNS1|||||") << f;
    EXPECT_EQ(l[3], "0x8021||||||||||10.0.0.1|192.0.2.53|198.51.100.53||") << f;
    EXPECT_EQ(l[4], "0xc021|||||||||||||0xcafebabe|") << f;
    EXPECT_EQ(l[5], "0xc021||||||||||||||0x80fd") << f;
}

// req: PPP.lcp, PPP.pap, PPP.chap, PPP.ipcp, PPP.hdlc
TEST_F(TsharkCrossCheck, SyncFramesHaveGoodFcs16AndFcs32) {
    // encode_sync output (Address, Control, PPP, FCS) under DLT_PPP with tshark's FCS preference.
    LCP e(CpCode::echo_request, 7);
    e.magic_number(0x01020304);
    e.echo_data(str("fcs"));
    PPP p;
    p /= e;
    const Bytes ppp = p.serialize();
    const fs::path p16 = dir_ / "fcs16.pcap", p32 = dir_ / "fcs32.pcap";
    write_pcap(p16, 9, {encode_sync(ppp)});
    SyncOptions o;
    o.fcs32 = true;
    write_pcap(p32, 9, {encode_sync(ppp, o)});
    Bytes bad = encode_sync(ppp);
    bad.back() ^= 0x01;
    const fs::path pbad = dir_ / "bad16.pcap";
    write_pcap(pbad, 9, {bad});
    const std::string a = run("tshark -o ppp.fcs_type:16-Bit -r " + p16.string() +
                              " -T fields -e ppp.fcs.status -e lcp.magic_number 2>/dev/null");
    const std::string b = run("tshark -o ppp.fcs_type:32-Bit -r " + p32.string() +
                              " -T fields -e ppp.fcs.status -e lcp.magic_number 2>/dev/null");
    const std::string c = run("tshark -o ppp.fcs_type:16-Bit -r " + pbad.string() +
                              " -T fields -e ppp.fcs.status 2>/dev/null");
    // ppp.fcs.status: 1 = Good, 0 = Bad (Wireshark proto_checksum_enum_e).
    EXPECT_EQ(a, "1\t0x01020304\n") << a;
    EXPECT_EQ(b, "1\t0x01020304\n") << b;
    EXPECT_EQ(c, "0\n") << c;
}

}  // namespace
}  // namespace dl::ppp
