// `l2tp dial-out fault-injection`: a test aid of lnsd's control API that puts the dial-out
// chassis, a virtual router or a target in the conditions of JunosE "L2TP Dial-Out" Tables 71-73 that lnsd cannot
// otherwise produce on demand (resources for basic operation unavailable, a VR not yet operational,
// a target that cannot obtain resources). Each injection is an event `lnsd.fault-injection` before
// the manager's own transition, so a log always shows that a state was injected, not observed.
// (A VR whose TUN goes down and a target whose dial-out route cannot be created are observed for
// real: DialOutWiring::dialout_interface, install_dialout_route.)
#include <string>

#include <nlohmann/json.hpp>

#include "dl/core/control.hpp"
#include "dl/core/event.hpp"
#include "dl/lnsd/dialout_wiring.hpp"

namespace dl::lnsd {

namespace {
std::string arg(const nlohmann::json& a, const char* k) {
    if (!a.contains(k)) return {};
    return a[k].is_string() ? a[k].get<std::string>() : a[k].dump();
}
}  // namespace

void DialOutWiring::register_fault_injection(core::ControlServer& server) {
    server.add_handler(
        "l2tp dial-out fault-injection",
        [this](const nlohmann::json& a) -> nlohmann::json {
            using C = dialout::Manager::TargetCondition;
            // A test aid changes states no real cause produced: off unless the configuration says
            // `fault-injection: true` (a production lnsd cannot be pushed into them by a client).
            if (!cfg_.fault_injection)
                throw core::ControlError(
                    "fault injection is disabled: it is a test aid, enabled by `fault-injection: true` in the configuration");
            const auto level = arg(a, "level");
            const auto condition = arg(a, "condition");
            auto publish = [this, &level, &condition](const std::string& id) {
                core::Event e;
                e.entity = "lnsd.fault-injection";
                e.id = id;
                e.event = condition;
                e.cause = "injected by control command (level=" + level + ")";
                bus_.publish(e);
            };
            try {
                if (level == "chassis") {
                    // JunosE "L2TP Dial-Out" Table 71: initializationFailed / inService.
                    if (condition == "initialization-failed") {
                        const auto reason = a.contains("reason") ? arg(a, "reason") : std::string("fault injection");
                        publish("chassis");
                        manager_->chassis_initialization_failed(reason);
                    } else if (condition == "resources-available") {
                        publish("chassis");
                        manager_->chassis_resources_available();
                    } else {
                        throw core::ControlError("condition '" + condition +
                                                 "' is not initialization-failed|resources-available (level=chassis)");
                    }
                    return {{"level", level}, {"condition", condition},
                            {"state", dialout::to_string(manager_->chassis_state())}};
                }
                if (level == "virtual-router") {
                    // JunosE "L2TP Dial-Out" Table 72: initPending ("not yet operational") and back.
                    const auto vr = a.contains("virtual-router") ? arg(a, "virtual-router") : std::string("default");
                    if (!cfg_.find_vr(vr)) throw core::ControlError("virtual router '" + vr + "' is not configured");
                    if (condition != "not-operational" && condition != "operational")
                        throw core::ControlError("condition '" + condition +
                                                 "' is not not-operational|operational (level=virtual-router)");
                    publish(vr);
                    manager_->vr_operational(vr, condition == "operational");
                    return {{"level", level}, {"condition", condition}, {"virtual-router", vr},
                            {"state", dialout::to_string(*manager_->vr_state(vr))}};
                }
                if (level == "target") {
                    // JunosE "L2TP Dial-Out" Table 73: inhibited (cannot obtain resources), down, and recovery.
                    const auto vr = a.contains("virtual-router") ? arg(a, "virtual-router") : std::string("default");
                    const auto text = arg(a, "prefix");
                    const auto prefix = core::Ipv4Prefix::parse(text);
                    if (!prefix || prefix->has_host_bits())
                        throw core::ControlError("prefix '" + text + "' is not an IPv4 prefix");
                    C c{};
                    if (condition == "resources-exhausted") c = C::resources_exhausted;
                    else if (condition == "route-create-failed") c = C::route_create_failed;
                    else if (condition == "resources-available") c = C::resources_available;
                    else
                        throw core::ControlError(
                            "condition '" + condition +
                            "' is not resources-exhausted|route-create-failed|resources-available (level=target)");
                    if (!manager_->target_state(vr, *prefix))
                        throw core::ControlError("dial-out target " + vr + "/" + text + " does not exist");
                    publish(vr + "/" + prefix->to_string());
                    manager_->target_condition(vr, *prefix, c);
                    return {{"level", level}, {"condition", condition}, {"target", vr + "/" + prefix->to_string()},
                            {"state", dialout::to_string(*manager_->target_state(vr, *prefix))}};
                }
                throw core::ControlError("level '" + level + "' is not chassis|virtual-router|target");
            } catch (const core::ControlError&) {
                throw;
            } catch (const std::exception& e) {
                throw core::ControlError(e.what());
            }
        },
        "TEST AID: inject a dial-out condition: level=chassis condition=initialization-failed|resources-available "
        "[reason=]; level=virtual-router virtual-router=V condition=not-operational|operational; level=target "
        "virtual-router=V prefix=P condition=resources-exhausted|route-create-failed|resources-available");
}

}  // namespace dl::lnsd
