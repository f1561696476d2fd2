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
// Mode `in-service` (the scale figure: 100 000 dial-out sessions in one lnsd): the child also runs
// one CPE per call (a PPP Link behind the LAC: it authenticates the LNS with PAP from the
// Access-Accept's ERX-PPP-* credentials and is authenticated by the LNS with CHAP), and the parent's
// scripted RADIUS also answers the LNS's PPP Access-Requests (Framed-IP-Address, Framed-Route = the
// trigger's destination /32: the session's access route) and Accounting-Requests. Each session then
// reaches inService (JunosE "L2TP Dial-Out" Table 74) with PPP up, its access route in lnsd's route
// table (the kernel route is not made: DataPlanePort is a stub here) and accounting started, and
// the figures include all of it. Then the control API: lnsd's ControlServer listens on a real Unix
// socket and the child, as lnsctl would, sends each `show` command through core::ControlClient and
// times the answer (request written -> whole response read and parsed) while the parent serves it.
// Then `l2tp clear system` tears every session down: the time until the last call is closed, its
// Accounting-Stop answered and every tunnel gone.
//
// Mode `hello` (the control plane's limits): the child opens N tunnels (SCCRQ…SCCCN, no call; at most
// 200 set-ups in flight) and sends no Hello of its own; the parent is the Lns core alone with a 10 s
// hello timer. Figures: set-up time and lnsd CPU per tunnel, then one Hello round (RFC 2661 §6.5:
// every tunnel's Hello sent and its ZLB received) in lnsd's CPU, and how the round is spread.
//
// Usage: dl_lnsd_mem_bench [sessions=10000 | tunnels] [repeat=1] [dial-out|l2tp|in-service|hello].
// Prints one line per run and a JSON line.
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <unordered_map>
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
#include "dl/core/control.hpp"
#include "dl/dialout/manager.hpp"
#include "dl/ppp/engine/link.hpp"
#include "dl/radius/auth.hpp"
#include "dl/radius/client/client.hpp"
#include "dl/radius/radius.hpp"

using namespace dl;
using namespace std::chrono_literals;
namespace eng = dl::l2tp::engine;
namespace rc = dl::radius::client;
namespace pe = dl::ppp::engine;
using dl::radius::AttributeType;
using dl::radius::Code;
using dl::radius::ErxAttribute;

namespace {

constexpr const char* kTunnelPassword = "mem-bench-pw";
constexpr const char* kHomeSecret = "home-secret";
constexpr const char* kLnsSecret = "lns-secret";
constexpr std::uint32_t kLnsRadius = 0xC000020B;  // 192.0.2.11: the LNS RADIUS (PPP authentication)
constexpr std::uint32_t kFirstDestination = 0x0A000001;  // 10.0.0.1: the warm-up call's trigger, then +i
constexpr std::uint32_t kFirstPeerAddress = 0xC6120002;  // 198.18.0.2: the CPE of call i gets +i
constexpr auto kHelloRoundInterval = std::chrono::seconds(10);  // mode hello: lnsd's hello timer

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
    std::uint8_t cpe = 0;       ///< 1: a CPE (PPP Link) answers each outgoing call (mode in-service)
    std::uint32_t tunnels = 0;  ///< mode hello: open this many tunnels (SCCRQ…SCCCN), no call
};

/// Mode in-service: what the parent sends after a 'q' byte: lnsd's control socket and the ids of
/// one L2TP session, one PPP call and one dial-out session for the single-item `show` commands.
struct Query {
    char socket[108] = {};
    char l2tp_session[16] = {};   ///< "tunnel/session"
    char ppp_call[16] = {};       ///< show ppp id
    char dialout_session[48] = {};  ///< <vr>/<prefix>/<destination>
};

/// The `show` commands lnsctl offers, as (command, args), for the answer-time figures. The
/// listings are asked a page at a time (`limit`, as lnsctl does; past 10 000 items lnsd refuses
/// an unpaged listing, docs/lnsd.md "Paging").
std::vector<std::pair<std::string, nlohmann::json>> show_commands(const Query& q) {
    return {{"show l2tp", {}},
            {"show l2tp destination", {}},
            {"show l2tp tunnel", {}},
            {"show l2tp session", {{"id", q.l2tp_session}}},
            {"show l2tp session", {{"limit", 100}}},
            {"show l2tp session", {{"limit", 1000}}},
            {"show l2tp dial-out", {}},
            {"show l2tp dial-out chassis", {}},
            {"show l2tp dial-out target", {}},
            {"show l2tp dial-out session", {{"id", q.dialout_session}}},
            {"show l2tp dial-out session", {{"limit", 1000}}},
            {"show ppp", {{"id", q.ppp_call}}},
            {"show ppp", {{"limit", 1000}}},
            {"show timers", {}}};
}

