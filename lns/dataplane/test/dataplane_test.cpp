// Unprivileged unit tests: route table (golden LPM cases), packet batch, PPP/L2TP data framing,
// forwarding dispatch and counters.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "dl/core/clock.hpp"
#include "dl/core/event.hpp"
#include "dl/dataplane/forwarding.hpp"
#include "dl/dataplane/framing.hpp"
#include "dl/dataplane/icmp.hpp"
#include "dl/dataplane/ipv4_fragment.hpp"
#include "dl/dataplane/packet_batch.hpp"
#include "dl/dataplane/route_table.hpp"

// Counts heap allocations so tests can assert that the forwarding path makes none.
#include "dl/testing/counting_new.hpp"

using namespace dl::dataplane;
using dl::core::Ipv4Address;
using dl::core::Ipv4Prefix;

namespace {

Ipv4Prefix P(const char* s) { return *Ipv4Prefix::parse(s); }
Ipv4Address A(const char* s) { return *Ipv4Address::parse(s); }

std::string who(const RouteTable& t, const char* addr) {
    const Route* r = t.lookup(A(addr));
    return r ? r->prefix.to_string() + "->" + std::to_string(r->session) : "no route";
}

/// A minimal IPv4 header (20 octets) + `payload` octets to `dst`.
std::vector<std::uint8_t> ipv4(const char* dst, std::size_t payload = 8) {
    std::vector<std::uint8_t> p(20 + payload, 0xAB);
    p[0] = 0x45;
    p[1] = 0;
    p[2] = static_cast<std::uint8_t>(p.size() >> 8);
    p[3] = static_cast<std::uint8_t>(p.size());
    p[8] = 64;
    p[9] = 17;
    const std::uint32_t d = A(dst).value;
    p[12] = 10, p[13] = 0, p[14] = 0, p[15] = 1;
    p[16] = static_cast<std::uint8_t>(d >> 24);
    p[17] = static_cast<std::uint8_t>(d >> 16);
    p[18] = static_cast<std::uint8_t>(d >> 8);
    p[19] = static_cast<std::uint8_t>(d);
    return p;
}

}  // namespace

volatile std::size_t g_sink = 0;
void benchmark_sink(std::size_t v) { g_sink = v; }

// ---------------------------------------------------------------- RouteTable

TEST(RouteTable, GoldenLongestPrefixMatch) {
    RouteTable t;
    EXPECT_EQ(t.insert(P("10.0.0.0/8"), 1, RouteKind::access), RouteTable::Insert::inserted);
    EXPECT_EQ(t.insert(P("10.10.0.0/16"), 2, RouteKind::framed_route), RouteTable::Insert::inserted);
    EXPECT_EQ(t.insert(P("10.10.1.0/24"), 3, RouteKind::framed_route), RouteTable::Insert::inserted);
    EXPECT_EQ(t.insert(P("10.10.1.1/32"), 4, RouteKind::framed_ip), RouteTable::Insert::inserted);
    EXPECT_EQ(t.insert(P("192.168.0.0/23"), 5, RouteKind::framed_route), RouteTable::Insert::inserted);
    const std::vector<std::pair<const char*, std::string>> golden = {
        {"10.10.1.1", "10.10.1.1/32->4"},     {"10.10.1.2", "10.10.1.0/24->3"},
        {"10.10.1.255", "10.10.1.0/24->3"},   {"10.10.2.1", "10.10.0.0/16->2"},
        {"10.11.0.1", "10.0.0.0/8->1"},       {"11.0.0.1", "no route"},
        {"192.168.1.77", "192.168.0.0/23->5"}, {"192.168.2.1", "no route"},
        {"9.255.255.255", "no route"},        {"0.0.0.0", "no route"},
    };
    for (const auto& [addr, want] : golden) EXPECT_EQ(who(t, addr), want) << addr;
    EXPECT_EQ(t.size(), 5u);
    EXPECT_EQ(t.session_count(), 5u);
}

TEST(RouteTable, DefaultRouteAndRemoval) {
    RouteTable t;
    t.insert(P("0.0.0.0/0"), 9, RouteKind::access);
    t.insert(P("172.16.0.0/12"), 7, RouteKind::framed_route);
    EXPECT_EQ(who(t, "8.8.8.8"), "0.0.0.0/0->9");
    EXPECT_EQ(who(t, "172.20.1.1"), "172.16.0.0/12->7");
    EXPECT_EQ(who(t, "172.32.0.1"), "0.0.0.0/0->9");
    EXPECT_FALSE(t.remove(P("172.16.0.0/12"), 9)) << "another session's prefix is not removed";
    EXPECT_TRUE(t.remove(P("172.16.0.0/12"), 7));
    EXPECT_FALSE(t.remove(P("172.16.0.0/12"), 7));
    EXPECT_EQ(who(t, "172.20.1.1"), "0.0.0.0/0->9");
    EXPECT_TRUE(t.remove(P("0.0.0.0/0"), 9));
    EXPECT_EQ(who(t, "172.20.1.1"), "no route");
    EXPECT_EQ(t.size(), 0u);
    EXPECT_EQ(t.session_count(), 0u);
}

TEST(RouteTable, ConflictHostBitsAndSessionRemoval) {
    RouteTable t;
    EXPECT_EQ(t.insert(P("10.1.2.3/16"), 1, RouteKind::framed_route), RouteTable::Insert::inserted);
    ASSERT_NE(t.find(P("10.1.0.0/16")), nullptr) << "host bits cleared on insert";
    EXPECT_EQ(t.insert(P("10.1.0.0/16"), 2, RouteKind::framed_route), RouteTable::Insert::conflict);
    EXPECT_EQ(t.find(P("10.1.0.0/16"))->session, 1u) << "first session keeps the prefix";
    EXPECT_EQ(t.insert(P("10.1.0.0/16"), 1, RouteKind::access), RouteTable::Insert::already_present);
    EXPECT_EQ(t.find(P("10.1.0.0/16"))->kind, RouteKind::access);
    t.insert(P("10.1.5.5/32"), 1, RouteKind::framed_ip);
    t.insert(P("10.1.5.0/24"), 2, RouteKind::framed_route);
    EXPECT_EQ(who(t, "10.1.5.5"), "10.1.5.5/32->1");
    EXPECT_EQ(who(t, "10.1.5.6"), "10.1.5.0/24->2");
    const auto removed = t.remove_session(1);
    ASSERT_EQ(removed.size(), 2u);
    EXPECT_EQ(removed[0], P("10.1.0.0/16"));
    EXPECT_EQ(removed[1], P("10.1.5.5/32"));
    EXPECT_EQ(who(t, "10.1.5.5"), "10.1.5.0/24->2");
    EXPECT_EQ(who(t, "10.1.9.9"), "no route");
    EXPECT_TRUE(t.remove_session(1).empty());
    const auto all = t.routes();
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0], (Route{P("10.1.5.0/24"), 2, RouteKind::framed_route}));
}

