#include "dl/core/timer_registry.hpp"

#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dl/core/config.hpp"
#include "dl/core/duration.hpp"
#include "dl/core/errors.hpp"

namespace dl::core {

using namespace std::chrono_literals;

const std::vector<TimerSpec>& well_known_timers() {
    static const std::vector<TimerSpec> table = {
        {"trigger", 30s, 1s, 1h,
         "Chassis-wide dial-out trigger timer: connecting-state timeout; first inhibited period, capped "
         "at 8x (JunosE L2TP Dial-Out, Table 74: connecting, inhibited)"},
        {"dormant", 300s, 1s, 24h,
         "Chassis-wide dormant timer: time a dormant dial-out session is kept before deletion "
         "(JunosE L2TP Dial-Out, Table 74: dormant)"},
        {"hello", 60s, 1s, 1h, "L2TP Hello interval on an idle control connection (RFC 2661 §6.5, §5.5)"},
        {"retransmit", 1s, 100ms, 30s,
         "Initial L2TP control message retransmission timeout, doubled per retry (RFC 2661 §5.8)"},
        {"retransmit-cap", 8s, 8s, 2min,
         "Upper bound of the exponential L2TP retransmission timeout (RFC 2661 §5.8: at least 8 s)",
         "RFC 2661 §5.8: the retransmission cap MUST be no less than 8 seconds"},
        {"ppp-restart", 3s, 100ms, 1min, "PPP option negotiation Restart timer (RFC 1661 §4.6)"},
        {"radius-retry", 3s, 100ms, 1min,
         "RADIUS request retransmission interval to a server (RFC 2865 §2.5)"},
    };
    return table;
}

void register_well_known_timers(TimerRegistry& registry) {
    for (const auto& spec : well_known_timers())
        if (!registry.contains(spec.name)) registry.add(spec);
}

void TimerRegistry::add(TimerSpec spec) {
    if (spec.name.empty()) throw std::invalid_argument("TimerRegistry::add: empty timer name");
    if (entries_.count(spec.name) != 0)
        throw std::invalid_argument(fmt::format("TimerRegistry::add: timer '{}' already registered", spec.name));
    if (!(spec.min <= spec.default_value && spec.default_value <= spec.max) || spec.min < Duration::zero())
        throw std::invalid_argument(fmt::format("TimerRegistry::add: timer '{}': need 0 <= min <= default <= max",
                                                spec.name));
    std::string name = spec.name;
    const Duration def = spec.default_value;
    entries_.emplace(std::move(name), Entry{std::move(spec), def, false});
}

bool TimerRegistry::contains(std::string_view name) const noexcept { return entries_.find(name) != entries_.end(); }

const TimerRegistry::Entry& TimerRegistry::entry(std::string_view name) const {
    const auto it = entries_.find(name);
    if (it == entries_.end()) throw std::out_of_range(fmt::format("timer '{}' is not registered", name));
    return it->second;
}

Duration TimerRegistry::get(std::string_view name) const { return entry(name).value; }

namespace {
std::string below_minimum(const TimerSpec& spec) {
    std::string s = fmt::format("is below the minimum {}", format_duration(spec.min));
    if (!spec.min_rule.empty()) s += " (" + spec.min_rule + ")";
    return s;
}
std::string known_names(const std::map<std::string, TimerRegistry::Entry, std::less<>>& entries) {
    std::string out;
    for (const auto& [n, e] : entries) {
        if (!out.empty()) out += ", ";
        out += n;
    }
    return out;
}
}  // namespace

void TimerRegistry::set(std::string_view name, Duration value, std::string_view path) {
    const std::string p = path.empty() ? fmt::format("timers.{}", name) : std::string(path);
    const auto it = entries_.find(name);
    if (it == entries_.end())
        throw ConfigError(p, std::string(name), fmt::format("is not a known timer (known: {})", known_names(entries_)));
    const TimerSpec& spec = it->second.spec;
    if (value < spec.min)
        throw ConfigError(p, format_duration(value),
                          below_minimum(spec));
    if (value > spec.max)
        throw ConfigError(p, format_duration(value), fmt::format("is above the maximum {}", format_duration(spec.max)));
    it->second.value = value;
    it->second.overridden = true;
}

void TimerRegistry::set(std::string_view name, std::string_view text, std::string_view path) {
    const std::string p = path.empty() ? fmt::format("timers.{}", name) : std::string(path);
    if (!contains(name))
        throw ConfigError(p, std::string(name), fmt::format("is not a known timer (known: {})", known_names(entries_)));
    const Duration d = parse_duration(text, p);
    const TimerSpec& spec = entry(name).spec;
    if (d < spec.min)
        throw ConfigError(p, std::string(text),
                          below_minimum(spec));
    if (d > spec.max)
        throw ConfigError(p, std::string(text), fmt::format("is above the maximum {}", format_duration(spec.max)));
    set(name, d, p);
}

void TimerRegistry::reset(std::string_view name) {
    const auto it = entries_.find(name);
    if (it == entries_.end()) throw std::out_of_range(fmt::format("timer '{}' is not registered", name));
    it->second.value = it->second.spec.default_value;
    it->second.overridden = false;
}

void TimerRegistry::load(const ConfigNode& timers) {
    if (timers.is_null() || !timers.defined()) return;
    timers.require_map();
    for (const auto& key : timers.keys()) {
        const ConfigNode child = timers.at(key);
        if (!contains(key))
            throw ConfigError(child.path(), key, fmt::format("is not a known timer (known: {})", known_names(entries_)),
                              child.location());
        set(key, child.as_string(), child.path());
    }
}

std::vector<const TimerRegistry::Entry*> TimerRegistry::list() const {
    std::vector<const Entry*> out;
    out.reserve(entries_.size());
    for (const auto& [n, e] : entries_) out.push_back(&e);
    return out;
}

std::string TimerRegistry::to_json() const {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& [n, e] : entries_) {
        arr.push_back({{"name", n},
                       {"value", format_duration(e.value)},
                       {"value_ns", e.value.count()},
                       {"default", format_duration(e.spec.default_value)},
                       {"min", format_duration(e.spec.min)},
                       {"max", format_duration(e.spec.max)},
                       {"overridden", e.overridden},
                       {"description", e.spec.description}});
    }
    return arr.dump();
}

}  // namespace dl::core
