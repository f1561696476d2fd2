// libFuzzer harness: the dial-out Access-Accept as lnsd handles it, through the public entry points
// the dial-out wiring uses. A dial-out Access-Request (build_dialout_access_request) goes out
// through the RADIUS client; the server's answer carries the attributes of the input, signed as a
// real server would (RFC 2865 §3 Response Authenticator, RFC 3579 §3.2 Message-Authenticator), so
// the client verifies and accepts it; then the reply is decoded (decode_dialout_accept, JunosE
// "L2TP Dial-Out" Table 75 and RFC 2868 §3 tagged tunnels, Tunnel-Password decrypted with the
// request's Authenticator), mapped to the LACs to try (tunnel_endpoints) and ordered
// (TunnelSelector), and the PPP authorisation part decoded (decode_ppp_authorisation).
//
// Input: the attribute area of the Access-Accept as records |Type|Length|Value| (RFC 2865 §5);
// a Length that runs past the input is cut to what is left, a Length below 2 becomes 2, so most
// inputs are well-formed packets that reach the decoders. Checks what a decoded definition promises:
// Service-Type Outbound, at least one tunnel, every tunnel L2TP over IPv4 with a server endpoint, a
// dial-out number, values in range, the endpoints in the definition's order.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <vector>

#include "dl/core/timer_registry.hpp"
#include "dl/lnsd/config.hpp"
#include "dl/lnsd/dialout_wiring.hpp"
#include "dl/lnsd/tunnel_selector.hpp"
#include "dl/proto/errors.hpp"
#include "dl/radius/auth.hpp"
#include "dl/radius/client/builders.hpp"
#include "dl/radius/client/client.hpp"

using namespace dl;
namespace rc = dl::radius::client;

namespace {
constexpr rc::Endpoint kServer{0xC000020A, 1812};  // 192.0.2.10
constexpr const char* kSecret = "lab-secret";

/// The Access-Accept answering `request` (its Identifier and Authenticator) with the records of
/// `in`, signed; false and the unsigned packet when the codec refuses it (e.g. a Vendor-Specific
/// attribute under 7 octets, RFC 2865 §5.26).
bool accept_for(std::span<const std::uint8_t> request, const std::uint8_t* in, std::size_t size,
                std::vector<std::uint8_t>& out) {
    const radius::Radius req(request.data(), static_cast<std::uint32_t>(request.size()));
    std::vector<std::uint8_t> wire = {static_cast<std::uint8_t>(radius::Code::Access_Accept), req.identifier(), 0, 0};
    wire.resize(20);
    for (std::size_t i = 0; i + 1 < size && wire.size() + 2 <= 4096 - 18;) {
        const std::uint8_t type = in[i];
        std::size_t len = in[i + 1] < 2 ? 2 : in[i + 1];
        if (len - 2 > size - i - 2) len = size - i;
        if (wire.size() + len > 4096 - 18) break;  // RFC 2865 §3: at most 4096 octets
        wire.push_back(type);
        wire.push_back(static_cast<std::uint8_t>(len));
        wire.insert(wire.end(), in + i + 2, in + i + len);
        i += len;
    }
    wire[2] = static_cast<std::uint8_t>(wire.size() >> 8);
    wire[3] = static_cast<std::uint8_t>(wire.size());
    try {
        radius::Radius acc(wire.data(), static_cast<std::uint32_t>(wire.size()));
        acc.remove(radius::AttributeType::Message_Authenticator);
        radius::add_message_authenticator(acc);
        radius::sign_response(acc, req.authenticator(), kSecret);
        radius::serialize_into(acc, out);
        return true;
    } catch (const std::exception&) {  // proto::ParseError (and a re-encoding over 4096 octets)
        out = std::move(wire);
        return false;
    }
}

void check_definition(const rc::DialOutDefinition& d) {
    if (d.service_type != static_cast<std::uint32_t>(radius::ServiceType::Outbound)) __builtin_trap();
    if (d.tunnels.empty() || d.dial_out_number.empty()) __builtin_trap();
    for (std::size_t i = 0; i < d.tunnels.size(); ++i) {
        const auto& t = d.tunnels[i];
        if (t.type != radius::kTunnelTypeL2tp || t.medium != radius::kTunnelMediumIpv4 || t.server_endpoint.empty())
            __builtin_trap();
        if (i && d.tunnels[i - 1].preference.value_or(0) > t.preference.value_or(0)) __builtin_trap();
    }
    if (d.ppp_auth_protocol && *d.ppp_auth_protocol > 4) __builtin_trap();
    if (d.bearer_type && *d.bearer_type > 2) __builtin_trap();
    const auto endpoints = lnsd::tunnel_endpoints(d);
    if (endpoints.size() != d.tunnels.size()) __builtin_trap();
    for (std::size_t i = 0; i < endpoints.size(); ++i)
        if (endpoints[i].tag != d.tunnels[i].tag || endpoints[i].server_endpoint != d.tunnels[i].server_endpoint)
            __builtin_trap();
    core::VirtualTimeLoop loop;
    for (auto mode : {lnsd::SelectionMode::round_robin, lnsd::SelectionMode::weighted}) {
        lnsd::TunnelSelector sel(loop.clock(), mode, std::chrono::seconds(60));
        sel.mark_failed(endpoints.front().server_endpoint);
        const lnsd::TunnelSelector::View view{
            [](const std::string& e, const std::string& a) { return (e.size() + a.size()) % 2 == 0; },
            [](const std::string& e) { return e.size() % 3; }};
        for (std::size_t k : sel.order(endpoints, view)) {
            if (k >= endpoints.size() || sel.is_dead(endpoints[k].server_endpoint)) __builtin_trap();
        }
    }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    core::VirtualTimeLoop loop;
    core::TimerRegistry reg;
    std::vector<std::uint8_t> request;
    rc::Client client(loop.timers(), reg, nullptr,
                      [&](const rc::Endpoint&, std::span<const std::uint8_t> d) { request.assign(d.begin(), d.end()); });
    client.set_servers("default", rc::ServerGroup{{{kServer, kSecret, true}}, {}});
    std::size_t completions = 0;
    client.submit("default", rc::Service::authentication,
                  rc::build_dialout_access_request("0.0.0.0:65000/10.10.1.1@L2TP-dial-out.de.dt", {{0xC0000201}, "lns"}),
                  [&](const rc::Completion& c) {
                      ++completions;
                      if (c.result != rc::Result::accept || !c.reply) __builtin_trap();  // it was signed right
                      const auto def = rc::decode_dialout_accept(*c.reply, c.server->secret, c.request_authenticator);
                      if (def.ok() == !def.problems.empty()) __builtin_trap();  // a value or problems, never both
                      if (def.ok()) check_definition(*def.value);
                      const auto authz = rc::decode_ppp_authorisation(*c.reply);
                      if (authz.ok() == !authz.problems.empty()) __builtin_trap();
                  });
    if (request.empty()) __builtin_trap();
    std::vector<std::uint8_t> reply;
    const bool signed_ = accept_for(request, data, size, reply);
    client.on_datagram(kServer, reply);
    // A well-formed, signed packet is accepted; one the codec refuses is never acted on, and counted.
    const auto& d = client.counters().dropped;
    const std::uint64_t dropped = d.malformed + d.wrong_source + d.unknown_identifier + d.duplicate + d.unexpected_code +
                                  d.bad_authenticator + d.bad_message_authenticator + d.missing_message_authenticator;
    if (signed_ ? completions != 1 : completions != 0 || dropped != 1) __builtin_trap();
    return 0;
}
