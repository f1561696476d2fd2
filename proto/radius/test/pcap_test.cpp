// Every RADIUS packet of the public captures parses and re-serialises byte-exact.
#include "dl/radius/radius.hpp"
#include "dl/proto/errors.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>

using namespace dl::radius;
using dl::radius::test::radius_datagrams;

namespace {

struct Result {
    int packets = 0;   // parsed and re-serialised byte-exact
    int rejected = 0;  // ParseError
    std::map<int, int> codes;
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
    for (const auto& d : radius_datagrams(path)) {
        try {
            Radius p(d.payload.data(), static_cast<std::uint32_t>(d.payload.size()));
            const std::size_t len = (std::size_t{d.payload[2]} << 8) | d.payload[3];
            const std::vector<std::uint8_t> want(d.payload.begin(), d.payload.begin() + len);
            EXPECT_EQ(p.serialize(), want) << name << " frame " << d.frame;
            ++r.packets;
            ++r.codes[static_cast<int>(p.code())];
        } catch (const dl::proto::ParseError& e) {
            ++r.rejected;
            if (!allow_malformed) ADD_FAILURE() << name << " frame " << d.frame << ": " << e.what();
            else if (std::getenv("DL_RADIUS_VERBOSE")) std::printf("frame %zu: %s\n", d.frame, e.what());
        }
    }
    return r;
}

}  // namespace

// req: RADIUS.packet
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

// req: RADIUS.packet
TEST(Captures, Arkime) { EXPECT_EQ(check_capture("arkime_radius.pcap").packets, 2); }

// req: RADIUS.packet
TEST(Captures, NdpiWlanRadius) {
    auto r = check_capture("ndpi_fuzz-2020-02-16-11740.pcap", true);
    // A fuzzing corpus: 142 RADIUS-port datagrams are well-formed, 146 break RFC 2865 §3/§5
    // (Wireshark 4.0 flags each of those as malformed or does not take it for RADIUS;
    // TsharkCrossCheck.NdpiCleanPacketsAccepted checks every packet it decodes cleanly parses here).
    EXPECT_EQ(r.packets, 142);
    EXPECT_EQ(r.rejected, 146);
    for (int c : {1, 2, 3, 4, 5, 11}) EXPECT_GT(r.codes[c], 0) << c;
}
