// libFuzzer harness: L2TP data header + PPP parsing, and a route lookup of whatever IPv4 is inside.
#include <cstddef>
#include <cstdint>

#include "dl/dataplane/framing.hpp"
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
    }
    return 0;
}
