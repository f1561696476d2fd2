// cpe-emu: emulated remote-office routers. Thin Boost.Asio shell around dl::cpe::Cpe:
// one connection to isdn-emu for every site, control API (lns/core ControlServer).
//
//   cpe-emu --config FILE
//
// Config (YAML):
//   isdn: /run/dl/isdn.sock
//   control: /run/dl/cpe.ctl
//   events: /run/dl/cpe-events.jsonl
//   timers: {ppp-restart: 3s}
//   sites:                         # one PPP peer each (cpe.hpp SiteConfig)
//     - {number: "5551000", name: cpe-remote, secret: cpe-pass, auth: [pap, chap],
//        require_auth: none, users: {lns: lns-secret}, local_ip: 10.10.1.254, fault: none,
//        tun: {name: cpe0, routes: [203.0.113.0/24, 192.0.2.0/24], mtu: 1500}}   # or routes: [default]
//     # tun: created at IPCP up with the IPCP local address /32 (+ host route to the peer) and the
//     # routes; IPv4 from the PPP link goes to it, IPv4 read from it goes over the link; removed
//     # when the link goes down (needs CAP_NET_ADMIN; counters in `show state`).
//   range: {first: "5552000", count: 1000, name: "site{}", secret: "pass{}"}   # load tests
//   radius:                        # the CPE's own RADIUS server (dl/peers/radius.hpp): sites with
//     servers: [{address: 192.0.2.12, secret: s}]   # `lns_auth: radius` check the LNS's PAP / CHAP
//     nas_identifier: cpe-emu      # response with an Access-Request to it (Access-Accept = accepted)
#include <csignal>
#include <iostream>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <fmt/format.h>

#include "dl/core/daemon.hpp"
#include "dl/core/config.hpp"
#include "dl/core/control.hpp"
#include "dl/core/errors.hpp"
#include "dl/core/event.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/cpe/cpe.hpp"
#include "dl/cpe/site_tun.hpp"
#include "dl/isdn/unix_link.hpp"
#include "dl/peers/radius.hpp"

namespace {
// A YAML node as JSON (scalars as strings, which SiteConfig::from_json converts where needed).
nlohmann::json to_json(const dl::core::ConfigNode& n) {
    if (n.is_map()) {
        nlohmann::json j = nlohmann::json::object();
        for (const auto& k : n.keys()) j[k] = to_json(n[k]);
        return j;
    }
    if (n.is_sequence()) {
        nlohmann::json j = nlohmann::json::array();
        for (std::size_t i = 0; i < n.size(); ++i) j.push_back(to_json(n.at(i)));
        return j;
    }
    return n.as_string();
}

dl::cpe::SiteConfig site_from(const dl::core::ConfigNode& n) {
    n.require_map();
    n.allow_keys({"number", "name", "secret", "auth", "require_auth", "users", "lns_auth", "local_ip", "mru", "fault", "speed",
                  "tun"});
    if (n.has("tun")) {
        auto t = n["tun"];
        t.require_map();
        t.allow_keys({"name", "routes", "mtu"});
        if (t.has("routes")) t["routes"].require_sequence();
    }
    nlohmann::json j = to_json(n);
    if (n.has("mru")) j["mru"] = n["mru"].as_int(128, 16384);
    if (n.has("speed")) j["speed"] = n["speed"].as_int(0, 0xFFFFFFFF);
    try {
        return dl::cpe::SiteConfig::from_json(j);
    } catch (const std::invalid_argument& e) {
        throw dl::core::ConfigError(n.path(), n.text(), e.what());
    }
}
}  // namespace

