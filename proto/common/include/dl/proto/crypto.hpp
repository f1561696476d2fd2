// Thin wrappers over OpenSSL for the digests the protocols use. No crypto is hand-written here.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace dl::proto::crypto {

using Md5Digest = std::array<std::uint8_t, 16>;

/// Incremental MD5 over several byte ranges (OpenSSL EVP). Used by L2TP tunnel authentication
/// (RFC 2661 §4.4.3), hidden AVPs (§4.3), CHAP (RFC 1994 §4.1), RADIUS authenticators and
/// User-Password / Tunnel-Password hiding (RFC 2865 §3, §5.2; RFC 2868 §3.5).
class Md5 {
public:
    Md5();
    ~Md5();
    Md5(const Md5&) = delete;
    Md5& operator=(const Md5&) = delete;

    Md5& update(std::span<const std::uint8_t> data);
    Md5& update(std::string_view data);
    Md5& update(std::uint8_t byte);
    /// Returns the digest; the object may not be updated afterwards.
    Md5Digest final();

private:
    void* ctx_;
};

/// MD5 of the concatenation of `parts`.
Md5Digest md5(std::initializer_list<std::span<const std::uint8_t>> parts);

/// HMAC-MD5 (RFC 2104) of `data` under `key`; RADIUS Message-Authenticator (RFC 3579 §3.2).
/// Each thread keeps the keyed contexts of its 4 most recently used keys of up to 64 octets (a
/// RADIUS client's server secrets): a call with one of them skips the keying (RFC 2104 §2's ipad /
/// opad blocks) and only resets the context. Throws std::runtime_error if OpenSSL fails.
Md5Digest hmac_md5(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data);

/// This thread's hmac_md5 calls so far: `keyings` computed the key's pads (a key not among the
/// cached ones, or longer than 64 octets), `reuses` reset a cached keyed context. For tests and
/// profiles.
struct HmacMd5Stats {
    std::uint64_t keyings = 0;
    std::uint64_t reuses = 0;
};
HmacMd5Stats hmac_md5_stats() noexcept;

/// `n` cryptographically random octets (OpenSSL RAND_bytes). Throws std::runtime_error if the
/// generator fails. For challenges, Random Vectors, Request Authenticators, salts.
std::vector<std::uint8_t> random_bytes(std::size_t n);

/// Fills `out` with random octets (no allocation). Requests of up to 128 octets come from a
/// per-thread buffer of 512 octets read with one RAND_bytes call; octets handed out are wiped from
/// it (never handed out twice) and a forked child discards its parent's buffer.
void random_fill(std::span<std::uint8_t> out);

/// Does now what the first random_fill of the process and thread would do: OpenSSL instantiates
/// its DRBGs on first use (seeding from the OS, ≈ 6 million instructions under callgrind) and this
/// thread's buffer is filled. A daemon calls it at start so that the first request it answers does
/// not pay for it. Throws std::runtime_error if the generator fails.
void random_prepare();

/// Byte view of a string (no copy).
inline std::span<const std::uint8_t> bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace dl::proto::crypto
