// lnsd's data fast path (data_path.hpp, Lns::send_ipv4 / receive): framing golden bytes, received
// data messages (known, unknown, control, malformed, late), sequencing, sendmmsg bursts on a
// loopback socket and no heap allocation per packet (a counting operator new).
#include "dl/lnsd/data_path.hpp"
#include "dl/testing/counting_new.hpp"
#include "loopback_udp.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <random>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "dl/core/clock.hpp"
#include "dl/dataplane/forwarding.hpp"
#include "dl/lnsd/lns.hpp"
#include "dl/lnsd/pass_end.hpp"


using namespace dl;
using lnsd::DataPath;
using Bytes = std::vector<std::uint8_t>;

namespace {

constexpr lnsd::PeerId kLac = (lnsd::PeerId{0x0A000002} << 16) | 1701;  // 10.0.0.2:1701
constexpr DataPath::Key kKey = 42;

/// A 28-octet IPv4/UDP header + payload (contents do not matter to the data path).
Bytes ipv4(std::uint8_t fill, std::size_t payload = 8) {
    Bytes p(28 + payload, fill);
    p[0] = 0x45;
    return p;
}

struct Capture {
    std::vector<std::pair<DataPath::Key, Bytes>> delivered;
    std::vector<std::pair<lnsd::PeerId, Bytes>> sent;
    DataPath path{[this](DataPath::Key k, std::span<const std::uint8_t> f) { delivered.emplace_back(k, Bytes(f.begin(), f.end())); },
                  [this](lnsd::PeerId p, Bytes b) { sent.emplace_back(p, std::move(b)); }};
};

Bytes cat(Bytes a, const Bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

}  // namespace

// req: L2TP.data, L2TP.priority
TEST(DataPath, FramesIpv4AndPppFramesWithThePeersIds) {
    Capture c;
    c.path.add(kKey, kLac, 100, 7, 0x2001, 0x3002, false);
    const Bytes pkt = ipv4(0xAB);
    ASSERT_TRUE(c.path.send_ipv4(kKey, pkt));
    ASSERT_EQ(c.sent.size(), 1u);
    EXPECT_EQ(c.sent[0].first, kLac);
    EXPECT_EQ(c.sent[0].second, cat({0x00, 0x02, 0x20, 0x01, 0x30, 0x02, 0xFF, 0x03, 0x00, 0x21}, pkt))
        << "RFC 2661 §3.1 header (T=0, Ver 2, peer's Tunnel/Session ID) + RFC 1662 FF 03 + 0x0021";
    const Bytes lcp = {0xFF, 0x03, 0xC0, 0x21, 0x09, 0x01, 0x00, 0x08, 1, 2, 3, 4};
    ASSERT_TRUE(c.path.send_frame(kKey, lcp));
    EXPECT_EQ(c.sent[1].second, cat({0x01, 0x02, 0x20, 0x01, 0x30, 0x02}, lcp))
        << "a PPP frame gets only L2TP; an LCP one the P bit (RFC 2661 §3.1)";
    EXPECT_FALSE(c.path.send_ipv4(99, pkt)) << "unknown session";
    EXPECT_EQ(c.path.counters().tx_dropped, 1u);
    EXPECT_EQ(c.path.counters().tx_frames, 2u);
}

// offer_in_place (Lns::send_ipv4's one look-up): a session not on this path is left to the caller
// untouched and uncounted; a known one is framed in place and queued; a known one without headroom
// is dropped and counted.
// req: L2TP.data
TEST(DataPath, OfferInPlaceLeavesAnUnknownSessionToTheCaller) {
    Capture c;
    c.path.add(kKey, kLac, 100, 7, 0x2001, 0x3002, false);
    dataplane::PacketBatch batch(3, 2048, 16);
    const Bytes pkt = ipv4(0xAB);
    ASSERT_TRUE(batch.push(pkt));
    ASSERT_TRUE(batch.push(pkt));
    const std::uint8_t* start = batch[0].data;
    EXPECT_EQ(c.path.offer_in_place(99, batch[0]), DataPath::Tx::not_mine);
    EXPECT_EQ(batch[0].data, start) << "nothing prepended";
    EXPECT_EQ(Bytes(batch[0].bytes().begin(), batch[0].bytes().end()), pkt);
    EXPECT_EQ(c.path.counters().tx_dropped, 0u) << "not counted: the caller's slow path takes it";
    EXPECT_EQ(c.path.counters().tx_frames, 0u);
    EXPECT_EQ(c.path.offer_in_place(kKey, batch[1]), DataPath::Tx::queued);
    c.path.flush();
    ASSERT_EQ(c.sent.size(), 1u);
    EXPECT_EQ(c.sent[0].second, cat({0x00, 0x02, 0x20, 0x01, 0x30, 0x02, 0xFF, 0x03, 0x00, 0x21}, pkt));
    EXPECT_EQ(c.path.counters().tx_in_place, 1u);
    dataplane::PacketBatch bare(1, 2048, 0);  // no headroom for the header
    ASSERT_TRUE(bare.push(pkt));
    EXPECT_EQ(c.path.offer_in_place(kKey, bare[0]), DataPath::Tx::dropped);
    EXPECT_EQ(c.path.counters().tx_dropped, 1u);
    // send_in_place keeps its meaning: unknown is a drop.
    EXPECT_FALSE(c.path.send_in_place(99, batch[0]));
    EXPECT_EQ(c.path.counters().tx_dropped, 2u);
}

// The peer's MRU (RFC 1661 §6.1) bounds the IPv4 packet in every data message: longer ones go as
// IPv4 fragments (RFC 791 §3.2), DF ones are dropped and counted.
// req: DP.peer-mru
TEST(DataPath, NoFrameLongerThanThePeersMru) {
    Capture c;
    c.path.add(kKey, kLac, 100, 7, 0x2001, 0x3002, false);
    Bytes pkt = ipv4(0xAB, 1428 - 28);  // ping -s 1400: a 1428-octet IPv4 packet
    pkt[2] = 1428 >> 8, pkt[3] = 1428 & 0xFF, pkt[6] = 0, pkt[7] = 0;  // Total Length, DF clear
    ASSERT_TRUE(c.path.send_ipv4(kKey, pkt)) << "no bound before LCP reports one";
    ASSERT_EQ(c.sent.size(), 1u);
    EXPECT_EQ(c.sent[0].second.size(), 10u + 1428u);
    EXPECT_FALSE(c.path.set_peer_mru(99, 1000)) << "unknown session";
    ASSERT_TRUE(c.path.set_peer_mru(kKey, 1000));
    ASSERT_TRUE(c.path.send_ipv4(kKey, pkt));
    ASSERT_EQ(c.sent.size(), 3u) << "two fragments";
    std::size_t data = 0;
    for (std::size_t i = 1; i < 3; ++i) {
        const Bytes& m = c.sent[i].second;
        const std::size_t ip = m.size() - 10;  // after L2TP (6) + FF 03 00 21
        EXPECT_LE(ip, 1000u) << "IPv4 packet in frame " << i;
        EXPECT_EQ(Bytes(m.begin(), m.begin() + 10), Bytes({0x00, 0x02, 0x20, 0x01, 0x30, 0x02, 0xFF, 0x03, 0x00, 0x21}));
        EXPECT_EQ((m[10 + 2] << 8 | m[10 + 3]), static_cast<int>(ip)) << "Total Length of the fragment";
        data += ip - 20;
    }
    EXPECT_EQ(data, 1428u - 20u) << "the fragments carry all the data";
    EXPECT_EQ(c.path.counters().tx_fragmented, 1u);
    EXPECT_EQ(c.path.counters().tx_fragments, 2u);
    pkt[6] = 0x40;  // DF: must not be fragmented
    std::vector<std::pair<std::size_t, std::uint16_t>> too_big;  // (octets, MRU) reported for an ICMP error
    c.path.set_too_big([&](DataPath::Key k, std::span<const std::uint8_t> p, std::uint16_t mru) {
        EXPECT_EQ(k, kKey);
        too_big.emplace_back(p.size(), mru);
    });
    EXPECT_FALSE(c.path.send_ipv4(kKey, pkt));
    EXPECT_EQ(c.sent.size(), 3u);
    EXPECT_EQ(c.path.counters().tx_over_mru, 1u);
    ASSERT_EQ(too_big.size(), 1u) << "the DF packet is reported (RFC 1191 §4 Fragmentation Needed)";
    EXPECT_EQ(too_big[0], std::make_pair(pkt.size(), std::uint16_t{1000}));
    const Bytes small = ipv4(1, 900);
    ASSERT_TRUE(c.path.send_ipv4(kKey, small));
    EXPECT_EQ(c.sent.back().second.size(), 10u + small.size()) << "packets within the MRU go as they are";
    // The TUN batch's path (framed in place) splits the same way.
    dataplane::PacketBatch batch(4, 2048, 16);
    pkt[6] = 0;
    ASSERT_TRUE(batch.push(pkt));
    const std::size_t before = c.sent.size();
    ASSERT_TRUE(c.path.send_in_place(kKey, batch[0]));
    c.path.flush();
    ASSERT_EQ(c.sent.size(), before + 2);
    EXPECT_EQ(c.sent[before].second.size(), 10u + 996u) << "20-octet header + 976 data octets (a multiple of 8)";
    EXPECT_EQ(c.sent[before + 1].second.size(), 10u + 20u + 432u);
}

// req: L2TP.data
TEST(DataPath, ReceivedDataMessagesKnownUnknownControlMalformed) {
    Capture c;
    c.path.add(kKey, kLac, 100, 7, 0x2001, 0x3002, false);
    const Bytes ppp = cat({0xFF, 0x03, 0x00, 0x21}, ipv4(1));
    EXPECT_EQ(c.path.receive(kLac, cat({0x00, 0x02, 0x00, 100, 0x00, 7}, ppp)), DataPath::Rx::delivered);
    ASSERT_EQ(c.delivered.size(), 1u);
    EXPECT_EQ(c.delivered[0].first, kKey);
    EXPECT_EQ(c.delivered[0].second, ppp);
    // Length and Offset (RFC 2661 §3.1): trailing octets past Length and the pad are not PPP.
    Bytes lo = {0x42, 0x02, 0x00, 0x00, 0x00, 100, 0x00, 7, 0x00, 0x02, 0xEE, 0xEE};
    lo = cat(lo, ppp);
    const auto len = static_cast<std::uint16_t>(lo.size());
    lo[2] = static_cast<std::uint8_t>(len >> 8), lo[3] = static_cast<std::uint8_t>(len);
    lo.push_back(0x99);  // beyond Length
    EXPECT_EQ(c.path.receive(kLac, lo), DataPath::Rx::delivered);
    EXPECT_EQ(c.delivered.back().second, ppp);
    // Not ours: another session, another peer, a control message (T=1).
    EXPECT_EQ(c.path.receive(kLac, cat({0x00, 0x02, 0x00, 100, 0x00, 8}, ppp)), DataPath::Rx::not_mine);
    EXPECT_EQ(c.path.receive(kLac + 1, cat({0x00, 0x02, 0x00, 100, 0x00, 7}, ppp)), DataPath::Rx::not_mine);
    EXPECT_EQ(c.path.receive(kLac, Bytes{0xC8, 0x02, 0x00, 0x0C, 0, 100, 0, 0, 0, 0, 0, 0}), DataPath::Rx::not_mine);
    // Malformed: counted and dropped, never delivered, never read past the end.
    const std::vector<Bytes> bad = {
        {0x00, 0x02, 0x00},                                // truncated header
        {0x00, 0x03, 0x00, 100, 0x00, 7, 0xFF},            // Ver 3
        {0x40, 0x02, 0x04, 0x00, 0x00, 100, 0x00, 7},      // Length 1024 > datagram
        {0x08, 0x02, 0x00, 100, 0x00, 7, 0x00},            // S set, Ns/Nr cut
        {0x02, 0x02, 0x00, 100, 0x00, 7, 0x00, 0x09, 1},   // Offset Size 9 past the end
    };
    for (const auto& b : bad) EXPECT_EQ(c.path.receive(kLac, b), DataPath::Rx::dropped) << b.size();
    EXPECT_EQ(c.path.counters().rx_malformed, bad.size());
    EXPECT_EQ(c.path.counters().rx_data, 2u);
    EXPECT_EQ(c.delivered.size(), 2u);
    EXPECT_TRUE(c.path.remove(kKey));
    EXPECT_EQ(c.path.receive(kLac, cat({0x00, 0x02, 0x00, 100, 0x00, 7}, ppp)), DataPath::Rx::not_mine)
        << "a removed session's data goes back to the engine";
}

// req: L2TP.data
TEST(DataPath, SequencingRequiredCarriesNsAndPeerSequencingTurnsItOn) {
    Capture c;
    c.path.add(kKey, kLac, 100, 7, 0x2001, 0x3002, true);  // Sequencing Required (§5.4)
    const Bytes pkt = ipv4(0x11);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(c.path.send_ipv4(kKey, pkt));
    for (std::uint8_t i = 0; i < 3; ++i)
        EXPECT_EQ(Bytes(c.sent[i].second.begin(), c.sent[i].second.begin() + 10),
                  (Bytes{0x08, 0x02, 0x20, 0x01, 0x30, 0x02, 0x00, i, 0x00, 0x00}))
            << "S bit, Ns " << int(i) << ", Nr 0";
    // Received: in order delivered, late Ns dropped (§5.9), a jump forward accepted.
    auto seq = [](std::uint16_t ns) {
        return cat({0x08, 0x02, 0x00, 100, 0x00, 7, static_cast<std::uint8_t>(ns >> 8), static_cast<std::uint8_t>(ns),
                    0, 0},
                   {0xFF, 0x03, 0x00, 0x21, 0x45});
    };
    EXPECT_EQ(c.path.receive(kLac, seq(0)), DataPath::Rx::delivered);
    EXPECT_EQ(c.path.receive(kLac, seq(1)), DataPath::Rx::delivered);
    EXPECT_EQ(c.path.receive(kLac, seq(5)), DataPath::Rx::delivered);
    EXPECT_EQ(c.path.receive(kLac, seq(4)), DataPath::Rx::dropped);
    EXPECT_EQ(c.path.receive(kLac, seq(5)), DataPath::Rx::dropped) << "a duplicate is late too";
    EXPECT_EQ(c.path.counters().rx_out_of_order, 2u);
    // Ns wraps (RFC 2661 §5.8 serial arithmetic).
    Capture w;
    w.path.add(kKey, kLac, 100, 7, 1, 2, false);
    EXPECT_FALSE(w.path.sequencing(kKey));
    EXPECT_EQ(w.path.receive(kLac, seq(65535)), DataPath::Rx::dropped) << "Ns starts at 0: 65535 is behind it";
    EXPECT_EQ(w.path.receive(kLac, seq(30000)), DataPath::Rx::delivered);
    EXPECT_TRUE(w.path.sequencing(kKey)) << "the peer sequences: so do we (§5.9)";
    EXPECT_EQ(w.path.receive(kLac, seq(60000)), DataPath::Rx::delivered);
    EXPECT_EQ(w.path.receive(kLac, seq(65535)), DataPath::Rx::delivered);
    EXPECT_EQ(w.path.receive(kLac, seq(0)), DataPath::Rx::delivered) << "65535 → 0 is in order";
    EXPECT_EQ(w.path.receive(kLac, seq(65535)), DataPath::Rx::dropped) << "and 65535 is now late";
    ASSERT_TRUE(w.path.send_ipv4(kKey, pkt));
    EXPECT_EQ(w.sent.back().second[0], 0x08) << "our data now carries Ns";
    // Taking over from the engine after it delivered Ns 0 and 1 (early data, RFC 2661 §5.9).
    Capture e;
    e.path.add(kKey, kLac, 100, 7, 1, 2, true, 2);
    EXPECT_EQ(e.path.receive(kLac, seq(1)), DataPath::Rx::dropped) << "a late copy of early data is dropped";
    EXPECT_EQ(e.path.receive(kLac, seq(2)), DataPath::Rx::delivered);
}

namespace {
/// One side of ReceiveBatchMatchesReceiveOneByOne: a DataPath and what it did, in order.
struct RxSide {
    /// `deliver`: data goes through DataPath's deliver callback (receive()); else none (receive_batch's sinks).
    explicit RxSide(bool deliver)
        : path(deliver ? DataPath::Deliver([this](DataPath::Key k, std::span<const std::uint8_t> f) { data(k, f); })
                       : DataPath::Deliver{}) {}
    std::vector<std::string> log;
    DataPath path;
    /// What a control message (T=1) "does" when its sink gets it: octet 6 'a' adds session
    /// octet 7, 'r' removes it (as the engine does on an ICCN / a CDN).
    void control(lnsd::PeerId peer, std::span<const std::uint8_t> d) {
        log.push_back("engine " + std::to_string(peer & 0xF) + " " + std::to_string(d.size()));
        if (d.size() < 8) return;
        if (d[6] == 'a') path.add(d[7], kLac, 100, d[7], 0x2001, d[7], d[7] % 2 == 0);
        if (d[6] == 'r') path.remove(d[7]);
    }
    /// A data message delivered: logged; a PPP frame starting 0xEE ends its session (as a PPP
    /// Terminate would, from inside the delivery).
    void data(DataPath::Key k, std::span<const std::uint8_t> ppp) {
        log.push_back("data " + std::to_string(k) + " " + std::to_string(ppp.size()) + " " +
                      std::to_string(ppp.empty() ? -1 : ppp[0]));
        if (!ppp.empty() && ppp[0] == 0xEE) path.remove(k);
    }
};
}  // namespace

// receive_batch (every look-up of a batch before any delivery) against receive() one datagram at
// a time over the same random traffic: known and unknown sessions, two peers, control messages,
// malformed headers, sequenced data in order, late and duplicated (§5.9), batches longer than a
// look-up chunk, and sinks that add and remove sessions in the middle of a batch. The same
// deliveries, engine hand-offs and counters, in the same order.
// req: L2TP.data
TEST(DataPath, ReceiveBatchMatchesReceiveOneByOne) {
    RxSide one(true), batched(false);
    for (std::uint8_t k = 1; k <= 6; ++k)
        for (RxSide* side : {&one, &batched}) side->path.add(k, kLac, 100, k, 0x2001, k, k % 2 == 0);
    std::mt19937 rng(7);
    std::uint16_t next_ns[16] = {};
    auto datagram = [&]() -> Bytes {
        const std::uint8_t sess = static_cast<std::uint8_t>(1 + rng() % 9);  // 7..9: not added (yet)
        const std::uint8_t first = rng() % 16 == 0 ? 0xEE : static_cast<std::uint8_t>(rng() % 200);
        const Bytes ppp = cat({0xFF, 0x03, 0x00, 0x21, first}, Bytes(rng() % 8, 0x45));
        switch (rng() % 10) {
            case 0: {  // control: add or remove a session
                const std::uint8_t what = rng() % 2 ? 'a' : 'r';
                return {0xC8, 0x02, 0x00, 0x0C, 0, 100, what, sess, 0, 0, 0, 0};
            }
            case 1: return {0x00, 0x03, 0x00, 100, 0x00, sess, 0xFF};  // Ver 3: malformed
            case 2: return cat({0x00, 0x02, 0x00, 100, 0x00, sess}, ppp);  // (from the other peer below)
            case 3:
            case 4:
            case 5: {  // sequenced: mostly in order, sometimes late or repeated
                std::uint16_t ns = next_ns[sess]++;
                if (rng() % 4 == 0) ns = static_cast<std::uint16_t>(ns - rng() % 3);
                return cat({0x08, 0x02, 0x00, 100, 0x00, sess, static_cast<std::uint8_t>(ns >> 8),
                            static_cast<std::uint8_t>(ns), 0, 0},
                           ppp);
            }
            default: return cat({0x00, 0x02, 0x00, 100, 0x00, sess}, ppp);
        }
    };
    std::size_t total = 0;
    for (int round = 0; round < 300; ++round) {
        const std::size_t n = 1 + rng() % 150;  // up to two full look-up chunks and a part
        std::vector<Bytes> bytes;
        std::vector<lnsd::RxDatagram> batch;
        for (std::size_t i = 0; i < n; ++i) bytes.push_back(datagram());
        for (std::size_t i = 0; i < n; ++i) {
            const bool other_peer = bytes[i][1] == 0x02 && bytes[i][0] == 0x00 && rng() % 10 == 0;
            batch.push_back({other_peer ? kLac + 1 : kLac, bytes[i]});
        }
        for (const auto& d : batch)
            if (one.path.receive(d.peer, d.bytes) == DataPath::Rx::not_mine) one.control(d.peer, d.bytes);
        batched.path.receive_batch(
            batch, [&](DataPath::Key k, std::span<const std::uint8_t> f) { batched.data(k, f); },
            [&](lnsd::PeerId p, std::span<const std::uint8_t> d) { batched.control(p, d); });
        total += n;
        ASSERT_EQ(batched.log, one.log) << "round " << round;
    }
    const auto& a = one.path.counters();
    const auto& b = batched.path.counters();
    EXPECT_EQ(b.rx_data, a.rx_data);
    EXPECT_EQ(b.rx_malformed, a.rx_malformed);
    EXPECT_EQ(b.rx_out_of_order, a.rx_out_of_order);
    EXPECT_EQ(b.rx_not_mine, a.rx_not_mine);
    EXPECT_EQ(a.rx_data + a.rx_malformed + a.rx_out_of_order + a.rx_not_mine, total);
    // The traffic exercised every case.
    EXPECT_GT(a.rx_data, 1000u);
    EXPECT_GT(a.rx_malformed, 100u);
    EXPECT_GT(a.rx_out_of_order, 100u);
    EXPECT_GT(a.rx_not_mine, 1000u);
    EXPECT_EQ(batched.path.size(), one.path.size());
}

namespace {
/// A bound loopback UDP socket (the "LAC" end) and the LNS's socket.
struct Sockets {
    int lns = -1, lac = -1;
    sockaddr_in lac_addr{};
    lnsd::PeerId lac_peer = 0;
    Sockets() {
        lns = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        lac = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        lnsd::test::bind_loopback(lac, lac_addr, 4 << 20);
        lac_peer = (lnsd::PeerId{INADDR_LOOPBACK} << 16) | ntohs(lac_addr.sin_port);
    }
    ~Sockets() {
        ::close(lns);
        ::close(lac);
    }
    /// Receives up to `n` datagrams, waiting (poll, 2 s deadline) for each.
    std::vector<Bytes> receive(std::size_t n) const {
        std::vector<Bytes> out;
        std::uint8_t b[4096];
        while (out.size() < n) {
            pollfd p{lac, POLLIN, 0};
            if (::poll(&p, 1, 2000) <= 0) break;
            const ssize_t r = ::recv(lac, b, sizeof b, MSG_DONTWAIT);
            if (r > 0) out.emplace_back(b, b + r);
        }
        return out;
    }
};

struct LnsFixture {
    core::VirtualTimeLoop loop;
    core::EventBus bus{loop.clock()};
    core::TimerRegistry registry;
    std::uint64_t engine_sends = 0;
    std::unique_ptr<lnsd::Lns> lns;
    LnsFixture() {
        core::register_well_known_timers(registry);
        l2tp::engine::register_l2tp_timers(registry);
        lnsd::LnsdConfig cfg;
        cfg.accept_unknown_peers = true;  // the test's LAC is not listed
        lns = std::make_unique<lnsd::Lns>(loop.timers(), registry, bus, cfg,
                                          [this](lnsd::PeerId, Bytes) { ++engine_sends; });
    }
};
}  // namespace

namespace {
/// DataPath::PeerSockets for tests: a loopback socket connected to the peer, per open() call.
struct ConnectedSockets {
    std::vector<int> opened;
    std::vector<lnsd::PeerId> closed;
    ~ConnectedSockets() {
        for (int fd : opened) ::close(fd);
    }
    DataPath::PeerSockets hooks() {
        return {[this](lnsd::PeerId p) {
                    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                    sockaddr_in to{};
                    to.sin_family = AF_INET;
                    to.sin_addr.s_addr = htonl(static_cast<std::uint32_t>(p >> 16));
                    to.sin_port = htons(static_cast<std::uint16_t>(p & 0xFFFF));
                    if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) return -1;
                    opened.push_back(fd);
                    return fd;
                },
                [this](lnsd::PeerId p) { closed.push_back(p); }};
    }
};
std::uint16_t local_port(int fd) {
    sockaddr_in a{};
    socklen_t l = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &l);
    return ntohs(a.sin_port);
}
}  // namespace

