// The access routes of calls through a fake RoutePort: what a call installs at IPCP up (Framed-Route
// and the peer's host route, JunosE "L2TP Dial-Out" "Route Installation"), longest-match lookup, a
// prefix kept by its first owner, kernel refusals counted with an event, and the routes leaving
// when the call's session enters closing (before the rest of the teardown).
#include "dl/session/routes.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <span>
#include <vector>

#include "dl/core/event.hpp"
#include "dl/session/call.hpp"

using namespace dl::session;
using dl::core::Ipv4Address;
using dl::core::Ipv4Prefix;

namespace {

Ipv4Prefix pfx(const char* s) { return *Ipv4Prefix::parse(s); }
std::uint32_t ip(const char* s) { return Ipv4Address::parse(s)->value; }

struct World {
    dl::core::VirtualTimeLoop loop;
    dl::core::EventBus bus{loop.clock()};
    dl::core::FsmEnv env{&bus, &loop.timers(), nullptr};
    std::vector<std::string> log;  ///< "add vr prefix call" / "remove vr call" / "close call"
    std::string refuse;            ///< a prefix the kernel refuses
    std::uint64_t route_errors = 0;
    AccessRouteTable table{
        &bus, RoutePort{[this](const std::string& vr, std::span<const Ipv4Prefix> ps,
                               std::uint64_t call) -> std::vector<std::optional<std::string>> {
                            std::vector<std::optional<std::string>> out;
                            for (const auto& p : ps) {
                                log.push_back("add " + vr + " " + p.to_string() + " " + std::to_string(call));
                                out.push_back(p.to_string() == refuse ? std::optional<std::string>("File exists")
                                                                      : std::nullopt);
                            }
                            return out;
                        },
                        [this](const std::string& vr, std::uint64_t call) {
                            log.push_back("remove " + vr + " " + std::to_string(call));
                        },
                        &route_errors}};
    CallPorts ports;
    World() {
        ports.close = [this](CallSession& c, const CloseOrder&) { log.push_back("close " + std::to_string(c.id())); };
        ports.routes = &table;
    }
    std::unique_ptr<CallSession> up(std::uint64_t id) {
        auto c = std::make_unique<CallSession>(env, ports, id, CallDirection::incoming, CallState::ppp);
        c->start("ICCN");
        c->network_up("IPCP up");
        return c;
    }
};

// Nobody listens (lnsd without an event log or subscriber): the install builds no event at all
// (its JSON of the prefixes was the costliest part of a call's route install); the routes are the same.
TEST(AccessRoutes, NoEventBuiltWhenNobodyListens) {
    World w;
    auto c = w.up(7);
    const auto published = w.bus.published_count();
    const auto got = c->install_routes("default", {pfx("10.20.0.0/16")}, ip("10.20.0.9"));
    EXPECT_EQ(got, (std::vector<Ipv4Prefix>{pfx("10.20.0.0/16"), pfx("10.20.0.9/32")}));
    EXPECT_EQ(w.table.lookup("default", Ipv4Address{ip("10.20.3.4")}), 7u);
    EXPECT_EQ(w.bus.published_count(), published) << "no event published without a subscriber";
}

TEST(AccessRoutes, InstalledAtIpcpUpAndRemovedOnClosing) {
    World w;
    dl::core::EventRecorder rec(w.bus, {"lnsd.route", ""});
    auto c = w.up(7);
    const auto got = c->install_routes("default", {pfx("10.20.0.0/16"), pfx("10.20.0.0/16")}, ip("10.20.0.9"));
    EXPECT_EQ(got, (std::vector<Ipv4Prefix>{pfx("10.20.0.0/16"), pfx("10.20.0.9/32")})) << "sorted, no duplicates";
    EXPECT_EQ(c->access_routes(), got);
    EXPECT_EQ(w.table.lookup("default", Ipv4Address{ip("10.20.0.9")}), 7u) << "the host route";
    EXPECT_EQ(w.table.lookup("default", Ipv4Address{ip("10.20.3.4")}), 7u);
    EXPECT_FALSE(w.table.lookup("default", Ipv4Address{ip("10.21.0.1")}));
    EXPECT_FALSE(w.table.lookup("other", Ipv4Address{ip("10.20.3.4")})) << "per virtual router";
    ASSERT_EQ(rec.events().size(), 1u);
    EXPECT_EQ(rec.events()[0].event, "access-routes-installed");
    EXPECT_EQ(rec.events()[0].extra["call"], 7);
    EXPECT_EQ(rec.events()[0].extra["prefixes"], (nlohmann::json{"10.20.0.0/16", "10.20.0.9/32"}));
    w.log.clear();
    EXPECT_TRUE(c->clear({"administrative"}));
    EXPECT_EQ(w.log, (std::vector<std::string>{"remove default 7", "close 7"})) << "routes leave before the rest";
    EXPECT_FALSE(w.table.lookup("default", Ipv4Address{ip("10.20.3.4")}));
    EXPECT_TRUE(c->access_routes().empty());
}

TEST(AccessRoutes, FirstOwnerKeepsAPrefix) {
    World w;
    auto a = w.up(1);
    auto b = w.up(2);
    a->install_routes("default", {pfx("10.30.0.0/24")}, 0);
    const auto got = b->install_routes("default", {pfx("10.30.0.0/24"), pfx("10.31.0.0/24")}, 0);
    EXPECT_EQ(got, std::vector<Ipv4Prefix>{pfx("10.31.0.0/24")});
    EXPECT_EQ(w.table.lookup("default", Ipv4Address{ip("10.30.0.1")}), 1u);
    b->clear({"administrative"});
    EXPECT_EQ(w.table.lookup("default", Ipv4Address{ip("10.30.0.1")}), 1u) << "call 2 never owned it";
    a->clear({"administrative"});
    EXPECT_FALSE(w.table.lookup("default", Ipv4Address{ip("10.30.0.1")}));
}

TEST(AccessRoutes, LongestMatchWins) {
    World w;
    auto a = w.up(1);
    auto b = w.up(2);
    a->install_routes("default", {pfx("10.0.0.0/8")}, 0);
    b->install_routes("default", {pfx("10.1.0.0/16")}, 0);
    EXPECT_EQ(w.table.lookup("default", Ipv4Address{ip("10.1.2.3")}), 2u);
    EXPECT_EQ(w.table.lookup("default", Ipv4Address{ip("10.2.2.3")}), 1u);
}

TEST(AccessRoutes, KernelRefusalIsCountedWithAnEventAndTheRouteStays) {
    World w;
    w.refuse = "10.40.0.0/24";
    dl::core::EventRecorder rec(w.bus, {"lnsd.route", ""});
    auto c = w.up(3);
    const auto got = c->install_routes("default", {pfx("10.40.0.0/24")}, 0);
    EXPECT_EQ(got.size(), 1u);
    EXPECT_EQ(w.route_errors, 1u);
    ASSERT_EQ(rec.events().size(), 2u);
    EXPECT_EQ(rec.events()[0].id, "default/10.40.0.0/24");
    EXPECT_EQ(rec.events()[0].event, "kernel-error");
    EXPECT_EQ(rec.events()[0].cause, "File exists");
}

TEST(AccessRoutes, NoRoutesNoRemoval) {
    World w;
    auto c = w.up(4);
    c->clear({"administrative"});
    EXPECT_EQ(w.log, std::vector<std::string>{"close 4"});
}

}  // namespace
