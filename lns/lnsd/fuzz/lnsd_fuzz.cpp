// libFuzzer harness: arbitrary datagrams from a few peers (one with a secret and hidden AVPs) into
// the Lns core, with virtual time advancing and the management commands interleaved. Nothing may
// crash, hang or leak; show output must stay valid JSON. Two sessions are on the data fast path
// (DataPath: our tunnel 1 sessions 1 and 2, one sequenced), so data messages reach it too.
#include <cstddef>
#include <cstdint>

#include "dl/lnsd/lns.hpp"

using namespace dl;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    core::VirtualTimeLoop loop;
    core::EventBus bus(loop.clock());
    core::TimerRegistry registry;
    core::register_well_known_timers(registry);
    l2tp::engine::register_l2tp_timers(registry);
    lnsd::LnsdConfig cfg;
    cfg.peers.push_back({{0x0A000002}, "s3cret", true});
    cfg.accept_unknown_peers = true;  // the other peers (10.0.0.3..5) open tunnels too
    cfg.max_retransmits = 2;
    lnsd::Lns lns(loop.timers(), registry, bus, cfg, [](lnsd::PeerId, std::vector<std::uint8_t>) {}, 1);
    const lnsd::CallHandle fast[2] = {{{1, 1}}, {{1, 2}}};
    lns.attach_data_session(fast[0], lnsd::peer_id({0x0A000002u}, 1701), 7, 8, false);
    lns.attach_data_session(fast[1], lnsd::peer_id({0x0A000003u}, 1701), 9, 10, true);
    std::size_t frames = 0;
    lns.on_ppp_frame = [&](lnsd::CallHandle h, std::span<const std::uint8_t> f) {
        ++frames;
        if (frames % 4 == 0) lns.send_ppp(h, f);  // echo some back through the fast path
        if (frames % 7 == 0) lns.send_ipv4(h, f);
    };
    // Input: records of [control byte][len][len bytes]. Control: low 2 bits peer, bit 2 advance
    // time, bits 3-5 management action, bit 7: the length is two octets (big-endian), so a
    // datagram may be as long as UDP allows (65 535), not only 255.
    std::size_t i = 0;
    while (i + 2 <= size) {
        const std::uint8_t ctl = data[i];
        std::size_t len = data[i + 1];
        i += 2;
        if (ctl & 0x80) {
            if (i >= size) break;
            len = (len << 8) | data[i];
            ++i;
        }
        if (len > size - i) len = size - i;
        const lnsd::PeerId peer = lnsd::peer_id({0x0A000002u + (ctl & 3u)}, 1701);
        lns.receive(peer, {data + i, len});
        i += len;
        if (ctl & 4) loop.advance(std::chrono::milliseconds(700));
        switch ((ctl >> 3) & 7) {
            case 1: (void)lns.show_tunnels("", true).dump(); break;
            case 2: (void)lns.show_sessions("", true).dump(); break;
            case 3: lns.clear_destination({0x0A000002u + (ctl & 3u)}); break;
            case 4: lns.set_destination_state({0x0A000002u + (ctl & 3u)}, static_cast<lnsd::AdminState>((ctl >> 6) % 3)); break;
            case 5: (void)lns.show_destinations("", true).dump(); break;
            case 6: lns.close_all(); break;
            case 7: lns.set_system_state(static_cast<lnsd::AdminState>((ctl >> 6) % 3)); break;
            default: break;
        }
    }
    loop.advance(std::chrono::minutes(2));
    (void)lns.show_summary().dump();
    return 0;
}
