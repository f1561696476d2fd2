// The access routes of lnsd's calls (JunosE "L2TP Dial-Out" "Route Installation"): per virtual
// router, prefix -> call number, looked up by longest match. A call's Framed-Route prefixes and its
// peer address (Framed-IP-Address / the IPCP address, as a host route) become its access routes at
// IPCP up; they leave with the call. The table is shared by the owner's calls; each CallSession
// keeps the prefixes it installed and removes them on entering closing.
//
// What it needs from lnsd goes through RoutePort (lns/dataplane's route table and its kernel
// mirror). Single-threaded.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dl/core/ipv4.hpp"

namespace dl::core {
class EventBus;
}

namespace dl::session {

/// The data plane as the access routes see it; every member optional.
struct RoutePort {
    /// Installs `prefixes` of call `call` in `vr`'s data-plane route table and the kernel, all in
    /// one exchange with the kernel; per prefix, in order, an error text when the kernel refused
    /// it (the route stays in the table, counted, event) or nullopt.
    std::function<std::vector<std::optional<std::string>>(const std::string& vr,
                                                          std::span<const core::Ipv4Prefix> prefixes, std::uint64_t call)>
        add_routes;
    /// Removes every route of `call` in `vr` from the data plane and the kernel.
    std::function<void(const std::string& vr, std::uint64_t call)> remove_call;
    /// Kernel refusals are counted here (`route-errors` of `show l2tp dial-out chassis`); none: not counted.
    std::uint64_t* route_errors = nullptr;
};

/// Access routes of every call, per virtual router. Events (on `bus`, when given):
/// `lnsd.route <vr>/<prefix> kernel-error` (cause: the port's error text) and
/// `lnsd.route <vr> access-routes-installed` with extra {"call", "prefixes"}.
class AccessRouteTable {
public:
    /// `bus` may be null (no events); `port` is copied.
    AccessRouteTable(core::EventBus* bus, RoutePort port);

    /// Installs the access routes of `call` in `vr`: the `framed_routes` (RFC 2865 §5.22) and
    /// `peer` as a /32 when not 0, sorted and without duplicates; a prefix another call owns is
    /// skipped (the first owner keeps it). Returns the prefixes now owned by `call` (the caller
    /// keeps them for remove()). Installing again (IPCP opened again) adds them through the port again.
    std::vector<core::Ipv4Prefix> install(const std::string& vr, std::uint64_t call,
                                          std::vector<core::Ipv4Prefix> framed_routes, std::uint32_t peer);
    /// Removes `installed` (those `call` still owns) from `vr`, then every route of `call` from the
    /// data plane. Nothing when `installed` is empty.
    void remove(const std::string& vr, std::uint64_t call, const std::vector<core::Ipv4Prefix>& installed);
    /// The call owning the longest prefix of `vr` that contains `destination`.
    std::optional<std::uint64_t> lookup(std::string_view vr, core::Ipv4Address destination) const;

private:
    core::EventBus* bus_;
    RoutePort port_;
    std::map<std::string, std::map<core::Ipv4Prefix, std::uint64_t>, std::less<>> routes_;
};

}  // namespace dl::session
