// lac-emu: the emulated narrowband LAC. Thin Boost.Asio shell around dl::lac::Lac and
// the RFC 2661 engine in the LAC role: one UDP socket (port 1701 on the lab address), one
// connection to isdn-emu, the control API (lns/core ControlServer) with fault injection.
//
//   lac-emu --config FILE        (or the same keys as --key value options)
//
// Config (YAML):
//   listen: 198.51.100.2        # UDP address; port 1701 unless `port:`
//   host_name: lac              # Host Name AVP
//   secret: s3cret              # default tunnel secret (RFC 2661 §5.1.1); "" = no tunnel authentication
//   hide_avps: true             # hide session AVPs (§4.3) by default
//   peers:                      # per-LNS overrides (address = the LNS's IPv4, any port)
//     - {address: 198.51.100.1, secret: other, hide_avps: false}
//   receive_window: 16
//   number: "1701"              # our ISDN number
//   channels: 30                # B-channels (simultaneous calls)
//   bearer: any                 # digital | analog | any
//   isdn: /run/dl/isdn.sock     # isdn-emu subscriber socket
//   control: /run/dl/lac.ctl
//   events: /run/dl/lac-events.jsonl
//   timers: {ocrp-delay: 0s, hello: 60s}
//   incoming: true              # answer calls to `number` (§7.4.1)
//   incoming_auth: chap         # pap | chap: what the LAC asks of dialling clients
//   domains: {example.com: 198.51.100.1, example.net: radius, "*": radius}
//                               # domain -> LNS (UDP 1701), or "radius": ask the LAC's own RADIUS
//                               # server (JunosE "Implementing L2TP"), whose Access-Accept names the LNS with the
//                               # RFC 2868 tunnel attributes; exact domain first, then "*"
//   radius:                     # the LAC's RADIUS (dl/peers/radius.hpp), needed by "radius" domains
//     servers: [{address: 192.0.2.10, port: 1812, secret: s, require_message_authenticator: true}]
//     nas_ip: 198.51.100.2
//     nas_identifier: lac-emu
#include <csignal>
#include <iostream>
#include <map>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <fmt/format.h>

#include "dl/core/daemon.hpp"
#include "dl/core/config.hpp"
#include "dl/core/control.hpp"
#include "dl/core/duration.hpp"
#include "dl/core/errors.hpp"
#include "dl/core/event.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/isdn/unix_link.hpp"
#include "dl/lac/faults.hpp"
#include "dl/lac/lac.hpp"
#include "dl/peers/radius.hpp"

namespace {
using udp = boost::asio::ip::udp;

int usage() {
    std::cerr << "usage: lac-emu --config FILE\n";
    return 2;
}
}  // namespace

