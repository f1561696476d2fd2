#include "dl/core/daemon.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <iostream>

namespace dl::core {

DaemonShell::DaemonShell(std::string name) : name_(std::move(name)) {}

DaemonShell::~DaemonShell() = default;

std::unique_ptr<JsonLinesSink> open_event_log(const std::string& path, EventBus& bus, boost::asio::io_context& io,
                                              EventFlush flush) {
    auto sink = std::make_unique<JsonLinesSink>(path);
    sink->attach(bus);
    if (flush == EventFlush::loop)
        sink->defer_flush([&io](std::function<void()> work) { boost::asio::post(io, std::move(work)); });
    return sink;
}

void DaemonShell::log_events(const std::string& path, EventFlush flush) {
    if (path.empty()) return;
    sink_ = open_event_log(path, bus, io, flush);
}

ControlServer* DaemonShell::open_control(const std::string& path) {
    if (path.empty()) return nullptr;
    control_ = std::make_unique<ControlServer>(io, path, &bus);
    return control_.get();
}

int DaemonShell::run(std::function<void()> on_signal) {
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) {
        if (on_signal) on_signal();
        if (control_) control_->stop();
        io.stop();
    });
    std::cout << name_ << " ready" << std::endl;
    io.run();
    return 0;
}

}  // namespace dl::core
