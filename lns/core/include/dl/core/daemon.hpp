// The process shell every daemon of the project shares. Included by main() files only: it pulls in
// Boost.Asio's io_context.
#pragma once

#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>
#include <string>

#include "dl/core/asio_driver.hpp"
#include "dl/core/clock.hpp"
#include "dl/core/control.hpp"
#include "dl/core/event.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/core/timer_registry.hpp"

namespace dl::core {

/// One io_context, the system clock, one TimerQueue driven by one Asio timer (AsioTimerDriver),
/// the EventBus, the timer registry, an optional JSON-lines event log and an optional control
/// server (JSON over a Unix socket, mode 0600). `run()` prints "<name> ready" on stdout (the lab
/// awaits that line), serves until SIGINT or SIGTERM, then stops the control server and the loop.
/// Members are public so engines can be built on them; construct engines after the shell.
/// Opens the JSON-lines event log `path` (JsonLinesSink) subscribed to `bus`, written per event or
/// once per pass of `io` (EventFlush). std::system_error when the file cannot be opened. The sink
/// must be destroyed before `io` runs again (a daemon's sink lives as long as its loop).
std::unique_ptr<JsonLinesSink> open_event_log(const std::string& path, EventBus& bus, boost::asio::io_context& io,
                                              EventFlush flush);

class DaemonShell {
public:
    explicit DaemonShell(std::string name);
    ~DaemonShell();
    DaemonShell(const DaemonShell&) = delete;
    DaemonShell& operator=(const DaemonShell&) = delete;

    boost::asio::io_context io;
    SystemClock clock;
    TimerQueue timers{clock};
    EventBus bus{clock};
    TimerRegistry registry;

    /// Appends every event to `path` (one JSON object per line), written per event or once per
    /// pass of `io` (EventFlush). Empty path: no log.
    void log_events(const std::string& path, EventFlush flush = EventFlush::line);
    /// Opens the control server on `path` (not started: add handlers, then start()). Empty path:
    /// nullptr. Throws what ControlServer throws (socket errors).
    ControlServer* open_control(const std::string& path);
    /// Prints "<name> ready", runs the loop until SIGINT / SIGTERM; `on_signal`, if given, runs
    /// first (e.g. to close tunnels). Returns 0.
    int run(std::function<void()> on_signal = {});

private:
    std::string name_;
    AsioTimerDriver driver_{io, timers};
    std::unique_ptr<JsonLinesSink> sink_;
    std::unique_ptr<ControlServer> control_;
};

}  // namespace dl::core
