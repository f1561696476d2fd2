#include "dl/proto/crypto.hpp"

#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <pthread.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <stdexcept>

namespace dl::proto::crypto {

namespace {
// OpenSSL 3 resolves the legacy EVP_md5() descriptor through a provider fetch on every use; fetching
// MD5 once and reusing the pointer removes that per-call lookup (about 1 µs per HMAC on this
// machine). The fetched object lives for the whole process.
const EVP_MD* md5_algorithm() {
    static const EVP_MD* md = [] {
        const EVP_MD* m = EVP_MD_fetch(nullptr, "MD5", nullptr);
        return m ? m : EVP_md5();
    }();
    return md;
}
}  // namespace

namespace {
/// Per-thread free MD5 contexts: an Md5 takes one (or allocates one) and gives it back when it is
/// destroyed, so hashing a RADIUS authenticator or a CHAP response allocates no OpenSSL context
/// and re-initialises the provider's MD5 state in place (EVP_DigestInit_ex with the same digest).
/// Bounded: at most kKeep contexts wait; more live Md5 objects than that free their contexts.
struct Md5CtxPool {
    static constexpr std::size_t kKeep = 4;
    std::array<EVP_MD_CTX*, kKeep> free{};
    std::size_t n = 0;
    ~Md5CtxPool() {
        for (std::size_t i = 0; i < n; ++i) EVP_MD_CTX_free(free[i]);
    }
    EVP_MD_CTX* take() { return n ? free[--n] : EVP_MD_CTX_new(); }
    void give(EVP_MD_CTX* c) noexcept {
        if (!c) return;
        if (n < kKeep) free[n++] = c;
        else EVP_MD_CTX_free(c);
    }
};
thread_local Md5CtxPool t_md5_pool;
}  // namespace

Md5::Md5() : ctx_(t_md5_pool.take()) {
    if (!ctx_ || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), md5_algorithm(), nullptr) != 1) {
        t_md5_pool.give(static_cast<EVP_MD_CTX*>(ctx_));
        throw std::runtime_error("OpenSSL: MD5 init failed");
    }
}

Md5::~Md5() { t_md5_pool.give(static_cast<EVP_MD_CTX*>(ctx_)); }

Md5& Md5::update(std::span<const std::uint8_t> data) {
    EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size());
    return *this;
}

Md5& Md5::update(std::string_view data) { return update(bytes(data)); }

Md5& Md5::update(std::uint8_t byte) { return update(std::span<const std::uint8_t>(&byte, 1)); }

Md5Digest Md5::final() {
    Md5Digest out{};
    unsigned int len = 0;
    EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), out.data(), &len);
    return out;
}

Md5Digest md5(std::initializer_list<std::span<const std::uint8_t>> parts) {
    Md5 h;
    for (auto p : parts) h.update(p);
    return h.final();
}

namespace {
thread_local HmacMd5Stats t_hmac_stats;

/// Per-thread keyed HMAC-MD5 contexts, most recently used first. Keying (RFC 2104 §2: the key
/// padded to 64 octets, XORed with ipad and opad, each hashed as the inner and outer hash's first
/// block) is most of an HMAC of a short RADIUS packet; a RADIUS client signs and checks every
/// packet of a server with that server's one secret, so the keyed context is kept and each message
/// only resets it to the keyed state (EVP_MAC_init without a key). Bounded: kSlots secrets per
/// thread, the least recently used one is freed (OpenSSL wipes the key material). Keys longer than
/// one MD5 block (64 octets, hashed first by RFC 2104 §3) are not cached: the scratch context is
/// re-keyed for each of them.
struct HmacMd5Cache {
    static constexpr std::size_t kSlots = 4;
    static constexpr std::size_t kMaxKey = 64;
    struct Slot {
        EVP_MAC_CTX* ctx = nullptr;
        std::array<std::uint8_t, kMaxKey> key{};
        std::size_t key_len = 0;
    };
    EVP_MAC* mac = nullptr;
    EVP_MAC_CTX* scratch = nullptr;  ///< for keys longer than kMaxKey
    std::array<Slot, kSlots> slots{};  ///< [0] most recently used; ctx == nullptr: free
    bool ok = false;

