// The dial-out manager of the LNS (JunosE "L2TP Dial-Out" Tables 70-75, "L2TP Dial-Out Process" and
// "Broadband Access Configuration Guide" Table 77): trigger -> AAA -> outgoing call -> route verification, with the four levels of control
// (chassis, virtual router, target, session) as explicit FSM tables (lns/core fsm.hpp).
//
// Sans-I/O: the manager takes trigger packets as bytes and upcalls from the daemon (AAA grant/deny,
// call connected/failed/closed, access route installed) and acts through the Ports callbacks. All
// timing uses the injected TimerQueue (virtual time in tests). Single-threaded (one event loop).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "dl/core/clock.hpp"
#include "dl/core/ipv4.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/core/timer_registry.hpp"

namespace dl::core {
class EventBus;
class ConfigNode;
}  // namespace dl::core
namespace dl::radius::client {
struct DialOutDefinition;
}

namespace dl::core {
struct ListPage;
}

namespace dl::dialout {

/// Operational state of the chassis (JunosE "L2TP Dial-Out" Table 71).
enum class ChassisState : std::uint8_t { inService, initializationFailed };
/// Operational state of a virtual router (Table 72).
enum class VrState : std::uint8_t { inService, initPending, down };
/// Operational state of a target (Table 73).
enum class TargetState : std::uint8_t { inService, inhibited, down };
/// Operational state of a session (Tables 74 and 77).
enum class SessionState : std::uint8_t {
    authenticating, connecting, inService, inhibited, postInhibited, dormant, pending, failed
};
std::string_view to_string(SessionState s) noexcept;
std::string_view to_string(TargetState s) noexcept;
std::string_view to_string(VrState s) noexcept;
std::string_view to_string(ChassisState s) noexcept;

/// Why AAA refused a dial-out session (JunosE "L2TP Dial-Out" "Access-Accept Message", Table 75). Each is a
/// distinct failure counter ("failures by reason") and appears as the cause of the event.
enum class DenyReason : std::uint8_t {
    access_reject,                   ///< RADIUS Access-Reject
    radius_timeout,                  ///< no RADIUS server answered
    service_type_not_outbound,       ///< Service-Type absent or not Outbound (5)
    tunnel_attributes_missing,       ///< no tunnel in the Access-Accept
    tunnel_type_not_l2tp,            ///< Tunnel-Type not L2TP (3) (RFC 2868 §3.1)
    tunnel_medium_not_ipv4,          ///< Tunnel-Medium-Type not IPv4 (1) (RFC 2868 §3.2)
    tunnel_server_endpoint_missing,  ///< no Tunnel-Server-Endpoint (the LAC) (RFC 2868 §3.3)
    invalid_accept,                  ///< the decoder found other problems (text in detail)
    aaa_timeout,                     ///< the manager's own guard: no answer within the trigger timer
};
std::string_view to_string(DenyReason r) noexcept;

/// Session key: (virtual router, target prefix, trigger destination). Text form, used as
/// the event id and in `session reset`: "default/10.10.0.0/16/10.10.1.1".
struct SessionKey {
    std::string vr;
    core::Ipv4Prefix target;
    core::Ipv4Address destination;
    std::string to_string() const;
    /// Inverse of to_string; nullopt when malformed.
    static std::optional<SessionKey> parse(std::string_view text);
    friend auto operator<=>(const SessionKey&, const SessionKey&) = default;
};

/// The PPP / IP options of the interface stack built for a dial-out session (the route's profile).
struct Profile {
    std::string name;
    std::uint16_t mru = 1500;
    /// Authentication the LNS asks of the CPE: "none", "pap", "chap", "pap-chap", "chap-pap".
    std::string authentication = "chap";
    core::Duration keepalive = std::chrono::seconds(30);
    bool ipcp_dns = false;
};

/// A dial-out route (Table 70): target (virtual router, IPv4 prefix), domain name, profile name and
/// optional MPLS route distinguisher (RFC 4364 §4.2 text "ASN:nn" or "a.b.c.d:nn").
struct TargetConfig {
    std::string vr = "default";
    core::Ipv4Prefix prefix;
    std::string domain;
    std::string profile;
    std::string route_distinguisher;  ///< empty: none
};

/// Chassis-wide options (timers are in the registry: `trigger` 30 s, `dormant` 300 s).
struct ChassisConfig {
    /// Sessions in authenticating or connecting at once, chassis-wide (seed: "the maximum number of
    /// connecting sessions in the router"); further valid triggers make sessions pending. >= 1.
    std::uint32_t max_connecting_sessions = 100;
    /// Trigger packets buffered per session (authenticating, failed) and forwarded on inService.
    std::uint32_t trigger_buffer = 4;
    /// Bytes buffered per trigger at most (longer packets are discarded, counted).
    std::uint32_t trigger_max_bytes = 1600;
    /// Pending sessions, when a connecting slot frees, go to dormant as JunosE "L2TP Dial-Out" says (false), or
    /// straight to authenticating with their buffered trigger (true).
    bool pending_to_authenticating = false;
    /// Resource limits that drive a target to inhibited (JunosE "L2TP Dial-Out" Table 73: a target
    /// "cannot obtain sufficient resources to handle triggers") and back to inService by itself.
    /// Dial-out sessions (any state) of one target at most. A trigger that needs one more deletes
    /// the target's oldest dormant session (counted `sessions_evicted`); with none to delete, the
    /// target is inhibited until a session is deleted or becomes dormant. >= 1.
    std::uint32_t max_sessions_per_target = 1000;
    /// Dial-out sessions of all targets of one virtual router at most (same effect; the oldest
    /// dormant session of the router is deleted). >= 1.
    std::uint32_t max_sessions_per_virtual_router = 4000;
    /// Trigger budget of a target: a token bucket refilled at `trigger_rate` triggers per second up
    /// to `trigger_burst`; each trigger not forwarded over an inService session takes one token. An
    /// empty bucket: inhibited until the bucket is full again (burst / rate seconds). Both >= 1.
    std::uint32_t trigger_rate = 100;
    std::uint32_t trigger_burst = 200;
    /// Sessions in pending (Table 77) at most, chassis-wide; further triggers that would make a
    /// session pending are discarded (counted "pending-full"). >= 1.
    std::uint32_t max_pending_sessions = 1000;
};

/// What trigger() did with a packet.
enum class TriggerOutcome : std::uint8_t {
    malformed,            ///< not an IPv4 header
    no_target,            ///< no dial-out target matches: not a trigger
    chassis_down,         ///< chassis initializationFailed: discarded
    vr_not_in_service,    ///< virtual router initPending/down: discarded
    target_not_in_service,///< target inhibited/down: discarded
    forwarded,            ///< session inService (or another session's access route covers it)
    buffered,             ///< kept in the session's buffer (released on inService)
    discarded,            ///< discarded by the session's state or a full buffer
};
std::string_view to_string(TriggerOutcome o) noexcept;

/// The daemon's side of the manager. Every callback is called outside any FSM transition and may
/// call back into the Manager synchronously (e.g. grant() from inside authorize()).
struct Ports {
    /// AAA port: send the dial-out Access-Request (User-Name `user_name`, Service-Type Outbound, no
    /// password) to the RADIUS servers of `key.vr`; answer later with grant() or deny().
    std::function<void(const SessionKey& key, const std::string& user_name)> authorize;
    /// Call port: place the outgoing call (OCRQ, RFC 2661 §5.x) through the LAC(s) of `def`, PPP
    /// from `profile`; answer with call_connected / call_failed / call_closed, then
    /// access_route_installed once PPP authentication installed the access route.
    std::function<void(const SessionKey& key, const radius::client::DialOutDefinition& def, const Profile& profile)>
        place_call;
    /// Call port: tear down the call of `key` (CDN), if any.
    std::function<void(const SessionKey& key, std::string_view reason)> clear_call;
    /// Forward port: a buffered trigger released when the session reaches inService.
    std::function<void(const SessionKey& key, std::span<const std::uint8_t> packet)> forward;
};

/// Thrown by configuration and management calls while the chassis is initializationFailed
/// (Table 71: "All configuration commands fail") and for unknown names in management calls.
class DialOutError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Chassis;
class VirtualRouter;
class Target;
class Session;

/// The dial-out manager. Construct with the shared event bus, timer queue and a timer registry
/// holding `trigger` and `dormant` (register_well_known_timers); the registry is read when a timer
/// is armed, so changing it at run time affects the next arming only (no session is dropped).
class Manager {
public:
    Manager(core::EventBus& bus, core::TimerQueue& timers, core::TimerRegistry& registry, Ports ports,
            ChassisConfig config = {});
    ~Manager();
    Manager(const Manager&) = delete;
    Manager& operator=(const Manager&) = delete;

