#include "dl/proto/crypto.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace dl::proto::crypto {

Md5::Md5() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_md5(), nullptr) != 1) {
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

Md5Digest hmac_md5(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) {
    Md5Digest out{};
    unsigned int len = 0;
    if (!HMAC(EVP_md5(), key.data(), static_cast<int>(key.size()), data.data(), data.size(),
              out.data(), &len)) {
        throw std::runtime_error("OpenSSL: HMAC-MD5 failed");
    }
    return out;
}

void random_fill(std::span<std::uint8_t> out) {
    if (out.empty()) return;
    if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
        throw std::runtime_error("OpenSSL: RAND_bytes failed");
    }
}

std::vector<std::uint8_t> random_bytes(std::size_t n) {
    std::vector<std::uint8_t> v(n);
    random_fill(v);
    return v;
}

}  // namespace dl::proto::crypto
