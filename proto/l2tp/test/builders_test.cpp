// Builders (§6.1-§6.14): each message carries exactly Message Type + its required + optional AVPs,
// round-trips byte-exact and validates.
#include <gtest/gtest.h>

#include <set>

#include "dl/l2tp/builders.hpp"
#include "dl/l2tp/registry.hpp"
#include "dl/l2tp/validate.hpp"
#include "dl/testing/bytes.hpp"
#include "full_messages.hpp"

namespace dl::l2tp {
namespace {

using dl::testing::hex;

// req: L2TP.validation, L2TP.outgoing
TEST(Builders, EveryMessageTypeWithAllItsAvpsRoundTrips) {
    const auto msgs = test::all_messages_full();
    ASSERT_EQ(msgs.size(), 14u);
    std::set<std::uint16_t> types;
    for (auto m : msgs) {
        const auto type = m.message_type();
        ASSERT_TRUE(type);
        types.insert(*type);
        const MessageInfo* info = message_info(*type);
        ASSERT_NE(info, nullptr);
        SCOPED_TRACE(std::string(info->name));
        std::set<std::uint16_t> want{0};
        want.insert(info->required.begin(), info->required.end());
        want.insert(info->optional.begin(), info->optional.end());
        std::set<std::uint16_t> got;
        for (const auto& a : m.avps()) got.insert(a.type());
        EXPECT_EQ(got, want);
        EXPECT_NO_THROW(validate(m));
        const auto bytes = m.serialize();
        L2TP r(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
        EXPECT_EQ(r.serialize(), bytes);
        EXPECT_EQ(r.avps().size(), m.avps().size());
        for (std::size_t i = 0; i < r.avps().size(); ++i) {
            EXPECT_EQ(r.avps()[i].flags(), m.avps()[i].flags());
            EXPECT_TRUE(std::equal(r.avps()[i].value().begin(), r.avps()[i].value().end(),
                                   m.avps()[i].value().begin(), m.avps()[i].value().end()));
        }
        EXPECT_NO_THROW(validate(r));
        EXPECT_EQ(r.length_field(), bytes.size());
    }
    EXPECT_EQ(types.size(), 14u);
}

// req: L2TP.validation, L2TP.outgoing
TEST(Builders, OcrqFields) {
    OcrqParams p;
    p.header = {9, 0, 1, 2};
    p.called_number = "4930123";
    p.min_bps = 64000;
    p.max_bps = 128000;
    p.bearer_type = kBearerDigital;
    p.framing_type = kFramingSync;
    p.assigned_session_id = 5;
    p.call_serial_number = 77;
    const auto b = make_ocrq(p).serialize();
    L2TP r(b.data(), static_cast<std::uint32_t>(b.size()));
    EXPECT_EQ(r.message_type(), 7);
    EXPECT_EQ(r.tunnel_id(), 9);
    EXPECT_EQ(r.ns(), 1);
    EXPECT_EQ(r.nr(), 2);
    EXPECT_EQ(r.called_number(), "4930123");
    EXPECT_EQ(r.sub_address(), std::nullopt);
    EXPECT_EQ(r.minimum_bps(), 64000u);
    EXPECT_EQ(r.maximum_bps(), 128000u);
    EXPECT_EQ(r.bearer_type(), kBearerDigital);
    EXPECT_EQ(r.framing_type(), kFramingSync);
    EXPECT_EQ(r.assigned_session_id(), 5);
    EXPECT_EQ(r.call_serial_number(), 77u);
}

// req: L2TP.validation, L2TP.outgoing
TEST(Builders, StopccnAndCdnResultCodes) {
    auto s = make_stopccn({{1, 0, 0, 0}, 7, StopCcnResult::NotAuthorized, std::nullopt, std::nullopt});
    EXPECT_EQ(s.result_code(), (ResultCode{4, std::nullopt, std::nullopt}));
    auto c = make_cdn({{1, 2, 0, 0}, CdnResult::NoCarrier, GeneralError::TryAnother, std::nullopt, 3, std::nullopt});
    EXPECT_EQ(c.result_code(), (ResultCode{7, 7, std::nullopt}));
    EXPECT_EQ(c.q931_cause_code(), std::nullopt);
}

// req: L2TP.validation, L2TP.outgoing
TEST(Builders, HelloForcesSessionZeroAndZlbGolden) {
    EXPECT_EQ(make_hello({1, 9, 0, 0}).session_id(), 0);
    EXPECT_EQ(make_hello({1, 9, 0, 0}).serialize(), hex("c8 02 00 14 00 01 00 00 00 00 00 00 80 08 0000 0000 0006"));
    EXPECT_EQ(make_zlb(1, 2, 3, 4).serialize(), hex("c8 02 00 0c 00 01 00 02 00 03 00 04"));
}

// req: L2TP.validation, L2TP.outgoing
TEST(Builders, SccrqGoldenBytes) {
    SccrqParams p;
    p.assigned_tunnel_id = 1;
    p.host_name = "lns";
    p.framing_capabilities = kFramingSync;
    const auto want = hex(
        "c8 02 00 37 0000 0000 0000 0000"   // header, Length 12+8+8+9+10+8 = 55
        "80 08 0000 0000 0001"              // Message Type SCCRQ
        "80 08 0000 0002 0100"              // Protocol Version 1.0
        "80 09 0000 0007 6c6e73"            // Host Name "lns"
        "80 0a 0000 0003 00000001"          // Framing Capabilities S
        "80 08 0000 0009 0001");            // Assigned Tunnel ID 1
    EXPECT_EQ(make_sccrq(p).serialize(), want);
}

// req: L2TP.validation, L2TP.outgoing
TEST(Builders, DataMessageVariants) {
    const auto ppp = hex("ff 03 c0 21 09 01 00 04");
    EXPECT_EQ(make_data(1, 2, ppp, std::nullopt, std::nullopt).serialize(), hex("00 02 0001 0002 ff03c021 09010004"));
    EXPECT_EQ(make_data(1, 2, ppp, std::uint16_t{3}, std::nullopt).serialize(),
              hex("08 02 0001 0002 0003 0000 ff03c021 09010004"));
}

}  // namespace
}  // namespace dl::l2tp
