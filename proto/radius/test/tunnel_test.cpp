// RFC 2868 §3 tag grouping of tunnel attributes (decode_tagged_tunnels).
#include "dl/radius/tunnel.hpp"

#include <gtest/gtest.h>

#include "dl/radius/auth.hpp"

using namespace dl::radius;

namespace {
Authenticator request_auth() {
    Authenticator a{};
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<std::uint8_t>(i * 7 + 1);
    return a;
}
}  // namespace

TEST(TaggedTunnels, AttributesSharingATagFormOneTunnelInTagOrder) {
    const auto ra = request_auth();
    Radius p(Code::Access_Accept, 1);
    p.add_integer(AttributeType::Service_Type, 5);
    // Tag 2 first on the wire, tag 1 interleaved: grouped by tag, ascending.
    p.add_integer(AttributeType::Tunnel_Type, kTunnelTypeL2tp, 2);
    p.add_string(AttributeType::Tunnel_Server_Endpoint, "10.0.0.3", 2);
    p.add_integer(AttributeType::Tunnel_Type, kTunnelTypeL2tp, 1);
    p.add_integer(AttributeType::Tunnel_Medium_Type, kTunnelMediumIpv4, 1);
    p.add_string(AttributeType::Tunnel_Server_Endpoint, "10.0.0.2", 1);
    p.add(tunnel_password_attribute(1, "pw-one", "s3cret", ra, 0x8001));
    p.add_integer(AttributeType::Tunnel_Preference, 10, 1);
    p.add_string(AttributeType::Tunnel_Assignment_Id, "a", 1);
    p.add_string(AttributeType::Tunnel_Client_Endpoint, "10.0.0.1", 1);
    p.add_string(AttributeType::Tunnel_Client_Auth_Id, "lns", 1);
    p.add_string(AttributeType::Tunnel_Server_Auth_Id, "lac", 1);
    p.add_integer(AttributeType::Tunnel_Medium_Type, kTunnelMediumIpv4, 2);
    const auto g = decode_tagged_tunnels(p, "s3cret", ra);
    EXPECT_TRUE(g.problems.empty());
    ASSERT_EQ(g.tunnels.size(), 2u);
    const auto& a = g.tunnels[0];
    EXPECT_EQ(a.tag, 1);
    EXPECT_EQ(a.type, kTunnelTypeL2tp);
    EXPECT_EQ(a.medium, kTunnelMediumIpv4);
    EXPECT_EQ(a.server_endpoint, "10.0.0.2");
    EXPECT_EQ(a.client_endpoint, "10.0.0.1");
    EXPECT_EQ(a.password, "pw-one");
    EXPECT_EQ(a.preference, 10u);
    EXPECT_EQ(a.assignment_id, "a");
    EXPECT_EQ(a.client_auth_id, "lns");
    EXPECT_EQ(a.server_auth_id, "lac");
    EXPECT_FALSE(a.password_undecryptable);
    const auto& b = g.tunnels[1];
    EXPECT_EQ(b.tag, 2);
    EXPECT_EQ(b.server_endpoint, "10.0.0.3");
    EXPECT_EQ(b.medium, kTunnelMediumIpv4);
    EXPECT_FALSE(b.password);
    EXPECT_FALSE(b.preference);
}

TEST(TaggedTunnels, BadTagAndUndecryptablePasswordAreProblemsNotExceptions) {
    const auto ra = request_auth();
    Radius p(Code::Access_Accept, 1);
    // A Tunnel-Type whose tag (its high octet, RFC 2868 §3.1) is 0x28: out of range 0x01..0x1F.
    const std::uint8_t bad_tag[] = {0x28, 0, 0, 3};
    p.add(Attribute(static_cast<std::uint8_t>(AttributeType::Tunnel_Type), bad_tag));
    // A Tunnel-Password too short to hold Salt + one block (§3.5).
    const std::uint8_t short_pw[] = {3, 0x80, 0x01, 0x00};
    p.add(Attribute(static_cast<std::uint8_t>(AttributeType::Tunnel_Password), short_pw));
    p.add_integer(AttributeType::Tunnel_Type, kTunnelTypeL2tp, 3);
    const auto g = decode_tagged_tunnels(p, "s3cret", ra);
    ASSERT_EQ(g.problems.size(), 2u) << ::testing::PrintToString(g.problems);
    EXPECT_EQ(g.problems[0], "Tunnel-Type: tag 40 out of range 0..31");
    EXPECT_EQ(g.problems[1].rfind("tag 3: Tunnel-Password cannot be decrypted: ", 0), 0u) << g.problems[1];
    ASSERT_EQ(g.tunnels.size(), 1u);
    EXPECT_EQ(g.tunnels[0].tag, 3);
    EXPECT_TRUE(g.tunnels[0].password_undecryptable);
    EXPECT_EQ(g.tunnels[0].type, kTunnelTypeL2tp);
}
