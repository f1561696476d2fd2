// RFC 2661 §4.3 (hidden AVPs) and §4.4.3 / §5.1.1 (Challenge Response).
#include "dl/l2tp/hidden.hpp"

#include <stdexcept>

#include "dl/l2tp/registry.hpp"

namespace dl::l2tp {

namespace crypto = dl::proto::crypto;

namespace {

// XORs `in` (subformat or ciphertext) chunk by chunk into `out`. When `encrypting`, the chaining
// input c(i-1) is the output; when decrypting, it is the input (RFC 2661 §4.3).
void mix(std::uint16_t type, std::string_view secret, std::span<const std::uint8_t> rv,
         const std::uint8_t* in, std::size_t n, std::uint8_t* out, bool encrypting) {
    const std::uint8_t type_be[2] = {static_cast<std::uint8_t>(type >> 8), static_cast<std::uint8_t>(type)};
    crypto::Md5Digest b = crypto::md5({type_be, crypto::bytes(secret), rv});
    for (std::size_t off = 0; off < n; off += 16) {
        const std::size_t chunk = std::min<std::size_t>(16, n - off);
        for (std::size_t i = 0; i < chunk; ++i) out[off + i] = static_cast<std::uint8_t>(in[off + i] ^ b[i]);
        if (off + 16 < n) {
            const std::uint8_t* c = encrypting ? out + off : in + off;
            b = crypto::md5({crypto::bytes(secret), std::span<const std::uint8_t>(c, 16)});
        }
    }
}

}  // namespace

std::vector<std::uint8_t> hide_value(std::uint16_t attribute_type, std::string_view secret,
                                     std::span<const std::uint8_t> random_vector,
                                     std::span<const std::uint8_t> value, std::span<const std::uint8_t> pad) {
    const std::size_t n = 2 + value.size() + pad.size();
    if (n > kMaxAvpValue || value.size() > 0xFFFF) {
        throw std::length_error("RFC 2661 §4.3: hidden AVP value of " + std::to_string(n) +
                                " octets exceeds 1017");
    }
    std::vector<std::uint8_t> sub(n);
    sub[0] = static_cast<std::uint8_t>(value.size() >> 8);
    sub[1] = static_cast<std::uint8_t>(value.size());
    std::copy(value.begin(), value.end(), sub.begin() + 2);
    std::copy(pad.begin(), pad.end(), sub.begin() + 2 + static_cast<std::ptrdiff_t>(value.size()));
    std::vector<std::uint8_t> out(n);
    mix(attribute_type, secret, random_vector, sub.data(), n, out.data(), true);
    return out;
}

std::optional<std::size_t> unhide_into(std::uint16_t attribute_type, std::string_view secret,
                                       std::span<const std::uint8_t> random_vector,
                                       std::span<const std::uint8_t> hidden, std::uint8_t* out) noexcept {
    if (hidden.size() < 2) return std::nullopt;
    try {
        mix(attribute_type, secret, random_vector, hidden.data(), hidden.size(), out, false);
    } catch (...) {
        return std::nullopt;  // OpenSSL failure
    }
    const std::size_t orig = (std::size_t{out[0]} << 8) | out[1];
    if (orig > hidden.size() - 2) return std::nullopt;
    return orig;
}

std::optional<std::vector<std::uint8_t>> unhide_value(std::uint16_t attribute_type, std::string_view secret,
                                                      std::span<const std::uint8_t> random_vector,
                                                      std::span<const std::uint8_t> hidden) {
    std::vector<std::uint8_t> out(hidden.size());
    auto len = unhide_into(attribute_type, secret, random_vector, hidden, out.data());
    if (!len) return std::nullopt;
    out.erase(out.begin(), out.begin() + 2);
    out.resize(*len);
    return out;
}

crypto::Md5Digest challenge_response(std::uint8_t message_type, std::string_view secret,
                                     std::span<const std::uint8_t> challenge) {
    const std::uint8_t id[1] = {message_type};
    return crypto::md5({id, crypto::bytes(secret), challenge});
}

}  // namespace dl::l2tp
