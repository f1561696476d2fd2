// libFuzzer harness: AsyncDeframer fed arbitrary bytes in input-chosen chunks, and decode_sync.
// Properties: never crash, bounded frames, and every delivered frame survives encode/deframe.
#include <cstdint>
#include <span>
#include <vector>

#include "dl/ppp/hdlc.hpp"
#include "dl/proto/errors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 3) return 0;
    dl::ppp::DeframerOptions o;
    o.fcs32 = data[0] & 1;
    o.accm = (data[0] & 2) ? 0xffffffffu : 0u;
    o.mru = static_cast<std::uint16_t>(64 + data[1] * 8);
    const std::size_t chunk = 1 + data[2] % 64;
    std::span<const std::uint8_t> in(data + 3, size - 3);

    dl::ppp::AsyncDeframer d(o);
    std::vector<std::uint8_t> enc;
    while (!in.empty()) {
        std::span<const std::uint8_t> c = in.first(std::min(chunk, in.size()));
        in = in.subspan(c.size());
        while (auto f = d.next(c)) {
            if (f->empty() || f->size() > o.mru + 4u) __builtin_trap();
            const std::vector<std::uint8_t> frame(f->begin(), f->end());
            enc.clear();
            dl::ppp::AsyncOptions ao;
            ao.fcs32 = o.fcs32;
            ao.accm = o.accm;
            ao.lcp_defaults = false;
            dl::ppp::encode_async(frame, ao, enc);
            dl::ppp::AsyncDeframer d2(o);
            auto back = d2.feed(enc);
            // Frames beginning 0xff 0x03 lose it on re-deframing (Address/Control is stripped);
            // otherwise the round trip must be exact.
            if (!(frame.size() >= 2 && frame[0] == 0xff)) {
                if (back.size() != 1 || back[0] != frame) __builtin_trap();
            }
        }
    }
    try {
        (void)dl::ppp::decode_sync({data, size}, data[0] & 1);
    } catch (const dl::proto::ParseError&) {
    }
    return 0;
}
