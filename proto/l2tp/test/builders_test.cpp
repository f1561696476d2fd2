// Builders (§6.1-§6.14): each message carries exactly Message Type + its required + optional AVPs,
// round-trips byte-exact and validates.
#include <gtest/gtest.h>

#include <algorithm>
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

/// A value of the right kind for any AVP of the registry (lengths within its row).
AvpValue sample(const AvpInfo& a) {
    switch (a.kind) {
    case ValueKind::empty: return true;
    case ValueKind::u16:
    case ValueKind::u32:
    case ValueKind::u64:
    case ValueKind::bitmask32: return std::uint64_t{a.type} + 1;  // never 0 (Assigned IDs, §4.4.3)
    case ValueKind::proxy_authen_id: return std::uint64_t{7};
    case ValueKind::string: return std::string(std::max<std::size_t>(a.min_value_len, 3), 'a');
    case ValueKind::octets: return std::vector<std::uint8_t>(std::max<std::size_t>(a.min_value_len, 3), 0x5a);
    case ValueKind::result_code: return ResultCode{1, 2, std::string("x")};
    case ValueKind::protocol_version: return ProtocolVersion{};
    case ValueKind::q931_cause: return Q931Cause{16, 0, "adv"};
    case ValueKind::call_errors: return CallErrors{1, 2, 3, 4, 5, 6};
    case ValueKind::accm: return Accm{1, 2};
    }
    return false;
}

