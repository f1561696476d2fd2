// dl-lns-script: a scripted LNS for the peers' namespace tests — the project's RFC 2661 engine in
// the LNS role over one UDP socket. It opens a tunnel to a LAC, places ONE outgoing call (OCRQ,
// §7.5.2) and prints the outcome as one JSON line, then clears the call and the tunnel:
//   {"result":"OCCN","tx_connect_speed":64000,"framing_type":1}
//   {"result":"CDN","code":8,"q931_cause":17,"q931_msg":77}
//   {"result":"timeout"}
//
//   dl-lns-script --lac ADDR[:PORT] --called NUMBER [--sub ADDR] [--bearer digital|analog]
//                 [--secret S] [--hide] [--host-name NAME] [--timeout SECONDS] [--hold SECONDS]
//   dl-lns-script --accept ADDR[:PORT] [--secret S] [--timeout SECONDS]
// --accept: wait for ONE incoming call (ICRQ/ICCN, §7.4.2) and print its facts, proxy LCP and proxy
// authentication AVPs included (hex), e.g. {"result":"ICCN","proxy_authen_type":2,...}; prints
// "lns-script ready" once listening. A CDN from the LAC while holding the call (--hold) is printed
// as a second line, {"result":"CDN","code":3,"q931_cause":16,...}; the script still ends after the hold.
#include <chrono>
#include <iostream>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dl/core/asio_driver.hpp"
#include "dl/core/event.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/l2tp/engine/engine.hpp"

