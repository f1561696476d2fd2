#include "dl/lnsd/tunnel_selector.hpp"

#include <algorithm>

#include "dl/lnsd/config.hpp"

namespace dl::lnsd {

TunnelSelector::TunnelSelector(const core::Clock& clock, SelectionMode mode, core::Duration dead_time)
    : clock_(&clock), mode_(mode), dead_time_(dead_time) {}

bool TunnelSelector::is_dead(const std::string& endpoint) const {
    auto it = dead_until_.find(endpoint);
    return it != dead_until_.end() && clock_->now() < it->second;
}

void TunnelSelector::mark_failed(const std::string& endpoint) { dead_until_[endpoint] = clock_->now() + dead_time_; }

void TunnelSelector::mark_ok(const std::string& endpoint) { dead_until_.erase(endpoint); }

std::map<std::string, core::Duration> TunnelSelector::dead_endpoints() const {
    std::map<std::string, core::Duration> out;
    for (const auto& [ep, until] : dead_until_)
        if (clock_->now() < until) out[ep] = until - clock_->now();
    return out;
}

// RFC 2868 §3.8: Tunnel-Preference orders the definitions, and JunosE "L2TP Dial-Out" Outgoing Call asks for round-robin across
// successive dial-outs among equal preferences. An open tunnel therefore does not jump the order
// (lnsd's tunnels stay up after their last call, so "open first" would pin every later call to the
// first endpoint ever used, even a less preferred one); Lns::try_next reuses the open tunnel to
// whichever endpoint comes first. In weighted mode an open tunnel only breaks ties of equal load.
std::vector<std::size_t> TunnelSelector::order(const std::vector<TunnelEndpoint>& tunnels, const View& view) {
    std::vector<std::size_t> rest;
    for (std::size_t i = 0; i < tunnels.size(); ++i) {
        const auto& t = tunnels[i];
        if (is_dead(t.server_endpoint)) continue;
        // The same endpoint may be listed twice (two tags): keep its first appearance only.
        bool dup = false;
        for (std::size_t j = 0; j < i; ++j)
            if (tunnels[j].server_endpoint == t.server_endpoint &&
                tunnels[j].assignment_id.value_or("") == t.assignment_id.value_or(""))
                dup = true;
        if (!dup) rest.push_back(i);
    }
    auto pref = [&](std::size_t i) { return tunnels[i].preference.value_or(0); };
    std::stable_sort(rest.begin(), rest.end(), [&](std::size_t a, std::size_t b) {
        if (pref(a) != pref(b)) return pref(a) < pref(b);
        return tunnels[a].tag < tunnels[b].tag;
    });
    auto open = [&](std::size_t i) {
        return view.open_tunnel && view.open_tunnel(tunnels[i].server_endpoint, tunnels[i].assignment_id.value_or(""));
    };
    // Within each group of equal preference: rotate (round-robin) or sort by load (weighted).
    for (std::size_t g = 0; g < rest.size();) {
        std::size_t e = g;
        std::string key = std::to_string(pref(rest[g])) + ":";
        while (e < rest.size() && pref(rest[e]) == pref(rest[g])) key += tunnels[rest[e++]].server_endpoint + ",";
        if (e - g > 1) {
            const auto first = rest.begin() + static_cast<std::ptrdiff_t>(g);
            const auto last = rest.begin() + static_cast<std::ptrdiff_t>(e);
            if (mode_ == SelectionMode::weighted && view.sessions) {
                std::stable_sort(first, last, [&](std::size_t a, std::size_t b) {
                    const auto la = view.sessions(tunnels[a].server_endpoint);
                    const auto lb = view.sessions(tunnels[b].server_endpoint);
                    if (la != lb) return la < lb;
                    return open(a) && !open(b);
                });
            } else {
                const auto n = rr_[key]++ % (e - g);
                std::rotate(first, first + static_cast<std::ptrdiff_t>(n), last);
            }
        }
        g = e;
    }
    return rest;
}

}  // namespace dl::lnsd
