// libFuzzer: the LAC core (engine in LAC role + Lac glue) driven by arbitrary exchange messages
// and L2TP datagrams, after a real outgoing call and an incoming call have been set up; it must
// never crash, leak or touch freed calls.
#include <cstddef>
#include <cstdint>

#include "dl/core/event.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/lac/lac.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace dl;
    core::VirtualTimeLoop loop;
    core::EventBus bus(loop.clock());
    core::TimerRegistry registry;
    l2tp::engine::register_l2tp_timers(registry);
    lac::LacConfig cfg;
    cfg.domains = {{"*", 1}};
    lac::Lac lac(loop.timers(), registry, bus, cfg, [](const isdn::Message&) {});
    l2tp::engine::EngineConfig ec;
    ec.seed = 1;
    l2tp::engine::Engine engine(loop.timers(), registry, bus, ec, lac.callbacks([](l2tp::engine::PeerId, std::vector<std::uint8_t>) {}));
    lac.bind(engine);
    lac.start();
    // An incoming call from a client, so that the incoming path is live too.
    lac.isdn_receive(isdn::Message::setup(0x8001, "1701", "5551000", isdn::Bearer::digital));
    // Split the input at 0xFE: even chunks are exchange datagrams, odd ones L2TP datagrams.
    std::size_t start = 0;
    bool isdn_turn = true;
    for (std::size_t i = 0; i <= size; ++i) {
        if (i == size || data[i] == 0xFE) {
            std::span<const std::uint8_t> chunk(data + start, i - start);
            if (isdn_turn) {
                try {
                    lac.isdn_receive(isdn::Message::decode(chunk));
                } catch (const isdn::DecodeError&) {
                }
            } else {
                engine.receive(1, chunk);
            }
            isdn_turn = !isdn_turn;
            start = i + 1;
            loop.advance(std::chrono::milliseconds(300));
        }
    }
    loop.advance(std::chrono::seconds(40));
    lac.isdn_down();
    loop.advance(std::chrono::seconds(1));
    return 0;
}
