#include "dl/radius/auth.hpp"

#include "dl/proto/crypto.hpp"
#include "dl/proto/errors.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace dl::radius {

namespace crypto = dl::proto::crypto;
using dl::proto::ParseError;
using dl::proto::Protocol;

namespace {

constexpr auto kMessageAuthenticator = static_cast<std::uint8_t>(AttributeType::Message_Authenticator);  // RFC 3579 §3.2
constexpr std::size_t kAuthOff = 4;

using Buffer = std::array<std::uint8_t, Radius::kMaxLength>;

bool equal16(const std::uint8_t* a, const std::uint8_t* b) noexcept {
    return CRYPTO_memcmp(a, b, 16) == 0;  // constant time
}

// Offsets found by walking wire bytes: Length, and the value offset of the first
// Message-Authenticator (0 when absent).
struct Scan {
    bool ok = false;
    std::size_t len = 0;
    std::size_t ma = 0;
    bool ma_bad = false;
};

Scan scan(std::span<const std::uint8_t> w) noexcept {
    Scan s;
    if (w.size() < Radius::kHeaderSize) return s;
    const std::size_t len = (std::size_t{w[2]} << 8) | w[3];
    if (len < Radius::kHeaderSize || len > Radius::kMaxLength || len > w.size()) return s;
    std::size_t off = Radius::kHeaderSize;
    while (off < len) {
        if (len - off < 2 || w[off + 1] < 2 || w[off + 1] > len - off) return s;
        if (w[off] == kMessageAuthenticator && s.ma == 0 && !s.ma_bad) {
            if (w[off + 1] == 18) s.ma = off + 2;
            else s.ma_bad = true;
        }
        off += w[off + 1];
    }
    s.ok = true;
    s.len = len;
    return s;
}

crypto::Md5Digest md5_with_secret(const std::uint8_t* p, std::size_t n, std::string_view secret) {
    crypto::Md5 h;
    h.update(std::span<const std::uint8_t>(p, n));
    h.update(secret);
    return h.final();
}

crypto::Md5Digest hmac(std::string_view secret, const std::uint8_t* p, std::size_t n) {
    return crypto::hmac_md5(crypto::bytes(secret), std::span<const std::uint8_t>(p, n));
}

bool is_accounting_style(Code c) noexcept {
    return c == Code::Accounting_Request || c == Code::Disconnect_Request || c == Code::CoA_Request;
}

// Serialises `pkt` into `buf` with `auth` in the Authenticator field and a zeroed
// Message-Authenticator; fills it in, then the Authenticator from `final_auth`
// (nullptr: keep `auth`; otherwise MD5 over the buffer + secret). Writes the results back.
void finish(Radius& pkt, const Authenticator& auth, bool compute_auth, std::string_view secret) {
    Attribute* ma = nullptr;
    for (Attribute& a : pkt.attributes())
        if (!a.is_vsa() && a.type() == kMessageAuthenticator) {
            ma = &a;
            break;
        }
    static constexpr std::array<std::uint8_t, 16> zero{};
    if (ma) ma->value(zero);
    pkt.authenticator(auth);
    Buffer buf;
    const std::size_t len = pkt.header_size();
    pkt.serialize_to(buf.data(), buf.size());
    if (ma) {
        const Scan s = scan(std::span<const std::uint8_t>(buf.data(), len));
        const auto mac = hmac(secret, buf.data(), len);
        std::memcpy(buf.data() + s.ma, mac.data(), 16);
        ma->value(mac);
    }
    if (compute_auth) {
        const auto d = md5_with_secret(buf.data(), len, secret);
        Authenticator out;
        std::memcpy(out.data(), d.data(), 16);
        pkt.authenticator(out);
    }
}

}  // namespace

Authenticator random_authenticator() {
    Authenticator a;
    crypto::random_fill(a);
    return a;
}

void add_message_authenticator(Radius& pkt) {
    if (pkt.find(AttributeType::Message_Authenticator)) return;
    static constexpr std::array<std::uint8_t, 16> zero{};
    pkt.add(Attribute(kMessageAuthenticator, zero));
}

void sign_request(Radius& req, std::string_view secret) {
    const Code c = req.code();
    if (is_response(c)) throw std::invalid_argument("sign_request: " + std::string(to_string(c)) + " is a response");
    if (is_accounting_style(c)) {
        finish(req, Authenticator{}, true, secret);  // RFC 2866 §3, RFC 5176 §2.3 and §3.4
        return;
    }
    Authenticator a = req.authenticator();
    if (std::all_of(a.begin(), a.end(), [](std::uint8_t b) { return b == 0; }))
        a = random_authenticator();
    finish(req, a, false, secret);  // RFC 2865 §3, RFC 3579 §3.2
}

void sign_response(Radius& resp, const Authenticator& request_auth, std::string_view secret) {
    finish(resp, request_auth, true, secret);  // RFC 2865 §3, RFC 3579 §3.2, RFC 5176 §3.4
}

