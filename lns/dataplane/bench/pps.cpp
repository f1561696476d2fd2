// dl_dataplane_pps: packets per second of the user-space data plane (data-plane benchmark, docs/performance.md).
//
// Four runs, each bounded by --seconds and --packets, inside a fresh network namespace
// "dl-<random>-pps" (traffic never leaves it: a TUN, loopback UDP sockets):
//   l2tp  tun->l2tp : kernel → TUN → read batch → LPM lookup over --sessions sessions → PPP +
//                     L2TP data header prepended in place → sendmmsg to the "LAC" socket
//   relay tun->udp  : kernel → TUN → read batch → sendmmsg of the bare packets (no lookup/framing)
//   l2tp  l2tp->tun : "LAC" sendmmsg of L2TP/PPP/IPv4 → recvmmsg batch → L2TP + PPP decap →
//                     session lookup (tunnel, session) → TUN write → kernel → sink socket
//   relay udp->tun  : recvmmsg batch of bare IPv4 packets → TUN write
// The forwarder runs on one thread pinned to one CPU; the traffic generator on another thread
// (pinned to the other CPU when there is one). Figures: packets forwarded per second of wall
// time while traffic flowed, and per second of the forwarder thread's CPU time (the one-core
// figure, insensitive to other load on the machine). Needs root (netns, TUN); exits 77 otherwise.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bench_net.hpp"
#include "dl/dataplane/forwarding.hpp"
#include "dl/dataplane/framing.hpp"
#include "dl/dataplane/netlink.hpp"
#include "dl/dataplane/netns.hpp"
#include "dl/dataplane/udp_batch.hpp"

using namespace dl::dataplane;
using dl::core::Ipv4Prefix;

using namespace dl::bench;

namespace {

struct Options {
    double seconds = 2.0;
    std::uint64_t packets = 3'000'000;
    std::size_t payload = 64;  // UDP payload octets of each test packet
    std::size_t batch = 64;
    std::size_t sessions = 1000;
};

struct Result {
    std::uint64_t forwarded = 0, generated = 0, wakeups = 0;
    double wall = 0, cpu = 0;
    double pps_wall() const { return wall > 0 ? static_cast<double>(forwarded) / wall : 0; }
    double pps_cpu() const { return cpu > 0 ? static_cast<double>(forwarded) / cpu : 0; }
};

/// Generator that sends prepared datagrams with sendmmsg until the packet or time bound.
void generate(int fd, const std::vector<std::vector<std::uint8_t>>& datagrams, const std::vector<sockaddr_in>& dests,
              const Options& o, std::atomic<bool>& done, std::atomic<std::uint64_t>& generated) {
    pin(1);
    UdpBatchSender s(o.batch);
    const double end = now_s() + o.seconds;
    std::uint64_t n = 0;
    std::size_t k = 0;
    while (n < o.packets && now_s() < end) {
        for (std::size_t i = 0; i < o.batch; ++i, ++k) {
            const std::size_t j = k % datagrams.size();
            s.add(fd, datagrams[j], dests.empty() ? nullptr : &dests[j % dests.size()]);
        }
        s.flush(fd);
        n += o.batch;
    }
    generated = s.sent();
    done = true;
}

/// Forwarder main loop: wait for `fd` readable, call `step` (returns packets handled) until the
/// generator is done and the fd stays idle for 50 ms.
template <class Step>
Result forward(int fd, std::atomic<bool>& done, Step step) {
    pin(0);
    Result r;
    const double cpu0 = thread_cpu_s();
    double first = 0, last = 0;
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        const int ready = ::poll(&p, 1, 50);
        if (ready <= 0) {
            if (done) break;
            continue;
        }
        std::size_t n;
        while ((n = step()) > 0) {
            if (r.forwarded == 0) first = now_s();
            r.forwarded += n;
            ++r.wakeups;
            last = now_s();
        }
    }
    r.cpu = thread_cpu_s() - cpu0;
    r.wall = last - first;
    return r;
}

void print(const char* name, const Result& r, const Options& o) {
    std::printf("%-22s %10llu %10llu %12.0f %12.0f %8.1f\n", name, static_cast<unsigned long long>(r.generated),
                static_cast<unsigned long long>(r.forwarded), r.pps_wall(), r.pps_cpu(),
                r.wakeups ? static_cast<double>(r.forwarded) / static_cast<double>(r.wakeups) : 0.0);
    (void)o;
}

