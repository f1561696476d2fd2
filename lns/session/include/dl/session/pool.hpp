// The peer address of a call from its profile's address pool (`ppp-profiles[].pool`, offered in
// IPCP, RFC 1332 §3.3, when RADIUS gives no Framed-IP-Address): what lns/session asks of lnsd
// (PoolPort), and the allocator lnsd implements it with (AddressPools).
//
// The call's session takes an address when PPP starts (CallSession::start_ppp, a snapshot whose
// addressing says `pool`) and gives it back exactly once: on entering `closing`, or when the session
// is destroyed without having closed. Single-threaded.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "dl/core/ipv4.hpp"

namespace dl::session {

/// What a call's pool address asks of lnsd. Shared by the owner's calls (the call number tells
/// which call asks); every member optional (none: the call gets no pool address).
struct PoolPort {
    /// A free address of `profile`'s pool for `call` (host order); 0 when the pool is exhausted or
    /// the profile has none.
    std::function<std::uint32_t(std::uint64_t call, const std::string& profile)> allocate;
    /// `address` (from allocate, never 0) is free again. Called once per allocated address.
    std::function<void(std::uint64_t call, std::uint32_t address)> release;
};

/// The owner's address pools: per profile a round-robin cursor, over every profile the set of
/// addresses in use (two profiles whose pools overlap never hand out the same address).
class AddressPools {
public:
    /// The next free host address of `pool` for `profile`, starting after the last one handed out
    /// for that profile: neither the network nor the broadcast address (RFC 1812 §4.2.3.1) nor
    /// `local` (our own IPCP address). 0 when every candidate is in use. `pool` is /30 or wider.
    std::uint32_t allocate(const std::string& profile, core::Ipv4Prefix pool, std::uint32_t local);
    /// `address` is free again; false when it was not in use.
    bool release(std::uint32_t address);
    std::size_t in_use() const noexcept { return used_.size(); }

private:
    std::map<std::string, std::uint32_t, std::less<>> next_;  ///< per profile: offset of the next candidate
    std::set<std::uint32_t> used_;
};

}  // namespace dl::session
