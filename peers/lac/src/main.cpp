// lac-emu: the emulated narrowband LAC (issue 7). Thin Boost.Asio shell around dl::lac::Lac and
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
//   domains: {example.com: 198.51.100.1, "*": 198.51.100.1}   # domain -> LNS (UDP 1701)
#include <csignal>
#include <deque>
#include <iostream>
#include <map>
#include <optional>
#include <random>
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
#include "dl/lac/lac.hpp"

namespace {
using udp = boost::asio::ip::udp;

// Control-message faults at the UDP edge (issue 7 "Control API"): applied to the next N L2TP
// control messages we send; "no-hello" drops received Hello messages so they are never acknowledged.
struct Faults {
    enum Kind { drop, duplicate, corrupt, delay };
    struct Pending {
        Kind kind;
        int count;
        dl::core::Duration delay{};
    };
    std::deque<Pending> pending;
    bool ignore_hello = false;
    std::uint64_t applied = 0;
};

// RFC 2661 §3.1 header, then the Message Type AVP (§4.4.1) first in every control message.
std::optional<std::uint16_t> control_message_type(std::span<const std::uint8_t> d) {
    if (d.size() < 12 || !(d[0] & 0x80)) return std::nullopt;
    std::size_t off = 2;
    if (d[0] & 0x40) off += 2;
    off += 4;
    if (d[0] & 0x08) off += 4;
    if (d[0] & 0x02) {
        if (d.size() < off + 2) return std::nullopt;
        off += 2 + ((d[off] << 8) | d[off + 1]);
    }
    if (d.size() < off + 8) return std::nullopt;  // ZLB or truncated
    return static_cast<std::uint16_t>((d[off + 6] << 8) | d[off + 7]);
}

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
                        "bearer", "isdn", "control", "events", "timers", "incoming", "incoming_auth", "domains"});
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
                const udp::endpoint ep(boost::asio::ip::make_address(d[k].as_ipv4().to_string()), 1701);
                auto [pit, fresh] = peer_ids.try_emplace(ep, peer_ids.size() + 1);
                if (fresh) peers[pit->second] = ep;
                lc.domains[k] = pit->second;
            }
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
        sock.bind({listen, static_cast<unsigned short>(cfg.get_int("port", 1701, 1, 65535))});

        Faults faults;
        std::mt19937 rng(std::random_device{}());
        auto raw_send = [&](const udp::endpoint& to, const std::vector<std::uint8_t>& b) {
            boost::system::error_code ec2;
            sock.send_to(boost::asio::buffer(b), to, 0, ec2);
        };
        auto send = [&](dl::l2tp::engine::PeerId p, std::vector<std::uint8_t> b) {
            auto it = peers.find(p);
            if (it == peers.end()) return;
            const udp::endpoint to = it->second;
            if (!faults.pending.empty() && control_message_type(b)) {
                auto& f = faults.pending.front();
                const auto kind = f.kind;
                const auto d = f.delay;
                if (--f.count <= 0) faults.pending.pop_front();
                ++faults.applied;
                bus.publish({.entity = "lac.fault", .id = "udp", .event = "applied",
                             .cause = kind == Faults::drop ? "drop" : kind == Faults::duplicate ? "duplicate"
                                                                   : kind == Faults::corrupt   ? "corrupt"
                                                                                               : "delay"});
                switch (kind) {
                case Faults::drop: return;
                case Faults::duplicate: raw_send(to, b); break;
                case Faults::corrupt:
                    if (b.size() > 12) b[std::uniform_int_distribution<std::size_t>(12, b.size() - 1)(rng)] ^= 0xA5;
                    break;
                case Faults::delay:
                    timers.arm(d, [&raw_send, to, b] { raw_send(to, b); });
                    return;
                }
            }
            raw_send(to, b);
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

        std::vector<std::uint8_t> rbuf(65536);
        udp::endpoint from;
        std::function<void()> read_loop = [&] {
            sock.async_receive_from(boost::asio::buffer(rbuf), from, [&](const boost::system::error_code& e, std::size_t n) {
                if (e == boost::asio::error::operation_aborted) return;
                if (!e) {
                    auto [it, fresh] = peer_ids.try_emplace(from, peer_ids.size() + 1);
                    if (fresh) peers[it->second] = from;
                    std::span<const std::uint8_t> d(rbuf.data(), n);
                    if (faults.ignore_hello && control_message_type(d) == std::optional<std::uint16_t>(6)) {
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

        shell.log_events(cfg.get_string("events", ""));

        if (auto* control = shell.open_control(cfg.get_string("control", ""))) {
            control->add_handler("show state", [&](const nlohmann::json&) {
                nlohmann::json j = lac.state();
                const auto& s = engine.stats();
                j["l2tp"] = {{"tunnels", engine.tunnel_count()}, {"sessions", engine.session_count()},
                             {"malformed", s.malformed}, {"auth_failures", s.auth_failures},
                             {"not_permitted", s.not_permitted}};
                j["isdn_connected"] = isdn && isdn->connected();
                j["faults_pending"] = faults.pending.size();
                j["ignore_hello"] = faults.ignore_hello;
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
                if (slash == std::string::npos) throw dl::core::ControlError("call must be \"<tunnel>/<session>\"");
                dl::l2tp::engine::SessionKey k{static_cast<std::uint16_t>(std::stoul(id.substr(0, slash))),
                                               static_cast<std::uint16_t>(std::stoul(id.substr(slash + 1)))};
                if (!lac.hangup(k)) throw dl::core::ControlError("no such call");
                return nlohmann::json{{"released", true}};
            }, "{call: \"<tunnel>/<session>\"}: ISDN RELEASE + CDN 3");
            control->add_handler("fault", [&](const nlohmann::json& a) {
                const std::string kind = a.value("kind", std::string{});
                const int n = a.value("count", 1);
                if (n < 1 || n > 1000) throw dl::core::ControlError("count must be 1..1000");
                if (kind == "no-hello" || kind == "hello") {
                    faults.ignore_hello = a.value("on", true);
                } else {
                    Faults::Pending p{Faults::drop, n};
                    if (kind == "drop") p.kind = Faults::drop;
                    else if (kind == "duplicate") p.kind = Faults::duplicate;
                    else if (kind == "corrupt") p.kind = Faults::corrupt;
                    else if (kind == "delay") {
                        p.kind = Faults::delay;
                        p.delay = dl::core::parse_duration(a.value("delay", std::string("2s")), "delay");
                    } else throw dl::core::ControlError("kind must be drop, duplicate, corrupt, delay or no-hello");
                    faults.pending.push_back(p);
                }
                return nlohmann::json{{"pending", faults.pending.size()}, {"ignore_hello", faults.ignore_hello}};
            }, "{kind: drop|duplicate|corrupt|delay|no-hello, count, delay, on}: control-message faults");
            control->start();
        }

        return shell.run();
    } catch (const std::exception& e) {
        std::cerr << "lac-emu: " << e.what() << "\n";
        return 1;
    }
}
