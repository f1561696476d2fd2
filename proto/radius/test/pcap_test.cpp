// Every RADIUS packet of the public captures parses and re-serialises byte-exact.
#include "dl/radius/radius.hpp"
#include "dl/proto/errors.hpp"

#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <tins/tins.h>

#include <filesystem>
#include <cstdio>
#include <cstdlib>
#include <map>

using namespace dl::radius;

namespace {

bool radius_port(std::uint16_t p) {
    return p == 1812 || p == 1813 || p == 1645 || p == 1646 || p == 3799;
}

struct Result {
    int packets = 0;                 // parsed and re-serialised byte-exact
    int rejected = 0;                // ParseError
    int frames = 0;
    std::map<int, int> codes;
    std::vector<int> rejected_frames;
};

// `allow_malformed`: the capture holds corrupted packets (a fuzzing corpus); those must be
// rejected with ParseError, never crash; the well-formed ones must round-trip.
Result check_capture(const std::string& name, bool allow_malformed = false) {
    Result r;
    const std::string path = std::string(DL_SHARED_DIR) + "/captures/" + name;
    if (!std::filesystem::exists(path)) {
        ADD_FAILURE() << "missing " << path;
        return r;
    }
    Tins::FileSniffer sniffer(path);
    // Raw frames, decoded here: libtins would otherwise skip frames it cannot decode, and the
    // frame numbers would no longer match Wireshark's.
    sniffer.set_extract_raw_pdus(true);
    int frame = 0;
    sniffer.sniff_loop([&](Tins::PDU& frame_pdu) {
        ++frame;
        const auto& bytes = static_cast<Tins::RawPDU&>(frame_pdu).payload();
        std::unique_ptr<Tins::PDU> pdu;
        try {
            const auto n = static_cast<std::uint32_t>(bytes.size());
            if (sniffer.link_type() == DLT_LINUX_SLL) pdu = std::make_unique<Tins::SLL>(bytes.data(), n);
            else pdu = std::make_unique<Tins::EthernetII>(bytes.data(), n);
        } catch (const Tins::malformed_packet&) {
            return true;  // not a decodable Ethernet/IP/UDP frame
        }
        const auto* udp = pdu->find_pdu<Tins::UDP>();
        const auto* raw = pdu->find_pdu<Tins::RawPDU>();
        if (!udp || !raw || !(radius_port(udp->sport()) || radius_port(udp->dport()))) return true;
        const auto& payload = raw->payload();
        try {
            Radius p(payload.data(), static_cast<std::uint32_t>(payload.size()));
            const std::size_t len = (std::size_t{payload[2]} << 8) | payload[3];
            const std::vector<std::uint8_t> want(payload.begin(), payload.begin() + len);
            EXPECT_EQ(p.serialize(), want) << name << " frame " << frame;
            ++r.packets;
            ++r.codes[static_cast<int>(p.code())];
        } catch (const dl::proto::ParseError& e) {
            ++r.rejected;
            r.rejected_frames.push_back(frame);
            if (!allow_malformed) ADD_FAILURE() << name << " frame " << frame << ": " << e.what();
            else if (std::getenv("DL_RADIUS_VERBOSE")) std::printf("frame %d: %s\n", frame, e.what());
        }
        return true;
    });
    r.frames = frame;
    return r;
}

}  // namespace

TEST(Captures, TcpdumpRadius) {
    EXPECT_EQ(check_capture("tcpdump_RADIUS.pcap").packets, 4);
    EXPECT_EQ(check_capture("tcpdump_RADIUS-RFC3162.pcap").packets, 1);
    EXPECT_EQ(check_capture("tcpdump_RADIUS-RFC5580.pcap").packets, 1);
    auto tagged = check_capture("tcpdump_RADIUS-RFC4675.pcap");
    EXPECT_EQ(tagged.packets, 6);
    auto coa = check_capture("tcpdump_RADIUS-RFC5176.pcap");
    EXPECT_EQ(coa.packets, 6);
    for (int c : {40, 41, 42, 43, 44, 45}) EXPECT_EQ(coa.codes[c], 1) << c;
}

TEST(Captures, Arkime) { EXPECT_EQ(check_capture("arkime_radius.pcap").packets, 2); }

TEST(Captures, NdpiWlanRadius) {
    auto r = check_capture("ndpi_fuzz-2020-02-16-11740.pcap", true);
    EXPECT_EQ(r.frames, 366);
    // A fuzzing corpus: 142 RADIUS-port datagrams are well-formed, 146 break RFC 2865 §3/§5
    // (Wireshark 4.0 flags every one of those 146 as malformed too; TsharkCrossCheck.Ndpi checks
    // that every packet Wireshark decodes cleanly is accepted here).
    EXPECT_EQ(r.packets, 142);
    EXPECT_EQ(r.rejected, 146);
    for (int c : {1, 2, 3, 4, 5, 11}) EXPECT_GT(r.codes[c], 0) << c;
}
