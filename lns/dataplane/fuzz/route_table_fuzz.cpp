// libFuzzer harness: arbitrary insert / remove / remove_session / lookup sequences on a RouteTable,
// every lookup checked against a linear longest-match scan of a reference list.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "dl/dataplane/route_table.hpp"

using namespace dl::dataplane;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    RouteTable t;
    std::vector<Route> ref;
    auto rd32 = [&](std::size_t at) {
        return (std::uint32_t{data[at]} << 24) | (std::uint32_t{data[at + 1]} << 16) |
               (std::uint32_t{data[at + 2]} << 8) | data[at + 3];
    };
    for (std::size_t i = 0; i + 7 <= size; i += 7) {
        const std::uint8_t op = data[i] & 3;
        const std::uint8_t len = static_cast<std::uint8_t>(data[i + 1] % 33);
        // Few distinct addresses so that prefixes overlap often.
        const std::uint32_t addr = rd32(i + 2) & 0xFF0F00F3u;
        const SessionHandle s = data[i + 6] % 8;
        dl::core::Ipv4Prefix p = dl::core::Ipv4Prefix{{addr}, len}.network();
        auto it = ref.begin();
        for (; it != ref.end(); ++it)
            if (it->prefix == p) break;
        switch (op) {
            case 0: {
                const auto r = t.insert(p, s, RouteKind::framed_route);
                if (it == ref.end()) {
                    if (r != RouteTable::Insert::inserted) __builtin_trap();
                    ref.push_back({p, s, RouteKind::framed_route});
                } else if ((it->session == s) != (r == RouteTable::Insert::already_present)) {
                    __builtin_trap();
                }
                break;
            }
            case 1: {
                const bool want = it != ref.end() && it->session == s;
                if (t.remove(p, s) != want) __builtin_trap();
                if (want) ref.erase(it);
                break;
            }
            case 2: {
                const auto removed = t.remove_session(s);
                std::size_t n = 0;
                for (auto r = ref.begin(); r != ref.end();) {
                    if (r->session == s) {
                        r = ref.erase(r);
                        ++n;
                    } else {
                        ++r;
                    }
                }
                if (removed.size() != n) __builtin_trap();
                break;
            }
            default: {
                const Route* best = nullptr;
                for (const auto& r : ref)
                    if (r.prefix.contains({addr}) && (!best || r.prefix.length > best->prefix.length)) best = &r;
                const Route* got = t.lookup(addr);
                if ((best == nullptr) != (got == nullptr)) __builtin_trap();
                if (best && (got->prefix != best->prefix || got->session != best->session)) __builtin_trap();
                break;
            }
        }
        if (t.size() != ref.size()) __builtin_trap();
    }
    return 0;
}