/// As lnsctl: each show command through the control socket, three times; the median answer time
/// (request sent -> response read and parsed) and the response's size. One JSON array.
std::string time_show_commands(const Query& q) {
    core::ControlClient client(q.socket, std::chrono::milliseconds(120000));
    auto out = nlohmann::json::array();
    for (const auto& [cmd, args] : show_commands(q)) {
        std::vector<double> ms;
        std::size_t bytes = 0, items = 0;
        bool ok = true;
        for (int i = 0; i < 3; ++i) {
            const auto t0 = std::chrono::steady_clock::now();
            const auto r = client.call(cmd, args.is_null() ? nlohmann::json::object() : args);
            ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
            ok = ok && r.value("ok", false);
            bytes = r.dump().size();
            items = !r.contains("result")                                ? 0
                    : r["result"].is_array()                             ? r["result"].size()
                    : r["result"].contains("items") ? r["result"]["items"].size()
                                                    : 1;
        }
        std::sort(ms.begin(), ms.end());
        std::string label = cmd;
        if (!args.is_null() && args.contains("id")) label += " " + args["id"].get<std::string>();
        if (!args.is_null() && args.contains("limit")) label += " limit=" + args["limit"].dump();
        out.push_back({{"command", label}, {"ok", ok}, {"ms", ms[1]}, {"ms_max", ms[2]}, {"bytes", bytes},
                       {"items", items}});
    }
    return out.dump() + "\n";
}