TEST(RouteTable, EveryLengthAgainstLinearScan) {
    // Nested prefixes of every length 0..32 around one address, each its own session, plus a
    // deterministic pseudo-random probe set compared with a linear longest-match scan.
    RouteTable t;
    std::vector<Route> ref;
    const std::uint32_t base = 0xC0A80A55;  // 192.168.10.85
    for (std::uint8_t len = 0; len <= 32; ++len) {
        Ipv4Prefix p{{base}, len};
        p = p.network();
        ASSERT_EQ(t.insert(p, 100 + len, RouteKind::framed_route), RouteTable::Insert::inserted);
        ref.push_back({p, 100u + len, RouteKind::framed_route});
    }
    std::uint32_t x = 12345;
    for (int i = 0; i < 2000; ++i) {
        x = x * 1664525u + 1013904223u;
        const std::uint32_t probe = (i % 2) ? (base ^ (1u << (x % 32))) : x;
        const Route* best = nullptr;
        for (const auto& r : ref)
            if (r.prefix.contains(Ipv4Address{probe}) && (!best || r.prefix.length > best->prefix.length)) best = &r;
        const Route* got = t.lookup(probe);
        ASSERT_NE(got, nullptr);
        ASSERT_EQ(got->session, best->session) << Ipv4Address{probe}.to_string();
    }
    EXPECT_EQ(t.lookup(base)->session, 132u);
}

// ---------------------------------------------------------------- PacketBatch

TEST(PacketBatch, SlotsHeadroomAndReset) {
    PacketBatch b(4, 100, 16);
    EXPECT_EQ(b.capacity(), 4u);
    EXPECT_TRUE(b.empty());
    const std::vector<std::uint8_t> pkt = {1, 2, 3, 4, 5};
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(b.push(pkt));
    EXPECT_TRUE(b.full());
    EXPECT_FALSE(b.push(pkt));
    EXPECT_EQ(b.size(), 4u);
    for (std::size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(b[i].length, 5u);
        EXPECT_EQ(b[i].headroom, 16u);
        EXPECT_GE(b[i].tailroom, 1u) << "a spare octet to detect oversized reads";
        if (i > 0) {
            EXPECT_GE(b[i].data - b[i - 1].data, 100 + 16 + 1);
        }
    }
    std::uint8_t* before = b[0].data;
    ASSERT_NE(b[0].prepend(16), nullptr);
    EXPECT_EQ(b[0].data, before - 16);
    EXPECT_EQ(b[0].headroom, 0u);
    EXPECT_EQ(b[0].prepend(1), nullptr);
    EXPECT_TRUE(b[0].pull(16));
    EXPECT_EQ(b[0].data, before);
    EXPECT_FALSE(b[0].pull(6));
    std::vector<std::uint8_t> big(101, 0);
    b.reset();
    EXPECT_FALSE(b.push(big));
    EXPECT_TRUE(b.empty());
    Packet* slot = b.next_free();
    ASSERT_NE(slot, nullptr);
    EXPECT_EQ(slot->data, before) << "reset restores headroom";
    EXPECT_EQ(slot->length, 100u);
    b.commit(7);
    EXPECT_EQ(b.size(), 1u);
    EXPECT_EQ(b[0].length, 7u);
    EXPECT_THROW(PacketBatch(0, 10), std::invalid_argument);
    EXPECT_THROW(PacketBatch(1, 0), std::invalid_argument);
}

// ---------------------------------------------------------------- framing

TEST(Framing, GoldenL2tpPppIpv4Header) {
    PacketBatch b(1, 64, 32);
    const auto ip = ipv4("10.10.1.1", 0);
    ASSERT_TRUE(b.push(ip));
    DataEncap e{.tunnel_id = 0x1234, .session_id = 0xABCD};
    ASSERT_EQ(prepend_l2tp_ppp(b[0], e), 10u);
    // RFC 2661 §3.1: flags 0x0002 (T=0 L=0 S=0 O=0 Ver=2), Tunnel ID, Session ID;
    // RFC 1662 §3.1: FF 03; RFC 1332: protocol 0x0021.
    const std::vector<std::uint8_t> head = {0x00, 0x02, 0x12, 0x34, 0xAB, 0xCD, 0xFF, 0x03, 0x00, 0x21};
    EXPECT_EQ(std::vector<std::uint8_t>(b[0].data, b[0].data + 10), head);
    EXPECT_EQ(b[0].length, 30u);
    EXPECT_EQ(std::vector<std::uint8_t>(b[0].data + 10, b[0].data + 30), ip);

    DataMessage m;
    DecapError err = DecapError::truncated;
    auto inner = decap_l2tp_ppp_ipv4(b[0].bytes(), &m, &err);
    ASSERT_TRUE(inner);
    EXPECT_EQ(err, DecapError::none);
    EXPECT_EQ(m.tunnel_id, 0x1234);
    EXPECT_EQ(m.session_id, 0xABCD);
    EXPECT_FALSE(m.ns);
    EXPECT_EQ(std::vector<std::uint8_t>(inner->begin(), inner->end()), ip);
}

TEST(Framing, SequencedAndCompressed) {
    PacketBatch b(2, 64, 32);
    const auto ip = ipv4("1.2.3.4", 0);
    b.push(ip);
    b.push(ip);
    DataEncap e{.tunnel_id = 1, .session_id = 2, .acfc = true, .pfc = true, .sequence = true, .ns = 0xFFFF};
    ASSERT_EQ(prepend_l2tp_ppp(b[0], e), 11u);
    ASSERT_EQ(prepend_l2tp_ppp(b[1], e), 11u);
    const std::vector<std::uint8_t> h0 = {0x08, 0x02, 0, 1, 0, 2, 0xFF, 0xFF, 0, 0, 0x21};
    const std::vector<std::uint8_t> h1 = {0x08, 0x02, 0, 1, 0, 2, 0x00, 0x00, 0, 0, 0x21};
    EXPECT_EQ(std::vector<std::uint8_t>(b[0].data, b[0].data + 11), h0);
    EXPECT_EQ(std::vector<std::uint8_t>(b[1].data, b[1].data + 11), h1) << "Ns wraps modulo 2^16";
    EXPECT_EQ(e.ns, 1);
    DataMessage m;
    auto inner = decap_l2tp_ppp_ipv4(b[1].bytes(), &m);
    ASSERT_TRUE(inner);
    EXPECT_EQ(m.ns, 0);
    EXPECT_EQ(m.nr, 0);
    EXPECT_EQ(inner->size(), 20u);
    PacketBatch small(1, 64, 9);
    small.push(ip);
    DataEncap full{};
    EXPECT_EQ(prepend_l2tp_ppp(small[0], full), 0u) << "10 octets do not fit in 9 of headroom";
    EXPECT_EQ(small[0].length, 20u);
}

