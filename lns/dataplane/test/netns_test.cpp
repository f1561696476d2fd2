// Privileged test: a TUN in a fresh network namespace "dl-<random>-dp", kernel → TUN → session and
// session → TUN → kernel socket, kernel route mirroring in the main table and in a VR table with
// a policy rule. Skipped (with the reason) without root, /dev/net/tun or iproute2.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "dl/dataplane/asio_tun.hpp"
#include "dl/dataplane/forwarding.hpp"
#include "dl/dataplane/framing.hpp"
#include "dl/dataplane/kernel_routes.hpp"
#include "dl/dataplane/netlink.hpp"
#include "dl/dataplane/netns.hpp"

using namespace dl::dataplane;
using dl::core::Ipv4Address;
using dl::core::Ipv4Prefix;

namespace {

Ipv4Prefix P(const char* s) { return *Ipv4Prefix::parse(s); }

std::string shell(const std::string& cmd) {
    std::string out;
    std::unique_ptr<FILE, int (*)(FILE*)> f(::popen(cmd.c_str(), "r"), ::pclose);
    if (!f) return out;
    char buf[512];
    while (std::fgets(buf, sizeof buf, f.get())) out += buf;
    return out;
}

bool wait_readable(int fd, int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) == 1;
}

struct Fd {
    int fd;
    explicit Fd(int f) : fd(f) {}
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

sockaddr_in sin(const char* addr, std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, addr, &a.sin_addr);
    return a;
}

/// IPv4/UDP packet with a valid header checksum and UDP checksum 0 (RFC 768: none).
std::vector<std::uint8_t> udp_packet(const char* src, std::uint16_t sport, const char* dst, std::uint16_t dport,
                                     const std::string& payload) {
    std::vector<std::uint8_t> p(28 + payload.size(), 0);
    p[0] = 0x45;
    const std::size_t tot = p.size();
    p[2] = static_cast<std::uint8_t>(tot >> 8), p[3] = static_cast<std::uint8_t>(tot);
    p[8] = 64, p[9] = 17;
    in_addr s{}, d{};
    ::inet_pton(AF_INET, src, &s);
    ::inet_pton(AF_INET, dst, &d);
    std::memcpy(&p[12], &s, 4);
    std::memcpy(&p[16], &d, 4);
    std::uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) sum += (p[i] << 8) | p[i + 1];
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    const std::uint16_t ck = static_cast<std::uint16_t>(~sum);
    p[10] = static_cast<std::uint8_t>(ck >> 8), p[11] = static_cast<std::uint8_t>(ck);
    p[20] = static_cast<std::uint8_t>(sport >> 8), p[21] = static_cast<std::uint8_t>(sport);
    p[22] = static_cast<std::uint8_t>(dport >> 8), p[23] = static_cast<std::uint8_t>(dport);
    const std::size_t ul = 8 + payload.size();
    p[24] = static_cast<std::uint8_t>(ul >> 8), p[25] = static_cast<std::uint8_t>(ul);
    std::memcpy(&p[28], payload.data(), payload.size());
    return p;
}

}  // namespace

class DataplaneNetns : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) for netns and TUN";
        if (::access("/dev/net/tun", R_OK | W_OK) != 0) GTEST_SKIP() << "/dev/net/tun is not available";
        if (shell("ip -V 2>&1").find("iproute2") == std::string::npos) GTEST_SKIP() << "iproute2 (ip) not found";
    }
};