// req: DP.batching, L2TP.data
TEST(LnsDataPath, TunBatchIsFramedInPlaceAndSentWithOneSendmmsg) {
    Sockets s;
    LnsFixture f;
    f.lns->set_data_socket(s.lns);
    const lnsd::CallHandle h{{100, 7}};
    f.lns->attach_data_session(h, s.lac_peer, 0x2001, 0x3002, false);
    dataplane::PacketBatch batch(16, 2048, 64);
    for (std::uint8_t i = 0; i < 16; ++i) ASSERT_TRUE(batch.push(ipv4(i)));
    const std::uint8_t* first = batch[0].data;
    for (auto& p : batch) ASSERT_TRUE(f.lns->send_ipv4(h, p));
    EXPECT_EQ(batch[0].data, first - 10) << "header written in the packet's own headroom";
    EXPECT_EQ(f.lns->data_counters().tx_sent, 0u) << "queued until the batch ends";
    f.lns->flush_data();
    const auto& c = f.lns->data_counters();
    EXPECT_EQ(c.tx_sent, 16u);
    EXPECT_EQ(c.tx_syscalls, 1u) << "one sendmmsg for the 16-packet batch";
    EXPECT_EQ(c.tx_in_place, 16u);
    EXPECT_EQ(f.engine_sends, 0u) << "data messages bypass the engine";
    const auto got = s.receive(16);
    ASSERT_EQ(got.size(), 16u);
    for (std::uint8_t i = 0; i < 16; ++i)
        EXPECT_EQ(got[i], cat({0x00, 0x02, 0x20, 0x01, 0x30, 0x02, 0xFF, 0x03, 0x00, 0x21}, ipv4(i))) << int(i);
}

