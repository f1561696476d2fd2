// dl_loadgen: a load generator for an LNS, in one process and one Boost.Asio event loop, on the
// project's own engines (no second protocol parser): the RFC 2661 engine of lns/l2tp in the LAC
// role, and for dial-out also lac-emu's call handling (peers/lac), the emulated ISDN exchange
// (peers/isdn) and the CPEs' PPP (peers/cpe). UDP is received in batches (recvmmsg, BatchUdp) and
// sent in batches (sendmmsg, SendBatch, one posted flush per pass); the sockets' readiness through
// core::ReadinessWait (no system call per re-arm), the timers through core::AsioTimerDriver.
// Per-call timing, per-message-type counters, its own CPU
// per call and the LNS's (/proc/<pid>), a progress line on stderr each second and a JSON result.
//
//   dl_loadgen incoming --lns 127.0.0.1 --tunnels 10 --sessions-per-tunnel 100 --rate 500 --json r.json
//   dl_loadgen dialout --bind 198.51.100.2 --sites-file sites.json --home-netns /run/netns/X --rate 500
//
// docs/performance.md, "Load generator (`./lab bench loadgen`)", describes the design and figures.
#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dl/core/asio_driver.hpp"
#include "dl/core/clock.hpp"
#include "dl/core/event.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/cpe/cpe.hpp"
#include "dl/isdn/exchange.hpp"
#include "dl/l2tp/engine/engine.hpp"
#include "dl/lac/faults.hpp"
#include "dl/lac/lac.hpp"
#include "dl/lnsd/lns.hpp"
#include "dl/loadgen/b_channel.hpp"
#include "dl/loadgen/batch_udp.hpp"
#include "dl/loadgen/incoming_ppp.hpp"
#include "dl/loadgen/stats.hpp"
#include "dl/loadgen/triggers.hpp"

namespace {

using namespace dl;
using namespace std::chrono_literals;
using l2tp::engine::PeerId;
using l2tp::engine::SessionKey;
using Json = nlohmann::json;

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
double ms_between(std::int64_t a, std::int64_t b) { return static_cast<double>(b - a) / 1e6; }

/// When the next paced start is due: with --rate R the k-th (0-based) is due k / R seconds after
/// `t0_ns` (loadgen::due_now); without a rate (window-bound) or when it is already due, 1 ms from now
/// (a window slot frees when a set-up ends).
core::TimePoint next_due(const core::TimerQueue& timers, double rate, std::int64_t t0_ns, std::size_t k) {
    const auto now = timers.now();
    if (rate <= 0) return now + 1ms;
    const auto due_in = std::chrono::nanoseconds(t0_ns + static_cast<std::int64_t>(static_cast<double>(k) * 1e9 / rate) -
                                                 now_ns());
    return now + std::max<core::Duration>(std::chrono::duration_cast<core::Duration>(due_in), 1ms);
}

/// The event loop, clock, timers and (subscriber-less) event bus every mode runs on: one
/// io_context (run() until a mode stops it), the TimerQueue driven by core::AsioTimerDriver (one
/// OS timer; already-due timers run from a posted handler), the sockets' readiness through
/// core::ReadinessWait (loadgen::BatchUdp).
struct Loop {
    boost::asio::io_context io;
    core::SystemClock clock;
    core::TimerQueue timers{clock};
    core::AsioTimerDriver driver{io, timers};
    core::TimerRegistry registry;
    core::EventBus bus{clock};  // no subscriber: a published event costs a counter increment
    Loop() {
        core::register_well_known_timers(registry);
        l2tp::engine::register_l2tp_timers(registry);
    }
};

/// Options every mode shares.
struct Common {
    std::vector<std::string> binds;
    std::string hostname = "dl-loadgen";
    std::string secret;
    bool hide_avps = false;
    std::uint16_t receive_window = 64;
    double rate = 0;
    std::size_t window = 256;
    double hold = 0;
    double deadline = 60;
    std::string json_path;
    int lns_pid = 0;
    std::vector<std::string> watch_pid_args;      ///< --watch-pid NAME=PID, as given
    std::vector<loadgen::WatchedPid> watch_pids;  ///< the same, parsed
    bool quiet = false;
};

/// L2TP socket(s) of the generator with per-message-type counters: one BatchUdp (recvmmsg
/// batches) per local address, sends batched per socket (loadgen::SendBatch, sendmmsg, one posted
/// flush per pass).
struct Sockets {
    std::vector<std::unique_ptr<loadgen::BatchUdp>> udp;
    std::vector<std::unique_ptr<loadgen::SendBatch>> out;
    void send(std::size_t socket, PeerId peer, std::vector<std::uint8_t> bytes) {
        out[socket]->send(lnsd::peer_address(peer).value, lnsd::peer_port(peer), std::move(bytes));
    }
    loadgen::MessageCounters sent, received;
    Json io_json() const {
        std::uint64_t err = 0, calls = 0, batches = 0, datagrams = 0;
        for (const auto& o : out) {
            err += o->errors();
            calls += o->calls();
        }
        for (const auto& u : udp) {
            batches += u->counters().batches;
            datagrams += u->counters().datagrams;
        }
        std::uint64_t truncated = 0, errors = 0;
        for (const auto& u : udp) {
            truncated += u->counters().truncated;
            errors += u->counters().errors;
        }
        return {{"sendmmsg_calls", calls}, {"send_errors", err}, {"recvmmsg_batches", batches},
                {"datagrams_received", datagrams}, {"truncated", truncated}, {"receive_errors", errors}};
    }

    static bool is_data(std::span<const std::uint8_t> d) { return !d.empty() && (d[0] & 0x80) == 0; }
    void count_sent(std::span<const std::uint8_t> d) { sent.count(lac::control_message_type(d), is_data(d)); }
    void count_received(std::span<const std::uint8_t> d) { received.count(lac::control_message_type(d), is_data(d)); }
};

core::Ipv4Address parse_ipv4(const std::string& text, const char* option) {
    auto a = core::Ipv4Address::parse(text);
    if (!a) throw CLI::ValidationError(option, "'" + text + "' is not a dotted-decimal IPv4 address");
    return *a;
}

/// The LNS's and the watched processes' (--watch-pid) CPU and RSS over the set-up phase:
/// JSON "lns" (loadgen::ProcDelta) and "watched" ({NAME: ProcDelta}).
struct LnsUsage {
    loadgen::ProcDelta lns;
    std::vector<std::pair<std::string, loadgen::ProcDelta>> watched;
    bool stopped = false;
    explicit LnsUsage(const Common& c) : lns{c.lns_pid} {
        for (const auto& w : c.watch_pids) watched.emplace_back(w.name, loadgen::ProcDelta{w.pid});
    }
    void start() {
        lns.start();
        for (auto& [n, d] : watched) d.start();
    }
    void stop() {
        stopped = true;
        lns.stop();
        for (auto& [n, d] : watched) d.stop();
    }
    Json to_json(std::size_t calls) const { return lns.to_json(calls); }
    Json watched_json(std::size_t calls) const {
        Json j = Json::object();
        for (const auto& [n, d] : watched) j[n] = d.to_json(calls);
        return j;
    }
};

/// The end of a run, the same in both modes: after the set-up phase, --hold seconds (the engines
/// answer Hellos, RFC 2661 §6.5), then `close_all` (a StopCCN on every tunnel, §5.7) and a 5 ms
/// poll until `busy()` is false (every StopCCN acknowledged): teardown_s. The --deadline timer
/// stops the loop whatever happens (deadline_hit).
struct Ending {
    Loop& loop;
    const Common& c;
    std::function<void()> close_all;
    std::function<bool()> busy;
    bool finished = false, deadline_hit = false;
    double teardown_s = -1;
    std::int64_t td0 = 0;

