// lnsd's LNS core under the floods of docs/reliability.md, sans-I/O and in virtual time: what a
// peer can make it hold, what each flood costs per datagram, and whether a legitimate LAC still
// gets its call through. One phase per flood, each on a fresh Lns with the default `limits:`.
//
//   sccrq-one-host   N SCCRQs from N UDP ports of one address
//   sccrq-many-hosts N SCCRQs from N addresses (forged sources)
//   sccrq-refused    N SCCRQs from N unlisted addresses, accept-unknown-peers false
//   icrq-no-iccn     N ICRQs on one established tunnel, acknowledged, never an ICCN; then call-setup
//   icrq-no-ack      N ICRQs on one established tunnel whose sender acknowledges nothing
//   out-of-order     N control messages ahead of a gap in Ns on one established tunnel
//
// For each: wall time per flood datagram (the Lns::receive cost, the event log off), lnsd's heap
// growth (mallinfo2, glibc) and the counters that name what was refused; then a legitimate LAC at
// another address places an incoming call (ICRQ/ICRP/ICCN), which must connect.
//
// Usage: dl_lnsd_flood_bench [n=65535]. Prints one line per phase and a JSON line per phase.
#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dl/core/event.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/l2tp/builders.hpp"
#include "dl/lnsd/config.hpp"
#include "dl/lnsd/lns.hpp"

using namespace dl;
using namespace dl::l2tp::engine;
using namespace std::chrono_literals;

