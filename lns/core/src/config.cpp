#include "dl/core/config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "dl/core/duration.hpp"
#include "dl/core/timer_registry.hpp"

namespace dl::core {

struct ConfigNode::Impl {
    YAML::Node node;  // valid only when defined
    bool defined = false;
    std::string path;
    std::shared_ptr<const std::string> source;
};

namespace {
const std::string kEmpty;

// YAML 1.2 §3.2.1.1: the keys of a mapping are unique. yaml-cpp keeps every pair of a mapping that
// repeats a key (and operator[] would silently take the first): walk the document once and refuse
// the second occurrence, naming its key path and position.
void reject_duplicate_keys(const YAML::Node& node, const std::string& path, const std::string& source) {
    if (node.IsSequence()) {
        std::size_t i = 0;
        for (auto it = node.begin(); it != node.end(); ++it, ++i)
            reject_duplicate_keys(*it, fmt::format("{}[{}]", path, i), source);
        return;
    }
    if (!node.IsMap()) return;
    std::vector<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
        const std::string key = it->first.IsScalar() ? it->first.Scalar() : std::string();
        const std::string child = path.empty() ? key : fmt::format("{}.{}", path, key);
        if (it->first.IsScalar()) {
            if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
                const YAML::Mark m = it->first.Mark();
                throw ConfigError(child, key, "is a duplicate key (a mapping's keys must be unique, YAML 1.2 §3.2.1.1)",
                                  m.is_null() ? source : fmt::format("{}:{}:{}", source, m.line + 1, m.column + 1));
            }
            seen.push_back(key);
        }
        reject_duplicate_keys(it->second, child, source);
    }
}

std::string join(std::initializer_list<std::string_view> names) {
    std::string out;
    for (auto n : names) {
        if (!out.empty()) out += ", ";
        out += n;
    }
    return out;
}
}  // namespace

ConfigNode::ConfigNode() = default;
ConfigNode::~ConfigNode() = default;
ConfigNode::ConfigNode(const ConfigNode&) = default;
ConfigNode& ConfigNode::operator=(const ConfigNode&) = default;
ConfigNode::ConfigNode(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

ConfigNode ConfigNode::parse(std::string_view yaml_text, std::string source) {
    auto impl = std::make_shared<Impl>();
    impl->source = std::make_shared<const std::string>(source);
    try {
        impl->node = YAML::Load(std::string(yaml_text));
    } catch (const YAML::Exception& e) {
        throw ConfigError(source, "",
                          fmt::format("is not valid YAML: {} at line {}, column {}", e.msg, e.mark.line + 1,
                                      e.mark.column + 1),
                          fmt::format("{}:{}:{}", source, e.mark.line + 1, e.mark.column + 1));
    }
    impl->defined = impl->node.IsDefined();
    if (impl->defined) reject_duplicate_keys(impl->node, "", source);
    return ConfigNode(std::move(impl));
}

ConfigNode ConfigNode::load_file(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw ConfigError(file, "", "cannot be read");
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse(ss.str(), file);
}

const std::string& ConfigNode::path() const noexcept { return impl_ ? impl_->path : kEmpty; }

std::string ConfigNode::location() const {
    if (!defined()) return {};
    const YAML::Mark m = impl_->node.Mark();
    if (m.is_null()) return *impl_->source;
    return fmt::format("{}:{}:{}", *impl_->source, m.line + 1, m.column + 1);
}

bool ConfigNode::defined() const noexcept { return impl_ && impl_->defined; }
bool ConfigNode::is_null() const noexcept { return defined() && impl_->node.IsNull(); }
bool ConfigNode::is_map() const noexcept { return defined() && impl_->node.IsMap(); }
bool ConfigNode::is_sequence() const noexcept { return defined() && impl_->node.IsSequence(); }
bool ConfigNode::is_scalar() const noexcept { return defined() && impl_->node.IsScalar(); }

ConfigNode ConfigNode::operator[](std::string_view key) const {
    auto impl = std::make_shared<Impl>();
    impl->path = path().empty() ? std::string(key) : fmt::format("{}.{}", path(), key);
    impl->source = impl_ ? impl_->source : std::make_shared<const std::string>("<none>");
    if (is_map()) {
        const YAML::Node& self = impl_->node;
        for (auto it = self.begin(); it != self.end(); ++it) {
            if (it->first.IsScalar() && it->first.Scalar() == key) {
                impl->node = it->second;
                impl->defined = true;
                break;
            }
        }
    }
    return ConfigNode(std::move(impl));
}

bool ConfigNode::has(std::string_view key) const { return (*this)[key].defined(); }

ConfigNode ConfigNode::at(std::string_view key) const {
    ConfigNode child = (*this)[key];
    if (!child.defined()) {
        if (defined() && !is_map() && !is_null()) require_map();
        throw ConfigError(child.path(), "", "is required", location());
    }
    return child;
}

ConfigNode ConfigNode::at(std::size_t index) const {
    require_sequence();
    auto impl = std::make_shared<Impl>();
    impl->path = fmt::format("{}[{}]", path(), index);
    impl->source = impl_->source;
    if (index >= impl_->node.size())
        throw ConfigError(impl->path, "", fmt::format("is required (the list has {} entries)", impl_->node.size()),
                          location());
    impl->node = impl_->node[index];
    impl->defined = true;
    return ConfigNode(std::move(impl));
}

std::size_t ConfigNode::size() const noexcept {
    if (!is_map() && !is_sequence()) return 0;
    return impl_->node.size();
}

std::vector<std::string> ConfigNode::keys() const {
    std::vector<std::string> out;
    if (!is_map()) return out;
    for (auto it = impl_->node.begin(); it != impl_->node.end(); ++it)
        out.push_back(it->first.IsScalar() ? it->first.Scalar() : std::string("<complex key>"));
    return out;
}

void ConfigNode::require_map() const {
    if (!defined()) throw ConfigError(path(), "", "is required", {});
    if (!is_map()) fail("is not a mapping");
}

void ConfigNode::require_sequence() const {
    if (!defined()) throw ConfigError(path(), "", "is required", {});
    if (!is_sequence()) fail("is not a list");
}

void ConfigNode::allow_keys(std::initializer_list<std::string_view> allowed) const {
    if (!defined() || is_null()) return;
    require_map();
    for (const auto& key : keys()) {
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
            const ConfigNode child = (*this)[key];
            throw ConfigError(child.path(), key, fmt::format("is not a known key (known: {})", join(allowed)),
                              child.location());
        }
    }
}

