#include "dl/proto/errors.hpp"

#include <gtest/gtest.h>

using namespace dl::proto;

TEST(Errors, ParseErrorNamesFieldReasonAndSource) {
    ParseError e(Protocol::l2tp, "avp[2].length", "length 900 exceeds 12 octets left",
                 "RFC 2661 §4.1", 40);
    EXPECT_EQ(e.protocol(), Protocol::l2tp);
    EXPECT_EQ(e.offset(), 40u);
    std::string w = e.what();
    EXPECT_NE(w.find("avp[2].length"), std::string::npos) << w;
    EXPECT_NE(w.find("RFC 2661 §4.1"), std::string::npos) << w;
    EXPECT_NE(w.find("offset 40"), std::string::npos) << w;
}

TEST(Errors, ValidationErrorNamesMessageAndItem) {
    ValidationError e(Protocol::l2tp, "SCCRQ", "Host Name", "required AVP missing", "RFC 2661 §6.1");
    std::string w = e.what();
    EXPECT_NE(w.find("SCCRQ"), std::string::npos) << w;
    EXPECT_NE(w.find("Host Name"), std::string::npos) << w;
    EXPECT_EQ(e.source(), "RFC 2661 §6.1");
}