int main(int argc, char** argv) {
    using udp = boost::asio::ip::udp;
    std::string lac, called, sub, bearer = "digital", secret, host_name = "dl-lns-script";
    bool hide = false;
    std::string accept_on;
    double timeout_s = 60, hold_s = 0;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--lac") lac = next();
        else if (a == "--accept") accept_on = next();
        else if (a == "--called") called = next();
        else if (a == "--sub") sub = next();
        else if (a == "--bearer") bearer = next();
        else if (a == "--secret") secret = next();
        else if (a == "--host-name") host_name = next();
        else if (a == "--hide") hide = true;
        else if (a == "--timeout") timeout_s = std::stod(next());
        else if (a == "--hold") hold_s = std::stod(next());
        else {
            std::cerr << "usage: dl-lns-script --lac ADDR[:PORT] --called NUMBER [--sub S] [--bearer digital|analog] "
                         "[--secret S] [--hide] [--timeout S] [--hold S]\n";
            return 2;
        }
    }
    if (!accept_on.empty()) lac = accept_on;
    if (lac.empty() || (called.empty() && accept_on.empty())) return 2;
    try {
        unsigned short port = 1701;
        if (auto c = lac.find(':'); c != std::string::npos) {
            port = static_cast<unsigned short>(std::stoi(lac.substr(c + 1)));
            lac = lac.substr(0, c);
        }
        boost::asio::io_context io;
        dl::core::SystemClock clock;
        dl::core::TimerQueue timers(clock);
        dl::core::AsioTimerDriver driver(io, timers);
        dl::core::EventBus bus(clock);
        dl::core::TimerRegistry registry;
        dl::l2tp::engine::register_l2tp_timers(registry);
        const udp::endpoint peer(boost::asio::ip::make_address(lac), port);
        udp::socket sock(io, accept_on.empty() ? udp::endpoint(peer.address().is_v4() ? udp::v4() : udp::v6(), 0) : peer);
        std::optional<udp::endpoint> remote;  // --accept: whoever calls us

        nlohmann::json outcome;
        std::optional<dl::l2tp::engine::SessionKey> key;
        dl::l2tp::engine::Engine* engine_ptr = nullptr;
        boost::asio::steady_timer deadline(io);
        auto finish = [&](nlohmann::json j) {
            if (!outcome.is_null()) return;
            outcome = std::move(j);
            std::cout << outcome.dump() << std::endl;
            deadline.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                std::chrono::duration<double>(hold_s)));
            deadline.async_wait([&](const boost::system::error_code&) {
                if (key && engine_ptr) engine_ptr->disconnect(*key, dl::l2tp::CdnResult::Administrative);
                if (key && engine_ptr) engine_ptr->close_tunnel(key->tunnel);
                // Let the StopCCN go out and be acknowledged, bounded.
                deadline.expires_after(std::chrono::seconds(1));
                deadline.async_wait([&](const boost::system::error_code&) { io.stop(); });
            });
        };

        dl::l2tp::engine::EngineCallbacks cb;
        cb.send = [&](dl::l2tp::engine::PeerId, std::vector<std::uint8_t> b) {
            boost::system::error_code ec;
            sock.send_to(boost::asio::buffer(b), remote ? *remote : peer, 0, ec);
        };
        cb.connected = [&](dl::l2tp::engine::SessionKey k, const dl::l2tp::engine::ConnectInfo& i) {
            if (i.incoming) {
                key = k;
                const auto& c = *i.incoming;
                auto hex = [](const std::optional<std::vector<std::uint8_t>>& v) -> nlohmann::json {
                    if (!v) return nullptr;
                    std::string h;
                    for (auto b : *v) h += fmt::format("{:02x}", b);
                    return h;
                };
                finish({{"result", "ICCN"}, {"calling_number", c.calling_number.value_or("")},
                        {"called_number", c.called_number.value_or("")}, {"tx_connect_speed", c.tx_connect_speed},
                        {"framing_type", c.framing_type},
                        {"initial_received_lcp_confreq", hex(c.initial_received_lcp_confreq)},
                        {"last_sent_lcp_confreq", hex(c.last_sent_lcp_confreq)},
                        {"last_received_lcp_confreq", hex(c.last_received_lcp_confreq)},
                        {"proxy_authen_type", c.proxy_authen_type.value_or(0)},
                        {"proxy_authen_name", c.proxy_authen_name.value_or("")},
                        {"proxy_authen_id", c.proxy_authen_id.value_or(0)},
                        {"proxy_authen_challenge", hex(c.proxy_authen_challenge)},
                        {"proxy_authen_response", hex(c.proxy_authen_response)}});
                return;
            }
            finish({{"result", "OCCN"}, {"tx_connect_speed", i.tx_connect_speed}, {"framing_type", i.framing_type}});
        };
        cb.call_ended = [&](dl::l2tp::engine::SessionKey, const dl::l2tp::engine::CallFailure& f) {
            if (f.ended_by == dl::l2tp::engine::CallEndedBy::local_disconnect) {
                key.reset();  // our own CDN at the end of --hold: nothing to report
                return;
            }
            nlohmann::json j{{"result", "CDN"}, {"code", f.result}};
            if (f.error) j["error"] = *f.error;
            if (f.message) j["message"] = *f.message;
            if (f.q931) {
                j["q931_cause"] = f.q931->cause_code;
                j["q931_msg"] = f.q931->cause_msg;
            }
            key.reset();
            if (outcome.is_null()) {
                finish(j);
                return;
            }
            // The LAC cleared the call while we held it (e.g. lac-emu `hangup`): a second line.
            std::cout << j.dump() << std::endl;
        };
        cb.tunnel_down = [&](std::uint16_t, const std::string& cause) { finish({{"result", "tunnel-down"}, {"cause", cause}}); };
        dl::l2tp::engine::EngineConfig ec;
        ec.host_name = host_name;
        ec.secret = secret;
        ec.hide_avps = hide;
        dl::l2tp::engine::Engine engine(timers, registry, bus, ec, cb);
        engine_ptr = &engine;

        std::vector<std::uint8_t> rbuf(65536);
        udp::endpoint from;
        std::function<void()> read_loop = [&] {
            sock.async_receive_from(boost::asio::buffer(rbuf), from, [&](const boost::system::error_code& e, std::size_t n) {
                if (e == boost::asio::error::operation_aborted) return;
                if (!e && !accept_on.empty()) {
                    if (!remote) remote = from;
                    if (from == *remote) engine.receive(1, {rbuf.data(), n});
                } else if (!e && from.address() == peer.address()) {
                    engine.receive(1, {rbuf.data(), n});
                }
                read_loop();
            });
        };
        read_loop();

        dl::l2tp::engine::OutgoingCall oc;
        oc.called_number = called;
        if (!sub.empty()) oc.sub_address = sub;
        oc.bearer_type = bearer == "analog" ? dl::l2tp::kBearerAnalog : dl::l2tp::kBearerDigital;
        oc.framing_type = bearer == "analog" ? dl::l2tp::kFramingAsync : dl::l2tp::kFramingSync;
        oc.min_bps = 9600;
        oc.max_bps = 64000;
        if (accept_on.empty()) key = engine.place_outgoing_call(1, oc);
        else std::cout << "lns-script ready" << std::endl;

        boost::asio::steady_timer overall(io);
        overall.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(timeout_s)));
        overall.async_wait([&](const boost::system::error_code& e) {
            if (!e) finish({{"result", "timeout"}, {"session_state", key ? engine.session_state(*key) : ""}});
        });
        io.run();
        return outcome.value("result", "") == "timeout" ? 3 : 0;
    } catch (const std::exception& e) {
        std::cerr << "dl-lns-script: " << e.what() << "\n";
        return 1;
    }
}
