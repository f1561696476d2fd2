// lnsd memory per dial-out session, lnsd's side alone (budget <= 8 KiB per session for the
// L2TP + PPP + dial-out state).
//
// Method: two processes. After fork() the child is the load generator, a LAC-role L2TP engine
// (RFC 2661 §7.5: answers every OCRQ with OCRP + OCCN) behind its own UDP socket on 127.0.0.1; its
// memory is in its own address space and is not counted. The parent is the LNS side exactly as lnsd
// wires it: Lns (one engine per tunnel secret) + DialOutWiring (dialout::Manager, RADIUS client,
// one PPP Link per call) behind a UDP socket on 127.0.0.1, with a scripted home RADIUS server
// answering each dial-out Access-Request in-process (its packets are freed once delivered, so they
// are not in the heap figure) with the Access-Accept of JunosE "L2TP Dial-Out" (Table 75: Tunnel-Server-Endpoint = the
// child, Tunnel-Password, ERX-Dial-Out-Number, ERX-PPP-*, ERX-Minimum/Maximum-BPS, ERX-Bearer-Type).
//
// One warm-up dial-out brings the tunnel up (its cost is per tunnel, not per session). Then N
// triggers (IPv4 packets from the TUN side towards N distinct destinations of the target) each make
// a dial-out session: authenticating -> Access-Accept -> OCRQ/OCRP/OCCN -> connecting with its PPP
// link started (LCP Req-Sent; the generator does not run PPP, the LCP restart timer is 1 min). When all N calls are connected and
// the control channel is idle (nothing in flight or queued), the figures are taken:
//   heap  = mallinfo2() bytes in use (uordblks + hblkhd) after - before, / N   (glibc malloc)
//   rss   = VmRSS after - before, / N                                         (pages, fragmentation)
// Both are lnsd-side only. Not included: IPCP / access routes / accounting of an inService session
// (no CPE here) and the kernel's share (routes, socket buffers).
//
// Mode `l2tp` (for the breakdown): the parent is the Lns core alone (no DialOutWiring, no PPP, no
// dial-out manager) and the child places N incoming calls (ICRQ/ICRP/ICCN, §7.4) on one tunnel; the
// same heap / RSS deltas then give the L2TP share (engine session + lnsd's session record).
//
// Usage: dl_lnsd_mem_bench [sessions=10000] [repeat=1] [dial-out|l2tp]. Prints one line per run and a
// JSON line.
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "dl/core/asio_driver.hpp"
#include "dl/core/config.hpp"
#include "dl/core/event.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/lnsd/config.hpp"
#include "dl/lnsd/dialout_wiring.hpp"
#include "dl/lnsd/lns.hpp"
#include "dl/lnsd/udp.hpp"
#include "dl/dialout/manager.hpp"
#include "dl/ppp/engine/link.hpp"
#include "dl/radius/auth.hpp"
#include "dl/radius/client/client.hpp"
#include "dl/radius/radius.hpp"

using namespace dl;
using namespace std::chrono_literals;
namespace eng = dl::l2tp::engine;
namespace rc = dl::radius::client;
using dl::radius::AttributeType;
using dl::radius::Code;
using dl::radius::ErxAttribute;

namespace {

constexpr const char* kTunnelPassword = "mem-bench-pw";
constexpr const char* kHomeSecret = "home-secret";

long vm_rss_kib() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return 0;
}

