// libFuzzer harness: arbitrary datagrams into a client with requests in flight, and arbitrary
// packets into the Access-Accept decoders. Must never crash, hang or act on unverified input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dl/core/timer_registry.hpp"
#include "dl/proto/errors.hpp"
#include "dl/radius/client/builders.hpp"
#include "dl/radius/client/client.hpp"

using namespace dl::radius;
using namespace dl::radius::client;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static dl::core::VirtualTimeLoop loop;
    static dl::core::TimerRegistry reg;
    static Client client(loop.timers(), reg, nullptr, [](const Endpoint&, std::span<const std::uint8_t>) {});
    static bool init = [] {
        client.set_servers("default", ServerGroup{{{{0x7F000001, 1812}, "secret", true}}, {{{0x7F000001, 1813}, "secret", false}}});
        return true;
    }();
    (void)init;
    if (client.outstanding() < 4) {
        client.submit("default", Service::authentication, build_dialout_access_request("u", {}), {});
        Radius acct(Code::Accounting_Request);
        acct.add_string(AttributeType::Acct_Session_Id, "1");
        client.submit("default", Service::accounting, acct, {});
    }
    const std::span<const std::uint8_t> d(data, size);
    client.on_datagram({0x7F000001, 1812}, d);
    client.on_datagram({0x7F000001, 1813}, d);
    if (client.counters().accepts + client.counters().rejects != 0) __builtin_trap();  // never verified
    try {
        Radius r(data, static_cast<std::uint32_t>(size));
        (void)decode_dialout_accept(r, "secret", Authenticator{});
        (void)decode_ppp_authorisation(r);
    } catch (const dl::proto::ParseError&) {
    }
    (void)parse_framed_route(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