    // ---- configuration (DialOutError while the chassis is initializationFailed) ----
    /// Loads the `dialout:` section: keys timers, max-connecting-sessions, trigger-buffer,
    /// trigger-max-bytes, pending-to-authenticating, profiles (map name -> {mru, authentication,
    /// keepalive, ipcp-dns}), targets (list of {virtual-router, prefix, domain, profile,
    /// route-distinguisher}). ConfigError naming key, value and rule. Applied atomically.
    /// `route-withdrawal` is accepted and left to lnsd (dl/lnsd/route_withdrawal.hpp).
    void load(const core::ConfigNode& dialout);
    /// Adds a dial-out route at run time. ConfigError("dialout.targets", …) for a duplicate
    /// (vr, prefix), an empty domain, an unknown profile or a malformed route distinguisher.
    /// Creates the virtual router (initPending) if unknown.
    void add_target(const TargetConfig& t);
    /// Removes a route; its sessions are deleted and their calls cleared. DialOutError if unknown.
    void remove_target(std::string_view vr, core::Ipv4Prefix prefix);
    /// Adds or replaces a profile; sessions already placed keep theirs (new calls use the new one).
    void set_profile(Profile p);
    /// Changes a chassis timer (`trigger`, `dormant`); running timers keep their deadline.
    void set_timer(std::string_view name, core::Duration d);
    void set_chassis_config(const ChassisConfig& c);
    const ChassisConfig& chassis_config() const noexcept { return config_; }

