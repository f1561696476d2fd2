#include "dl/radius/attribute.hpp"
#include "dl/radius/radius.hpp"
#include "dl/testing/bytes.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

using namespace dl::radius;
using dl::testing::hex;
using dl::testing::to_hex;

namespace {
std::vector<std::uint8_t> attrs_of(const Radius& p) {
    auto w = const_cast<Radius&>(p).serialize();
    return {w.begin() + 20, w.end()};
}
}  // namespace

// FreeRADIUS encode.txt vector: Tag 1 Tunnel-Type=L2TP, Tunnel-Medium-Type=IPv4,
// Tunnel-Preference=100 (RFC 2868 §3.1, §3.2, §3.8).
// req: RADIUS.tunnel
TEST(Attribute, TaggedTunnelAttributesGoldenBytes) {
    Radius p(Code::Access_Accept, 1);
    p.add_integer(AttributeType::Tunnel_Type, kTunnelTypeL2tp, 1);
    p.add_integer(AttributeType::Tunnel_Medium_Type, kTunnelMediumIpv4, 1);
    p.add_integer(AttributeType::Tunnel_Preference, 100, 1);
    EXPECT_EQ(to_hex(attrs_of(p), " "), "40 06 01 00 00 03 41 06 01 00 00 01 53 06 01 00 00 64");
    EXPECT_EQ(p.get_integer(AttributeType::Tunnel_Type, 1), 3u);
    EXPECT_EQ(p.get_integer(AttributeType::Tunnel_Preference), 100u);
    EXPECT_FALSE(p.get_integer(AttributeType::Tunnel_Type, 2).has_value());
    EXPECT_EQ(p.find(AttributeType::Tunnel_Medium_Type)->tag(builtin_format(0, 65)), 1);
}

// FreeRADIUS tag.txt vector: ERX (4874) attribute 65 (ERX-Service-Activate, has_tag) "UNPOLICED".
// req: RADIUS.erx
TEST(Attribute, ErxVsaFramingGoldenBytes) {
    Radius p(Code::Access_Accept, 1);
    const AttributeFormat f = builtin_format(kVendorErx, 65);
    ASSERT_TRUE(f.has_tag);
    p.add(Attribute::vendor_string(kVendorErx, 65, "UNPOLICED", 1, true));
    const auto want = hex("1a 12 00 00 13 0a 41 0c 01 55 4e 50 4f 4c 49 43 45 44");
    EXPECT_EQ(to_hex(attrs_of(p), " "), to_hex(want, " "));
    auto w = p.serialize();
    Radius q(w.data(), static_cast<std::uint32_t>(w.size()));
    ASSERT_EQ(q.attributes().size(), 1u);
    const Attribute& a = q.attributes()[0];
    EXPECT_EQ(a.vendor(), kVendorErx);
    EXPECT_EQ(a.vendor_type(), 65);
    EXPECT_EQ(a.tag(f), 1);
    EXPECT_EQ(a.as_string(f), "UNPOLICED");
}

// req: RADIUS.tunnel
TEST(Attribute, TaggedStringTagRules) {
    const AttributeFormat f = builtin_format(0, 67);  // Tunnel-Server-Endpoint
    // RFC 2868 §3.4: untagged value beginning with an octet > 0x1F has no tag octet.
    auto a = Attribute::string(67, "198.51.100.2", 0, true);
    EXPECT_EQ(a.value().size(), 12u);
    EXPECT_EQ(a.tag(f), 0);
    EXPECT_EQ(a.as_string(f), "198.51.100.2");
    // A value whose first octet is <= 0x1F gets a 0 tag octet so it is not read as a tag.
    auto b = Attribute::string(67, std::string("\x05x", 2), 0, true);
    EXPECT_EQ(to_hex({b.value().begin(), b.value().end()}, " "), "00 05 78");
    EXPECT_EQ(b.as_string(f), std::string("\x05x", 2));
    auto c = Attribute::string(67, "lac", 3, true);
    EXPECT_EQ(c.tag(f), 3);
    EXPECT_EQ(c.as_string(f), "lac");
    EXPECT_THROW(Attribute::string(67, "x", 0x20, true), std::out_of_range);
}

TEST(Attribute, IntegerAndLimits) {
    auto a = Attribute::integer(6, 5);
    EXPECT_EQ(to_hex({a.value().begin(), a.value().end()}, " "), "00 00 00 05");
    EXPECT_EQ(a.as_integer(), 5u);
    EXPECT_THROW(Attribute::integer(64, 0x1000000, 1, true), std::out_of_range);
    std::vector<std::uint8_t> big(254, 'a');
    EXPECT_THROW(Attribute(1, big), std::length_error);
    std::vector<std::uint8_t> vbig(248, 'a');
    EXPECT_THROW(Attribute(kVendorErx, 35, vbig), std::length_error);
    EXPECT_NO_THROW(Attribute(kVendorErx, 35, std::span(vbig.data(), 247)));
    EXPECT_THROW(Attribute(0u, 35, std::span(vbig.data(), 1)), std::invalid_argument);
    Attribute three(6, hex("00 00 05"));
    EXPECT_FALSE(three.as_integer().has_value());
    EXPECT_FALSE(three.as_ipaddr().has_value());
}

TEST(Attribute, BuiltinRegistry) {
    const AttributeSpec* s = builtin_attribute("tunnel-password");
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->number, 69);
    EXPECT_TRUE(s->format.has_tag);
    EXPECT_EQ(s->format.encrypt, 2);
    EXPECT_EQ(builtin_attribute(kVendorErx, 41)->name, "ERX-Bearer-Type");
    EXPECT_EQ(builtin_attribute(0, 250), nullptr);
    for (const auto& spec : builtin_attributes()) EXPECT_FALSE(spec.source.empty()) << spec.name;
    // The indexed look-up answers what a walk of the table answers (its first entry per number).
    for (const auto& spec : builtin_attributes()) {
        const AttributeSpec* first = nullptr;
        for (const auto& t : builtin_attributes())
            if (t.vendor == spec.vendor && t.number == spec.number) {
                first = &t;
                break;
            }
        EXPECT_EQ(builtin_attribute(spec.vendor, spec.number), first) << spec.name;
    }
    EXPECT_EQ(builtin_attribute(kVendorErx, 250), nullptr);
    EXPECT_EQ(builtin_attribute(12345, 1), nullptr);
    EXPECT_EQ(to_string(ValueType::combo_ip), "combo-ip");
}
