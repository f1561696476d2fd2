#include "dl/core/errors.hpp"

#include <utility>

namespace dl::core {
namespace {
std::string compose(const std::string& path, const std::string& value, const std::string& rule) {
    if (value.empty()) return path + ": " + rule;
    return path + ": '" + value + "' " + rule;
}
}  // namespace

ConfigError::ConfigError(std::string path, std::string value, std::string rule, std::string location)
    : std::runtime_error(compose(path, value, rule)),
      path_(std::move(path)),
      value_(std::move(value)),
      rule_(std::move(rule)),
      location_(std::move(location)) {}

std::string ConfigError::located() const {
    if (location_.empty()) return what();
    return location_ + ": " + what();
}

}  // namespace dl::core