namespace {
void no_heap_allocation_per_packet(bool connected) {
    Sockets s;
    LnsFixture f;
    ConnectedSockets cs;
    f.lns->set_data_socket(s.lns);
    if (connected) f.lns->set_peer_sockets(cs.hooks());
    // PPP frames flushed at the end of the pass, as lnsd wires it (main.cpp: PassEnd).
    lnsd::PassEnd end;
    f.lns->defer_data_flush(end.post());
    const lnsd::CallHandle h{{100, 7}};
    f.lns->attach_data_session(h, s.lac_peer, 0x2001, 0x3002, true);
    std::uint64_t frames = 0;
    f.lns->on_ppp_frame = [&](lnsd::CallHandle, std::span<const std::uint8_t> b) { frames += !b.empty(); };
    // The TUN side as lnsd wires it: ForwardingLoop → to_session → Lns::send_ipv4 (in place) →
    // batch_end → flush_data (sendmmsg).
    dataplane::ForwardingLoop::Callbacks cb;
    cb.to_session = [&](dataplane::VrId, dataplane::SessionHandle, dataplane::Packet& p) { f.lns->send_ipv4(h, p); };
    cb.batch_end = [&](dataplane::VrId) { f.lns->flush_data(); };
    dataplane::ForwardingLoop loop(cb, 64, 2048, 64);
    const auto vr = loop.add_vr("default", dataplane::TunDevice{});
    loop.add_route(vr, *core::Ipv4Prefix::parse("10.201.0.0/16"), 1, dataplane::RouteKind::framed_route);
    Bytes pkt = ipv4(0x5A);
    pkt[16] = 10, pkt[17] = 201, pkt[18] = 0, pkt[19] = 9;
    dataplane::PacketBatch tun(64, 2048, 64);
    const Bytes data = cat({0x00, 0x02, 0x00, 100, 0x00, 7}, cat({0xFF, 0x03, 0x00, 0x21}, pkt));
    const Bytes lcp_echo = {0xFF, 0x03, 0xC0, 0x21, 0x09, 0x01, 0x00, 0x08, 0x12, 0x34, 0x56, 0x78};
    // The same data messages as one recvmmsg batch (UdpEndpoint::set_batch_receive → Lns::receive_batch).
    std::vector<lnsd::RxDatagram> rx_batch(64, lnsd::RxDatagram{s.lac_peer, data});
    // One pass of lnsd's loop: a TUN batch, data messages received, 8 PPP frames (LCP Echo) sent,
    // then the flush at the pass's end.
    auto pass = [&](int data_messages) {
        tun.reset();
        while (!tun.full()) tun.push(pkt);
        loop.dispatch(vr, tun);  // 64 packets TUN → L2TP/UDP
        for (int i = 0; i < data_messages; ++i) f.lns->receive(s.lac_peer, data);  // → PPP
        f.lns->receive_batch(std::span(rx_batch).first(static_cast<std::size_t>(data_messages)));  // → PPP
        for (int i = 0; i < 8; ++i) f.lns->send_ppp(h, lcp_echo);
        ASSERT_EQ(end.queued(), 1u) << "a flush queued for the pass's 8 frames";
        ASSERT_EQ(end.run(), 1u) << "one flush for the pass's 8 frames";
        ASSERT_EQ(end.queued(), 0u);
    };
    // Warm up (hash tables, first sendmmsg), then count.
    for (int i = 0; i < 2; ++i) pass(1);
    const std::uint64_t before = dl::testing::allocations();
    for (int round = 0; round < 20; ++round) pass(64);
    const std::uint64_t allocations = dl::testing::allocations() - before;
    EXPECT_EQ(allocations, 0u)
        << "1280 packets TUN → L2TP, 2560 L2TP → TUN (one by one and in batches), 160 PPP frames and 20 "
           "end-of-pass flushes without operator new";
    EXPECT_EQ(frames, 2u * (2u + 20u * 64u));
    EXPECT_EQ(f.lns->data_counters().tx_in_place, 22u * 64u);
    EXPECT_EQ(f.lns->data_counters().tx_frames, 22u * (64u + 8u));
    EXPECT_EQ(f.lns->data_counters().tx_syscalls, 2u * 22u) << "one sendmmsg per TUN batch, one per pass for PPP";
    EXPECT_EQ(f.lns->data_counters().tx_connected, connected ? 22u * (64u + 8u) : 0u);
    EXPECT_GT(dl::testing::allocations(), 0u) << "the counting allocator is in use";
}
}  // namespace

