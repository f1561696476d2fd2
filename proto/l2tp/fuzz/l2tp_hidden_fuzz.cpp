// libFuzzer harness: parse then unhide every hidden AVP with a fixed secret; read all values.
#include <cstdint>
#include <cstdlib>

#include "dl/l2tp/l2tp.hpp"
#include "dl/l2tp/validate.hpp"
#include "dl/proto/errors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 0xFFFF) return 0;
    try {
        dl::l2tp::L2TP m(data, static_cast<std::uint32_t>(size));
        const auto before = m.serialize();
        m.unhide("fuzz-secret");
        for (const auto& a : m.avps()) {
            volatile std::uint8_t sink = 0;
            for (auto b : a.value()) sink = static_cast<std::uint8_t>(sink ^ b);
            (void)sink;
        }
        (void)dl::l2tp::check(m);
        try {
            (void)m.called_number();
            (void)m.assigned_session_id();
            (void)m.proxy_authen_response();
        } catch (const dl::proto::ParseError&) {
        }
        if (m.serialize() != before) std::abort();  // unhiding never changes the wire form
    } catch (const dl::proto::ParseError&) {
    }
    return 0;
}
