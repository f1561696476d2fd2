// dl_lnsd_forward: packets per second through lnsd's forwarding path (data-plane benchmark, docs/performance.md), beside a
// trivial TUN ↔ UDP relay measured in the same run on the same machine.
//
// Inside a fresh network namespace "dl-<random>-fwd" (deleted at the end; traffic never leaves
// it: a TUN "dlf0" and loopback UDP sockets), one Boost.Asio io_context on one thread pinned to
// CPU 0 runs lnsd's own data-path objects, wired as lnsd wires them:
//   UdpEndpoint (recvmmsg batches) → Lns::receive → DataPath (data header, session lookup, Ns)
//     → Lns::on_ppp_frame → PPP IPv4 → ForwardingLoop::from_session → TUN write
//   AsioTunWatcher (TUN read batches) → ForwardingLoop (LPM over --sessions /32 routes)
//     → Lns::send_ipv4 (PPP + L2TP in place) → batch end → Lns::flush_data (sendmmsg on the socket
//     connected to the LAC, UdpEndpoint::connect_peer; --connected 0: on the shared socket with
//     a destination per datagram, as before limits.peer-sockets)
// with --sessions sessions put on the fast path by Lns::attach_data_session (no control
// connection: the benchmark measures forwarding, not call setup). Left out compared with lnsd:
// DialOutWiring's call lookup and the PPP engine's IPv4 gate on the receive side (a hash lookup
// and a few branches per packet) — on_ppp_frame here strips FF 03 00 21 itself.
// The relay runs: TUN read batch → sendmmsg of the bare packets, and recvmmsg batch → TUN write.
// A generator thread (pinned to CPU 1) sends 64-octet UDP payloads with sendmmsg.
// Figures: pps (cpu) = packets forwarded ÷ the forwarder thread's CPU time (the one-core figure),
// pps (wall) = packets ÷ wall time between first and last packet; heap allocations made by the
// forwarder thread while forwarding (operator new is counted). The four runs are repeated
// --rounds times (3); each ratio lnsd / relay is taken within a round (runs a few seconds apart,
// under the same load; lnsd runs first in rounds 1, 3, … and the relay first in rounds 2, 4, …:
// ABBA, so that a drift of the load favours neither) and the median, interquartile range and
// min-max over the rounds are printed, then a "json {…}" line. --instructions 1: the same under callgrind, printing the forwarder thread's user-space
// instructions per packet of each run (independent of the machine's load). --runs 23: only the
// listed runs (0-3, in the order above; e.g. one direction under perf). --relay-slot 65535: the
// relay receives into slots of that size (lnsd's former 64 KiB slots) instead of 2 KiB. --relay-spill 1:
// the relay's recvmmsg gets lnsd's receive layout (a second iovec per message into a 64 KiB spill
// area, UdpBatchReceiver max_datagram 65535), to measure what that costs; off by default (the bare
// relay: one 2 KiB iovec per message). --rx-batch 0: lnsd's UdpEndpoint hands each datagram to
// Lns::receive (as before 2026-12-06) instead of each recvmmsg batch to Lns::receive_batch.
// Needs root; exits 77 otherwise.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <new>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "dl/core/clock.hpp"
#include "dl/core/event.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/dataplane/asio_tun.hpp"
#include "bench_net.hpp"
#include "dl/dataplane/forwarding.hpp"
#include "dl/dataplane/framing.hpp"
#include "dl/dataplane/netlink.hpp"
#include "dl/dataplane/netns.hpp"
#include "dl/dataplane/udp_batch.hpp"
#include "dl/lnsd/lns.hpp"
#include "dl/lnsd/udp.hpp"

// Callgrind client requests (valgrind's header; no-ops when the program runs natively): each run
// of forward() is collected alone and dumped under its own name, for --instructions.
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define DL_HAVE_CALLGRIND 1
#else
#define DL_HAVE_CALLGRIND 0
#endif

