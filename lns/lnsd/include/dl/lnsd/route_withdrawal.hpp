// Dial-out route withdrawal: a target's dial-out route (its prefix towards the virtual router's
// TUN in the kernel) taken out while the box cannot place calls for it, so that a routing daemon
// announcing the kernel's routes (docs/scale-out.md) stops attracting triggers to a box that
// would only fail them, and put back after a hold-down.
//
// JunosE keeps a target's dial-out route while the target is configured: a target is inService
// ("Dial-out route is up and operational") whatever its sessions do, and failed outgoing calls only
// inhibit the sessions (JunosE "L2TP Dial-Out", Tables 73 and 74). That stays lnsd's default
// (`after-failures: 0`); the withdrawal is an lnsd extension for boxes behind ECMP. Sans-I/O: the
// owner (DialOutWiring) reports outcomes and installs / removes the kernel route in the callbacks.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "dl/core/clock.hpp"
#include "dl/core/fsm.hpp"

namespace dl::core {
class ConfigNode;
}

namespace dl::lnsd {

/// `dialout.route-withdrawal` of lnsd's configuration:
///  - after_failures: consecutive dial-outs of a target that ended without any LAC answering
///    (`OutgoingResult::no_lac_answered`, or the connecting timer expired before a LAC answered),
///    or whose dial-out Access-Request no home RADIUS server answered, with no call of the target
///    connected in between, before its dial-out route is withdrawn. 0 (default): never (JunosE).
///  - hold_down: how long the route stays withdrawn the first time; each withdrawal that follows
///    a reinstall without a connected call in between doubles it, up to 8 × hold_down (the
///    progression of the JunosE inhibited timer, "L2TP Dial-Out" Table 74). 1 s .. 1 h, default 30 s.
struct RouteWithdrawalConfig {
    std::uint32_t after_failures = 0;
    core::Duration hold_down = std::chrono::seconds(30);
};

/// Reads `route-withdrawal` of the `dialout:` section (absent: the defaults). ConfigError naming
/// the key and the rule ("dialout.route-withdrawal.after-failures: … must be within 0..1000").
RouteWithdrawalConfig load_route_withdrawal(const core::ConfigNode& dialout);

/// Route state of one target (entity `lnsd.dialout-route`, id "<vr>/<prefix>"):
///  - announced: the route is in the kernel; failures are counted;
///  - withdrawn: taken out after `after_failures` failures; timer `route-hold-down`;
///  - probation: put back after the hold-down; the next failure withdraws it again (hold-down
///    doubled), a connected call makes it announced (hold-down back to its configured value).
enum class RouteState : std::uint8_t { announced, withdrawn, probation };
std::string_view to_string(RouteState s) noexcept;

/// One target's route guard: an explicit FSM (lns/core fsm) over RouteState with events
/// `unreachable` (a dial-out failure as counted above; the cause names it), `connected` (a call of
/// the target connected: OCCN, RFC 2661 §5.6) and `hold-down-expiry`. Each transition is one
/// structured event. `withdraw` / `reinstall` run from the transition's action (the owner removes /
/// installs the kernel route and counts it).
class DialOutRouteGuard {
public:
    enum class Event : std::uint8_t { unreachable, connected, hold_down_expiry };
    struct Actions {
        std::function<void()> withdraw;
        std::function<void()> reinstall;
    };
    using Spec = core::FsmSpec<DialOutRouteGuard, RouteState, Event>;

    DialOutRouteGuard(core::FsmEnv env, std::string id, RouteWithdrawalConfig cfg, Actions actions);

    void unreachable(std::string_view cause) { fsm_.dispatch(Event::unreachable, cause); }
    void connected(std::string_view cause) { fsm_.dispatch(Event::connected, cause); }

    RouteState state() const noexcept { return fsm_.state(); }
    /// Failures counted since the last connected call (announced) or reinstall.
    std::uint32_t failures() const noexcept { return failures_; }
    /// The hold-down the next withdrawal will use.
    core::Duration next_hold_down() const noexcept { return hold_down_; }
    /// The FSM table as text (one row per line).
    static std::string table();

private:
    static const Spec& spec();
    static void on_failure(DialOutRouteGuard& g, Spec::Step& s);
    static void on_connected(DialOutRouteGuard& g, Spec::Step& s);
    static void on_expiry(DialOutRouteGuard& g, Spec::Step& s);
    static void on_rewithdraw(DialOutRouteGuard& g, Spec::Step& s);
    void withdraw_now(Spec::Step& s);

    RouteWithdrawalConfig cfg_;
    Actions actions_;
    std::uint32_t failures_ = 0;
    core::Duration hold_down_;
    core::Fsm<DialOutRouteGuard, RouteState, Event> fsm_;
};

}  // namespace dl::lnsd
