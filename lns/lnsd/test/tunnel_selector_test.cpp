#include "dl/lnsd/tunnel_selector.hpp"

#include <gtest/gtest.h>

#include "dl/lnsd/config.hpp"

using namespace dl;
using namespace std::chrono_literals;
using TunnelDefinition = lnsd::TunnelEndpoint;

namespace {
TunnelDefinition def(std::uint8_t tag, std::string ep, std::optional<std::uint32_t> pref,
                     std::optional<std::string> assignment = std::nullopt) {
    TunnelDefinition t;
    t.tag = tag;
    t.server_endpoint = std::move(ep);
    t.preference = pref;
    t.assignment_id = std::move(assignment);
    return t;
}
std::vector<std::string> eps(const std::vector<TunnelDefinition>& d, const std::vector<std::size_t>& o) {
    std::vector<std::string> out;
    for (auto i : o) out.push_back(d[i].server_endpoint);
    return out;
}
using V = std::vector<std::string>;
}  // namespace

// req: L2TP.tunnel-selection
TEST(TunnelSelector, PreferenceOrderThenRoundRobinAmongEquals) {
    core::VirtualClock clock;
    lnsd::TunnelSelector sel(clock, lnsd::SelectionMode::round_robin, 60s);
    std::vector<TunnelDefinition> d = {def(1, "10.0.0.3", 20), def(2, "10.0.0.1", 10), def(3, "10.0.0.2", 10)};
    lnsd::TunnelSelector::View none;
    EXPECT_EQ(eps(d, sel.order(d, none)), (V{"10.0.0.1", "10.0.0.2", "10.0.0.3"}));
    EXPECT_EQ(eps(d, sel.order(d, none)), (V{"10.0.0.2", "10.0.0.1", "10.0.0.3"}));
    EXPECT_EQ(eps(d, sel.order(d, none)), (V{"10.0.0.1", "10.0.0.2", "10.0.0.3"}));
}

// req: L2TP.tunnel-selection
TEST(TunnelSelector, AbsentPreferenceIsMostPreferredAndTagBreaksTies) {
    core::VirtualClock clock;
    lnsd::TunnelSelector sel(clock, lnsd::SelectionMode::round_robin, 60s);
    std::vector<TunnelDefinition> d = {def(2, "10.0.0.2", 5), def(1, "10.0.0.1", std::nullopt)};
    EXPECT_EQ(eps(d, sel.order(d, {})), (V{"10.0.0.1", "10.0.0.2"}));
}

// req: SEL.round-robin, T75.tunnel-preference
// req: L2TP.tunnel-selection
TEST(TunnelSelector, OpenTunnelOverridesNeitherPreferenceNorRoundRobin) {
    core::VirtualClock clock;
    lnsd::TunnelSelector sel(clock, lnsd::SelectionMode::round_robin, 60s);
    std::vector<TunnelDefinition> d = {def(1, "10.0.0.1", 1, "a"), def(2, "10.0.0.2", 9, "b"),
                                       def(3, "10.0.0.3", 9, "c")};
    lnsd::TunnelSelector::View v;
    v.open_tunnel = [](const std::string& ep, const std::string& a) { return ep == "10.0.0.3" && a == "c"; };
    // The preferred endpoint first although only the less preferred one has an open tunnel (RFC 2868 §3.8).
    EXPECT_EQ(eps(d, sel.order(d, v)), (V{"10.0.0.1", "10.0.0.2", "10.0.0.3"}));
    // Equal preferences keep rotating across calls whether a tunnel is open or not.
    EXPECT_EQ(eps(d, sel.order(d, v)), (V{"10.0.0.1", "10.0.0.3", "10.0.0.2"}));
    EXPECT_EQ(eps(d, sel.order(d, v)), (V{"10.0.0.1", "10.0.0.2", "10.0.0.3"}));
}