int main(int argc, char** argv) {
    std::string config_path;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--config" && i + 1 < argc) config_path = argv[++i];
        else return usage();
    }
    if (config_path.empty()) return usage();
    try {
        auto cfg = dl::core::ConfigNode::load_file(config_path);
        cfg.allow_keys({"listen", "port", "host_name", "secret", "hide_avps", "peers", "receive_window", "number", "channels",
                        "bearer", "isdn", "control", "events", "events-flush", "timers", "incoming", "incoming_auth", "domains", "radius"});
        dl::core::DaemonShell shell("lac-emu");
        auto& io = shell.io;
        auto& timers = shell.timers;
        auto& bus = shell.bus;
        auto& registry = shell.registry;
        dl::l2tp::engine::register_l2tp_timers(registry);

        dl::lac::LacConfig lc;
        lc.number = cfg.get_string("number", "1701");
        lc.channels = static_cast<std::uint16_t>(cfg.get_int("channels", 30, 0, 65535));
        const std::string bearer = cfg.get_string("bearer", "any");
        if (bearer == "digital") lc.bearer_capabilities = dl::l2tp::kBearerDigital;
        else if (bearer == "analog") lc.bearer_capabilities = dl::l2tp::kBearerAnalog;
        else if (bearer != "any") throw dl::core::ConfigError("bearer", bearer, "is not digital, analog or any");
        lc.incoming = cfg.get_bool("incoming", true);
        const std::string ia = cfg.get_string("incoming_auth", "chap");
        if (ia == "pap") lc.incoming_auth = dl::ppp::engine::AuthPreference::pap;
        else if (ia != "chap") throw dl::core::ConfigError("incoming_auth", ia, "is not pap or chap");
        dl::l2tp::engine::EngineConfig ec;
        ec.host_name = cfg.get_string("host_name", "lac");
        const dl::lac::LnsSecrets secrets = dl::lac::load_lns_secrets(cfg);
        ec.secret = secrets.fallback.secret;
        ec.hide_avps = secrets.fallback.hide_avps;
        ec.receive_window = static_cast<std::uint16_t>(cfg.get_int("receive_window", 16, 1, 1024));

        std::map<dl::l2tp::engine::PeerId, udp::endpoint> peers;
        std::map<udp::endpoint, dl::l2tp::engine::PeerId> peer_ids;
        if (cfg.has("domains")) {
            auto d = cfg["domains"];
            d.require_map();
            for (const auto& k : d.keys()) {
                if (d[k].is_scalar() && d[k].as_string() == "radius") {
                    lc.radius_domains.insert(k);
                    continue;
                }
                const udp::endpoint ep(boost::asio::ip::make_address(d[k].as_ipv4().to_string()), 1701);
                auto [pit, fresh] = peer_ids.try_emplace(ep, peer_ids.size() + 1);
                if (fresh) peers[pit->second] = ep;
                lc.domains[k] = pit->second;
            }
        }
        std::optional<dl::peers::RadiusRuntime> radius;
        if (cfg.has("radius")) {
            const auto section = dl::peers::radius_section_from(cfg["radius"]);
            lc.radius_nas = section.nas;
            lc.radius_vr = std::string(dl::peers::kRadiusVr);
            radius.emplace(io, timers, registry, bus, section);
        } else if (!lc.radius_domains.empty()) {
            throw dl::core::ConfigError("domains", *lc.radius_domains.begin(),
                                        "is 'radius' but there is no radius: section with servers");
        }
        std::optional<dl::isdn::SeqPacketClient> isdn;
        dl::lac::Lac lac(timers, registry, bus, lc, [&](const dl::isdn::Message& m) {
            if (isdn && isdn->connected()) isdn->send(m.encode());
        });
        if (cfg.has("timers")) registry.load(cfg["timers"]);

        udp::socket sock(io);
        const auto listen = boost::asio::ip::make_address(cfg.get_string("listen", "0.0.0.0"));
        sock.open(listen.is_v4() ? udp::v4() : udp::v6());
        sock.set_option(udp::socket::reuse_address(true));
        // Room for bursts from the LNS (as lnsd's own socket): with the default buffer a 1 500
        // calls/s overload dropped 325 datagrams here, each costing an L2TP retransmission and
        // a collapsed congestion window (RFC 2661 Appendix A). Best effort: capped at rmem_max.
        {
            boost::system::error_code ignored;
            sock.set_option(boost::asio::socket_base::receive_buffer_size(4 << 20), ignored);
        }
        sock.bind({listen, static_cast<unsigned short>(cfg.get_int("port", 1701, 1, 65535))});

        // Fault injection at the UDP edge (dl/lac/faults.hpp); delays run on the shell's timers.
        dl::lac::FaultInjector faults;
        auto raw_send = [&sock](const udp::endpoint& to, const std::vector<std::uint8_t>& b) {
            boost::system::error_code ec2;
            sock.send_to(boost::asio::buffer(b), to, 0, ec2);
        };
        auto send = [&](dl::l2tp::engine::PeerId p, std::vector<std::uint8_t> b) {
            auto it = peers.find(p);
            if (it == peers.end()) return;
            const udp::endpoint to = it->second;
            const auto type = dl::lac::control_message_type(b);
            auto out = faults.outgoing(std::move(b));
            if (out.applied)
                bus.publish({.entity = "lac.fault", .id = "udp", .event = "applied",
                             .cause = std::string(dl::lac::to_string(*out.applied)),
                             .extra = {{"message_type", type.value_or(0)}, {"pending", faults.pending()}}});
            for (auto& e : out.emissions) {
                if (e.after == dl::core::Duration::zero()) raw_send(to, e.bytes);
                else timers.arm(e.after, [&raw_send, to, bytes = std::move(e.bytes)] { raw_send(to, bytes); });
            }
        };
        auto engine_cb = lac.callbacks(send);
        // Per-LNS secret / hiding, fixed per tunnel when it is created (SCCRQ sent or received).
        engine_cb.peer_policy = [&](dl::l2tp::engine::PeerId p) {
            auto it = peers.find(p);
            if (it == peers.end() || !it->second.address().is_v4()) return secrets.fallback;
            return secrets.policy_for(dl::core::Ipv4Address{it->second.address().to_v4().to_uint()});
        };
        dl::l2tp::engine::Engine engine(timers, registry, bus, ec, std::move(engine_cb));
        lac.bind(engine);
        if (radius) {
            // A tunnel of the LAC's RADIUS Access-Accept -> an engine peer: Tunnel-Server-Endpoint is
            // a dotted-decimal IPv4 address (RFC 2868 §3.4; FQDNs are not resolved), UDP 1701.
            lac.bind_radius(radius->client(), [&](const dl::lac::RadiusTunnel& t) -> dl::lac::PeerChoice {
                const auto addr = dl::core::Ipv4Address::parse(t.server_endpoint);
                if (!addr) return {std::nullopt, "Tunnel-Server-Endpoint is not a dotted-decimal IPv4 address"};
                // The tunnel's secret is the LNS's per-peer policy (`peers:`, else `secret`), fixed when
                // the tunnel is created: a Tunnel-Password that differs cannot be honoured.
                if (t.password && *t.password != secrets.policy_for(*addr).secret)
                    return {std::nullopt, "Tunnel-Password differs from lac-emu's tunnel secret for this LNS (`peers:` / `secret`)"};
                const udp::endpoint ep(boost::asio::ip::address_v4(addr->value), 1701);
                auto [pit, fresh] = peer_ids.try_emplace(ep, peer_ids.size() + 1);
                if (fresh) peers[pit->second] = ep;
                return {pit->second, {}};
            });
        }

        std::vector<std::uint8_t> rbuf(65536);
        udp::endpoint from;
        std::function<void()> read_loop = [&] {
            sock.async_receive_from(boost::asio::buffer(rbuf), from, [&](const boost::system::error_code& e, std::size_t n) {
                if (e == boost::asio::error::operation_aborted) return;
                if (!e) {
                    auto [it, fresh] = peer_ids.try_emplace(from, peer_ids.size() + 1);
                    if (fresh) peers[it->second] = from;
                    std::span<const std::uint8_t> d(rbuf.data(), n);
                    if (!faults.deliver(d)) {
                        bus.publish({.entity = "lac.fault", .id = "udp", .event = "hello-ignored"});
                    } else {
                        engine.receive(it->second, d);
                    }
                }
                read_loop();
            });
        };
        read_loop();

        const std::string isdn_path = cfg.get_string("isdn", "");
        std::function<void()> connect_isdn = [&] {
            if (isdn_path.empty()) return;
            isdn.emplace(io, dl::isdn::SeqPacketClient::Handlers{
                                 [&](std::span<const std::uint8_t> d) {
                                     try {
                                         lac.isdn_receive(dl::isdn::Message::decode(d));
                                     } catch (const dl::isdn::DecodeError& e) {
                                         bus.publish({.entity = "lac.isdn", .id = lc.number, .event = "malformed", .cause = e.what()});
                                     }
                                 },
                                 [&] {
                                     lac.isdn_down();
                                     bus.publish({.entity = "lac.isdn", .id = lc.number, .event = "down"});
                                 }});
            isdn->connect(isdn_path);
            lac.start();
        };
        connect_isdn();

        shell.log_events(cfg.get_string("events", ""), dl::core::event_flush_from(cfg));

        if (auto* control = shell.open_control(cfg.get_string("control", ""))) {
            control->add_handler("show state", [&](const nlohmann::json&) {
                nlohmann::json j = lac.state();
                const auto& s = engine.stats();
                j["l2tp"] = {{"tunnels", engine.tunnel_count()}, {"sessions", engine.session_count()},
                             {"malformed", s.malformed}, {"auth_failures", s.auth_failures},
                             {"not_permitted", s.not_permitted}};
                j["isdn_connected"] = isdn && isdn->connected();
                const auto& fc = faults.counters();
                j["faults_pending"] = faults.pending();
                j["ignore_hello"] = faults.ignore_hello();
                j["faults"] = {{"dropped", fc.dropped}, {"duplicated", fc.duplicated}, {"corrupted", fc.corrupted},
                               {"delayed", fc.delayed}, {"hello_ignored", fc.hello_ignored}};
                if (radius) j["radius"] = radius->state();
                return j;
            }, "calls, counters, L2TP tunnels/sessions, faults");
            control->add_handler("show timers", [&](const nlohmann::json&) { return nlohmann::json::parse(registry.to_json()); }, "timers");
            control->add_handler("refuse next", [&](const nlohmann::json& a) {
                int r = a.value("result", 4), c = a.value("cause", 34);
                if (r < 1 || r > 11 || c < 1 || c > 127) throw dl::core::ControlError("result must be 1..11, cause 1..127");
                lac.refuse_next(static_cast<dl::l2tp::CdnResult>(r), static_cast<std::uint8_t>(c));
                return nlohmann::json{{"result", r}, {"cause", c}};
            }, "{result, cause}: refuse the next OCRQ with this CDN Result Code and Q.850 cause");
            control->add_handler("hangup", [&](const nlohmann::json& a) {
                std::string id = a.value("call", std::string{});
                auto slash = id.find('/');
                std::optional<dl::l2tp::engine::SessionKey> k;
                if (slash != std::string::npos) {
                    try {
                        const unsigned long t = std::stoul(id.substr(0, slash)), s = std::stoul(id.substr(slash + 1));
                        if (t <= 0xFFFF && s <= 0xFFFF)
                            k = dl::l2tp::engine::SessionKey{static_cast<std::uint16_t>(t), static_cast<std::uint16_t>(s)};
                    } catch (const std::exception&) {
                    }
                }
                if (!k) throw dl::core::ControlError("call must be \"<tunnel>/<session>\" (decimal, 0..65535)");
                const int r = a.value("result", 3), c = a.value("cause", 16);
                if (r < 1 || r > 11 || c < 1 || c > 127) throw dl::core::ControlError("result must be 1..11, cause 1..127");
                if (!lac.hangup(*k, static_cast<dl::l2tp::CdnResult>(r), static_cast<std::uint8_t>(c)))
                    throw dl::core::ControlError("no such call");
                return nlohmann::json{{"released", true}, {"result", r}, {"cause", c}};
            }, "{call: \"<tunnel>/<session>\", result: 3, cause: 16}: hang up an outgoing or tunnelled incoming "
               "call: ISDN RELEASE with the cause + CDN with the Result Code (RFC 2661 §4.4.2) and Q.931 Cause AVP");
            control->add_handler("fault", [&](const nlohmann::json& a) {
                const std::string kind = a.value("kind", std::string{});
                if (kind == "no-hello" || kind == "hello") {
                    faults.set_ignore_hello(a.value("on", true));
                } else if (kind == "clear") {
                    faults.clear();
                } else {
                    const auto k = dl::lac::fault_kind_from(kind);
                    if (!k) throw dl::core::ControlError("kind must be drop, duplicate, corrupt, delay, no-hello or clear");
                    dl::core::Duration d{};
                    if (*k == dl::lac::FaultKind::delay)
                        d = dl::core::parse_duration(a.value("delay", std::string("2s")), "delay");
                    try {
                        faults.arm(*k, a.value("count", 1), d);
                    } catch (const std::invalid_argument& e) {
                        throw dl::core::ControlError(e.what());
                    }
                }
                return nlohmann::json{{"pending", faults.pending()}, {"ignore_hello", faults.ignore_hello()}};
            }, "{kind: drop|duplicate|corrupt|delay|no-hello|clear, count (1..1000), delay, on}: faults on the next "
               "`count` control messages we send (corrupt: first AVP Length := 5, RFC 2661 §4.1); no-hello: "
               "received Hellos are ignored (on: false resumes)");
            control->start();
        }

        return shell.run();
    } catch (const std::exception& e) {
        std::cerr << "lac-emu: " << e.what() << "\n";
        return 1;
    }
}
