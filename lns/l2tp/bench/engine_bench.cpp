// Back-to-back LNS ↔ LAC engines in virtual time: tunnels/s and sessions/s (RFC 2661 §7.2, §7.5).
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "dl/l2tp/engine/engine.hpp"

using namespace dl::l2tp;
using namespace dl::l2tp::engine;
using namespace std::chrono_literals;

namespace {

struct Pair {
    dl::core::VirtualTimeLoop loop;
    dl::core::EventBus bus{loop.clock()};
    dl::core::TimerRegistry registry;
    std::unique_ptr<Engine> lns, lac;
    std::size_t connected = 0;
    Pair() {
        EngineConfig a, b;
        a.seed = 1;
        b.seed = 2;
        EngineCallbacks ca, cb;
        // Each engine stands for many peers: PeerId = index of the tunnel pair.
        ca.send = [this](PeerId p, std::vector<std::uint8_t> d) {
            loop.timers().arm(1ms, [this, p, d = std::move(d)] { lac->receive(p, d); });
        };
        cb.send = [this](PeerId p, std::vector<std::uint8_t> d) {
            loop.timers().arm(1ms, [this, p, d = std::move(d)] { lns->receive(p, d); });
        };
        cb.ocrq = [this](SessionKey k, const OutgoingCall&) {
            lac->accept(k);
            lac->call_connected(k, 64000, kFramingSync);
        };
        ca.connected = [this](SessionKey, const ConnectInfo&) { ++connected; };
        lns = std::make_unique<Engine>(loop.timers(), registry, bus, a, ca);
        lac = std::make_unique<Engine>(loop.timers(), registry, bus, b, cb);
    }
};

void BM_TunnelWithOutgoingCall(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    for (auto _ : state) {
        Pair p;
        OutgoingCall c;
        c.called_number = "5551234";
        for (std::size_t i = 0; i < n; ++i) p.lns->place_outgoing_call(static_cast<PeerId>(i + 1), c);
        p.loop.advance(1s);
        if (p.connected != n) state.SkipWithError("not all calls connected");
        benchmark::DoNotOptimize(p.connected);
    }
    state.counters["tunnels/s"] = benchmark::Counter(static_cast<double>(n * state.iterations()), benchmark::Counter::kIsRate);
    state.counters["sizeof_tunnel"] = static_cast<double>(Engine::sizeof_tunnel());
    state.counters["sizeof_session"] = static_cast<double>(Engine::sizeof_session());
}
BENCHMARK(BM_TunnelWithOutgoingCall)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace
