// Cross-check with Wireshark's dissector: a corpus of every message type (all AVPs, one hidden),
// a ZLB and data messages with and without Ns/Nr, Offset and Length, written to a pcap with
// libtins and read back with `tshark -T fields`. No malformed / error / warning expert items, and
// the key fields must equal what was built.
#include <gtest/gtest.h>
#include <tins/ethernetII.h>
#include <tins/ip.h>
#include <tins/packet_writer.h>
#include <tins/rawpdu.h>
#include <tins/udp.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "dl/l2tp/builders.hpp"
#include "dl/testing/bytes.hpp"
#include "dl/testing/tshark.hpp"
#include "full_messages.hpp"

namespace dl::l2tp {
namespace {

using dl::testing::have_tshark;
using dl::testing::hex;
using dl::testing::run;
using dl::testing::split;

// req: L2TP.header, L2TP.avp, L2TP.hidden
TEST(Tshark, CorpusDecodesCleanly) {
    if (!have_tshark()) GTEST_SKIP() << "tshark not on PATH";
    std::vector<L2TP> corpus = test::all_messages_full();
    // OCRQ with a hidden Called Number (and the Random Vector it needs)
    {
        L2TP m = corpus[5];
        m.set_hidden(AvpType::CalledNumber);
        m.set_hidden(AvpType::CallSerialNumber);
        m.set_hiding("secret");
        corpus.push_back(m);
    }
    corpus.push_back(make_zlb(0x2222, 0, 8, 7));
    const auto lcp_echo = hex("ff 03 c0 21 09 01 00 08 00 00 00 00");
    corpus.push_back(make_data(0x2222, 0x0066, lcp_echo));
    corpus.push_back(make_data(0x2222, 0x0066, lcp_echo, std::uint16_t{1}, std::uint16_t{0}));
    DataOptions all;
    all.ns_nr = std::make_pair<std::uint16_t, std::uint16_t>(2, 0);
    all.length = true;
    all.offset_pad = hex("00 00 00 00");
    all.priority = true;
    corpus.push_back(make_data(0x2222, 0x0066, lcp_echo, all));
    DataOptions len_only;
    len_only.length = true;
    corpus.push_back(make_data(0x2222, 0x0066, lcp_echo, len_only));

    char tmpl[] = "/tmp/dl_l2tp_tshark_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    const std::string dir = tmpl;
    const std::string pcap = dir + "/corpus.pcap";
    {
        Tins::PacketWriter w(pcap, Tins::DataLinkType<Tins::EthernetII>());
        for (const auto& m : corpus) {
            Tins::EthernetII pkt = Tins::EthernetII() / Tins::IP("198.51.100.2", "198.51.100.1") /
                                   Tins::UDP(kUdpPort, kUdpPort) / m;
            w.write(pkt);
        }
    }
    const std::string out =
        run("tshark -r " + pcap +
            " -T fields -E separator='|' -E occurrence=a -E aggregator=, -e frame.number -e l2tp.type"
            " -e l2tp.tunnel -e l2tp.session -e l2tp.Ns -e l2tp.Nr -e l2tp.avp.message_type"
            " -e l2tp.avp.hidden -e l2tp.avp.assigned_tunnel_id -e l2tp.avp.assigned_session_id"
            " -e l2tp.avp.called_number -e _ws.malformed -e _ws.expert.severity -e _ws.expert.message"
            " -e ppp.protocol 2>&1");
    if (std::getenv("DL_L2TP_KEEP_PCAP") == nullptr) {
        std::filesystem::remove_all(dir);
    } else {
        std::printf("kept %s\n", pcap.c_str());
    }

    std::map<std::size_t, std::vector<std::string>> rows;
    for (const auto& line : split(out, '\n')) {
        auto f = split(line, '|');
        if (f.size() < 15 || f[0].empty() || !std::isdigit(static_cast<unsigned char>(f[0][0]))) continue;
        rows[std::stoul(f[0])] = f;
    }
    ASSERT_EQ(rows.size(), corpus.size()) << out;
    for (std::size_t i = 0; i < corpus.size(); ++i) {
        const L2TP& m = corpus[i];
        const auto& f = rows[i + 1];
        SCOPED_TRACE("frame " + std::to_string(i + 1) + ": " + (m.is_data() ? "data" : m.is_zlb() ? "ZLB" :
                     std::string(message_name(*m.message_type()))));
        EXPECT_TRUE(f[11].empty()) << "malformed: " << f[11];
        // severity: 0x00800000 error, 0x00600000 warning
        for (const auto& sev : split(f[12], ',')) {
            if (sev.empty()) continue;
            const auto s = std::stoul(sev, nullptr, 0);
            EXPECT_LT(s, 0x00600000u) << "expert item: " << f[13];
        }
        EXPECT_EQ(f[1], m.is_control() ? "1" : "0");
        EXPECT_EQ(std::stoul(f[2]), m.tunnel_id());
        EXPECT_EQ(std::stoul(f[3]), m.session_id());
        if (m.has_sequence()) {
            EXPECT_EQ(std::stoul(f[4]), m.ns());
            if (m.is_control()) {
                EXPECT_EQ(std::stoul(f[5]), m.nr());
            }
        }
        if (m.is_data()) {
            EXPECT_EQ(f[14], "0xc021") << "PPP inside not found";
            continue;
        }
        if (m.is_zlb()) {
            EXPECT_TRUE(f[6].empty());
            continue;
        }
        EXPECT_EQ(std::stoul(f[6]), *m.message_type());
        const bool any_hidden = std::any_of(m.avps().begin(), m.avps().end(), [](const Avp& a) { return a.hidden(); });
        EXPECT_EQ(f[7].find("1") != std::string::npos, any_hidden) << f[7];
        if (auto t = m.assigned_tunnel_id()) {
            EXPECT_EQ(std::stoul(f[8]), *t);
        }
        if (m.find(AvpType::AssignedSessionId) && !m.find(AvpType::AssignedSessionId)->hidden()) {
            EXPECT_EQ(std::stoul(f[9]), *m.assigned_session_id());
        }
        if (m.find(AvpType::CalledNumber) && !m.find(AvpType::CalledNumber)->hidden()) {
            EXPECT_EQ(f[10], *m.called_number());
        }
    }
}

}  // namespace
}  // namespace dl::l2tp
