// Dial-out route withdrawal (dl/lnsd/route_withdrawal.hpp).
#include "dl/lnsd/route_withdrawal.hpp"

#include <algorithm>

#include "dl/core/config.hpp"

namespace dl::lnsd {

std::string_view to_string(RouteState s) noexcept {
    switch (s) {
        case RouteState::announced: return "announced";
        case RouteState::withdrawn: return "withdrawn";
        case RouteState::probation: return "probation";
    }
    return "?";
}

RouteWithdrawalConfig load_route_withdrawal(const core::ConfigNode& dialout) {
    RouteWithdrawalConfig c;
    if (!dialout.defined() || !dialout.is_map() || !dialout.has("route-withdrawal")) return c;
    const auto n = dialout["route-withdrawal"];
    n.require_map();
    n.allow_keys({"after-failures", "hold-down"});
    c.after_failures = static_cast<std::uint32_t>(n.get_int("after-failures", 0, 0, 1000));
    c.hold_down = n.get_duration("hold-down", c.hold_down, std::chrono::seconds(1), std::chrono::hours(1));
    return c;
}

const DialOutRouteGuard::Spec& DialOutRouteGuard::spec() {
    using S = RouteState;
    using E = Event;
    static const Spec s{"lnsd.dialout-route",
                        {"announced", "withdrawn", "probation"},
                        {"unreachable", "connected", "hold-down-expiry"},
                        {{S::announced, E::unreachable, S::announced, &on_failure},
                         {S::announced, E::connected, S::announced, &on_connected},
                         // calls placed before the withdrawal may still fail or connect
                         {S::withdrawn, E::unreachable, S::withdrawn},
                         {S::withdrawn, E::connected, S::announced, &on_connected},
                         {S::withdrawn, E::hold_down_expiry, S::probation, &on_expiry},
                         {S::probation, E::unreachable, S::withdrawn, &on_rewithdraw},
                         {S::probation, E::connected, S::announced, &on_connected}},
                        E::hold_down_expiry};
    return s;
}

std::string DialOutRouteGuard::table() { return spec().describe(); }

DialOutRouteGuard::DialOutRouteGuard(core::FsmEnv env, std::string id, RouteWithdrawalConfig cfg, Actions actions)
    : cfg_(cfg), actions_(std::move(actions)), hold_down_(cfg.hold_down),
      fsm_(spec(), env, *this, std::move(id), RouteState::announced) {}

void DialOutRouteGuard::withdraw_now(Spec::Step& s) {
    failures_ = 0;
    s.next = RouteState::withdrawn;
    s.arm("route-hold-down", hold_down_);
    hold_down_ = std::min(hold_down_ * 2, cfg_.hold_down * 8);
    if (actions_.withdraw) actions_.withdraw();
}

void DialOutRouteGuard::on_failure(DialOutRouteGuard& g, Spec::Step& s) {
    if (++g.failures_ >= g.cfg_.after_failures && g.cfg_.after_failures > 0) g.withdraw_now(s);
}

void DialOutRouteGuard::on_rewithdraw(DialOutRouteGuard& g, Spec::Step& s) { g.withdraw_now(s); }

void DialOutRouteGuard::on_connected(DialOutRouteGuard& g, Spec::Step& s) {
    g.failures_ = 0;
    g.hold_down_ = g.cfg_.hold_down;
    if (s.from == RouteState::withdrawn && g.actions_.reinstall) g.actions_.reinstall();
}

void DialOutRouteGuard::on_expiry(DialOutRouteGuard& g, Spec::Step&) {
    g.failures_ = 0;
    if (g.actions_.reinstall) g.actions_.reinstall();
}

}  // namespace dl::lnsd
