// Tunnel selection for outgoing calls (JunosE "L2TP Dial-Out" Outgoing Call; RFC 2868 §3.1 Tunnel-Preference,
// §3.7 Tunnel-Assignment-ID), as the JunosE LAC selects tunnels for incoming calls. Sans-I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <optional>

#include "dl/core/clock.hpp"

namespace dl::lnsd {

enum class SelectionMode;

/// One LAC an outgoing call may be placed through, as the L2TP layer needs it (whoever defined it:
/// lnsd's dial-out takes them from the Access-Accept's tagged tunnel attributes, RFC 2868 §3).
///  - tag: order among equal preferences (lowest first);
///  - server_endpoint: the LAC, IPv4 text "10.0.0.2" or "10.0.0.2:1701" (default port 1701);
///  - password: the tunnel secret (RFC 2661 §5.1.1); nullopt = the peer's configured secret;
///  - preference: lower is preferred (RFC 2868 §3.8); nullopt = 0;
///  - assignment_id: tunnels with another assignment id are not shared (RFC 2868 §3.7).
struct TunnelEndpoint {
    std::uint8_t tag = 0;
    std::string server_endpoint;
    std::optional<std::string> password;
    std::optional<std::uint32_t> preference;
    std::optional<std::string> assignment_id;
};

/// Orders the tunnel definitions AAA returned into the sequence of endpoints to try:
///  1. by Tunnel-Preference ascending (absent = 0, the most preferred; RFC 2868 §3.8), ties by tag;
///  2. among equal preferences round-robin (a rotating start per preference group, so successive
///     dial-outs take the endpoints in turn) or weighted (fewest sessions first; equal
///     load: an endpoint with an open tunnel of the same Tunnel-Assignment-Id first, then by tag);
///  3. an endpoint marked failed within `dead_time` is left out (not retried until it expires).
/// An open tunnel never overrides 1 or 2: Lns::try_next reuses the open tunnel to the endpoint
/// chosen (RFC 2868 §3.7). Time comes from the injected clock (virtual time in tests).
class TunnelSelector {
public:
    /// Facts about the current tunnels, asked by order().
    struct View {
        /// True if a tunnel to `endpoint` with assignment id `assignment` ("" = none) is open
        /// (weighted mode: the tie-break among equally loaded endpoints).
        std::function<bool(const std::string& endpoint, const std::string& assignment)> open_tunnel;
        /// Sessions currently carried to `endpoint` (weighted mode).
        std::function<std::size_t(const std::string& endpoint)> sessions;
    };

    TunnelSelector(const core::Clock& clock, SelectionMode mode, core::Duration dead_time);

    /// Indices into `tunnels` in the order to try; empty if every endpoint is dead.
    std::vector<std::size_t> order(const std::vector<TunnelEndpoint>& tunnels, const View& view);

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