TEST(Framing, LengthOffsetAndMalformed) {
    // L=1 O=1: flags 0x42 0x02, Length 16, tunnel 7, session 9, Offset Size 2, pad, PPP 00 21, 2
    // octets of "IP", then 3 trailing octets beyond Length.
    const std::vector<std::uint8_t> d = {0x42, 0x02, 0x00, 0x10, 0x00, 0x07, 0x00, 0x09, 0x00, 0x02, 0xEE, 0xEE,
                                         0x00, 0x21, 0x45, 0x00, 0x99, 0x99, 0x99};
    DataMessage m;
    auto inner = decap_l2tp_ppp_ipv4(d, &m);
    ASSERT_TRUE(inner);
    EXPECT_EQ(m.tunnel_id, 7);
    EXPECT_EQ(m.session_id, 9);
    EXPECT_EQ(inner->size(), 2u) << "octets after Length are not part of the frame";

    auto reason = [](std::vector<std::uint8_t> v) {
        DecapError e = DecapError::none;
        EXPECT_FALSE(decap_l2tp_ppp_ipv4(v, nullptr, &e));
        return std::string(to_string(e));
    };
    EXPECT_EQ(reason({}), "truncated");
    EXPECT_EQ(reason({0x00, 0x02, 0, 1, 0}), "truncated");
    EXPECT_EQ(reason({0xC8, 0x02, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0}), "control message");
    EXPECT_EQ(reason({0x00, 0x01, 0, 1, 0, 2, 0x00, 0x21}), "bad version");
    EXPECT_EQ(reason({0x40, 0x02, 0x00, 0x40, 0, 1, 0, 2, 0x00, 0x21}), "bad Length");
    EXPECT_EQ(reason({0x40, 0x02, 0x00, 0x04, 0, 1, 0, 2, 0x00, 0x21}), "bad Length");
    EXPECT_EQ(reason({0x02, 0x02, 0, 1, 0, 2, 0x00, 0x09, 1, 2}), "bad Offset Size");
    EXPECT_EQ(reason({0x08, 0x02, 0, 1, 0, 2, 0, 0}), "truncated");
    EXPECT_EQ(reason({0x00, 0x02, 0, 1, 0, 2}), "truncated") << "no PPP protocol";
    EXPECT_EQ(reason({0x00, 0x02, 0, 1, 0, 2, 0xFF, 0x03}), "truncated");
    EXPECT_EQ(reason({0x00, 0x02, 0, 1, 0, 2, 0xFF, 0x03, 0x00}), "truncated");
    EXPECT_EQ(reason({0x00, 0x02, 0, 1, 0, 2, 0xFF, 0x03, 0xC0, 0x21, 1, 1, 0, 4}), "not IPv4") << "LCP";
    EXPECT_EQ(reason({0x00, 0x02, 0, 1, 0, 2, 0x80, 0x21, 1, 1, 0, 4}), "not IPv4") << "IPCP";
}

// parse_l2tp_data's inline plain-header path gives what the general parser gives, for every value
// of the two flag/version octets and every length up to 14 octets (RFC 2661 §3.1 forms).
// req: L2TP.data
TEST(Framing, InlinePlainHeaderAgreesWithTheGeneralParser) {
    std::array<std::uint8_t, 14> d{};
    for (std::size_t k = 2; k < d.size(); ++k) d[k] = static_cast<std::uint8_t>(k < 4 ? 0 : 3 * k);  // Length/Offset small
    std::size_t plain = 0;
    for (unsigned f = 0; f < 0x10000; ++f) {
        d[0] = static_cast<std::uint8_t>(f >> 8);
        d[1] = static_cast<std::uint8_t>(f);
        for (std::size_t n = 0; n <= d.size(); ++n) {
            const std::span<const std::uint8_t> in(d.data(), n);
            DecapError e1 = DecapError::truncated, e2 = DecapError::truncated;
            const auto a = parse_l2tp_data(in, &e1);
            const auto b = parse_l2tp_data_any(in, &e2);
            ASSERT_EQ(a.has_value(), b.has_value()) << std::hex << f << " length " << n;
            ASSERT_EQ(e1, e2) << std::hex << f << " length " << n;
            if (!a) continue;
            ASSERT_EQ(a->tunnel_id, b->tunnel_id);
            ASSERT_EQ(a->session_id, b->session_id);
            ASSERT_EQ(a->ns, b->ns);
            ASSERT_EQ(a->nr, b->nr);
            ASSERT_EQ(a->ppp.data(), b->ppp.data()) << std::hex << f << " length " << n;
            ASSERT_EQ(a->ppp.size(), b->ppp.size()) << std::hex << f << " length " << n;
            plain += (d[0] & 0xCA) == 0;
        }
    }
    EXPECT_GT(plain, 0u);
}

TEST(Framing, Ipv4Destination) {
    EXPECT_EQ(ipv4_destination(ipv4("10.9.8.7")), A("10.9.8.7").value);
    auto v6 = ipv4("1.1.1.1");
    v6[0] = 0x60;
    EXPECT_FALSE(ipv4_destination(v6));
    auto short_ihl = ipv4("1.1.1.1");
    short_ihl[0] = 0x44;
    EXPECT_FALSE(ipv4_destination(short_ihl));
    EXPECT_FALSE(ipv4_destination(std::vector<std::uint8_t>(19, 0x45)));
}

// ---------------------------------------------------------------- ForwardingLoop

