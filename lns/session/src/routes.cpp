// The access routes of lnsd's calls. See dl/session/routes.hpp.
#include "dl/session/routes.hpp"

#include <algorithm>

#include "dl/core/event.hpp"

namespace dl::session {

AccessRouteTable::AccessRouteTable(core::EventBus* bus, RoutePort port) : bus_(bus), port_(std::move(port)) {}

std::vector<core::Ipv4Prefix> AccessRouteTable::install(const std::string& vr, std::uint64_t call,
                                                        std::vector<core::Ipv4Prefix> prefixes, std::uint32_t peer) {
    // JunosE "L2TP Dial-Out" "Route Installation": Framed-Route (and Framed-IP-Address as a host
    // route) become the session's access routes.
    if (peer) prefixes.push_back({{peer}, 32});
    std::sort(prefixes.begin(), prefixes.end());
    prefixes.erase(std::unique(prefixes.begin(), prefixes.end()), prefixes.end());
    auto& table = routes_[vr];
    std::vector<core::Ipv4Prefix> installed;
    for (const auto& p : prefixes) {
        if (auto it = table.find(p); it != table.end() && it->second != call) continue;  // owned by another call
        table[p] = call;
        installed.push_back(p);
    }
    // All of the call's routes in one exchange with the kernel (not one round trip each); each
    // refusal still counted and published on its own.
    if (port_.add_routes && !installed.empty()) {
        const auto errors = port_.add_routes(vr, installed, call);
        for (std::size_t i = 0; i < installed.size() && i < errors.size(); ++i) {
            if (!errors[i]) continue;
            if (port_.route_errors) ++*port_.route_errors;
            if (bus_) {
                core::Event e;
                e.entity = "lnsd.route";
                e.id = vr + "/" + installed[i].to_string();
                e.event = "kernel-error";
                e.cause = *errors[i];
                bus_->publish(e);
            }
        }
    }
    // Built only for a listener (the event log, a control-API subscriber): the JSON of the
    // prefixes costs more than the rest of the install.
    if (bus_ && bus_->has_subscribers()) {
        core::Event e;
        e.entity = "lnsd.route";
        e.id = vr;
        e.event = "access-routes-installed";
        auto listed = nlohmann::json::array();
        for (const auto& p : installed) listed.push_back(p.to_string());
        e.extra = {{"call", call}, {"prefixes", std::move(listed)}};
        bus_->publish(std::move(e));
    }
    return installed;
}

void AccessRouteTable::remove(const std::string& vr, std::uint64_t call,
                              const std::vector<core::Ipv4Prefix>& installed) {
    if (installed.empty()) return;
    auto& table = routes_[vr];
    for (const auto& p : installed)
        if (auto it = table.find(p); it != table.end() && it->second == call) table.erase(it);
    if (port_.remove_call) port_.remove_call(vr, call);
}

std::optional<std::uint64_t> AccessRouteTable::lookup(std::string_view vr, core::Ipv4Address d) const {
    auto it = routes_.find(vr);
    if (it == routes_.end()) return std::nullopt;
    for (int len = 32; len >= 0; --len) {
        const core::Ipv4Prefix p{{d.value}, static_cast<std::uint8_t>(len)};
        if (auto r = it->second.find(p.network()); r != it->second.end()) return r->second;
    }
    return std::nullopt;
}

}  // namespace dl::session
