// Micro-benchmarks of the runtime foundation: timer arm/cancel at 100 000-session scale, memory per
// timer, event publish cost.
#include <benchmark/benchmark.h>

#include <vector>

#include "dl/core/event.hpp"
#include "dl/core/fsm.hpp"
#include "dl/core/timer_queue.hpp"

using namespace dl::core;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kTimers = 100'000;

// Arm 100 000 timers with scattered deadlines, then cancel all of them (random-ish order).
void BM_TimerArmCancel100k(benchmark::State& state) {
    VirtualClock clock;
    TimerQueue q(clock);
    q.reserve(kTimers);
    std::vector<TimerId> ids(kTimers);
    for (auto _ : state) {
        for (std::size_t i = 0; i < kTimers; ++i)
            ids[i] = q.arm(std::chrono::milliseconds((i * 7919) % 300'000), [] {});
        // Cancel in a scattered order (104729 is prime, so i -> i * 104729 mod n is a permutation).
        for (std::size_t i = 0; i < kTimers; ++i) q.cancel(ids[(i * 104'729) % kTimers]);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kTimers));  // one item = one arm + one cancel
    state.counters["bytes_per_timer"] = static_cast<double>(q.memory_bytes()) / kTimers;
}
BENCHMARK(BM_TimerArmCancel100k)->Unit(benchmark::kMillisecond);

// Re-arming a per-entity Timer handle (cancel + arm) with 100 000 others pending.
void BM_TimerRestartWith100kPending(benchmark::State& state) {
    VirtualClock clock;
    TimerQueue q(clock);
    std::vector<Timer> timers(kTimers);
    for (std::size_t i = 0; i < kTimers; ++i) {
        timers[i].bind(q);
        timers[i].start(std::chrono::milliseconds((i * 7919) % 300'000), [] {});
    }
    std::size_t i = 0;
    for (auto _ : state) {
        timers[i].start(std::chrono::milliseconds((i * 31) % 300'000), [] {});
        if (++i == kTimers) i = 0;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TimerRestartWith100kPending);

// Firing: arm 100 000 then run them all due.
void BM_TimerFire100k(benchmark::State& state) {
    VirtualClock clock;
    TimerQueue q(clock);
    q.reserve(kTimers);
    std::size_t fired = 0;
    for (auto _ : state) {
        for (std::size_t i = 0; i < kTimers; ++i)
            q.arm(std::chrono::milliseconds((i * 7919) % 300'000), [&fired] { ++fired; });
        q.run_due(clock.now() + 1h);
    }
    benchmark::DoNotOptimize(fired);
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kTimers));
}
BENCHMARK(BM_TimerFire100k)->Unit(benchmark::kMillisecond);

// Memory of the queue with 100 000 armed timers (capacity grown naturally, no reserve).
void BM_TimerQueueMemoryPerTimer(benchmark::State& state) {
    for (auto _ : state) {
        VirtualClock clock;
        TimerQueue q(clock);
        for (std::size_t i = 0; i < kTimers; ++i) q.arm(std::chrono::milliseconds(i), [] {});
        state.counters["bytes_per_timer"] = static_cast<double>(q.memory_bytes()) / kTimers;
    }
    state.counters["sizeof_Timer"] = sizeof(Timer);
}
BENCHMARK(BM_TimerQueueMemoryPerTimer)->Unit(benchmark::kMillisecond)->Iterations(3);

Event make_event() {
    Event e;
    e.entity = "dialout.session";
    e.id = "default/10.10.0.0/16/10.10.1.1";
    e.from = "connecting";
    e.to = "inhibited";
    e.event = "timer-expiry";
    e.cause = "trigger expired";
    return e;
}

// Publish with no subscriber: building the Event plus publish().
void BM_EventPublishNoSubscriber(benchmark::State& state) {
    VirtualClock clock;
    EventBus bus(clock);
    for (auto _ : state) bus.publish(make_event());
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EventPublishNoSubscriber);

// The cheap path producers take: check has_subscribers() before building an Event.
void BM_EventPublishGuarded(benchmark::State& state) {
    VirtualClock clock;
    EventBus bus(clock);
    for (auto _ : state) {
        if (bus.has_subscribers()) bus.publish(make_event());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EventPublishGuarded);

// Publish to one subscriber whose filter does not match, and to one that does.
void BM_EventPublishOneSubscriber(benchmark::State& state) {
    VirtualClock clock;
    EventBus bus(clock);
    std::size_t n = 0;
    bus.subscribe({state.range(0) ? "dialout" : "l2tp", ""}, [&n](const Event&) { ++n; });
    for (auto _ : state) bus.publish(make_event());
    benchmark::DoNotOptimize(n);
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EventPublishOneSubscriber)->Arg(0)->Arg(1);

// FSM dispatch of an internal transition (no timer), no subscriber.
enum class S { a, b };
enum class E { flip, t };
struct Toy {
    using Spec = FsmSpec<Toy, S, E>;
    static const Spec& spec() {
        static const Spec s{"bench.toy", {"a", "b"}, {"flip", "t"},
                            {{S::a, E::flip, S::b}, {S::b, E::flip, S::a}}};
        return s;
    }
    explicit Toy(FsmEnv env) : fsm(spec(), env, *this, "toy", S::a) {}
    Fsm<Toy, S, E> fsm;
};

void BM_FsmDispatch(benchmark::State& state) {
    VirtualClock clock;
    EventBus bus(clock);
    Toy toy(FsmEnv{&bus, nullptr, nullptr});
    for (auto _ : state) toy.fsm.dispatch(E::flip);
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FsmDispatch);

}  // namespace