void run_all(const Options& o) {
    Netlink nl;
    TunDevice tun = TunDevice::open({.name = "dlb0", .mtu = 1500});
    const int ifindex = tun.ifindex();
    nl.add_address(ifindex, *Ipv4Prefix::parse("10.200.255.1/32"));
    nl.add_route(*Ipv4Prefix::parse("10.201.0.0/16"), ifindex);

    const int bufsize = 8 << 20;
    const sockaddr_in lns_addr = addr("127.0.0.1", 1701), lac_addr = addr("127.0.0.1", 1702);
    const int lns = udp_socket(&lns_addr, bufsize);
    const int lac = udp_socket(&lac_addr, 1 << 20);
    const sockaddr_in sink_addr = addr("10.200.255.1", 7777);
    const int sink = udp_socket(&sink_addr, 1 << 20);
    ::connect(lns, reinterpret_cast<const sockaddr*>(&lac_addr), sizeof lac_addr);

    // Sessions: encapsulation per handle, and (tunnel, session) → handle for the return path.
    std::vector<DataEncap> encap(o.sessions);
    std::unordered_map<std::uint32_t, SessionHandle> by_ids;
    UdpBatchSender to_lac(o.batch);
    ForwardingLoop::Callbacks cb;
    cb.to_session = [&](VrId, SessionHandle s, Packet& p) {
        if (prepend_l2tp_ppp(p, encap[s]) != 0) to_lac.add(lns, p.bytes());
    };
    cb.batch_end = [&](VrId) { to_lac.flush(lns); };
    ForwardingLoop loop(cb, o.batch, 2048, 64);
    const VrId vr = loop.add_vr("default", std::move(tun));
    for (std::size_t i = 0; i < o.sessions; ++i) {
        encap[i] = DataEncap{.tunnel_id = 1, .session_id = static_cast<std::uint16_t>(i + 1)};
        by_ids[(1u << 16) | static_cast<std::uint32_t>(i + 1)] = i;
        loop.add_route(vr, Ipv4Prefix{{session_address(i)}, 32}, i, RouteKind::framed_ip);
    }
    const int tun_fd = loop.tun_fd(vr);

    // Home-side generator traffic: UDP datagrams to the hosts behind the sessions.
    std::vector<std::vector<std::uint8_t>> payloads(1, std::vector<std::uint8_t>(o.payload, 0x42));
    std::vector<sockaddr_in> dests;
    for (std::size_t i = 0; i < o.sessions; ++i) {
        sockaddr_in d{};
        d.sin_family = AF_INET;
        d.sin_port = htons(9);
        d.sin_addr.s_addr = htonl(session_address(i));
        dests.push_back(d);
    }
    // Session-side traffic: IPv4/UDP to the sink, bare (relay) or in PPP + L2TP (LNS).
    std::vector<std::vector<std::uint8_t>> bare, framed;
    PacketBatch scratch(1, 2048, 64);
    for (std::size_t i = 0; i < std::min<std::size_t>(o.sessions, 256); ++i) {
        bare.push_back(ipv4_udp(session_address(i), 0x0AC8FF01, 7777, o.payload));
        scratch.reset();
        scratch.push(bare.back());
        DataEncap e = encap[i];
        prepend_l2tp_ppp(scratch[0], e);
        framed.emplace_back(scratch[0].data, scratch[0].data + scratch[0].length);
    }
    const int home = udp_socket(nullptr, bufsize);

    std::printf("%-22s %10s %10s %12s %12s %8s\n", "run", "generated", "forwarded", "pps (wall)", "pps (cpu)",
                "batch");
    auto drain = [](int fd) {
        char b[4096];
        while (::recv(fd, b, sizeof b, MSG_DONTWAIT) > 0) {
        }
    };
    PacketBatch rx(o.batch, 2048, 64);
    UdpBatchReceiver receiver(o.batch);
    PacketBatch tunrx(o.batch, 2048, 64);
    UdpBatchSender relay_out(o.batch);
    Result results[4];

    for (int run = 0; run < 4; ++run) {
        std::atomic<bool> done{false};
        std::atomic<std::uint64_t> generated{0};
        std::thread gen;
        Result r;
        switch (run) {
            case 0:  // LNS tun -> l2tp
            case 1:  // relay tun -> udp
                gen = std::thread([&] { generate(home, payloads, dests, o, done, generated); });
                if (run == 0) {
                    r = forward(tun_fd, done, [&] { return loop.poll_tun(vr, o.batch); });
                } else {
                    r = forward(tun_fd, done, [&] {
                        tunrx.reset();
                        TunDevice& t = loop.tun(vr);
                        const std::size_t n = t.read_batch(tunrx, o.batch);
                        for (std::size_t i = 0; i < n; ++i) relay_out.add(lns, tunrx[i].bytes());
                        relay_out.flush(lns);
                        return n;
                    });
                }
                break;
            case 2:  // LNS l2tp -> tun
            case 3:  // relay udp -> tun
                gen = std::thread([&, run] {
                    ::connect(lac, reinterpret_cast<const sockaddr*>(&lns_addr), sizeof lns_addr);
                    generate(lac, run == 2 ? framed : bare, {}, o, done, generated);
                });
                r = forward(lns, done, [&] {
                    rx.reset();
                    const std::size_t n = receiver.receive(lns, rx);
                    for (std::size_t i = 0; i < n; ++i) {
                        if (run == 2) {
                            DataMessage m;
                            auto ip = decap_l2tp_ppp_ipv4(rx[i].bytes(), &m);
                            if (!ip) continue;
                            auto it = by_ids.find((std::uint32_t{m.tunnel_id} << 16) | m.session_id);
                            if (it == by_ids.end()) continue;
                            loop.from_session(vr, *ip);
                        } else {
                            loop.tun(vr).write(rx[i].bytes());
                        }
                    }
                    drain(sink);
                    return n;
                });
                break;
        }
        gen.join();
        r.generated = generated;
        results[run] = r;
        drain(lac);
        drain(sink);
    }
    print("l2tp  tun -> l2tp/udp", results[0], o);
    print("relay tun -> udp", results[1], o);
    print("l2tp  l2tp/udp -> tun", results[2], o);
    print("relay udp -> tun", results[3], o);
    std::printf("ratio l2tp/relay (cpu pps): tun->udp %.2f, udp->tun %.2f\n",
                results[0].pps_cpu() / std::max(1.0, results[1].pps_cpu()),
                results[2].pps_cpu() / std::max(1.0, results[3].pps_cpu()));
    std::printf("ratio l2tp/relay (wall pps): tun->udp %.2f, udp->tun %.2f\n",
                results[0].pps_wall() / std::max(1.0, results[1].pps_wall()),
                results[2].pps_wall() / std::max(1.0, results[3].pps_wall()));
    const VrCounters& c = loop.counters(vr);
    std::printf("LNS counters: tun_in %llu to_session %llu no_route %llu tun_out %llu drops %llu; "
                "sendmmsg calls %llu for %llu datagrams\n",
                static_cast<unsigned long long>(c.tun_packets_in), static_cast<unsigned long long>(c.to_session),
                static_cast<unsigned long long>(c.no_route), static_cast<unsigned long long>(c.tun_packets_out),
                static_cast<unsigned long long>(c.drops), static_cast<unsigned long long>(to_lac.syscalls()),
                static_cast<unsigned long long>(to_lac.sent()));
    ::close(lns);
    ::close(lac);
    ::close(sink);
    ::close(home);
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i];
        const char* v = argv[i + 1];
        if (k == "--seconds") o.seconds = std::atof(v);
        else if (k == "--packets") o.packets = std::strtoull(v, nullptr, 10);
        else if (k == "--payload") o.payload = std::strtoull(v, nullptr, 10);
        else if (k == "--batch") o.batch = std::strtoull(v, nullptr, 10);
        else if (k == "--sessions") o.sessions = std::strtoull(v, nullptr, 10);
        else {
            std::fprintf(stderr, "usage: %s [--seconds S] [--packets N] [--payload OCTETS] [--batch B] [--sessions K]\n",
                         argv[0]);
            return 2;
        }
    }
    o.seconds = std::min(std::max(o.seconds, 0.1), 30.0);
    o.batch = std::min<std::size_t>(std::max<std::size_t>(o.batch, 1), 1024);
    o.sessions = std::min<std::size_t>(std::max<std::size_t>(o.sessions, 1), 65535);
    o.payload = std::min<std::size_t>(std::max<std::size_t>(o.payload, 1), 1400);
    if (::geteuid() != 0) {
        std::fprintf(stderr, "dl_dataplane_pps: needs root (network namespace and TUN); skipped\n");
        return 77;
    }
    try {
        ScopedNetns ns(ScopedNetns::random_name("pps"));
        std::printf("namespace %s, %zu sessions, %zu-octet UDP payload, batch %zu, ≤ %.1f s and ≤ %llu packets per run, "
                    "%u CPUs\n",
                    ns.name().c_str(), o.sessions, o.payload, o.batch, o.seconds,
                    static_cast<unsigned long long>(o.packets), std::thread::hardware_concurrency());
        ns.run([&] { run_all(o); });
    } catch (const std::exception& e) {
        std::fprintf(stderr, "dl_dataplane_pps: %s\n", e.what());
        return 1;
    }
    return 0;
}