// req: L2TP.tunnel-selection
TEST(TunnelSelector, WeightedBreaksEqualLoadWithTheOpenTunnel) {
    core::VirtualClock clock;
    lnsd::TunnelSelector sel(clock, lnsd::SelectionMode::weighted, 60s);
    std::vector<TunnelDefinition> d = {def(1, "10.0.0.1", 1), def(2, "10.0.0.2", 1)};
    lnsd::TunnelSelector::View v;
    v.sessions = [](const std::string&) { return std::size_t{2}; };
    v.open_tunnel = [](const std::string& ep, const std::string&) { return ep == "10.0.0.2"; };
    EXPECT_EQ(eps(d, sel.order(d, v)), (V{"10.0.0.2", "10.0.0.1"}));
    v.open_tunnel = nullptr;
    EXPECT_EQ(eps(d, sel.order(d, v)), (V{"10.0.0.1", "10.0.0.2"}));
}

// req: SEL.dead-time
// req: L2TP.tunnel-selection
TEST(TunnelSelector, FailedEndpointSkippedForDeadTimeOnly) {
    core::VirtualClock clock;
    lnsd::TunnelSelector sel(clock, lnsd::SelectionMode::round_robin, 60s);
    std::vector<TunnelDefinition> d = {def(1, "10.0.0.1", 1), def(2, "10.0.0.2", 2)};
    sel.mark_failed("10.0.0.1");
    EXPECT_TRUE(sel.is_dead("10.0.0.1"));
    EXPECT_EQ(eps(d, sel.order(d, {})), (V{"10.0.0.2"}));
    ASSERT_EQ(sel.dead_endpoints().size(), 1u);
    EXPECT_EQ(sel.dead_endpoints().at("10.0.0.1"), 60s);
    clock.advance(59s);
    EXPECT_EQ(eps(d, sel.order(d, {})), (V{"10.0.0.2"}));
    clock.advance(1s);
    EXPECT_FALSE(sel.is_dead("10.0.0.1"));
    EXPECT_EQ(eps(d, sel.order(d, {})), (V{"10.0.0.1", "10.0.0.2"}));
    sel.mark_failed("10.0.0.1");
    sel.mark_failed("10.0.0.2");
    EXPECT_TRUE(sel.order(d, {}).empty());
    sel.mark_ok("10.0.0.2");
    EXPECT_EQ(eps(d, sel.order(d, {})), (V{"10.0.0.2"}));
}

// req: L2TP.tunnel-selection
TEST(TunnelSelector, WeightedPicksFewestSessions) {
    core::VirtualClock clock;
    lnsd::TunnelSelector sel(clock, lnsd::SelectionMode::weighted, 60s);
    std::vector<TunnelDefinition> d = {def(1, "10.0.0.1", 1), def(2, "10.0.0.2", 1), def(3, "10.0.0.3", 2)};
    std::map<std::string, std::size_t> load = {{"10.0.0.1", 5}, {"10.0.0.2", 2}, {"10.0.0.3", 0}};
    lnsd::TunnelSelector::View v;
    v.sessions = [&](const std::string& ep) { return load[ep]; };
    EXPECT_EQ(eps(d, sel.order(d, v)), (V{"10.0.0.2", "10.0.0.1", "10.0.0.3"}));
    load["10.0.0.2"] = 9;
    EXPECT_EQ(eps(d, sel.order(d, v)), (V{"10.0.0.1", "10.0.0.2", "10.0.0.3"}));
}

// req: L2TP.tunnel-selection
TEST(TunnelSelector, DuplicateEndpointListedOnce) {
    core::VirtualClock clock;
    lnsd::TunnelSelector sel(clock, lnsd::SelectionMode::round_robin, 60s);
    std::vector<TunnelDefinition> d = {def(1, "10.0.0.1", 1), def(2, "10.0.0.1", 1)};
    EXPECT_EQ(sel.order(d, {}).size(), 1u);
}