/// The load generator (child process): a LAC-role engine that accepts and connects every OCRQ
/// (with `cpe`, a CPE PPP Link then runs on the call). Writes its UDP port to `result_fd`, reads a
/// Command from `parent_fd`; in mode l2tp it opens one tunnel with one incoming call, then places
/// `sessions` more on each 'g' byte; on a 'q' byte followed by a Query it times the show commands
/// and writes their JSON line to `result_fd`. Runs until its parent closes `parent_fd` (EOF).
[[noreturn]] void run_generator(int result_fd, int parent_fd) {
    boost::asio::io_context io;
    core::SystemClock clock;
    core::TimerQueue timers(clock);
    core::AsioTimerDriver driver(io, timers);
    core::TimerRegistry registry;
    core::register_well_known_timers(registry);
    eng::register_l2tp_timers(registry);
    registry.set("ppp-restart", core::Duration(std::chrono::minutes(1)));  // a loaded parent answers late
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
    Command cmd;
    // Mode in-service: one CPE per call, keyed by the LAC's (Tunnel ID << 16 | Session ID).
    std::unordered_map<std::uint32_t, std::unique_ptr<pe::Link>> cpes;
    auto cpe_key = [](eng::SessionKey k) { return (std::uint32_t{k.tunnel} << 16) | k.session; };
    auto start_cpe = [&](eng::SessionKey k, const std::string& number) {
        pe::LinkConfig c;
        c.name = "cpe-" + number;  // the parent's LNS RADIUS derives the session's addresses from it
        c.secret = "cpe-pass";
        c.require_auth = pe::AuthPreference::pap;  // ERX-PPP-Auth-Protocol 1 in the Access-Accept
        pe::LinkCallbacks lcb;
        lcb.send = [&lac, k](std::uint16_t proto, std::vector<std::uint8_t> info) {
            std::vector<std::uint8_t> f{0xFF, 0x03, static_cast<std::uint8_t>(proto >> 8), static_cast<std::uint8_t>(proto)};
            f.insert(f.end(), info.begin(), info.end());
            lac->send_ppp(k, f);
        };
        lcb.verify = [&cpes, &timers, key = cpe_key(k)](std::uint32_t ticket, const pe::Credentials& cr) {
            const bool ok = cr.user == "lns-dialout" && cr.password == "lns-pw";
            timers.arm(0ms, [&cpes, key, ticket, ok] {
                if (auto it = cpes.find(key); it != cpes.end()) it->second->verify_result(ticket, {ok, ok ? "ok" : "no"});
            });
        };
        auto link = std::make_unique<pe::Link>(c, std::move(lcb), core::FsmEnv{&bus, &timers, &registry}, "cpe");
        pe::Link& ref = *link;
        cpes[cpe_key(k)] = std::move(link);
        ref.open();
    };
    std::uint32_t tunnels_up = 0, tunnels_opened = 0;
    cb.tunnel_up = [&tunnel_up, &tunnels_up](std::uint16_t, eng::PeerId) {
        tunnel_up = true;
        ++tunnels_up;
    };
    cb.ocrq = [&](eng::SessionKey k, const eng::OutgoingCall& call) {
        lac->accept(k);                                   // OCRP (§6.10)
        lac->call_connected(k, 64000, l2tp::kFramingSync);  // OCCN (§6.11)
        if (cmd.cpe) start_cpe(k, call.called_number);
    };
    cb.ppp_frame = [&cpes, &cpe_key](eng::SessionKey k, std::span<const std::uint8_t> f) {
        auto it = cpes.find(cpe_key(k));
        if (it == cpes.end()) return;
        if (f.size() >= 2 && f[0] == 0xFF && f[1] == 0x03) f = f.subspan(2);
        it->second->receive(f);
    };
    cb.call_ended = [&cpes, &cpe_key, &timers](eng::SessionKey k, const eng::CallFailure&) {
        timers.arm(0ms, [&cpes, key = cpe_key(k)] { cpes.erase(key); });  // never inside the link's own upcall
    };
    lac = std::make_unique<eng::Engine>(timers, registry, bus, ec, std::move(cb));
    const auto lo = *core::Ipv4Address::parse("127.0.0.1");
    udp = std::make_unique<lnsd::UdpEndpoint>(io, lo, 0, [&lac](eng::PeerId p, std::span<const std::uint8_t> b) {
        lac->receive(p, b);
    });
    const std::uint16_t port = udp->local_port();
    if (::write(result_fd, &port, sizeof port) != static_cast<ssize_t>(sizeof port)) std::_Exit(1);
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
    ::signal(SIGCHLD, SIG_IGN);  // the query grandchild is reaped by the kernel
    if (cmd.tunnels) registry.set("hello", core::Duration(std::chrono::hours(1)));  // only lnsd's Hellos
    for (;;) {
        io.run_one_for(20ms);
        // Mode hello: at most 200 set-ups in flight (below lnsd's tunnels-setup limit).
        while (tunnels_opened < cmd.tunnels && tunnels_opened - tunnels_up < 200) {
            lac->open_tunnel(lns_peer);
            ++tunnels_opened;
        }
        if (cmd.incoming && tunnel_up && !warm_placed) {
            warm_placed = true;
            place(1);
        }
        char c;
        // The parent holds the write end open; EOF (0) means it is done or gone.
        const auto got = ::read(parent_fd, &c, 1);
        if (got == 0) std::_Exit(0);
        if (got == 1 && c == 'g' && cmd.incoming) place(cmd.sessions);
        if (got == 1 && c == 'q') {
            Query q;  // written together with the 'q' (one write, below PIPE_BUF: atomic)
            if (::read(parent_fd, &q, sizeof q) != static_cast<ssize_t>(sizeof q)) std::_Exit(1);
            // The queries block (seconds at 100 000 sessions) while the LAC and the CPEs must keep
            // answering lnsd (Hello, ZLB acks; RFC 2661 §5.8 declares a silent peer dead): a
            // grandchild asks, as lnsctl would from its own process.
            if (::fork() == 0) {
                const std::string line = time_show_commands(q);
                const bool ok = ::write(result_fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
                std::_Exit(ok ? 0 : 1);
            }
        }
    }
}

std::string yaml_config(std::size_t sessions) {
    return R"(
local-address: 127.0.0.1
hostname: lns-mem
secret: mem-bench-pw        # = the generator's; dial-out calls get it as Tunnel-Password too
receive-window: 64
accept-unknown-peers: true  # modes l2tp and hello: the generator opens the tunnels
timers: {hello: 60s, retransmit: 1s}
# Mode hello opens `sessions` tunnels from one address: the per-peer, set-up and SCCRQ-rate bounds (defaults
# 16 and 20/s against a hostile network) are raised for it, as an operator would for a big LAC.
limits: {tunnels: )" + std::to_string(std::min<std::size_t>(sessions + 8, 65535)) + R"(, tunnels-per-peer: )" +
           std::to_string(std::min<std::size_t>(sessions + 8, 65535)) + R"(, tunnels-setup-per-peer: 256, sccrq-rate: 0}
virtual-routers:
  - name: default
    nas-ip-address: 192.0.2.1
    radius:
      authentication: [{address: 192.0.2.10, secret: home-secret}]
      accounting: [{address: 192.0.2.10, secret: home-secret}]
    lns-radius:
      authentication: [{address: 192.0.2.11, secret: lns-secret}]
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
    double heap_b = 0, rss_kib = 0, seconds = 0, cpu_seconds = 0;
    std::uint64_t sent = 0, retransmitted = 0;  ///< lnsd's control messages (all tunnels)
    // mode in-service
    std::size_t in_service = 0, tunnels = 0;
    double teardown_seconds = 0, teardown_cpu_seconds = 0, heap_after_teardown_b = 0;
    // mode hello
    double hello_cpu_seconds = 0, hello_spread_seconds = 0;
    std::size_t hello_peak_10ms = 0;
    nlohmann::json show = nlohmann::json::array();
};

/// lnsd's control-channel counters (show l2tp tunnel detail) into `f`.
void add_channel_counters(const lnsd::Lns& lns, Figures& f) {
    for (const auto& t : lns.show_tunnels("", true))
        if (t.contains("channel")) {
            f.sent += t["channel"].value("sent", std::uint64_t{0});
            f.retransmitted += t["channel"].value("retransmitted", std::uint64_t{0});
        }
}

/// User + system CPU seconds of this process (getrusage).
double cpu_seconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

/// "10.0.0.7@mem.example" -> 6 (its offset from kFirstDestination); "cpe-6" -> 6.
std::uint32_t call_index(const std::string& user) {
    if (user.rfind("cpe-", 0) == 0) return static_cast<std::uint32_t>(std::stoul(user.substr(4)));
    const auto a = core::Ipv4Address::parse(user.substr(0, user.find('@')));
    return a ? a->value - kFirstDestination : 0;
}

/// The scripted RADIUS servers in the parent: the home server's dial-out Access-Accept (JunosE "L2TP
/// Dial-Out" Table 75; ERX-Dial-Out-Number = the call's index, which the CPE takes as its name), the
/// LNS RADIUS's Access-Accept of CPE "cpe-<i>" (Framed-IP-Address 198.18.0.2 + i, Framed-Route =
/// its trigger's destination /32, RFC 2865 §5.8, §5.22) and Accounting-Responses (RFC 2866 §4.2).
/// The answer goes back through `deliver` (on a zero timer: never inside the client's send).
std::vector<std::uint8_t> radius_answer(const rc::Endpoint& to, std::span<const std::uint8_t> d,
                                        const std::string& lac_endpoint) {
    dl::radius::Radius req(d.data(), static_cast<std::uint32_t>(d.size()));
    const bool lns_server = to.address == kLnsRadius;
    const char* secret = lns_server ? kLnsSecret : kHomeSecret;
    std::vector<std::uint8_t> bytes;
    if (req.code() == Code::Accounting_Request) {
        dl::radius::Radius resp(Code::Accounting_Response, req.identifier());
        dl::radius::sign_response(resp, req.authenticator(), secret);
        dl::radius::serialize_into(resp, bytes);
        return bytes;
    }
    const std::uint32_t i = call_index(req.get_string(AttributeType::User_Name).value_or(""));
    dl::radius::Radius resp(Code::Access_Accept, req.identifier());
    if (lns_server) {
        const std::uint32_t peer = kFirstPeerAddress + i;
        resp.add_ipaddr(AttributeType::Framed_IP_Address,
                        {static_cast<std::uint8_t>(peer >> 24), static_cast<std::uint8_t>(peer >> 16),
                         static_cast<std::uint8_t>(peer >> 8), static_cast<std::uint8_t>(peer)});
        resp.add_string(AttributeType::Framed_Route, core::Ipv4Address{kFirstDestination + i}.to_string() + "/32 " +
                                                         core::Ipv4Address{peer}.to_string() + " 1");
    } else {
        resp.add_integer(AttributeType::Service_Type, 5);  // Outbound
        resp.add_integer(AttributeType::Tunnel_Type, 3, 1);
        resp.add_integer(AttributeType::Tunnel_Medium_Type, 1, 1);
        resp.add_string(AttributeType::Tunnel_Server_Endpoint, lac_endpoint, 1);
        resp.add(dl::radius::tunnel_password_attribute(1, kTunnelPassword, kHomeSecret, req.authenticator(), 0x8123));
        resp.add_string(AttributeType::Tunnel_Assignment_Id, "lac-1", 1);
        resp.add_string(ErxAttribute::Dial_Out_Number, std::to_string(i));
        resp.add_string(ErxAttribute::PPP_Username, "lns-dialout");
        resp.add_string(ErxAttribute::PPP_Password, "lns-pw");
        resp.add_integer(ErxAttribute::PPP_Auth_Protocol, 1);  // the CPE checks the LNS with PAP
        resp.add_integer(ErxAttribute::Minimum_BPS, 56000);
        resp.add_integer(ErxAttribute::Maximum_BPS, 64000);
        resp.add_integer(ErxAttribute::Bearer_Type, 1);
    }
    dl::radius::add_message_authenticator(resp);
    dl::radius::sign_response(resp, req.authenticator(), secret);
    dl::radius::serialize_into(resp, bytes);
    return bytes;
}

enum class Mode { dial_out, l2tp, in_service, hello };

/// The LNS side (parent): lnsd's Lns + DialOutWiring (`l2tp`: the Lns alone, incoming calls from
/// the generator). `life_fd`: the pipe to the generator, `result_fd`: its answers (in-service: the
/// show commands' timings). Returns the figures of one run.
Figures run_lns(std::size_t n, std::uint16_t lac_port, int life_fd, int result_fd, Mode mode) {
    const bool l2tp_only = mode == Mode::l2tp, in_service = mode == Mode::in_service, hello = mode == Mode::hello;
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

    if (hello) registry.set("hello", core::Duration(kHelloRoundInterval));
    std::unique_ptr<lnsd::UdpEndpoint> udp;
    std::unique_ptr<rc::Client> radius;
    auto servers = [&](const rc::Endpoint& to, std::span<const std::uint8_t> d) {
        timers.arm(0ms, [&radius, to, bytes = radius_answer(to, d, lac_endpoint)] { radius->on_datagram(to, bytes); });
    };
    radius = std::make_unique<rc::Client>(timers, registry, &bus, servers);
    // Mode hello: when lnsd sent each datagram and how many it received (the Hellos and their ZLBs).
    std::vector<std::chrono::steady_clock::time_point> sent_at;
    std::uint64_t received = 0;
    lnsd::Lns lns(timers, registry, bus, cfg, [&udp, &sent_at, hello](lnsd::PeerId p, std::vector<std::uint8_t> b) {
        if (hello) sent_at.push_back(std::chrono::steady_clock::now());
        if (udp) udp->send(p, b);
    });
    udp = std::make_unique<lnsd::UdpEndpoint>(io, cfg.local_address, 0,
                                              [&lns, &received](lnsd::PeerId p, std::span<const std::uint8_t> b) {
                                                  ++received;
                                                  lns.receive(p, b);
                                              });
    const Command cmd{udp->local_port(), static_cast<std::uint32_t>(n), static_cast<std::uint8_t>(l2tp_only),
                      static_cast<std::uint8_t>(in_service), hello ? static_cast<std::uint32_t>(n) : 0U};
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
    if (hello) {
        // n tunnels, no call; then one Hello round (RFC 2661 §6.5: each idle tunnel sends a Hello
        // after the hello interval, the LAC acknowledges it with a ZLB) measured in lnsd's CPU.
        const auto t0 = std::chrono::steady_clock::now();
        const double cpu0 = cpu_seconds();
        if (!run_until([&] { return lns.tunnel_count() >= n && channel_idle(); }, 300s)) {
            std::cerr << "only " << lns.tunnel_count() << " of " << n << " tunnels up in 300 s\n";
            std::exit(1);
        }
        f.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        f.cpu_seconds = cpu_seconds() - cpu0;
        f.tunnels = lns.tunnel_count();
        const std::size_t before = sent_at.size();
        const std::uint64_t received0 = received;
        const double hcpu0 = cpu_seconds();
        // Every tunnel's Hello sent and its ZLB received (the first Hellos may already be out if
        // set-up took longer than the interval: then the round is the one after).
        if (!run_until([&] { return sent_at.size() >= before + n && received >= received0 + n; },
                       std::chrono::duration_cast<std::chrono::seconds>(kHelloRoundInterval) + 120s)) {
            std::cerr << "Hello round incomplete: " << sent_at.size() - before << " sent, " << received - received0
                      << " acknowledged\n";
            std::exit(1);
        }
        f.hello_cpu_seconds = cpu_seconds() - hcpu0;
        // How the round is spread: first to last Hello, and the most Hellos within one 10 ms.
        std::vector<std::chrono::steady_clock::time_point> round(sent_at.begin() + static_cast<std::ptrdiff_t>(before),
                                                                 sent_at.begin() + static_cast<std::ptrdiff_t>(before + n));
        f.hello_spread_seconds = std::chrono::duration<double>(round.back() - round.front()).count();
        for (std::size_t i = 0, j = 0; i < round.size(); ++i) {
            while (round[i] - round[j] > 10ms) ++j;
            f.hello_peak_10ms = std::max(f.hello_peak_10ms, i - j + 1);
        }
        add_channel_counters(lns, f);
        udp->close();
        return f;
    }
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
        const double cpu0 = cpu_seconds();
        if (::write(life_fd, "g", 1) != 1) std::exit(1);
        if (!run_until([&] { return connected >= n + 1 && channel_idle(); }, 300s)) {
            std::cerr << "only " << connected - 1 << " of " << n << " incoming calls connected in 300 s\n";
            std::exit(1);
        }
        f.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        f.cpu_seconds = cpu_seconds() - cpu0;
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
    // The kernel side (TUN routes) is not made here: lnsd's own route table (the wiring's
    // AccessRouteTable) is, and is counted.
    port.add_dialout_route = [](const std::string&, core::Ipv4Prefix) -> std::optional<std::string> {
        return std::nullopt;
    };
    port.add_routes = [](const std::string&, std::span<const core::Ipv4Prefix> ps,
                         std::uint64_t) -> std::vector<std::optional<std::string>> {
        return std::vector<std::optional<std::string>>(ps.size());
    };
    port.remove_session = [](const std::string&, std::uint64_t) {};
    port.to_tun = [](const std::string&, std::span<const std::uint8_t>) {};
    auto wiring = std::make_unique<lnsd::DialOutWiring>(timers, registry, bus, lns, *radius,
                                                        lnsd::load_wiring_config(root), port);
    wiring->load_dialout(root["dialout"]);
    // Every call up to the stage the mode measures: connected (OCCN) and, in-service, its accounting
    // Start answered (sent at IPCP up, after the access routes are installed) with no call left
    // connecting (route verified: inService).
    auto all_up = [&](std::size_t calls) {
        const auto& k = wiring->counters();
        if (k.calls_connected < calls) return false;
        if (in_service && (k.acct_responses < calls || wiring->manager().connecting_sessions() != 0)) return false;
        return channel_idle();
    };
    const std::uint32_t base = kFirstDestination;
    wiring->tun_packet("default", trigger_packet(base));
    if (!run_until([&] { return all_up(1); }, 30s)) {
        std::cerr << "warm-up dial-out did not connect in 30 s\n";
        std::exit(1);
    }
    malloc_trim(0);
    const std::size_t heap0 = heap_in_use();
    const long rss0 = vm_rss_kib();
    const auto t0 = std::chrono::steady_clock::now();
    const double cpu0 = cpu_seconds();
    for (std::size_t i = 1; i <= n; ++i) {
        wiring->tun_packet("default", trigger_packet(base + static_cast<std::uint32_t>(i)));
        if (i % 256 == 0) io.poll();  // keep the loop (RADIUS, L2TP) moving while triggering
    }
    if (!run_until([&] { return all_up(n + 1); }, 600s)) {
        const auto& k = wiring->counters();
        std::cerr << "only " << k.calls_connected - 1 << " of " << n << " dial-out calls connected ("
                  << k.acct_responses << " accounting answers) in 600 s\n";
        std::exit(1);
    }
    const auto t1 = std::chrono::steady_clock::now();
    f.cpu_seconds = cpu_seconds() - cpu0;
    if (lns.session_count() != n + 1 || wiring->call_count() != n + 1) {
        std::cerr << "sessions " << lns.session_count() << " calls " << wiring->call_count() << " want " << n + 1
                  << "\n";
        std::exit(1);
    }
    f.heap_b = (static_cast<double>(heap_in_use()) - static_cast<double>(heap0)) / static_cast<double>(n);
    f.rss_kib = static_cast<double>(vm_rss_kib() - rss0) / static_cast<double>(n);
    f.seconds = std::chrono::duration<double>(t1 - t0).count();
    f.tunnels = lns.tunnel_count();
    add_channel_counters(lns, f);
    if (in_service) {
        const auto prefix = *core::Ipv4Prefix::parse("10.0.0.0/8");
        for (std::size_t i = 0; i <= n; ++i)
            f.in_service += wiring->manager().session_state({"default", prefix,
                                                             {base + static_cast<std::uint32_t>(i)}}) ==
                            dialout::SessionState::inService;
        // The control API on a real Unix socket; the child asks as lnsctl does, we serve.
        const std::string sock = "/tmp/dl-mem-bench-" + std::to_string(::getpid()) + ".sock";
        core::ControlServer server(io, sock, &bus);
        lns.register_commands(server);
        wiring->register_commands(server);
        server.start();
        Query q;
        std::snprintf(q.socket, sizeof q.socket, "%s", sock.c_str());
        // The items to ask for one at a time, found through paged listings (as lnsctl pages: an
        // unpaged listing of more than ListPage::kMaxItems items is refused).
        core::ListPage first;
        first.paged = true;
        first.limit = 1;
        const auto t = lns.show_tunnels("", false, first)["items"].at(0)["id"].get<std::uint16_t>();
        const auto one =
            lns.show_sessions(std::to_string(t), false, first)["items"].at(0)["id"].get<std::string>();
        std::snprintf(q.l2tp_session, sizeof q.l2tp_session, "%s", one.c_str());
        std::string middle_call;
        {
            core::ListPage page;
            page.paged = true;
            page.limit = core::ListPage::kMaxItems;
            for (std::size_t seen = 0;;) {
                auto answer = wiring->show_ppp("", false, page);
                const auto& items = answer["items"];
                if (n / 2 < seen + items.size()) {
                    middle_call = items.at(n / 2 - seen)["id"].dump();
                    break;
                }
                if (answer["next"].is_null() || items.empty()) {
                    middle_call = items.empty() ? "0" : items.back()["id"].dump();
                    break;
                }
                seen += items.size();
                page.after = answer["next"].get<std::string>();
            }
        }
        std::snprintf(q.ppp_call, sizeof q.ppp_call, "%s", middle_call.c_str());
        std::snprintf(q.dialout_session, sizeof q.dialout_session, "default/10.0.0.0/8/%s",
                      core::Ipv4Address{base + static_cast<std::uint32_t>(n / 2)}.to_string().c_str());
        char msg[1 + sizeof q];
        msg[0] = 'q';
        std::memcpy(msg + 1, &q, sizeof q);
        if (::write(life_fd, msg, sizeof msg) != static_cast<ssize_t>(sizeof msg)) std::exit(1);
        ::fcntl(result_fd, F_SETFL, ::fcntl(result_fd, F_GETFL) | O_NONBLOCK);
        std::string line;
        const bool answered = run_until(
            [&] {
                char buf[4096];
                for (ssize_t got; (got = ::read(result_fd, buf, sizeof buf)) > 0;) line.append(buf, static_cast<std::size_t>(got));
                return !line.empty() && line.back() == '\n';
            },
            600s);
        server.stop();
        if (!answered) {
            std::cerr << "the show commands were not all answered in 600 s\n";
            std::exit(1);
        }
        f.show = nlohmann::json::parse(line);
        if (lns.session_count() != n + 1 || wiring->call_count() != n + 1) {
            std::cerr << "sessions lost while the show commands ran: " << lns.session_count() << " L2TP sessions, "
                      << wiring->call_count() << " calls left of " << n + 1 << "\n";
            std::exit(1);
        }
        // Tear-down: l2tp clear system (StopCCN to every tunnel); done when every call is closed
        // and reaped, its Accounting-Stop answered, and every tunnel gone.
        const auto td0 = std::chrono::steady_clock::now();
        const double tcpu0 = cpu_seconds();
        lns.clear_system();
        if (!run_until(
                [&] {
                    const auto& k = wiring->counters();
                    return wiring->call_count() == 0 && lns.session_count() == 0 && lns.quiescent() &&
                           k.acct_responses >= k.acct_requests && radius->queued() == 0;
                },
                600s)) {
            std::cerr << "tear-down: " << wiring->call_count() << " calls, " << lns.session_count()
                      << " sessions left after 600 s\n";
            std::exit(1);
        }
        f.teardown_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - td0).count();
        f.teardown_cpu_seconds = cpu_seconds() - tcpu0;
        malloc_trim(0);
        f.heap_after_teardown_b =
            (static_cast<double>(heap_in_use()) - static_cast<double>(heap0)) / static_cast<double>(n);
    }
    wiring.reset();
    udp->close();
    return f;
}

}  // namespace