TEST(ForwardingLoop, DispatchLookupCountersAndRemoval) {
    std::vector<std::string> log;
    ForwardingLoop::Callbacks cb;
    cb.to_session = [&](VrId vr, SessionHandle s, Packet& p) {
        DataEncap e{.tunnel_id = 5, .session_id = static_cast<std::uint16_t>(s)};
        const std::size_t n = prepend_l2tp_ppp(p, e);
        log.push_back("vr" + std::to_string(vr) + " session " + std::to_string(s) + " +" + std::to_string(n) +
                      " len " + std::to_string(p.length));
    };
    cb.batch_end = [&](VrId vr) { log.push_back("vr" + std::to_string(vr) + " batch end"); };
    cb.no_route = [&](VrId vr, std::uint32_t dst, std::span<const std::uint8_t> pkt) {
        log.push_back("vr" + std::to_string(vr) + " no route " + Ipv4Address{dst}.to_string() + " len " +
                      std::to_string(pkt.size()));
    };
    ForwardingLoop loop(cb, 8, 1500, 64);
    const VrId def = loop.add_vr("default", TunDevice{});
    const VrId red = loop.add_vr("red", TunDevice{});
    EXPECT_EQ(loop.find_vr("red"), red);
    EXPECT_FALSE(loop.find_vr("blue"));
    EXPECT_EQ(loop.add_route(def, P("10.10.0.0/16"), 11, RouteKind::framed_route).insert, RouteTable::Insert::inserted);
    EXPECT_EQ(loop.add_route(def, P("10.10.1.1/32"), 12, RouteKind::framed_ip).insert, RouteTable::Insert::inserted);
    EXPECT_EQ(loop.add_route(red, P("10.10.0.0/16"), 21, RouteKind::framed_route).insert, RouteTable::Insert::inserted)
        << "VRs have separate tables";

    PacketBatch b(8, 1500, 64);
    b.push(ipv4("10.10.1.1"));
    b.push(ipv4("10.10.2.2"));
    b.push(ipv4("10.20.0.1"));
    auto junk = ipv4("10.10.1.1");
    junk[0] = 0x60;
    b.push(junk);
    loop.dispatch(def, b);
    b.reset();
    b.push(ipv4("10.10.1.1"));
    loop.dispatch(red, b);

    const std::vector<std::string> golden = {
        "vr0 session 12 +10 len 38", "vr0 session 11 +10 len 38", "vr0 no route 10.20.0.1 len 28",
        "vr0 batch end",             "vr1 session 21 +10 len 38", "vr1 batch end",
    };
    EXPECT_EQ(log, golden);
    const VrCounters& c = loop.counters(def);
    EXPECT_EQ(c.tun_packets_in, 4u);
    EXPECT_EQ(c.tun_bytes_in, 4u * 28);
    EXPECT_EQ(c.to_session, 2u);
    EXPECT_EQ(c.no_route, 1u);
    EXPECT_EQ(c.not_ipv4, 1u);
    EXPECT_EQ(loop.counters(red).to_session, 1u);

    const auto removed = loop.remove_session(def, 12);
    ASSERT_EQ(removed.size(), 1u);
    EXPECT_EQ(removed[0], P("10.10.1.1/32"));
    EXPECT_FALSE(loop.remove_route(def, P("10.10.0.0/16"), 12));
    EXPECT_TRUE(loop.remove_route(def, P("10.10.0.0/16"), 11));
    EXPECT_EQ(loop.routes(def).size(), 0u);

    const auto pkt = ipv4("10.0.0.1");
    EXPECT_EQ(loop.from_session(def, pkt), WriteStatus::error) << "no TUN: counted as a drop";
    EXPECT_EQ(loop.counters(def).drops, 1u);
    EXPECT_EQ(loop.from_session(99, pkt), WriteStatus::error);
    EXPECT_EQ(loop.poll_tun(def), 0u);
    EXPECT_THROW(loop.counters(7), std::out_of_range);
    EXPECT_THROW(ForwardingLoop({}, 8, 1500, 8), std::invalid_argument);
}

TEST(ForwardingLoop, RouteEventsGoldenLog) {
    dl::core::VirtualClock clock;
    dl::core::EventBus bus(clock);
    dl::core::EventRecorder rec(bus);
    ForwardingLoop loop({}, 4, 1500, 64);
    loop.set_event_bus(&bus);
    const VrId red = loop.add_vr("red", TunDevice{});
    loop.add_route(red, P("10.1.0.0/16"), 1, RouteKind::framed_route);
    clock.advance(std::chrono::milliseconds(500));
    loop.add_route(red, P("10.1.0.0/16"), 2, RouteKind::framed_route);
    loop.add_route(red, P("10.1.0.0/16"), 1, RouteKind::framed_route);  // already present: no event
    loop.add_route(red, P("10.1.2.3/32"), 1, RouteKind::framed_ip);
    clock.advance(std::chrono::seconds(1));
    loop.remove_session(red, 1);
    const std::string golden =
        "+0.000000s dataplane.route red/10.1.0.0/16: install {\"kind\":\"framed-route\",\"session\":1}\n"
        "+0.500000s dataplane.route red/10.1.0.0/16: conflict (cause=held by session 1) {\"kind\":\"framed-route\",\"session\":2}\n"
        "+0.500000s dataplane.route red/10.1.2.3/32: install {\"kind\":\"framed-ip\",\"session\":1}\n"
        "+1.500000s dataplane.route red/10.1.0.0/16: remove {\"session\":1}\n"
        "+1.500000s dataplane.route red/10.1.2.3/32: remove {\"session\":1}\n";
    EXPECT_EQ(rec.text(), golden);
}

TEST(ForwardingLoop, NoAllocationPerPacket) {
    std::vector<DataEncap> encap(100, DataEncap{.tunnel_id = 1, .session_id = 2});
    std::size_t framed = 0, no_route = 0, ends = 0;
    ForwardingLoop::Callbacks cb;
    cb.to_session = [&](VrId, SessionHandle s, Packet& p) { framed += prepend_l2tp_ppp(p, encap[s]) != 0; };
    cb.no_route = [&](VrId, std::uint32_t, std::span<const std::uint8_t>) { ++no_route; };
    cb.batch_end = [&](VrId) { ++ends; };
    ForwardingLoop loop(cb, 64, 2048, 64);
    const VrId vr = loop.add_vr("default", TunDevice{});
    for (std::uint32_t i = 0; i < 100; ++i) loop.add_route(vr, {{0x0AC90000u | i}, 32}, i, RouteKind::framed_ip);
    PacketBatch batch(64, 2048, 64);
    std::vector<std::vector<std::uint8_t>> packets;
    for (int i = 0; i < 64; ++i) packets.push_back(ipv4(i % 8 ? "10.201.0.7" : "10.202.0.1", 64));
    const std::uint64_t before = dl::testing::allocations();
    for (int round = 0; round < 10; ++round) {
        batch.reset();
        for (const auto& p : packets) batch.push(p);
        loop.dispatch(vr, batch);
        for (Packet& p : batch) {  // and back: decap each framed packet
            if (auto ip = decap_l2tp_ppp_ipv4(p.bytes())) benchmark_sink(ip->size());
        }
    }
    EXPECT_EQ(dl::testing::allocations() - before, 0u) << "heap allocations on the forwarding path";
    EXPECT_EQ(framed, 560u);
    EXPECT_EQ(no_route, 80u);
    EXPECT_EQ(ends, 10u);
}

// ---------------------------------------------------------------- UDP batches (loopback, no privilege)

#include <arpa/inet.h>
#include <poll.h>
#include <unistd.h>

#include "dl/dataplane/udp_batch.hpp"

namespace {
/// Two UDP sockets: `rx` bound to 127.0.0.1 on an ephemeral port (its address in `a`), `tx`
/// unbound; -1 for a socket that could not be made or bound.
struct LoopbackPair {
    int rx = -1, tx = -1;
    sockaddr_in a{};
};
LoopbackPair loopback_pair() {
    LoopbackPair p;
    p.rx = ::socket(AF_INET, SOCK_DGRAM, 0);
    p.tx = ::socket(AF_INET, SOCK_DGRAM, 0);
    p.a.sin_family = AF_INET;
    p.a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof p.a;
    if (p.rx >= 0 && (::bind(p.rx, reinterpret_cast<sockaddr*>(&p.a), sizeof p.a) != 0 ||
                      ::getsockname(p.rx, reinterpret_cast<sockaddr*>(&p.a), &al) != 0)) {
        ::close(p.rx);
        p.rx = -1;
    }
    return p;
}
}  // namespace

