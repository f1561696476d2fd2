// The registry of named, configurable timers (docs/architecture.md "Timers registry").
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "dl/core/clock.hpp"

namespace dl::core {

class ConfigNode;

/// One configurable timer: name as used in config, `show timers` and events ("trigger",
/// "retransmit"…), default value, inclusive bounds [min, max], and where its meaning comes from.
struct TimerSpec {
    std::string name;
    Duration default_value{};
    Duration min{};
    Duration max{};
    std::string description;
    /// Why `min` is the minimum, when a standard sets it (e.g. "RFC 2661 §5.8: ..."); appended to
    /// the "is below the minimum" configuration error. "" = a plain range.
    std::string min_rule;
};

/// The timers this project knows by name, with defaults and bounds (one table; parts register them
/// into their own registry with register_well_known_timers() or add their own specs):
///  trigger 30s [1s..1h], dormant 300s [1s..24h], hello 60s [1s..1h], retransmit 1s [100ms..30s],
///  retransmit-cap 8s [8s..2m], ppp-restart 3s [100ms..1m], radius-retry 3s [100ms..1m].
const std::vector<TimerSpec>& well_known_timers();

/// Named timers with defaults, bounds and configured overrides. Lookups are by name; values are
/// always within [min, max]. Not thread-safe for writes; configure before the event loop starts.
class TimerRegistry {
public:
    struct Entry {
        TimerSpec spec;
        Duration value;
        bool overridden = false;  ///< set from config rather than the default
    };

    /// Registers a timer. std::invalid_argument if the name is empty or already registered, or if
    /// min <= default <= max does not hold.
    void add(TimerSpec spec);
    bool contains(std::string_view name) const noexcept;

    /// Current value. std::out_of_range naming the timer if it is not registered.
    Duration get(std::string_view name) const;
    const Entry& entry(std::string_view name) const;

    /// Overrides a value. ConfigError(path, value, rule) when out of [min, max], e.g.
    /// "timers.trigger: '2h' is above the maximum 1h"; ConfigError for an unknown name
    /// ("timers.trigerr: 'trigerr' is not a known timer (known: dormant, hello, …)").
    /// `path` defaults to "timers.<name>".
    void set(std::string_view name, Duration value, std::string_view path = {});
    /// Same from text with units ("30s"); duration parse errors name the path.
    void set(std::string_view name, std::string_view text, std::string_view path = {});
    /// Back to the default.
    void reset(std::string_view name);

    /// Applies a config mapping of `<timer name>: <duration>` (e.g. the `timers:` section). Every
    /// key must name a registered timer. ConfigError names the key path.
    void load(const ConfigNode& timers);

    /// All entries sorted by name (for `show timers`).
    std::vector<const Entry*> list() const;
    /// JSON text for `show timers --json`: an array of {"name","value","default","min","max",
    /// "overridden","description"} with durations formatted by format_duration and also in "_ns".
    std::string to_json() const;

private:
    std::map<std::string, Entry, std::less<>> entries_;
};

/// Adds every entry of well_known_timers() that is not yet registered.
void register_well_known_timers(TimerRegistry& registry);

}  // namespace dl::core
