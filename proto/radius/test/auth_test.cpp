#include "dl/radius/auth.hpp"
#include "dl/proto/crypto.hpp"
#include "dl/proto/errors.hpp"
#include "dl/testing/bytes.hpp"

#include <gtest/gtest.h>

using namespace dl::radius;
using dl::proto::ParseError;
using dl::testing::hex;
using dl::testing::to_hex;

namespace {
Authenticator auth_of(const std::vector<std::uint8_t>& pkt) {
    Authenticator a;
    std::copy(pkt.begin() + 4, pkt.begin() + 20, a.begin());
    return a;
}
Authenticator seq_auth() {  // 00 01 02 ... 0f (FreeRADIUS unit tests)
    Authenticator a;
    for (int i = 0; i < 16; ++i) a[i] = static_cast<std::uint8_t>(i);
    return a;
}
const char* kReq71 =
    "01 00 00 38 0f 40 3f 94 73 97 80 57 bd 83 d5 cb 98 f4 22 7a 01 06 6e 65 6d 6f 02 12 0d be 70 8d"
    "93 d4 13 ce 31 96 e4 3f 78 2a 0a ee 04 06 c0 a8 01 10 05 06 00 00 00 03";
const char* kResp71 =
    "02 00 00 26 86 fe 22 0e 76 24 ba 2a 10 05 f6 bf 9b 55 e0 b2 06 06 00 00 00 01 0f 06 00 00 00 00"
    "0e 06 c0 a8 01 03";
const char* kReq72 =
    "01 01 00 47 2a ee 86 f0 8d 0d 55 96 9c a5 97 8e 0d 33 67 a2 01 08 66 6c 6f 70 73 79 03 13 16 e9"
    "75 57 c3 16 18 58 95 f2 93 ff 63 44 07 72 75 04 06 c0 a8 01 10 05 06 00 00 00 14 06 06 00 00 00"
    "02 07 06 00 00 00 01";
const char* kResp72 =
    "02 01 00 38 15 ef bc 7d ab 26 cf a3 dc 34 d9 c0 3c 86 01 a4 06 06 00 00 00 02 07 06 00 00 00 01"
    "08 06 ff ff ff fe 0a 06 00 00 00 02 0d 06 00 00 00 01 0c 06 00 00 05 dc";
}  // namespace

// RFC 2865 §7.1: secret "xyzzy5461", password "arctangent".
// req: RADIUS.user-password
TEST(UserPassword, Rfc2865Example7_1) {
    auto b = hex(kReq71);
    Radius req(b.data(), static_cast<std::uint32_t>(b.size()));
    EXPECT_EQ(user_password(req, "xyzzy5461"), "arctangent");
    auto hidden = hide_user_password("arctangent", "xyzzy5461", req.authenticator());
    EXPECT_EQ(to_hex(hidden, " "), "0d be 70 8d 93 d4 13 ce 31 96 e4 3f 78 2a 0a ee");
    // Build it again through add_user_password: identical packet.
    Radius again(Code::Access_Request, 0);
    again.authenticator(req.authenticator());
    again.add_string(AttributeType::User_Name, "nemo");
    add_user_password(again, "arctangent", "xyzzy5461");
    again.add_ipaddr(AttributeType::NAS_IP_Address, {192, 168, 1, 16});
    again.add_integer(AttributeType::NAS_Port, 3);
    EXPECT_EQ(again.serialize(), b);
}

// req: RADIUS.user-password
TEST(UserPassword, LongPasswordsAndErrors) {
    const Authenticator ra = seq_auth();
    for (std::string pw : {std::string(), std::string("a"), std::string(16, 'b'), std::string(17, 'c'),
                           std::string(128, 'd')}) {
        auto h = hide_user_password(pw, "s3cret", ra);
        EXPECT_EQ(h.size() % 16, 0u);
        EXPECT_GE(h.size(), 16u);
        EXPECT_EQ(unhide_user_password(h, "s3cret", ra), pw);
    }
    EXPECT_THROW(hide_user_password(std::string(129, 'x'), "s", ra), std::length_error);
    EXPECT_THROW(unhide_user_password({}, "s", ra), ParseError);
    EXPECT_THROW(unhide_user_password(std::vector<std::uint8_t>(15), "s", ra), ParseError);
    EXPECT_THROW(unhide_user_password(std::vector<std::uint8_t>(144), "s", ra), ParseError);
}