    // ---- resource / state inputs from the daemon ----
    /// Table 71: dial-out could not obtain resources for basic operation -> initializationFailed.
    void chassis_initialization_failed(std::string_view reason);
    /// Resources obtained again -> inService.
    void chassis_resources_available();
    /// Table 72: the virtual router became operational (initPending -> inService) or not.
    void vr_operational(std::string_view vr, bool operational);
    /// Table 72: the virtual router's dial-out interface went down / came up.
    void vr_interface(std::string_view vr, bool up);
    /// Table 73 conditions of a target. route_create_failed: the dial-out route could not be
    /// created (`detail`, e.g. the kernel's reason, is the event's cause; default "cannot create
    /// the dial-out route") -> down; again while down: no event, counted
    /// `route_failures_while_down` (show_targets). resources_available: -> inService.
    /// DialOutError for an unknown target.
    enum class TargetCondition : std::uint8_t { resources_exhausted, route_create_failed, resources_available };
    void target_condition(std::string_view vr, core::Ipv4Prefix prefix, TargetCondition c,
                          std::string_view detail = {});

    // ---- data plane input ----
    /// A packet routed to the dial-out interface of `vr` (the IPv4 header only is read: RFC 791
    /// §3.1 version, IHL, destination). Longest-prefix match over the VR's targets.
    TriggerOutcome trigger(std::string_view vr, std::span<const std::uint8_t> packet);

    // ---- upcalls (answers to the ports); unknown keys are counted and ignored ----
    /// First Access-Accept, decoded (decode_dialout_accept). Validated again per Table 75;
    /// a definition that fails is a deny with its reason.
    void grant(const SessionKey& key, const radius::client::DialOutDefinition& def);
    void deny(const SessionKey& key, DenyReason reason, std::string_view detail = {});
    /// ICRP/OCRP/OCCN done: the call is up (the session waits for the access route).
    void call_connected(const SessionKey& key);
    /// Outgoing call failed (CDN / StopCCN): RFC 2661 §4.4.2 Result Code and Q.931 cause.
    void call_failed(const SessionKey& key, std::uint16_t result_code, std::uint16_t q931_cause = 0,
                     std::string_view message = {});
    /// The outgoing call closed (CDN after it was up).
    void call_closed(const SessionKey& key, std::string_view reason = {});
    /// PPP authentication installed the access route (Framed-Route prefixes and Framed-IP-Address as
    /// /32). The manager verifies that the trigger destination is forwarded over it: inService, else
    /// failed (JunosE "L2TP Dial-Out" "Route Installation").
    void access_route_installed(const SessionKey& key, std::vector<core::Ipv4Prefix> prefixes);

    // ---- management ----
    /// `l2tp dial-out session reset <session>`: clears the call, drops buffered triggers, session ->
    /// dormant (a dormant session is deleted). DialOutError for an unknown key.
    void session_reset(const SessionKey& key);
    /// show l2tp dial-out chassis / virtual-router / target / session [detail] as JSON.
    nlohmann::json show_chassis() const;
    nlohmann::json show_virtual_routers(std::string_view name = {}) const;
    nlohmann::json show_targets(std::string_view vr = {}) const;
    nlohmann::json show_sessions(bool detail = false) const;
    /// The paged listings (core::ListPage: `limit`, `after`; the answer's shape is ListPage's).
    /// Targets are listed in (virtual router, longest prefix first) order and resume after
    /// "<vr>/<prefix>"; sessions in (virtual router, target, destination) order and resume after a
    /// session key "<vr>/<prefix>/<destination>". A key that is not one is ControlArgError("after").
    nlohmann::json show_targets(std::string_view vr, const core::ListPage& page) const;
    nlohmann::json show_sessions(bool detail, const core::ListPage& page) const;
    nlohmann::json show_session(const SessionKey& key) const;

