// UdpRelay: puts an ImpairmentEngine in a UDP path. It receives on a listening socket (the address
// the client — lnsd — was told is its peer), forwards through an upstream socket to the real peer,
// and sends the peer's answers back to the client from the listening socket, so the client sees its
// peer's address unchanged. Boost.Asio on a thread of its own; time from an injected core::Clock.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "dl/core/clock.hpp"
#include "dl/scenario/impairment.hpp"

namespace dl::scenario {

/// Relay counters (besides the engine's per-rule ones).
struct RelayCounters {
    std::uint64_t rx_forward = 0;   ///< datagrams from the client
    std::uint64_t rx_reverse = 0;   ///< datagrams from the peer
    std::uint64_t tx_forward = 0;   ///< sent to the peer
    std::uint64_t tx_reverse = 0;   ///< sent to the client
    std::uint64_t tx_errors = 0;    ///< sends that failed (logged in the history)
    std::uint64_t no_client = 0;    ///< peer datagrams dropped because no client has spoken yet
    std::uint64_t foreign = 0;      ///< upstream datagrams not from the peer (dropped)
};

/// A running relay. One client at a time (the last address that sent to the listening socket).
class UdpRelay {
public:
    /// listen_fd / upstream_fd: bound IPv4 UDP sockets (duplicated here: the caller keeps its own);
    /// peer_address / peer_port: where forward datagrams go. Throws std::system_error when a socket
    /// cannot be used, std::invalid_argument for a bad peer address.
    UdpRelay(int listen_fd, int upstream_fd, const std::string& peer_address, std::uint16_t peer_port,
             const core::Clock& clock);
    ~UdpRelay();
    UdpRelay(const UdpRelay&) = delete;
    UdpRelay& operator=(const UdpRelay&) = delete;

    /// Starts the relay's thread (a second start() is a no-op).
    void start();
    /// Stops it and joins the thread; scheduled datagrams not yet due are discarded. Idempotent.
    void stop();
    bool running() const noexcept;

    /// Runs `fn(engine)` under the relay's lock (rules, counters, history from another thread).
    template <class F> auto with_engine(F&& fn) {
        std::lock_guard lock(mutex_);
        return fn(engine_);
    }
    RelayCounters counters() const;

private:
    struct Io;
    mutable std::mutex mutex_;
    ImpairmentEngine engine_;
    RelayCounters counters_;
    const core::Clock& clock_;
    std::unique_ptr<Io> io_;
    std::thread thread_;
};

}  // namespace dl::scenario
