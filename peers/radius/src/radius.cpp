// The peers' RADIUS section and runtime (radius.hpp).
#include "dl/peers/radius.hpp"

#include <fmt/format.h>

#include "dl/core/config.hpp"
#include "dl/core/errors.hpp"
#include "dl/radius/client/asio_transport.hpp"

namespace dl::peers {

RadiusSection radius_section_from(const core::ConfigNode& n) {
    n.require_map();
    n.allow_keys({"servers", "nas_ip", "nas_identifier", "source", "retries"});
    RadiusSection s;
    if (!n.has("servers")) throw core::ConfigError(n.path() + ".servers", "", "is required (1..8 RADIUS servers)");
    const auto servers = n["servers"];
    servers.require_sequence();
    if (servers.size() == 0 || servers.size() > 8)
        throw core::ConfigError(servers.path(), servers.text(), "must list 1..8 servers");
    for (std::size_t i = 0; i < servers.size(); ++i) {
        const auto e = servers.at(i);
        e.require_map();
        e.allow_keys({"address", "port", "secret", "require_message_authenticator"});
        if (!e.has("address")) throw core::ConfigError(e.path() + ".address", "", "is required");
        radius::client::Server srv;
        srv.endpoint.address = e["address"].as_ipv4().value;
        srv.endpoint.port = static_cast<std::uint16_t>(e.get_int("port", 1812, 1, 65535));
        srv.secret = e.get_string("secret", "");
        if (srv.secret.empty())
            throw core::ConfigError(e.path() + ".secret", "", "is required (RFC 2865 §3: a shared secret per server)");
        srv.require_message_authenticator = e.get_bool("require_message_authenticator", false);
        s.group.authentication.push_back(std::move(srv));
    }
    if (n.has("source")) s.source.address = n["source"].as_ipv4().value;
    s.nas.ip = n.has("nas_ip") ? n["nas_ip"].as_ipv4() : core::Ipv4Address{s.source.address};
    s.nas.identifier = n.get_string("nas_identifier", "");
    s.retries = static_cast<unsigned>(n.get_int("retries", 3, 0, 10));
    return s;
}

RadiusRuntime::RadiusRuntime(boost::asio::io_context& io, core::TimerQueue& timers, core::TimerRegistry& registry,
                             core::EventBus& bus, const RadiusSection& section)
    : section_(section), transport_(std::make_unique<radius::client::AsioUdpTransport>(io, section.source)) {
    radius::client::register_timers(registry);
    client_ = std::make_unique<radius::client::Client>(timers, registry, &bus, transport_->sender(),
                                                       radius::client::Client::Options{section.retries});
    client_->set_servers(kRadiusVr, section_.group);
    transport_->start(*client_);
}

RadiusRuntime::~RadiusRuntime() {
    transport_->stop();
    client_.reset();
}

nlohmann::json RadiusRuntime::state() const {
    nlohmann::json servers = nlohmann::json::array();
    for (const auto& s : section_.group.authentication)
        servers.push_back({{"server", s.endpoint.to_string()}, {"dead", client_->is_dead(s.endpoint)}});
    const auto& c = client_->counters();
    const auto& d = c.dropped;
    return {{"servers", servers},
            {"submitted", c.submitted},
            {"accepts", c.accepts},
            {"rejects", c.rejects},
            {"timeouts", c.timeouts},
            {"retransmissions", c.retransmissions},
            {"failovers", c.failovers},
            {"dropped", d.malformed + d.wrong_source + d.unknown_identifier + d.duplicate + d.unexpected_code +
                            d.bad_authenticator + d.bad_message_authenticator + d.missing_message_authenticator}};
}

}  // namespace dl::peers