std::string_view to_string(Verdict v) noexcept {
    switch (v) {
        case Verdict::ok: return "ok";
        case Verdict::bad_authenticator: return "bad authenticator";
        case Verdict::bad_message_authenticator: return "bad Message-Authenticator";
        case Verdict::malformed: return "malformed";
    }
    return "?";
}

namespace {
Verdict check_ma(Buffer& buf, const Scan& s, std::string_view secret) {
    if (s.ma_bad) return Verdict::bad_message_authenticator;
    if (s.ma == 0) return Verdict::ok;
    std::uint8_t got[16];
    std::memcpy(got, buf.data() + s.ma, 16);
    std::memset(buf.data() + s.ma, 0, 16);
    const auto mac = hmac(secret, buf.data(), s.len);
    return equal16(got, mac.data()) ? Verdict::ok : Verdict::bad_message_authenticator;
}
}  // namespace

Verdict verify_request(std::span<const std::uint8_t> wire, std::string_view secret) {
    const Scan s = scan(wire);
    if (!s.ok || !is_known_code(wire[0])) return Verdict::malformed;
    const Code c = static_cast<Code>(wire[0]);
    if (is_response(c)) return Verdict::malformed;
    Buffer buf;
    std::memcpy(buf.data(), wire.data(), s.len);
    if (is_accounting_style(c)) {
        std::memset(buf.data() + kAuthOff, 0, 16);
        const auto d = md5_with_secret(buf.data(), s.len, secret);
        if (!equal16(d.data(), wire.data() + kAuthOff)) return Verdict::bad_authenticator;
    }
    return check_ma(buf, s, secret);
}

Verdict verify_response(std::span<const std::uint8_t> wire, const Authenticator& request_auth,
                        std::string_view secret) {
    const Scan s = scan(wire);
    if (!s.ok || !is_known_code(wire[0]) || !is_response(static_cast<Code>(wire[0])))
        return Verdict::malformed;
    Buffer buf;
    std::memcpy(buf.data(), wire.data(), s.len);
    std::memcpy(buf.data() + kAuthOff, request_auth.data(), 16);
    const auto d = md5_with_secret(buf.data(), s.len, secret);
    if (!equal16(d.data(), wire.data() + kAuthOff)) return Verdict::bad_authenticator;
    return check_ma(buf, s, secret);
}

// --- User-Password -------------------------------------------------------------------------------

namespace {
// XORs `data` (multiple of 16) in place with b(i) = MD5(secret + c(i-1)), c(0) = `iv` (16 octets
// + optional 2-octet salt). Encrypt: c(i) is the output; decrypt: c(i) is the input.
void xor_chain(std::uint8_t* data, std::size_t n, std::string_view secret,
               std::span<const std::uint8_t> iv, bool encrypt) {
    crypto::Md5Digest b;
    {
        crypto::Md5 h;
        h.update(secret).update(iv);
        b = h.final();
    }
    for (std::size_t i = 0; i < n; i += 16) {
        std::uint8_t c[16];
        for (std::size_t k = 0; k < 16; ++k) {
            const std::uint8_t in = data[i + k];
            data[i + k] = in ^ b[k];
            c[k] = encrypt ? data[i + k] : in;
        }
        if (i + 16 < n) {
            crypto::Md5 h;
            h.update(secret).update(std::span<const std::uint8_t>(c, 16));
            b = h.final();
        }
    }
}
}  // namespace

std::vector<std::uint8_t> hide_user_password(std::string_view password, std::string_view secret,
                                             const Authenticator& request_auth) {
    if (password.size() > 128)
        throw std::length_error("User-Password longer than 128 octets (RFC 2865 §5.2)");
    const std::size_t n = password.empty() ? 16 : (password.size() + 15) / 16 * 16;
    std::vector<std::uint8_t> out(n, 0);
    if (!password.empty()) std::memcpy(out.data(), password.data(), password.size());
    xor_chain(out.data(), n, secret, request_auth, true);
    return out;
}

std::string unhide_user_password(std::span<const std::uint8_t> hidden, std::string_view secret,
                                 const Authenticator& request_auth) {
    if (hidden.empty() || hidden.size() % 16 != 0 || hidden.size() > 128)
        throw ParseError(Protocol::radius, "User-Password",
                         "hidden length " + std::to_string(hidden.size()) +
                             " is not 16..128 in steps of 16",
                         "RFC 2865 §5.2");
    std::array<std::uint8_t, 128> buf;
    std::memcpy(buf.data(), hidden.data(), hidden.size());
    xor_chain(buf.data(), hidden.size(), secret, request_auth, false);
    std::size_t n = hidden.size();
    while (n > 0 && buf[n - 1] == 0) --n;
    return std::string(reinterpret_cast<const char*>(buf.data()), n);
}

void add_user_password(Radius& req, std::string_view password, std::string_view secret) {
    req.add(Attribute(static_cast<std::uint8_t>(AttributeType::User_Password),
                      hide_user_password(password, secret, req.authenticator())));
}

std::optional<std::string> user_password(const Radius& req, std::string_view secret) {
    const Attribute* a = req.find(AttributeType::User_Password);
    if (!a) return std::nullopt;
    return unhide_user_password(a->value(), secret, req.authenticator());
}

