// Typed errors of lns/core.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace dl::core {

/// A configuration value that breaks a rule (docs/architecture.md "Configuration": the error names the key,
/// the value and the rule broken). what() is exactly `<path>: '<value>' <rule>`, e.g.
///   "dialout.targets[0].prefix: '10.10.0.0/33' is not an IPv4 prefix"
///   "trigger: '30' has no unit; write 30s"
/// When the value is absent (a missing key) what() is `<path>: <rule>` ("timers: is required").
/// `location` optionally carries "file:line:column" of the YAML node (not part of what()).
class ConfigError : public std::runtime_error {
public:
    ConfigError(std::string path, std::string value, std::string rule, std::string location = {});

    const std::string& path() const noexcept { return path_; }
    const std::string& value() const noexcept { return value_; }
    const std::string& rule() const noexcept { return rule_; }
    const std::string& location() const noexcept { return location_; }

    /// what() prefixed with "file:line:column: " when the location is known (what a daemon prints),
    /// e.g. "/etc/lnsd.yaml:4:7: port: '70000' is out of range [0..65535]".
    std::string located() const;

private:
    std::string path_, value_, rule_, location_;
};

/// An error answered by a control-API command handler (`{"ok":false,"error":what()}`), or an
/// error response / transport failure seen by ControlClient.
class ControlError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A control-API command argument with a bad value. what() names the argument ("limit: '0' is not
/// an integer 1..10000"); param() is its name, which the server also answers as
/// `{"ok":false,"error":what(),"param":param()}` so a client can tell which argument to fix.
class ControlArgError : public ControlError {
public:
    ControlArgError(std::string param, const std::string& message)
        : ControlError(param + ": " + message), param_(std::move(param)) {}
    const std::string& param() const noexcept { return param_; }

private:
    std::string param_;
};

}  // namespace dl::core
