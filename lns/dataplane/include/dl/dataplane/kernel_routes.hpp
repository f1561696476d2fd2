// Mirrors a virtual router's session routes into the kernel routing table of the LNS namespace,
// pointing at the VR's TUN, so the home site reaches the remote sites.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "dl/core/ipv4.hpp"
#include "dl/dataplane/netlink.hpp"

namespace dl::dataplane {

/// Kernel side of one virtual router.
///  - table: kMainTable for the `default` VR; any other VR gets a table of its own (1..2^32-1,
///    not 253..255) — the kernel here has no VRF, so a policy rule per ingress interface
///    (`ip rule iif <if> lookup <table>`) sends that interface's traffic to the VR's table.
///  - ingress_interfaces: the VR's home-side interfaces (ignored for the main table).
struct VrKernelConfig {
    std::string vr = "default";
    int tun_ifindex = 0;
    std::uint32_t table = kMainTable;
    std::vector<std::string> ingress_interfaces;
    std::uint32_t rule_priority = 1000;
};

/// Installs / removes `prefix dev <tun> table <table>` as sessions come and go, remembers what it
/// installed, and removes it all (routes, then rules) on shutdown or destruction.
/// Errors never throw from install/remove: they are returned as text naming the prefix and the
/// kernel's reason ("add route 10.1.0.0/16 dev dlo-a table 100: No such device") and counted.
class KernelRouteMirror {
public:
    /// `netlink` must outlive the mirror and live in the LNS namespace.
    KernelRouteMirror(Netlink& netlink, VrKernelConfig config);
    ~KernelRouteMirror();
    KernelRouteMirror(const KernelRouteMirror&) = delete;
    KernelRouteMirror& operator=(const KernelRouteMirror&) = delete;

    /// Adds the policy rules for a non-main table. Returns the errors (empty = all added).
    std::vector<std::string> start();
    /// Installs one prefix: `prefix dev <tun> table <table>`, added with NLM_F_EXCL so that it
    /// never replaces a route that is not its own (rtnetlink(7)). Idempotent: a route to the
    /// prefix already there through this mirror's TUN is a success. nullopt on success, else the
    /// error text; a route to the same prefix through another interface gives the kernel's
    /// "File exists" (EEXIST) and names the holder ("add route 10.9.0.0/24 dev dlo-a table 254:
    /// File exists (held by dev eth1)"), and that route is left untouched. JunosE "L2TP Dial-Out"
    /// Table 73: the target of such a dial-out route is `down`.
    std::optional<std::string> install(core::Ipv4Prefix prefix);
    /// Installs several prefixes as install() does each, with their requests sent together and
    /// their answers read together (Netlink::add_routes: two system calls, not two per prefix).
    /// One result per prefix, in order; each refusal counted.
    std::vector<std::optional<std::string>> install(std::span<const core::Ipv4Prefix> prefixes);
    /// Removes one prefix that install() added (a prefix never installed is a no-op success).
    std::optional<std::string> remove(core::Ipv4Prefix prefix);
    /// Removes every installed prefix and the policy rules; returns the errors.
    std::vector<std::string> shutdown();

    /// The policy rules start() adds: one per ingress interface for a non-main table, each with
    /// protocol kLnsdRuleProtocol; none for the main table.
    std::vector<RuleIif> rules() const;

    const VrKernelConfig& config() const noexcept { return config_; }
    std::size_t installed_count() const noexcept { return installed_.size(); }
    bool installed(core::Ipv4Prefix prefix) const { return installed_.count(prefix.network()) != 0; }
    std::uint64_t errors() const noexcept { return errors_; }

private:
    /// The answer to adding `prefix` (network form): the EEXIST check, counting, installed_.
    std::optional<std::string> settle(core::Ipv4Prefix prefix, const std::optional<NetlinkError>& refusal);
    Netlink& nl_;
    VrKernelConfig config_;
    std::set<core::Ipv4Prefix> installed_;
    bool rules_added_ = false;
    std::uint64_t errors_ = 0;
};

/// What remove_stale_rules() did: the rules it removed and the errors (text naming the rule and the
/// kernel's reason).
struct StaleRules {
    std::vector<RuleIif> removed;
    std::vector<std::string> errors;
};

/// Removes, from this namespace, every IPv4 policy rule lnsd owns (protocol kLnsdRuleProtocol)
/// that is not in `keep`: rules a previous lnsd left behind (killed with SIGKILL, or started with
/// another configuration). Rules with any other protocol are never touched. Never throws.
StaleRules remove_stale_rules(Netlink& netlink, const std::vector<RuleIif>& keep);

}  // namespace dl::dataplane