/// Bytes the process has allocated with malloc and not freed (arena + mmapped chunks).
std::size_t heap_in_use() {
    const struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

/// What the parent tells the generator once its own socket is up.
struct Command {
    std::uint16_t lns_port = 0;
    std::uint32_t sessions = 0;
    std::uint8_t incoming = 0;  ///< 1: open a tunnel and place incoming calls (mode l2tp)
};

/// The load generator (child process): a LAC-role engine that accepts and connects every OCRQ.
/// Writes its UDP port to `port_fd`, reads a Command from `parent_fd`; in mode l2tp it opens one
/// tunnel with one incoming call, then places `sessions` more on each 'g' byte. Runs until its
/// parent closes `parent_fd` (EOF).
[[noreturn]] void run_generator(int port_fd, int parent_fd) {
    boost::asio::io_context io;
    core::SystemClock clock;
    core::TimerQueue timers(clock);
    core::AsioTimerDriver driver(io, timers);
    core::TimerRegistry registry;
    core::register_well_known_timers(registry);
    eng::register_l2tp_timers(registry);
    core::EventBus bus(clock);
    std::unique_ptr<lnsd::UdpEndpoint> udp;
    std::unique_ptr<eng::Engine> lac;
    eng::EngineConfig ec;
    ec.host_name = "mem-bench-lac";
    ec.secret = kTunnelPassword;
    ec.receive_window = 64;
    eng::EngineCallbacks cb;
    cb.send = [&udp](eng::PeerId p, std::vector<std::uint8_t> b) { udp->send(p, b); };
    bool tunnel_up = false, warm_placed = false;
    cb.tunnel_up = [&tunnel_up](std::uint16_t, eng::PeerId) { tunnel_up = true; };
    cb.ocrq = [&lac](eng::SessionKey k, const eng::OutgoingCall&) {
        lac->accept(k);                                   // OCRP (§6.10)
        lac->call_connected(k, 64000, l2tp::kFramingSync);  // OCCN (§6.11)
    };
    lac = std::make_unique<eng::Engine>(timers, registry, bus, ec, std::move(cb));
    const auto lo = *core::Ipv4Address::parse("127.0.0.1");
    udp = std::make_unique<lnsd::UdpEndpoint>(io, lo, 0, [&lac](eng::PeerId p, std::span<const std::uint8_t> b) {
        lac->receive(p, b);
    });
    const std::uint16_t port = udp->local_port();
    if (::write(port_fd, &port, sizeof port) != static_cast<ssize_t>(sizeof port)) std::_Exit(1);
    ::close(port_fd);
    Command cmd;
    if (::read(parent_fd, &cmd, sizeof cmd) != static_cast<ssize_t>(sizeof cmd)) std::_Exit(0);
    const auto lns_peer = lnsd::peer_id(lo, cmd.lns_port);
    std::uint32_t serial = 0;
    auto place = [&](std::uint32_t count) {
        eng::IncomingCall ic;
        for (std::uint32_t i = 0; i < count; ++i) {
            ic.call_serial_number = ++serial;
            lac->place_incoming_call(lns_peer, ic);
        }
    };
    if (cmd.incoming) lac->open_tunnel(lns_peer);  // SCCRQ; the warm-up call once it is up
    ::fcntl(parent_fd, F_SETFL, ::fcntl(parent_fd, F_GETFL) | O_NONBLOCK);
    for (;;) {
        io.run_one_for(20ms);
        if (cmd.incoming && tunnel_up && !warm_placed) {
            warm_placed = true;
            place(1);
        }
        char c;
        // The parent holds the write end open; EOF (0) means it is done or gone.
        const auto got = ::read(parent_fd, &c, 1);
        if (got == 0) std::_Exit(0);
        if (got == 1 && c == 'g' && cmd.incoming) place(cmd.sessions);
    }
}

std::string yaml_config(std::size_t sessions) {
    return R"(
local-address: 127.0.0.1
hostname: lns-mem
secret: mem-bench-pw        # = the generator's; dial-out calls get it as Tunnel-Password too
receive-window: 64
timers: {hello: 60s, retransmit: 1s}
virtual-routers:
  - name: default
    nas-ip-address: 192.0.2.1
    radius:
      authentication: [{address: 192.0.2.10, secret: home-secret}]
ppp-profiles:
  isdn: {local-address: 198.18.0.1}
dialout:
  timers: {trigger: 10m, dormant: 30m}
  max-connecting-sessions: )" +
           std::to_string(sessions + 8) + R"(
  max-sessions-per-target: )" + std::to_string(sessions + 8) + R"(
  max-sessions-per-virtual-router: )" + std::to_string(sessions + 8) + R"(
  trigger-rate: )" + std::to_string(sessions + 8) + R"(
  trigger-burst: )" + std::to_string(sessions + 8) + R"(
  profiles:
    isdn: {authentication: chap, keepalive: 0s}
  targets:
    - {virtual-router: default, prefix: 10.0.0.0/8, domain: mem.example, profile: isdn}
)";
}

