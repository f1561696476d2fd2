// Cost of the impairment engine per datagram (classification with proto/decode + rules + schedule):
// what the relay adds to each L2TP / RADIUS datagram besides the two socket calls.
#include <benchmark/benchmark.h>

#include "dl/l2tp/builders.hpp"
#include "dl/l2tp/l2tp.hpp"
#include "dl/radius/radius.hpp"
#include "dl/scenario/impairment.hpp"

using namespace dl::scenario;

namespace {

std::vector<std::uint8_t> ocrq() {
    dl::l2tp::OcrqParams p;
    p.called_number = "5551001";
    return dl::l2tp::make_ocrq(p).serialize();
}

void run(benchmark::State& st, const std::vector<std::uint8_t>& bytes, std::uint16_t sport, std::uint16_t dport,
         std::size_t rules) {
    ImpairmentEngine e;
    for (std::size_t i = 0; i < rules; ++i) {
        Rule r;
        r.name = "r" + std::to_string(i);
        r.match.message = "SLI";  // never matches: every rule is consulted
        e.add_rule(r);
    }
    TimePoint t{};
    for (auto _ : st) {
        e.submit(Direction::forward, sport, dport, bytes, t);
        auto out = e.take_due(t);
        benchmark::DoNotOptimize(out);
        t += std::chrono::microseconds(1);
    }
    st.SetItemsProcessed(st.iterations());
}

void BM_ForwardOcrq(benchmark::State& st) { run(st, ocrq(), 1701, 1701, static_cast<std::size_t>(st.range(0))); }
void BM_ForwardAccessRequest(benchmark::State& st) {
    dl::radius::Radius r(dl::radius::Code::Access_Request, 1);
    run(st, r.serialize(), 40000, 1812, static_cast<std::size_t>(st.range(0)));
}

}  // namespace

BENCHMARK(BM_ForwardOcrq)->Arg(0)->Arg(4);
BENCHMARK(BM_ForwardAccessRequest)->Arg(0)->Arg(4);
