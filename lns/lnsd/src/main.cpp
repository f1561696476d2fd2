// lnsd: the LNS daemon. Single-threaded Boost.Asio loop: L2TP UDP socket, AsioTimerDriver for the
// TimerQueue, the Lns core (RFC 2661 engines in LNS role), the JSON control API, events to a
// JSON-lines file and to control-API subscribers; SIGTERM / SIGINT: StopCCN to every peer, a
// bounded wait for the acknowledgements, exit 0.
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <iostream>
#include <memory>

#include "dl/core/asio_driver.hpp"
#include "dl/core/config.hpp"
#include "dl/core/control.hpp"
#include "dl/core/event.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/core/daemon.hpp"
#include "dl/core/errors.hpp"
#include "dl/lnsd/config.hpp"
#include "dl/lnsd/dialout_runtime.hpp"
#include "dl/lnsd/lns.hpp"
#include "dl/lnsd/pass_end.hpp"
#include "dl/lnsd/udp.hpp"
#include "dl/radius/client/client.hpp"

int main(int argc, char** argv) {
    CLI::App app{"lnsd: the L2TP Network Server (RFC 2661) with dial-out"};
    std::string config_file, control_path = "/run/lnsd.sock", events_path;
    app.add_option("--config", config_file, "YAML configuration file");
    app.add_option("--control", control_path, "control API Unix socket path");
    app.add_option("--events", events_path, "JSON-lines event log");
    CLI11_PARSE(app, argc, argv);

    dl::core::SystemClock clock;
    dl::core::TimerQueue timers(clock);
    dl::core::TimerRegistry registry;
    dl::core::register_well_known_timers(registry);
    dl::l2tp::engine::register_l2tp_timers(registry);
    dl::radius::client::register_timers(registry);  // radius-timeout, radius-dead-time: settable in `timers:`
    dl::lnsd::LnsdConfig cfg;
    dl::core::ConfigNode root;
    try {
        if (!config_file.empty()) {
            root = dl::core::ConfigNode::load_file(config_file);
            cfg = dl::lnsd::load_config(root, registry);
            (void)dl::lnsd::load_wiring_config(root);  // virtual routers, PPP profiles: fail early
        }
    } catch (const dl::core::ConfigError& e) {
        std::cerr << "lnsd: configuration error: " << e.located() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "lnsd: configuration error: " << e.what() << "\n";
        return 2;
    }

    // One thread runs the loop (nothing else posts to it): concurrency hint 1 lets Asio queue the
    // handlers that handlers post on the thread's private queue, without the scheduler's lock and
    // wake-up logic (Boost.Asio "Concurrency Hints").
    boost::asio::io_context io{1};
    dl::core::EventBus bus(clock);
    std::unique_ptr<dl::core::JsonLinesSink> sink;
    std::unique_ptr<dl::lnsd::UdpEndpoint> udp;
    dl::core::AsioTimerDriver driver(io, timers);
    // The end of each handler: zero-delay timers and the senders' flushes (pass_end.hpp).
    dl::lnsd::PassEnd pass_end;
    pass_end.drive_timers(&driver);
    dl::lnsd::Lns lns(timers, registry, bus, cfg, [&](dl::lnsd::PeerId p, std::vector<std::uint8_t> b) {
        if (udp) udp->send(p, b);
    });
    dl::core::ControlServer control(io, control_path, &bus);
    std::unique_ptr<dl::lnsd::DialOutRuntime> dialout;
    try {
        if (!events_path.empty()) {
            sink = dl::core::open_event_log(events_path, bus, io, cfg.events_flush);
            sink->set_size_cap(cfg.events_max_bytes);  // bounded on disk (events-max-bytes)
        }
        udp = std::make_unique<dl::lnsd::UdpEndpoint>(
            io, cfg.local_address, cfg.port,
            [&](dl::lnsd::PeerId p, std::span<const std::uint8_t> b) { lns.receive(p, b); });
        // Each recvmmsg batch whole: its sessions are looked up before any is delivered.
        udp->set_batch_receive([&](std::span<const dl::lnsd::RxDatagram> b) { lns.receive_batch(b); });
        lns.set_data_socket(udp->native_handle());  // data messages: sendmmsg bursts (data_path.hpp)
        // PPP frames to the CPEs, and the L2TP control messages: the datagrams of one handler of
        // the loop, and of the zero-delay timers it started, in one sendmmsg per socket, sent at
        // the end of that handler (pass_end.hpp: no posted handler, no allocation per pass).
        lns.defer_data_flush(pass_end.post());
        udp->defer_sends(pass_end.post());
        // … on a socket connected to each LAC (no route look-up per datagram), up to the limit.
        udp->set_max_peer_sockets(cfg.peer_sockets);
        lns.set_peer_sockets({[&](dl::lnsd::PeerId p) { return udp->connect_peer(p); },
                              [&](dl::lnsd::PeerId p) { udp->release_peer(p); }});
        // The control socket before anything else of the host is touched (TUN, routes, RADIUS):
        // a second lnsd on a live socket stops here, as it stopped at the L2TP bind above.
        control.start();
        lns.register_commands(control);
        // Dial-out: RADIUS client, TUN per virtual router, dial-out manager, PPP (dialout_runtime.hpp).
        dialout = std::make_unique<dl::lnsd::DialOutRuntime>(io, timers, registry, bus, lns, root);
        dialout->defer_radius_sends(pass_end.post());
        dialout->register_commands(control);
    } catch (const dl::core::ConfigError& e) {
        std::cerr << "lnsd: configuration error: " << e.located() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "lnsd: " << e.what() << "\n";
        return 1;
    }

    bool stopping = false;
    bool acct_off_sent = false;
    boost::asio::steady_timer poll(io);
    auto deadline = std::chrono::steady_clock::now();
    // A clean stop: StopCCN everywhere (the sessions' accounting Stops follow from their ends),
    // then Accounting-Off (RFC 2866 §5.1 value 8) once the tunnels are down, all within
    // shutdown-wait.
    std::function<void()> wait_quiet = [&] {
        const auto now = std::chrono::steady_clock::now();
        if ((lns.quiescent() || now >= deadline) && !acct_off_sent && dialout) {
            acct_off_sent = true;
            // Tunnels that outlived shutdown-wait: the Accounting-Off still leaves (a short grace).
            if (now >= deadline) deadline = now + std::chrono::milliseconds(200);
            dialout->wiring().accounting_off();
        }
        const bool acct_done = !dialout || dialout->wiring().accounting_idle();
        if ((lns.quiescent() && acct_done) || std::chrono::steady_clock::now() >= deadline) {
            control.stop();
            lns.set_data_socket(-1);
            if (udp) udp->close();
            io.stop();
            return;
        }
        poll.expires_after(std::chrono::milliseconds(20));
        poll.async_wait([&](const boost::system::error_code& ec) {
            if (!ec) wait_quiet();
        });
    };
    boost::asio::signal_set signals(io, SIGTERM, SIGINT);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
        if (ec || stopping) return;
        stopping = true;
        const auto n = lns.close_all();
        std::cerr << "lnsd: stopping, StopCCN sent on " << n << " tunnel(s)\n";
        deadline = std::chrono::steady_clock::now() + cfg.shutdown_wait;
        wait_quiet();
    });

    std::cout << "lnsd ready" << std::endl;
    // io.run(), with the end-of-handler work after each handler (and loop-moderation, if set)
    pass_end.drive(io, cfg.loop_moderation);
    return 0;
}
