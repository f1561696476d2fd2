// YAML configuration with validation errors that name the key path, the value and the rule broken
// (docs/architecture.md "Configuration").
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dl/core/clock.hpp"
#include "dl/core/errors.hpp"
#include "dl/core/ipv4.hpp"

namespace dl::core {

struct TimerSpec;

/// A read-only view of one node of a YAML document that knows its key path
/// ("dialout.targets[0].prefix") and source location. Cheap to copy (shared document).
///
/// Every typed getter throws ConfigError(path, value, rule) when the value breaks its rule, e.g.
///   "dialout.targets[0].prefix: '10.10.0.0/33' is not an IPv4 prefix"
///   "radius.port: '70000' is out of range [1..65535]"
///   "dialout.mode: 'sometimes' is not one of: always, on-demand"
/// A missing required key: "dialout.targets[0].prefix: is required".
class ConfigNode {
public:
    /// Parses YAML text. Syntax errors: ConfigError(source, "", "is not valid YAML: <reason> at line L, column C").
    /// A key repeated in one mapping: ConfigError("<path>", "<key>", "is a duplicate key …") located at
    /// the second occurrence (YAML 1.2 §3.2.1.1; yaml-cpp itself would keep both).
    static ConfigNode parse(std::string_view yaml_text, std::string source = "<string>");
    /// Reads and parses a file; a file that cannot be read is ConfigError(file, "", "cannot be read").
    static ConfigNode load_file(const std::string& file);

    ConfigNode();  ///< an undefined node (what a missing key yields)
    ~ConfigNode();
    ConfigNode(const ConfigNode&);
    ConfigNode& operator=(const ConfigNode&);

    /// Key path of this node: "" for the root, "a.b", "a.list[2].c".
    const std::string& path() const noexcept;
    /// "source:line:column" (1-based) of the node, or "" for undefined nodes.
    std::string location() const;

    bool defined() const noexcept;  ///< false for a missing key
    bool is_null() const noexcept;  ///< `key:` or `key: ~` (also false when undefined)
    bool is_map() const noexcept;
    bool is_sequence() const noexcept;
    bool is_scalar() const noexcept;

    /// Child of a map; undefined node if absent (or if this is not a map).
    ConfigNode operator[](std::string_view key) const;
    bool has(std::string_view key) const;
    /// Required child: ConfigError "<path>.<key>: is required" if absent.
    ConfigNode at(std::string_view key) const;
    /// Element of a sequence: ConfigError if out of range.
    ConfigNode at(std::size_t index) const;
    /// Number of elements of a sequence or map (0 for scalars and undefined).
    std::size_t size() const noexcept;
    /// Keys of a map in document order.
    std::vector<std::string> keys() const;

    void require_map() const;       ///< ConfigError "<path>: '<text>' is not a mapping"
    void require_sequence() const;  ///< ConfigError "<path>: '<text>' is not a list"
    /// Rejects keys outside `allowed` (catches typos): "<path>.<key>: 'key' is not a known key (known: …)".
    void allow_keys(std::initializer_list<std::string_view> allowed) const;

    /// The node's text as written (scalars), "{…}" / "[…]" for collections, "" if undefined.
    std::string text() const;

    // ---- typed getters (the node must be defined and a scalar; else ConfigError) ----
    std::string as_string() const;
    /// Decimal integer in [min, max].
    std::int64_t as_int(std::int64_t min, std::int64_t max) const;
    /// true/false (also yes/no, on/off, case-insensitive).
    bool as_bool() const;
    /// Duration with a unit (parse_duration), within [min, max].
    Duration as_duration(Duration min = Duration::zero(), Duration max = Duration::max()) const;
    /// Duration within a registered timer's bounds.
    Duration as_duration(const TimerSpec& bounds) const;
    /// Dotted-quad IPv4 address.
    Ipv4Address as_ipv4() const;
    /// IPv4 prefix "a.b.c.d/len"; host bits beyond len are an error ("has bits set beyond /16;
    /// write 10.10.0.0/16").
    Ipv4Prefix as_ipv4_prefix() const;
    /// Index of the value in `names` (exact match): "is not one of: a, b, c".
    std::size_t as_enum(std::initializer_list<std::string_view> names) const;
    std::size_t as_enum(const std::vector<std::string_view>& names) const;

    // ---- optional children with defaults (the child, when present, is validated as above) ----
    std::string get_string(std::string_view key, std::string_view fallback) const;
    std::int64_t get_int(std::string_view key, std::int64_t fallback, std::int64_t min, std::int64_t max) const;
    bool get_bool(std::string_view key, bool fallback) const;
    Duration get_duration(std::string_view key, Duration fallback, Duration min = Duration::zero(),
                          Duration max = Duration::max()) const;

    /// Raises ConfigError for this node with its path, text and location.
    [[noreturn]] void fail(std::string_view rule) const;

private:
    struct Impl;
    explicit ConfigNode(std::shared_ptr<const Impl> impl);
    std::shared_ptr<const Impl> impl_;
};

}  // namespace dl::core
