// lnsd load benchmark: a load generator (LAC-role engine) and the Lns core, each behind its own UDP
// socket on 127.0.0.1, in one Asio loop. Reports tunnels/s (SCCRQ..SCCCN), sessions/s
// (ICRQ..ICCN) and resident memory per session (VmRSS before / after). Bounded in count and time.
#include <benchmark/benchmark.h>

#include <boost/asio/io_context.hpp>
#include <fstream>
#include <set>
#include <string>

#include "dl/core/asio_driver.hpp"
#include "dl/lnsd/lns.hpp"
#include "dl/lnsd/udp.hpp"

using namespace dl;
using namespace std::chrono_literals;

namespace {

long vm_rss_kib() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return 0;
}

struct Rig {
    boost::asio::io_context io;
    core::SystemClock clock;
    core::TimerQueue timers{clock};
    core::AsioTimerDriver driver{io, timers};
    core::TimerRegistry registry;
    core::EventBus bus{clock}, lac_bus{clock};
    std::unique_ptr<lnsd::UdpEndpoint> lns_udp;
    std::unique_ptr<lnsd::Lns> lns;
    /// The load generator: `generators` LAC-role engines, each behind its own socket.
    struct Gen {
        std::unique_ptr<lnsd::UdpEndpoint> udp;
        std::unique_ptr<l2tp::engine::Engine> lac;
    };
    std::vector<Gen> gens;
    std::size_t ups = 0, connects = 0;
    lnsd::PeerId lns_peer = 0;

    explicit Rig(std::size_t generators = 1) {
        core::register_well_known_timers(registry);
        l2tp::engine::register_l2tp_timers(registry);
        const auto lo = *core::Ipv4Address::parse("127.0.0.1");
        lnsd::LnsdConfig cfg;
        cfg.local_address = lo;
        cfg.receive_window = 64;
        cfg.accept_unknown_peers = true;  // the generators are not listed under peers:
        // One generator address opens every tunnel and pushes calls faster than their ICCNs come
        // back: the hostile-network bounds (docs/lnsd.md "Limits") are lifted, 0 = no limit.
        cfg.limits.max_tunnels = cfg.limits.max_tunnels_per_peer = 0;
        cfg.limits.max_tunnels_setup = cfg.limits.max_tunnels_setup_per_peer = 0;
        cfg.limits.sccrq_rate = 0;
        cfg.limits.max_sessions_setup_per_tunnel = 0;
        lns = std::make_unique<lnsd::Lns>(timers, registry, bus, cfg,
                                          [this](lnsd::PeerId p, std::vector<std::uint8_t> b) { lns_udp->send(p, b); });
        lns_udp = std::make_unique<lnsd::UdpEndpoint>(io, lo, 0, [this](lnsd::PeerId p, std::span<const std::uint8_t> b) {
            lns->receive(p, b);
        });
        gens.resize(generators);
        std::set<std::uint16_t> ports{lns_udp->local_port()};
        for (auto& g : gens) {
            l2tp::engine::EngineConfig lc;
            lc.host_name = "loadgen";
            lc.receive_window = 64;
            l2tp::engine::EngineCallbacks cb;
            cb.send = [&g](lnsd::PeerId p, std::vector<std::uint8_t> b) { g.udp->send(p, b); };
            cb.tunnel_up = [this](std::uint16_t, lnsd::PeerId) { ++ups; };
            cb.connected = [this](l2tp::engine::SessionKey, const l2tp::engine::ConnectInfo&) { ++connects; };
            g.lac = std::make_unique<l2tp::engine::Engine>(timers, registry, lac_bus, lc, cb);
            // UdpEndpoint sets SO_REUSEADDR, with which Linux may give two sockets bound to port 0 the
            // same ephemeral port (datagrams for one generator then reach another: a tunnel that
            // never comes up). Re-bind until the port is one nobody in the rig uses.
            for (;;) {
                g.udp = std::make_unique<lnsd::UdpEndpoint>(io, lo, 0, [&g](lnsd::PeerId p, std::span<const std::uint8_t> b) {
                    g.lac->receive(p, b);
                });
                if (ports.insert(g.udp->local_port()).second) break;
                g.udp->close();
            }
        }
        lns_peer = lnsd::peer_id(lo, lns_udp->local_port());
    }
    void close() {
        lns_udp->close();
        for (auto& g : gens) g.udp->close();
    }
    /// Runs the loop until pred() or 30 s; false on time-out.
    template <class P>
    bool run_until(P pred) {
        const auto deadline = std::chrono::steady_clock::now() + 30s;
        while (!pred()) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            io.run_one_for(50ms);
        }
        return true;
    }
};

