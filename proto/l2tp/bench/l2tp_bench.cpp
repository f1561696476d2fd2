// Micro-benchmarks of the L2TP codec: parse and build of an SCCRQ, an OCRQ and an OCRQ with a hidden
// AVP. Target: parse of a typical control message ≤ 300 ns (Release).
#include <benchmark/benchmark.h>

#include "dl/l2tp/builders.hpp"
#include "dl/l2tp/l2tp.hpp"
#include "dl/l2tp/validate.hpp"

namespace {

using namespace dl::l2tp;

SccrqParams sccrq_params() {
    SccrqParams p;
    p.assigned_tunnel_id = 0x1234;
    p.host_name = "lns.example.net";
    p.bearer_capabilities = kBearerDigital;
    p.receive_window_size = 8;
    p.firmware_revision = 0x0100;
    p.vendor_name = "dialout-lab";
    p.tie_breaker = 0x0102030405060708ull;
    return p;
}

OcrqParams ocrq_params() {
    OcrqParams p;
    p.header = {0x2222, 0, 4, 1};
    p.called_number = "0301234567";
    p.min_bps = 56000;
    p.max_bps = 64000;
    p.assigned_session_id = 0x33;
    p.call_serial_number = 4711;
    return p;
}

HideOptions fixed_hiding() {
    HideOptions o;
    o.random_vector = std::vector<std::uint8_t>(16, 0x5a);
    o.pad_length = 4;
    o.pad_byte = 0;
    return o;
}

L2TP hidden_ocrq() {
    L2TP m = make_ocrq(ocrq_params());
    m.set_hidden(AvpType::CalledNumber);
    m.set_hiding("tunnel-secret", fixed_hiding());
    return m;
}

void BM_ParseSccrq(benchmark::State& state) {
    const auto bytes = make_sccrq(sccrq_params()).serialize();
    for (auto _ : state) {
        L2TP m(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
        benchmark::DoNotOptimize(m.avps().data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
}
BENCHMARK(BM_ParseSccrq);

void BM_ParseOcrq(benchmark::State& state) {
    const auto bytes = make_ocrq(ocrq_params()).serialize();
    for (auto _ : state) {
        L2TP m(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
        benchmark::DoNotOptimize(m.avps().data());
    }
}
BENCHMARK(BM_ParseOcrq);

void BM_ParseValidateOcrq(benchmark::State& state) {
    const auto bytes = make_ocrq(ocrq_params()).serialize();
    for (auto _ : state) {
        L2TP m(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
        validate(m);
        benchmark::DoNotOptimize(m.called_number());
    }
}
BENCHMARK(BM_ParseValidateOcrq);

void BM_ParseUnhideOcrq(benchmark::State& state) {
    const auto bytes = hidden_ocrq().serialize();
    for (auto _ : state) {
        L2TP m(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
        benchmark::DoNotOptimize(m.unhide("tunnel-secret"));
    }
}
BENCHMARK(BM_ParseUnhideOcrq);

void BM_BuildSccrq(benchmark::State& state) {
    const auto p = sccrq_params();
    for (auto _ : state) {
        L2TP m = make_sccrq(p);
        benchmark::DoNotOptimize(m.serialize());
    }
}
BENCHMARK(BM_BuildSccrq);

void BM_BuildOcrq(benchmark::State& state) {
    const auto p = ocrq_params();
    for (auto _ : state) {
        L2TP m = make_ocrq(p);
        benchmark::DoNotOptimize(m.serialize());
    }
}
BENCHMARK(BM_BuildOcrq);

void BM_BuildHiddenOcrq(benchmark::State& state) {
    for (auto _ : state) {
        L2TP m = hidden_ocrq();
        benchmark::DoNotOptimize(m.serialize());
    }
}
BENCHMARK(BM_BuildHiddenOcrq);

}  // namespace