    EVP_MAC_CTX* new_ctx() const {
        EVP_MAC_CTX* c = EVP_MAC_CTX_new(mac);
        char digest[] = "MD5";
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0), OSSL_PARAM_construct_end()};
        if (c && EVP_MAC_CTX_set_params(c, params) != 1) {
            EVP_MAC_CTX_free(c);
            c = nullptr;
        }
        return c;
    }
    HmacMd5Cache() {
        mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
        if (!mac) return;
        scratch = new_ctx();
        ok = scratch != nullptr;
    }
    ~HmacMd5Cache() {
        for (Slot& s : slots) {
            EVP_MAC_CTX_free(s.ctx);
            OPENSSL_cleanse(s.key.data(), s.key.size());
        }
        EVP_MAC_CTX_free(scratch);
        EVP_MAC_free(mac);
    }

    /// A context ready for EVP_MAC_update under `key`, or nullptr on an OpenSSL failure.
    EVP_MAC_CTX* keyed(std::span<const std::uint8_t> key) {
        // An empty key is legal for HMAC (RFC 2104) but EVP_MAC_init treats a null key as "keep
        // the previous one": pass a zero-length key through a valid pointer.
        static const std::uint8_t no_key = 0;
        const std::uint8_t* kp = key.empty() ? &no_key : key.data();
        if (key.size() > kMaxKey) {
            ++t_hmac_stats.keyings;
            return EVP_MAC_init(scratch, kp, key.size(), nullptr) == 1 ? scratch : nullptr;
        }
        std::size_t i = 0;
        while (i < kSlots && slots[i].ctx &&
               !(slots[i].key_len == key.size() && CRYPTO_memcmp(slots[i].key.data(), kp, key.size()) == 0))
            ++i;
        if (i < kSlots && slots[i].ctx) {  // hit: back to the keyed state
            ++t_hmac_stats.reuses;
            std::rotate(slots.begin(), slots.begin() + static_cast<std::ptrdiff_t>(i),
                        slots.begin() + static_cast<std::ptrdiff_t>(i) + 1);
            if (EVP_MAC_init(slots[0].ctx, nullptr, 0, nullptr) == 1) return slots[0].ctx;
            drop(0);
            return nullptr;
        }
        // miss: take a free slot or the least recently used one, move it to the front, key it.
        if (i == kSlots) i = kSlots - 1;
        std::rotate(slots.begin(), slots.begin() + static_cast<std::ptrdiff_t>(i),
                    slots.begin() + static_cast<std::ptrdiff_t>(i) + 1);
        Slot& s = slots[0];
        if (!s.ctx) s.ctx = new_ctx();
        ++t_hmac_stats.keyings;
        if (!s.ctx || EVP_MAC_init(s.ctx, kp, key.size(), nullptr) != 1) {
            drop(0);
            return nullptr;
        }
        OPENSSL_cleanse(s.key.data(), s.key.size());
        std::memcpy(s.key.data(), kp, key.size());
        s.key_len = key.size();
        return s.ctx;
    }
    void drop(std::size_t i) noexcept {
        EVP_MAC_CTX_free(slots[i].ctx);
        slots[i].ctx = nullptr;
        OPENSSL_cleanse(slots[i].key.data(), slots[i].key.size());
        slots[i].key_len = 0;
    }
};
}  // namespace

Md5Digest hmac_md5(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) {
    thread_local HmacMd5Cache h;
    Md5Digest out{};
    std::size_t len = 0;
    EVP_MAC_CTX* c = h.ok ? h.keyed(key) : nullptr;
    if (!c || EVP_MAC_update(c, data.data(), data.size()) != 1 ||
        EVP_MAC_final(c, out.data(), &len, out.size()) != 1) {
        throw std::runtime_error("OpenSSL: HMAC-MD5 failed");
    }
    return out;
}

HmacMd5Stats hmac_md5_stats() noexcept { return t_hmac_stats; }

namespace {
void rand_bytes(std::span<std::uint8_t> out) {
    if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
        throw std::runtime_error("OpenSSL: RAND_bytes failed");
    }
}

/// Most of a RAND_bytes call's cost is per call, not per octet (a DRBG generate call, parameter
/// look-ups, a getpid(2) for its fork check): a dial-out call asks for random octets about ten
/// times (Request Authenticators, Magic-Numbers, CHAP challenges), so they come from a per-thread
/// buffer of 512 octets read from RAND_bytes at once. Octets handed out are wiped from the buffer
/// (never handed out twice); a forked child throws away what its parent had buffered.
struct RandomBuffer {
    static constexpr std::size_t kSize = 512;
    std::array<std::uint8_t, kSize> octets{};
    std::size_t pos = kSize;  ///< first octet not handed out; kSize: empty
    void discard() noexcept {
        OPENSSL_cleanse(octets.data(), octets.size());
        pos = kSize;
    }
};
thread_local RandomBuffer t_random;
void discard_in_child() noexcept { t_random.discard(); }
}  // namespace

void random_fill(std::span<std::uint8_t> out) {
    if (out.empty()) return;
    static const bool fork_guard = [] { return ::pthread_atfork(nullptr, nullptr, &discard_in_child) == 0; }();
    auto& b = t_random;
    if (!fork_guard || out.size() > RandomBuffer::kSize / 4) return rand_bytes(out);  // large: direct
    while (!out.empty()) {
        if (b.pos == RandomBuffer::kSize) {
            rand_bytes(b.octets);
            b.pos = 0;
        }
        const std::size_t n = std::min(out.size(), RandomBuffer::kSize - b.pos);
        std::memcpy(out.data(), b.octets.data() + b.pos, n);
        OPENSSL_cleanse(b.octets.data() + b.pos, n);
        b.pos += n;
        out = out.subspan(n);
    }
}

void random_prepare() {
    if (t_random.pos == RandomBuffer::kSize) {
        std::uint8_t one = 0;
        random_fill({&one, 1});  // instantiates the DRBGs (first use) and fills the buffer
        OPENSSL_cleanse(&one, 1);
    }
}

std::vector<std::uint8_t> random_bytes(std::size_t n) {
    std::vector<std::uint8_t> v(n);
    random_fill(v);
    return v;
}

}  // namespace dl::proto::crypto