int main(int argc, char** argv) {
    const std::size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 10000;
    const int repeat = argc > 2 ? std::atoi(argv[2]) : 1;
    const std::string mode_name = argc > 3 ? argv[3] : "dial-out";
    // 100 000: more than one tunnel carries (65 535, RFC 2661 §5.4), so the calls span two tunnels.
    if (n == 0 || n > 100000 || repeat < 1 ||
        (mode_name != "dial-out" && mode_name != "l2tp" && mode_name != "in-service" && mode_name != "hello") ||
        (mode_name == "hello" && n > 60000)) {
        std::cerr << "usage: dl_lnsd_mem_bench [sessions 1..100000 | tunnels 1..60000] [repeat >= 1] "
                     "[dial-out|l2tp|in-service|hello]\n";
        return 2;
    }
    const Mode mode = mode_name == "l2tp"         ? Mode::l2tp
                      : mode_name == "in-service" ? Mode::in_service
                      : mode_name == "hello"      ? Mode::hello
                                                  : Mode::dial_out;
    const char* what = mode == Mode::l2tp ? "incoming calls (established)"
                       : mode == Mode::in_service
                           ? "dial-out sessions (inService: PPP up, access route, accounting started)"
                           : "dial-out sessions (connecting, L2TP established, PPP LCP started)";
    std::printf("lnsd memory per %s, LNS side only (load generator in a child process)\n",
                mode == Mode::l2tp ? "incoming L2TP session (Lns core alone, no PPP, no dial-out)" : "dial-out session");
    std::printf("  object sizes (sizeof, without their heap members): L2TP engine session %zu B, lnsd session "
                "record %zu B, wiring call record %zu B, PPP link %zu B, dial-out manager session %zu B\n",
                eng::Engine::sizeof_session(), lnsd::Lns::sizeof_session_record(),
                lnsd::DialOutWiring::sizeof_call_record(), dl::ppp::engine::Link::footprint(),
                dl::dialout::Manager::session_footprint());
    for (int r = 0; r < repeat; ++r) {
        int result_pipe[2], life_pipe[2];
        if (::pipe(result_pipe) != 0 || ::pipe(life_pipe) != 0) {
            std::perror("pipe");
            return 1;
        }
        const pid_t child = ::fork();
        if (child < 0) {
            std::perror("fork");
            return 1;
        }
        if (child == 0) {
            ::close(result_pipe[0]);
            ::close(life_pipe[1]);
            run_generator(result_pipe[1], life_pipe[0]);
        }
        ::close(result_pipe[1]);
        ::close(life_pipe[0]);
        std::uint16_t lac_port = 0;
        if (::read(result_pipe[0], &lac_port, sizeof lac_port) != static_cast<ssize_t>(sizeof lac_port)) {
            std::cerr << "load generator did not start\n";
            return 1;
        }
        std::string load;
        std::getline(std::ifstream("/proc/loadavg"), load);
        const Figures f = run_lns(n, lac_port, life_pipe[1], result_pipe[0], mode);
        ::close(life_pipe[1]);  // the generator exits on EOF
        ::close(result_pipe[0]);
        int status = 0;
        ::waitpid(child, &status, 0);
        std::printf("  run %d: %zu %s in %.2f s (lnsd CPU %.2f s): heap %.0f B/session, RSS %.2f KiB/session "
                    "(budget 8 KiB)\n",
                    r + 1, f.sessions, what, f.seconds, f.cpu_seconds, f.heap_b, f.rss_kib);
        std::printf("         lnsd control messages sent %llu, retransmitted %llu; tunnels %zu; loadavg at start %s\n",
                    static_cast<unsigned long long>(f.sent), static_cast<unsigned long long>(f.retransmitted),
                    f.tunnels, load.c_str());
        nlohmann::json j = {{"mode", mode_name},
                            {"sessions", f.sessions},
                            {"heap_bytes_per_session", std::lround(f.heap_b)},
                            {"rss_kib_per_session", std::round(f.rss_kib * 1000) / 1000},
                            {"setup_seconds", std::round(f.seconds * 1000) / 1000},
                            {"setup_cpu_seconds", std::round(f.cpu_seconds * 1000) / 1000},
                            {"tunnels", f.tunnels},
                            {"loadavg", load}};
        if (mode == Mode::in_service) {
            std::printf("         inService %zu of %zu; tear-down (l2tp clear system) %.2f s (lnsd CPU %.2f s), heap "
                        "left %.0f B/session (dial-out sessions kept dormant)\n",
                        f.in_service, f.sessions + 1, f.teardown_seconds, f.teardown_cpu_seconds,
                        f.heap_after_teardown_b);
            std::printf("         show commands through the control socket (median of 3, ms):\n");
            for (const auto& c : f.show)
                std::printf("           %-48s %10.2f ms  %9zu B  %6zu items%s\n",
                            c["command"].get<std::string>().c_str(), c["ms"].get<double>(),
                            c["bytes"].get<std::size_t>(), c["items"].get<std::size_t>(),
                            c["ok"].get<bool>() ? "" : "  (error)");
            j["in_service"] = f.in_service;
            j["teardown_seconds"] = std::round(f.teardown_seconds * 1000) / 1000;
            j["teardown_cpu_seconds"] = std::round(f.teardown_cpu_seconds * 1000) / 1000;
            j["heap_bytes_per_session_after_teardown"] = std::lround(f.heap_after_teardown_b);
            j["show"] = f.show;
        }
        if (mode == Mode::hello) {
            std::printf("         %zu tunnels up in %.2f s (lnsd CPU %.2f s); one Hello round (hello %llds): lnsd CPU "
                        "%.3f s = %.1f us per Hello + its ZLB; spread over %.3f s, at most %zu Hellos in 10 ms\n",
                        f.tunnels, f.seconds, f.cpu_seconds, static_cast<long long>(kHelloRoundInterval.count()),
                        f.hello_cpu_seconds, f.hello_cpu_seconds * 1e6 / static_cast<double>(f.sessions),
                        f.hello_spread_seconds, f.hello_peak_10ms);
            j = {{"mode", mode_name},
                 {"tunnels", f.tunnels},
                 {"setup_seconds", std::round(f.seconds * 1000) / 1000},
                 {"setup_cpu_seconds", std::round(f.cpu_seconds * 1000) / 1000},
                 {"hello_round_cpu_seconds", std::round(f.hello_cpu_seconds * 10000) / 10000},
                 {"hello_cpu_us_each", std::round(f.hello_cpu_seconds * 1e7 / static_cast<double>(f.sessions)) / 10},
                 {"hello_spread_seconds", std::round(f.hello_spread_seconds * 1000) / 1000},
                 {"hello_peak_per_10ms", f.hello_peak_10ms},
                 {"loadavg", load}};
        }
        std::printf("%s\n", j.dump().c_str());
        if (mode == Mode::in_service && f.in_service != f.sessions + 1) {
            std::cerr << "not every session reached inService\n";
            return 1;
        }
    }
    return 0;
}