TEST(UdpBatch, SendmmsgRecvmmsgOnLoopback) {
    const auto [rx, tx, a] = loopback_pair();
    ASSERT_GE(rx, 0);
    ASSERT_GE(tx, 0);

    UdpBatchSender sender(4);
    std::vector<std::vector<std::uint8_t>> data;
    for (std::uint8_t i = 0; i < 6; ++i) data.push_back(std::vector<std::uint8_t>(10 + i, i));
    data[2].assign(101, 2);  // longer than the receiving batch's 100-octet buffers
    for (const auto& d : data) ASSERT_TRUE(sender.add(tx, d, &a));
    EXPECT_EQ(sender.pending(), 2u) << "the 5th add flushed the first four";
    EXPECT_EQ(sender.flush(tx), 2u);
    EXPECT_EQ(sender.sent(), 6u);
    EXPECT_EQ(sender.errors(), 0u);
    EXPECT_EQ(sender.syscalls(), 2u);

    PacketBatch batch(8, 100, 16);
    UdpBatchReceiver receiver(8);
    std::size_t got = 0;
    for (int tries = 0; tries < 100 && got + receiver.truncated() < 6; ++tries) {
        pollfd p{rx, POLLIN, 0};
        ::poll(&p, 1, 1000);
        got += receiver.receive(rx, batch);
    }
    ASSERT_EQ(got, 5u);
    EXPECT_EQ(receiver.truncated(), 1u);
    const std::vector<std::size_t> lengths = {10, 11, 13, 14, 15};
    for (std::size_t i = 0; i < 5; ++i) {
        EXPECT_EQ(batch[i].length, lengths[i]) << i;
        EXPECT_EQ(batch[i].headroom, 16u);
        EXPECT_EQ(batch[i].data[0], data[i < 2 ? i : i + 1][0]);
    }
    ::close(rx);
    ::close(tx);
}

// Small slots with a spill area: a datagram longer than its slot arrives whole (datagram()),
// one longer than max_datagram is dropped and counted (MSG_TRUNC), never handed on cut short;
// the datagrams after the dropped one move down intact, spill part included.
// req: DP.batching
TEST(UdpBatch, LongDatagramsSpillWholeAndTooLongOnesAreCounted) {
    const auto [rx, tx, a] = loopback_pair();
    ASSERT_GE(rx, 0);
    ASSERT_GE(tx, 0);
    // 100-octet slots, whole up to 1 000: 1 001 is cut by the kernel and must be dropped.
    const std::vector<std::size_t> lengths = {10, 101, 1000, 1001, 100, 500, 3};
    std::vector<std::vector<std::uint8_t>> data;
    for (std::size_t k = 0; k < lengths.size(); ++k) {
        std::vector<std::uint8_t> d(lengths[k]);
        for (std::size_t j = 0; j < d.size(); ++j) d[j] = static_cast<std::uint8_t>(j * 13 + k);
        ASSERT_EQ(::sendto(tx, d.data(), d.size(), 0, reinterpret_cast<const sockaddr*>(&a), sizeof a),
                  static_cast<ssize_t>(d.size()));
        data.push_back(std::move(d));
    }
    PacketBatch batch(8, 100, 16);
    UdpBatchReceiver receiver(8, 1000);
    std::vector<std::vector<std::uint8_t>> got;
    for (int tries = 0; tries < 100 && got.size() + receiver.truncated() < data.size(); ++tries) {
        pollfd p{rx, POLLIN, 0};
        ::poll(&p, 1, 1000);
        const std::size_t n = receiver.receive(rx, batch);
        for (std::size_t i = 0; i < n; ++i) {
            const auto d = receiver.datagram(i, batch);
            got.emplace_back(d.begin(), d.end());
        }
    }
    EXPECT_EQ(receiver.truncated(), 1u) << "1 001 > max_datagram";
    EXPECT_EQ(receiver.spilled(), 3u) << "101, 1 000 and 500";
    ASSERT_EQ(got.size(), 6u);
    std::size_t k = 0;
    for (std::size_t i = 0; i < data.size(); ++i) {
        if (lengths[i] == 1001) continue;
        EXPECT_EQ(got[k], data[i]) << "datagram " << i << " whole and intact";
        ++k;
    }
    for (std::size_t i = 0; i < batch.size(); ++i) EXPECT_LE(batch[i].length, 100u) << "a slot never overruns";
    ::close(rx);
    ::close(tx);
}

// req: DP.batching
TEST(UdpBatch, PartialSendThenEagainDropsTheRestOfTheBurst) {
    // An AF_UNIX datagram pair nobody reads: the receiver's queue fills, so one sendmmsg of a
    // large burst is accepted in part (a partial send, retried) and then refused with EAGAIN.
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
    UdpBatchSender sender(1024, /*nonblocking=*/true);
    const std::vector<std::uint8_t> d(200, 0x42);
    for (int i = 0; i < 1024; ++i) ASSERT_TRUE(sender.add(sv[0], d));
    const std::size_t sent = sender.flush(sv[0]);
    EXPECT_GT(sent, 0u) << "the first datagrams fit the receiver's queue";
    EXPECT_LT(sent, 1024u) << "an unread AF_UNIX queue cannot take 1024 datagrams";
    EXPECT_EQ(sender.sent(), sent);
    EXPECT_EQ(sender.would_block(), 1024u - sent) << "EAGAIN drops everything still queued";
    EXPECT_EQ(sender.errors(), 0u);
    EXPECT_EQ(sender.pending(), 0u);
    EXPECT_LE(sender.syscalls(), 3u) << "no spinning on EAGAIN: one call per accepted part plus the refused one";
    // Draining the receiver lets the next burst through.
    char b[512];
    std::size_t drained = 0;
    while (::recv(sv[1], b, sizeof b, MSG_DONTWAIT) > 0) ++drained;
    EXPECT_EQ(drained, sent);
    ASSERT_TRUE(sender.add(sv[0], d));
    EXPECT_EQ(sender.flush(sv[0]), 1u);
    ::close(sv[0]);
    ::close(sv[1]);
}