    static core::Duration seconds(double s) {
        return std::chrono::duration_cast<core::Duration>(std::chrono::duration<double>(s));
    }
    void arm_deadline() {
        loop.timers.arm(seconds(c.deadline), [this] {
            deadline_hit = true;
            finish();
        });
    }
    void after_setup() {
        if (c.hold > 0) loop.timers.arm(seconds(c.hold), [this] { teardown(); });
        else teardown();
    }
    void teardown() {
        td0 = now_ns();
        close_all();
        poll();
    }
    void poll() {
        if (busy()) {
            loop.timers.arm(5ms, [this] { poll(); });
            return;
        }
        teardown_s = ms_between(td0, now_ns()) / 1e3;
        finish();
    }
    void finish() {
        finished = true;
        loop.io.stop();
    }
};

void write_json(const std::string& path, const Json& j) {
    if (path.empty()) return;
    if (path == "-") {
        std::cout << j.dump(2) << "\n";
        return;
    }
    std::ofstream f(path);
    f << j.dump(2) << "\n";
    if (!f) throw std::runtime_error("cannot write " + path);
}

/// Key of a failure: who ended the call and the CDN Result Code (RFC 2661 §4.4.2), with the
/// Q.931 cause when the peer sent one (§4.4.10): "peer-cdn/result-4/q931-1".
std::string failure_key(const l2tp::engine::CallFailure& f) {
    std::string k = fmt::format("{}/result-{}", l2tp::engine::to_string(f.ended_by), f.result);
    if (f.q931) k += fmt::format("/q931-{}", f.q931->cause_code);
    return k;
}

// --------------------------------------------------------------------------------------------
// incoming: SCCRQ/SCCRP/SCCCN, then ICRQ/ICRP/ICCN per session (RFC 2661 §5.1, §7.4.1)

struct IncomingOptions {
    std::string lns = "127.0.0.1";
    std::uint16_t port = 1701;
    std::size_t tunnels = 1;
    std::size_t sessions_per_tunnel = 1;
    std::string ppp = "none";
    std::string users_file;  ///< --ppp chap: the CPEs' CHAP names and secrets (load_ppp_users)
    std::size_t engines = 64;
};

/// `--ppp chap` of the incoming mode: the CPE side of every call (loadgen::IncomingPpp) between
/// the engines and the unit bookkeeping of run_incoming. A unit's L2TP stage is ICRQ → ICCN, its
/// PPP stage ICCN → IPCP Opened (LCP, CHAP with the LNS and the LNS's RADIUS, IPCP); it is up
/// (`up`) at IPCP Opened, failed (`failed`, "ppp/<cause>") when its link goes down before that.
struct IncomingPppStage {
    std::vector<std::pair<std::size_t, SessionKey>> call;  ///< unit -> (engine, L2TP session)
    std::vector<std::int64_t> iccn;                         ///< unit -> ICCN queued, ns
    loadgen::LatencySamples l2tp_ms, ppp_ms;
    std::unique_ptr<loadgen::IncomingPpp> links;
    std::uint64_t frames_in = 0, frames_out = 0;

