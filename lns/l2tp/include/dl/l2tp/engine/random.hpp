// Where the engine's unpredictable values come from: Tunnel IDs and Session IDs (RFC 2661 §5.2,
// §4.4.3 "Assigned Tunnel ID"), Challenges (§4.4.3, §5.1.1), Random Vectors (§4.3) and Tie
// Breakers (§4.4.3). RFC 4086 §1: a value a peer must not predict comes from a cryptographically
// strong generator, here the operating system's (OpenSSL RAND_bytes, seeded by getrandom).
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <span>

namespace dl::l2tp::engine {

/// A source of random octets. Not thread-safe (one engine, one event-loop thread).
class RandomSource {
public:
    virtual ~RandomSource() = default;
    /// Fills `out` with random octets. Throws std::runtime_error if the generator fails.
    virtual void fill(std::span<std::uint8_t> out) = 0;
    /// 64 random bits.
    virtual std::uint64_t u64() = 0;
};

/// The operating system's CSPRNG (OpenSSL RAND_bytes), read 256 octets at a time so that a
/// Tunnel ID costs no system call on the SCCRQ path. The default of every engine.
std::shared_ptr<RandomSource> os_random();

/// A reproducible mt19937_64 stream: for tests and benchmarks that compare golden logs only
/// (EngineConfig::random or EngineConfig::seed). Predictable: never for a daemon facing a network.
class SeededRandom final : public RandomSource {
public:
    explicit SeededRandom(std::uint64_t seed) : rng_(seed) {}
    /// One draw per octet (the low 8 bits), the stream the engine has always consumed.
    void fill(std::span<std::uint8_t> out) override {
        for (auto& b : out) b = static_cast<std::uint8_t>(rng_());
    }
    std::uint64_t u64() override { return rng_(); }

private:
    std::mt19937_64 rng_;
};

}  // namespace dl::l2tp::engine