// PPP frames (LCP, CHAP, IPCP to the CPEs) wait for the end of the loop's pass and leave together:
// one sendmmsg per socket for every frame the pass produced, in order per session, and nothing
// stays queued once the loop is idle (PassEnd::drive returns only when the flush has run).
// req: DP.batching
TEST(LnsDataPath, PppFramesOfALoopPassLeaveInOneSendmmsgBeforeTheLoopGoesIdle) {
    Sockets s;
    LnsFixture f;
    boost::asio::io_context io;
    std::size_t posted = 0;
    f.lns->set_data_socket(s.lns);
    lnsd::PassEnd end;  // as lnsd wires it (main.cpp)
    f.lns->defer_data_flush([&, post = end.post()](std::function<void()> w) {
        ++posted;
        post(std::move(w));
    });
    const lnsd::CallHandle h1{{100, 7}}, h2{{100, 8}};
    f.lns->attach_data_session(h1, s.lac_peer, 0x2001, 0x3002, false);
    f.lns->attach_data_session(h2, s.lac_peer, 0x2001, 0x3003, false);
    auto lcp = [](std::uint8_t id) { return Bytes{0xFF, 0x03, 0xC0, 0x21, 0x01, id, 0x00, 0x04}; };
    // One pass: a handler sends six frames, alternating sessions.
    boost::asio::post(io, [&] {
        for (std::uint8_t i = 0; i < 6; ++i) ASSERT_TRUE(f.lns->send_ppp(i % 2 ? h2 : h1, lcp(i)));
        EXPECT_EQ(f.lns->data_counters().tx_sent, 0u) << "queued until the pass ends";
    });
    end.drive(io);
    EXPECT_EQ(posted, 1u) << "one flush for the pass";
    EXPECT_EQ(f.lns->data_counters().tx_sent, 6u) << "nothing left queued when the loop went idle";
    EXPECT_EQ(f.lns->data_counters().tx_syscalls, 1u) << "one sendmmsg for the pass's six frames";
    auto got = s.receive(6);
    ASSERT_EQ(got.size(), 6u);
    for (std::uint8_t i = 0; i < 6; ++i) {
        EXPECT_EQ(got[i][0], 0x01) << "T=0 L=0 … P=1 on an LCP frame (RFC 2661 §3.1)";
        EXPECT_EQ(got[i][5], i % 2 ? 0x03 : 0x02) << "the session's peer Session ID";
        EXPECT_EQ(got[i][6 + 5], i) << "in the order sent";
    }
    // A TUN batch's flush in the same pass sends the frames queued before it; a frame after it
    // queues a flush of its own.
    io.restart();
    boost::asio::post(io, [&] {
        ASSERT_TRUE(f.lns->send_ppp(h1, lcp(10)));
        f.lns->flush_data();  // batch_end
        EXPECT_EQ(f.lns->data_counters().tx_sent, 7u);
        ASSERT_TRUE(f.lns->send_ppp(h2, lcp(11)));
    });
    end.drive(io);
    EXPECT_EQ(f.lns->data_counters().tx_sent, 8u);
    got = s.receive(2);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0][6 + 5], 10);
    EXPECT_EQ(got[1][6 + 5], 11);
    // Changing the socket (lnsd's shutdown: set_data_socket(-1)) sends what waits first.
    ASSERT_TRUE(f.lns->send_ppp(h1, lcp(12)));
    f.lns->set_data_socket(-1);
    EXPECT_EQ(f.lns->data_counters().tx_sent, 9u);
    ASSERT_EQ(s.receive(1).size(), 1u);
}

