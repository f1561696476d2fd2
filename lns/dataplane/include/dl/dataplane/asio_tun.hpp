// Boost.Asio adapter: watches a VR's TUN fd for readability and runs ForwardingLoop::poll_tun.
#pragma once

#include <cstddef>
#include <memory>

#include "dl/dataplane/forwarding.hpp"

namespace boost::asio {
class io_context;
}

namespace dl::dataplane {

/// Keeps one read-readiness wait armed on `loop.tun_fd(vr)` (core::ReadinessWait: re-armed
/// without a system call after poll_tun read the TUN dry); when readable, runs
/// `loop.poll_tun(vr, budget)` (at most `budget` packets; then it runs again at once, after the
/// handlers already queued, so other handlers on the io_context get their turn; after a read
/// error the kernel is asked for the readiness again). The fd stays owned by the TunDevice
/// (registered with the io_context's reactor, released, never closed, here). The constructor
/// throws std::system_error if the fd cannot be registered. Use from the io_context's thread only; destroying the watcher cancels it.
/// `loop` must outlive the watcher.
class AsioTunWatcher {
public:
    AsioTunWatcher(boost::asio::io_context& io, ForwardingLoop& loop, VrId vr, std::size_t budget = 256);
    ~AsioTunWatcher();
    AsioTunWatcher(const AsioTunWatcher&) = delete;
    AsioTunWatcher& operator=(const AsioTunWatcher&) = delete;

    /// Arms the wait (idempotent).
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