// A connected UDP socket reports the ICMP port unreachable its previous datagram drew on the next
// send, which it did not send (udp(7)): that datagram is offered again, not dropped.
// req: DP.connected-peer
TEST(UdpBatch, IcmpErrorReportedOnAConnectedSocketCostsNoDatagram) {
    // A port nobody listens on: bind a socket to learn a free one, then close it.
    const int probe = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(probe, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
    socklen_t l = sizeof to;
    ASSERT_EQ(::getsockname(probe, reinterpret_cast<sockaddr*>(&to), &l), 0);
    ::close(probe);
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
    UdpBatchSender sender(8, /*nonblocking=*/true);
    const std::vector<std::uint8_t> d(20, 0x42);
    ASSERT_TRUE(sender.add(fd, d));
    EXPECT_EQ(sender.flush(fd), 1u) << "sent; the port unreachable comes back on loopback at once";
    // The ICMP error is pending on the socket now (SO_ERROR would read and clear it).
    ASSERT_TRUE(sender.add(fd, d));
    ASSERT_TRUE(sender.add(fd, d));
    EXPECT_EQ(sender.flush(fd), 2u) << "both sent: the refused attempt is repeated";
    EXPECT_EQ(sender.refused(), 1u);
    EXPECT_EQ(sender.errors(), 0u);
    EXPECT_EQ(sender.sent(), 3u);
    ::close(fd);
}

// req: DP.batching
TEST(UdpBatch, ReceiveOnAnEmptySocketIsNotAnError) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    PacketBatch batch(4, 100, 16);
    UdpBatchReceiver receiver(4);
    EXPECT_EQ(receiver.receive(fd, batch), 0u);
    EXPECT_EQ(receiver.errors(), 0u) << "EAGAIN is the normal end of a batch";
    EXPECT_TRUE(batch.empty());
    ::close(fd);
}

// The receiver keeps its recvmmsg headers prepared between calls and re-prepares only the ones
// the previous call used. Every slot must still get its own datagram after: a partial receive
// whose packets the consumer moved (a header pulled off: Packet::data advanced), a receive
// appended to a batch that was not reset (the free slots start further on), a truncated
// datagram in the middle (its header flagged MSG_TRUNC), another batch, and a full batch after
// all of these. A header reused unprepared writes into the wrong slot or reports a stale length.
// req: DP.batching
TEST(UdpBatch, EverySlotIsFilledRightAfterPartialReceivesMovedSlotsAndAnotherBatch) {
    // Named copies, not structured bindings: the lambdas below capture them (clang 14 cannot
    // capture a structured binding, C++20 P1091).
    const LoopbackPair pair = loopback_pair();
    const int rx = pair.rx;
    const int tx = pair.tx;
    const sockaddr_in a = pair.a;
    ASSERT_GE(rx, 0);
    ASSERT_GE(tx, 0);
    int rcvbuf = 1 << 20;
    ::setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    std::uint32_t serial = 0;
    // Datagram k: length 20 + (k * 7) % 70 (or `len`), every octet (k + j) & 0xFF.
    auto make = [](std::uint32_t k, std::size_t len) {
        std::vector<std::uint8_t> d(len);
        for (std::size_t j = 0; j < len; ++j) d[j] = static_cast<std::uint8_t>(k + j);
        return d;
    };
    auto send = [&](std::size_t count, std::size_t len = 0) {
        std::vector<std::vector<std::uint8_t>> sent;
        for (std::size_t i = 0; i < count; ++i, ++serial) {
            auto d = make(serial, len ? len : 20 + (serial * 7) % 70);
            EXPECT_EQ(::sendto(tx, d.data(), d.size(), 0, reinterpret_cast<const sockaddr*>(&a), sizeof a),
                      static_cast<ssize_t>(d.size()));
            sent.push_back(std::move(d));
        }
        return sent;
    };
    UdpBatchReceiver receiver(64, 1000);
    // Receives until `want` datagrams arrived (or 100 polls); checks each against `expect`,
    // slot by slot from the batch size before the call.
    auto receive = [&](PacketBatch& batch, const std::vector<std::vector<std::uint8_t>>& expect) {
        std::size_t got = 0;
        for (int tries = 0; tries < 100 && got < expect.size(); ++tries) {
            pollfd p{rx, POLLIN, 0};
            ::poll(&p, 1, 1000);
            const std::size_t base = batch.size();
            const std::size_t n = receiver.receive(rx, batch);
            for (std::size_t i = 0; i < n && got + i < expect.size(); ++i) {
                const auto d = receiver.datagram(i, batch);
                EXPECT_EQ(std::vector<std::uint8_t>(d.begin(), d.end()), expect[got + i]) << "datagram " << got + i;
                EXPECT_EQ(batch[base + i].data, batch.slot_buffer(base + i)) << "slot " << base + i;
                EXPECT_EQ(batch[base + i].length, expect[got + i].size());
            }
            got += n;
        }
        EXPECT_EQ(got, expect.size());
    };

    PacketBatch batch(128, 100, 16);
    receive(batch, send(2));  // a partial receive: slots 0 and 1
    EXPECT_EQ(receiver.full_preparations(), 1u);
    for (std::size_t i = 0; i < 2; ++i) {  // the consumer pulls a header off each
        batch[i].data += 4;
        batch[i].length -= 4;
        batch[i].headroom += 4;
    }
    batch.reset();
    receive(batch, send(64));  // every slot, from 0 again, over the moved packets
    EXPECT_EQ(receiver.full_preparations(), 1u) << "the same slots: only the used headers re-prepared";
    batch.reset();
    receive(batch, send(3));
    // Not reset: the next datagrams go to slots 3.., and 0..2 keep theirs.
    const auto first = make(serial - 3, 20 + ((serial - 3) * 7) % 70);
    receive(batch, send(5));
    EXPECT_EQ(batch.size(), 8u);
    EXPECT_EQ(std::vector<std::uint8_t>(batch[0].data, batch[0].data + batch[0].length), first);
    EXPECT_EQ(receiver.full_preparations(), 2u) << "the free slots moved: all prepared again";
    batch.reset();
    // A datagram cut by the kernel (longer than max_datagram) between two others, then a full
    // batch: the flagged header and the moved-down datagrams leave nothing stale behind.
    auto before = send(1);
    send(1, 1001);
    auto after = send(1);
    receive(batch, {before[0], after[0]});
    EXPECT_EQ(receiver.truncated(), 1u);
    batch.reset();
    receive(batch, send(64, 0));
    // Another batch (other memory): its own slots, none of the first batch's.
    PacketBatch other(64, 100, 16);
    batch.reset();
    const std::vector<std::uint8_t> untouched(batch.slot_buffer(0), batch.slot_buffer(0) + 20);
    receive(other, send(7));
    EXPECT_EQ(std::vector<std::uint8_t>(batch.slot_buffer(0), batch.slot_buffer(0) + 20), untouched);
    receive(batch, send(64));
    EXPECT_EQ(receiver.errors(), 0u);
    ::close(rx);
    ::close(tx);
}