TEST_F(DataplaneNetns, TunForwardingAndKernelRouteMirroring) {
    ScopedNetns ns(ScopedNetns::random_name("dp"));
    ns.run([] {
        Netlink nl;
        TunDevice tun = TunDevice::open({.name = "dlo-default", .mtu = 1400});
        EXPECT_EQ(tun.mtu(), 1400);
        const int ifindex = tun.ifindex();
        nl.add_address(ifindex, P("10.77.255.1/32"));
        KernelRouteMirror mirror(nl, {.vr = "default", .tun_ifindex = ifindex, .table = kMainTable});
        EXPECT_TRUE(mirror.start().empty());

        struct Seen {
            SessionHandle session;
            std::vector<std::uint8_t> framed;
        };
        std::vector<Seen> seen;
        int batches = 0;
        ForwardingLoop::Callbacks cb;
        cb.to_session = [&](VrId, SessionHandle s, Packet& p) {
            DataEncap e{.tunnel_id = 3, .session_id = 4};
            prepend_l2tp_ppp(p, e);
            seen.push_back({s, std::vector<std::uint8_t>(p.data, p.data + p.length)});
        };
        cb.batch_end = [&](VrId) { ++batches; };
        ForwardingLoop loop(cb, 16, 2048, 64);
        const VrId vr = loop.add_vr("default", std::move(tun), &mirror);

        auto r = loop.add_route(vr, P("10.77.0.0/16"), 42, RouteKind::framed_route);
        EXPECT_EQ(r.insert, RouteTable::Insert::inserted);
        EXPECT_FALSE(r.kernel_error) << *r.kernel_error;
        EXPECT_NE(shell("ip -4 route show table main").find("10.77.0.0/16 dev dlo-default"), std::string::npos)
            << shell("ip -4 route show table main");

        // Kernel → TUN → session: three datagrams to an address behind the session, read in one batch.
        Fd udp(::socket(AF_INET, SOCK_DGRAM, 0));
        ASSERT_GE(udp.fd, 0);
        const sockaddr_in remote = sin("10.77.1.5", 9999);
        for (const char* msg : {"one", "two", "three"})
            ASSERT_EQ(::sendto(udp.fd, msg, std::strlen(msg), 0, reinterpret_cast<const sockaddr*>(&remote),
                               sizeof remote),
                      static_cast<ssize_t>(std::strlen(msg)))
                << std::strerror(errno);
        ASSERT_TRUE(wait_readable(loop.tun_fd(vr), 5000)) << "nothing arrived on the TUN";
        // Loop on what reached a session: the kernel may also send IPv6 (RS, MLD) on the TUN.
        for (int i = 0; i < 50 && seen.size() < 3; ++i) {
            loop.poll_tun(vr);
            if (seen.size() < 3) wait_readable(loop.tun_fd(vr), 100);
        }
        ASSERT_EQ(seen.size(), 3u);
        EXPECT_GE(batches, 1);
        for (const auto& s : seen) EXPECT_EQ(s.session, 42u);
        DataMessage m;
        auto ip = decap_l2tp_ppp_ipv4(seen[2].framed, &m);
        ASSERT_TRUE(ip);
        EXPECT_EQ(m.tunnel_id, 3);
        EXPECT_EQ(m.session_id, 4);
        ASSERT_EQ(ip->size(), 28u + 5);
        EXPECT_EQ(ipv4_destination(*ip), Ipv4Address::parse("10.77.1.5")->value);
        EXPECT_EQ((*ip)[9], 17) << "UDP";
        EXPECT_EQ(std::string(ip->begin() + 28, ip->end()), "three");
        EXPECT_EQ(loop.counters(vr).to_session, 3u);
        EXPECT_EQ(loop.counters(vr).no_route, 0u);

        // Session → TUN → kernel socket.
        Fd sink(::socket(AF_INET, SOCK_DGRAM, 0));
        const sockaddr_in local = sin("10.77.255.1", 5555);
        ASSERT_EQ(::bind(sink.fd, reinterpret_cast<const sockaddr*>(&local), sizeof local), 0) << std::strerror(errno);
        const auto pkt = udp_packet("10.77.1.5", 7, "10.77.255.1", 5555, "reply");
        EXPECT_EQ(loop.from_session(vr, pkt), WriteStatus::written);
        ASSERT_TRUE(wait_readable(sink.fd, 5000)) << "the kernel did not deliver the packet written to the TUN";
        char buf[64] = {};
        sockaddr_in from{};
        socklen_t fl = sizeof from;
        ASSERT_EQ(::recvfrom(sink.fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl), 5);
        EXPECT_EQ(std::string(buf, 5), "reply");
        char fa[INET_ADDRSTRLEN];
        EXPECT_STREQ(::inet_ntop(AF_INET, &from.sin_addr, fa, sizeof fa), "10.77.1.5");
        EXPECT_EQ(loop.counters(vr).tun_packets_out, 1u);
        EXPECT_EQ(loop.counters(vr).tun_bytes_out, pkt.size());

        // A second VR with its own table and a policy rule on its ingress interface.
        TunDevice red_tun = TunDevice::open({.name = "dlo-red"});
        KernelRouteMirror red_mirror(nl, {.vr = "red", .tun_ifindex = red_tun.ifindex(), .table = 100,
                                          .ingress_interfaces = {"dl-home-red"}, .rule_priority = 1100});
        EXPECT_TRUE(red_mirror.start().empty());
        const VrId red = loop.add_vr("red", std::move(red_tun), &red_mirror);
        EXPECT_FALSE(loop.add_route(red, P("10.88.0.0/16"), 7, RouteKind::framed_route).kernel_error);
        EXPECT_FALSE(loop.add_route(red, P("10.88.9.9/32"), 7, RouteKind::framed_ip).kernel_error);
        const std::string t100 = shell("ip -4 route show table 100");
        EXPECT_NE(t100.find("10.88.0.0/16 dev dlo-red"), std::string::npos) << t100;
        EXPECT_NE(t100.find("10.88.9.9 dev dlo-red"), std::string::npos) << t100;
        EXPECT_EQ(shell("ip -4 route show table main").find("10.88."), std::string::npos);
        const std::string rules = shell("ip -4 rule show");
        // iproute2 shows "[detached]" after the name while no interface of that name exists.
        const auto line_at = rules.find("1100:\tfrom all iif dl-home-red ");
        ASSERT_NE(line_at, std::string::npos) << rules;
        const std::string line = rules.substr(line_at, rules.find('\n', line_at) - line_at);
        EXPECT_TRUE(line.ends_with("lookup 100 proto 209")) << line;

        // Kernel errors name the prefix and the reason; the table keeps the route.
        KernelRouteMirror broken(nl, {.vr = "broken", .tun_ifindex = 99999, .table = 101});
        auto err = broken.install(P("10.99.0.0/16"));
        ASSERT_TRUE(err);
        EXPECT_NE(err->find("add route 10.99.0.0/16"), std::string::npos) << *err;
        EXPECT_NE(err->find("No such device"), std::string::npos) << *err;
        EXPECT_EQ(broken.errors(), 1u);

        // Session down: its routes leave the table and the kernel.
        std::vector<std::string> kerrs;
        EXPECT_EQ(loop.remove_session(red, 7, &kerrs).size(), 2u);
        EXPECT_TRUE(kerrs.empty());
        EXPECT_EQ(shell("ip -4 route show table 100"), "");
        EXPECT_EQ(red_mirror.installed_count(), 0u);
        EXPECT_TRUE(red_mirror.shutdown().empty());
        EXPECT_EQ(shell("ip -4 rule show").find("dl-home-red"), std::string::npos) << "rule removed on shutdown";

        // Shutdown of the default VR's mirror removes what it installed.
        EXPECT_TRUE(mirror.shutdown().empty());
        EXPECT_EQ(shell("ip -4 route show table main").find("10.77.0.0/16"), std::string::npos);
        EXPECT_EQ(loop.routes(vr).size(), 1u) << "the table itself is lnsd's to clear";
        loop.set_mirror(vr, nullptr);
        loop.set_mirror(red, nullptr);
    });
}

