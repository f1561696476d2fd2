// Back-to-back PPP setups (LCP + mutual CHAP + IPCP to Opened) in virtual time: setups per second.
#include <benchmark/benchmark.h>

#include <deque>

#include "dl/core/event.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/ppp/auth.hpp"
#include "dl/ppp/engine/link.hpp"

using namespace dl::ppp;
using namespace dl::ppp::engine;

namespace {
void setup(benchmark::State& state, AuthPreference pref) {
    dl::core::TimerRegistry registry;
    dl::core::register_well_known_timers(registry);
    std::uint64_t ok = 0;
    for (auto _ : state) {
        dl::core::VirtualTimeLoop loop;
        dl::core::EventBus bus(loop.clock());
        dl::core::FsmEnv env{&bus, &loop.timers(), &registry};
        std::deque<std::pair<int, std::pair<std::uint16_t, std::vector<std::uint8_t>>>> wire;
        std::unique_ptr<Link> a, b;
        bool up_a = false, up_b = false;
        std::uint32_t ra = 0x10000000, rb = 0x20000000;
        auto make = [&](int side, AuthPreference p, std::string name, std::uint32_t& r, bool& up) {
            LinkConfig c;
            c.require_auth = p;
            c.name = name;
            c.secret = "secret";
            c.local_ip = side == 0 ? 0x0a000001 : 0;
            c.peer_ip = side == 0 ? 0x0a000002 : 0;
            LinkCallbacks cb;
            cb.send = [&wire, side](std::uint16_t proto, std::vector<std::uint8_t> info) {
                wire.push_back({1 - side, {proto, std::move(info)}});
            };
            cb.verify = [&, side](std::uint32_t ticket, const Credentials& cr) {
                auto d = chap_md5_response(cr.chap_id, "secret", cr.challenge);
                VerifyResult res;
                res.accept = std::vector<std::uint8_t>(d.begin(), d.end()) == cr.response || cr.password == "secret";
                (side == 0 ? a : b)->verify_result(ticket, res);
            };
            cb.network_up = [&up](const NetworkInfo&) { up = true; };
            cb.random = [&r] { return r += 0x01010101; };
            return std::make_unique<Link>(c, std::move(cb), env, name);
        };
        a = make(0, pref, "lns", ra, up_a);
        b = make(1, pref, "cpe", rb, up_b);
        a->open();
        b->open();
        while (!wire.empty()) {
            auto [to, pkt] = std::move(wire.front());
            wire.pop_front();
            (to == 0 ? a : b)->receive(pkt.first, pkt.second);
        }
        ok += up_a && up_b;
    }
    if (ok != static_cast<std::uint64_t>(state.iterations())) state.SkipWithError("a setup did not reach IPCP Opened");
    state.counters["setups/s"] = benchmark::Counter(static_cast<double>(ok), benchmark::Counter::kIsRate);
    state.counters["bytes/link"] = static_cast<double>(Link::footprint());
}
}  // namespace

static void BM_SetupMutualChap(benchmark::State& s) { setup(s, AuthPreference::chap); }
static void BM_SetupMutualPap(benchmark::State& s) { setup(s, AuthPreference::pap); }
static void BM_SetupNoAuth(benchmark::State& s) { setup(s, AuthPreference::none); }
BENCHMARK(BM_SetupMutualChap);
BENCHMARK(BM_SetupMutualPap);
BENCHMARK(BM_SetupNoAuth);
