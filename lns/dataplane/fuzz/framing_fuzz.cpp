// libFuzzer harness: L2TP data header + PPP parsing, a route lookup of whatever IPv4 is inside, and
// its IPv4 fragmentation to an MTU taken from the input (every fragment fits the MTU).
#include <cstddef>
#include <cstdint>

#include "dl/dataplane/framing.hpp"
#include "dl/dataplane/ipv4_fragment.hpp"
#include "dl/dataplane/route_table.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static dl::dataplane::RouteTable* table = [] {
        auto* t = new dl::dataplane::RouteTable;
        t->insert({{0x0A000000}, 8}, 1, dl::dataplane::RouteKind::access);
        t->insert({{0x0A0A0101}, 32}, 2, dl::dataplane::RouteKind::framed_ip);
        return t;
    }();
    dl::dataplane::DataMessage m;
    dl::dataplane::DecapError e{};
    auto ip = dl::dataplane::decap_l2tp_ppp_ipv4({data, size}, &m, &e);
    if (ip) {
        if (ip->data() < data || ip->data() + ip->size() > data + size) __builtin_trap();
        if (auto dst = dl::dataplane::ipv4_destination(*ip)) {
            volatile auto* r = table->lookup(*dst);
            (void)r;
        }
        const std::size_t mtu = size > 1 ? 24u + (std::size_t{data[0]} << 2) : 576u;
        const auto plan = dl::dataplane::plan_ipv4_fragments(*ip, mtu);
        static std::uint8_t out[65536];
        if (plan.verdict == dl::dataplane::FragmentVerdict::fragment)
            for (std::size_t k = 0; k < plan.count; ++k) {
                const auto n = dl::dataplane::write_ipv4_fragment(*ip, plan, k, out);
                if (n == 0 || n > mtu) __builtin_trap();
            }
    }
    return 0;
}