// A route to the same prefix through another interface (the operator's route to the LAN) is not
// the mirror's to replace: install() fails with EEXIST naming the holder and leaves it as it is
// (JunosE "L2TP Dial-Out" Table 73: that target is down). Its own route installed again (a
// session and a target on one prefix, the link back up after a flap) stays a success.
TEST_F(DataplaneNetns, InstallNeverReplacesAnotherInterfacesRoute) {
    ScopedNetns ns(ScopedNetns::random_name("rt"));
    ns.run([] {
        Netlink nl;
        TunDevice own = TunDevice::open({.name = "dlo-own"});
        TunDevice lan = TunDevice::open({.name = "dl-lan"});
        const auto route = [](const char* table, const char* prefix) {
            const std::string all = shell(std::string("ip -4 route show table ") + table);
            for (std::size_t at = 0; at < all.size();) {
                const std::size_t end = all.find('\n', at);
                const std::string line = all.substr(at, end - at);
                if (line.starts_with(std::string(prefix) + " ")) return line;
                at = end == std::string::npos ? all.size() : end + 1;
            }
            return std::string();
        };
        nl.add_route(P("10.55.0.0/24"), lan.ifindex(), kMainTable, /*replace=*/false);
        const std::string before = route("main", "10.55.0.0/24");
        ASSERT_NE(before.find("dev dl-lan"), std::string::npos) << before;

        KernelRouteMirror mirror(nl, {.vr = "default", .tun_ifindex = own.ifindex(), .table = kMainTable});
        auto err = mirror.install(P("10.55.0.0/24"));
        ASSERT_TRUE(err) << "the LAN route was replaced: " << route("main", "10.55.0.0/24");
        EXPECT_NE(err->find("add route 10.55.0.0/24 dev dlo-own table 254"), std::string::npos) << *err;
        EXPECT_NE(err->find(std::strerror(EEXIST)), std::string::npos) << *err;
        EXPECT_NE(err->find("held by dev dl-lan"), std::string::npos) << *err;
        EXPECT_EQ(route("main", "10.55.0.0/24"), before) << "the other interface's route is untouched";
        EXPECT_FALSE(mirror.installed(P("10.55.0.0/24")));
        EXPECT_EQ(mirror.errors(), 1u);
        EXPECT_EQ(nl.route_interfaces(P("10.55.0.0/24")), std::vector<int>{lan.ifindex()});
        EXPECT_TRUE(nl.route_interfaces(P("10.55.0.0/25")).empty()) << "exact prefix only";

        // Its own route: installed, installed again (idempotent), no error counted.
        EXPECT_FALSE(mirror.install(P("10.56.0.0/24")));
        EXPECT_FALSE(mirror.install(P("10.56.0.0/24")));
        EXPECT_NE(route("main", "10.56.0.0/24").find("dev dlo-own"), std::string::npos);
        EXPECT_EQ(mirror.installed_count(), 1u);
        EXPECT_EQ(mirror.errors(), 1u);

        // Link flap: the kernel drops the route with the link; installed again once it is up.
        own.set_up(false);
        EXPECT_EQ(route("main", "10.56.0.0/24"), "") << "the kernel removed it with the link";
        own.set_up(true);
        EXPECT_FALSE(mirror.install(P("10.56.0.0/24")));
        EXPECT_NE(route("main", "10.56.0.0/24").find("dev dlo-own"), std::string::npos);

        // Taken over while the link was down (the operator's route now): not taken back.
        own.set_up(false);
        nl.add_route(P("10.56.0.0/24"), lan.ifindex(), kMainTable, /*replace=*/false);
        own.set_up(true);
        err = mirror.install(P("10.56.0.0/24"));
        ASSERT_TRUE(err);
        EXPECT_NE(err->find("held by dev dl-lan"), std::string::npos) << *err;
        EXPECT_NE(route("main", "10.56.0.0/24").find("dev dl-lan"), std::string::npos);

        // Several prefixes at once (a call's access routes): one sendto and one recvmmsg, each
        // prefix answered on its own — added, already its own, or held by another interface.
        const std::vector<Ipv4Prefix> batch = {P("10.57.0.1/32"), P("10.56.0.0/24"), P("10.57.1.0/24"),
                                               P("10.55.0.0/24")};
        mirror.shutdown();  // 10.56.0.0/24 is the LAN's now; nothing of the mirror's is left
        const std::uint64_t requests = nl.requests();
        const auto results = mirror.install(batch);
        EXPECT_EQ(nl.requests(), requests + 4 + 2) << "four adds (one datagram), a dump per File exists";
        ASSERT_EQ(results.size(), 4u);
        EXPECT_FALSE(results[0]) << *results[0];
        ASSERT_TRUE(results[1]);
        EXPECT_NE(results[1]->find("add route 10.56.0.0/24 dev dlo-own table 254"), std::string::npos) << *results[1];
        EXPECT_NE(results[1]->find("held by dev dl-lan"), std::string::npos) << *results[1];
        EXPECT_FALSE(results[2]) << *results[2];
        ASSERT_TRUE(results[3]);
        EXPECT_NE(results[3]->find("10.55.0.0/24"), std::string::npos) << *results[3];
        EXPECT_NE(route("main", "10.57.0.1").find("dev dlo-own"), std::string::npos) << route("main", "10.57.0.1");
        EXPECT_NE(route("main", "10.57.1.0/24").find("dev dlo-own"), std::string::npos);
        EXPECT_EQ(mirror.installed_count(), 2u);
        EXPECT_EQ(mirror.errors(), 4u) << "two earlier refusals and these two, each counted";
        // A refusal that is not EEXIST (no such device): per route, typed errno in the text.
        KernelRouteMirror gone(nl, {.vr = "gone", .tun_ifindex = 999999, .table = kMainTable});
        const auto none = gone.install(std::vector<Ipv4Prefix>{P("10.58.0.0/24"), P("10.58.1.0/24")});
        ASSERT_EQ(none.size(), 2u);
        for (const auto& e : none) {
            ASSERT_TRUE(e);
            EXPECT_NE(e->find(std::strerror(ENODEV)), std::string::npos) << *e;
        }
        EXPECT_NE(none[1]->find("10.58.1.0/24"), std::string::npos) << *none[1];
        EXPECT_EQ(gone.errors(), 2u);

        // Another table is another table: the main table's LAN route does not hold a VR's prefix.
        KernelRouteMirror red(nl, {.vr = "red", .tun_ifindex = own.ifindex(), .table = 100});
        EXPECT_FALSE(red.install(P("10.55.0.0/24")));
        EXPECT_NE(route("100", "10.55.0.0/24").find("dev dlo-own"), std::string::npos);
        EXPECT_EQ(route("main", "10.55.0.0/24"), before);
        EXPECT_TRUE(red.shutdown().empty());
        EXPECT_TRUE(mirror.shutdown().empty());
        EXPECT_EQ(route("main", "10.55.0.0/24"), before) << "shutdown removes only what it installed";
    });
}

