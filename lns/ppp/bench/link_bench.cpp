#include <benchmark/benchmark.h>
static void BM_nop(benchmark::State& s){for(auto _:s){}}
BENCHMARK(BM_nop);
