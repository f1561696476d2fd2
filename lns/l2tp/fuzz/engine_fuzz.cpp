// libFuzzer: arbitrary datagrams into an LNS-role engine (RFC 2661 control and data messages).
// Input: a sequence of chunks |len(2)|datagram(len)|; virtual time moves 300 ms between chunks.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <span>

#include "dl/l2tp/engine/engine.hpp"

using namespace dl::l2tp::engine;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    dl::core::VirtualTimeLoop loop;
    dl::core::EventBus bus(loop.clock());
    dl::core::TimerRegistry registry;
    EngineConfig cfg;
    cfg.seed = 1;
    cfg.secret = (size & 1) ? "secret" : "";
    std::size_t sent = 0;
    EngineCallbacks cb;
    cb.send = [&](PeerId, std::vector<std::uint8_t> d) { sent += d.size(); };
    cb.ocrq = [](SessionKey, const OutgoingCall&) {};
    Engine e(loop.timers(), registry, bus, cfg, cb);
    e.place_outgoing_call(1, OutgoingCall{});
    std::size_t i = 0;
    while (i + 2 <= size) {
        std::size_t len = (static_cast<std::size_t>(data[i]) << 8 | data[i + 1]) % 2048;
        i += 2;
        len = std::min(len, size - i);
        e.receive(data[i - 1] & 1, std::span<const std::uint8_t>(data + i, len));
        i += len;
        loop.advance(std::chrono::milliseconds(300));
    }
    loop.advance(std::chrono::minutes(3));
    return 0;
}