/// An IPv4 header (RFC 791 §3.1) from 203.0.113.10 to `dst` (host order) plus 8 octets: a trigger.
std::vector<std::uint8_t> trigger_packet(std::uint32_t dst) {
    std::vector<std::uint8_t> p(28, 0);
    p[0] = 0x45;
    p[3] = 28;
    p[8] = 64;
    p[9] = 1;
    const std::uint32_t src = 0xCB00710A;
    for (int i = 0; i < 4; ++i) {
        p[12 + i] = static_cast<std::uint8_t>(src >> (24 - 8 * i));
        p[16 + i] = static_cast<std::uint8_t>(dst >> (24 - 8 * i));
    }
    return p;
}

struct Figures {
    std::size_t sessions = 0;
    double heap_b = 0, rss_kib = 0, seconds = 0;
    std::uint64_t sent = 0, retransmitted = 0;  ///< lnsd's control messages (all tunnels)
};

/// lnsd's control-channel counters (show l2tp tunnel detail) into `f`.
void add_channel_counters(const lnsd::Lns& lns, Figures& f) {
    for (const auto& t : lns.show_tunnels("", true))
        if (t.contains("channel")) {
            f.sent += t["channel"].value("sent", std::uint64_t{0});
            f.retransmitted += t["channel"].value("retransmitted", std::uint64_t{0});
        }
}

