// lac-emu fault injection at the UDP edge (at run time: drop / delay /
// duplicate / corrupt the next N control messages ... stop answering Hello). Pure: no I/O, no
// clock. The shell hands every L2TP datagram it is about to send to outgoing() and puts each
// returned Emission on the wire `after` later (its TimerQueue, i.e. the injected clock), and asks
// deliver() about every datagram it received before giving it to the engine.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "dl/core/duration.hpp"

namespace dl::lac {

/// What happens to one outgoing control message (never to a ZLB or a data message).
///  - drop: not sent (the sender's retransmission, RFC 2661 §5.8, must recover);
///  - duplicate: sent twice back to back (the receiver must acknowledge and ignore the copy, §5.8);
///  - corrupt: the Length of the first AVP (the Message Type AVP, §4.4.1) is rewritten to 5, below
///    the 6-octet minimum of §4.1, so the message is malformed and the receiver must discard it
///    without acknowledging it; the L2TP header is left intact (see corrupt_first_avp_length);
///  - delay: sent after the given delay.
enum class FaultKind : std::uint8_t { drop, duplicate, corrupt, delay };

/// "drop", "duplicate", "corrupt", "delay".
std::string_view to_string(FaultKind k) noexcept;
/// The inverse of to_string(); nullopt for any other text.
std::optional<FaultKind> fault_kind_from(std::string_view s) noexcept;

/// Offset of the first AVP of an L2TP control message with at least one AVP (RFC 2661 §3.1:
/// flags/version, optional Length, Tunnel ID, Session ID, optional Ns/Nr, optional Offset);
/// nullopt for a data message (T bit clear), a ZLB or a truncated header.
std::optional<std::size_t> first_avp_offset(std::span<const std::uint8_t> datagram) noexcept;

/// Message Type (RFC 2661 §4.4.1, the first AVP of every control message) of an L2TP datagram;
/// nullopt for data messages, ZLBs and anything too short to hold a Message Type AVP.
std::optional<std::uint16_t> control_message_type(std::span<const std::uint8_t> datagram) noexcept;

/// Rewrites the 10-bit Length of the first AVP to 5 (below the §4.1 minimum of 6), keeping its
/// M/H bits. Returns false (and leaves the datagram alone) when it has no AVP.
bool corrupt_first_avp_length(std::vector<std::uint8_t>& datagram) noexcept;

/// One datagram to send `after` from now (zero: at once).
struct Emission {
    core::Duration after{};
    std::vector<std::uint8_t> bytes;
};

/// What outgoing() decided: the datagrams to send (none for drop) and the fault applied, if any.
struct FaultOutcome {
    std::vector<Emission> emissions;
    std::optional<FaultKind> applied;
};

/// Faults armed on command, applied in arming order: each arm() covers the next `count` outgoing
/// control messages; Hellos (§6.5) received are swallowed (never reach the engine, so never
/// acknowledged) while ignore_hello is on.
class FaultInjector {
public:
    /// Bounds of arm(): count 1..1000, delay 0..10 min.
    static constexpr int kMaxCount = 1000;
    static constexpr core::Duration kMaxDelay = std::chrono::minutes(10);

    struct Counters {
        std::uint64_t dropped = 0, duplicated = 0, corrupted = 0, delayed = 0, hello_ignored = 0;
    };

    /// Arms `kind` for the next `count` outgoing control messages (after those already armed);
    /// `delay` is used by FaultKind::delay only. Throws std::invalid_argument naming the bound
    /// when count or delay is out of range.
    void arm(FaultKind kind, int count, core::Duration delay = {});
    /// Removes every armed fault and turns ignore_hello off.
    void clear() noexcept;
    /// Stop (true) or resume (false) answering Hello.
    void set_ignore_hello(bool on) noexcept { ignore_hello_ = on; }
    bool ignore_hello() const noexcept { return ignore_hello_; }
    /// Outgoing control messages the armed faults still cover.
    std::size_t pending() const noexcept;

    /// One datagram we are about to send: ZLBs and data messages pass untouched; a control
    /// message consumes one unit of the oldest armed fault.
    FaultOutcome outgoing(std::vector<std::uint8_t> datagram);
    /// One datagram received: false when it is a Hello to be ignored (counted), else true.
    bool deliver(std::span<const std::uint8_t> datagram) noexcept;

    const Counters& counters() const noexcept { return counters_; }

private:
    struct Armed {
        FaultKind kind;
        int left;
        core::Duration delay;
    };
    std::deque<Armed> armed_;
    bool ignore_hello_ = false;
    Counters counters_;
};

}  // namespace dl::lac