int main(int argc, char** argv) {
    std::string config_path;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--config" && i + 1 < argc) config_path = argv[++i];
        else {
            std::cerr << "usage: cpe-emu --config FILE\n";
            return 2;
        }
    }
    if (config_path.empty()) {
        std::cerr << "usage: cpe-emu --config FILE\n";
        return 2;
    }
    try {
        auto cfg = dl::core::ConfigNode::load_file(config_path);
        cfg.allow_keys({"isdn", "control", "events", "events-flush", "timers", "sites", "range", "radius"});
        dl::core::DaemonShell shell("cpe-emu");
        auto& io = shell.io;
        auto& timers = shell.timers;
        auto& bus = shell.bus;
        auto& registry = shell.registry;
        std::optional<dl::peers::RadiusRuntime> radius;  // outlives the Cpe (its requests are cancelled first)
        std::optional<dl::isdn::SeqPacketClient> isdn;
        dl::cpe::Cpe cpe(timers, registry, bus, [&](const dl::isdn::Message& m) {
            if (isdn && isdn->connected()) isdn->send(m.encode());
        });
        cpe.set_tun_factory(dl::cpe::make_asio_tun_factory(io));
        if (cfg.has("radius")) {
            radius.emplace(io, timers, registry, bus, dl::peers::radius_section_from(cfg["radius"]));
            cpe.bind_radius(radius->client(), radius->section().nas, std::string(dl::peers::kRadiusVr));
        }
        if (cfg.has("timers")) registry.load(cfg["timers"]);
        if (cfg.has("sites")) {
            auto sites = cfg["sites"];
            sites.require_sequence();
            for (std::size_t i = 0; i < sites.size(); ++i) cpe.add_site(site_from(sites.at(i)));
        }
        if (cfg.has("range")) {
            auto r = cfg["range"];
            r.allow_keys({"first", "count", "name", "secret", "auth", "require_auth", "lns_auth", "fault"});
            const std::string first = r["first"].as_string();
            const auto count = r.get_int("count", 1, 1, 100000);
            const auto base = std::stoull(first);
            for (std::int64_t i = 0; i < count; ++i) {
                nlohmann::json j{{"number", fmt::format("{:0{}}", base + static_cast<unsigned long long>(i), first.size())}};
                j["name"] = fmt::format(fmt::runtime(r.get_string("name", "site{}")), i);
                j["secret"] = fmt::format(fmt::runtime(r.get_string("secret", "cpe-pass")), i);
                if (r.has("fault")) j["fault"] = r["fault"].as_string();
                if (r.has("require_auth")) j["require_auth"] = r["require_auth"].as_string();
                if (r.has("lns_auth")) j["lns_auth"] = r["lns_auth"].as_string();
                if (r.has("auth")) j["auth"] = to_json(r["auth"]);
                cpe.add_site(dl::cpe::SiteConfig::from_json(j));
            }
        }

        shell.log_events(cfg.get_string("events", ""), dl::core::event_flush_from(cfg));

        isdn.emplace(io, dl::isdn::SeqPacketClient::Handlers{
                             [&](std::span<const std::uint8_t> d) {
                                 try {
                                     cpe.isdn_receive(dl::isdn::Message::decode(d));
                                 } catch (const dl::isdn::DecodeError& e) {
                                     bus.publish({.entity = "cpe.isdn", .event = "malformed", .cause = e.what()});
                                 }
                             },
                             [&] {
                                 cpe.isdn_down();
                                 bus.publish({.entity = "cpe.isdn", .event = "down"});
                             }});
        isdn->connect(cfg["isdn"].as_string());
        cpe.start();

        if (auto* control = shell.open_control(cfg.get_string("control", ""))) {
            control->add_handler("show state", [&](const nlohmann::json&) {
                auto j = cpe.state();
                j["isdn_connected"] = isdn->connected();
                if (radius) j["radius"] = radius->state();
                return j;
            }, "sites, their calls and PPP layers");
            control->add_handler("set fault", [&](const nlohmann::json& a) {
                auto f = dl::cpe::fault_from_string(a.value("fault", std::string("none")));
                if (!cpe.set_fault(a.value("number", std::string{}), f)) throw dl::core::ControlError("no such site");
                return nlohmann::json{{"fault", std::string(to_string(f))}};
            }, "{number, fault: none|wrong-password|refuse-auth|no-lcp|no-answer|busy|reject}");
            control->add_handler("dial", [&](const nlohmann::json& a) {
                const auto b = a.value("bearer", std::string("digital"));
                if (b != "digital" && b != "analog") throw dl::core::ControlError("bearer must be digital or analog");
                if (!cpe.dial(a.value("number", std::string{}), a.value("called", std::string{}),
                              b == "analog" ? dl::isdn::Bearer::analog : dl::isdn::Bearer::digital))
                    throw dl::core::ControlError("no such site, or the site is in a call");
                return nlohmann::json{{"dialling", true}};
            }, "{number, called, bearer}: the site places a call (e.g. to the LAC: L2TP incoming call)");
            control->add_handler("hangup", [&](const nlohmann::json& a) {
                const int c = a.value("cause", 16);
                if (c < 1 || c > 127) throw dl::core::ControlError("cause must be 1..127");
                if (!cpe.hangup(a.value("number", std::string{}), static_cast<std::uint8_t>(c)))
                    throw dl::core::ControlError("no call on that number");
                return nlohmann::json{{"released", true}, {"cause", c}};
            }, "{number, cause: 16}: release the site's call with this Q.850 cause");
            control->start();
        }

        return shell.run();
    } catch (const std::exception& e) {
        std::cerr << "cpe-emu: " << e.what() << "\n";
        return 1;
    }
}