// RFC 2865 §7.1 and §7.2 Access-Accepts verify against their requests with secret "xyzzy5461".
// req: RADIUS.packet
TEST(ResponseAuthenticator, Rfc2865Examples) {
    auto r71 = hex(kResp71), r72 = hex(kResp72);
    EXPECT_EQ(verify_response(r71, auth_of(hex(kReq71)), "xyzzy5461"), Verdict::ok);
    EXPECT_EQ(verify_response(r72, auth_of(hex(kReq72)), "xyzzy5461"), Verdict::ok);
    EXPECT_EQ(verify_response(r71, auth_of(hex(kReq71)), "wrong"), Verdict::bad_authenticator);
    // Re-signing the parsed response reproduces the Response Authenticator.
    Radius p(r71.data(), static_cast<std::uint32_t>(r71.size()));
    p.authenticator({});
    sign_response(p, auth_of(hex(kReq71)), "xyzzy5461");
    EXPECT_EQ(p.serialize(), r71);
}

// FreeRADIUS rfc2868.txt vectors: secret testing123, Request Authenticator 00 01 .. 0f.
// req: RADIUS.tunnel
TEST(TunnelPassword, FreeRadiusVectors) {
    struct V { const char* attr; const char* plain; };
    for (const V& v : {V{"45 15 00 99 73 05 1d e6 c5 57 30 7d ac d5 da a5 99 f4 e2 6e 7e", "foo"},
                       V{"45 15 00 9d c5 c4 69 23 3a 16 57 b3 5c 97 82 3c 97 ec 6b 7e f1", "bar"},
                       V{"45 15 00 c0 6f 25 5f 09 b7 dc 0e 4a 1a 46 56 05 f4 8f 7c 0b a4", "barbar"}}) {
        auto a = hex(v.attr);
        std::vector<std::uint8_t> pkt = hex("02 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
        pkt.insert(pkt.end(), a.begin(), a.end());
        pkt[3] = static_cast<std::uint8_t>(pkt.size());
        Radius r(pkt.data(), static_cast<std::uint32_t>(pkt.size()));
        EXPECT_EQ(tunnel_password(r, "testing123", seq_auth()), v.plain);
        EXPECT_EQ(tunnel_password(r, "testing123", seq_auth(), 0), v.plain);
        EXPECT_EQ(tunnel_password(r, "testing123", seq_auth(), 1), std::nullopt);
        // Encrypting with the same salt gives the same first octets (length + data); the rest of
        // the block is padding, random in FreeRADIUS and zero here.
        const std::uint16_t salt = static_cast<std::uint16_t>((a[3] << 8) | a[4]);
        auto enc = encrypt_tunnel_password(v.plain, "testing123", seq_auth(), salt);
        ASSERT_EQ(enc.size(), 18u);
        const std::size_t n = 2 + 1 + std::string_view(v.plain).size();
        EXPECT_TRUE(std::equal(enc.begin(), enc.begin() + n, a.begin() + 3)) << to_hex(enc, " ");
    }
}

// req: RADIUS.tunnel
TEST(TunnelPassword, RoundTripAndErrors) {
    const Authenticator ra = random_authenticator();
    for (std::size_t len : {0u, 1u, 15u, 16u, 100u, 239u}) {
        std::string pw(len, 'p');
        auto enc = encrypt_tunnel_password(pw, "sharedsecret", ra);
        EXPECT_TRUE(enc[0] & 0x80) << "salt high bit (RFC 2868 §3.5)";
        EXPECT_EQ((enc.size() - 2) % 16, 0u);
        EXPECT_EQ(decrypt_tunnel_password(enc, "sharedsecret", ra), pw);
    }
    EXPECT_THROW(encrypt_tunnel_password(std::string(240, 'x'), "s", ra), std::length_error);
    EXPECT_THROW(encrypt_tunnel_password("x", "s", ra, 0x1234), std::invalid_argument);
    EXPECT_THROW(decrypt_tunnel_password(std::vector<std::uint8_t>(17), "s", ra), ParseError);
    EXPECT_THROW(decrypt_tunnel_password(std::vector<std::uint8_t>(19), "s", ra), ParseError);
    auto enc = encrypt_tunnel_password("abc", "right", ra, 0x8001);
    // With a wrong secret the data length octet is garbage; reject when it overruns.
    int rejected = 0;
    for (int i = 0; i < 8; ++i) {
        try {
            decrypt_tunnel_password(enc, "wrong" + std::to_string(i), ra);
        } catch (const ParseError&) {
            ++rejected;
        }
    }
    EXPECT_GT(rejected, 0);
    Attribute a = tunnel_password_attribute(1, "abc", "right", ra, 0x8001);
    EXPECT_EQ(a.value()[0], 1);
    EXPECT_EQ(a.value().size(), 19u);
}

namespace {
// An Access-Accept as the dial-out RADIUS server sends it (DESIGN §4 step 3).
Radius dial_out_accept(const Authenticator& req_auth, std::string_view secret) {
    Radius p(Code::Access_Accept, 0x42);
    p.add_integer(AttributeType::Service_Type, 5);
    p.add_integer(AttributeType::Tunnel_Type, kTunnelTypeL2tp, 1);
    p.add_integer(AttributeType::Tunnel_Medium_Type, kTunnelMediumIpv4, 1);
    p.add_string(AttributeType::Tunnel_Server_Endpoint, "198.51.100.2", 1);
    p.add(tunnel_password_attribute(1, "tunnelsecret", secret, req_auth, 0x8123));
    p.add_integer(AttributeType::Tunnel_Preference, 10, 1);
    p.add_string(AttributeType::Tunnel_Assignment_Id, "lac1", 1);
    p.add_string(AttributeType::Tunnel_Client_Auth_Id, "lns", 1);
    p.add_string(AttributeType::Tunnel_Server_Auth_Id, "lac", 1);
    p.add_string(ErxAttribute::Dial_Out_Number, "0301234567");
    p.add_string(ErxAttribute::PPP_Username, "lns-user");
    p.add_string(ErxAttribute::PPP_Password, "lns-pass");
    p.add_integer(ErxAttribute::PPP_Auth_Protocol, 2);
    p.add_integer(ErxAttribute::Minimum_BPS, 56000);
    p.add_integer(ErxAttribute::Maximum_BPS, 64000);
    p.add_integer(ErxAttribute::Bearer_Type, 2);
    add_message_authenticator(p);
    sign_response(p, req_auth, secret);
    return p;
}
}  // namespace

// req: RADIUS.message-authenticator
TEST(MessageAuthenticator, DialOutAcceptRoundTripsAndVerifies) {
    const Authenticator ra = random_authenticator();
    Radius p = dial_out_accept(ra, "testing123");
    auto w = p.serialize();
    EXPECT_EQ(verify_response(w, ra, "testing123"), Verdict::ok);
    Radius q(w.data(), static_cast<std::uint32_t>(w.size()));
    EXPECT_EQ(q.serialize(), w);
    EXPECT_EQ(tunnel_password(q, "testing123", ra, 1), "tunnelsecret");
    EXPECT_EQ(q.get_integer(AttributeType::Tunnel_Type, 1), kTunnelTypeL2tp);
    EXPECT_EQ(q.get_string(AttributeType::Tunnel_Server_Endpoint, 1), "198.51.100.2");
    EXPECT_EQ(q.get_string(ErxAttribute::PPP_Username), "lns-user");
    EXPECT_EQ(q.get_integer(ErxAttribute::Maximum_BPS), 64000u);
    // Re-signing the parsed copy gives the same bytes (deterministic).
    sign_response(q, ra, "testing123");
    EXPECT_EQ(q.serialize(), w);
    // Tampering with any single octet fails verification.
    for (std::size_t i = 0; i < w.size(); ++i) {
        auto t = w;
        t[i] ^= 0x01;
        EXPECT_NE(verify_response(t, ra, "testing123"), Verdict::ok) << "octet " << i;
    }
    EXPECT_EQ(verify_response(w, ra, "testing124"), Verdict::bad_authenticator);
    Authenticator other = ra;
    other[0] ^= 1;
    EXPECT_EQ(verify_response(w, other, "testing123"), Verdict::bad_authenticator);
}

// req: RADIUS.packet, RADIUS.message-authenticator
TEST(MessageAuthenticator, DetectsBadMacWithValidResponseAuthenticator) {
    const Authenticator ra = seq_auth();
    Radius p = dial_out_accept(ra, "s");
    // Corrupt the MAC, then recompute only the Response Authenticator over the corrupt packet.
    for (auto& a : p.attributes())
        if (a.type() == static_cast<std::uint8_t>(AttributeType::Message_Authenticator)) {
            std::array<std::uint8_t, 16> bad{};
            bad[0] = 1;
            a.value(bad);
        }
    p.authenticator(ra);
    auto w = p.serialize();
    auto d = dl::proto::crypto::md5({w, dl::proto::crypto::bytes("s")});
    std::copy(d.begin(), d.end(), w.begin() + 4);
    EXPECT_EQ(verify_response(w, ra, "s"), Verdict::bad_message_authenticator);
}

// req: RADIUS.packet, RADIUS.message-authenticator
TEST(MessageAuthenticator, AccessRequestSignAndVerify) {
    Radius p(Code::Access_Request, 9);
    p.add_string(AttributeType::User_Name, "0.0.0.0:65000/10.10.1.1@L2TP-dial-out.de.dt");
    p.add_integer(AttributeType::Service_Type, 5);
    add_message_authenticator(p);
    add_message_authenticator(p);  // idempotent
    sign_request(p, "testing123");
    EXPECT_NE(p.authenticator(), Authenticator{});
    auto w = p.serialize();
    EXPECT_EQ(verify_request(w, "testing123"), Verdict::ok);
    EXPECT_EQ(verify_request(w, "nope"), Verdict::bad_message_authenticator);
    w[25] ^= 0x20;
    EXPECT_EQ(verify_request(w, "testing123"), Verdict::bad_message_authenticator);
    EXPECT_EQ(verify_request(hex(kReq71), "xyzzy5461"), Verdict::ok);  // nothing to verify
    EXPECT_THROW(sign_request(*std::make_unique<Radius>(Code::Access_Accept), "s"), std::invalid_argument);
}

// RFC 2866 §3 (Accounting-Request) and RFC 5176 §2.3/§3.4 (CoA/Disconnect).
// req: RADIUS.packet
TEST(RequestAuthenticator, AccountingAndCoa) {
    for (Code c : {Code::Accounting_Request, Code::CoA_Request, Code::Disconnect_Request}) {
        Radius p(c, 7);
        p.add_string(AttributeType::User_Name, "u");
        p.add_integer(AttributeType::Acct_Status_Type, 1);
        p.add_string(AttributeType::Acct_Tunnel_Connection, "tunnel 1 session 2");
        if (c != Code::Accounting_Request) add_message_authenticator(p);
        sign_request(p, "testing123");
        auto w = p.serialize();
        // Accounting-Request authenticator by its definition.
        auto z = w;
        std::fill(z.begin() + 4, z.begin() + 20, 0);
        if (c == Code::Accounting_Request) {
            auto d = dl::proto::crypto::md5({z, dl::proto::crypto::bytes("testing123")});
            EXPECT_TRUE(std::equal(d.begin(), d.end(), w.begin() + 4));
        }
        EXPECT_EQ(verify_request(w, "testing123"), Verdict::ok) << to_string(c);
        EXPECT_EQ(verify_request(w, "x"), Verdict::bad_authenticator);
        for (std::size_t i = 0; i < w.size(); ++i) {
            auto t = w;
            t[i] ^= 0x80;
            EXPECT_NE(verify_request(t, "testing123"), Verdict::ok) << i;
        }
        // Response to it.
        Radius ack(c == Code::Accounting_Request ? Code::Accounting_Response : Code::CoA_ACK, 7);
        add_message_authenticator(ack);
        sign_response(ack, p.authenticator(), "testing123");
        EXPECT_EQ(verify_response(ack.serialize(), p.authenticator(), "testing123"), Verdict::ok);
    }
}

// req: RADIUS.packet
TEST(Verify, MalformedInputs) {
    EXPECT_EQ(verify_request({}, "s"), Verdict::malformed);
    EXPECT_EQ(verify_response(hex("02 00 00 15 00"), Authenticator{}, "s"), Verdict::malformed);
    EXPECT_EQ(verify_response(hex(kReq71), Authenticator{}, "s"), Verdict::malformed);  // a request
    EXPECT_EQ(verify_request(hex(kResp71), "s"), Verdict::malformed);                     // a response
    auto bad = hex("01 00 00 16 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 50 02");
    EXPECT_EQ(verify_request(bad, "s"), Verdict::bad_message_authenticator);  // MA not 16 octets
    EXPECT_EQ(to_string(Verdict::ok), "ok");
}

// RFC 2865 §5.3, RFC 1994 §4.1: CHAP-Password = Ident + MD5(Ident + secret + challenge).
TEST(Chap, PasswordAndChallenge) {
    auto b = hex(kReq72);
    Radius req(b.data(), static_cast<std::uint32_t>(b.size()));
    auto ch = chap_challenge(req);  // no CHAP-Challenge: the Request Authenticator
    EXPECT_EQ(to_hex({ch.begin(), ch.end()}, " "), "2a ee 86 f0 8d 0d 55 96 9c a5 97 8e 0d 33 67 a2");
    auto v = chap_password(0x16, "password", ch);
    EXPECT_EQ(to_hex({v.begin(), v.end()}, " "), "16 e7 00 a2 1b 5a e8 95 8d 4b 5f eb 3d 92 71 e9 48");
    EXPECT_TRUE(verify_chap_password(v, "password", ch));
    EXPECT_FALSE(verify_chap_password(v, "Password", ch));
    EXPECT_FALSE(verify_chap_password(std::span(v.data(), 16), "password", ch));
    // With an explicit CHAP-Challenge.
    Radius r2(Code::Access_Request, 1);
    r2.authenticator(random_authenticator());
    const auto challenge = hex("01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11 12");
    r2.add_octets(AttributeType::CHAP_Challenge, challenge);
    auto cp = chap_password(7, "pw", chap_challenge(r2));
    r2.add_octets(AttributeType::CHAP_Password, cp);
    auto w = r2.serialize();
    Radius parsed(w.data(), static_cast<std::uint32_t>(w.size()));
    EXPECT_TRUE(verify_chap_password(parsed.find(AttributeType::CHAP_Password)->value(), "pw",
                                     chap_challenge(parsed)));
}
