// PPP credentials -> PPP Access-Request: PAP, CHAP, golden attributes, every refusal.
#include "dl/radius/client/ppp_credentials.hpp"

#include <gtest/gtest.h>


using namespace dl::radius;
using namespace dl::radius::client;
namespace core = dl::core;
namespace pe = dl::ppp;  // Credentials, AuthMethod (dl/ppp/credentials.hpp)

namespace {

const NasInfo kNas{*core::Ipv4Address::parse("192.0.2.10"), "lns"};

/// The octets of the first attribute `t` of the serialised packet: Type, Length, Value.
std::vector<std::uint8_t> attribute_bytes(const Radius& r, AttributeType t) {
    std::vector<std::uint8_t> w;
    serialize_into(r, w);
    for (std::size_t i = 20; i + 2 <= w.size() && w[i + 1] >= 2; i += w[i + 1])
        if (w[i] == static_cast<std::uint8_t>(t)) return {w.begin() + static_cast<std::ptrdiff_t>(i),
                                                          w.begin() + static_cast<std::ptrdiff_t>(i + w[i + 1])};
    return {};
}

pe::Credentials chap(std::size_t response_size) {
    pe::Credentials cr;
    cr.method = pe::AuthMethod::chap_md5;
    cr.user = "cpe-remote";
    cr.chap_id = 0x2A;
    cr.challenge = {0xA0, 0xA1, 0xA2, 0xA3};
    for (std::size_t i = 0; i < response_size; ++i) cr.response.push_back(static_cast<std::uint8_t>(0x10 + i));
    return cr;
}

// req: RADIUS.ppp-credentials, PPP.pap
TEST(PppCredentials, PapMapsUserAndPassword) {
    pe::Credentials cr;
    cr.method = pe::AuthMethod::pap;
    cr.user = "cpe";
    cr.password = "pw";
    const auto m = ppp_auth_request(cr);
    ASSERT_TRUE(m.ok()) << m.error->message;
    EXPECT_FALSE(m.error) << "a request or an error, never both";
    EXPECT_EQ(m.request->method, PppAuthRequest::Method::pap);
    EXPECT_EQ(m.request->user_name, "cpe");
    EXPECT_EQ(m.request->password, "pw");
    EXPECT_TRUE(m.request->chap_challenge.empty()) << "no CHAP fields for PAP";
    const auto p = build_ppp_access_request(*m.request, kNas);
    EXPECT_EQ(p.user_password, "pw") << "User-Password hidden per server at submit (RFC 2865 §5.2)";
    EXPECT_EQ(attribute_bytes(p.packet, AttributeType::User_Name),
              (std::vector<std::uint8_t>{0x01, 0x05, 'c', 'p', 'e'}))
        << "User-Name golden bytes (RFC 2865 §5.1)";
    EXPECT_EQ(p.packet.find(AttributeType::CHAP_Password), nullptr) << "no CHAP-Password for PAP";
}

// req: RADIUS.ppp-credentials, PPP.chap
TEST(PppCredentials, ChapGoldenAttributes) {
    const auto m = ppp_auth_request(chap(16));
    ASSERT_TRUE(m.ok()) << m.error->message;
    EXPECT_EQ(m.request->method, PppAuthRequest::Method::chap);
    EXPECT_EQ(m.request->chap_ident, 0x2A);
    EXPECT_TRUE(m.request->password.empty()) << "no PAP password for CHAP";
    const auto p = build_ppp_access_request(*m.request, kNas);
    EXPECT_FALSE(p.user_password) << "CHAP carries no User-Password";
    // RFC 2865 §5.3: Type 3, Length 19, CHAP Ident, 16-octet Response.
    std::vector<std::uint8_t> cp{0x03, 19, 0x2A};
    for (std::uint8_t i = 0; i < 16; ++i) cp.push_back(static_cast<std::uint8_t>(0x10 + i));
    EXPECT_EQ(attribute_bytes(p.packet, AttributeType::CHAP_Password), cp) << "CHAP-Password = Ident + Response";
    // RFC 2865 §5.40: Type 60, Length 6, the challenge we sent.
    EXPECT_EQ(attribute_bytes(p.packet, AttributeType::CHAP_Challenge),
              (std::vector<std::uint8_t>{60, 6, 0xA0, 0xA1, 0xA2, 0xA3}))
        << "CHAP-Challenge golden bytes";
    EXPECT_EQ(p.packet.get_string(AttributeType::User_Name), "cpe-remote") << "the CHAP Name is the User-Name";
}

// req: RADIUS.ppp-credentials, PPP.chap
TEST(PppCredentials, ChapResponseNotSixteenOctetsIsRefused) {
    for (std::size_t n : {std::size_t{0}, std::size_t{15}, std::size_t{17}}) {
        const auto m = ppp_auth_request(chap(n));
        ASSERT_FALSE(m.ok()) << n << "-octet response must not become a request";
        ASSERT_TRUE(m.error) << n;
        EXPECT_EQ(m.error->problem, PppCredentialsProblem::chap_response_size) << n;
        EXPECT_EQ(m.error->message, "CHAP response of " + std::to_string(n) + " octets, not 16 (RFC 1994 MD5)") << n;
        EXPECT_EQ(to_string(m.error->problem), "chap-response-size") << n;
    }
}

// req: RADIUS.ppp-credentials
TEST(PppCredentials, UnencodableCredentialsAreRefusedWithTheRule) {
    struct Case {
        const char* what;
        pe::Credentials cr;
        PppCredentialsProblem problem;
        std::string message;
    };
    std::vector<Case> cases;
    {
        auto cr = chap(16);
        cr.user.clear();
        cases.push_back({"empty user", cr, PppCredentialsProblem::empty_user,
                         "empty user name (RFC 2865 §5.1 User-Name is 1..253 octets)"});
    }
    {
        auto cr = chap(16);
        cr.user.assign(254, 'u');
        cases.push_back({"long user", cr, PppCredentialsProblem::user_too_long,
                         "user name of 254 octets, over 253 (RFC 2865 §5.1)"});
    }
    {
        auto cr = chap(16);
        cr.challenge.clear();
        cases.push_back({"empty challenge", cr, PppCredentialsProblem::chap_challenge_size,
                         "CHAP challenge of 0 octets, not 1..253 (RFC 2865 §5.40)"});
    }
    {
        pe::Credentials cr;
        cr.method = pe::AuthMethod::pap;
        cr.user = "cpe";
        cr.password.assign(129, 'p');
        cases.push_back({"long password", cr, PppCredentialsProblem::password_too_long,
                         "PAP password of 129 octets, over 128 (RFC 2865 §5.2)"});
    }
    {
        pe::Credentials cr;
        cr.user = "cpe";
        cases.push_back({"no method", cr, PppCredentialsProblem::no_method, "no PAP or CHAP credentials to check"});
    }
    for (const auto& c : cases) {
        const auto m = ppp_auth_request(c.cr);
        ASSERT_FALSE(m.ok()) << c.what;
        ASSERT_TRUE(m.error) << c.what;
        EXPECT_EQ(m.error->problem, c.problem) << c.what;
        EXPECT_EQ(m.error->message, c.message) << c.what;
    }
    // The limits themselves are accepted and build (no throw from the builder).
    auto cr = chap(16);
    cr.user.assign(253, 'u');
    cr.challenge.assign(253, 0x55);
    const auto m = ppp_auth_request(cr);
    ASSERT_TRUE(m.ok()) << m.error->message;
    EXPECT_NO_THROW(build_ppp_access_request(*m.request, kNas)) << "253-octet user and challenge are encodable";
    pe::Credentials pap;
    pap.method = pe::AuthMethod::pap;
    pap.user = "u";
    pap.password.assign(128, 'p');
    const auto mp = ppp_auth_request(pap);
    ASSERT_TRUE(mp.ok()) << mp.error->message;
    EXPECT_NO_THROW(build_ppp_access_request(*mp.request, kNas)) << "a 128-octet PAP password is encodable";
}

}  // namespace
