// libFuzzer harness: arbitrary bytes as trigger packets and upcall sequences into one manager.
#include <cstddef>
#include <cstdint>
#include <span>

#include "dl/core/event.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/dialout/manager.hpp"
#include "dl/radius/client/builders.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace dl::dialout;
    static dl::core::VirtualTimeLoop loop;
    static dl::core::EventBus bus(loop.clock());
    static dl::core::TimerRegistry reg;
    static Manager* m = [] {
        ChassisConfig c;
        c.max_connecting_sessions = 2;
        auto* mm = new Manager(bus, loop.timers(), reg, {}, c);
        mm->set_profile({"p"});
        mm->add_target({"default", *dl::core::Ipv4Prefix::parse("10.0.0.0/8"), "d", "p", "1:1"});
        mm->vr_operational("default", true);
        return mm;
    }();
    if (size < 2) return 0;
    const std::uint8_t op = data[0];
    std::span<const std::uint8_t> rest(data + 1, size - 1);
    (void)m->trigger("default", rest);
    if (auto d = Manager::ipv4_destination(rest)) {
        SessionKey k{"default", *dl::core::Ipv4Prefix::parse("10.0.0.0/8"), *d};
        dl::radius::client::DialOutDefinition def;
        def.service_type = op & 1 ? 5 : 2;
        def.tunnels.push_back({1, 3, 1, "192.0.2.1", {}, {}, {}, {}, {}, {}});
        switch (op % 8) {
            case 0: m->grant(k, def); break;
            case 1: m->deny(k, DenyReason::access_reject); break;
            case 2: m->call_connected(k); break;
            case 3: m->call_failed(k, 2, 17); break;
            case 4: m->call_closed(k); break;
            case 5: m->access_route_installed(k, {{*d, static_cast<std::uint8_t>(op % 33)}}); break;
            case 6: try { m->session_reset(k); } catch (const DialOutError&) {} break;
            default: loop.advance(std::chrono::seconds(op)); break;
        }
    }
    return 0;
}
