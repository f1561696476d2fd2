// RADIUS for the emulated peers: the `radius:` configuration section and the runtime
// (the project's RADIUS client, lns/radius, over its Boost.Asio UDP transport) that lac-emu uses for
// its incoming-call decision (JunosE "Implementing L2TP" "Sequence of Events on the LAC": "local database related to
// the domain name or RADIUS authentication") and cpe-emu for checking the LNS's PAP / CHAP response.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "dl/radius/client/asio_transport.hpp"
#include "dl/radius/client/builders.hpp"
#include "dl/radius/client/client.hpp"

namespace dl::core {
class ConfigNode;
class EventBus;
class TimerQueue;
class TimerRegistry;
}  // namespace dl::core

namespace dl::peers {

/// The virtual-router name the peers give their single server list in radius::client::Client.
inline constexpr std::string_view kRadiusVr = "peer";

/// A peer's RADIUS settings.
struct RadiusSection {
    radius::client::ServerGroup group;  ///< authentication servers, fail-over in list order
    radius::client::NasInfo nas;        ///< NAS-IP-Address / NAS-Identifier of every request
    radius::client::Endpoint source;    ///< local UDP address (port 0: ephemeral; address 0: any)
    unsigned retries = 3;               ///< retransmissions per server (RFC 5080 §2.2.1)
};

/// Reads a `radius:` section (YAML):
///
///     radius:
///       servers:                      # 1..8, tried in order (dead ones skipped)
///         - {address: 192.0.2.10, port: 1812, secret: s3cret, require_message_authenticator: true}
///       nas_ip: 198.51.100.2          # NAS-IP-Address (RFC 2865 §5.4); default source or 0.0.0.0
///       nas_identifier: lac-emu       # NAS-Identifier (§5.32); "" = omitted
///       source: 198.51.100.2          # bind address (default any)
///       retries: 3                    # 0..10
///
/// core::ConfigError naming the key and the rule (unknown key, missing servers, empty secret, bad
/// address or port).
RadiusSection radius_section_from(const core::ConfigNode& n);

/// The client and its UDP socket for one peer process; the client's timers run on `timers` (the
/// DaemonShell's, driven on `io`). Servers are installed under kRadiusVr.
class RadiusRuntime {
public:
    /// std::system_error if the socket cannot be bound.
    RadiusRuntime(boost::asio::io_context& io, core::TimerQueue& timers, core::TimerRegistry& registry,
                  core::EventBus& bus, const RadiusSection& section);
    ~RadiusRuntime();
    RadiusRuntime(const RadiusRuntime&) = delete;
    RadiusRuntime& operator=(const RadiusRuntime&) = delete;

    radius::client::Client& client() noexcept { return *client_; }
    const RadiusSection& section() const noexcept { return section_; }
    /// {"servers":["192.0.2.10:1812"],"submitted","accepts","rejects","timeouts","retransmissions",
    ///  "failovers","dropped"} for `show state`.
    nlohmann::json state() const;

private:
    RadiusSection section_;
    std::unique_ptr<radius::client::AsioUdpTransport> transport_;
    std::unique_ptr<radius::client::Client> client_;
};

}  // namespace dl::peers
