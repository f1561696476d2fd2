// Google Benchmark: triggers per second through the manager to connecting with an immediate AAA
// grant (authorize() answers grant() synchronously), and the per-session footprint.
#include <benchmark/benchmark.h>

#include <vector>

#include <nlohmann/json.hpp>

#include "dl/core/event.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/dialout/manager.hpp"
#include "dl/radius/client/builders.hpp"

using namespace dl::dialout;

// A trigger to a new destination, through authorize → grant (synchronous) → place_call: each
// iteration creates one session and leaves it connecting. The limits that would turn this into a
// discard bench are set out of reach (virtual time never advances here, so the trigger budget
// would refill never, and the session caps would inhibit the target after 1000): trigger budget,
// session caps and connecting maximum ≥ the iterations. Items: sessions placed (calls); the run
// is reported as an error if any trigger was not placed.
static void BM_TriggerToConnecting(benchmark::State& state) {
    dl::core::VirtualTimeLoop loop;
    dl::core::EventBus bus(loop.clock());
    dl::core::TimerRegistry reg;
    dl::radius::client::DialOutDefinition def;
    def.service_type = 5;
    def.tunnels.push_back({1, 3, 1, "192.0.2.1", {}, {}, {}, {}, {}, {}});
    def.dial_out_number = "123";
    Manager* mp = nullptr;
    std::uint64_t calls = 0;
    Ports p;
    p.authorize = [&](const SessionKey& k, const std::string&) { mp->grant(k, def); };
    p.place_call = [&](const SessionKey&, const dl::radius::client::DialOutDefinition&, const Profile&) { ++calls; };
    ChassisConfig c;
    c.max_connecting_sessions = 1'000'000;
    c.max_sessions_per_target = 1'000'000;
    c.max_sessions_per_virtual_router = 1'000'000;
    c.trigger_rate = 1'000'000;
    c.trigger_burst = 1'000'000;
    Manager m(bus, loop.timers(), reg, p, c);
    mp = &m;
    m.set_profile({"p"});
    m.add_target({"default", *dl::core::Ipv4Prefix::parse("10.0.0.0/8"), "dial.example", "p", "0.0.0.0:65000"});
    m.vr_operational("default", true);
    std::vector<std::uint8_t> pkt(40, 0);
    pkt[0] = 0x45;
    std::uint32_t host = 1;
    for (auto _ : state) {
        const std::uint32_t d = 0x0A000000u | (host++ & 0x00FFFFFFu);
        pkt[16] = std::uint8_t(d >> 24), pkt[17] = std::uint8_t(d >> 16), pkt[18] = std::uint8_t(d >> 8), pkt[19] = std::uint8_t(d);
        benchmark::DoNotOptimize(m.trigger("default", pkt));
    }
    const auto t = m.show_targets()[0];
    const auto discarded = t["counters"]["triggers_discarded"].get<std::uint64_t>();
    state.SetItemsProcessed(static_cast<std::int64_t>(calls));
    state.counters["calls"] = static_cast<double>(calls);
    state.counters["discarded"] = static_cast<double>(discarded);
    state.counters["session_bytes"] = static_cast<double>(Manager::session_footprint());
    if (calls != static_cast<std::uint64_t>(state.iterations()) || discarded != 0)
        state.SkipWithError("not every trigger reached connecting: the figure would measure discards");
}
BENCHMARK(BM_TriggerToConnecting)->Iterations(200000);

static void BM_TriggerDiscardedInConnecting(benchmark::State& state) {
    dl::core::VirtualTimeLoop loop;
    dl::core::EventBus bus(loop.clock());
    dl::core::TimerRegistry reg;
    Manager m(bus, loop.timers(), reg, {});
    m.set_profile({"p"});
    m.add_target({"default", *dl::core::Ipv4Prefix::parse("10.0.0.0/8"), "d", "p", ""});
    m.vr_operational("default", true);
    std::vector<std::uint8_t> pkt(40, 0);
    pkt[0] = 0x45;
    pkt[16] = 10, pkt[19] = 1;
    m.trigger("default", pkt);
    dl::radius::client::DialOutDefinition def;
    def.service_type = 5;
    def.tunnels.push_back({1, 3, 1, "192.0.2.1", {}, {}, {}, {}, {}, {}});
    m.grant({"default", *dl::core::Ipv4Prefix::parse("10.0.0.0/8"), {0x0A000001}}, def);
    for (auto _ : state) benchmark::DoNotOptimize(m.trigger("default", pkt));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TriggerDiscardedInConnecting);

// A target at max-sessions-per-target (1000) whose sessions are all dormant: each trigger to a new
// destination evicts the oldest dormant session and starts one (authenticating); the new session is
// then reset to dormant, so every iteration evicts. Items: triggers served by an eviction.
static void BM_TriggerEvictsOldestDormantAtTheCap(benchmark::State& state) {
    dl::core::VirtualTimeLoop loop;
    dl::core::EventBus bus(loop.clock());
    dl::core::TimerRegistry reg;
    ChassisConfig c;
    c.max_connecting_sessions = 1'000'000;
    c.trigger_rate = 1'000'000;
    c.trigger_burst = 1'000'000;
    Manager m(bus, loop.timers(), reg, {}, c);
    const auto net = *dl::core::Ipv4Prefix::parse("10.0.0.0/8");
    m.set_profile({"p"});
    m.add_target({"default", net, "d", "p", ""});
    m.vr_operational("default", true);
    std::vector<std::uint8_t> pkt(40, 0);
    pkt[0] = 0x45;
    std::uint32_t host = 1;
    auto trigger_and_reset = [&] {
        const std::uint32_t d = 0x0A000000u | (host++ & 0x00FFFFFFu);
        pkt[16] = std::uint8_t(d >> 24), pkt[17] = std::uint8_t(d >> 16), pkt[18] = std::uint8_t(d >> 8), pkt[19] = std::uint8_t(d);
        const auto out = m.trigger("default", pkt);
        m.session_reset({"default", net, dl::core::Ipv4Address{d}});
        return out;
    };
    for (std::uint32_t i = 0; i < c.max_sessions_per_target; ++i) trigger_and_reset();
    for (auto _ : state) benchmark::DoNotOptimize(trigger_and_reset());
    const auto t = m.show_targets()[0];
    state.SetItemsProcessed(state.iterations());
    state.counters["evicted"] = t["counters"]["sessions_evicted"].get<double>();
    state.counters["sessions"] = t["sessions"].get<double>();
}
BENCHMARK(BM_TriggerEvictsOldestDormantAtTheCap)->Iterations(200000);
