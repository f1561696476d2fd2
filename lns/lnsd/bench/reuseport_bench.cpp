// Multi-core lnsd, the measured prototype (docs/scale-out.md "Multi-core lnsd"): N UDP sockets
// bound to one address and port with SO_REUSEPORT, and a classic BPF program attached to the group
// with SO_ATTACH_REUSEPORT_CBPF (socket(7)) that picks the socket from the L2TP Tunnel ID of the
// datagram (RFC 2661 §3.1), so every datagram of a tunnel reaches the same event loop.
//
//   dl_lnsd_reuseport_bench [--datagrams N] [--runs R] [--json FILE]
//
// Part 1, steering (a check: exit status 1 when it fails): 2 and 4 sockets; 1 024 tunnels, each
// sends a ZLB (L bit set: Length precedes the Tunnel ID), a data message without Length and one
// with it, from 4 client sockets; plus SCCRQs (Tunnel ID 0) from each client socket. Every
// datagram is decoded with the project's L2TP codec; a tunnel must land on exactly one socket,
// socket tunnel_id % N, and the SCCRQs of one source address and port on one socket. Prints the
// spread (datagrams per socket).
// Part 2, throughput: 1 loop (one socket, no program) against 2 loops (two sockets behind the
// program), one thread per loop pinned to its own CPU, each receiving with recvmmsg, decoding each
// datagram with the codec and counting it in the loop's own tunnel table. N data messages
// (--datagrams, default 200 000) of 1 024 tunnels are queued first, then the loops drain them
// together: prints datagrams/s drained, the loops' CPU per datagram (CLOCK_THREAD_CPUTIME_ID) and
// the datagrams the kernel dropped; --runs times (default 3). Loopback only (127.0.0.1), bounded by N.
#include <arpa/inet.h>
#include <linux/filter.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_net.hpp"
#include "dl/l2tp/builders.hpp"
#include "dl/l2tp/l2tp.hpp"

namespace {

using dl::bench::addr;
using dl::bench::now_s;
using dl::bench::thread_cpu_s;

constexpr int kBuf = 8 << 20;
constexpr unsigned kTunnels = 1024;

/// The steering program (classic BPF, Documentation/networking/filter.rst). The kernel runs it on
/// the UDP payload (the UDP header pulled) and uses the returned value as the index of the socket
/// in the reuseport group; an index ≥ the group's size makes it fall back to its 4-tuple hash.
///   flags octet: T L x x S x O P (RFC 2661 §3.1); with L the 16-bit Length precedes the Tunnel ID
///   Tunnel ID 0 (an SCCRQ, §5.1: the peer does not know our Tunnel ID yet) -> out of range: the
///     kernel's hash of the source, stable for a peer, so its retransmissions meet one loop
///   else Tunnel ID % n.
/// A datagram too short for the load ends the program with 0 (socket 0; lnsd's codec refuses it).
std::vector<sock_filter> steering_program(unsigned n) {
    return {
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),             // 0: A = flags octet
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x40, 0, 2),  // 1: L set? -> 2 : 4
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 4),             // 2: A = Tunnel ID after Length
        BPF_JUMP(BPF_JMP | BPF_JA, 1, 0, 0),               // 3: -> 5
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 2),             // 4: A = Tunnel ID
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),      // 5: Tunnel ID 0? -> 6 : 7
        BPF_STMT(BPF_RET | BPF_K, 0xFFFFFFFFu),            // 6: the kernel's hash
        BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, n),            // 7: A %= n
        BPF_STMT(BPF_RET | BPF_A, 0),                      // 8: socket index
    };
}

void check(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}

/// `n` sockets on 127.0.0.1 in one reuseport group, on a port the kernel picks for the first (so
/// no other program's socket joins the group by chance); with `steer`, the program attached.
/// Returns the sockets and the port.
std::pair<std::vector<int>, std::uint16_t> reuseport_group(unsigned n, bool steer) {
    std::vector<int> fds;
    sockaddr_in a = addr("127.0.0.1", 0);
    for (unsigned i = 0; i < n; ++i) {
        const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        check(fd >= 0, "socket");
        const int one = 1;
        check(::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == 0, "SO_REUSEPORT");
        check(::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &kBuf, sizeof kBuf) == 0, "SO_RCVBUFFORCE");
        check(::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0, "bind");
        if (i == 0) {
            socklen_t len = sizeof a;
            check(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0, "getsockname");
        }
        fds.push_back(fd);
    }
    if (steer) {
        auto prog = steering_program(n);
        sock_fprog fprog{static_cast<unsigned short>(prog.size()), prog.data()};
        check(::setsockopt(fds[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fprog, sizeof fprog) == 0,
              "SO_ATTACH_REUSEPORT_CBPF");
    }
    return {fds, ntohs(a.sin_port)};
}

std::vector<std::uint8_t> wire(dl::l2tp::L2TP&& m) { return m.serialize(); }

const std::vector<std::uint8_t> kPpp = {0xFF, 0x03, 0x00, 0x21, 0x45, 0x00, 0x00, 0x1C, 0, 0, 0, 0,
                                        64,   17,   0,    0,    10,   0,    0,    1,    10, 0, 0, 2};

/// Part 1 for `n` sockets: returns {"sockets", "per_socket", "tunnels_split", "tunnels_misplaced",
/// "sccrq_sources_split", "sent", "received"}.
nlohmann::json steering(unsigned n) {
    auto made = reuseport_group(n, true);  // not a structured binding: lambdas capture it (clang 14)
    auto& group = made.first;
    const std::uint16_t port = made.second;
    std::vector<int> clients;
    for (int i = 0; i < 4; ++i) clients.push_back(dl::bench::udp_socket(nullptr, kBuf));
    const sockaddr_in to = addr("127.0.0.1", port);
    std::map<std::uint16_t, std::set<unsigned>> by_tunnel;  // Tunnel ID -> sockets seen
    std::vector<std::uint64_t> per_socket(n, 0);
    std::uint64_t sent = 0, received = 0;
    std::map<int, std::set<unsigned>> sccrq_by_source;  // client source port -> sockets
    std::vector<std::uint8_t> buf(2048);
    auto drain = [&](int wait_ms) {
        std::vector<pollfd> pfd;
        for (int fd : group) pfd.push_back({fd, POLLIN, 0});
        while (::poll(pfd.data(), pfd.size(), wait_ms) > 0) {
            for (unsigned s = 0; s < n; ++s) {
                sockaddr_in from{};
                socklen_t fl = sizeof from;
                for (ssize_t r; (r = ::recvfrom(group[s], buf.data(), buf.size(), MSG_DONTWAIT,
                                                reinterpret_cast<sockaddr*>(&from), &fl)) > 0; fl = sizeof from) {
                    const dl::l2tp::L2TP m(buf.data(), static_cast<std::uint32_t>(r));
                    ++received;
                    ++per_socket[s];
                    if (m.tunnel_id() == 0) sccrq_by_source[ntohs(from.sin_port)].insert(s);
                    else by_tunnel[m.tunnel_id()].insert(s);
                }
            }
        }
    };
    auto send = [&](int fd, const std::vector<std::uint8_t>& d) {
        check(::sendto(fd, d.data(), d.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) ==
                  static_cast<ssize_t>(d.size()), "sendto");
        ++sent;
    };
    for (std::uint16_t t = 1; t <= kTunnels; ++t) {
        const int c = clients[t % clients.size()];
        send(c, wire(dl::l2tp::make_zlb(t, 0, 1, 1)));
        send(c, wire(dl::l2tp::make_data(t, 1, kPpp)));
        send(c, wire(dl::l2tp::make_data(t, 1, kPpp, dl::l2tp::DataOptions{.length = true})));
        if (t % 64 == 0) {
            for (int cl : clients) send(cl, wire(dl::l2tp::make_sccrq({})));  // Tunnel ID 0
            drain(0);
        }
    }
    drain(200);
    unsigned split = 0, misplaced = 0, sccrq_split = 0;
    for (const auto& [t, socks] : by_tunnel) {
        split += socks.size() != 1;
        misplaced += socks.size() == 1 && *socks.begin() != t % n;
    }
    for (const auto& [src, socks] : sccrq_by_source) sccrq_split += socks.size() != 1;
    for (int fd : group) ::close(fd);
    for (int fd : clients) ::close(fd);
    return {{"sockets", n}, {"per_socket", per_socket}, {"tunnels", by_tunnel.size()},
            {"tunnels_split", split}, {"tunnels_misplaced", misplaced}, {"sccrq_sources", sccrq_by_source.size()},
            {"sccrq_sources_split", sccrq_split}, {"sent", sent}, {"received", received}};
}