TEST_F(DataplaneNetns, AsioWatcherDrivesTheTun) {
    ScopedNetns ns(ScopedNetns::random_name("asio"));
    ns.run([] {
        Netlink nl;
        TunDevice tun = TunDevice::open({.name = "dlo-asio"});
        nl.add_address(tun.ifindex(), P("10.66.255.1/32"));
        boost::asio::io_context io;
        std::vector<SessionHandle> seen;
        std::vector<std::uint32_t> no_route;
        ForwardingLoop::Callbacks cb;
        cb.to_session = [&](VrId, SessionHandle s, Packet&) { seen.push_back(s); };
        cb.no_route = [&](VrId, std::uint32_t dst, std::span<const std::uint8_t>) { no_route.push_back(dst); };
        cb.batch_end = [&](VrId) {
            if (seen.size() + no_route.size() >= 4) io.stop();
        };
        ForwardingLoop loop(cb, 2, 2048, 64);  // batch of 2: four packets need two batches
        KernelRouteMirror mirror(nl, {.tun_ifindex = tun.ifindex()});
        const VrId vr = loop.add_vr("default", std::move(tun), &mirror);
        ASSERT_FALSE(loop.add_route(vr, P("10.66.1.0/24"), 5, RouteKind::framed_route).kernel_error);
        // A kernel route without a session: its packets reach the TUN and are "no route" triggers.
        nl.add_route(P("10.67.0.0/16"), loop.tun(vr).ifindex());

        AsioTunWatcher watcher(io, loop, vr, 2);
        watcher.start();
        Fd udp(::socket(AF_INET, SOCK_DGRAM, 0));
        for (const char* dst : {"10.66.1.1", "10.67.0.9", "10.66.1.2", "10.66.1.3"}) {
            const sockaddr_in a = sin(dst, 9);
            ASSERT_EQ(::sendto(udp.fd, "x", 1, 0, reinterpret_cast<const sockaddr*>(&a), sizeof a), 1);
        }
        boost::asio::steady_timer guard(io, std::chrono::seconds(5));
        guard.async_wait([&](const boost::system::error_code& ec) {
            if (!ec) io.stop();
        });
        io.run();
        EXPECT_EQ(seen, (std::vector<SessionHandle>{5, 5, 5}));
        EXPECT_EQ(no_route, (std::vector<std::uint32_t>{Ipv4Address::parse("10.67.0.9")->value}));
        EXPECT_GE(watcher.wakeups(), 1u);
        EXPECT_GE(loop.counters(vr).tun_reads, 2u);
        watcher.stop();
    });
}