// The replacements below pair malloc with free; GCC 12 cannot see that through inlining.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
// ---- heap allocations of the forwarder thread (counted while `t_count` is set) ----
namespace {
thread_local bool t_count = false;
std::atomic<std::uint64_t> g_forwarder_allocations{0};
}  // namespace
void* operator new(std::size_t n) {
    if (t_count) g_forwarder_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

using namespace dl;
using namespace dl::dataplane;
using core::Ipv4Prefix;

using namespace dl::bench;

namespace {

struct Options {
    double seconds = 2.0;
    std::uint64_t packets = 3'000'000;
    std::size_t payload = 64;
    std::size_t batch = 64;
    std::size_t sessions = 1000;
    bool sequencing = false;
    bool relay_sendto = false;  // relay tun->udp names the destination per datagram (as lnsd did)
    bool connected = true;      // lnsd sends to the LAC on a socket connected to it (limits.peer-sockets)
    int rounds = 3;             // the four runs this many times; ratios are the median over rounds
    std::string runs = "0123";      // which of the four runs to do (--runs 23: udp -> tun only, e.g. under perf)
    std::size_t relay_slot = 2048;  // octets per receive slot of the relay (--relay-slot 65535: lnsd's old slots)
    bool rx_batch = true;           // lnsd's UdpEndpoint hands each recvmmsg batch to Lns::receive_batch (--rx-batch 0: per datagram to Lns::receive)
    bool relay_spill = false;       // the relay receives as lnsd does: a second iovec per message into a 64 KiB spill area
};

struct Result {
    std::uint64_t generated = 0, forwarded = 0, wakeups = 0, allocations = 0;
    double wall = 0, cpu = 0;
    double pps_wall() const { return wall > 0 ? static_cast<double>(forwarded) / wall : 0; }
    double pps_cpu() const { return cpu > 0 ? static_cast<double>(forwarded) / cpu : 0; }
};

/// Sends `datagrams` round robin with sendmmsg until the packet or time bound. `sequenced`: they
/// are L2TP data messages with Ns (octets 6-7), which is advanced per datagram (one per session).
void generate(int fd, std::vector<std::vector<std::uint8_t>> datagrams, const std::vector<sockaddr_in>& dests,
              const Options& o, std::atomic<bool>& done, std::atomic<std::uint64_t>& generated,
              bool sequenced = false) {
    pin(1);
    std::vector<std::uint16_t> ns(datagrams.size(), 0);
    UdpBatchSender s(o.batch);
    const double end = now_s() + o.seconds;
    std::uint64_t n = 0;
    std::size_t k = 0;
    while (n < o.packets && now_s() < end) {
        for (std::size_t i = 0; i < o.batch; ++i, ++k) {
            const std::size_t j = k % datagrams.size();
            if (sequenced) {
                if (j == 0 && s.pending()) s.flush(fd);  // fewer sessions than a batch: one Ns each per call
                datagrams[j][6] = static_cast<std::uint8_t>(ns[j] >> 8);
                datagrams[j][7] = static_cast<std::uint8_t>(ns[j]);
                ++ns[j];
            }
            s.add(fd, datagrams[j], dests.empty() ? nullptr : &dests[j % dests.size()]);
        }
        s.flush(fd);
        n += o.batch;
    }
    generated = s.sent();
    done = true;
}

/// Runs `turn` (one readiness-driven step; returns true if it handled anything) on this thread
/// until the generator is done and nothing moved for 50 ms; `count` reads packets forwarded.
/// Under callgrind (--instructions) only this thread's instructions inside the loop are collected
/// and dumped as "<dump>" (client requests; collection is per thread, --separate-threads=yes).
template <class Turn, class Count>
Result forward(std::atomic<bool>& done, Turn turn, Count count, const std::string& dump) {
    pin(0);
    Result r;
    const std::uint64_t base = count();
    const std::uint64_t alloc0 = g_forwarder_allocations.load();
    t_count = true;
#if DL_HAVE_CALLGRIND
    CALLGRIND_ZERO_STATS;
    CALLGRIND_TOGGLE_COLLECT;
#endif
    const double cpu0 = thread_cpu_s();
    double first = 0, last = 0, idle_since = now_s();
    std::uint64_t seen = base;
    for (;;) {
        const bool moved = turn();
        const std::uint64_t c = count();
        if (c != seen) {
            const double t = now_s();
            if (seen == base) first = t;
            last = t;
            seen = c;
            ++r.wakeups;
            idle_since = t;
        } else if (!moved) {
            if (done && now_s() - idle_since > 0.05) break;
        }
    }
    r.cpu = thread_cpu_s() - cpu0;
#if DL_HAVE_CALLGRIND
    CALLGRIND_TOGGLE_COLLECT;
    CALLGRIND_DUMP_STATS_AT(dump.c_str());
#else
    (void)dump;
#endif
    t_count = false;
    r.allocations = g_forwarder_allocations.load() - alloc0;
    r.forwarded = seen - base;
    r.wall = last - first;
    return r;
}

/// The callgrind dump of one run: "dl_lnsd_forward round <1..> run <0..3>".
std::string callgrind_dump_name(int round, int run) {
    return "dl_lnsd_forward round " + std::to_string(round + 1) + " run " + std::to_string(run);
}

void print(const char* name, const Result& r) {
    std::printf("%-24s %10llu %10llu %12.0f %12.0f %8.1f %8llu\n", name, static_cast<unsigned long long>(r.generated),
                static_cast<unsigned long long>(r.forwarded), r.pps_wall(), r.pps_cpu(),
                r.wakeups ? static_cast<double>(r.forwarded) / static_cast<double>(r.wakeups) : 0.0,
                static_cast<unsigned long long>(r.allocations));
}

void run_all(const Options& o) {
    Netlink nl;
    TunDevice tun = TunDevice::open({.name = "dlf0", .mtu = 1500});
    const int ifindex = tun.ifindex();
    nl.add_address(ifindex, *Ipv4Prefix::parse("10.200.255.1/32"));
    nl.add_route(*Ipv4Prefix::parse("10.201.0.0/16"), ifindex);

    // ---- lnsd's objects on one io_context ----
    boost::asio::io_context io;
    core::SystemClock clock;
    core::TimerQueue timers(clock);
    core::TimerRegistry registry;
    core::register_well_known_timers(registry);
    l2tp::engine::register_l2tp_timers(registry);
    core::EventBus bus(clock);
    lnsd::LnsdConfig cfg;
    cfg.local_address = *core::Ipv4Address::parse("127.0.0.1");
    std::unique_ptr<lnsd::UdpEndpoint> udp;
    lnsd::Lns lns(timers, registry, bus, cfg, [&](lnsd::PeerId p, std::vector<std::uint8_t> b) {
        if (udp) udp->send(p, b);
    });
    udp = std::make_unique<lnsd::UdpEndpoint>(io, cfg.local_address, 1701,
                                              [&](lnsd::PeerId p, std::span<const std::uint8_t> b) { lns.receive(p, b); },
                                              o.batch, 4 * o.batch);
    if (o.rx_batch)  // as lnsd wires it (main.cpp)
        udp->set_batch_receive([&](std::span<const lnsd::RxDatagram> b) { lns.receive_batch(b); });
    const int bufsize = 8 << 20;
    ::setsockopt(udp->native_handle(), SOL_SOCKET, SO_SNDBUFFORCE, &bufsize, sizeof bufsize);
    ::setsockopt(udp->native_handle(), SOL_SOCKET, SO_RCVBUFFORCE, &bufsize, sizeof bufsize);
    lns.set_data_socket(udp->native_handle());
    if (o.connected) {  // as lnsd wires it (main.cpp): one connected socket per LAC peer
        lns.set_peer_sockets({[&](lnsd::PeerId p) {
                                  const int fd = udp->connect_peer(p);
                                  if (fd >= 0) {
                                      ::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufsize, sizeof bufsize);
                                      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsize, sizeof bufsize);
                                  }
                                  return fd;
                              },
                              [&](lnsd::PeerId p) { udp->release_peer(p); }});
    }

    std::vector<lnsd::CallHandle> handles(o.sessions);
    ForwardingLoop::Callbacks cb;
    cb.to_session = [&](VrId, SessionHandle s, Packet& p) { lns.send_ipv4(handles[s], p); };
    cb.batch_end = [&](VrId) { lns.flush_data(); };
    ForwardingLoop loop(cb, o.batch, 2048, 64);
    const VrId vr = loop.add_vr("default", std::move(tun));
    lns.on_ppp_frame = [&](lnsd::CallHandle, std::span<const std::uint8_t> f) {
        if (f.size() >= 2 && f[0] == 0xFF && f[1] == 0x03) f = f.subspan(2);
        if (f.size() >= 2 && f[0] == 0x00 && f[1] == 0x21) loop.from_session(vr, f.subspan(2));
    };
    AsioTunWatcher watcher(io, loop, vr, 4 * o.batch);
    watcher.start();

    const sockaddr_in lac_addr = addr("127.0.0.1", 1702), relay_addr = addr("127.0.0.1", 1703);
    const int lac = udp_socket(&lac_addr, 1 << 20);
    const int relay = udp_socket(&relay_addr, bufsize);  // the relay's own UDP socket
    // Connected (the kernel caches the route) unless --relay-sendto 1 (each datagram names its
    // destination and the kernel looks the route up, as lnsd does with --connected 0).
    if (!o.relay_sendto) ::connect(relay, reinterpret_cast<const sockaddr*>(&lac_addr), sizeof lac_addr);
    const lnsd::PeerId lac_peer = (lnsd::PeerId{0x7F000001} << 16) | 1702;
    std::vector<std::vector<std::uint8_t>> framed, bare;
    PacketBatch scratch(1, 2048, 64);
    for (std::size_t i = 0; i < o.sessions; ++i) {
        handles[i] = lnsd::CallHandle{{1, static_cast<std::uint16_t>(i + 1)}};
        lns.attach_data_session(handles[i], lac_peer, 0x100, static_cast<std::uint16_t>(i + 1), o.sequencing);
        loop.add_route(vr, Ipv4Prefix{{session_address(i)}, 32}, i, RouteKind::framed_ip);
        if (i < 256) {  // session → home traffic: IPv4/UDP to the sink behind the TUN
            bare.push_back(ipv4_udp(session_address(i), 0x0AC8FF01, 7777, o.payload));
            scratch.reset();
            scratch.push(bare.back());
            DataEncap e{.tunnel_id = 1, .session_id = static_cast<std::uint16_t>(i + 1), .sequence = o.sequencing};
            prepend_l2tp_ppp(scratch[0], e);
            framed.emplace_back(scratch[0].data, scratch[0].data + scratch[0].length);
        }
    }
    const sockaddr_in sink_addr = addr("10.200.255.1", 7777);
    const int sink = udp_socket(&sink_addr, 1 << 20);
    const int home = udp_socket(nullptr, bufsize);
    std::vector<std::vector<std::uint8_t>> payloads(1, std::vector<std::uint8_t>(o.payload, 0x42));
    std::vector<sockaddr_in> dests;
    for (std::size_t i = 0; i < o.sessions; ++i) {
        sockaddr_in d{};
        d.sin_family = AF_INET;
        d.sin_port = htons(9);
        d.sin_addr.s_addr = htonl(session_address(i));
        dests.push_back(d);
    }
    auto drain = [](int fd) {
        char b[4096];
        while (::recv(fd, b, sizeof b, MSG_DONTWAIT) > 0) {
        }
    };

    // Relay state (allocated up front like lnsd's).
    PacketBatch relay_rx(o.batch, o.relay_slot, o.relay_slot > 2048 ? 0 : 64);  // 65535: lnsd's old 64 KiB stride
    UdpBatchReceiver relay_receiver(o.batch, o.relay_spill ? 65535 : 0);
    UdpBatchSender relay_out(o.batch, true);
    const int tun_fd = loop.tun_fd(vr);
    auto wait_readable = [](int fd) {
        pollfd p{fd, POLLIN, 0};
        return ::poll(&p, 1, 10) > 0;
    };

    std::printf("%-24s %10s %10s %12s %12s %8s %8s\n", "run", "generated", "forwarded", "pps (wall)", "pps (cpu)",
                "batch", "allocs");
    std::vector<std::array<Result, 4>> rounds(static_cast<std::size_t>(o.rounds));
    const char* names[4] = {"lnsd  tun -> l2tp/udp", "relay tun -> udp", "lnsd  l2tp/udp -> tun", "relay udp -> tun"};
    // ABBA: even rounds run lnsd then the relay in each direction, odd rounds the relay first, so
    // that a drift of the machine's load over a round favours neither side on average.
    static constexpr int kOrder[2][4] = {{0, 1, 2, 3}, {1, 0, 3, 2}};
    for (int round = 0; round < o.rounds; ++round)
    for (const int run : kOrder[round % 2]) {
        if (o.runs.find(static_cast<char>('0' + run)) == std::string::npos) continue;
        Result* results = rounds[static_cast<std::size_t>(round)].data();
        std::atomic<bool> done{false};
        std::atomic<std::uint64_t> generated{0};
        std::thread gen;
        Result r;
        if (run == 0) {  // the "LAC" receives from anyone again (runs 2-3 connected it)
            sockaddr any{};
            any.sa_family = AF_UNSPEC;
            ::connect(lac, &any, sizeof any);
        }
        if (run < 2) gen = std::thread([&] { generate(home, payloads, dests, o, done, generated); });
        else
            gen = std::thread([&, run] {
                const sockaddr_in to = run == 2 ? addr("127.0.0.1", 1701) : relay_addr;
                ::connect(lac, reinterpret_cast<const sockaddr*>(&to), sizeof to);
                generate(lac, run == 2 ? framed : bare, {}, o, done, generated, run == 2 && o.sequencing);
            });
        const std::string dump = callgrind_dump_name(round, run);
        switch (run) {
            case 0:  // lnsd: AsioTunWatcher → ForwardingLoop → Lns::send_ipv4 → flush_data
                r = forward(
                    done, [&] { return io.run_one_for(std::chrono::milliseconds(10)) > 0; },
                    [&] { return lns.data_counters().tx_sent; }, dump);
                break;
            case 1:  // relay: TUN read batch → sendmmsg
                r = forward(
                    done,
                    [&] {
                        if (!wait_readable(tun_fd)) return false;
                        std::size_t total = 0, n;
                        do {
                            relay_rx.reset();
                            n = loop.tun(vr).read_batch(relay_rx, o.batch);
                            for (std::size_t i = 0; i < n; ++i)
                                relay_out.add(relay, relay_rx[i].bytes(), o.relay_sendto ? &lac_addr : nullptr);
                            relay_out.flush(relay);
                            total += n;
                        } while (n == o.batch && total < 4 * o.batch);
                        return total > 0;
                    },
                    [&] { return relay_out.sent(); }, dump);
                break;
            case 2:  // lnsd: UdpEndpoint (recvmmsg) → Lns::receive → DataPath → TUN write
                r = forward(
                    done, [&] { return io.run_one_for(std::chrono::milliseconds(10)) > 0; },
                    [&] { return loop.counters(vr).tun_packets_out; }, dump);
                break;
            case 3:  // relay: recvmmsg → TUN write
                r = forward(
                    done,
                    [&] {
                        if (!wait_readable(relay)) return false;
                        std::size_t total = 0, n;
                        do {
                            relay_rx.reset();
                            n = relay_receiver.receive(relay, relay_rx);
                            for (std::size_t i = 0; i < n; ++i) loop.from_session(vr, relay_rx[i].bytes());
                            total += n;
                        } while (n == o.batch && total < 4 * o.batch);
                        return total > 0;
                    },
                    [&] { return loop.counters(vr).tun_packets_out; }, dump);
                break;
        }
        gen.join();
        r.generated = generated;
        results[run] = r;
        // Between runs: empty every queue (the next run must not count this run's packets).
        for (int i = 0; i < 5; ++i) {
            io.poll();
            drain(lac);
            drain(sink);
            drain(relay);
            relay_rx.reset();
            while (loop.tun(vr).read_batch(relay_rx, o.batch) > 0) relay_rx.reset();
        }
    }
    // Per round, lnsd against the relay run just after it (same load); medians over the rounds.
    // The q-quantile (0..1) with linear interpolation between order statistics (q = 0.5: the median).
    auto quantile = [](std::vector<double> v, double q) {
        if (v.empty()) return 0.0;
        std::sort(v.begin(), v.end());
        const double pos = q * static_cast<double>(v.size() - 1);
        const std::size_t i = static_cast<std::size_t>(pos);
        const double frac = pos - static_cast<double>(i);
        return i + 1 < v.size() ? v[i] + frac * (v[i + 1] - v[i]) : v[i];
    };
    auto median = [&](const std::vector<double>& v) { return quantile(v, 0.5); };
    std::vector<double> cpu_tx, cpu_rx, wall_tx, wall_rx, pps[4];
    nlohmann::json jrounds = nlohmann::json::array();
    for (std::size_t k = 0; k < rounds.size(); ++k) {
        const auto& r = rounds[k];
        std::printf("round %zu\n", k + 1);
        nlohmann::json jr = nlohmann::json::object();
        for (int i = 0; i < 4; ++i) {
            print(names[i], r[i]);
            pps[i].push_back(r[i].pps_cpu());
            jr[names[i]] = {{"generated", r[i].generated}, {"forwarded", r[i].forwarded}, {"pps_cpu", r[i].pps_cpu()},
                            {"pps_wall", r[i].pps_wall()}, {"allocations", r[i].allocations}};
        }
        cpu_tx.push_back(r[0].pps_cpu() / std::max(1.0, r[1].pps_cpu()));
        cpu_rx.push_back(r[2].pps_cpu() / std::max(1.0, r[3].pps_cpu()));
        wall_tx.push_back(r[0].pps_wall() / std::max(1.0, r[1].pps_wall()));
        wall_rx.push_back(r[2].pps_wall() / std::max(1.0, r[3].pps_wall()));
        std::printf("  ratio lnsd/relay (cpu pps): tun->udp %.2f, udp->tun %.2f\n", cpu_tx.back(), cpu_rx.back());
        jrounds.push_back(jr);
    }
    std::uint64_t allocations = 0;
    for (const auto& r : rounds)
        for (const auto& x : r) allocations += x.allocations;
    std::printf("median of %zu rounds, pps (cpu): lnsd tun->udp %.0f, relay %.0f; lnsd udp->tun %.0f, relay %.0f; "
                "forwarder heap allocations %llu\n",
                rounds.size(), median(pps[0]), median(pps[1]), median(pps[2]), median(pps[3]),
                static_cast<unsigned long long>(allocations));
    auto lo = [](const std::vector<double>& v) { return v.empty() ? 0.0 : *std::min_element(v.begin(), v.end()); };
    auto hi = [](const std::vector<double>& v) { return v.empty() ? 0.0 : *std::max_element(v.begin(), v.end()); };
    std::printf("ratio lnsd/relay (cpu pps, median): tun->udp %.2f, udp->tun %.2f\n", median(cpu_tx), median(cpu_rx));
    std::printf("ratio lnsd/relay (cpu pps, interquartile range over %zu rounds): tun->udp %.2f-%.2f, udp->tun %.2f-%.2f\n",
                rounds.size(), quantile(cpu_tx, 0.25), quantile(cpu_tx, 0.75), quantile(cpu_rx, 0.25),
                quantile(cpu_rx, 0.75));
    std::printf("ratio lnsd/relay (cpu pps, min-max over %zu rounds): tun->udp %.2f-%.2f, udp->tun %.2f-%.2f\n",
                rounds.size(), lo(cpu_tx), hi(cpu_tx), lo(cpu_rx), hi(cpu_rx));
    // The same from the medians of each side's pps over the rounds (less sensitive to one bad run
    // of one side than a median of per-round ratios when the rounds are few).
    std::printf("ratio of median pps (cpu), lnsd/relay: tun->udp %.2f, udp->tun %.2f\n",
                median(pps[0]) / std::max(1.0, median(pps[1])), median(pps[2]) / std::max(1.0, median(pps[3])));
    std::printf("ratio lnsd/relay (wall pps, median): tun->udp %.2f, udp->tun %.2f\n", median(wall_tx), median(wall_rx));
    const lnsd::DataPathCounters& dc = lns.data_counters();
    const auto& uc = udp->counters();
    const VrCounters& vc = loop.counters(vr);
    std::printf("lnsd data path: tx in-place %llu sent %llu would-block %llu errors %llu sendmmsg %llu; "
                "rx data %llu malformed %llu late %llu; recvmmsg batches %llu for %llu datagrams; "
                "TUN reads %llu for %llu packets, no-route %llu, TUN drops %llu\n",
                static_cast<unsigned long long>(dc.tx_in_place), static_cast<unsigned long long>(dc.tx_sent),
                static_cast<unsigned long long>(dc.tx_would_block), static_cast<unsigned long long>(dc.tx_errors),
                static_cast<unsigned long long>(dc.tx_syscalls), static_cast<unsigned long long>(dc.rx_data),
                static_cast<unsigned long long>(dc.rx_malformed), static_cast<unsigned long long>(dc.rx_out_of_order),
                static_cast<unsigned long long>(uc.batches), static_cast<unsigned long long>(uc.datagrams),
                static_cast<unsigned long long>(vc.tun_reads), static_cast<unsigned long long>(vc.tun_packets_in),
                static_cast<unsigned long long>(vc.no_route), static_cast<unsigned long long>(vc.drops));
    std::printf("lnsd peer sockets: %llu open, %llu datagrams sent on them, %llu refused; "
                "datagrams received on the shared socket and on peer sockets together %llu\n",
                static_cast<unsigned long long>(dc.peer_sockets), static_cast<unsigned long long>(dc.tx_connected),
                static_cast<unsigned long long>(dc.peer_socket_refused), static_cast<unsigned long long>(uc.datagrams));
    std::ifstream loadavg("/proc/loadavg");
    std::string load;
    std::getline(loadavg, load);
    const nlohmann::json j = {
        {"bench", "dl_lnsd_forward"},
        {"sessions", o.sessions},
        {"payload", o.payload},
        {"batch", o.batch},
        {"sequencing", o.sequencing},
        {"lnsd_connected", o.connected},
        {"relay_sendto", o.relay_sendto},
        {"relay_slot", o.relay_slot},
        {"relay_spill", o.relay_spill},
        {"rx_batch", o.rx_batch},
        {"loadavg", load},
        {"ratio_cpu", {{"tun_to_udp", median(cpu_tx)}, {"udp_to_tun", median(cpu_rx)}}},
        {"ratio_cpu_q1", {{"tun_to_udp", quantile(cpu_tx, 0.25)}, {"udp_to_tun", quantile(cpu_rx, 0.25)}}},
        {"ratio_cpu_q3", {{"tun_to_udp", quantile(cpu_tx, 0.75)}, {"udp_to_tun", quantile(cpu_rx, 0.75)}}},
        {"ratio_of_median_pps_cpu",
         {{"tun_to_udp", median(pps[0]) / std::max(1.0, median(pps[1]))},
          {"udp_to_tun", median(pps[2]) / std::max(1.0, median(pps[3]))}}},
        {"order", "ABBA: lnsd first in odd-numbered rounds (1, 3, ...), the relay first in even-numbered ones"},
        {"ratio_cpu_min", {{"tun_to_udp", lo(cpu_tx)}, {"udp_to_tun", lo(cpu_rx)}}},
        {"ratio_cpu_max", {{"tun_to_udp", hi(cpu_tx)}, {"udp_to_tun", hi(cpu_rx)}}},
        {"ratio_wall", {{"tun_to_udp", median(wall_tx)}, {"udp_to_tun", median(wall_rx)}}},
        {"pps_cpu", {{"lnsd_tun_to_udp", median(pps[0])}, {"relay_tun_to_udp", median(pps[1])},
                     {"lnsd_udp_to_tun", median(pps[2])}, {"relay_udp_to_tun", median(pps[3])}}},
        {"allocations", allocations},
        {"peer_sockets", dc.peer_sockets},
        {"tx_connected", dc.tx_connected},
        {"rounds", jrounds}};
    std::printf("json %s\n", j.dump().c_str());
    watcher.stop();
    lns.set_data_socket(-1);
    udp->close();
    ::close(lac);
    ::close(relay);
    ::close(sink);
    ::close(home);
}