    IncomingPppStage(Loop& loop, std::size_t units, const std::string& users_file,
                     const std::vector<std::unique_ptr<l2tp::engine::Engine>>& engines,
                     std::function<void(std::size_t)> up, std::function<void(std::size_t, const std::string&)> failed)
        : call(units), iccn(units, 0) {
        links = std::make_unique<loadgen::IncomingPpp>(
            core::FsmEnv{&loop.bus, &loop.timers, &loop.registry}, loadgen::load_ppp_users(users_file),
            [this, &engines](std::size_t u, std::vector<std::uint8_t> f) {
                ++frames_out;
                engines[call[u].first]->send_ppp(call[u].second, f);
            },
            [this, up](std::size_t u) {
                ppp_ms.add(ms_between(iccn[u], now_ns()));
                up(u);
            },
            [failed](std::size_t u, std::string_view cause) { failed(u, "ppp/" + std::string(cause)); });
    }
    /// The unit's call is connected (ICCN queued now; its ICRQ was queued at `icrq_ns`): PPP starts.
    void connected(std::size_t u, std::size_t engine, SessionKey k, std::int64_t icrq_ns) {
        call[u] = {engine, k};
        iccn[u] = now_ns();
        l2tp_ms.add(ms_between(icrq_ns, iccn[u]));
        links->start(u);
    }
    void frame(std::size_t u, std::span<const std::uint8_t> f) {
        ++frames_in;
        links->receive(u, f);
    }
    Json to_json() const {
        return {{"l2tp", l2tp_ms.summary()}, {"ppp", ppp_ms.summary()}, {"frames_sent", frames_out},
                {"frames_received", frames_in}, {"auth_failures", links->auth_failures()}};
    }
};

/// Runs the incoming mode. A unit is a session (or a tunnel when sessions_per_tunnel is 0). There
/// are min(tunnels, engines) LAC engines, each with its own UDP socket on a --bind address in
/// turn; units go round-robin over them, and each engine fills its tunnels one after the other
/// (SCCRQ just before the tunnel's first ICRQ). Latency of a session: ICRQ queued → ICCN queued
/// (the engine's `connected` upcall in the LAC role, on the ICRP); of a tunnel: SCCRQ queued →
/// SCCCN queued (`tunnel_up`).
int run_incoming(const Common& c, const IncomingOptions& o) {
    if (o.ppp != "none" && o.sessions_per_tunnel == 0)
        throw CLI::ValidationError("--ppp", "needs sessions (--sessions-per-tunnel >= 1)");
    if (o.ppp != "none" && o.users_file.empty()) throw CLI::ValidationError("--users-file", "--ppp chap needs the CPEs' users");
    Loop loop;
    Sockets sock;
    const auto lns_addr = parse_ipv4(o.lns, "--lns");
    const PeerId lns = lnsd::peer_id(lns_addr, o.port);
    const bool tunnels_only = o.sessions_per_tunnel == 0;
    const std::size_t per_tunnel = tunnels_only ? 1 : o.sessions_per_tunnel;
    const std::size_t total = tunnels_only ? o.tunnels : o.tunnels * o.sessions_per_tunnel;

    struct Unit {
        std::int64_t start = 0, done = 0;
        bool failed = false;
    };
    std::vector<Unit> units(total);
    struct TunnelRec {
        std::int64_t start = 0, up = 0;
        bool down = false;
    };
    std::vector<TunnelRec> tunnel_recs(o.tunnels);
    std::unordered_map<std::uint64_t, std::size_t> tunnel_of;   // (engine << 16 | tid) -> tunnel index
    std::unordered_map<std::uint64_t, std::size_t> session_of;  // (engine << 32 | tid << 16 | sid) -> unit
    std::size_t started = 0, established = 0, failed = 0, dropped_after = 0, tunnels_up = 0, tunnels_failed = 0;
    bool tearing_down = false;
    std::map<std::string, std::uint64_t> failures;
    loadgen::LatencySamples session_ms, tunnel_ms;
    std::int64_t last_done = 0;

    std::function<void()> check_done;  // set below: the end of the set-up phase
    std::vector<std::unique_ptr<l2tp::engine::Engine>> engines;
    const std::size_t n_engines = std::min(o.tunnels, o.engines);
    std::vector<std::size_t> unit_of_tunnel(o.tunnels);
    std::vector<std::vector<std::uint16_t>> opened(n_engines);
    auto unit_done = [&](std::size_t u, bool ok, const std::string& why) {
        auto& un = units[u];
        if (un.done) return;
        un.done = last_done = now_ns();
        un.failed = !ok;
        if (ok) {
            ++established;
            session_ms.add(ms_between(un.start, un.done));
        } else {
            ++failed;
            ++failures[why];
        }
        if (established + failed == total) boost::asio::post(loop.io, [&] { check_done(); });
    };
    std::unique_ptr<IncomingPppStage> ppp;
    if (o.ppp == "chap")
        ppp = std::make_unique<IncomingPppStage>(
            loop, total, o.users_file, engines, [&](std::size_t u) { unit_done(u, true, {}); },
            [&](std::size_t u, const std::string& why) { unit_done(u, false, why); });
    for (std::size_t e = 0; e < n_engines; ++e) {
        l2tp::engine::EngineConfig ec;
        ec.host_name = c.hostname;
        ec.secret = c.secret;
        ec.hide_avps = c.hide_avps && !c.secret.empty();
        ec.receive_window = c.receive_window;
        l2tp::engine::EngineCallbacks cb;
        cb.send = [&sock, e](PeerId p, std::vector<std::uint8_t> b) {
            sock.count_sent(b);
            sock.send(e, p, std::move(b));
        };
        cb.tunnel_up = [&, e](std::uint16_t tid, PeerId) {
            auto it = tunnel_of.find((std::uint64_t{e} << 16) | tid);
            if (it == tunnel_of.end()) return;
            auto& t = tunnel_recs[it->second];
            t.up = now_ns();
            ++tunnels_up;
            tunnel_ms.add(ms_between(t.start, t.up));
            if (tunnels_only) unit_done(unit_of_tunnel[it->second], true, {});
        };
        cb.tunnel_down = [&, e](std::uint16_t tid, const std::string& cause) {
            auto it = tunnel_of.find((std::uint64_t{e} << 16) | tid);
            if (it == tunnel_of.end()) return;
            auto& t = tunnel_recs[it->second];
            if (t.down) return;
            t.down = true;
            if (!t.up) {
                ++tunnels_failed;
                if (tunnels_only) unit_done(unit_of_tunnel[it->second], false, "tunnel/" + cause);
            }
        };
        cb.connected = [&, e](SessionKey k, const l2tp::engine::ConnectInfo&) {
            auto it = session_of.find((std::uint64_t{e} << 32) | (std::uint64_t{k.tunnel} << 16) | k.session);
            if (it == session_of.end()) return;
            if (ppp) ppp->connected(it->second, e, k, units[it->second].start);
            else unit_done(it->second, true, {});
        };
        if (ppp)
            cb.ppp_frame = [&, e](SessionKey k, std::span<const std::uint8_t> f) {
                auto it = session_of.find((std::uint64_t{e} << 32) | (std::uint64_t{k.tunnel} << 16) | k.session);
                if (it != session_of.end()) ppp->frame(it->second, f);
            };
        cb.call_ended = [&, e](SessionKey k, const l2tp::engine::CallFailure& f) {
            auto it = session_of.find((std::uint64_t{e} << 32) | (std::uint64_t{k.tunnel} << 16) | k.session);
            if (it == session_of.end()) return;
            if (units[it->second].done && !units[it->second].failed) {
                if (!tearing_down) ++dropped_after;
            }
            else unit_done(it->second, false, failure_key(f));
            // after the L2TP cause is recorded: the link's own "down" then finds the unit done
            if (ppp) ppp->links->stop(it->second);
        };
        engines.push_back(std::make_unique<l2tp::engine::Engine>(loop.timers, loop.registry, loop.bus, ec, std::move(cb)));
        auto& eng = *engines.back();
        sock.udp.push_back(std::make_unique<loadgen::BatchUdp>(
            loop.io, parse_ipv4(c.binds[e % c.binds.size()], "--bind").value, 0,
            [&sock, &eng](std::uint32_t a, std::uint16_t port, std::span<const std::uint8_t> d) {
                sock.count_received(d);
                eng.receive(lnsd::peer_id({a}, port), d);
            },
            // recvmmsg batch: 32 × 4 KiB buffers per socket; fewer when there are many sockets
            n_engines > 8 ? 8 : 32));
        sock.out.push_back(std::make_unique<loadgen::SendBatch>(loop.io, sock.udp.back()->native_handle()));
    }

    // Units go round-robin over the engines that still have some; engine e opens its quota of
    // tunnels one after the other, each taking `per_tunnel` units (the engine places a call on its
    // newest tunnel to the peer).
    struct EngineQuota {
        std::size_t units_left = 0, on_current = 0, current_tunnel = 0;
    };
    std::vector<EngineQuota> quota(engines.size());
    for (std::size_t e = 0; e < engines.size(); ++e)
        quota[e].units_left = (o.tunnels / engines.size() + (e < o.tunnels % engines.size() ? 1 : 0)) * per_tunnel;
    std::size_t next_engine = 0, tunnels_opened = 0;
    auto start_unit = [&](std::size_t u) {
        while (quota[next_engine].units_left == 0) next_engine = (next_engine + 1) % engines.size();
        const std::size_t e = next_engine;
        next_engine = (next_engine + 1) % engines.size();
        auto& q = quota[e];
        --q.units_left;
        auto& eng = *engines[e];
        units[u].start = now_ns();
        if (q.on_current == 0) {
            q.current_tunnel = tunnels_opened++;
            tunnel_recs[q.current_tunnel].start = units[u].start;
            const auto tid = eng.open_tunnel(lns);
            tunnel_of[(std::uint64_t{e} << 16) | tid] = q.current_tunnel;
            opened[e].push_back(tid);
        }
        q.on_current = (q.on_current + 1) % per_tunnel;
        if (tunnels_only) {
            unit_of_tunnel[q.current_tunnel] = u;
            return;
        }
        l2tp::engine::IncomingCall ic;
        ic.call_serial_number = static_cast<std::uint32_t>(u);
        ic.calling_number = std::to_string(u);
        const auto k = eng.place_incoming_call(lns, ic);
        session_of[(std::uint64_t{e} << 32) | (std::uint64_t{k.tunnel} << 16) | k.session] = u;
    };

    LnsUsage lns_usage{c};
    lns_usage.start();
    const double cpu0 = loadgen::self_cpu_s();
    const std::int64_t t0 = now_ns();
    Ending end{loop, c,
                [&] {
                    tearing_down = true;
                    for (std::size_t e = 0; e < engines.size(); ++e)
                        for (auto tid : opened[e]) engines[e]->close_tunnel(tid);
                },
                [&] {
                    for (std::size_t e = 0; e < engines.size(); ++e)
                        for (auto tid : opened[e])
                            if (auto* ch = engines[e]->channel(tid); ch && !ch->idle()) return true;
                    return false;
                }};
    double setup_s = 0;
    double cpu_setup = 0;

    // Pacing: a 1 ms tick starts every due unit (loadgen::due_now).
    std::function<void()> pace = [&] {
        const double el = ms_between(t0, now_ns()) / 1e3;
        const std::size_t n = loadgen::due_now(el, c.rate, started, started - established - failed, c.window, total);
        for (std::size_t i = 0; i < n; ++i) start_unit(started++);
        if (started < total) loop.timers.arm_at(next_due(loop.timers, c.rate, t0, started), pace);
    };
    std::size_t last_est = 0;
    std::function<void()> progress = [&] {
        if (end.finished) return;
        if (!c.quiet) {
            const auto p50 = session_ms.count() ? session_ms.percentile(50) : tunnel_ms.percentile(50);
            std::fprintf(stderr, "[%6.1fs] established %zu/%zu failed %zu in-flight %zu rate %zu/s p50 %.2f ms\n",
                         ms_between(t0, now_ns()) / 1e3, established, total, failed, started - established - failed,
                         established - last_est, p50.value_or(0.0));
        }
        last_est = established;
        loop.timers.arm(1s, progress);
    };
    bool done_handled = false;
    check_done = [&] {
        if (done_handled) return;
        if (established + failed < total) {
            loop.timers.arm(100ms, check_done);
            return;
        }
        done_handled = true;
        setup_s = ms_between(t0, last_done) / 1e3;
        cpu_setup = loadgen::self_cpu_s() - cpu0;
        lns_usage.stop();
        end.after_setup();
    };
    end.arm_deadline();
    pace();
    loop.timers.arm(1s, progress);
    check_done();
    loop.io.run();
    if (!lns_usage.stopped) lns_usage.stop();
    if (cpu_setup == 0) cpu_setup = loadgen::self_cpu_s() - cpu0;
    if (setup_s == 0 && last_done) setup_s = ms_between(t0, last_done) / 1e3;

    std::uint64_t retransmitted = 0;
    for (std::size_t e = 0; e < engines.size(); ++e)
        for (auto tid : opened[e])
            if (auto* ch = engines[e]->channel(tid)) retransmitted += ch->stats().retransmitted;
    const std::size_t calls = established;
    Json j{{"mode", "incoming"},
           {"config", {{"lns", o.lns}, {"port", o.port}, {"binds", c.binds}, {"tunnels", o.tunnels},
                       {"sessions_per_tunnel", o.sessions_per_tunnel}, {"engines", n_engines}, {"rate", c.rate}, {"window", c.window},
                       {"hold_s", c.hold}, {"ppp", o.ppp}, {"receive_window", c.receive_window},
                       {"secret", !c.secret.empty()}}},
           {"unit", tunnels_only ? "tunnel" : "session"},
           {"requested", total},
           {"started", started},
           {"established", established},
           {"failed", failed},
           {"dropped_after_established", dropped_after},
           {"complete", established == total},
           {"deadline_hit", end.deadline_hit},
           {"failures", failures},
           {"tunnels", {{"requested", o.tunnels}, {"established", tunnels_up}, {"failed", tunnels_failed},
                        {"setup_ms", tunnel_ms.summary()}}},
           {"sessions", {{"requested", tunnels_only ? 0 : total}, {"established", tunnels_only ? 0 : established},
                         {"setup_ms", session_ms.summary()}}},
           {"setup_s", setup_s},
           {"setup_rate_per_s", setup_s > 0 ? static_cast<double>(established) / setup_s : 0.0},
           {"teardown_s", end.teardown_s},
           // --ppp chap: per stage (L2TP ICRQ → ICCN, PPP ICCN → IPCP Opened) and the total
           // (sessions.setup_ms: ICRQ → IPCP Opened), as the dial-out mode's latency_ms.
           {"ppp_stages", ppp ? ppp->to_json() : Json(nullptr)},
           {"messages", {{"sent", sock.sent.to_json()}, {"received", sock.received.to_json()},
                         {"retransmitted", retransmitted}, {"io", sock.io_json()}}},
           {"loadgen", {{"cpu_s", cpu_setup},
                        {"cpu_ms_per_call", calls ? cpu_setup * 1e3 / static_cast<double>(calls) : 0.0},
                        {"rss_kib", loadgen::read_proc(static_cast<int>(getpid())).value_or(loadgen::ProcUsage{}).rss_kib}}},
           {"lns", lns_usage.to_json(calls)},
           {"watched", lns_usage.watched_json(calls)}};
    write_json(c.json_path, j);
    if (!c.quiet)
        std::fprintf(stderr, "incoming: %zu/%zu %ss established in %.3f s (%.0f/s), failed %zu, p50 %.2f ms p99 %.2f ms, "
                             "loadgen %.3f ms CPU per call%s\n",
                     established, total, tunnels_only ? "tunnel" : "session", setup_s,
                     setup_s > 0 ? static_cast<double>(established) / setup_s : 0.0, failed,
                     (tunnels_only ? tunnel_ms : session_ms).percentile(50).value_or(0.0),
                     (tunnels_only ? tunnel_ms : session_ms).percentile(99).value_or(0.0),
                     calls ? cpu_setup * 1e3 / static_cast<double>(calls) : 0.0, end.deadline_hit ? " (DEADLINE)" : "");
    return established == total && !end.deadline_hit ? 0 : 1;
}

// --------------------------------------------------------------------------------------------
// dialout: the LAC, the ISDN exchange and the CPEs of every site in this process, answering an
// LNS that dials out (RFC 2661 §7.5.1; JunosE "L2TP Dial-Out"), plus the triggers from `home`.

struct DialoutOptions {
    std::uint16_t port = 1701;          ///< our (the LAC's) UDP port: the LNS's SCCRQ comes here
    std::string sites_file;
    std::string home_netns;
    std::uint16_t trigger_port = 9;
    std::string lns_user = "lns-home", lns_password = "lns-home-pass";
    std::string lac_number = "1701";
    double idle_timeout = 10;
};

/// One site of the sites file: [{"destination","number","name","secret"[,"lac"]}, …]. `lac`: the
/// --bind address of the LAC the LNS dials this site through (its RADIUS Tunnel-Server-Endpoint);
/// absent: the first --bind.
struct SiteSpec {
    std::string destination, number, name, secret, lac;
};

std::vector<SiteSpec> load_sites(const std::string& path) {
    std::ifstream f(path);
    if (!f) throw std::runtime_error("--sites-file: cannot read " + path);
    const auto j = Json::parse(f);
    if (!j.is_array()) throw std::runtime_error("--sites-file: must be a JSON array of sites");
    std::vector<SiteSpec> out;
    for (const auto& e : j)
        out.push_back({e.at("destination").get<std::string>(), e.at("number").get<std::string>(),
                       e.at("name").get<std::string>(), e.at("secret").get<std::string>(), e.value("lac", std::string())});
    return out;
}

/// A UDP socket opened in the network namespace `netns_path` (e.g. /run/netns/<name>): setns()
/// into it, socket(), setns() back. Needs CAP_SYS_ADMIN. std::runtime_error naming the step.
int socket_in_netns(const std::string& netns_path) {
    const int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0) throw std::runtime_error("open /proc/self/ns/net: " + std::string(strerror(errno)));
    const int target = open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (target < 0) {
        close(self);
        throw std::runtime_error("--home-netns " + netns_path + ": " + strerror(errno));
    }
    if (setns(target, CLONE_NEWNET) != 0) {
        close(self);
        close(target);
        throw std::runtime_error("setns(" + netns_path + "): " + strerror(errno));
    }
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int err = errno;
    const bool back = setns(self, CLONE_NEWNET) == 0;
    close(self);
    close(target);
    if (!back) throw std::runtime_error("setns back to our namespace failed");
    if (fd < 0) throw std::runtime_error("socket in " + netns_path + ": " + strerror(err));
    int sz = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    return fd;
}

