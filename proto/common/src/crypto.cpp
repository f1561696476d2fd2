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

Md5::Md5() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), md5_algorithm(), nullptr) != 1) {
        throw std::runtime_error("OpenSSL: MD5 init failed");
    }
}

Md5::~Md5() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

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
// One HMAC-MD5 context per thread, with the digest bound once; each call only re-keys it
// (EVP_MAC_init with a key and no parameters), so no algorithm fetch happens per call.
struct HmacMd5Ctx {
    EVP_MAC* mac = nullptr;
    EVP_MAC_CTX* ctx = nullptr;
    HmacMd5Ctx() {
        mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
        if (!mac) return;
        ctx = EVP_MAC_CTX_new(mac);
        char digest[] = "MD5";
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0), OSSL_PARAM_construct_end()};
        if (ctx && EVP_MAC_CTX_set_params(ctx, params) != 1) {
            EVP_MAC_CTX_free(ctx);
            ctx = nullptr;
        }
    }
    ~HmacMd5Ctx() {
        EVP_MAC_CTX_free(ctx);
        EVP_MAC_free(mac);
    }
};
}  // namespace

Md5Digest hmac_md5(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) {
    thread_local HmacMd5Ctx h;
    Md5Digest out{};
    std::size_t len = 0;
    // An empty key is legal for HMAC (RFC 2104) but EVP_MAC_init treats a null key as "keep the
    // previous one": pass a zero-length key through a valid pointer.
    static const std::uint8_t no_key = 0;
    if (!h.ctx ||
        EVP_MAC_init(h.ctx, key.empty() ? &no_key : key.data(), key.size(), nullptr) != 1 ||
        EVP_MAC_update(h.ctx, data.data(), data.size()) != 1 ||
        EVP_MAC_final(h.ctx, out.data(), &len, out.size()) != 1) {
        throw std::runtime_error("OpenSSL: HMAC-MD5 failed");
    }
    return out;
}

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

std::vector<std::uint8_t> random_bytes(std::size_t n) {
    std::vector<std::uint8_t> v(n);
    random_fill(v);
    return v;
}

}  // namespace dl::proto::crypto
