// isdn-emu: the emulated narrowband network. A thin Boost.Asio shell: subscribers
// connect to a Unix SOCK_SEQPACKET socket (unix_link.hpp), the sans-I/O Exchange does the rest;
// control API (lns/core ControlServer) for state, events and per-number behaviour at run time.
//
//   isdn-emu --socket PATH [--control PATH] [--config FILE] [--events FILE]
//
// Config (YAML, every key optional):
//   socket: /run/dl/isdn.sock
//   control: /run/dl/isdn.ctl
//   timers: {no-answer: 30s}
//   numbers:                      # per-number behaviour (exchange.hpp NumberPolicy)
//     "5551000": {behaviour: answer}
//     "5551002": {behaviour: busy}
//     "5551003": {behaviour: drop-after, delay: 10s, cause: 41}
#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <fmt/format.h>

#include "dl/core/daemon.hpp"
#include "dl/core/config.hpp"
#include "dl/core/control.hpp"
#include "dl/core/duration.hpp"
#include "dl/core/errors.hpp"
#include "dl/core/event.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/isdn/exchange.hpp"
#include "dl/isdn/unix_link.hpp"

namespace {

dl::isdn::NumberPolicy policy_from_config(const dl::core::ConfigNode& n) {
    n.require_map();
    n.allow_keys({"behaviour", "delay", "cause", "speed", "channels", "bearer"});
    nlohmann::json j = nlohmann::json::object();
    if (n.has("behaviour")) j["behaviour"] = n["behaviour"].as_string();
    if (n.has("delay")) j["delay"] = dl::core::format_duration(n["delay"].as_duration());
    if (n.has("cause")) j["cause"] = n["cause"].as_int(1, 127);
    if (n.has("speed")) j["speed"] = n["speed"].as_int(0, 0xFFFFFFFF);
    if (n.has("channels")) j["channels"] = n["channels"].as_int(0, 65535);
    if (n.has("bearer")) j["bearer"] = n["bearer"].as_string();
    try {
        return dl::isdn::NumberPolicy::from_json(j);
    } catch (const std::invalid_argument& e) {
        throw dl::core::ConfigError(n.path(), n.text(), e.what());
    }
}

int usage() {
    std::cerr << "usage: isdn-emu --socket PATH [--control PATH] [--config FILE] [--events FILE]\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::string socket_path, control_path, config_path, events_path;
    dl::core::EventFlush events_flush = dl::core::EventFlush::line;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--socket") socket_path = next();
        else if (a == "--control") control_path = next();
        else if (a == "--config") config_path = next();
        else if (a == "--events") events_path = next();
        else return usage();
    }
    try {
        dl::core::DaemonShell shell("isdn-emu");
        auto& io = shell.io;
        auto& timers = shell.timers;
        auto& bus = shell.bus;
        auto& registry = shell.registry;
        std::optional<dl::isdn::SeqPacketServer> server;
        dl::isdn::Exchange exchange(bus, timers, registry, [&](dl::isdn::Exchange::EndpointId ep, const dl::isdn::Message& m) {
            auto bytes = m.encode();
            server->send(ep, bytes);
        });

        if (!config_path.empty()) {
            auto cfg = dl::core::ConfigNode::load_file(config_path);
            cfg.allow_keys({"socket", "control", "events", "events-flush", "timers", "numbers"});
            events_flush = dl::core::event_flush_from(cfg);
            if (socket_path.empty()) socket_path = cfg.get_string("socket", "");
            if (control_path.empty()) control_path = cfg.get_string("control", "");
            if (events_path.empty()) events_path = cfg.get_string("events", "");
            if (cfg.has("timers")) registry.load(cfg["timers"]);
            if (cfg.has("numbers")) {
                auto nums = cfg["numbers"];
                nums.require_map();
                for (const auto& k : nums.keys()) {
                    if (!dl::isdn::valid_number(k))
                        throw dl::core::ConfigError(nums.path() + "." + k, k, "is not 1..32 digits 0-9 * #");
                    exchange.set_policy(k, policy_from_config(nums[k]));
                }
            }
        }
        if (socket_path.empty()) return usage();

        shell.log_events(events_path, events_flush);

        server.emplace(io, socket_path,
                       dl::isdn::SeqPacketServer::Handlers{
                           [&](dl::isdn::SeqPacketServer::Id id) { exchange.attach(id, fmt::format("unix:{}", id)); },
                           [&](dl::isdn::SeqPacketServer::Id id, std::span<const std::uint8_t> d) { exchange.receive_bytes(id, d); },
                           [&](dl::isdn::SeqPacketServer::Id id) { exchange.detach(id); }});
        server->start();

        if (auto* control = shell.open_control(control_path)) {
            control->add_handler("show state", [&](const nlohmann::json&) { return exchange.state(); },
                                 "endpoints, numbers, calls, policies and counters");
            control->add_handler("show calls", [&](const nlohmann::json&) { return exchange.state()["calls"]; }, "calls");
            control->add_handler("show timers", [&](const nlohmann::json&) { return nlohmann::json::parse(registry.to_json()); },
                                 "timers");
            control->add_handler(
                "set number",
                [&](const nlohmann::json& a) {
                    if (!a.contains("number") || !a["number"].is_string()) throw dl::core::ControlError("args.number is required");
                    auto p = dl::isdn::NumberPolicy::from_json(a);
                    exchange.set_policy(a["number"].get<std::string>(), p);
                    return p.to_json();
                },
                "{number, behaviour, delay, cause, speed, channels, bearer}: per-number behaviour");
            control->add_handler(
                "clear number",
                [&](const nlohmann::json& a) {
                    exchange.clear_policy(a.value("number", std::string{}));
                    return nlohmann::json{{"cleared", true}};
                },
                "{number}: back to the default behaviour");
            control->add_handler(
                "refuse next",
                [&](const nlohmann::json& a) {
                    int c = a.value("cause", 21);
                    if (c < 1 || c > 127) throw dl::core::ControlError("cause must be 1..127");
                    exchange.refuse_next(static_cast<std::uint8_t>(c));
                    return nlohmann::json{{"cause", c}};
                },
                "{cause}: refuse the next SETUP with this Q.850 cause (default 21)");
            control->add_handler(
                "hangup",
                [&](const nlohmann::json& a) {
                    int c = a.value("cause", 16);
                    if (c < 1 || c > 127) throw dl::core::ControlError("cause must be 1..127");
                    if (!exchange.hangup(a.value("call", std::string{}), static_cast<std::uint8_t>(c)))
                        throw dl::core::ControlError("no such call");
                    return nlohmann::json{{"released", true}};
                },
                "{call: \"c1\", cause}: release a call both ways");
            control->start();
        }

        return shell.run();
    } catch (const std::exception& e) {
        std::cerr << "isdn-emu: " << e.what() << "\n";
        return 1;
    }
}