// --- Tunnel-Password -----------------------------------------------------------------------------

std::vector<std::uint8_t> encrypt_tunnel_password(std::string_view password,
                                                  std::string_view secret,
                                                  const Authenticator& request_auth,
                                                  std::optional<std::uint16_t> salt) {
    if (password.size() > 239)
        throw std::length_error("Tunnel-Password longer than 239 octets (RFC 2868 §3.5)");
    std::uint16_t s;
    if (salt) {
        if (!(*salt & 0x8000))
            throw std::invalid_argument("Tunnel-Password Salt must have its high bit set (RFC 2868 §3.5)");
        s = *salt;
    } else {
        std::uint8_t r[2];
        crypto::random_fill(r);
        s = static_cast<std::uint16_t>(((r[0] << 8) | r[1]) | 0x8000);
    }
    const std::size_t n = (1 + password.size() + 15) / 16 * 16;
    std::vector<std::uint8_t> out(2 + n, 0);
    out[0] = static_cast<std::uint8_t>(s >> 8);
    out[1] = static_cast<std::uint8_t>(s);
    out[2] = static_cast<std::uint8_t>(password.size());
    if (!password.empty()) std::memcpy(out.data() + 3, password.data(), password.size());
    std::uint8_t iv[18];
    std::memcpy(iv, request_auth.data(), 16);
    iv[16] = out[0];
    iv[17] = out[1];
    xor_chain(out.data() + 2, n, secret, iv, true);
    return out;
}

std::string decrypt_tunnel_password(std::span<const std::uint8_t> in, std::string_view secret,
                                    const Authenticator& request_auth) {
    if (in.size() < 18 || (in.size() - 2) % 16 != 0 || in.size() - 2 > 240)
        throw ParseError(Protocol::radius, "Tunnel-Password",
                         "Salt + String of " + std::to_string(in.size()) +
                             " octets: String must be 16..240 in steps of 16",
                         "RFC 2868 §3.5");
    std::uint8_t iv[18];
    std::memcpy(iv, request_auth.data(), 16);
    iv[16] = in[0];
    iv[17] = in[1];
    std::array<std::uint8_t, 240> buf;
    const std::size_t n = in.size() - 2;
    std::memcpy(buf.data(), in.data() + 2, n);
    xor_chain(buf.data(), n, secret, iv, false);
    const std::size_t dlen = buf[0];
    if (dlen > n - 1)
        throw ParseError(Protocol::radius, "Tunnel-Password",
                         "data length " + std::to_string(dlen) + " exceeds the " +
                             std::to_string(n - 1) + " decrypted octets (wrong secret?)",
                         "RFC 2868 §3.5");
    return std::string(reinterpret_cast<const char*>(buf.data() + 1), dlen);
}

Attribute tunnel_password_attribute(std::uint8_t tag, std::string_view password,
                                    std::string_view secret, const Authenticator& request_auth,
                                    std::optional<std::uint16_t> salt) {
    if (tag > 0x1F) throw std::out_of_range("RADIUS tag must be 0x00..0x1F (RFC 2868 §3.5)");
    auto enc = encrypt_tunnel_password(password, secret, request_auth, salt);
    std::vector<std::uint8_t> v;
    v.reserve(1 + enc.size());
    v.push_back(tag);
    v.insert(v.end(), enc.begin(), enc.end());
    return Attribute(static_cast<std::uint8_t>(AttributeType::Tunnel_Password), v);
}

std::optional<std::string> tunnel_password(const Radius& resp, std::string_view secret,
                                           const Authenticator& request_auth,
                                           std::optional<std::uint8_t> tag) {
    const Attribute* a = resp.find(AttributeType::Tunnel_Password, tag);
    if (!a) return std::nullopt;
    auto v = a->value();
    if (v.empty())
        throw ParseError(Protocol::radius, "Tunnel-Password", "empty value", "RFC 2868 §3.5");
    return decrypt_tunnel_password(v.subspan(1), secret, request_auth);
}

// --- CHAP ----------------------------------------------------------------------------------------

std::array<std::uint8_t, 17> chap_password(std::uint8_t ident, std::string_view password,
                                           std::span<const std::uint8_t> challenge) {
    crypto::Md5 h;
    h.update(ident).update(password).update(challenge);
    const auto d = h.final();
    std::array<std::uint8_t, 17> out;
    out[0] = ident;
    std::memcpy(out.data() + 1, d.data(), 16);
    return out;
}

bool verify_chap_password(std::span<const std::uint8_t> value, std::string_view password,
                          std::span<const std::uint8_t> challenge) {
    if (value.size() != 17) return false;
    const auto expect = chap_password(value[0], password, challenge);
    return equal16(expect.data() + 1, value.data() + 1);
}

std::span<const std::uint8_t> chap_challenge(const Radius& req) {
    if (const Attribute* a = req.find(AttributeType::CHAP_Challenge)) return a->value();
    return req.authenticator();
}

}  // namespace dl::radius