/// The LNS side (parent): lnsd's Lns + DialOutWiring (`l2tp`: the Lns alone, incoming calls from
/// the generator). `life_fd`: the pipe to the generator. Returns the figures of one run.
Figures run_lns(std::size_t n, std::uint16_t lac_port, int life_fd, bool l2tp_only) {
    boost::asio::io_context io;
    core::SystemClock clock;
    core::TimerQueue timers(clock);
    core::AsioTimerDriver driver(io, timers);
    core::TimerRegistry registry;
    core::register_well_known_timers(registry);
    eng::register_l2tp_timers(registry);
    rc::register_timers(registry);
    core::EventBus bus(clock);
    const auto root = core::ConfigNode::parse(yaml_config(n));
    auto cfg = lnsd::load_config(root, registry);
    // The generator does not run PPP: without this, LCP gives up after Max-Configure restarts
    // (RFC 1661 §4.6, 10 x 3 s) and drops calls while a large run is still being set up. Timer
    // values do not change the state kept per session.
    registry.set("ppp-restart", core::Duration(std::chrono::minutes(1)));  // its maximum
    const std::string lac_endpoint = "127.0.0.1:" + std::to_string(lac_port);

    std::unique_ptr<lnsd::UdpEndpoint> udp;
    std::unique_ptr<rc::Client> radius;
    // Scripted home server (JunosE "L2TP Dial-Out" Table 75 Access-Accept), answered on a zero timer.
    auto home = [&](const rc::Endpoint& to, std::span<const std::uint8_t> d) {
        dl::radius::Radius req(d.data(), static_cast<std::uint32_t>(d.size()));
        dl::radius::Radius resp(Code::Access_Accept, req.identifier());
        resp.add_integer(AttributeType::Service_Type, 5);  // Outbound
        resp.add_integer(AttributeType::Tunnel_Type, 3, 1);
        resp.add_integer(AttributeType::Tunnel_Medium_Type, 1, 1);
        resp.add_string(AttributeType::Tunnel_Server_Endpoint, lac_endpoint, 1);
        resp.add(dl::radius::tunnel_password_attribute(1, kTunnelPassword, kHomeSecret, req.authenticator(), 0x8123));
        resp.add_string(AttributeType::Tunnel_Assignment_Id, "lac-1", 1);
        resp.add_string(ErxAttribute::Dial_Out_Number, "5551001");
        resp.add_string(ErxAttribute::PPP_Username, "lns-dialout");
        resp.add_string(ErxAttribute::PPP_Password, "lns-pw");
        resp.add_integer(ErxAttribute::PPP_Auth_Protocol, 2);
        resp.add_integer(ErxAttribute::Minimum_BPS, 56000);
        resp.add_integer(ErxAttribute::Maximum_BPS, 64000);
        resp.add_integer(ErxAttribute::Bearer_Type, 1);
        dl::radius::add_message_authenticator(resp);
        dl::radius::sign_response(resp, req.authenticator(), kHomeSecret);
        std::vector<std::uint8_t> bytes;
        dl::radius::serialize_into(resp, bytes);
        timers.arm(0ms, [&radius, to, bytes = std::move(bytes)] { radius->on_datagram(to, bytes); });
    };
    radius = std::make_unique<rc::Client>(timers, registry, &bus, home);
    lnsd::Lns lns(timers, registry, bus, cfg, [&udp](lnsd::PeerId p, std::vector<std::uint8_t> b) {
        if (udp) udp->send(p, b);
    });
    udp = std::make_unique<lnsd::UdpEndpoint>(io, cfg.local_address, 0,
                                              [&lns](lnsd::PeerId p, std::span<const std::uint8_t> b) {
                                                  lns.receive(p, b);
                                              });
    const Command cmd{udp->local_port(), static_cast<std::uint32_t>(n), static_cast<std::uint8_t>(l2tp_only)};
    if (::write(life_fd, &cmd, sizeof cmd) != static_cast<ssize_t>(sizeof cmd)) {
        std::cerr << "load generator gone\n";
        std::exit(1);
    }
    auto run_until = [&](auto pred, std::chrono::seconds limit) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (!pred()) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            io.run_one_for(20ms);
        }
        return true;
    };
    auto channel_idle = [&] {
        for (const auto& t : lns.show_tunnels("", true))
            if (t.value("in-flight", 0) != 0 || t.value("queued", 0) != 0) return false;
        return true;
    };
    Figures f;
    f.sessions = n;
    if (l2tp_only) {
        std::size_t connected = 0;
        lns.on_connected = [&connected](lnsd::CallHandle, const eng::ConnectInfo&) { ++connected; };
        if (!run_until([&] { return connected >= 1 && channel_idle(); }, 30s)) {
            std::cerr << "warm-up incoming call did not connect in 30 s\n";
            std::exit(1);
        }
        malloc_trim(0);
        const std::size_t heap0 = heap_in_use();
        const long rss0 = vm_rss_kib();
        const auto t0 = std::chrono::steady_clock::now();
        if (::write(life_fd, "g", 1) != 1) std::exit(1);
        if (!run_until([&] { return connected >= n + 1 && channel_idle(); }, 300s)) {
            std::cerr << "only " << connected - 1 << " of " << n << " incoming calls connected in 300 s\n";
            std::exit(1);
        }
        f.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (lns.session_count() != n + 1) {
            std::cerr << "sessions " << lns.session_count() << " want " << n + 1 << "\n";
            std::exit(1);
        }
        f.heap_b = (static_cast<double>(heap_in_use()) - static_cast<double>(heap0)) / static_cast<double>(n);
        f.rss_kib = static_cast<double>(vm_rss_kib() - rss0) / static_cast<double>(n);
        add_channel_counters(lns, f);
        lns.on_connected = nullptr;
        udp->close();
        return f;
    }
    lnsd::DataPlanePort port;
    port.add_dialout_route = [](const std::string&, core::Ipv4Prefix) -> std::optional<std::string> {
        return std::nullopt;
    };
    auto wiring = std::make_unique<lnsd::DialOutWiring>(timers, registry, bus, lns, *radius,
                                                        lnsd::load_wiring_config(root), port);
    wiring->load_dialout(root["dialout"]);
    const std::uint32_t base = 0x0A000001;  // 10.0.0.1
    wiring->tun_packet("default", trigger_packet(base));
    if (!run_until([&] { return wiring->counters().calls_connected >= 1 && channel_idle(); }, 30s)) {
        std::cerr << "warm-up dial-out did not connect in 30 s\n";
        std::exit(1);
    }
    malloc_trim(0);
    const std::size_t heap0 = heap_in_use();
    const long rss0 = vm_rss_kib();
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t i = 1; i <= n; ++i) {
        wiring->tun_packet("default", trigger_packet(base + static_cast<std::uint32_t>(i)));
        if (i % 256 == 0) io.poll();  // keep the loop (RADIUS, L2TP) moving while triggering
    }
    if (!run_until([&] { return wiring->counters().calls_connected >= n + 1 && channel_idle(); }, 300s)) {
        std::cerr << "only " << wiring->counters().calls_connected - 1 << " of " << n
                  << " dial-out calls connected in 300 s\n";
        std::exit(1);
    }
    const auto t1 = std::chrono::steady_clock::now();
    if (lns.session_count() != n + 1 || wiring->call_count() != n + 1) {
        std::cerr << "sessions " << lns.session_count() << " calls " << wiring->call_count() << " want " << n + 1
                  << "\n";
        std::exit(1);
    }
    f.heap_b = (static_cast<double>(heap_in_use()) - static_cast<double>(heap0)) / static_cast<double>(n);
    f.rss_kib = static_cast<double>(vm_rss_kib() - rss0) / static_cast<double>(n);
    f.seconds = std::chrono::duration<double>(t1 - t0).count();
    add_channel_counters(lns, f);
    wiring.reset();
    udp->close();
    return f;
}

}  // namespace

