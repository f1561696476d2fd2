// Link impairment rules: drop, delay, duplicate or reorder the datagrams crossing a relay,
// chosen by what they carry (L2TP control message type, ZLB, RADIUS code, port, direction). The
// engine is pure: datagrams and TimePoints in, scheduled datagrams out, so unit tests run it in
// virtual time; UdpRelay (relay.hpp) drives it with real sockets and the SystemClock.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "dl/core/clock.hpp"

namespace dl::scenario {

using core::Duration;
using core::TimePoint;

/// Which way a datagram crosses the relay: forward = from the client (the side that sent to the
/// relay's listening address, e.g. lnsd) to the upstream peer; reverse = from the peer back.
enum class Direction { forward, reverse };

std::string_view to_string(Direction d) noexcept;

/// What a datagram carries, from proto/decode (ports select the codec, RFC 2661 §8.1 / RFC 2865 §3).
///  protocol: "l2tp", "radius", "radius-acct", "radius-dynauth" or "unknown";
///  message:  L2TP control message name ("SCCRQ", "OCRQ", …, RFC 2661 §3.2), "ZLB" (a control
///            message without AVPs, §5.8), "data" (a data message); RADIUS code name
///            ("Access-Request", …, RFC 2865 §4); "malformed" when the codec refuses it; "" else.
struct Classified {
    std::string protocol;
    std::string message;
};

/// Classifies one UDP payload by its ports (either end) and its content. Never throws.
Classified classify(std::uint16_t sport, std::uint16_t dport, std::span<const std::uint8_t> payload);

/// Which datagrams a rule looks at. Empty / nullopt fields match anything.
struct Match {
    std::optional<Direction> direction;
    std::string protocol;  ///< "l2tp", "radius", … (see Classified); "" = any
    std::string message;   ///< "OCRQ", "ZLB", "Access-Request", …; case-insensitive; "" = any
    std::optional<std::uint16_t> port;  ///< source or destination UDP port

    bool matches(Direction d, std::uint16_t sport, std::uint16_t dport, const Classified& c) const;
};

/// Which of the matching datagrams a rule acts on.
///  all: every one; nth: only the n-th (1-based); every: the n-th, 2n-th, …;
///  probability: each with probability p from a std::mt19937_64 seeded with `seed` (reproducible).
struct Select {
    enum class Kind { all, nth, every, probability };
    Kind kind = Kind::all;
    std::uint64_t n = 1;
    double p = 1.0;
    std::uint64_t seed = 0;
};

/// What a rule does to a selected datagram.
///  drop: not forwarded; delay: forwarded `delay` later (others are not held up); duplicate:
///  forwarded twice, back to back; reorder: held and released right after the next datagram in the
///  same direction (or after `hold` if none comes, so nothing is lost).
enum class Action { drop, delay, duplicate, reorder };

std::string_view to_string(Action a) noexcept;

/// One rule. Rules are consulted in order; the first whose match holds AND whose selection picks
/// the datagram applies its action, later rules do not see that datagram. Every rule whose match
/// holds counts `matched` (up to the one that acts).
struct Rule {
    std::string name;
    Match match;
    Select select;
    Action action = Action::drop;
    Duration delay{};                               ///< for Action::delay
    Duration hold = std::chrono::milliseconds(1000);  ///< for Action::reorder
};

/// Per-rule counters: datagrams the rule's match held for, and those it acted on.
struct RuleCounters {
    std::uint64_t matched = 0;
    std::uint64_t applied = 0;
};

/// A datagram to send: `bytes` in direction `dir` at or after `due`.
struct Emission {
    TimePoint due;
    Direction dir;
    std::vector<std::uint8_t> bytes;
    std::string what;  ///< "l2tp OCRQ", "radius Access-Request", … (for logs)
};

/// One line of the relay's history: what happened to a datagram, at which time.
struct Record {
    TimePoint at;
    Direction dir;
    std::string what;
    std::string outcome;  ///< "forwarded", "dropped by <rule>", "delayed by <rule>", …
};

/// The rule engine. Not thread-safe (UdpRelay serialises access).
class ImpairmentEngine {
public:
    /// Throws std::invalid_argument naming the rule for a bad rule (nth/every with n = 0, p outside
    /// [0, 1], a negative delay or hold, an unknown direction name).
    explicit ImpairmentEngine(std::vector<Rule> rules = {});

    /// Appends a rule (validated as above); its counters start at zero.
    void add_rule(Rule r);
    /// Removes every rule (counters too); held and delayed datagrams stay scheduled.
    void clear_rules();

    /// One datagram arriving at `now` in direction `dir` between ports sport -> dport. What must be
    /// sent goes to the schedule: take_due(now) right after returns what is due immediately.
    void submit(Direction dir, std::uint16_t sport, std::uint16_t dport, std::vector<std::uint8_t> bytes,
                TimePoint now);
    /// Removes and returns the scheduled datagrams due at `now`, in send order.
    std::vector<Emission> take_due(TimePoint now);
    /// When the next scheduled datagram falls due (nullopt: nothing scheduled).
    std::optional<TimePoint> next_due() const;

    const std::vector<Rule>& rules() const noexcept { return rules_; }
    const std::vector<RuleCounters>& counters() const noexcept { return counters_; }
    const std::vector<Record>& history() const noexcept { return history_; }
    std::uint64_t received() const noexcept { return received_; }
    std::uint64_t scheduled() const noexcept { return scheduled_; }
    std::size_t pending() const noexcept { return schedule_.size(); }

private:
    struct Entry {
        TimePoint due;
        std::uint64_t seq;
        Emission e;
        bool held;  // a reordered datagram waiting for the next one in its direction
    };
    bool selects(std::size_t i);
    void schedule(TimePoint due, Direction dir, std::vector<std::uint8_t> bytes, std::string what, bool held);
    void record(TimePoint at, Direction dir, const std::string& what, std::string outcome);

    std::vector<Rule> rules_;
    std::vector<RuleCounters> counters_;
    std::vector<std::mt19937_64> rngs_;
    std::vector<Entry> schedule_;
    std::vector<Record> history_;
    std::uint64_t seq_ = 0;
    std::uint64_t received_ = 0;
    std::uint64_t scheduled_ = 0;
};

}  // namespace dl::scenario