// req: L2TP.data
TEST(Framing, PrependL2tpOnlyBeforeAPppFrame) {
    PacketBatch b(1, 64, 16);
    const std::vector<std::uint8_t> lcp = {0xFF, 0x03, 0xC0, 0x21, 0x09, 0x01, 0x00, 0x08};
    ASSERT_TRUE(b.push(lcp));
    DataEncap e{.tunnel_id = 0x1234, .session_id = 0x5678, .sequence = true, .ns = 7};
    ASSERT_EQ(prepend_l2tp(b[0], e), 10u);
    const std::vector<std::uint8_t> want = {0x08, 0x02, 0x12, 0x34, 0x56, 0x78, 0x00, 0x07, 0x00, 0x00,
                                            0xFF, 0x03, 0xC0, 0x21, 0x09, 0x01, 0x00, 0x08};
    EXPECT_EQ(std::vector<std::uint8_t>(b[0].data, b[0].data + b[0].length), want);
    EXPECT_EQ(e.ns, 8) << "Ns advances per data message";
    PacketBatch small(1, 64, 4);
    ASSERT_TRUE(small.push(lcp));
    EXPECT_EQ(prepend_l2tp(small[0], e), 0u) << "headroom 4 < 10";
    EXPECT_EQ(small[0].length, lcp.size()) << "unchanged on failure";
}

// ---- IPv4 fragmentation towards a PPP peer's MRU (RFC 791 §3.2, RFC 1661 §6.1) ----

namespace {
/// An IPv4 packet of `total` octets: IHL 6 with one Record Route-like option that is not copied
/// (type 7, length 3) and a NOP, DF as given, payload octet i = i % 251.
std::vector<std::uint8_t> ipv4_packet(std::size_t total, bool df, std::uint16_t flags_offset = 0) {
    std::vector<std::uint8_t> p(total);
    p[0] = 0x46;
    p[2] = static_cast<std::uint8_t>(total >> 8), p[3] = static_cast<std::uint8_t>(total);
    p[4] = 0x12, p[5] = 0x34;  // Identification
    const std::uint16_t f = static_cast<std::uint16_t>(flags_offset | (df ? 0x4000 : 0));
    p[6] = static_cast<std::uint8_t>(f >> 8), p[7] = static_cast<std::uint8_t>(f);
    p[8] = 64, p[9] = 1;
    p[12] = 192, p[13] = 0, p[14] = 2, p[15] = 1, p[16] = 198, p[17] = 18, p[18] = 45, p[19] = 2;
    p[20] = 7, p[21] = 3, p[22] = 0, p[23] = 1;  // option type 7 (not copied), length 3; NOP
    const auto c = ipv4_header_checksum({p.data(), 24});
    p[10] = static_cast<std::uint8_t>(c >> 8), p[11] = static_cast<std::uint8_t>(c);
    for (std::size_t i = 24; i < total; ++i) p[i] = static_cast<std::uint8_t>(i % 251);
    return p;
}
std::uint16_t rd16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }
}  // namespace

TEST(Ipv4Fragment, FitsDontFragmentAndMalformed) {
    auto p = ipv4_packet(1000, true);
    EXPECT_EQ(plan_ipv4_fragments(p, 1000).verdict, FragmentVerdict::fits);
    EXPECT_EQ(plan_ipv4_fragments(p, 999).verdict, FragmentVerdict::dont_fragment);
    p = ipv4_packet(1000, false);
    EXPECT_EQ(plan_ipv4_fragments(p, 31).verdict, FragmentVerdict::unsplittable);  // 24-octet header + 8 > 31
    EXPECT_EQ(plan_ipv4_fragments(p, 32).verdict, FragmentVerdict::fragment);
    auto bad = p;
    bad[0] = 0x65;  // version 6
    EXPECT_EQ(plan_ipv4_fragments(bad, 500).verdict, FragmentVerdict::malformed);
    bad = p;
    bad[21] = 9;  // option runs past the header
    EXPECT_EQ(plan_ipv4_fragments(bad, 500).verdict, FragmentVerdict::malformed);
    bad = p;
    bad[2] = 0x10;  // Total Length 4096 > the octets there
    EXPECT_EQ(plan_ipv4_fragments(bad, 500).verdict, FragmentVerdict::malformed);
    EXPECT_EQ(plan_ipv4_fragments(std::span(p).first(19), 500).verdict, FragmentVerdict::malformed);
}

// req: DP.peer-mru
TEST(Ipv4Fragment, SplitsToTheMtuAndReassemblesToTheOriginal) {
    const auto p = ipv4_packet(1428, false);  // the interop case: ping -s 1400 towards MRU 1000
    const auto plan = plan_ipv4_fragments(p, 1000);
    ASSERT_EQ(plan.verdict, FragmentVerdict::fragment);
    EXPECT_EQ(plan.chunk, 976u);  // (1000 - 24) rounded down to 8
    ASSERT_EQ(plan.count, 2u);
    std::vector<std::uint8_t> data(1428 - 24);
    std::vector<std::uint8_t> out(1500);
    for (std::size_t k = 0; k < plan.count; ++k) {
        const auto n = write_ipv4_fragment(p, plan, k, out);
        ASSERT_EQ(n, ipv4_fragment_size(p, plan, k));
        EXPECT_LE(n, 1000u);
        EXPECT_EQ(rd16(&out[2]), n);
        EXPECT_EQ(ipv4_header_checksum({out.data(), 24}), 0) << "header checksum verifies (RFC 1071)";
        const std::uint16_t f = rd16(&out[6]);
        EXPECT_EQ(bool(f & 0x2000), k + 1 < plan.count) << "MF on every fragment but the last";
        EXPECT_EQ(rd16(&out[4]), 0x1234) << "Identification kept";
        EXPECT_EQ(out[20], k == 0 ? 7 : 1) << "the uncopied option only in the first fragment";
        std::copy(out.begin() + 24, out.begin() + static_cast<long>(n), data.begin() + (f & 0x1FFF) * 8);
    }
    EXPECT_TRUE(std::equal(data.begin(), data.end(), p.begin() + 24));
    EXPECT_EQ(write_ipv4_fragment(p, plan, 2, out), 0u);
    EXPECT_EQ(write_ipv4_fragment(p, plan, 0, std::span(out).first(999)), 0u) << "output too small";
}

TEST(Ipv4Fragment, AFragmentSplitAgainKeepsItsOffsetAndMoreFragments) {
    const auto p = ipv4_packet(600, false, 0x2000 | 100);  // MF, offset 100 (800 octets)
    const auto plan = plan_ipv4_fragments(p, 300);
    ASSERT_EQ(plan.count, 3u);  // 576 data octets in chunks of 272
    std::vector<std::uint8_t> out(600);
    for (std::size_t k = 0; k < plan.count; ++k) {
        ASSERT_GT(write_ipv4_fragment(p, plan, k, out), 0u);
        EXPECT_EQ(rd16(&out[6]), 0x2000 | (100 + k * 272 / 8)) << "MF stays set on the last piece too";
    }
}

// ---- ICMP Fragmentation Needed towards the sender of a DF packet over the peer's MRU (RFC 792, RFC 1191 §4) ----