/// What a dial-out LAC engine reports to the run (its index `g` among the --bind addresses): the
/// per-site timing and the failures, kept by run_dialout for every engine.
struct DialoutHooks {
    std::function<void(std::size_t g, SessionKey, const std::string& called)> ocrq;
    std::function<void(std::size_t g, SessionKey)> established;
    std::function<void(std::size_t g, SessionKey, const l2tp::engine::CallFailure&)> ended;
    std::function<void(const std::string& number)> network_up;
};

/// One LAC engine of the dialout mode and what it needs to itself: its UDP socket (one --bind
/// address, the LNS's SCCRQ arrives there), the RFC 2661 engine in the LAC role with lac-emu's call
/// handling (peers/lac), its own emulated ISDN exchange (peers/isdn) and its own CPE endpoint
/// (peers/cpe) with the sites dialled through this LAC. A LAC's Q.931 call reference is 15 bits
/// (ITU-T Q.931 §4.3), so one LAC, and one exchange endpoint, holds at most 32 767 calls: more
/// sites need more LAC engines (the LNS picks the LAC per site from RADIUS Tunnel-Server-Endpoint,
/// RFC 2868 §3.3). Messages between LAC, exchange and CPEs are posted to the loop, never delivered
/// inside the sender's call (no re-entrancy), as over isdn-emu's socket; B-channel DATA of a
/// connected call goes straight between LAC and CPE (loadgen::BChannelBridge).
struct DialoutLac {
    static constexpr std::size_t kMaxCalls = 32767;
    static constexpr isdn::Exchange::EndpointId kLac = 1, kCpe = 2;
    std::size_t g = 0;
    std::unique_ptr<isdn::Exchange> exchange;
    std::unique_ptr<lac::Lac> lac_core;
    std::unique_ptr<cpe::Cpe> cpes;
    std::unique_ptr<l2tp::engine::Engine> engine;
    loadgen::BChannelBridge bridge;
    std::uint64_t bridged = 0;
    std::vector<std::uint16_t> tunnels;
};

