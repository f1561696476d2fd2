// The engine's random source: OpenSSL RAND_bytes (the OS CSPRNG) behind a small buffer.
#include "dl/l2tp/engine/random.hpp"

#include <array>
#include <cstring>

#include "dl/proto/crypto.hpp"

namespace dl::l2tp::engine {

namespace {
class OsRandom final : public RandomSource {
public:
    void fill(std::span<std::uint8_t> out) override {
        while (!out.empty()) {
            if (pos_ == buf_.size()) refill();
            const std::size_t n = std::min(out.size(), buf_.size() - pos_);
            std::memcpy(out.data(), buf_.data() + pos_, n);
            // Octets handed out are erased from the buffer: never handed out twice.
            std::memset(buf_.data() + pos_, 0, n);
            pos_ += n;
            out = out.subspan(n);
        }
    }
    std::uint64_t u64() override {
        std::uint64_t v = 0;
        std::array<std::uint8_t, 8> b{};
        fill(b);
        std::memcpy(&v, b.data(), b.size());
        return v;
    }

private:
    void refill() {
        proto::crypto::random_fill(buf_);
        pos_ = 0;
    }
    std::array<std::uint8_t, 256> buf_{};
    std::size_t pos_ = 256;
};
}  // namespace

std::shared_ptr<RandomSource> os_random() { return std::make_shared<OsRandom>(); }

}  // namespace dl::l2tp::engine
