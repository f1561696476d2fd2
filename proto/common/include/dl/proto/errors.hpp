// Typed errors shared by every codec in proto/.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace dl::proto {

/// The protocol (or file format) a codec error belongs to.
enum class Protocol { l2tp, ppp, hdlc, radius, dictionary };

/// Lower-case name of a Protocol ("l2tp", "ppp", "hdlc", "radius", "dictionary").
std::string_view to_string(Protocol p) noexcept;

/// Raised when bytes cannot be decoded: truncated header, length field that overruns the buffer,
/// bad version, bad FCS, etc. Never escapes a daemon's receive path: callers catch it, count the
/// packet as malformed and answer as the RFC says.
///
/// Fields:
///  - protocol: which codec rejected the input;
///  - field:    what was being read when it failed ("header.length", "avp[3].length", "attr 26");
///  - reason:   human-readable rule that was broken ("length 4000 exceeds 92 octets remaining");
///  - source:   the rule's origin, RFC and section ("RFC 2661 §4.1");
///  - offset:   byte offset in the input where the problem was found.
class ParseError : public std::runtime_error {
public:
    ParseError(Protocol protocol, std::string field, std::string reason, std::string source,
               std::size_t offset = 0);

    Protocol protocol() const noexcept { return protocol_; }
    const std::string& field() const noexcept { return field_; }
    const std::string& reason() const noexcept { return reason_; }
    const std::string& source() const noexcept { return source_; }
    std::size_t offset() const noexcept { return offset_; }

private:
    Protocol protocol_;
    std::string field_;
    std::string reason_;
    std::string source_;
    std::size_t offset_;
};

/// Raised when a well-formed message breaks a protocol rule that is checked after decoding:
/// a required AVP is missing, an AVP that must be mandatory is not, a value is out of range.
/// `message` names the message ("SCCRQ", "Access-Accept"), `item` the AVP or attribute.
class ValidationError : public std::runtime_error {
public:
    ValidationError(Protocol protocol, std::string message, std::string item, std::string reason,
                    std::string source);

    Protocol protocol() const noexcept { return protocol_; }
    const std::string& message() const noexcept { return message_; }
    const std::string& item() const noexcept { return item_; }
    const std::string& reason() const noexcept { return reason_; }
    const std::string& source() const noexcept { return source_; }

private:
    Protocol protocol_;
    std::string message_;
    std::string item_;
    std::string reason_;
    std::string source_;
};

}  // namespace dl::proto