// req: DP.no-allocation
TEST(LnsDataPath, NoHeapAllocationPerPacketEitherWay) { no_heap_allocation_per_packet(false); }
// … and with the peer's data on its connected socket (limits.peer-sockets).
// req: DP.no-allocation
TEST(LnsDataPath, NoHeapAllocationPerPacketEitherWayOnAConnectedSocket) { no_heap_allocation_per_packet(true); }


// A peer's data messages go on the socket connected to it (one per peer, however many sessions),
// one sendmmsg per batch with no destination; the shared socket is not used; the socket is given
// back when the peer's last session goes, and a refused one leaves the peer on the shared socket.
// req: DP.connected-peer, DP.batching
TEST(LnsDataPath, PeerDataGoesOnItsConnectedSocketWhichIsGivenBackWithTheLastSession) {
    Sockets s;
    LnsFixture f;
    ConnectedSockets cs;
    f.lns->set_data_socket(s.lns);
    f.lns->set_peer_sockets(cs.hooks());
    const lnsd::CallHandle h1{{100, 7}}, h2{{100, 8}};
    f.lns->attach_data_session(h1, s.lac_peer, 0x2001, 0x3002, false);
    f.lns->attach_data_session(h2, s.lac_peer, 0x2001, 0x3003, false);
    ASSERT_EQ(cs.opened.size(), 1u) << "one socket for the peer's two sessions";
    dataplane::PacketBatch batch(16, 2048, 64);
    for (std::uint8_t i = 0; i < 16; ++i) ASSERT_TRUE(batch.push(ipv4(i)));
    for (std::size_t i = 0; i < batch.size(); ++i) ASSERT_TRUE(f.lns->send_ipv4(i % 2 ? h2 : h1, batch[i]));
    f.lns->flush_data();
    const auto& c = f.lns->data_counters();
    EXPECT_EQ(c.tx_sent, 16u);
    EXPECT_EQ(c.tx_connected, 16u);
    EXPECT_EQ(c.tx_syscalls, 1u) << "one sendmmsg for the batch, on the peer's socket";
    EXPECT_EQ(c.peer_sockets, 1u);
    // The LAC gets them from the connected socket's port (here an ephemeral one; lnsd binds it to 1701).
    std::uint8_t b[256];
    sockaddr_in from{};
    for (std::uint8_t i = 0; i < 16; ++i) {
        pollfd p{s.lac, POLLIN, 0};
        ASSERT_EQ(::poll(&p, 1, 2000), 1) << int(i);
        socklen_t fl = sizeof from;
        const ssize_t n = ::recvfrom(s.lac, b, sizeof b, 0, reinterpret_cast<sockaddr*>(&from), &fl);
        ASSERT_EQ(n, 10 + 36);
        EXPECT_EQ(ntohs(from.sin_port), local_port(cs.opened[0]));
        EXPECT_EQ(b[5], i % 2 ? 0x03 : 0x02) << "the session's peer Session ID";
        EXPECT_EQ(b[10 + 1], i) << "in order";
    }
    EXPECT_TRUE(f.lns->detach_data_session(h1));
    EXPECT_TRUE(cs.closed.empty()) << "h2 still uses it";
    EXPECT_TRUE(f.lns->detach_data_session(h2));
    EXPECT_EQ(cs.closed, std::vector<lnsd::PeerId>{s.lac_peer}) << "given back with the last session";
    EXPECT_EQ(f.lns->data_counters().peer_sockets, 0u);

    // No socket from open(): the peer stays on the shared socket, counted.
    f.lns->set_peer_sockets({[](lnsd::PeerId) { return -1; }, [](lnsd::PeerId) {}});
    f.lns->attach_data_session(h1, s.lac_peer, 0x2001, 0x3002, false);
    EXPECT_EQ(f.lns->data_counters().peer_socket_refused, 1u);
    batch.reset();
    ASSERT_TRUE(batch.push(ipv4(0x77)));
    ASSERT_TRUE(f.lns->send_ipv4(h1, batch[0]));
    f.lns->flush_data();
    EXPECT_EQ(f.lns->data_counters().tx_sent, 17u);
    EXPECT_EQ(f.lns->data_counters().tx_connected, 16u);
    pollfd p{s.lac, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 2000), 1);
    socklen_t fl = sizeof from;
    ASSERT_EQ(::recvfrom(s.lac, b, sizeof b, 0, reinterpret_cast<sockaddr*>(&from), &fl), 10 + 36);
    EXPECT_EQ(ntohs(from.sin_port), local_port(s.lns)) << "from the shared socket";
}