// Reads nothing but the registry: a message or an AVP added as a row is covered here.
// req: L2TP.validation, L2TP.outgoing
TEST(Build, EveryRegistryMessageBuildsFromItsRowAndRoundTrips) {
    for (const auto& msg : message_registry()) {
        SCOPED_TRACE(std::string(msg.name));
        const auto type = static_cast<MessageType>(msg.type);
        const ControlHeader h{1, msg.scope == Scope::session ? std::uint16_t{2} : std::uint16_t{0}, 0, 0};
        // required AVPs only, given by keyword
        std::vector<AvpArg> req;
        for (auto t : msg.required) req.push_back({avp_keyword(avp_info(t)->name), sample(*avp_info(t))});
        // every AVP, given by type in reverse order: the builder puts them in the row's order
        std::vector<AvpArg> all;
        for (auto t : msg.optional) all.push_back({static_cast<AvpType>(t), sample(*avp_info(t))});
        for (auto t : msg.required) all.push_back({static_cast<AvpType>(t), sample(*avp_info(t))});
        std::reverse(all.begin(), all.end());
        for (const auto& args : {req, all}) {
            const auto bytes = build(type, h, args).serialize();
            L2TP r(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
            EXPECT_NO_THROW(validate(r));
            ASSERT_EQ(r.avps().size(), 1 + args.size());
            EXPECT_EQ(r.avps()[0].type(), 0);
            EXPECT_EQ(r.message_type(), msg.type);
            std::vector<std::uint16_t> want(msg.required.begin(), msg.required.end());
            if (args.size() > msg.required.size()) want.insert(want.end(), msg.optional.begin(), msg.optional.end());
            for (std::size_t i = 0; i < want.size(); ++i) {
                const auto& avp = r.avps()[i + 1];
                EXPECT_EQ(avp.type(), want[i]);
                EXPECT_EQ(avp.mandatory(), avp_info(want[i])->m == MRule::must_be_1) << avp_name(want[i]);
                EXPECT_FALSE(avp.hidden());
            }
        }
    }
}

// req: L2TP.validation
TEST(Build, RefusalsNameTheMessageAndTheAvp) {
    auto refused = [](MessageType t, std::vector<AvpArg> args) -> BuildError {
        try {
            build(t, {}, args);
        } catch (const BuildError& e) {
            return e;
        }
        ADD_FAILURE() << "no BuildError";
        return BuildError(dl::proto::Protocol::l2tp, "", "", "", "");
    };
    const std::vector<AvpArg> ocrq{{"assigned_session_id", std::uint64_t{1}}, {"call_serial_number", std::uint64_t{1}},
                                   {"minimum_bps", std::uint64_t{0}},        {"maximum_bps", std::uint64_t{0}},
                                   {"bearer_type", std::uint64_t{1}},        {"framing_type", std::uint64_t{1}},
                                   {"Called Number", std::string("5551001")}};
    EXPECT_NO_THROW(build(MessageType::OCRQ, {}, ocrq));

    auto e = refused(MessageType::OCRQ, {ocrq.begin(), ocrq.end() - 1});
    EXPECT_EQ(e.message(), "OCRQ");
    EXPECT_EQ(e.item(), "Called Number");
    EXPECT_EQ(e.reason(), "required AVP is missing");
    EXPECT_EQ(e.source(), "RFC 2661 §6.9");

    auto with = [&](AvpArg extra) {
        auto v = ocrq;
        v.push_back(std::move(extra));
        return v;
    };
    e = refused(MessageType::OCRQ, with({"colled_number", std::string("1")}));
    EXPECT_EQ(e.item(), "colled_number");
    EXPECT_EQ(e.reason(), "not an AVP of the registry");
    e = refused(MessageType::OCRQ, with({"host_name", std::string("lns")}));
    EXPECT_EQ(e.item(), "Host Name");
    EXPECT_EQ(e.reason(), "not an AVP of OCRQ");
    e = refused(MessageType::OCRQ, with({"sub_address", std::uint64_t{12}}));
    EXPECT_EQ(e.item(), "Sub-Address");
    EXPECT_EQ(e.reason(), "expects string, got integer");
    e = refused(MessageType::OCRQ, with({AvpType::CalledNumber, std::string("2")}));
    EXPECT_EQ(e.reason(), "given twice");
    auto big = ocrq;
    big[0].value = std::uint64_t{0x10000};
    e = refused(MessageType::OCRQ, big);
    EXPECT_EQ(e.item(), "Assigned Session ID");
    EXPECT_EQ(e.reason(), "value 65536 exceeds 65535");
    e = refused(MessageType::SCCCN, {{AvpType::ChallengeResponse, std::vector<std::uint8_t>(15)}});
    EXPECT_EQ(e.message(), "SCCCN");
    EXPECT_EQ(e.reason(), "value of 15 octets, expected 16");
    e = refused(static_cast<MessageType>(5), {});
    EXPECT_EQ(e.item(), "Message Type");
    EXPECT_EQ(e.source(), "RFC 2661 §3.2");
    // a BuildError is a ValidationError
    EXPECT_THROW(build(MessageType::OCRQ, {}, {}), dl::proto::ValidationError);
}

// req: L2TP.validation
TEST(Build, KeywordsOfTheRegistryNames) {
    EXPECT_EQ(avp_keyword("Assigned Tunnel ID"), "assigned_tunnel_id");
    EXPECT_EQ(avp_keyword("(Tx) Connect Speed"), "tx_connect_speed");
    EXPECT_EQ(avp_keyword("Q.931 Cause Code"), "q931_cause_code");
    EXPECT_EQ(avp_keyword("Sub-Address"), "sub_address");
    EXPECT_EQ(avp_keyword("ACCM"), "accm");
    std::set<std::string> seen;
    for (const auto& a : avp_registry()) {
        EXPECT_TRUE(seen.insert(avp_keyword(a.name)).second) << a.name;
        EXPECT_EQ(avp_info_by_name(avp_keyword(a.name)), &a);
        EXPECT_EQ(avp_info_by_name(a.name), &a);
    }
    EXPECT_EQ(message_info_by_name("Outgoing-Call-Request"), message_info(MessageType::OCRQ));
    EXPECT_EQ(message_info_by_name("stopccn"), message_info(MessageType::StopCCN));
    EXPECT_EQ(message_info_by_name("nope"), nullptr);
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