/// --instructions: runs this program again under callgrind (valgrind --tool=callgrind, one dump per
/// run, see forward()) with the other options, then prints the forwarder thread's user-space
/// instructions per packet for each run and the ratio relay / lnsd (the share of the relay's
/// per-packet instruction budget lnsd needs, inverted like the pps ratios: 1.0 = as cheap as the
/// relay). Instruction counts do not depend on the machine's load; the kernel's share (system
/// calls, copies) is not in them. Returns the exit status.
int run_instructions(int argc, char** argv) {
    char dir_template[] = "/tmp/dl_lnsd_forward_cg.XXXXXX";
    if (!::mkdtemp(dir_template)) {
        std::perror("dl_lnsd_forward: mkdtemp");
        return 1;
    }
    const std::string dir = dir_template;
    std::string cmd = "valgrind --tool=callgrind --collect-atstart=no --separate-threads=yes --callgrind-out-file=" +
                      dir + "/cg.out /proc/" + std::to_string(::getpid()) + "/exe";
    for (int i = 1; i + 1 < argc; i += 2)
        if (std::string(argv[i]) != "--instructions") cmd += std::string(" ") + argv[i] + " " + argv[i + 1];
    cmd += " 2>" + dir + "/valgrind.log";
    std::printf("%s\n", cmd.c_str());
    std::fflush(stdout);
    FILE* child = ::popen(cmd.c_str(), "r");
    if (!child) {
        std::perror("dl_lnsd_forward: popen");
        return 1;
    }
    nlohmann::json inner;
    char line[1 << 16];
    while (std::fgets(line, sizeof line, child)) {
        std::fputs(line, stdout);
        if (std::strncmp(line, "json ", 5) == 0) inner = nlohmann::json::parse(line + 5, nullptr, false);
    }
    const int status = ::pclose(child);
    if (status != 0 || !inner.is_object() || !inner.contains("rounds")) {
        std::fprintf(stderr, "dl_lnsd_forward: the run under callgrind failed (status %d; %s/valgrind.log)\n", status,
                     dir.c_str());
        return 1;
    }
    // Each dump file (one per dump and thread) names its dump ("desc: Trigger: Client Request:
    // <name>") and its instruction total ("totals: <Ir>"); the forwarder thread is the one that
    // collected (the others' totals are 0), so the largest total of a name is the run's.
    std::map<std::string, std::uint64_t> ir;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().filename().string().rfind("cg.out", 0) != 0) continue;
        std::ifstream f(entry.path());
        std::string l, name;
        std::uint64_t total = 0;
        const std::string trigger = "desc: Trigger: Client Request: ";
        while (std::getline(f, l)) {
            if (l.rfind(trigger, 0) == 0) name = l.substr(trigger.size());
            else if (l.rfind("totals: ", 0) == 0 || l.rfind("summary: ", 0) == 0)
                total = std::strtoull(l.c_str() + l.find(' ') + 1, nullptr, 10);
        }
        if (!name.empty()) ir[name] = std::max(ir[name], total);
    }
    const char* names[4] = {"lnsd  tun -> l2tp/udp", "relay tun -> udp", "lnsd  l2tp/udp -> tun", "relay udp -> tun"};
    std::vector<double> per_packet[4];
    nlohmann::json jruns = nlohmann::json::array();
    std::printf("\nforwarder thread, user-space instructions per packet (callgrind; kernel not included)\n");
    for (std::size_t round = 0; round < inner["rounds"].size(); ++round)
        for (int run = 0; run < 4; ++run) {
            const std::uint64_t forwarded = inner["rounds"][round][names[run]]["forwarded"].get<std::uint64_t>();
            const std::uint64_t n = ir[callgrind_dump_name(static_cast<int>(round), run)];
            const double ipp = forwarded ? static_cast<double>(n) / static_cast<double>(forwarded) : 0;
            per_packet[run].push_back(ipp);
            std::printf("round %zu %-24s %12llu Ir %10llu packets %8.0f Ir/packet\n", round + 1, names[run],
                        static_cast<unsigned long long>(n), static_cast<unsigned long long>(forwarded), ipp);
            jruns.push_back({{"round", round + 1}, {"run", names[run]}, {"instructions", n}, {"packets", forwarded},
                             {"instructions_per_packet", ipp}});
        }
    auto mean = [](const std::vector<double>& v) {
        double t = 0;
        for (double x : v) t += x;
        return v.empty() ? 0.0 : t / static_cast<double>(v.size());
    };
    const double tx = mean(per_packet[1]) / std::max(1.0, mean(per_packet[0]));
    const double rx = mean(per_packet[3]) / std::max(1.0, mean(per_packet[2]));
    std::printf("Ir/packet (mean over rounds): lnsd tun->udp %.0f, relay %.0f; lnsd udp->tun %.0f, relay %.0f\n",
                mean(per_packet[0]), mean(per_packet[1]), mean(per_packet[2]), mean(per_packet[3]));
    std::printf("lnsd - relay (user-space instructions per packet): tun->udp %+.0f, udp->tun %+.0f\n",
                mean(per_packet[0]) - mean(per_packet[1]), mean(per_packet[2]) - mean(per_packet[3]));
    std::printf("ratio relay/lnsd (user-space instructions per packet): tun->udp %.2f, udp->tun %.2f\n", tx, rx);
    const nlohmann::json j = {{"bench", "dl_lnsd_forward --instructions"},
                              {"sessions", inner["sessions"]},
                              {"loadavg", inner["loadavg"]},
                              {"instructions_per_packet",
                               {{"lnsd_tun_to_udp", mean(per_packet[0])}, {"relay_tun_to_udp", mean(per_packet[1])},
                                {"lnsd_udp_to_tun", mean(per_packet[2])}, {"relay_udp_to_tun", mean(per_packet[3])}}},
                              {"ratio_instructions", {{"tun_to_udp", tx}, {"udp_to_tun", rx}}},
                              {"runs", jruns}};
    std::printf("json %s\n", j.dump().c_str());
    std::filesystem::remove_all(dir);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    bool instructions = false;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i];
        const char* v = argv[i + 1];
        if (k == "--seconds") o.seconds = std::atof(v);
        else if (k == "--packets") o.packets = std::strtoull(v, nullptr, 10);
        else if (k == "--payload") o.payload = std::strtoull(v, nullptr, 10);
        else if (k == "--batch") o.batch = std::strtoull(v, nullptr, 10);
        else if (k == "--sessions") o.sessions = std::strtoull(v, nullptr, 10);
        else if (k == "--sequencing") o.sequencing = std::atoi(v) != 0;
        else if (k == "--relay-sendto") o.relay_sendto = std::atoi(v) != 0;
        else if (k == "--connected") o.connected = std::atoi(v) != 0;
        else if (k == "--rounds") o.rounds = std::atoi(v);
        else if (k == "--runs") o.runs = v;
        else if (k == "--relay-slot") o.relay_slot = std::strtoull(v, nullptr, 10);
        else if (k == "--relay-spill") o.relay_spill = std::atoi(v) != 0;
        else if (k == "--rx-batch") o.rx_batch = std::atoi(v) != 0;
        else if (k == "--instructions") instructions = std::atoi(v) != 0;
        else {
            std::fprintf(stderr,
                         "usage: %s [--seconds S] [--packets N] [--payload OCTETS] [--batch B] [--sessions K] "
                         "[--sequencing 0|1] [--relay-sendto 0|1] [--connected 0|1] [--rounds R] [--runs 0123] [--relay-slot OCTETS] [--relay-spill 0|1] [--instructions 0|1]\n",
                         argv[0]);
            return 2;
        }
    }
    if (argc % 2 == 0) {
        std::fprintf(stderr, "%s: options take a value\n", argv[0]);
        return 2;
    }
    o.seconds = std::min(std::max(o.seconds, 0.1), 30.0);
    o.rounds = std::min(std::max(o.rounds, 1), 50);
    o.batch = std::min<std::size_t>(std::max<std::size_t>(o.batch, 1), 256);
    o.sessions = std::min<std::size_t>(std::max<std::size_t>(o.sessions, 1), 65535);
    o.payload = std::min<std::size_t>(std::max<std::size_t>(o.payload, 1), 1400);
    o.relay_slot = std::min<std::size_t>(std::max<std::size_t>(o.relay_slot, 2048), 65535);
    if (::geteuid() != 0) {
        std::fprintf(stderr, "dl_lnsd_forward: needs root (network namespace and TUN); skipped\n");
        return 77;
    }
    if (instructions) return run_instructions(argc, argv);
    try {
        dataplane::ScopedNetns ns(dataplane::ScopedNetns::random_name("fwd"));
        std::printf("namespace %s, %zu sessions, %zu-octet UDP payload, batch %zu, sequencing %s, relay %s, lnsd %s, ≤ %.1f s and "
                    "≤ %llu packets per run, %u CPUs\n",
                    ns.name().c_str(), o.sessions, o.payload, o.batch, o.sequencing ? "on" : "off",
                    o.relay_sendto ? "sendto" : "connected",
                    o.connected ? "connected per LAC" : "sendto on the shared socket", o.seconds,
                    static_cast<unsigned long long>(o.packets), std::thread::hardware_concurrency());
        ns.run([&] { run_all(o); });
    } catch (const std::exception& e) {
        std::fprintf(stderr, "dl_lnsd_forward: %s\n", e.what());
        return 1;
    }
    return 0;
}