    // ---- introspection for tests / lnsd ----
    ChassisState chassis_state() const noexcept;
    std::optional<VrState> vr_state(std::string_view vr) const;
    std::optional<TargetState> target_state(std::string_view vr, core::Ipv4Prefix prefix) const;
    std::optional<SessionState> session_state(const SessionKey& key) const;
    /// Armed timer of a session: {name, remaining}; nullopt if none or unknown.
    std::optional<std::pair<std::string, core::Duration>> session_timer(const SessionKey& key) const;
    /// The session's current inhibited value (seconds granularity).
    std::optional<core::Duration> session_inhibited_value(const SessionKey& key) const;
    std::size_t session_count() const noexcept;
    std::uint32_t connecting_sessions() const noexcept { return connecting_; }
    /// Builds the Access-Request User-Name: `[RD/]{destination}@{domain}` (JunosE "L2TP Dial-Out" "Access-Request
    /// Message"; example `0.0.0.0:65000/10.10.1.1@L2TP-dial-out.de.dt`).
    static std::string user_name(std::string_view route_distinguisher, core::Ipv4Address destination,
                                 std::string_view domain);
    /// Parses the IPv4 destination of a packet (RFC 791 §3.1); nullopt if not an IPv4 header.
    static std::optional<core::Ipv4Address> ipv4_destination(std::span<const std::uint8_t> packet) noexcept;
    /// Checks an MPLS route distinguisher text (RFC 4364 §4.2: "asn:nn" or "a.b.c.d:nn").
    static bool valid_route_distinguisher(std::string_view rd) noexcept;
    /// The session FSM table as text, one row per line ("connecting + timer-expiry -> inhibited").
    static std::string session_table();
    /// Bytes of one session object (without its buffered triggers and definition).
    static std::size_t session_footprint() noexcept;

private:
    friend class Session;
    friend class Target;
    friend class VirtualRouter;
    friend class Chassis;
    struct Guard;
    void defer(std::function<void()> fn);
    void drain();
    void require_chassis(std::string_view command) const;
    VirtualRouter& vr_or_create(const std::string& name);
    VirtualRouter* find_vr(std::string_view name) const;
    Target* find_target(std::string_view vr, core::Ipv4Prefix prefix) const;
    Session* find_session(const SessionKey& key) const;
    const Profile* find_profile(std::string_view name) const;
    void validate_target(const TargetConfig& t, std::string_view path) const;
    void session_left_or_entered(Session& s, SessionState from, SessionState to);
    void promote_pending();
    void count_failure(Target& t, std::string_view reason);
    static void validate_chassis_config(const ChassisConfig& c);
    /// Sessions of all targets of `vr`.
    static std::size_t vr_sessions(const VirtualRouter& vr);
    /// Whether a new session of `t` fits under max-sessions-per-target and
    /// max-sessions-per-virtual-router, and the dormant session to delete first when it fits only
    /// so (the oldest dormant one of the target, or of the virtual router when only its cap is
    /// reached; JunosE "L2TP Dial-Out" Table 74 dormant).
    struct Room {
        bool fits;
        Session* evict;  ///< nullptr: nothing to delete
    };
    Room room_for_session(const Target& t) const;
    /// No room for a new session of `t`, not even by evicting a dormant one.
    bool over_session_cap(const Target& t) const;
    /// Deletes the dormant session `victim` (event `evict`) to make room for a session of `for_key`;
    /// counted as `sessions_evicted` of its target, virtual router and the chassis.
    void evict(Session& victim, const SessionKey& for_key);
    /// A session of a target of `vr` was deleted or became dormant: targets inhibited by a session
    /// cap recover.
    void sessions_ended(VirtualRouter& vr);

    core::EventBus& bus_;
    core::TimerQueue& timers_;
    core::TimerRegistry& registry_;
    Ports ports_;
    ChassisConfig config_;
    std::unique_ptr<Chassis> chassis_;
    std::map<std::string, std::unique_ptr<VirtualRouter>, std::less<>> vrs_;
    std::map<std::string, Profile, std::less<>> profiles_;
    std::deque<SessionKey> pending_queue_;
    std::deque<std::function<void()>> effects_;
    core::Timer drain_timer_;
    int depth_ = 0;
    std::uint32_t connecting_ = 0;
    std::uint32_t pending_ = 0;  ///< sessions in pending
    std::uint64_t dormant_seq_ = 0;  ///< orders sessions that entered dormant at the same instant
    std::uint64_t unknown_upcalls_ = 0;
    std::uint64_t not_triggers_ = 0;
    std::uint64_t malformed_triggers_ = 0;
};

}  // namespace dl::dialout
