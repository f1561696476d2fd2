// libFuzzer: Message::decode must only ever throw DecodeError, and what it accepts re-encodes
// to something that decodes to the same message; the exchange survives any datagram.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "dl/core/event.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/isdn/exchange.hpp"
#include "dl/isdn/message.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace dl::isdn;
    try {
        Message m = Message::decode({data, size});
        Message again = Message::decode(m.encode());
        if (again.describe() != m.describe() || again.payload != m.payload || again.numbers != m.numbers) std::abort();
    } catch (const DecodeError&) {
    }
    static dl::core::VirtualTimeLoop loop;
    static dl::core::EventBus bus(loop.clock());
    static dl::core::TimerRegistry reg;
    static Exchange ex(bus, loop.timers(), reg, [](Exchange::EndpointId, const Message&) {});
    static bool init = [] {
        ex.receive(1, Message::reg({"100"}));
        NumberPolicy p;
        p.behaviour = Behaviour::answer_after;
        p.delay = std::chrono::seconds(1);
        ex.set_policy("200", p);
        return true;
    }();
    (void)init;
    // Split the input into datagrams from two endpoints at 0xFF bytes.
    std::size_t start = 0;
    Exchange::EndpointId ep = 1;
    for (std::size_t i = 0; i <= size; ++i) {
        if (i == size || data[i] == 0xFF) {
            ex.receive_bytes(ep, {data + start, i - start});
            ep = ep == 1 ? 2 : 1;
            start = i + 1;
            loop.advance(std::chrono::milliseconds(700));
        }
    }
    return 0;
}
