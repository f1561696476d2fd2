// libFuzzer: arbitrary LCP packets into an Automaton in Opened (never a crash, never a stuck state).
#include <cstddef>
#include <cstdint>
#include <span>

#include "dl/core/timer_queue.hpp"
#include "dl/ppp/engine/automaton.hpp"

namespace {
struct NullPolicy final : dl::ppp::engine::CpPolicy {
    void build_request(std::vector<dl::ppp::CpOption>&) override {}
    dl::ppp::engine::CrVerdict check_request(const std::vector<dl::ppp::CpOption>& in,
                                              std::vector<dl::ppp::CpOption>& reply, bool) override {
        reply = in;
        return in.empty() ? dl::ppp::engine::CrVerdict::ack : dl::ppp::engine::CrVerdict::reject;
    }
    void on_ack(const std::vector<dl::ppp::CpOption>&) override {}
    void on_nak(const std::vector<dl::ppp::CpOption>&, bool) override {}
    dl::ppp::engine::CpEvent classify_extra(const dl::ppp::ControlPacket&) override {
        return dl::ppp::engine::CpEvent::rxr;
    }
    void this_layer_up() override {}
    void this_layer_down() override {}
    void this_layer_finished() override {}
    void send(std::vector<std::uint8_t>) override {}
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    dl::core::VirtualTimeLoop loop;
    NullPolicy pol;
    dl::ppp::engine::Automaton a("ppp.lcp", dl::ppp::ControlProtocol::lcp, pol, {nullptr, &loop.timers(), nullptr},
                                 "f");
    a.open();
    a.up();
    // Split the input into packets at 0xff 0xff markers.
    std::size_t start = 0;
    for (std::size_t i = 0; i + 1 < size; ++i)
        if (data[i] == 0xff && data[i + 1] == 0xff) {
            a.receive(std::span(data + start, i - start));
            start = i + 2;
            loop.advance(std::chrono::seconds(1));
        }
    a.receive(std::span(data + start, size - start));
    loop.advance(std::chrono::seconds(60));
    return 0;
}
