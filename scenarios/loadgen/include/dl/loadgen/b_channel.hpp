// The load generator's short cut for B-channel bytes: once the emulated exchange has connected a
// call, the DATA messages (PPP frames, sync or async HDLC) between the LAC and the called CPE go
// straight from one to the other instead of through the exchange, which relays them unchanged
// anyway (its `data` case: same payload, the other side's call reference). SETUP, CONNECT and
// RELEASE still go through the exchange, so its per-number routing, policies and Q.931 causes
// stay. Free of I/O: it only watches the signalling and answers "where does this DATA go".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "dl/isdn/message.hpp"

namespace dl::loadgen {

/// Pairs the caller's call reference with the callee's from the signalling seen on both sides of
/// the exchange (Q.931 §4.3: the reference is local to each interface; the exchange's callee side
/// sets the 0x8000 flag, as isdn-emu does), and routes DATA between the pair once the call is
/// Active (CONNECT sent to the caller). One caller endpoint (the LAC) and one callee endpoint (all
/// CPEs); the caller's SETUPs are matched to the callee's by called number, one call per number
/// being set up at a time (a number seen again replaces the older pending SETUP).
class BChannelBridge {
public:
    /// A message the caller (LAC) sent to the exchange.
    void from_caller(const isdn::Message& m);
    /// A message the exchange sent to the caller (LAC).
    void to_caller(const isdn::Message& m);
    /// A message the callee (CPE) sent to the exchange.
    void from_callee(const isdn::Message& m);
    /// A message the exchange sent to the callee (CPE).
    void to_callee(const isdn::Message& m);

    /// The callee's reference (with the 0x8000 flag) for DATA the caller sent on `caller_ref`;
    /// nullopt when that call is not Active (the DATA then goes to the exchange as before).
    std::optional<std::uint16_t> callee_of(std::uint16_t caller_ref) const;
    /// The caller's reference for DATA the callee sent on `callee_ref` (with the flag); nullopt
    /// when not Active.
    std::optional<std::uint16_t> caller_of(std::uint16_t callee_ref) const;

    std::size_t active() const noexcept { return active_count_; }
    std::size_t pairs() const noexcept { return by_caller_.size(); }

private:
    struct Pair {
        std::uint16_t callee = 0;  // with the 0x8000 flag
        bool active = false;
    };
    void forget_caller(std::uint16_t caller_ref);
    std::unordered_map<std::string, std::uint16_t> pending_;  // called number -> caller ref
    std::unordered_map<std::uint16_t, Pair> by_caller_;
    std::unordered_map<std::uint16_t, std::uint16_t> by_callee_;  // callee ref (flagged) -> caller ref
    std::size_t active_count_ = 0;
};

}  // namespace dl::loadgen
