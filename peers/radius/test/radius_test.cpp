// The peers' `radius:` section: accepted forms and errors that name the key and the rule.
#include "dl/peers/radius.hpp"

#include <gtest/gtest.h>

#include "dl/core/config.hpp"
#include "dl/core/errors.hpp"

using namespace dl;

namespace {
peers::RadiusSection parse(std::string_view yaml) { return peers::radius_section_from(core::ConfigNode::parse(yaml)["radius"]); }

std::string error_of(std::string_view yaml) {
    try {
        (void)parse(yaml);
    } catch (const core::ConfigError& e) {
        return e.what();
    }
    return "(accepted)";
}
}  // namespace

// req: PEER.lac-radius, PEER.cpe-radius
TEST(PeerRadiusSection, ServersNasAndSource) {
    const auto s = parse(R"(
radius:
  servers:
    - {address: 192.0.2.10, secret: a, require_message_authenticator: true}
    - {address: 192.0.2.11, port: 1645, secret: b}
  source: 198.51.100.2
  nas_identifier: lac-emu
  retries: 1
)");
    ASSERT_EQ(s.group.authentication.size(), 2u);
    EXPECT_EQ(s.group.authentication[0].endpoint.to_string(), "192.0.2.10:1812") << "default port 1812";
    EXPECT_TRUE(s.group.authentication[0].require_message_authenticator);
    EXPECT_EQ(s.group.authentication[1].endpoint.to_string(), "192.0.2.11:1645");
    EXPECT_EQ(s.group.authentication[1].secret, "b");
    EXPECT_FALSE(s.group.authentication[1].require_message_authenticator);
    EXPECT_TRUE(s.group.accounting.empty());
    EXPECT_EQ(s.source.address, 0xC6336402u);
    EXPECT_EQ(s.source.port, 0) << "ephemeral source port";
    EXPECT_EQ(s.nas.ip.to_string(), "198.51.100.2") << "NAS-IP-Address defaults to the source address";
    EXPECT_EQ(s.nas.identifier, "lac-emu");
    EXPECT_EQ(s.retries, 1u);
    EXPECT_EQ(parse("radius: {servers: [{address: 192.0.2.10, secret: a}], nas_ip: 10.0.0.1}").nas.ip.to_string(),
              "10.0.0.1");
}

// req: PEER.lac-radius, PEER.cpe-radius
TEST(PeerRadiusSection, ErrorsNameTheKeyAndTheRule) {
    EXPECT_NE(error_of("radius: {nas_identifier: x}").find("radius.servers"), std::string::npos);
    EXPECT_NE(error_of("radius: {servers: []}").find("1..8 servers"), std::string::npos);
    EXPECT_NE(error_of("radius: {servers: [{address: 192.0.2.10}]}").find("radius.servers[0].secret"),
              std::string::npos);
    EXPECT_NE(error_of("radius: {servers: [{secret: s}]}").find("radius.servers[0].address"), std::string::npos);
    EXPECT_NE(error_of("radius: {servers: [{address: 192.0.2.300, secret: s}]}").find("radius.servers[0].address"),
              std::string::npos);
    EXPECT_NE(error_of("radius: {servers: [{address: 192.0.2.1, secret: s, port: 0}]}").find("radius.servers[0].port"),
              std::string::npos);
    EXPECT_NE(error_of("radius: {servers: [{address: 192.0.2.1, secret: s, tls: yes}]}").find("tls"), std::string::npos);
    EXPECT_NE(error_of("radius: {servers: [{address: 192.0.2.1, secret: s}], retries: 11}").find("radius.retries"),
              std::string::npos);
    EXPECT_NE(error_of("radius: {servers: [{address: 192.0.2.1, secret: s}], colour: red}").find("colour"),
              std::string::npos);
}
