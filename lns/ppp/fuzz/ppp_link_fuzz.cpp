// libFuzzer: arbitrary PPP packets into a Link (authenticator + peer, IPCP) at every phase, and
// into a bare LCP Automaton: never a crash, never an out-of-bounds read, never a stuck timer loop.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

#include "dl/core/timer_queue.hpp"
#include "dl/ppp/engine/link.hpp"

using namespace dl::ppp::engine;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    dl::core::VirtualTimeLoop loop;
    LinkConfig c;
    c.require_auth = static_cast<AuthPreference>(data[0] % 5);
    c.name = "fuzz";
    c.secret = "secret";
    c.local_ip = 0x0a000001;
    c.peer_ip = (data[0] & 0x10) ? 0x0a000002 : 0;
    c.dns1 = 0x08080808;
    c.request_dns = data[0] & 0x20;
    c.echo_interval = (data[0] & 0x40) ? std::chrono::seconds(5) : dl::core::Duration{};
    c.rechallenge = (data[0] & 0x80) ? std::chrono::seconds(7) : dl::core::Duration{};
    std::uint32_t r = 1;
    Link* self = nullptr;
    LinkCallbacks cb;
    cb.send = [](std::uint16_t, std::vector<std::uint8_t>) {};
    cb.verify = [&](std::uint32_t ticket, const Credentials& cr) {
        loop.timers().arm(std::chrono::milliseconds(1), [&self, ticket, ok = cr.user.size() % 2 == 0] {
            VerifyResult v;
            v.accept = ok;
            v.framed_ip = 0x0a000003;
            self->verify_result(ticket, v);
        });
    };
    cb.random = [&r] { return r = r * 1103515245u + 12345u; };
    Link link(c, cb, {nullptr, &loop.timers(), nullptr}, "f");
    self = &link;
    if (data[0] & 0x08) {
        // Proxy LCP from the first packet (last sent) and the second (last received); the proxy
        // authentication announced (none, PAP, CHAP-MD5), which never comes.
        const int a = data[0] / 5 % 3;
        const AuthMethod announced = a == 1 ? AuthMethod::pap : a == 2 ? AuthMethod::chap_md5 : AuthMethod::none;
        link.open_with_proxy_lcp(std::span(data + 1, std::min<std::size_t>(size - 1, 32)),
                                 std::span(data + 1, std::min<std::size_t>(size - 1, 16)), announced);
    } else {
        link.open();
    }
    // Packets separated by 0xff 0xff markers; time advances between them.
    std::size_t start = 1;
    for (std::size_t i = 1; i + 1 < size; ++i)
        if (i >= start && data[i] == 0xff && data[i + 1] == 0xff) {
            link.receive(std::span(data + start, i - start));
            start = i + 2;
            loop.advance(std::chrono::milliseconds(data[i - 1 > 0 ? i - 1 : 0] * 50));
        }
    link.receive(std::span(data + start, size - start));
    loop.advance(std::chrono::seconds(120));
    link.close("fuzz end");
    loop.advance(std::chrono::seconds(60));
    return 0;
}