// req: L2TP.data
TEST(LnsDataPath, MalformedDataIsCountedInShowAndControlStillReachesTheEngine) {
    LnsFixture f;
    const lnsd::CallHandle h{{100, 7}};
    f.lns->attach_data_session(h, kLac, 0x2001, 0x3002, false);
    std::vector<Bytes> frames;
    f.lns->on_ppp_frame = [&](lnsd::CallHandle c, std::span<const std::uint8_t> b) {
        EXPECT_EQ(c, h);
        frames.emplace_back(b.begin(), b.end());
    };
    f.lns->receive(kLac, Bytes{0x00, 0x02, 0x00, 100, 0x00, 7, 0xFF, 0x03, 0xC0, 0x21, 1, 1, 0, 4});
    f.lns->receive(kLac, Bytes{0x00, 0x02, 0x00});                     // truncated
    f.lns->receive(kLac, Bytes{0x00, 0x02, 0x00, 100, 0x00, 9, 0xFF});  // unknown session → engine
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0], (Bytes{0xFF, 0x03, 0xC0, 0x21, 1, 1, 0, 4}));
    const auto sum = f.lns->show_summary()["system"];
    EXPECT_EQ(sum["data-path"]["rx-malformed"], 1) << sum.dump();
    EXPECT_EQ(sum["data-path"]["rx-data"], 1) << sum.dump();
    EXPECT_EQ(sum["counters"]["unknown-session"], 1) << "the engine counted the unknown session: " << sum.dump();
    // Without a data socket, sends go through the Send callback (sans-I/O tests).
    EXPECT_TRUE(f.lns->send_ppp(h, Bytes{0xFF, 0x03, 0xC0, 0x21, 9, 1, 0, 4}));
    EXPECT_EQ(f.engine_sends, 1u);
}