int main(int argc, char** argv) {
    const std::size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 10000;
    const int repeat = argc > 2 ? std::atoi(argv[2]) : 1;
    const std::string mode = argc > 3 ? argv[3] : "dial-out";
    if (n == 0 || n > 60000 || repeat < 1 || (mode != "dial-out" && mode != "l2tp")) {
        std::cerr << "usage: dl_lnsd_mem_bench [sessions 1..60000] [repeat >= 1] [dial-out|l2tp]\n";
        return 2;
    }
    const bool l2tp_only = mode == "l2tp";
    std::printf("lnsd memory per %s, LNS side only (load generator in a child process)\n",
                l2tp_only ? "incoming L2TP session (Lns core alone, no PPP, no dial-out)" : "dial-out session");
    std::printf("  object sizes (sizeof, without their heap members): L2TP engine session %zu B, lnsd session "
                "record %zu B, wiring call record %zu B, PPP link %zu B, dial-out manager session %zu B\n",
                eng::Engine::sizeof_session(), lnsd::Lns::sizeof_session_record(),
                lnsd::DialOutWiring::sizeof_call_record(), dl::ppp::engine::Link::footprint(),
                dl::dialout::Manager::session_footprint());
    for (int r = 0; r < repeat; ++r) {
        int port_pipe[2], life_pipe[2];
        if (::pipe(port_pipe) != 0 || ::pipe(life_pipe) != 0) {
            std::perror("pipe");
            return 1;
        }
        const pid_t child = ::fork();
        if (child < 0) {
            std::perror("fork");
            return 1;
        }
        if (child == 0) {
            ::close(port_pipe[0]);
            ::close(life_pipe[1]);
            run_generator(port_pipe[1], life_pipe[0]);
        }
        ::close(port_pipe[1]);
        ::close(life_pipe[0]);
        std::uint16_t lac_port = 0;
        if (::read(port_pipe[0], &lac_port, sizeof lac_port) != static_cast<ssize_t>(sizeof lac_port)) {
            std::cerr << "load generator did not start\n";
            return 1;
        }
        ::close(port_pipe[0]);
        const Figures f = run_lns(n, lac_port, life_pipe[1], l2tp_only);
        ::close(life_pipe[1]);  // the generator exits on EOF
        int status = 0;
        ::waitpid(child, &status, 0);
        std::printf("  run %d: %zu %s in %.2f s: heap %.0f B/session, RSS %.2f KiB/session (budget 8 KiB)\n", r + 1,
                    f.sessions,
                    l2tp_only ? "incoming calls (established)"
                              : "dial-out sessions (connecting, L2TP established, PPP LCP started)",
                    f.seconds, f.heap_b, f.rss_kib);
        std::printf("         lnsd control messages sent %llu, retransmitted %llu\n",
                    static_cast<unsigned long long>(f.sent), static_cast<unsigned long long>(f.retransmitted));
        std::printf("{\"mode\": \"%s\", \"sessions\": %zu, \"heap_bytes_per_session\": %.0f, "
                    "\"rss_kib_per_session\": %.3f, \"setup_seconds\": %.3f}\n",
                    mode.c_str(), f.sessions, f.heap_b, f.rss_kib, f.seconds);
    }
    return 0;
}