// Opens `range(0)` tunnels at once (the load generator paces by its own window only).
void BM_TunnelSetup(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    std::size_t total = 0;
    for (auto _ : state) {
        state.PauseTiming();
        Rig rig;
        state.ResumeTiming();
        // The generator keeps at most kWindow set-ups in flight (as a real LAC would pace).
        constexpr std::size_t kWindow = 512;
        std::size_t opened = 0;
        bool ok = rig.run_until([&] {
            while (opened < n && opened - rig.ups < kWindow) {
                rig.gens[0].lac->open_tunnel(rig.lns_peer);
                ++opened;
            }
            return rig.ups >= n;
        });
        if (!ok) {
            state.SkipWithError("tunnels did not come up in 30 s");
            break;
        }
        total += rig.ups;
        state.PauseTiming();
        rig.close();
        state.ResumeTiming();
    }
    state.counters["tunnels/s"] = benchmark::Counter(static_cast<double>(total), benchmark::Counter::kIsRate);
    state.counters["lnsd_record_B/tunnel"] = static_cast<double>(lnsd::Lns::sizeof_tunnel_record());
    state.counters["engine_B/tunnel"] = static_cast<double>(l2tp::engine::Engine::sizeof_tunnel());
}
BENCHMARK(BM_TunnelSetup)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

// `range(0)` incoming calls spread over `range(1)` tunnels (one per load-generator socket); also resident memory per session in the whole process
// (both sides: it over-states lnsd's share).
void BM_SessionSetup(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    std::size_t total = 0;
    double kib_per_session = 0;
    for (auto _ : state) {
        state.PauseTiming();
        Rig rig(static_cast<std::size_t>(state.range(1)));
        for (auto& g : rig.gens) g.lac->open_tunnel(rig.lns_peer);
        if (!rig.run_until([&] { return rig.ups >= rig.gens.size(); })) {
            state.SkipWithError("tunnels did not come up");
            break;
        }
        const long before = vm_rss_kib();
        state.ResumeTiming();
        l2tp::engine::IncomingCall ic;
        for (std::size_t i = 0; i < n; ++i) {
            ic.call_serial_number = static_cast<std::uint32_t>(i);
            rig.gens[i % rig.gens.size()].lac->place_incoming_call(rig.lns_peer, ic);
        }
        if (!rig.run_until([&] { return rig.connects >= n; })) {
            state.SkipWithError("sessions did not come up in 30 s");
            break;
        }
        state.PauseTiming();
        kib_per_session = static_cast<double>(vm_rss_kib() - before) / static_cast<double>(n);
        total += rig.lns->session_count();
        rig.close();
        state.ResumeTiming();
    }
    state.counters["sessions/s"] = benchmark::Counter(static_cast<double>(total), benchmark::Counter::kIsRate);
    state.counters["RSS_KiB/session(both sides)"] = kib_per_session;
    state.counters["lnsd_record_B/session"] = static_cast<double>(lnsd::Lns::sizeof_session_record());
    state.counters["engine_B/session"] = static_cast<double>(l2tp::engine::Engine::sizeof_session());
}
// {65535, 1}: one tunnel at its 65 535-session limit (RFC 2661 §5.4): the per-call cost must not grow
// with the tunnel's session count (O(1) Session ID allocation and lookup in the engine).
BENCHMARK(BM_SessionSetup)->Args({10000, 1})->Args({10000, 100})->Args({100000, 100})->Args({65535, 1})->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();

}  // namespace
