// Micro-benchmarks: requests per second through the sans-I/O client with full verification.
#include <benchmark/benchmark.h>

#include "dl/core/timer_registry.hpp"
#include "dl/radius/auth.hpp"
#include "dl/radius/client/builders.hpp"
#include "dl/radius/client/client.hpp"

using namespace dl::radius;
using namespace dl::radius::client;
namespace core = dl::core;

namespace {

constexpr Endpoint kServer{0xC0000201, 1812};

// submit -> Access-Request signed (random authenticator, Message-Authenticator HMAC) -> server
// side signs an Access-Accept with Message-Authenticator -> on_datagram verifies both -> callback.
void BM_AccessRoundTrip(benchmark::State& state) {
    core::VirtualTimeLoop loop;
    core::TimerRegistry reg;
    std::vector<std::uint8_t> last;
    Client client(loop.timers(), reg, nullptr,
                  [&](const Endpoint&, std::span<const std::uint8_t> d) { last.assign(d.begin(), d.end()); });
    client.set_servers("default", ServerGroup{{{kServer, "secret", true}}, {}});
    const NasInfo nas{{0xC000020A}, "lns"};
    const Radius tmpl = build_dialout_access_request("0.0.0.0:65000/10.10.1.1@L2TP-dial-out.de.dt", nas);
    std::uint64_t accepted = 0;
    std::vector<std::uint8_t> reply;
    for (auto _ : state) {
        client.submit("default", Service::authentication, tmpl, [&](const Completion& c) {
            accepted += c.result == Result::accept;
        });
        Radius resp(Code::Access_Accept, last[1]);
        add_message_authenticator(resp);
        Authenticator ra;
        std::copy(last.begin() + 4, last.begin() + 20, ra.begin());
        sign_response(resp, ra, "secret");
        serialize_into(resp, reply);
        client.on_datagram(kServer, reply);
        loop.timers().run_due(loop.now());
    }
    if (accepted != static_cast<std::uint64_t>(state.iterations())) state.SkipWithError("not all accepted");
    state.SetItemsProcessed(state.iterations());
    state.counters["sizeof_request"] = static_cast<double>(Client::request_size());
}
BENCHMARK(BM_AccessRoundTrip);

// Client side only: verification + dispatch of a pre-signed reply to a request in flight.
void BM_VerifyReplyOnly(benchmark::State& state) {
    const Authenticator ra{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    Radius resp(Code::Access_Accept, 1);
    resp.add_integer(AttributeType::Service_Type, 5);
    add_message_authenticator(resp);
    sign_response(resp, ra, "secret");
    std::vector<std::uint8_t> w;
    serialize_into(resp, w);
    for (auto _ : state) benchmark::DoNotOptimize(verify_response(w, ra, "secret"));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyReplyOnly);

void BM_DecodeDialOutAccept(benchmark::State& state) {
    const Authenticator ra{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    Radius a(Code::Access_Accept, 1);
    a.add_integer(AttributeType::Service_Type, 5);
    a.add_integer(AttributeType::Tunnel_Type, 3, 1);
    a.add_integer(AttributeType::Tunnel_Medium_Type, 1, 1);
    a.add_string(AttributeType::Tunnel_Server_Endpoint, "198.51.100.1", 1);
    a.add(tunnel_password_attribute(1, "tunnelpw", "secret", ra));
    a.add_string(ErxAttribute::Dial_Out_Number, "0301234567");
    a.add_integer(ErxAttribute::PPP_Auth_Protocol, 2);
    for (auto _ : state) benchmark::DoNotOptimize(decode_dialout_accept(a, "secret", ra));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeDialOutAccept);

}  // namespace
