// Validation (§4.1, §4.3, §4.4, §6.x): each rule reported with message, AVP and section.
#include <gtest/gtest.h>

#include "dl/l2tp/builders.hpp"
#include "dl/l2tp/registry.hpp"
#include "dl/l2tp/validate.hpp"
#include "dl/testing/bytes.hpp"
#include "full_messages.hpp"

namespace dl::l2tp {
namespace {

using dl::testing::hex;

void expect_error(const L2TP& m, std::string_view message, std::string_view item, std::string_view source) {
    auto e = check(m);
    ASSERT_TRUE(e) << "accepted";
    EXPECT_EQ(e->message(), message) << e->what();
    EXPECT_EQ(e->item(), item) << e->what();
    EXPECT_EQ(e->source(), source) << e->what();
    EXPECT_THROW(validate(m), dl::proto::ValidationError);
}

// req: L2TP.validation
TEST(Validate, EveryRequiredAvpMissingIsReported) {
    for (auto m : test::all_messages_full()) {
        const MessageInfo* info = message_info(*m.message_type());
        for (std::uint16_t req : info->required) {
            L2TP c = m;
            c.remove_avp(static_cast<AvpType>(req));
            SCOPED_TRACE(std::string(info->name) + " without " + std::string(avp_name(req)));
            expect_error(c, info->name, avp_name(req), info->section);
        }
    }
}

// req: L2TP.validation
TEST(Validate, ZlbAndDataAreValid) {
    EXPECT_FALSE(check(make_zlb(1, 2, 3, 4)));
    EXPECT_FALSE(check(make_data(1, 2, hex("ff03"))));
}

// req: L2TP.validation
TEST(Validate, MessageTypeMustBeFirst) {
    L2TP m;
    m.set_host_name("x");
    m.add_avp(0, 0, Avp::kMandatory, hex("0001"));
    expect_error(m, "control", "Message Type", "RFC 2661 §4.4.1");
}

// req: L2TP.validation
TEST(Validate, MessageTypeMBit) {
    L2TP m;
    m.add_avp(0, 0, 0, hex("0006"));
    expect_error(m, "HELLO", "Message Type", "RFC 2661 §4.4.1");
}

// req: L2TP.validation
TEST(Validate, UnknownMessageType) {
    L2TP m;
    m.set_message_type(std::uint16_t{5});
    expect_error(m, "type 5", "Message Type", "RFC 2661 §3.2, §4.4.1");
}

// req: L2TP.validation
TEST(Validate, WrongMBitOnKnownAvp) {
    auto m = make_hello({1, 0, 0, 0});
    m.add_avp(0, static_cast<std::uint16_t>(AvpType::TieBreaker), Avp::kMandatory, hex("0102030405060708"));
    expect_error(m, "HELLO", "Tie Breaker", "RFC 2661 §4.4.3");
    auto n = make_hello({1, 0, 0, 0});
    n.add_avp(0, static_cast<std::uint16_t>(AvpType::AssignedTunnelId), 0, hex("0001"));
    expect_error(n, "HELLO", "Assigned Tunnel ID", "RFC 2661 §4.4.3");
}

// req: L2TP.validation
TEST(Validate, ZeroAssignedIds) {
    SccrqParams p;
    p.assigned_tunnel_id = 0;
    expect_error(make_sccrq(p), "SCCRQ", "Assigned Tunnel ID", "RFC 2661 §4.4.3");
    OcrpParams o;
    o.assigned_session_id = 0;
    expect_error(make_ocrp(o), "OCRP", "Assigned Session ID", "RFC 2661 §4.4.4");
}

// req: L2TP.validation
TEST(Validate, HelloSessionIdMustBeZero) {
    auto m = make_hello({1, 0, 0, 0});
    m.set_session_id(4);
    expect_error(m, "HELLO", "header.session_id", "RFC 2661 §6.5");
}

// req: L2TP.validation
TEST(Validate, HiddenForbidden) {
    auto m = make_sccrq({});
    m.add_avp(0, static_cast<std::uint16_t>(AvpType::RandomVector), Avp::kMandatory, hex("01020304"));
    // a Receive Window Size with H set, as received (cannot be built through set_hidden)
    auto b = m.serialize();
    const auto rws = hex("c0 08 0000 000a 0004");
    b.insert(b.end(), rws.begin(), rws.end());
    b[3] = static_cast<std::uint8_t>(b.size());
    L2TP r(b.data(), static_cast<std::uint32_t>(b.size()));
    expect_error(r, "SCCRQ", "Receive Window Size", "RFC 2661 §4.4.3");
}

// req: L2TP.validation
TEST(Validate, ReservedFieldsAndLengths) {
    auto m = make_sli({1, 2, 0, 0}, Accm{});
    m.set_avp(AvpType::Accm, hex("0001 ffffffff ffffffff"));
    expect_error(m, "SLI", "ACCM", "RFC 2661 §4.4.6");
    auto w = make_wen({1, 2, 0, 0}, CallErrors{});
    w.set_avp(AvpType::CallErrors, hex("0000 01"));
    expect_error(w, "WEN", "Call Errors", "RFC 2661 §4.4.6");
    auto c = make_cdn({});
    c.set_avp(AvpType::ResultCode, hex("0001 00"));
    expect_error(c, "CDN", "Result Code", "RFC 2661 §4.4.2");
}

// req: L2TP.unknown-avp, L2TP.validation
TEST(Validate, UnknownMandatoryInSessionMessageMeansCdn) {
    auto m = make_ocrp({});
    m.add_avp(4874, 1, Avp::kMandatory, hex("00"));
    try {
        validate(m);
        FAIL();
    } catch (const UnknownMandatoryAvp& e) {
        EXPECT_TRUE(e.session_scope());
        EXPECT_EQ(e.vendor_id(), 4874);
        EXPECT_EQ(e.message(), "OCRP");
    }
    // without the M bit it is ignored (§4.1)
    auto n = make_ocrp({});
    n.add_avp(4874, 1, 0, hex("00"));
    EXPECT_FALSE(check(n));
}

}  // namespace
}  // namespace dl::l2tp
