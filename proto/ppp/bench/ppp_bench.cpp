// Micro-benchmarks: async HDLC framing (RFC 1662 §4) of a 1500-octet IPv4 frame and of an LCP
// Configure-Request, the streaming deframer, and LCP / PPP parsing.
#include <benchmark/benchmark.h>

#include <vector>

#include "dl/ppp/control.hpp"
#include "dl/ppp/hdlc.hpp"
#include "dl/ppp/ppp.hpp"

namespace {

using dl::ppp::AsyncOptions;

std::vector<std::uint8_t> ip_frame() {
    std::vector<std::uint8_t> f{0x00, 0x21};
    for (int i = 0; i < 1500; ++i) f.push_back(static_cast<std::uint8_t>(i * 7));  // all octets
    return f;
}

std::vector<std::uint8_t> lcp_cfg_req() {
    dl::ppp::LCP l(dl::ppp::CpCode::configure_request, 1);
    l.mru(1500);
    l.accm(0);
    l.auth_chap_md5();
    l.magic_number(0x12345678);
    l.pfc(true);
    l.acfc(true);
    dl::ppp::PPP p;
    p /= l;
    return p.serialize();
}

AsyncOptions opts(std::int64_t accm_all) {
    AsyncOptions o;
    o.accm = accm_all ? 0xffffffffu : 0u;
    return o;
}

void BM_AsyncEncodeIp1500(benchmark::State& st) {
    const auto f = ip_frame();
    const auto o = opts(st.range(0));
    std::vector<std::uint8_t> out;
    out.reserve(4096);
    for (auto _ : st) {
        out.clear();
        dl::ppp::encode_async(f, o, out);
        benchmark::DoNotOptimize(out.data());
    }
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * f.size()));
}
BENCHMARK(BM_AsyncEncodeIp1500)->Arg(0)->Arg(1);

void BM_AsyncDeframeIp1500(benchmark::State& st) {
    const auto f = ip_frame();
    const auto o = opts(st.range(0));
    const auto wire = dl::ppp::encode_async(f, o);
    dl::ppp::DeframerOptions d;
    d.accm = o.accm;
    dl::ppp::AsyncDeframer deframer(d);
    for (auto _ : st) {
        std::span<const std::uint8_t> in(wire);
        auto fr = deframer.next(in);
        benchmark::DoNotOptimize(fr);
    }
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * f.size()));
}
BENCHMARK(BM_AsyncDeframeIp1500)->Arg(0)->Arg(1);

void BM_AsyncEncodeLcpConfigureRequest(benchmark::State& st) {
    const auto f = lcp_cfg_req();
    std::vector<std::uint8_t> out;
    out.reserve(256);
    for (auto _ : st) {
        out.clear();
        dl::ppp::encode_async(f, AsyncOptions{}, out);
        benchmark::DoNotOptimize(out.data());
    }
}
BENCHMARK(BM_AsyncEncodeLcpConfigureRequest);

void BM_AsyncDeframeLcpConfigureRequest(benchmark::State& st) {
    const auto wire = dl::ppp::encode_async(lcp_cfg_req(), AsyncOptions{});
    dl::ppp::AsyncDeframer deframer;
    for (auto _ : st) {
        std::span<const std::uint8_t> in(wire);
        auto fr = deframer.next(in);
        benchmark::DoNotOptimize(fr);
    }
}
BENCHMARK(BM_AsyncDeframeLcpConfigureRequest);

void BM_LcpParseConfigureRequest(benchmark::State& st) {
    const auto f = lcp_cfg_req();
    for (auto _ : st) {
        dl::ppp::LCP l(f.data() + 2, static_cast<std::uint32_t>(f.size() - 2));
        benchmark::DoNotOptimize(l.mru());
    }
}
BENCHMARK(BM_LcpParseConfigureRequest);

void BM_PppParseLcpFrame(benchmark::State& st) {
    const auto f = lcp_cfg_req();
    for (auto _ : st) {
        dl::ppp::PPP p(f.data(), static_cast<std::uint32_t>(f.size()));
        benchmark::DoNotOptimize(p.inner_pdu());
    }
}
BENCHMARK(BM_PppParseLcpFrame);

}  // namespace
