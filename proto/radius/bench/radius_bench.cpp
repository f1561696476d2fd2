// Micro-benchmarks: Access-Accept parse + authenticator checks, dial-out Access-Request build,
// dictionary load.
#include "dl/radius/auth.hpp"
#include "dl/radius/dictionary.hpp"
#include "dl/radius/radius.hpp"

#include <benchmark/benchmark.h>

#include <filesystem>

using namespace dl::radius;

namespace {

constexpr const char* kSecret = "testing123";

const Authenticator& request_auth() {
    static const Authenticator a = random_authenticator();
    return a;
}

// The dial-out Access-Accept: tagged tunnel attributes, Tunnel-Password, ERX 35-41,
// Message-Authenticator.
std::vector<std::uint8_t> dial_out_accept() {
    Radius p(Code::Access_Accept, 0x42);
    p.add_integer(AttributeType::Service_Type, 5);
    p.add_integer(AttributeType::Tunnel_Type, kTunnelTypeL2tp, 1);
    p.add_integer(AttributeType::Tunnel_Medium_Type, kTunnelMediumIpv4, 1);
    p.add_string(AttributeType::Tunnel_Server_Endpoint, "198.51.100.2", 1);
    p.add(tunnel_password_attribute(1, "tunnelsecret", kSecret, request_auth()));
    p.add_integer(AttributeType::Tunnel_Preference, 10, 1);
    p.add_string(AttributeType::Tunnel_Assignment_Id, "lac1", 1);
    p.add_string(AttributeType::Tunnel_Client_Auth_Id, "lns", 1);
    p.add_string(AttributeType::Tunnel_Server_Auth_Id, "lac", 1);
    p.add_string(ErxAttribute::Dial_Out_Number, "0301234567");
    p.add_string(ErxAttribute::PPP_Username, "lns-user");
    p.add_string(ErxAttribute::PPP_Password, "lns-pass");
    p.add_integer(ErxAttribute::PPP_Auth_Protocol, 2);
    p.add_integer(ErxAttribute::Minimum_BPS, 56000);
    p.add_integer(ErxAttribute::Maximum_BPS, 64000);
    p.add_integer(ErxAttribute::Bearer_Type, 2);
    add_message_authenticator(p);
    sign_response(p, request_auth(), kSecret);
    return p.serialize();
}

void BM_ParseAccessAccept(benchmark::State& st) {
    const auto w = dial_out_accept();
    for (auto _ : st) {
        Radius p(w.data(), static_cast<std::uint32_t>(w.size()));
        benchmark::DoNotOptimize(p.get_integer(AttributeType::Tunnel_Type, 1));
    }
    st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * w.size()));
}
BENCHMARK(BM_ParseAccessAccept);

void BM_VerifyResponse(benchmark::State& st) {
    const auto w = dial_out_accept();
    for (auto _ : st) benchmark::DoNotOptimize(verify_response(w, request_auth(), kSecret));
}
BENCHMARK(BM_VerifyResponse);

// What the LNS does per Access-Accept: parse, Response Authenticator + Message-Authenticator,
// read the tunnel and ERX attributes, decrypt Tunnel-Password.
void BM_ParseVerifyAndReadAccessAccept(benchmark::State& st) {
    const auto w = dial_out_accept();
    for (auto _ : st) {
        if (verify_response(w, request_auth(), kSecret) != Verdict::ok) st.SkipWithError("verify");
        Radius p(w.data(), static_cast<std::uint32_t>(w.size()));
        benchmark::DoNotOptimize(p.get_integer(AttributeType::Tunnel_Type, 1));
        benchmark::DoNotOptimize(p.get_string(AttributeType::Tunnel_Server_Endpoint, 1));
        benchmark::DoNotOptimize(p.get_string(ErxAttribute::Dial_Out_Number));
        benchmark::DoNotOptimize(p.get_integer(ErxAttribute::Maximum_BPS));
    }
}
BENCHMARK(BM_ParseVerifyAndReadAccessAccept);

void BM_TunnelPasswordDecrypt(benchmark::State& st) {
    const auto w = dial_out_accept();
    Radius p(w.data(), static_cast<std::uint32_t>(w.size()));
    for (auto _ : st) benchmark::DoNotOptimize(tunnel_password(p, kSecret, request_auth(), 1));
}
BENCHMARK(BM_TunnelPasswordDecrypt);

void BM_BuildDialOutAccessRequest(benchmark::State& st) {
    std::vector<std::uint8_t> out;
    out.reserve(128);
    for (auto _ : st) {
        Radius p(Code::Access_Request, 7);
        p.authenticator(request_auth());
        p.add_string(AttributeType::User_Name, "0.0.0.0:65000/10.10.1.1@L2TP-dial-out.de.dt");
        p.add_integer(AttributeType::Service_Type, 5);
        p.add_ipaddr(AttributeType::NAS_IP_Address, {192, 0, 2, 1});
        add_message_authenticator(p);
        sign_request(p, kSecret);
        serialize_into(p, out);
        benchmark::DoNotOptimize(out.data());
    }
}
BENCHMARK(BM_BuildDialOutAccessRequest);

void BM_LoadDebianDictionary(benchmark::State& st) {
    if (!std::filesystem::exists(std::string(Dictionary::kDefaultPath))) {
        st.SkipWithError("no /usr/share/freeradius/dictionary");
        return;
    }
    for (auto _ : st) {
        Dictionary d = Dictionary::load_default();
        benchmark::DoNotOptimize(d.attribute_count());
    }
}
BENCHMARK(BM_LoadDebianDictionary)->Unit(benchmark::kMillisecond);

}  // namespace