TEST_F(DataplaneNetns, MultiQueueAndOversizedPackets) {
    ScopedNetns ns(ScopedNetns::random_name("mq"));
    ns.run([] {
        Netlink nl;
        TunDevice q0 = TunDevice::open({.name = "dlo-mq", .mtu = 1500, .multi_queue = true});
        TunDevice q1 = TunDevice::open({.name = "dlo-mq", .mtu = 1500, .multi_queue = true});
        EXPECT_EQ(q0.ifindex(), q1.ifindex()) << "the second open attaches a queue to the same device";
        EXPECT_NE(q0.fd(), q1.fd());
        EXPECT_THROW(TunDevice::open({.name = "this-name-is-too-long"}), std::system_error);
        EXPECT_THROW(TunDevice::open({.name = "dlo-x", .mtu = 10}), std::system_error);

        TunDevice tun = TunDevice::open({.name = "dlo-big"});
        nl.add_address(tun.ifindex(), P("10.55.255.1/32"));
        nl.add_route(P("10.55.0.0/16"), tun.ifindex());
        Fd udp(::socket(AF_INET, SOCK_DGRAM, 0));
        const sockaddr_in a = sin("10.55.0.1", 9);
        const std::string big(300, 'b'), small(10, 's');
        ASSERT_EQ(::sendto(udp.fd, big.data(), big.size(), 0, reinterpret_cast<const sockaddr*>(&a), sizeof a), 300);
        ASSERT_EQ(::sendto(udp.fd, small.data(), small.size(), 0, reinterpret_cast<const sockaddr*>(&a), sizeof a), 10);
        PacketBatch batch(8, 100, 16);  // 100-octet buffers: the 328-octet packet does not fit
        // Count IPv4 only: the kernel may also send IPv6 (router solicitation, MLD) on the TUN.
        std::vector<std::uint32_t> ipv4_lengths;
        for (int i = 0; i < 50 && ipv4_lengths.size() + tun.truncated() < 2; ++i) {
            wait_readable(tun.fd(), 100);
            batch.reset();
            tun.read_batch(batch);
            for (const Packet& p : batch)
                if (ipv4_destination(p.bytes())) ipv4_lengths.push_back(p.length);
        }
        EXPECT_EQ(tun.truncated(), 1u);
        EXPECT_EQ(ipv4_lengths, (std::vector<std::uint32_t>{38}));
        EXPECT_EQ(tun.read_errors(), 0u);
    });
}

