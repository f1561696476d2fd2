// Per-virtual-router session route table: longest-prefix match IPv4 → session.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dl/core/ipv4.hpp"

namespace dl::dataplane {

/// Opaque handle of a session, chosen by the owner of the sessions (lnsd).
using SessionHandle = std::uint64_t;

/// Where a route came from.
enum class RouteKind : std::uint8_t {
    access,        ///< access route of the dial-out profile / VR configuration
    framed_route,  ///< RADIUS Framed-Route (RFC 2865 §5.22)
    framed_ip,     ///< RADIUS Framed-IP-Address / IPCP peer address host route (RFC 2865 §5.8)
};
std::string_view to_string(RouteKind k) noexcept;

struct Route {
    core::Ipv4Prefix prefix;
    SessionHandle session = 0;
    RouteKind kind = RouteKind::access;
    friend bool operator==(const Route&, const Route&) = default;
};

/// Longest-prefix-match table: one hash map per prefix length (0..32) and a bit set of the
/// lengths in use, so lookup is at most 33 probes, longest first (O(32)), and insert / remove
/// are O(1) expected. A prefix has one owner: inserting a prefix another session holds is a
/// conflict (the first session keeps it). Host bits are cleared on insert ("10.1.2.3/16" is
/// stored as 10.1.0.0/16). Not thread-safe (one forwarding thread per VR).
class RouteTable {
public:
    enum class Insert : std::uint8_t { inserted, already_present, conflict };

    /// Adds prefix → session. already_present if this session already holds it (kind updated),
    /// conflict if another session does (table unchanged).
    Insert insert(core::Ipv4Prefix prefix, SessionHandle session, RouteKind kind);
    /// Removes the prefix if `session` holds it; false otherwise.
    bool remove(core::Ipv4Prefix prefix, SessionHandle session);
    /// Removes every prefix of `session`; returns them (for kernel route removal), in insertion order.
    std::vector<core::Ipv4Prefix> remove_session(SessionHandle session);

    /// The longest prefix containing `destination`, nullptr if none ("no route": a possible
    /// dial-out trigger). The pointer is valid until the next insert/remove.
    const Route* lookup(core::Ipv4Address destination) const noexcept;
    /// lookup() for a host-order address, the hot-path form.
    const Route* lookup(std::uint32_t destination) const noexcept { return lookup(core::Ipv4Address{destination}); }
    /// The route for exactly this prefix, nullptr if none.
    const Route* find(core::Ipv4Prefix prefix) const noexcept;

    std::size_t size() const noexcept { return size_; }
    std::size_t session_count() const noexcept { return by_session_.size(); }
    /// Prefixes held by `session` (empty if none).
    std::vector<core::Ipv4Prefix> prefixes_of(SessionHandle session) const;
    /// Every route, sorted by prefix length descending then address (for `show` and tests).
    std::vector<Route> routes() const;
    void clear() noexcept;

private:
    std::array<std::unordered_map<std::uint32_t, Route>, 33> by_length_;
    std::uint64_t lengths_in_use_ = 0;  // bit L set ⇔ by_length_[L] non-empty
    std::unordered_map<SessionHandle, std::vector<core::Ipv4Prefix>> by_session_;
    std::size_t size_ = 0;
};

}  // namespace dl::dataplane