namespace {

std::size_t heap_in_use() {
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

core::Ipv4Address ip(std::uint32_t v) { return core::Ipv4Address{v}; }
const PeerId kLnsPeer = lnsd::peer_id(ip(0x0A000001), 1701);    // 10.0.0.1:1701
const PeerId kLegit = lnsd::peer_id(ip(0x0A000002), 1701);      // 10.0.0.2:1701
const PeerId kAttacker = lnsd::peer_id(ip(0x0A000009), 1701);   // 10.0.0.9:1701

/// The Lns and LAC-role engines (the legitimate LAC, the attacker's one tunnel) joined by 1 ms links.
struct Rig {
    core::VirtualTimeLoop loop;
    core::EventBus bus{loop.clock()};
    core::TimerRegistry registry;
    std::unique_ptr<lnsd::Lns> lns;
    std::map<PeerId, std::unique_ptr<Engine>> lacs;
    std::map<PeerId, int> connects;
    std::uint64_t lns_datagrams_out = 0;

    explicit Rig(lnsd::LnsdConfig cfg = {}) {
        core::register_well_known_timers(registry);
        register_l2tp_timers(registry);
        lns = std::make_unique<lnsd::Lns>(loop.timers(), registry, bus, cfg, [this](PeerId p, std::vector<std::uint8_t> b) {
            ++lns_datagrams_out;
            if (auto it = lacs.find(p); it != lacs.end())
                loop.timers().arm(1ms, [this, p, b] {
                    if (auto jt = lacs.find(p); jt != lacs.end()) jt->second->receive(kLnsPeer, b);
                });
        });
    }
    Engine& lac(PeerId at) {
        EngineConfig ec;
        ec.host_name = "lac";
        EngineCallbacks cb;
        cb.send = [this, at](PeerId, std::vector<std::uint8_t> b) {
            loop.timers().arm(1ms, [this, at, b] { lns->receive(at, b); });
        };
        cb.connected = [this, at](SessionKey, const ConnectInfo&) { ++connects[at]; };
        auto e = std::make_unique<Engine>(loop.timers(), registry, bus, ec, std::move(cb));
        return *(lacs[at] = std::move(e));
    }
    /// The legitimate LAC's incoming call: connected within 2 s of virtual time?
    bool legit_call() {
        Engine& e = lac(kLegit);
        IncomingCall c;
        c.call_serial_number = 1;
        e.place_incoming_call(kLnsPeer, c);
        loop.advance(2s);
        return connects[kLegit] == 1;
    }
    nlohmann::json counters() const { return lns->show_summary()["system"]; }
    /// The attacker's one established tunnel (an incoming call brings it up): its LAC-side
    /// channel, whose Ns / Nr and peer Tunnel ID the crafted flood messages use. Exits if it fails.
    const ReliableChannel& attacker_tunnel() {
        Engine& atk = lac(kAttacker);
        atk.place_incoming_call(kLnsPeer, IncomingCall{});
        loop.advance(1s);
        for (std::uint16_t t = 1; t != 0; ++t)
            if (atk.tunnel_state(t) == "established") return *atk.channel(t);
        std::fprintf(stderr, "attacker tunnel not established\n");
        std::exit(1);
    }
};

struct Phase {
    std::string name;
    std::uint64_t datagrams = 0;
    double seconds = 0;
    std::size_t heap_before = 0, heap_flood = 0;
    bool legit = false;
    nlohmann::json system;
};

void report(const Phase& p) {
    const auto& c = p.system["counters"];
    std::printf("%-17s %7llu datagrams  %7.0f ns/datagram  heap +%7.1f KiB  tunnels %5d  sessions %5d  legit call %s\n",
                p.name.c_str(), static_cast<unsigned long long>(p.datagrams), p.seconds * 1e9 / p.datagrams,
                (static_cast<double>(p.heap_flood) - static_cast<double>(p.heap_before)) / 1024.0,
                p.system["tunnels"].get<int>(), p.system["sessions"].get<int>(), p.legit ? "connected" : "FAILED");
    nlohmann::json j = {{"phase", p.name},
                        {"datagrams", p.datagrams},
                        {"ns-per-datagram", p.seconds * 1e9 / p.datagrams},
                        {"heap-growth-bytes", static_cast<long long>(p.heap_flood) - static_cast<long long>(p.heap_before)},
                        {"tunnels", p.system["tunnels"]},
                        {"sessions", p.system["sessions"]},
                        {"legit-call", p.legit},
                        {"sccrq-dropped", c["sccrq-dropped"]},
                        {"tunnels-refused", c["tunnels-refused"]},
                        {"sessions-refused-setup", c["sessions-refused-setup"]},
                        {"call-setup-timeouts", c["call-setup-timeouts"]},
                        {"reorder-dropped", c["reorder-dropped"]},
                        {"send-queue-overflows", c["send-queue-overflows"]},
                        {"limits-usage", p.system["limits-usage"]}};
    std::printf("%s\n", j.dump().c_str());
}

template <class F>
double timed(F&& f) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<std::uint8_t> sccrq(std::uint16_t tid) {
    l2tp::SccrqParams p;
    p.assigned_tunnel_id = tid ? tid : 1;
    p.host_name = "flood";
    return l2tp::make_sccrq(p).bytes();
}

Phase sccrq_flood(const char* name, std::uint32_t n, bool many_hosts, bool refused) {
    lnsd::LnsdConfig cfg;
    if (refused) cfg.accept_unknown_peers = false;
    // The legitimate LAC is a configured peer (`peers:`): it keeps its share of the setup slots.
    cfg.peers.push_back({ip(0x0A000002), "", false});
    Rig r(cfg);
    Phase p{name};
    p.heap_before = heap_in_use();
    std::vector<std::vector<std::uint8_t>> msgs;
    msgs.reserve(n);
    for (std::uint32_t i = 0; i < n; ++i) msgs.push_back(sccrq(static_cast<std::uint16_t>(i + 1)));
    p.heap_before = heap_in_use();
    p.seconds = timed([&] {
        for (std::uint32_t i = 0; i < n; ++i) {
            const PeerId from = many_hosts ? lnsd::peer_id(ip(0x0B000000u + i), 1701)
                                           : lnsd::peer_id(ip(0x0A000009), static_cast<std::uint16_t>(i + 1));
            r.lns->receive(from, msgs[i]);
        }
    });
    p.datagrams = n;
    p.heap_flood = heap_in_use();
    p.legit = r.legit_call();
    p.system = r.counters();
    return p;
}

/// An established tunnel of the attacker (a LAC-role engine), then N ICRQs crafted on it.
Phase icrq_flood(const char* name, std::uint32_t n, bool ack) {
    Rig r;
    const ReliableChannel* ch = &r.attacker_tunnel();
    Phase p{name};
    std::uint16_t ns = ch->next_ns();
    const std::uint16_t nr_fixed = ch->next_nr();
    p.heap_before = heap_in_use();
    for (std::uint32_t i = 0; i < n; i += 256) {
        p.seconds += timed([&] {
            for (std::uint32_t k = i; k < std::min(n, i + 256); ++k) {
                l2tp::IcrqParams q;
                q.assigned_session_id = static_cast<std::uint16_t>(k % 65535 + 1);
                q.call_serial_number = k;
                l2tp::L2TP m = l2tp::make_icrq(q);
                m.set_tunnel_id(ch->peer_tunnel_id());
                // Acknowledging: Nr = what the attacker's engine has received (it gets the ICRPs);
                // not acknowledging: the Nr of before the flood, for ever.
                m.set_sequence(ns++, ack ? ch->next_nr() : nr_fixed);
                r.lns->receive(kAttacker, m.bytes());
            }
        });
        r.loop.advance(2ms);  // the ICRPs reach the attacker's engine (its channel's Nr moves)
    }
    p.datagrams = n;
    p.heap_flood = heap_in_use();
    p.legit = r.legit_call();
    if (ack) r.loop.advance(31s);  // call-setup: the half-open calls are cleared (CDN 10)
    p.system = r.counters();
    return p;
}

Phase reorder_flood(const char* name, std::uint32_t n) {
    Rig r;
    const ReliableChannel* ch = &r.attacker_tunnel();
    Phase p{name};
    const std::uint16_t gap = ch->next_ns();
    // HELLOs made ~8 KiB large by optional vendor AVPs (ignored, RFC 2661 §4.1), each Ns once
    // ahead of a gap that is never filled: without a bound, window (16) × message size (≤ 64 KiB).
    const std::vector<std::uint8_t> filler(1000, 0xAB);
    std::vector<std::vector<std::uint8_t>> msgs;
    for (std::uint16_t k = 1; k < 16; ++k) {
        l2tp::L2TP m = l2tp::make_hello({});
        for (int a = 0; a < 8; ++a) m.add_avp(9, 1, 0, filler);
        m.set_tunnel_id(ch->peer_tunnel_id());
        m.set_sequence(static_cast<std::uint16_t>(gap + k), ch->next_nr());
        msgs.push_back(m.bytes());
    }
    p.heap_before = heap_in_use();
    for (std::uint32_t i = 0; i < n; i += 256) {
        p.seconds += timed([&] {
            for (std::uint32_t k = i; k < std::min(n, i + 256); ++k) r.lns->receive(kAttacker, msgs[k % msgs.size()]);
        });
        r.loop.advance(2ms);  // the LNS's ZLBs reach the attacker (the rig's link, not lnsd's memory)
    }
    p.datagrams = n;
    p.heap_flood = heap_in_use();
    p.legit = r.legit_call();
    p.system = r.counters();
    return p;
}

}  // namespace

int main(int argc, char** argv) {
    const std::uint32_t n = argc > 1 ? static_cast<std::uint32_t>(std::strtoul(argv[1], nullptr, 10)) : 65535;
    bool ok = true;
    for (const Phase& p : {sccrq_flood("sccrq-one-host", n, false, false), sccrq_flood("sccrq-many-hosts", n, true, false),
                           sccrq_flood("sccrq-refused", n, true, true), icrq_flood("icrq-no-iccn", n, true),
                           icrq_flood("icrq-no-ack", n, false), reorder_flood("out-of-order", n)}) {
        report(p);
        ok = ok && p.legit;
    }
    return ok ? 0 : 1;
}
