// A small rtnetlink (NETLINK_ROUTE) client for the kernel side of the data plane: IPv4 routes in a
// table, policy rules on an incoming interface, interface addresses (Linux rtnetlink(7)).
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dl/core/ipv4.hpp"

struct nlmsghdr;

namespace dl::dataplane {

/// The kernel's main routing table (RT_TABLE_MAIN).
inline constexpr std::uint32_t kMainTable = 254;

/// The routing protocol value (FRA_PROTOCOL, Linux fib_rules since 4.17; `ip rule` shows it as
/// `proto 209`) that marks a policy rule as lnsd's own. Not in iproute2's reserved list
/// (/etc/iproute2/rt_protos). One lnsd per network namespace owns every rule that carries it.
inline constexpr std::uint8_t kLnsdRuleProtocol = 209;

/// One IPv4 policy rule `iif <interface> lookup <table> priority <priority> proto <protocol>`.
struct RuleIif {
    std::string interface;
    std::uint32_t table = 0;
    std::uint32_t priority = 0;
    std::uint8_t protocol = 0;
    friend bool operator==(const RuleIif&, const RuleIif&) = default;
};

/// A refused rtnetlink request: the operation ("add route"), the object ("10.1.0.0/16 table 100")
/// and the kernel's errno with its text.
class NetlinkError : public std::runtime_error {
public:
    NetlinkError(std::string operation, std::string object, int error);
    const std::string& operation() const noexcept { return operation_; }
    const std::string& object() const noexcept { return object_; }
    int error() const noexcept { return error_; }

private:
    std::string operation_, object_;
    int error_;
};

/// One route for Netlink::add_routes: `prefix dev ifindex table table scope link`.
struct KernelRoute {
    core::Ipv4Prefix prefix;
    int ifindex = 0;
    std::uint32_t table = kMainTable;
    bool replace = true;  ///< NLM_F_REPLACE, else NLM_F_EXCL
};

/// One NETLINK_ROUTE socket, synchronous requests with NLM_F_ACK (each call waits for the
/// kernel's answer). Works in the network namespace of the thread that constructed it.
/// Not thread-safe; move-only.
class Netlink {
public:
    /// std::system_error if the socket cannot be opened.
    Netlink();
    ~Netlink();
    Netlink(Netlink&& other) noexcept;
    Netlink& operator=(Netlink&&) = delete;
    Netlink(const Netlink&) = delete;
    Netlink& operator=(const Netlink&) = delete;

    /// `prefix` dev `ifindex` table `table` scope link (ip route add/replace). Host bits are
    /// cleared. `replace` = NLM_F_REPLACE (idempotent), else NLM_F_EXCL (EEXIST if present).
    void add_route(core::Ipv4Prefix prefix, int ifindex, std::uint32_t table = kMainTable, bool replace = true);
    /// Adds several routes (as add_route) with one sendto carrying every request (rtnetlink(7):
    /// the kernel handles each message of a datagram and acknowledges each, NLM_F_ACK) and reads
    /// the acknowledgements together with recvmmsg: two system calls for any number of routes,
    /// where add_route takes two per route. Returns, per route in order, nullopt (added) or the
    /// kernel's refusal (NetlinkError "add route" naming the route). A failure of the exchange
    /// itself (the socket refuses the send or the read) is that error for every route.
    std::vector<std::optional<NetlinkError>> add_routes(std::span<const KernelRoute> routes);
    /// The output interfaces (ifindex) of the IPv4 routes to exactly `prefix` (same network and
    /// length) in `table`, read with an RTM_GETROUTE dump; 0 for a route with no single output
    /// interface (multipath, blackhole, unreachable). Empty when there is none. NetlinkError on a
    /// refused dump.
    std::vector<int> route_interfaces(core::Ipv4Prefix prefix, std::uint32_t table = kMainTable);
    /// Deletes that route. `missing_ok`: ESRCH (no such route) is not an error.
    void delete_route(core::Ipv4Prefix prefix, int ifindex, std::uint32_t table = kMainTable, bool missing_ok = true);
    /// `ip rule add iif <interface> lookup <table> priority <priority> proto <protocol>`
    /// (FR_ACT_TO_TBL, NLM_F_EXCL; the same rule already present is not an error).
    void add_rule_iif(const std::string& interface, std::uint32_t table, std::uint32_t priority,
                      std::uint8_t protocol = kLnsdRuleProtocol);
    /// The inverse; the kernel deletes only a rule with that protocol. `missing_ok`: ENOENT is
    /// not an error.
    void delete_rule_iif(const std::string& interface, std::uint32_t table, std::uint32_t priority,
                         bool missing_ok = true, std::uint8_t protocol = kLnsdRuleProtocol);
    /// Every IPv4 policy rule of this namespace with action "lookup <table>", an incoming
    /// interface and protocol `protocol` (RTM_GETRULE dump, filtered here). NetlinkError on a
    /// refused dump.
    std::vector<RuleIif> rules_iif(std::uint8_t protocol = kLnsdRuleProtocol);
    /// `ip addr add <address>/<len> dev <ifindex>` (replace semantics).
    void add_address(int ifindex, core::Ipv4Prefix address);
    /// Sets IFF_UP on a link (e.g. "lo" in a fresh namespace).
    void set_link_up(int ifindex);

    std::uint64_t requests() const noexcept { return seq_; }

private:
    /// Sends `msg` and reads the answers to it until the ACK / NLMSG_DONE; every other answer
    /// (a dump's entries) goes to `on_answer`. NetlinkError on a refusal.
    void request(void* msg, std::size_t len, const std::string& op, const std::string& object, bool missing_ok,
                 const std::function<void(const nlmsghdr&)>& on_answer = {});
    int fd_ = -1;
    std::uint32_t seq_ = 0;
};

}  // namespace dl::dataplane