std::string ConfigNode::text() const {
    if (!defined()) return {};
    if (impl_->node.IsScalar()) return impl_->node.Scalar();
    if (impl_->node.IsMap()) return "{…}";
    if (impl_->node.IsSequence()) return "[…]";
    return "";  // null
}

void ConfigNode::fail(std::string_view rule) const {
    throw ConfigError(path(), text(), std::string(rule), location());
}

std::string ConfigNode::as_string() const {
    if (!defined()) throw ConfigError(path(), "", "is required", {});
    if (!is_scalar()) fail(is_null() ? "is empty; a value is required" : "is not a single value");
    return impl_->node.Scalar();
}

std::int64_t ConfigNode::as_int(std::int64_t min, std::int64_t max) const {
    const std::string s = as_string();
    std::int64_t v = 0;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc::result_out_of_range) fail(fmt::format("is out of range [{}..{}]", min, max));
    if (ec != std::errc{} || p != s.data() + s.size() || s.empty()) fail("is not an integer");
    if (v < min || v > max) fail(fmt::format("is out of range [{}..{}]", min, max));
    return v;
}

bool ConfigNode::as_bool() const {
    std::string s = as_string();
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
    fail("is not a boolean (true or false)");
}

Duration ConfigNode::as_duration(Duration min, Duration max) const {
    const std::string s = as_string();
    Duration d{};
    try {
        d = parse_duration(s, path());
    } catch (const ConfigError& e) {
        throw ConfigError(e.path(), e.value(), e.rule(), location());
    }
    if (d < min) fail(fmt::format("is below the minimum {}", format_duration(min)));
    if (d > max) fail(fmt::format("is above the maximum {}", format_duration(max)));
    return d;
}

Duration ConfigNode::as_duration(const TimerSpec& bounds) const { return as_duration(bounds.min, bounds.max); }

Ipv4Address ConfigNode::as_ipv4() const {
    const auto a = Ipv4Address::parse(as_string());
    if (!a) fail("is not an IPv4 address");
    return *a;
}

Ipv4Prefix ConfigNode::as_ipv4_prefix() const {
    const auto p = Ipv4Prefix::parse(as_string());
    if (!p) fail("is not an IPv4 prefix");
    if (p->has_host_bits())
        fail(fmt::format("has bits set beyond /{}; write {}", p->length, p->network().to_string()));
    return *p;
}

std::size_t ConfigNode::as_enum(const std::vector<std::string_view>& names) const {
    const std::string s = as_string();
    for (std::size_t i = 0; i < names.size(); ++i)
        if (names[i] == s) return i;
    std::string list;
    for (auto n : names) {
        if (!list.empty()) list += ", ";
        list += n;
    }
    fail(fmt::format("is not one of: {}", list));
}

std::size_t ConfigNode::as_enum(std::initializer_list<std::string_view> names) const {
    return as_enum(std::vector<std::string_view>(names));
}

std::string ConfigNode::get_string(std::string_view key, std::string_view fallback) const {
    const ConfigNode c = (*this)[key];
    return c.defined() ? c.as_string() : std::string(fallback);
}

std::int64_t ConfigNode::get_int(std::string_view key, std::int64_t fallback, std::int64_t min, std::int64_t max) const {
    const ConfigNode c = (*this)[key];
    return c.defined() ? c.as_int(min, max) : fallback;
}

bool ConfigNode::get_bool(std::string_view key, bool fallback) const {
    const ConfigNode c = (*this)[key];
    return c.defined() ? c.as_bool() : fallback;
}

Duration ConfigNode::get_duration(std::string_view key, Duration fallback, Duration min, Duration max) const {
    const ConfigNode c = (*this)[key];
    return c.defined() ? c.as_duration(min, max) : fallback;
}

}  // namespace dl::core
