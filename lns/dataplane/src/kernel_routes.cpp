#include "dl/dataplane/kernel_routes.hpp"

#include <net/if.h>

#include <algorithm>
#include <cerrno>
#include <utility>

namespace dl::dataplane {

KernelRouteMirror::KernelRouteMirror(Netlink& netlink, VrKernelConfig config)
    : nl_(netlink), config_(std::move(config)) {}

KernelRouteMirror::~KernelRouteMirror() { shutdown(); }

std::vector<std::string> KernelRouteMirror::start() {
    std::vector<std::string> errs;
    if (config_.table == kMainTable) return errs;
    for (const auto& iif : config_.ingress_interfaces) {
        try {
            nl_.add_rule_iif(iif, config_.table, config_.rule_priority);
        } catch (const std::exception& e) {
            ++errors_;
            errs.emplace_back(e.what());
        }
    }
    rules_added_ = true;
    return errs;
}

std::vector<RuleIif> KernelRouteMirror::rules() const {
    std::vector<RuleIif> out;
    if (config_.table == kMainTable) return out;
    for (const auto& iif : config_.ingress_interfaces)
        out.push_back({.interface = iif, .table = config_.table, .priority = config_.rule_priority,
                       .protocol = kLnsdRuleProtocol});
    return out;
}

StaleRules remove_stale_rules(Netlink& netlink, const std::vector<RuleIif>& keep) {
    StaleRules r;
    std::vector<RuleIif> owned;
    try {
        owned = netlink.rules_iif(kLnsdRuleProtocol);
    } catch (const std::exception& e) {
        r.errors.emplace_back(e.what());
        return r;
    }
    for (const auto& rule : owned) {
        if (std::find(keep.begin(), keep.end(), rule) != keep.end()) continue;
        try {
            netlink.delete_rule_iif(rule.interface, rule.table, rule.priority, /*missing_ok=*/true, rule.protocol);
            r.removed.push_back(rule);
        } catch (const std::exception& e) {
            r.errors.emplace_back(e.what());
        }
    }
    return r;
}

std::optional<std::string> KernelRouteMirror::install(core::Ipv4Prefix prefix) {
    return install(std::span<const core::Ipv4Prefix>(&prefix, 1)).front();
}

std::vector<std::optional<std::string>> KernelRouteMirror::install(std::span<const core::Ipv4Prefix> prefixes) {
    // NLM_F_EXCL, never NLM_F_REPLACE: a route to the same prefix through another interface
    // (the operator's route to the LAN, another VR's TUN) stays as it is.
    std::vector<KernelRoute> adds;
    adds.reserve(prefixes.size());
    for (const auto& p : prefixes) adds.push_back({p.network(), config_.tun_ifindex, config_.table, /*replace=*/false});
    std::vector<std::optional<std::string>> out(prefixes.size());
    std::vector<std::optional<NetlinkError>> refusals;
    try {
        refusals = nl_.add_routes(adds);
    } catch (const std::exception& e) {
        for (auto& o : out) {
            ++errors_;
            o = e.what();
        }
        return out;
    }
    for (std::size_t i = 0; i < adds.size(); ++i) out[i] = settle(adds[i].prefix, refusals[i]);
    return out;
}

std::optional<std::string> KernelRouteMirror::settle(core::Ipv4Prefix prefix,
                                                     const std::optional<NetlinkError>& refusal) {
    if (refusal) {
        const NetlinkError& e = *refusal;
        if (e.error() != EEXIST) {
            ++errors_;
            return std::string(e.what());
        }
        // Already there: ours (installed again after a link flap, or by a session and a target
        // alike) is a success; through another interface it is the error, naming the holder.
        std::vector<int> holders;
        try {
            holders = nl_.route_interfaces(prefix, config_.table);
        } catch (const std::exception& le) {
            ++errors_;
            return std::string(e.what()) + " (" + le.what() + ")";
        }
        if (std::find(holders.begin(), holders.end(), config_.tun_ifindex) == holders.end()) {
            ++errors_;
            std::string msg = e.what();
            msg.append(" (held by");
            for (int oif : holders) {
                char name[IF_NAMESIZE] = {};
                msg.append(" dev ");
                if (oif != 0 && ::if_indextoname(static_cast<unsigned>(oif), name)) {
                    msg.append(name);
                } else {
                    msg.append("#").append(std::to_string(oif));
                }
            }
            msg.append(")");
            return msg;
        }
    }
    installed_.insert(prefix);
    return std::nullopt;
}

std::optional<std::string> KernelRouteMirror::remove(core::Ipv4Prefix prefix) {
    prefix = prefix.network();
    auto it = installed_.find(prefix);
    if (it == installed_.end()) return std::nullopt;
    installed_.erase(it);
    try {
        nl_.delete_route(prefix, config_.tun_ifindex, config_.table, /*missing_ok=*/true);
    } catch (const std::exception& e) {
        ++errors_;
        return std::string(e.what());
    }
    return std::nullopt;
}

std::vector<std::string> KernelRouteMirror::shutdown() {
    std::vector<std::string> errs;
    while (!installed_.empty()) {
        if (auto e = remove(*installed_.begin())) errs.push_back(*e);
    }
    if (rules_added_) {
        for (const auto& iif : config_.ingress_interfaces) {
            try {
                nl_.delete_rule_iif(iif, config_.table, config_.rule_priority, /*missing_ok=*/true);
            } catch (const std::exception& e) {
                ++errors_;
                errs.emplace_back(e.what());
            }
        }
        rules_added_ = false;
    }
    return errs;
}

}  // namespace dl::dataplane
