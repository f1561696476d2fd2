// Real PPP from a public capture: jnetpcap_test-l2tp.pcap (L2TP over UDP 1701 carrying PPP with
// Address/Control). L2TP data-message headers are skipped by hand (RFC 2661 §3.1) so that this
// test does not depend on proto/l2tp. Every LCP/PAP/IPCP/CHAP packet must parse and re-serialise
// byte-exact.
#include <gtest/gtest.h>
#include <tins/ip.h>  // PPP::ipv4() returns a Tins::IP

#include <map>
#include <optional>

#include "dl/ppp/auth.hpp"
#include "dl/ppp/control.hpp"
#include "dl/ppp/ppp.hpp"
#include "dl/testing/bytes.hpp"
#include "dl/testing/capture.hpp"

namespace dl::ppp {
namespace {

using dl::testing::Bytes;

/// Returns the PPP bytes of an L2TP data message, or nullopt for control messages / junk.
std::optional<Bytes> l2tp_data_payload(const Bytes& p) {
    if (p.size() < 6) return std::nullopt;
    const std::uint8_t f = p[0];
    if (f & 0x80) return std::nullopt;        // T bit: control message
    if ((p[1] & 0x0f) != 2) return std::nullopt;  // Ver 2 (RFC 2661 §3.1)
    std::size_t end = p.size();
    std::size_t off = 2;
    if (f & 0x40) {  // L bit: Length present
        end = std::min<std::size_t>(end, (std::size_t{p[2]} << 8) | p[3]);
        off += 2;
    }
    off += 4;                 // Tunnel ID, Session ID
    if (f & 0x08) off += 4;   // S bit: Ns, Nr
    if (f & 0x02) {           // O bit: Offset Size + padding
        if (off + 2 > end) return std::nullopt;
        off += 2 + ((std::size_t{p[off]} << 8) | p[off + 1]);
    }
    if (off > end) return std::nullopt;
    return Bytes(p.begin() + static_cast<std::ptrdiff_t>(off), p.begin() + static_cast<std::ptrdiff_t>(end));
}

TEST(Capture, JnetpcapL2tpPppParsesAndReserialisesByteExact) {
    std::map<std::uint16_t, int> counts;
    int data_messages = 0;
    bool saw_pap_markw = false, saw_protocol_reject = false, saw_identification = false;
    for (const auto& d : dl::testing::read_udp(DL_SHARED_DIR "/captures/jnetpcap_test-l2tp.pcap", {1701})) {
        auto payload = l2tp_data_payload(d.payload);
        if (!payload) continue;
        ++data_messages;
        SCOPED_TRACE("frame " + std::to_string(d.frame));
        ASSERT_GE(payload->size(), 2u);
        EXPECT_EQ((*payload)[0], 0xff);  // this LAC sends Address/Control
        EXPECT_EQ((*payload)[1], 0x03);
        std::optional<PPP> ppp;
        ASSERT_NO_THROW(ppp.emplace(PPP::from_hdlc_payload(*payload)));
        const Bytes body(payload->begin() + 2, payload->end());
        const std::uint16_t proto = ppp->protocol();
        ++counts[proto];
        if (proto == kProtoLCP || proto == kProtoIPCP || proto == kProtoPAP || proto == kProtoCHAP) {
            EXPECT_EQ(ppp->serialize(), body) << "not byte-exact";
            EXPECT_EQ(ppp->inner_pdu()->serialize(), Bytes(body.begin() + 2, body.end()));
        }
        if (auto* pap = ppp->find_pdu<PAP>(); pap && pap->code() == PapCode::authenticate_request) {
            saw_pap_markw = pap->peer_id() == "markw" && pap->password() == "qwerty";
        }
        if (auto* lcp = ppp->find_pdu<LCP>()) {
            if (lcp->code() == static_cast<std::uint8_t>(CpCode::protocol_reject)) {
                saw_protocol_reject = lcp->rejected_protocol() == kProtoCCP;
            }
            if (lcp->code() == static_cast<std::uint8_t>(CpCode::identification))
                saw_identification = true;
            EXPECT_TRUE(lcp->known_code());
        }
        if (proto == kProtoIPv4) {
            auto ip = ppp->ipv4();
            ASSERT_TRUE(ip);
        }
    }
    // Counts cross-checked with tshark: 150 L2TP data messages; 22 LCP, 10 IPCP, 2 PAP.
    EXPECT_EQ(data_messages, 150);
    EXPECT_EQ(counts[kProtoLCP], 22);
    EXPECT_EQ(counts[kProtoIPCP], 10);
    EXPECT_EQ(counts[kProtoPAP], 2);
    EXPECT_GT(counts[kProtoIPv4], 50);
    EXPECT_TRUE(saw_pap_markw);
    EXPECT_TRUE(saw_protocol_reject);
    EXPECT_TRUE(saw_identification);
}

}  // namespace
}  // namespace dl::ppp