/// Builds LAC engine `g` on `bind` (socket index g of `sock`) for `sites`, and starts it.
/// std::runtime_error when `sites` exceed DialoutLac::kMaxCalls.
std::unique_ptr<DialoutLac> make_dialout_lac(Loop& loop, Sockets& sock, const Common& c, const DialoutOptions& o,
                                             std::size_t g, const std::string& bind,
                                             const std::vector<const SiteSpec*>& sites, DialoutHooks& hooks) {
    if (sites.size() > DialoutLac::kMaxCalls)
        throw std::runtime_error(fmt::format("--sites-file: {} sites on LAC {}: one LAC holds at most {} calls (15-bit "
                                             "Q.931 call reference); spread them over more --bind addresses",
                                             sites.size(), bind, DialoutLac::kMaxCalls));
    auto d = std::make_unique<DialoutLac>();
    DialoutLac* me = d.get();
    me->g = g;
    constexpr auto kLac = DialoutLac::kLac, kCpe = DialoutLac::kCpe;
    auto hand_over = [&loop, me](isdn::Exchange::EndpointId to, std::uint16_t ref, const isdn::Message& m) {
        ++me->bridged;
        boost::asio::post(loop.io, [me, to, d = isdn::Message::data(ref, m.payload)] {
            if (to == kLac) me->lac_core->isdn_receive(d);
            else me->cpes->isdn_receive(d);
        });
    };
    me->exchange = std::make_unique<isdn::Exchange>(
        loop.bus, loop.timers, loop.registry, [&loop, me](isdn::Exchange::EndpointId ep, const isdn::Message& m) {
            if (ep == kLac) me->bridge.to_caller(m);
            else me->bridge.to_callee(m);
            boost::asio::post(loop.io, [me, ep, m] {
                if (ep == kLac) me->lac_core->isdn_receive(m);
                else me->cpes->isdn_receive(m);
            });
        });
    lac::LacConfig lc;
    lc.number = o.lac_number;
    lc.channels = static_cast<std::uint16_t>(std::min<std::size_t>(65535, sites.size() + 10));
    lc.incoming = false;
    me->lac_core = std::make_unique<lac::Lac>(loop.timers, loop.registry, loop.bus, lc,
                                              [&loop, me, hand_over](const isdn::Message& m) {
                                                  if (m.type == isdn::MessageType::data) {
                                                      if (auto to = me->bridge.callee_of(m.call_ref))
                                                          return hand_over(kCpe, *to, m);
                                                  } else {
                                                      me->bridge.from_caller(m);
                                                  }
                                                  boost::asio::post(loop.io, [me, m] { me->exchange->receive(kLac, m); });
                                              });
    me->cpes = std::make_unique<cpe::Cpe>(loop.timers, loop.registry, loop.bus,
                                          [&loop, me, hand_over](const isdn::Message& m) {
                                              if (m.type == isdn::MessageType::data) {
                                                  if (auto to = me->bridge.caller_of(m.call_ref))
                                                      return hand_over(kLac, *to, m);
                                              } else {
                                                  me->bridge.from_callee(m);
                                              }
                                              boost::asio::post(loop.io, [me, m] { me->exchange->receive(kCpe, m); });
                                          });
    for (const auto* s : sites) {
        cpe::SiteConfig sc;
        sc.number = s->number;
        sc.name = s->name;
        sc.secret = s->secret;
        sc.require_auth = ppp::engine::AuthPreference::chap;  // mutual CHAP: the LNS's ERX-PPP-Username
        sc.users[o.lns_user] = o.lns_password;
        me->cpes->add_site(std::move(sc));
    }
    me->cpes->set_network_up_hook([&hooks](const std::string& number) { hooks.network_up(number); });

    l2tp::engine::EngineConfig ec;
    ec.host_name = c.hostname;
    ec.secret = c.secret;
    ec.hide_avps = c.hide_avps && !c.secret.empty();
    ec.receive_window = c.receive_window;
    auto cb = me->lac_core->callbacks([&sock, g](PeerId p, std::vector<std::uint8_t> b) {
        sock.count_sent(b);
        sock.send(g, p, std::move(b));
    });
    cb.ocrq = [&hooks, g, inner = cb.ocrq](SessionKey k, const l2tp::engine::OutgoingCall& oc) {
        hooks.ocrq(g, k, oc.called_number);
        inner(k, oc);
    };
    cb.session_changed = [&hooks, g](const l2tp::engine::SessionChange& ch) {
        if (ch.permitted && ch.to == l2tp::engine::SessionState::established) hooks.established(g, ch.key);
    };
    cb.call_ended = [&hooks, g, inner = cb.call_ended](SessionKey k, const l2tp::engine::CallFailure& f) {
        hooks.ended(g, k, f);
        inner(k, f);
    };
    cb.tunnel_up = [me](std::uint16_t tid, PeerId) { me->tunnels.push_back(tid); };
    me->engine = std::make_unique<l2tp::engine::Engine>(loop.timers, loop.registry, loop.bus, ec, std::move(cb));
    me->lac_core->bind(*me->engine);
    sock.udp.push_back(std::make_unique<loadgen::BatchUdp>(
        loop.io, parse_ipv4(bind, "--bind").value, o.port,
        [&sock, me](std::uint32_t a, std::uint16_t port, std::span<const std::uint8_t> b) {
            sock.count_received(b);
            me->engine->receive(lnsd::peer_id({a}, port), b);
        }));
    sock.out.push_back(std::make_unique<loadgen::SendBatch>(loop.io, sock.udp.back()->native_handle()));
    me->exchange->attach(kLac, "lac");
    me->exchange->attach(kCpe, "cpes");
    me->lac_core->start();
    me->cpes->start();
    return d;
}