namespace {
std::vector<std::uint8_t> from_hex(const char* h) {
    std::vector<std::uint8_t> v;
    for (std::size_t i = 0; h[i] && h[i + 1]; i += 2) v.push_back(static_cast<std::uint8_t>(std::stoi(std::string(h + i, 2), nullptr, 16)));
    return v;
}
/// The ping of the interop case (`ping -M do -s 1400`): a 1428-octet ICMP Echo Request, DF set, from
/// 192.0.2.10 to 198.18.45.2, TTL 63; the first 8 data octets are the echo header (id 0x2a, seq 1).
std::vector<std::uint8_t> df_ping() {
    auto p = from_hex("45000594123440003f016f16c000020ac6122d02" "08005478002a0001");
    p.resize(1428, 0x5A);
    return p;
}
constexpr std::uint32_t kLns = 0xC0000201;  // 192.0.2.1
}  // namespace

// req: DP.icmp-frag-needed
TEST(IcmpFragNeeded, GoldenBytes) {
    // Computed independently (Python, RFC 1071 checksum): IPv4 192.0.2.1 -> 192.0.2.10, TTL 64, ICMP
    // type 3 code 4, checksum 0x9c70, Next-Hop MTU 1000 (0x03e8), the original header + 8 octets.
    const auto want = from_hex("45000038000000004001f6b9c0000201c000020a" "03049c70000003e8"
                               "45000594123440003f016f16c000020ac6122d02" "08005478002a0001");
    std::array<std::uint8_t, kIcmpFragNeededMax> out{};
    IcmpRefusal why = IcmpRefusal::malformed;
    const auto n = write_icmp_frag_needed(df_ping(), kLns, 1000, out, &why);
    EXPECT_EQ(why, IcmpRefusal::none);
    ASSERT_EQ(n, want.size());
    EXPECT_EQ(std::vector<std::uint8_t>(out.begin(), out.begin() + static_cast<long>(n)), want);
    EXPECT_EQ(ipv4_header_checksum({out.data(), 20}), 0) << "IPv4 header checksum verifies";
    EXPECT_EQ(ipv4_header_checksum({out.data() + 20, n - 20}), 0) << "ICMP checksum verifies";
    EXPECT_EQ(write_icmp_frag_needed(df_ping(), kLns, 1000, std::span(out).first(n - 1), &why), 0u);
    EXPECT_EQ(why, IcmpRefusal::output_too_small);
}

TEST(IcmpFragNeeded, QuotesTheWholeHeaderWithOptionsAndShortData) {
    auto p = ipv4_packet(1000, true);  // IHL 6 (one option)
    std::array<std::uint8_t, kIcmpFragNeededMax> out{};
    auto n = write_icmp_frag_needed(p, kLns, 576, out);
    ASSERT_EQ(n, 20u + 8 + 24 + 8);
    EXPECT_TRUE(std::equal(out.begin() + 28, out.begin() + 28 + 32, p.begin())) << "24-octet header + 8 octets";
    EXPECT_EQ(rd16(&out[26]), 576);
    p = ipv4_packet(27, true);  // 3 data octets only: all of them are quoted
    n = write_icmp_frag_needed(p, kLns, 576, out);
    EXPECT_EQ(n, 20u + 8 + 24 + 3);
    EXPECT_EQ(ipv4_header_checksum({out.data() + 20, n - 20}), 0) << "odd length: RFC 1071 pads with zero";
}

TEST(IcmpFragNeeded, NoErrorWhereRfc1812ForbidsOne) {
    std::array<std::uint8_t, kIcmpFragNeededMax> out{};
    IcmpRefusal why{};
    auto with = [&](auto edit) {
        auto p = df_ping();
        edit(p);
        const auto n = write_icmp_frag_needed(p, kLns, 1000, out, &why);
        return n == 0 ? why : IcmpRefusal::none;
    };
    EXPECT_EQ(with([](auto& p) { p[20] = 3; }), IcmpRefusal::icmp_error) << "an ICMP error (Destination Unreachable)";
    EXPECT_EQ(with([](auto& p) { p[20] = 11; }), IcmpRefusal::icmp_error) << "Time Exceeded";
    EXPECT_EQ(with([](auto& p) { p[20] = 0; }), IcmpRefusal::none) << "an Echo Reply is a query: it gets one";
    EXPECT_EQ(with([](auto& p) { p[7] = 0x10; }), IcmpRefusal::not_first_fragment);
    EXPECT_EQ(with([](auto& p) { p[12] = 127; }), IcmpRefusal::not_unicast) << "loopback source";
    EXPECT_EQ(with([](auto& p) { p[12] = 0; }), IcmpRefusal::not_unicast) << "0/8 source";
    EXPECT_EQ(with([](auto& p) { p[12] = 224; }), IcmpRefusal::not_unicast) << "multicast source";
    EXPECT_EQ(with([](auto& p) { p[16] = 239; }), IcmpRefusal::not_unicast) << "multicast destination";
    EXPECT_EQ(with([](auto& p) { std::fill(p.begin() + 16, p.begin() + 20, 0xFF); }), IcmpRefusal::not_unicast);
    EXPECT_EQ(with([](auto& p) { p[0] = 0x65; }), IcmpRefusal::malformed);
    EXPECT_EQ(with([](auto& p) { p[2] = 0x10; }), IcmpRefusal::malformed) << "Total Length past the octets";
    EXPECT_EQ(write_icmp_frag_needed(df_ping(), 0, 1000, out, &why), 0u) << "no source address configured";
    EXPECT_EQ(why, IcmpRefusal::no_source);
}

TEST(IcmpFragNeeded, TokenBucketLimitsTheRateAndCountsWithoutAllocating) {
    dl::core::VirtualClock clock;
    FragNeededSender s(/*rate=*/2, /*burst=*/3);
    const auto p = df_ping();
    auto bad = p;
    bad[20] = 3;
    const auto before = dl::testing::allocations();
    int sent = 0;
    for (int i = 0; i < 10; ++i) sent += !s.make(p, kLns, 1000, clock.now()).empty();
    EXPECT_EQ(sent, 3) << "the burst, then nothing at the same instant";
    EXPECT_TRUE(s.make(bad, kLns, 1000, clock.now()).empty());
    clock.advance(std::chrono::milliseconds(500));  // 2/s: one token back
    EXPECT_FALSE(s.make(p, kLns, 1000, clock.now()).empty());
    EXPECT_TRUE(s.make(p, kLns, 1000, clock.now()).empty());
    clock.advance(std::chrono::seconds(60));  // refills to the burst, not beyond
    sent = 0;
    for (int i = 0; i < 10; ++i) sent += !s.make(p, kLns, 1000, clock.now()).empty();
    EXPECT_EQ(sent, 3);
    EXPECT_EQ(dl::testing::allocations(), before) << "no allocation on the forwarding path";
    EXPECT_EQ(s.counters().sent, 7u);
    EXPECT_EQ(s.counters().rate_limited, 15u);
    EXPECT_EQ(s.counters().not_sent, 1u) << "an ICMP error gets none, and spends no token";
    FragNeededSender off(0, 1);
    EXPECT_TRUE(off.make(p, kLns, 1000, clock.now()).empty()) << "rate 0: off";
    EXPECT_EQ(off.counters().rate_limited, 1u);
}
