// Google Benchmark: route-table lookup, framing and dispatch costs of the data plane (no I/O).
#include <benchmark/benchmark.h>

#include <vector>

#include "dl/dataplane/forwarding.hpp"
#include "dl/dataplane/framing.hpp"
#include "dl/dataplane/route_table.hpp"

using namespace dl::dataplane;

namespace {

/// n sessions, each with a /32 host route and one /24 Framed-Route, plus a /8 access route.
RouteTable make_table(std::size_t n) {
    RouteTable t;
    t.insert({{0x0A000000}, 8}, 1'000'000, RouteKind::access);
    for (std::size_t i = 0; i < n; ++i) {
        const auto s = static_cast<std::uint32_t>(i);
        t.insert({{0x0AC90000u | (s & 0xFFFF)}, 32}, i, RouteKind::framed_ip);
        t.insert({{0x0B000000u | ((s & 0xFFFF) << 8)}, 24}, i, RouteKind::framed_route);
    }
    return t;
}

void BM_LookupHost(benchmark::State& st) {
    const auto n = static_cast<std::size_t>(st.range(0));
    RouteTable t = make_table(n);
    std::uint32_t i = 0;
    for (auto _ : st) {
        benchmark::DoNotOptimize(t.lookup(0x0AC90000u | (i++ % n)));
    }
    st.counters["routes"] = static_cast<double>(t.size());
}
BENCHMARK(BM_LookupHost)->Arg(1000)->Arg(16000);

void BM_LookupFramedRoute(benchmark::State& st) {
    const auto n = static_cast<std::size_t>(st.range(0));
    RouteTable t = make_table(n);
    std::uint32_t i = 0;
    for (auto _ : st) {
        benchmark::DoNotOptimize(t.lookup(0x0B000000u | ((i++ % n) << 8) | 7));
    }
}
BENCHMARK(BM_LookupFramedRoute)->Arg(1000)->Arg(16000);

void BM_LookupNoRoute(benchmark::State& st) {
    RouteTable t = make_table(16000);
    std::uint32_t i = 0;
    for (auto _ : st) benchmark::DoNotOptimize(t.lookup(0xC0000000u | (i++ & 0xFFFF)));
}
BENCHMARK(BM_LookupNoRoute);

void BM_InsertRemoveSession(benchmark::State& st) {
    RouteTable t = make_table(16000);
    SessionHandle h = 2'000'000;
    for (auto _ : st) {
        t.insert({{0x0C000001}, 32}, h, RouteKind::framed_ip);
        t.insert({{0x0C010000}, 16}, h, RouteKind::framed_route);
        benchmark::DoNotOptimize(t.remove_session(h));
        ++h;
    }
}
BENCHMARK(BM_InsertRemoveSession);

void BM_PrependL2tpPpp(benchmark::State& st) {
    PacketBatch b(1, 2048, 64);
    std::vector<std::uint8_t> ip(84, 0x45);
    DataEncap e{.tunnel_id = 1, .session_id = 2};
    for (auto _ : st) {
        b.reset();
        b.push(ip);
        benchmark::DoNotOptimize(prepend_l2tp_ppp(b[0], e));
    }
}
BENCHMARK(BM_PrependL2tpPpp);

void BM_DecapL2tpPppIpv4(benchmark::State& st) {
    PacketBatch b(1, 2048, 64);
    std::vector<std::uint8_t> ip(84, 0x45);
    b.push(ip);
    DataEncap e{.tunnel_id = 1, .session_id = 2};
    prepend_l2tp_ppp(b[0], e);
    const auto bytes = b[0].bytes();
    for (auto _ : st) benchmark::DoNotOptimize(decap_l2tp_ppp_ipv4(bytes));
}
BENCHMARK(BM_DecapL2tpPppIpv4);

/// A 64-packet batch through ForwardingLoop::dispatch: IPv4 check, lookup, to_session with framing.
void BM_DispatchBatch64(benchmark::State& st) {
    std::vector<DataEncap> encap(1000, DataEncap{.tunnel_id = 1, .session_id = 2});
    std::size_t framed = 0;
    ForwardingLoop::Callbacks cb;
    cb.to_session = [&](VrId, SessionHandle s, Packet& p) { framed += prepend_l2tp_ppp(p, encap[s]) != 0; };
    ForwardingLoop loop(cb, 64, 2048, 64);
    const VrId vr = loop.add_vr("default", TunDevice{});
    for (std::uint32_t i = 0; i < 1000; ++i) loop.add_route(vr, {{0x0AC90000u | i}, 32}, i, RouteKind::framed_ip);
    PacketBatch batch(64, 2048, 64);
    std::vector<std::uint8_t> ip(84, 0);
    ip[0] = 0x45;
    for (auto _ : st) {
        batch.reset();
        for (std::uint32_t i = 0; i < 64; ++i) {
            ip[16] = 10, ip[17] = 201, ip[18] = static_cast<std::uint8_t>(i >> 8);
            ip[19] = static_cast<std::uint8_t>(i * 13);
            batch.push(ip);
        }
        loop.dispatch(vr, batch);
    }
    st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()) * 64);
    benchmark::DoNotOptimize(framed);
}
BENCHMARK(BM_DispatchBatch64);

}  // namespace