/// Part 2 with `loops` loops: `datagrams` data messages (of 1 024 tunnels, round robin) are queued
/// on the group's sockets first (the loops not running: on loopback the kernel's delivery runs in
/// the sender's context, so a concurrent sender would measure itself), then the loops start
/// together and each drains its socket (recvmmsg, 64 per call; decode; count the tunnel in its own
/// table) until it is empty. Rate = datagrams received / (last loop done - start).
nlohmann::json throughput(unsigned loops, std::size_t datagrams) {
    auto made = reuseport_group(loops, loops > 1);
    auto& group = made.first;
    const std::uint16_t port = made.second;
    for (int fd : group) {
        const int big = 512 << 20;  // room for every queued datagram (charged only as used)
        check(::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) == 0, "SO_RCVBUFFORCE");
    }
    // Loop l's datagrams (tunnels ≡ l mod loops) are queued by a sender pinned to loop l's CPU, so
    // the kernel allocates them there, as a NIC's receive-side scaling would; one sender would
    // make every other loop free remote memory and measure that instead.
    std::vector<std::thread> senders;
    for (unsigned l = 0; l < loops; ++l) {
        senders.emplace_back([&, l] {
            dl::bench::pin(static_cast<int>(l));
            std::vector<std::vector<std::uint8_t>> packets;
            for (unsigned t = 1; t <= kTunnels; ++t)
                if (t % loops == l) packets.push_back(wire(dl::l2tp::make_data(static_cast<std::uint16_t>(t), 1, kPpp)));
            const int fd = dl::bench::udp_socket(nullptr, kBuf);
            const sockaddr_in to = addr("127.0.0.1", port);
            constexpr unsigned kBatch = 64;
            std::vector<iovec> iov(kBatch);
            std::vector<mmsghdr> msgs(kBatch);
            const std::size_t mine = datagrams / loops;
            for (std::size_t sent = 0, next = 0; sent < mine;) {
                const unsigned n = static_cast<unsigned>(std::min<std::size_t>(kBatch, mine - sent));
                for (unsigned i = 0; i < n; ++i, next = (next + 1) % packets.size()) {
                    iov[i] = {packets[next].data(), packets[next].size()};
                    msgs[i] = {};
                    msgs[i].msg_hdr.msg_name = const_cast<sockaddr_in*>(&to);
                    msgs[i].msg_hdr.msg_namelen = sizeof to;
                    msgs[i].msg_hdr.msg_iov = &iov[i];
                    msgs[i].msg_hdr.msg_iovlen = 1;
                }
                const int r = ::sendmmsg(fd, msgs.data(), n, 0);
                check(r > 0, "sendmmsg");
                sent += static_cast<std::size_t>(r);
            }
            ::close(fd);
        });
    }
    for (auto& t : senders) t.join();
    datagrams = datagrams / loops * loops;
    std::atomic<unsigned> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::uint64_t> got(loops, 0);
    std::vector<double> cpu(loops, 0), done(loops, 0);
    std::vector<std::thread> rx;
    for (unsigned l = 0; l < loops; ++l) {
        rx.emplace_back([&, l] {
            dl::bench::pin(static_cast<int>(l));
            constexpr unsigned kBatch = 64;
            std::vector<std::array<std::uint8_t, 256>> bufs(kBatch);
            std::vector<iovec> iov(kBatch);
            std::vector<mmsghdr> msgs(kBatch);
            std::unordered_map<std::uint16_t, std::uint64_t> tunnels;  // the loop's own tunnel table
            ++ready;
            while (!go.load()) {
            }
            const double c0 = thread_cpu_s();
            std::uint64_t n = 0;
            for (;;) {
                for (unsigned i = 0; i < kBatch; ++i) {
                    iov[i] = {bufs[i].data(), bufs[i].size()};
                    msgs[i] = {};
                    msgs[i].msg_hdr.msg_iov = &iov[i];
                    msgs[i].msg_hdr.msg_iovlen = 1;
                }
                const int r = ::recvmmsg(group[l], msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
                if (r <= 0) break;  // drained
                for (int i = 0; i < r; ++i) {
                    const dl::l2tp::L2TP m(bufs[i].data(), msgs[i].msg_len);
                    ++tunnels[m.tunnel_id()];
                }
                n += static_cast<std::uint64_t>(r);
            }
            done[l] = now_s();
            cpu[l] = thread_cpu_s() - c0;
            got[l] = n;
        });
    }
    while (ready.load() < loops) {
    }
    const double t0 = now_s();
    go = true;
    for (auto& t : rx) t.join();
    const double wall = *std::max_element(done.begin(), done.end()) - t0;
    std::uint64_t total = 0;
    double cpu_total = 0;
    for (unsigned l = 0; l < loops; ++l) total += got[l], cpu_total += cpu[l];
    for (int fd : group) ::close(fd);
    return {{"loops", loops}, {"queued", datagrams}, {"received", total}, {"dropped", datagrams - total},
            {"wall_s", wall}, {"received_per_s", wall > 0 ? total / wall : 0.0}, {"per_loop", got},
            {"loop_cpu_us_per_datagram", total ? cpu_total / static_cast<double>(total) * 1e6 : 0.0}};
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t datagrams = 200000;
    int runs = 3;
    std::string json_out;
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--datagrams" && i + 1 < argc) datagrams = std::stoul(argv[++i]);
        else if (a == "--runs" && i + 1 < argc) runs = std::stoi(argv[++i]);
        else if (a == "--json" && i + 1 < argc) json_out = argv[++i];
        else {
            std::fprintf(stderr, "usage: %s [--datagrams N] [--runs R] [--json FILE]\n", argv[0]);
            return 2;
        }
    }
    if (datagrams < 1000 || datagrams > 1000000 || runs < 1 || runs > 20) {
        std::fprintf(stderr, "--datagrams: 1000..1000000, --runs: 1..20\n");
        return 2;
    }
    try {
        nlohmann::json result;
        bool ok = true;
        for (unsigned n : {2u, 4u}) {
            auto r = steering(n);
            ok &= r["tunnels_split"] == 0 && r["tunnels_misplaced"] == 0 && r["sccrq_sources_split"] == 0 &&
                  r["tunnels"] == kTunnels;
            std::printf("steering %u sockets: %s datagrams per socket, %u/%u tunnels on one socket (tunnel_id %% %u), "
                        "%u tunnels misplaced, SCCRQ sources split: %u of %u, received %llu of %llu\n",
                        n, r["per_socket"].dump().c_str(), r["tunnels"].get<unsigned>() - r["tunnels_split"].get<unsigned>(),
                        kTunnels, n, r["tunnels_misplaced"].get<unsigned>(), r["sccrq_sources_split"].get<unsigned>(),
                        r["sccrq_sources"].get<unsigned>(), r["received"].get<unsigned long long>(),
                        r["sent"].get<unsigned long long>());
            result["steering"].push_back(r);
        }
        for (int run = 0; run < runs; ++run) {
            for (unsigned loops : {1u, 2u}) {
                auto r = throughput(loops, datagrams);
                std::printf("run %d, %u loop%s: %.0f datagrams/s drained (%s per loop, %.3f s), loop CPU %.2f us/datagram, "
                            "dropped %llu of %zu\n",
                            run + 1, loops, loops > 1 ? "s" : "", r["received_per_s"].get<double>(),
                            r["per_loop"].dump().c_str(), r["wall_s"].get<double>(),
                            r["loop_cpu_us_per_datagram"].get<double>(), r["dropped"].get<unsigned long long>(), datagrams);
                result["throughput"].push_back(r);
            }
        }
        std::ifstream la("/proc/loadavg");
        std::string load;
        std::getline(la, load);
        result["loadavg"] = load;
        result["steering_ok"] = ok;
        std::printf("loadavg %s\n%s\n", load.c_str(), ok ? "steering: OK" : "steering: FAILED");
        if (!json_out.empty()) std::ofstream(json_out) << result.dump(1) << "\n";
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "dl_lnsd_reuseport_bench: %s\n", e.what());
        return 1;
    }
}
