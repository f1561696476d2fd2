// libFuzzer harness: cpe-emu's PPP input. Two sites of one Cpe answer a call each from the exchange
// (SETUP, digital and analog bearer); whatever the LNS side sends then arrives as exchange DATA
// messages on their B-channels: synchronous HDLC frames (RFC 1662 §5) on the digital call, an async
// HDLC octet stream (RFC 1662 §4) on the analog one, into the sites' PPP links (LCP, PAP / CHAP
// both ways, the site checking the LNS against its users, IPCP, IPv4 to a TUN). Nothing may crash,
// hang or leak; the sites' state must stay valid JSON.
//
// Input: records |control|length|octets|. Control: bit 0 the call (0 digital, 1 analog); bit 1
// the octets are a PPP frame (Protocol + Information) that the harness frames with a correct FCS
// (sync or async), else they are sent as they are (an FCS the input got right, or not); bit 2
// advance time 1 s; bit 3 an IPv4 packet from the site's TUN instead (Cpe::from_tun); bit 4 hang
// the call up and answer a new one; bit 7 a two-octet length (big-endian).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "dl/core/event.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/cpe/cpe.hpp"
#include "dl/isdn/message.hpp"
#include "dl/ppp/hdlc.hpp"
#include "dl/radius/client/client.hpp"

using namespace dl;

namespace {
/// A TUN that takes every packet (the fuzzer's IPv4 from the link ends here).
struct NullTun final : cpe::SiteTun {
    bool write(std::span<const std::uint8_t> packet) override { return !packet.empty(); }
};

const char* const kNumbers[2] = {"5553001", "5553002"};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    core::VirtualTimeLoop loop;
    core::EventBus bus(loop.clock());
    core::TimerRegistry registry;
    core::register_well_known_timers(registry);
    radius::client::register_timers(registry);
    std::size_t sent = 0;
    cpe::Cpe cpe(loop.timers(), registry, bus, [&](const isdn::Message&) { ++sent; });
    cpe.set_tun_factory([](const cpe::TunRequest&) { return std::make_unique<NullTun>(); });
    cpe::SiteConfig digital;
    digital.number = kNumbers[0];
    digital.require_auth = ppp::engine::AuthPreference::chap;  // the site checks the LNS too
    digital.users = {{"lns", "lns-pass"}};
    digital.tun = cpe::TunConfig{.name = "cpe0", .routes = {core::Ipv4Prefix::parse("203.0.113.0/24").value()}};
    cpe.add_site(digital);
    cpe::SiteConfig analog;
    analog.number = kNumbers[1];
    analog.allow_chap = false;  // PAP only
    analog.local_ip = 0xC6120009;  // 198.18.0.9
    cpe.add_site(analog);
    cpe.start();
    std::uint16_t ref[2] = {1, 2};
    const isdn::Bearer bearer[2] = {isdn::Bearer::digital, isdn::Bearer::analog};
    for (int c = 0; c < 2; ++c) cpe.isdn_receive(isdn::Message::setup(ref[c], kNumbers[c], "1701", bearer[c]));
    loop.advance(std::chrono::milliseconds(10));

    std::size_t i = 0;
    while (i + 2 <= size) {
        const std::uint8_t ctl = data[i];
        std::size_t len = data[i + 1];
        i += 2;
        if (ctl & 0x80) {
            if (i >= size) break;
            len = (len << 8) | data[i++];
        }
        if (len > size - i) len = size - i;
        const std::span<const std::uint8_t> bytes(data + i, len);
        i += len;
        const int c = ctl & 1;
        if (ctl & 0x08) {
            (void)cpe.from_tun(kNumbers[c], bytes);
        } else if (ctl & 0x02) {
            const auto framed = c == 0 ? ppp::encode_sync(bytes) : ppp::encode_async(bytes);
            cpe.isdn_receive(isdn::Message::data(ref[c], framed));
        } else {
            cpe.isdn_receive(isdn::Message::data(ref[c], bytes));
        }
        if (ctl & 0x04) loop.advance(std::chrono::seconds(1));
        if (ctl & 0x10) {
            cpe.isdn_receive(isdn::Message::release(ref[c], 16));
            ref[c] = static_cast<std::uint16_t>(ref[c] + 2);
            cpe.isdn_receive(isdn::Message::setup(ref[c], kNumbers[c], "1701", bearer[c]));
        }
    }
    (void)cpe.state().dump();
    (void)cpe.network_up_count();
    cpe.isdn_down();
    loop.advance(std::chrono::minutes(1));
    if (sent == 0) __builtin_trap();  // it answered the calls at least
    return 0;
}
