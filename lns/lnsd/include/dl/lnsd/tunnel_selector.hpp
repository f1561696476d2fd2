// Tunnel selection for outgoing calls (issue 4 "Tunnel selection"; RFC 2868 §3.1 Tunnel-Preference,
// §3.7 Tunnel-Assignment-ID), as the JunosE LAC selects tunnels for incoming calls. Sans-I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "dl/core/clock.hpp"
#include "dl/radius/client/builders.hpp"

namespace dl::lnsd {

enum class SelectionMode;

/// Orders the tunnel definitions AAA returned into the sequence of endpoints to try:
///  1. a definition whose (Tunnel-Server-Endpoint, Tunnel-Assignment-Id) already has an open tunnel
///     comes first (reuse, RFC 2868 §3.7);
///  2. then by Tunnel-Preference ascending (absent = 0, the most preferred), and among equal
///     preferences round-robin (a rotating start per preference group) or weighted (fewest
///     sessions first, ties by tag);
///  3. an endpoint marked failed within `dead_time` is left out (not retried until it expires).
/// Time comes from the injected clock (virtual time in tests).
class TunnelSelector {
public:
    /// Facts about the current tunnels, asked by order().
    struct View {
        /// True if a tunnel to `endpoint` with assignment id `assignment` ("" = none) is open.
        std::function<bool(const std::string& endpoint, const std::string& assignment)> open_tunnel;
        /// Sessions currently carried to `endpoint` (weighted mode).
        std::function<std::size_t(const std::string& endpoint)> sessions;
    };

    TunnelSelector(const core::Clock& clock, SelectionMode mode, core::Duration dead_time);

    /// Indices into `tunnels` in the order to try; empty if every endpoint is dead.
    std::vector<std::size_t> order(const std::vector<radius::client::TunnelDefinition>& tunnels, const View& view);

    /// A control connection to `endpoint` could not be set up: skip it for dead_time.
    void mark_failed(const std::string& endpoint);
    /// The endpoint answered: forget an earlier failure.
    void mark_ok(const std::string& endpoint);
    bool is_dead(const std::string& endpoint) const;
    /// Endpoints currently dead with the time left (for `show`).
    std::map<std::string, core::Duration> dead_endpoints() const;

    void set_mode(SelectionMode m) noexcept { mode_ = m; }
    void set_dead_time(core::Duration d) noexcept { dead_time_ = d; }

private:
    const core::Clock* clock_;
    SelectionMode mode_;
    core::Duration dead_time_;
    std::map<std::string, core::TimePoint> dead_until_;
    std::map<std::string, std::uint64_t> rr_;  // round-robin counter per preference-group key
};

}  // namespace dl::lnsd