// lnsd owns the policy rules with protocol kLnsdRuleProtocol: at start it removes those its
// configuration does not have (left by a killed lnsd or one with another configuration), keeps
// (re-uses) those it has, and never touches a rule of another protocol.
TEST_F(DataplaneNetns, StaleOwnedRulesRemovedForeignRulesKept) {
    ScopedNetns ns(ScopedNetns::random_name("rules"));
    ns.run([] {
        // Left by the old process: a rule the new configuration drops, and one it keeps.
        ASSERT_EQ(shell("ip -4 rule add iif dl-old lookup 101 priority 1000 protocol 209 2>&1"), "");
        ASSERT_EQ(shell("ip -4 rule add iif dl-keep lookup 102 priority 1000 protocol 209 2>&1"), "");
        // Not lnsd's: an operator's rule, one of them even on the same interface and table.
        ASSERT_EQ(shell("ip -4 rule add iif dl-foreign lookup 300 priority 1000 2>&1"), "");
        ASSERT_EQ(shell("ip -4 rule add iif dl-old lookup 101 priority 1000 protocol static 2>&1"), "");

        Netlink nl;
        const auto owned = nl.rules_iif();
        ASSERT_EQ(owned.size(), 2u);
        KernelRouteMirror mirror(nl, {.vr = "red", .tun_ifindex = 1, .table = 102, .ingress_interfaces = {"dl-keep"}});
        EXPECT_TRUE(mirror.start().empty()) << "the rule already there is re-used";
        const StaleRules stale = remove_stale_rules(nl, mirror.rules());
        EXPECT_TRUE(stale.errors.empty());
        ASSERT_EQ(stale.removed.size(), 1u);
        EXPECT_EQ(stale.removed[0], (RuleIif{.interface = "dl-old", .table = 101, .priority = 1000, .protocol = 209}));

        const std::string rules = shell("ip -4 rule show");
        EXPECT_NE(rules.find("iif dl-keep [detached] lookup 102 proto 209"), std::string::npos) << rules;
        EXPECT_NE(rules.find("iif dl-foreign [detached] lookup 300"), std::string::npos) << rules;
        EXPECT_NE(rules.find("iif dl-old [detached] lookup 101 proto static"), std::string::npos) << rules;
        EXPECT_EQ(nl.rules_iif(), mirror.rules()) << "the stale owned rule is gone:\n" << rules;

        // Shutdown removes the rule it owns, and only that one.
        EXPECT_TRUE(mirror.shutdown().empty());
        EXPECT_TRUE(nl.rules_iif().empty());
        EXPECT_NE(shell("ip -4 rule show").find("dl-foreign"), std::string::npos);
    });
}