/// Runs the dialout mode. Per site: trigger sent (a datagram to its destination from `home`) →
/// OCRQ received (lnsd's home RADIUS stage) → OCCN sent (L2TP: OCRP, the exchange's SETUP …
/// CONNECT) → IPCP Opened at the CPE (PPP: LCP, CHAP both ways with lnsd's LNS RADIUS, IPCP).
int run_dialout(const Common& c, const DialoutOptions& o) {
    const auto specs = load_sites(o.sites_file);
    const std::size_t n = specs.size();
    if (n == 0) throw std::runtime_error("--sites-file: no sites");
    int trigger_fd = o.home_netns.empty() ? -1 : socket_in_netns(o.home_netns);

    Loop loop;
    Sockets sock;
    struct SiteRun {
        std::int64_t trigger = 0, ocrq = 0, occn = 0, up = 0;
        unsigned calls = 0, failures = 0;
    };
    std::vector<SiteRun> runs(n);
    std::unordered_map<std::string, std::size_t> by_number;
    for (std::size_t i = 0; i < n; ++i)
        if (!by_number.emplace(specs[i].number, i).second)
            throw std::runtime_error("--sites-file: number " + specs[i].number + " is listed twice");
    std::unordered_map<std::uint64_t, std::size_t> by_key;  // engine << 32 | tunnel << 16 | session -> site
    std::map<std::string, std::uint64_t> failures;
    std::uint64_t wrong_number = 0, trigger_errors = 0;
    std::size_t triggered = 0, up = 0;
    loadgen::LatencySamples total_ms, radius_ms, l2tp_ms, ppp_ms;
    std::int64_t last_progress = now_ns(), last_up = 0;
    auto pack = [](std::size_t g, SessionKey k) {
        return (std::uint64_t{g} << 32) | (std::uint64_t{k.tunnel} << 16) | k.session;
    };
    std::function<void()> check_done;  // set below: the end of the set-up phase

    DialoutHooks hooks;
    hooks.network_up = [&](const std::string& number) {
        auto it = by_number.find(number);
        if (it == by_number.end()) return;
        auto& r = runs[it->second];
        if (r.up) return;
        r.up = last_progress = last_up = now_ns();
        ++up;
        if (r.trigger) total_ms.add(ms_between(r.trigger, r.up));
        if (r.occn) ppp_ms.add(ms_between(r.occn, r.up));
        if (up == n) boost::asio::post(loop.io, [&] { check_done(); });
    };
    hooks.ocrq = [&](std::size_t g, SessionKey k, const std::string& called) {
        if (auto it = by_number.find(called); it != by_number.end()) {
            auto& r = runs[it->second];
            by_key[pack(g, k)] = it->second;
            ++r.calls;
            r.ocrq = last_progress = now_ns();
            if (r.trigger && r.calls == 1) radius_ms.add(ms_between(r.trigger, r.ocrq));
        } else {
            ++wrong_number;  // the exchange refuses it (unallocated number, Q.850 cause 1)
        }
    };
    hooks.established = [&](std::size_t g, SessionKey k) {
        auto it = by_key.find(pack(g, k));
        if (it == by_key.end()) return;
        auto& r = runs[it->second];
        r.occn = now_ns();
        if (r.ocrq) l2tp_ms.add(ms_between(r.ocrq, r.occn));
    };
    hooks.ended = [&](std::size_t g, SessionKey k, const l2tp::engine::CallFailure& f) {
        if (auto it = by_key.find(pack(g, k)); it != by_key.end()) {
            auto& r = runs[it->second];
            if (!r.up) {
                ++r.failures;
                ++failures[failure_key(f)];
                last_progress = now_ns();
            }
            by_key.erase(it);
        }
    };
    // One LAC engine per --bind address, each with the sites dialled through it.
    std::vector<std::vector<const SiteSpec*>> per_lac(c.binds.size());
    for (const auto& s : specs) {
        std::size_t g = 0;
        if (!s.lac.empty()) {
            const auto it = std::find(c.binds.begin(), c.binds.end(), s.lac);
            if (it == c.binds.end())
                throw std::runtime_error("--sites-file: site " + s.number + " is on LAC " + s.lac + ", not a --bind address");
            g = static_cast<std::size_t>(it - c.binds.begin());
        }
        per_lac[g].push_back(&s);
    }
    std::vector<std::unique_ptr<DialoutLac>> lacs;
    for (std::size_t g = 0; g < c.binds.size(); ++g)
        lacs.push_back(make_dialout_lac(loop, sock, c, o, g, c.binds[g], per_lac[g], hooks));

    std::vector<sockaddr_in> dests(n);
    for (std::size_t i = 0; i < n; ++i) {
        dests[i].sin_family = AF_INET;
        dests[i].sin_port = htons(o.trigger_port);
        if (inet_pton(AF_INET, specs[i].destination.c_str(), &dests[i].sin_addr) != 1)
            throw std::runtime_error("--sites-file: destination '" + specs[i].destination + "' is not IPv4");
    }
    static constexpr char kPayload[] = "dl_loadgen trigger";
    loadgen::TriggerSender triggers(trigger_fd, dests, std::string_view(kPayload, sizeof kPayload - 1));

    LnsUsage lns_usage{c};
    Ending end{loop, c,
                [&] {
                    for (auto& l : lacs)
                        for (auto tid : l->tunnels) l->engine->close_tunnel(tid);
                },
                [&] {
                    for (auto& l : lacs)
                        for (auto tid : l->tunnels)
                            if (auto* ch = l->engine->channel(tid); ch && !ch->idle()) return true;
                    return false;
                }};
    bool idle_hit = false;
    std::int64_t t0 = 0;
    double cpu0 = 0, cpu_setup = -1, setup_s = 0;
    std::function<void()> pace = [&] {
        const double el = ms_between(t0, now_ns()) / 1e3;
        const std::size_t k = loadgen::due_now(el, c.rate, triggered, triggered - up, c.window, n);
        // every trigger due now leaves in one sendmmsg (the pace timer wakes at most once per ms:
        // next_due), stamped with the time just before it
        const std::int64_t sent_at = now_ns();
        for (std::size_t i = 0; i < k; ++i) runs[triggered + i].trigger = sent_at;
        if (k && trigger_fd >= 0) trigger_errors += triggers.send(triggered, k);
        triggered += k;
        if (triggered < n) loop.timers.arm_at(next_due(loop.timers, c.rate, t0, triggered), pace);
    };
    std::size_t last_n = 0;
    std::function<void()> progress = [&] {
        if (end.finished) return;
        if (!c.quiet)
            std::fprintf(stderr, "[%6.1fs] inService %zu/%zu triggered %zu failures %zu rate %zu/s p50 %.2f ms\n",
                         ms_between(t0, now_ns()) / 1e3, up, n, triggered,
                         [&] { std::size_t s = 0; for (auto& [k, v] : failures) s += v; return s; }(), up - last_n,
                         total_ms.percentile(50).value_or(0.0));
        last_n = up;
        loop.timers.arm(1s, progress);
    };
    bool done_handled = false;
    check_done = [&] {
        if (done_handled) return;
        const bool all = up == n;
        const bool idle = triggered == n && ms_between(last_progress, now_ns()) / 1e3 > o.idle_timeout;
        if (!all && !idle) {
            loop.timers.arm(100ms, check_done);
            return;
        }
        done_handled = true;
        idle_hit = !all;
        setup_s = last_up ? ms_between(t0, last_up) / 1e3 : 0;
        cpu_setup = loadgen::self_cpu_s() - cpu0;
        lns_usage.stop();
        // Always printed (also with --quiet): a bench waits for this line to measure the LNS while
        // every site is held in service (--hold).
        std::fprintf(stderr, "dialout: set-up done: %zu/%zu inService in %.3f s; holding %.0f s\n", up, n, setup_s, c.hold);
        std::fflush(stderr);
        end.after_setup();
    };
    end.arm_deadline();
    // Let the exchange registrations settle (posted messages), then start.
    boost::asio::post(loop.io, [&] {
        boost::asio::post(loop.io, [&] {
            lns_usage.start();
            cpu0 = loadgen::self_cpu_s();
            t0 = last_progress = now_ns();
            pace();
            loop.timers.arm(1s, progress);
            check_done();
        });
    });
    loop.io.run();
    if (trigger_fd >= 0) close(trigger_fd);
    if (!lns_usage.stopped) lns_usage.stop();
    if (cpu_setup < 0) cpu_setup = loadgen::self_cpu_s() - cpu0;

    std::uint64_t retransmitted = 0, bridged = 0;
    std::size_t tunnels = 0;
    isdn::Exchange::Counters xc{};
    lac::Lac::Counters lcn{};
    for (const auto& l : lacs) {
        for (auto tid : l->tunnels)
            if (auto* ch = l->engine->channel(tid)) retransmitted += ch->stats().retransmitted;
        tunnels += l->tunnels.size();
        bridged += l->bridged;
        const auto& x = l->exchange->counters();
        xc.setups += x.setups;
        xc.connected += x.connected;
        xc.refused += x.refused;
        xc.released += x.released;
        xc.data_relayed += x.data_relayed;
        const auto& k = l->lac_core->counters();
        lcn.ocrq += k.ocrq;
        lcn.connected += k.connected;
        lcn.failed += k.failed;
        lcn.cleared_by_lns += k.cleared_by_lns;
        lcn.refused_capacity += k.refused_capacity;
    }
    std::size_t failed_sites = 0, calls = 0;
    for (const auto& r : runs) {
        calls += r.calls;
        if (!r.up && r.failures) ++failed_sites;
    }
    // Latency over the run, by when the trigger left (100 ms intervals from the first): a stall
    // of lnsd, a RADIUS server or the generator shows as one interval's tail, not as the whole
    // run's p99 (BNG Blaster reports per interval likewise).
    Json by_interval = Json::array();
    {
        constexpr double kIntervalMs = 100;
        std::vector<loadgen::LatencySamples> buckets;
        for (const auto& r : runs) {
            if (!r.trigger || !r.up) continue;
            const auto b = static_cast<std::size_t>(std::max(0.0, ms_between(t0, r.trigger)) / kIntervalMs);
            if (b >= buckets.size()) buckets.resize(b + 1);
            buckets[b].add(ms_between(r.trigger, r.up));
        }
        for (std::size_t b = 0; b < buckets.size(); ++b) {
            Json row = buckets[b].summary();
            row["from_ms"] = static_cast<double>(b) * kIntervalMs;
            by_interval.push_back(std::move(row));
        }
    }
    Json j{{"mode", "dialout"},
           {"config", {{"bind", c.binds}, {"lacs", c.binds.size()}, {"port", o.port}, {"sites", n}, {"rate", c.rate}, {"window", c.window},
                       {"hold_s", c.hold}, {"receive_window", c.receive_window}, {"secret", !c.secret.empty()},
                       {"home_netns", o.home_netns}}},
           {"sites", n},
           {"triggered", triggered},
           {"in_service", up},
           {"failed_sites", failed_sites},
           {"not_finished", n - up - failed_sites},
           {"calls", calls},
           {"complete", up == n},
           {"deadline_hit", end.deadline_hit},
           {"idle_timeout_hit", idle_hit},
           {"failures", failures},
           {"wrong_number", wrong_number},
           {"trigger_errors", trigger_errors},
           {"trigger_sendmmsg_calls", triggers.calls()},
           {"setup_s", setup_s},
           {"calls_per_s", setup_s > 0 ? static_cast<double>(up) / setup_s : 0.0},
           {"latency_ms", {{"total", total_ms.summary()}, {"radius", radius_ms.summary()}, {"l2tp", l2tp_ms.summary()},
                           {"ppp", ppp_ms.summary()}}},
           {"latency_ms_by_interval", std::move(by_interval)},
           {"teardown_s", end.teardown_s},
           {"tunnels", tunnels},
           {"messages", {{"sent", sock.sent.to_json()}, {"received", sock.received.to_json()},
                         {"retransmitted", retransmitted}, {"io", sock.io_json()}}},
           {"lac", {{"ocrq", lcn.ocrq}, {"connected", lcn.connected}, {"failed", lcn.failed},
                    {"cleared_by_lns", lcn.cleared_by_lns}, {"refused_capacity", lcn.refused_capacity}}},
           {"exchange", {{"setups", xc.setups}, {"connected", xc.connected}, {"refused", xc.refused},
                         {"released", xc.released}, {"data_relayed", xc.data_relayed},
                         {"data_bridged", bridged}}},
           {"loadgen", {{"cpu_s", cpu_setup},
                        {"cpu_ms_per_call", up ? cpu_setup * 1e3 / static_cast<double>(up) : 0.0},
                        {"rss_kib", loadgen::read_proc(static_cast<int>(getpid())).value_or(loadgen::ProcUsage{}).rss_kib}}},
           {"lns", lns_usage.to_json(up)},
           {"watched", lns_usage.watched_json(up)}};
    write_json(c.json_path, j);
    if (!c.quiet)
        std::fprintf(stderr, "dialout: %zu/%zu sites inService in %.3f s (%.0f/s), failed %zu, p50 %.2f ms p99 %.2f ms, "
                             "loadgen %.3f ms CPU per call%s\n",
                     up, n, setup_s, setup_s > 0 ? static_cast<double>(up) / setup_s : 0.0, failed_sites,
                     total_ms.percentile(50).value_or(0.0), total_ms.percentile(99).value_or(0.0),
                     up ? cpu_setup * 1e3 / static_cast<double>(up) : 0.0, end.deadline_hit ? " (DEADLINE)" : "");
    return up == n && !end.deadline_hit ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"dl_loadgen: load generator for an L2TP LNS (RFC 2661) on the project's engines"};
    app.require_subcommand(1);
    Common c;
    auto add_common = [&c](CLI::App* s) {
        s->add_option("--bind", c.binds, "local IPv4 address (incoming, several: tunnels spread over them; dialout, "
                                         "several: one LAC engine each, at most 32767 calls per LAC)");
        s->add_option("--hostname", c.hostname, "Host Name AVP (RFC 2661 §4.4.3)")->capture_default_str();
        s->add_option("--secret", c.secret, "tunnel secret (Challenge, §5.1.1); empty = none");
        s->add_flag("--hide-avps", c.hide_avps, "hide session AVPs (§4.3), with --secret");
        s->add_option("--receive-window", c.receive_window, "advertised Receive Window Size (§5.8)")
            ->check(CLI::Range(1, 1024))->capture_default_str();
        s->add_option("--rate", c.rate, "new calls per second, paced; 0 = as fast as --window allows")
            ->check(CLI::NonNegativeNumber)->capture_default_str();
        s->add_option("--window", c.window, "set-ups in flight at most (0 = unbounded)")->capture_default_str();
        s->add_option("--hold", c.hold, "seconds to keep everything up (answering Hellos) before tearing down")
            ->check(CLI::NonNegativeNumber);
        s->add_option("--deadline", c.deadline, "hard bound on the run, seconds: the program exits by then")
            ->check(CLI::PositiveNumber)->capture_default_str();
        s->add_option("--json", c.json_path, "write the JSON result here ('-' = stdout)");
        s->add_option("--lns-pid,--lnsd-pid", c.lns_pid, "the LNS's process id: its CPU and RSS from /proc, before/after");
        s->add_option("--watch-pid", c.watch_pid_args,
                      "NAME=PID (repeatable): another process (e.g. a RADIUS server) whose CPU and RSS over the "
                      "set-up phase the JSON reports under \"watched\".NAME, like the LNS's")
            ->check(CLI::Validator(
                [](std::string& x) {
                    try {
                        loadgen::parse_watch_pid(x);
                        return std::string{};
                    } catch (const std::invalid_argument& e) {
                        return std::string{e.what()};
                    }
                },
                "NAME=PID"));
        s->add_flag("--quiet", c.quiet, "no progress line");
    };
    IncomingOptions io;
    auto* inc = app.add_subcommand("incoming", "a LAC placing incoming calls (SCCRQ..SCCCN, ICRQ..ICCN) at an LNS");
    add_common(inc);
    inc->add_option("--lns", io.lns, "the LNS's IPv4 address")->capture_default_str();
    inc->add_option("--port", io.port, "the LNS's UDP port")->capture_default_str();
    inc->add_option("--tunnels", io.tunnels, "tunnels")->check(CLI::Range(1, 65535))->capture_default_str();
    inc->add_option("--sessions-per-tunnel", io.sessions_per_tunnel,
                    "sessions per tunnel (0 = tunnels only: --rate counts tunnels)")
        ->check(CLI::Range(0, 65535))->capture_default_str();
    inc->add_option("--engines", io.engines, "LAC engines, one UDP socket each (ephemeral port, --bind addresses in "
                                             "turn); tunnels are spread over them, calls go round-robin")
        ->check(CLI::Range(1, 4096))->capture_default_str();
    inc->add_option("--ppp", io.ppp, "PPP over each session: none, or chap (the CPE side runs LCP, CHAP with the "
                                     "LNS, IPCP; a session is up at IPCP Opened)")
        ->check(CLI::IsMember({"none", "chap"}))->capture_default_str();
    inc->add_option("--users-file", io.users_file, "--ppp chap: JSON array of {name, secret}, session k uses entry "
                                                   "k mod N (a dialout --sites-file fits)");
    DialoutOptions dop;
    auto* dial = app.add_subcommand("dialout", "the LAC, ISDN exchange and CPEs of many sites answering an LNS's dial-outs");
    add_common(dial);
    dial->add_option("--port", dop.port, "our UDP port (the LAC's; the LNS's SCCRQ comes here)")->capture_default_str();
    dial->add_option("--sites-file", dop.sites_file, "JSON array of sites: {destination, number, name, secret}")->required();
    dial->add_option("--home-netns", dop.home_netns, "network namespace (e.g. /run/netns/NAME) to send the triggers from; "
                                                     "none: no triggers (the LNS is triggered otherwise)");
    dial->add_option("--trigger-port", dop.trigger_port, "UDP port of the trigger datagrams")->capture_default_str();
    dial->add_option("--lns-user", dop.lns_user, "CHAP name the CPEs expect of the LNS (ERX-PPP-Username)")->capture_default_str();
    dial->add_option("--lns-password", dop.lns_password, "its secret (ERX-PPP-Password)")->capture_default_str();
    dial->add_option("--lac-number", dop.lac_number, "the LAC's ISDN number (Calling Party Number)")->capture_default_str();
    dial->add_option("--idle-timeout", dop.idle_timeout, "after every trigger, stop when nothing progressed for this long, s")
        ->check(CLI::PositiveNumber)->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    for (const auto& w : c.watch_pid_args) c.watch_pids.push_back(loadgen::parse_watch_pid(w));
    try {
        if (inc->parsed()) {
            if (c.binds.empty()) c.binds = {"0.0.0.0"};
            return run_incoming(c, io);
        }
        if (dial->parsed()) {
            if (c.binds.empty()) throw CLI::ValidationError("--bind", "dialout needs the LAC's address");
            return run_dialout(c, dop);
        }
    } catch (const CLI::Error& e) {
        return app.exit(e);
    } catch (const std::exception& e) {
        std::cerr << "dl_loadgen: " << e.what() << "\n";
        return 2;
    }
    return 2;
}
