// Minimal IPv4 address and prefix values for configuration and `show` output (no sockets here).
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dl::core {

/// An IPv4 address in host byte order (10.10.1.1 == 0x0A0A0101).
struct Ipv4Address {
    std::uint32_t value = 0;

    /// Strict dotted quad: four decimal octets 0..255, no leading zeros ("010.1.1.1" rejected, as
    /// inet_aton would read it as octal), no spaces. nullopt otherwise.
    static std::optional<Ipv4Address> parse(std::string_view text) noexcept;
    std::string to_string() const;
    /// Longest dotted quad ("255.255.255.255").
    static constexpr std::size_t kMaxText = 15;
    /// Writes the dotted quad at `out`, which has room for kMaxText characters, and returns the
    /// end of what it wrote (no terminating NUL, no allocation).
    char* write(char* out) const noexcept;
    friend auto operator<=>(const Ipv4Address&, const Ipv4Address&) = default;
};

/// An IPv4 prefix "a.b.c.d/len" (RFC 4632 §3.1 notation), len 0..32.
struct Ipv4Prefix {
    Ipv4Address address;  ///< network address (no bits set beyond `length` once validated)
    std::uint8_t length = 0;

    /// Parses "10.10.0.0/16". nullopt if not of that form or length > 32. Host bits are allowed
    /// here; check has_host_bits() to reject them.
    static std::optional<Ipv4Prefix> parse(std::string_view text) noexcept;
    std::uint32_t mask() const noexcept { return length == 0 ? 0 : ~std::uint32_t{0} << (32 - length); }
    bool has_host_bits() const noexcept { return (address.value & ~mask()) != 0; }
    /// The same prefix with host bits cleared.
    Ipv4Prefix network() const noexcept { return {{address.value & mask()}, length}; }
    bool contains(Ipv4Address a) const noexcept { return (a.value & mask()) == (address.value & mask()); }
    std::string to_string() const;
    friend auto operator<=>(const Ipv4Prefix&, const Ipv4Prefix&) = default;
};

}  // namespace dl::core
