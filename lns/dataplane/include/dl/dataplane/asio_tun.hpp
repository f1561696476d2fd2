// Boost.Asio adapter: watches a VR's TUN fd for readability and runs ForwardingLoop::poll_tun.
#pragma once

#include <cstddef>
#include <memory>

#include "dl/dataplane/forwarding.hpp"

namespace boost::asio {
class io_context;
}

namespace dl::dataplane {

/// Keeps one async_wait(wait_read) armed on `loop.tun_fd(vr)`; when readable, runs
/// `loop.poll_tun(vr, budget)` (at most `budget` packets, then re-arms, so other handlers on the
/// io_context get their turn) and re-arms. The fd stays owned by the TunDevice (released, never
/// closed, here). Use from the io_context's thread only; destroying the watcher cancels it.
/// `loop` must outlive the watcher.
class AsioTunWatcher {
public:
    AsioTunWatcher(boost::asio::io_context& io, ForwardingLoop& loop, VrId vr, std::size_t budget = 256);
    ~AsioTunWatcher();
    AsioTunWatcher(const AsioTunWatcher&) = delete;
    AsioTunWatcher& operator=(const AsioTunWatcher&) = delete;

    /// Arms the wait (idempotent). std::system_error if the fd cannot be registered.
    void start();
    /// Cancels the pending wait.
    void stop();
    /// Readiness callbacks handled so far.
    std::uint64_t wakeups() const noexcept;

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace dl::dataplane
