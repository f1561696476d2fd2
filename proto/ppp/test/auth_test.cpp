// PAP (RFC 1334 §2.2) and CHAP (RFC 1994 §4): golden bytes, CHAP-MD5 vector, malformed input.
#include "dl/ppp/auth.hpp"

#include <gtest/gtest.h>

#include "dl/proto/errors.hpp"
#include "dl/testing/bytes.hpp"
#include "test_util.hpp"

namespace dl::ppp {
namespace {

using dl::proto::ParseError;
using dl::testing::Bytes;
using dl::testing::cat;
using dl::testing::hex;
using dl::testing::str;

template <typename T>
T parse(const Bytes& b) {
    return T(b.data(), static_cast<std::uint32_t>(b.size()));
}

// req: PPP.pap
TEST(Pap, AuthenticateRequestGolden) {
    // Code 1, Id 7, Length 17, Peer-ID "markw", Password "qwerty" (as in jnetpcap frame 68).
    const Bytes b = hex("01 07 00 11 05 6d 61 72 6b 77 06 71 77 65 72 74 79");
    PAP p(PapCode::authenticate_request, 7);
    p.peer_id("markw");
    p.password("qwerty");
    EXPECT_EQ(p.serialize(), b);
    auto q = parse<PAP>(b);
    EXPECT_EQ(q.code(), PapCode::authenticate_request);
    EXPECT_EQ(q.identifier(), 7);
    EXPECT_EQ(q.peer_id(), "markw");
    EXPECT_EQ(q.password(), "qwerty");
    EXPECT_EQ(q.serialize(), b);
}

// req: PPP.pap
TEST(Pap, AckNakGolden) {
    const Bytes ack = hex("02 07 00 05 00");
    auto a = parse<PAP>(ack);
    EXPECT_EQ(a.code(), PapCode::authenticate_ack);
    EXPECT_EQ(a.message(), "");
    EXPECT_EQ(a.serialize(), ack);
    PAP n(PapCode::authenticate_nak, 8);
    n.message("denied");
    const Bytes nak = hex("03 08 00 0b 06 64 65 6e 69 65 64");
    EXPECT_EQ(n.serialize(), nak);
    EXPECT_EQ(parse<PAP>(nak).message(), "denied");
    EXPECT_THROW(n.message(std::string(256, 'x')), std::length_error);
}

// req: PPP.pap
TEST(Pap, EmptyFieldsAndPadding) {
    const Bytes b = hex("01 01 00 06 00 00");
    auto p = parse<PAP>(cat(b, hex("00 00")));  // octets past Length are padding
    EXPECT_EQ(p.peer_id(), "");
    EXPECT_EQ(p.password(), "");
    EXPECT_EQ(p.serialize(), b);
}

// req: PPP.chap
TEST(Chap, ChallengeResponseSuccessFailureGolden) {
    const Bytes chal = hex("01 2a 00 19 10 01 23 45 67 89 ab cd ef fe dc ba 98 76 54 32 10 4c 4e 53 31");
    CHAP c(ChapCode::challenge, 0x2a);
    c.value(hex("01 23 45 67 89 ab cd ef fe dc ba 98 76 54 32 10"));
    c.name("LNS1");
    EXPECT_EQ(c.serialize(), chal);
    auto pc = parse<CHAP>(chal);
    EXPECT_EQ(pc.code(), ChapCode::challenge);
    EXPECT_EQ(pc.identifier(), 0x2a);
    EXPECT_EQ(pc.value().size(), 16u);
    EXPECT_EQ(pc.name(), "LNS1");
    EXPECT_EQ(pc.serialize(), chal);

    // Response = MD5(0x2a || "qwerty" || challenge), computed independently.
    const auto digest = chap_md5_response(0x2a, "qwerty", pc.value());
    EXPECT_EQ(Bytes(digest.begin(), digest.end()), hex("ed75aa768cb5510ee88ae585fd648cc6"));
    CHAP r(ChapCode::response, 0x2a);
    r.value(digest);
    r.name("markw");
    const Bytes resp = cat(hex("02 2a 00 1a 10"),
                                 cat(hex("ed75aa768cb5510ee88ae585fd648cc6"), str("markw")));
    EXPECT_EQ(r.serialize(), resp);
    EXPECT_EQ(parse<CHAP>(resp).name(), "markw");

    CHAP s(ChapCode::success, 0x2a);
    s.message("Welcome");
    const Bytes succ = hex("03 2a 00 0b 57 65 6c 63 6f 6d 65");
    EXPECT_EQ(s.serialize(), succ);
    EXPECT_EQ(parse<CHAP>(succ).message(), "Welcome");
    const Bytes fail = hex("04 2b 00 04");
    auto f = parse<CHAP>(fail);
    EXPECT_EQ(f.code(), ChapCode::failure);
    EXPECT_EQ(f.message(), "");
    EXPECT_EQ(f.serialize(), fail);
    EXPECT_THROW(c.value(Bytes{}), std::length_error);
}

// req: PPP.chap
TEST(Chap, Md5ResponseVector) {
    // RFC 1994 §4.1: MD5(Identifier || secret || Challenge); hand-computed with another MD5.
    Bytes ch(16);
    for (int i = 0; i < 16; ++i) ch[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i);
    const auto d = chap_md5_response(1, str("secret"), ch);
    EXPECT_EQ(Bytes(d.begin(), d.end()), hex("740e86463bda3a4d7017d6e0fba0699d"));
}

struct BadCase {
    const char* what;
    bool pap;
    const char* hex;
    const char* field;
    const char* source;
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.what << ": " << c.hex; }

class AuthMalformed : public ::testing::TestWithParam<BadCase> {};

TEST_P(AuthMalformed, IsParseError) {
    const auto& c = GetParam();
    const Bytes b = hex(c.hex);
    try {
        if (c.pap) parse<PAP>(b); else parse<CHAP>(b);
        FAIL() << c.what << ": no ParseError";
    } catch (const ParseError& e) {
        EXPECT_EQ(e.field(), c.field) << c.what << ": " << e.what();
        EXPECT_EQ(e.source(), c.source) << c.what << ": " << e.what();
    }
}

INSTANTIATE_TEST_SUITE_P(
    All, AuthMalformed,
    ::testing::Values(
        BadCase{"pap empty", true, "", "pap.header", "RFC 1334 §2.2"},
        BadCase{"pap length 3", true, "01 01 00 03", "pap.length", "RFC 1334 §2.2"},
        BadCase{"pap length beyond", true, "01 01 00 08 00 00", "pap.length", "RFC 1334 §2.2"},
        BadCase{"pap unknown code", true, "04 01 00 04", "pap.code", "RFC 1334 §2.2"},
        BadCase{"pap no peer-id length", true, "01 01 00 04", "pap.peer_id", "RFC 1334 §2.2.1"},
        BadCase{"pap peer-id overruns", true, "01 01 00 07 05 61 62", "pap.peer_id", "RFC 1334 §2.2.1"},
        BadCase{"pap no password", true, "01 01 00 06 01 61", "pap.password", "RFC 1334 §2.2.1"},
        BadCase{"pap password overruns", true, "01 01 00 07 00 02 61", "pap.password", "RFC 1334 §2.2.1"},
        BadCase{"pap trailing", true, "01 01 00 07 00 00 ff", "pap.length", "RFC 1334 §2.2"},
        BadCase{"pap ack no msg-length", true, "02 01 00 04", "pap.message", "RFC 1334 §2.2.2"},
        BadCase{"pap nak msg overruns", true, "03 01 00 06 05 61", "pap.message", "RFC 1334 §2.2.2"},
        BadCase{"chap 2 octets", false, "01 01", "chap.header", "RFC 1994 §4"},
        BadCase{"chap length beyond", false, "03 01 00 09 61", "chap.length", "RFC 1994 §4"},
        BadCase{"chap unknown code", false, "05 01 00 04", "chap.code", "RFC 1994 §4"},
        BadCase{"chap no value-size", false, "01 01 00 04", "chap.value_size", "RFC 1994 §4.1"},
        BadCase{"chap value-size 0", false, "02 01 00 05 00", "chap.value_size", "RFC 1994 §4.1"},
        BadCase{"chap value overruns", false, "01 01 00 07 03 aa bb", "chap.value", "RFC 1994 §4.1"}),
    [](const auto& p) { return test::param_name(p.param.what); });

}  // namespace
}  // namespace dl::ppp
