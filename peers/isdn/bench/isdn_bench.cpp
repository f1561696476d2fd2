// isdn-emu micro-benchmarks: signalling codec and the exchange's call cycle in virtual time.
#include <benchmark/benchmark.h>

#include "dl/core/event.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/isdn/exchange.hpp"

using namespace dl::isdn;

static void BM_SetupDecode(benchmark::State& st) {
    const auto bytes = Message::setup(1, "5551000", "1701", Bearer::digital, "12", 64000).encode();
    for (auto _ : st) benchmark::DoNotOptimize(Message::decode(bytes));
}
BENCHMARK(BM_SetupDecode);

static void BM_SetupEncode(benchmark::State& st) {
    const auto m = Message::setup(1, "5551000", "1701", Bearer::digital, "12", 64000);
    for (auto _ : st) benchmark::DoNotOptimize(m.encode());
}
BENCHMARK(BM_SetupEncode);

// SETUP -> ALERTING/SETUP -> CONNECT -> CONNECT/ACK -> RELEASE -> reap: one full call per iteration.
static void BM_ExchangeCallCycle(benchmark::State& st) {
    dl::core::VirtualTimeLoop loop;
    dl::core::EventBus bus(loop.clock());
    dl::core::TimerRegistry reg;
    std::uint16_t callee_ref = 0;
    std::size_t connects = 0;
    Exchange ex(bus, loop.timers(), reg, [&](Exchange::EndpointId ep, const Message& m) {
        if (ep == 2 && m.type == MessageType::setup) callee_ref = m.call_ref;
        if (ep == 1 && m.type == MessageType::connect) ++connects;
    });
    ex.attach(1);
    ex.attach(2);
    ex.receive(2, Message::reg({"5551000"}));
    std::uint16_t ref = 0;
    for (auto _ : st) {
        ref = static_cast<std::uint16_t>((ref % 0x7FFF) + 1);
        ex.receive(1, Message::setup(ref, "5551000", "1701", Bearer::digital));
        ex.receive(2, Message::simple(MessageType::connect, callee_ref));
        ex.receive(1, Message::release(ref, cause::normal_clearing));
        loop.advance(std::chrono::milliseconds(1));
    }
    if (static_cast<benchmark::IterationCount>(connects) != st.iterations()) st.SkipWithError("a call did not connect");
    st.counters["calls/s"] = benchmark::Counter(static_cast<double>(st.iterations()), benchmark::Counter::kIsRate);
    st.counters["call_bytes"] = static_cast<double>(Exchange::call_footprint());
}
BENCHMARK(BM_ExchangeCallCycle);
