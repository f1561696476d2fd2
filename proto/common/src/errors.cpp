#include "dl/proto/errors.hpp"

#include <fmt/format.h>

namespace dl::proto {

std::string_view to_string(Protocol p) noexcept {
    switch (p) {
        case Protocol::l2tp: return "l2tp";
        case Protocol::ppp: return "ppp";
        case Protocol::hdlc: return "hdlc";
        case Protocol::radius: return "radius";
        case Protocol::dictionary: return "dictionary";
    }
    return "?";
}

ParseError::ParseError(Protocol protocol, std::string field, std::string reason, std::string source,
                       std::size_t offset)
    : std::runtime_error(fmt::format("{}: malformed {} at offset {}: {} ({})", to_string(protocol),
                                     field, offset, reason, source)),
      protocol_(protocol),
      field_(std::move(field)),
      reason_(std::move(reason)),
      source_(std::move(source)),
      offset_(offset) {}

ValidationError::ValidationError(Protocol protocol, std::string message, std::string item,
                                 std::string reason, std::string source)
    : std::runtime_error(fmt::format("{}: {} {}: {} ({})", to_string(protocol), message, item,
                                     reason, source)),
      protocol_(protocol),
      message_(std::move(message)),
      item_(std::move(item)),
      reason_(std::move(reason)),
      source_(std::move(source)) {}

}  // namespace dl::proto
