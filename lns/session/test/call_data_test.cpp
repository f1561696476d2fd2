// The call's own data, through fake ports: PPP frames that come before the link (bounded, counted,
// given to the link in arrival order, the owner's unclaimed ones first), the pool address (taken
// when PPP starts, given back exactly once), the IPv4 counters and L2TP facts in the call's
// accounting records and PPP Access-Requests; and the owner's AddressPools allocator.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dl/core/event.hpp"
#include "dl/session/call.hpp"

using namespace dl::session;
namespace pe = dl::ppp::engine;
namespace rc = dl::radius::client;

namespace {

/// LCP Configure-Request with Identifier `id`, no options (RFC 1661 §5.1), with FF 03.
std::vector<std::uint8_t> conf_req(std::uint8_t id) { return {0xFF, 0x03, 0xC0, 0x21, 0x01, id, 0x00, 0x04}; }

struct World {
    dl::core::VirtualTimeLoop loop;
    dl::core::EventBus bus{loop.clock()};
    dl::core::FsmEnv env{&bus, &loop.timers(), nullptr};
    std::vector<std::pair<std::uint16_t, std::vector<std::uint8_t>>> sent;  ///< the link's output
    FrameCounters frames;
    std::vector<std::string> log;  ///< pool and teardown port calls, in order
    std::uint32_t next_address = 0x0A000002;
    CallPorts ports;
    World() {
        ports.frames = &frames;
        ports.close = [this](CallSession&, const CloseOrder&) { log.push_back("close"); };
        ports.closed = [this](CallSession&, const CloseOrder&) { log.push_back("closed"); };
        ports.pool.allocate = [this](std::uint64_t call, const std::string& profile) {
            log.push_back("allocate " + std::to_string(call) + " " + profile);
            return next_address;
        };
        ports.pool.release = [this](std::uint64_t call, std::uint32_t a) {
            log.push_back("release " + std::to_string(call) + " " + dl::core::Ipv4Address{a}.to_string());
        };
    }
    std::unique_ptr<CallSession> call(std::uint64_t id = 7) {
        auto c = std::make_unique<CallSession>(env, ports, id, CallDirection::incoming, CallState::ppp, "default", "isdn");
        c->start("ICCN 1/2");
        return c;
    }
    pe::LinkCallbacks callbacks() {
        pe::LinkCallbacks cb;
        cb.send = [this](std::uint16_t p, std::vector<std::uint8_t> i) { sent.emplace_back(p, std::move(i)); };
        cb.random = [] { return 0x01020304u; };
        return cb;
    }
    /// PPP started from a plain snapshot; `pool`: the profile has an address pool.
    pe::Link* start(CallSession& c, bool pool = false) {
        LinkSnapshot s;
        if (pool) {
            LinkSnapshot::Addressing a;  // not emplace(): clang finds a nested struct with member
            a.pool = true;                // initialisers not default-constructible inside its class
            s.addressing = a;
        }
        return c.start_ppp(std::move(s), callbacks(), "1/2");
    }
    /// Identifiers of the LCP Configure-Acks the link sent, in order.
    std::vector<int> acked() const {
        std::vector<int> ids;
        for (const auto& [p, i] : sent)
            if (p == 0xC021 && i.at(0) == 0x02) ids.push_back(i.at(1));
        return ids;
    }
};

TEST(CallData, EarlyFramesHeldUpToTheBoundAndCounted) {
    World w;
    w.ports.early_frames_max = 3;
    auto c = w.call();
    for (std::uint8_t id = 1; id <= 5; ++id) c->l2tp_frame(conf_req(id));
    EXPECT_EQ(c->early_frames(), 3u);
    EXPECT_EQ(w.frames.frames_early, 3u);
    EXPECT_EQ(w.frames.frames_dropped, 2u) << "the 4th and 5th did not fit";
    EXPECT_TRUE(w.sent.empty()) << "no link yet";
}

TEST(CallData, EarlyFramesDefaultBoundIsEight) {
    World w;
    auto c = w.call();
    for (int i = 0; i < 20; ++i) c->l2tp_frame(conf_req(static_cast<std::uint8_t>(i)));
    EXPECT_EQ(c->early_frames(), kEarlyFramesMax);
    EXPECT_EQ(kEarlyFramesMax, 8u);
    EXPECT_EQ(w.frames.frames_dropped, 12u);
}

TEST(CallData, EarlyFramesReplayedInArrivalOrderWhenTheLinkOpens) {
    World w;
    auto c = w.call();
    EarlyFrames unclaimed;  // the owner's, from before it knew the L2TP session was this call's
    unclaimed.hold(conf_req(1), kEarlyFramesMax, &w.frames);
    unclaimed.hold(conf_req(2), kEarlyFramesMax, &w.frames);
    c->adopt_early_frames(std::move(unclaimed));
    c->l2tp_frame(conf_req(3));
    c->l2tp_frame(conf_req(4));
    EXPECT_EQ(w.frames.frames_early, 4u) << "the adopted frames are not counted twice";
    ASSERT_NE(w.start(*c), nullptr);
    EXPECT_EQ(w.acked(), (std::vector<int>{1, 2, 3, 4})) << "each Configure-Request acked, in arrival order";
    EXPECT_EQ(c->early_frames(), 0u);
    c->l2tp_frame(conf_req(5));  // the link is open: straight to it, not held
    EXPECT_EQ(w.acked().back(), 5);
    EXPECT_EQ(w.frames.frames_early, 4u);
}

TEST(CallData, PoolAddressTakenWhenPppStartsAndGivenBackOnceOnClose) {
    World w;
    auto c = w.call();
    EXPECT_EQ(c->pool_address(), 0u);
    w.start(*c, true);
    EXPECT_EQ(c->pool_address(), 0x0A000002u);
    EXPECT_TRUE(c->clear({"administrative"}));
    EXPECT_EQ(w.log, (std::vector<std::string>{"allocate 7 isdn", "close", "release 7 10.0.0.2", "closed"}))
        << "given back after the L2TP side and the link are down, before closed";
    EXPECT_EQ(c->pool_address(), 0u);
    EXPECT_FALSE(c->clear({"again"}));
    c.reset();
    EXPECT_EQ(std::count(w.log.begin(), w.log.end(), "release 7 10.0.0.2"), 1) << "exactly once";
}

TEST(CallData, PoolAddressGivenBackWhenDestroyedWithoutClosing) {
    World w;
    auto c = w.call();
    w.start(*c, true);
    c.reset();
    EXPECT_EQ(w.log, (std::vector<std::string>{"allocate 7 isdn", "release 7 10.0.0.2"}));
}

TEST(CallData, NoPoolNoAllocationAndNothingToGiveBack) {
    for (const bool exhausted : {false, true}) {
        World w;
        if (exhausted) w.next_address = 0;
        auto c = w.call();
        w.start(*c, exhausted);  // without a pool, or a pool with no free address
        c->clear({"administrative"});
        c.reset();
        for (const auto& l : w.log) EXPECT_EQ(l.rfind("release", 0), std::string::npos) << l;
        EXPECT_EQ(std::count(w.log.begin(), w.log.end(), "allocate 7 isdn"), exhausted ? 1 : 0);
    }
}

TEST(CallData, AccountingRecordsCarryTheCallsCountersAndTunnel) {
    World w;
    std::vector<rc::AccountingRecord> sent;
    CallSession* self = nullptr;
    w.ports.accounting.enabled = [](std::uint64_t) { return true; };
    w.ports.accounting.submit = [&](std::uint64_t, const rc::AccountingRecord& r, std::function<void(rc::Result)>) {
        sent.push_back(r);
        return rc::RequestHandle{static_cast<std::uint32_t>(sent.size()), 1};
    };
    w.ports.accounting.describe = [&](std::uint64_t, rc::AccountingRecord& r) { self->describe(r); };
    auto c = w.call();
    self = c.get();
    c->l2tp().session = dl::l2tp::engine::SessionKey{4, 9};
    c->l2tp().lac = "198.51.100.2";
    c->accounting().start(dl::core::Duration::zero());
    c->count_ipv4_in(100);
    c->count_ipv4_in(60);
    c->count_ipv4_out(1500);
    EXPECT_EQ(c->ipv4().packets_in, 2u);
    EXPECT_EQ(c->ipv4().octets_out, 1500u);
    c->clear({"administrative"});
    ASSERT_EQ(sent.size(), 2u);
    const auto& stop = sent[1];
    EXPECT_EQ(stop.status, rc::AcctStatus::Stop);
    EXPECT_EQ(stop.input_packets, 2u);
    EXPECT_EQ(stop.input_octets, 160u);
    EXPECT_EQ(stop.output_packets, 1u);
    EXPECT_EQ(stop.output_octets, 1500u);
    EXPECT_EQ(stop.tunnel_connection, "4/9");
    ASSERT_TRUE(stop.tunnel);
    EXPECT_EQ(stop.tunnel->client_endpoint, "198.51.100.2");
    EXPECT_EQ(sent[0].input_packets, 0u) << "the Start before any IPv4";
}

TEST(CallData, AccessRequestCarriesTheIncomingCallsFacts) {
    for (const bool with_l2tp : {true, false}) {
        World w;
        std::vector<rc::PppAuthRequest> requests;
        w.ports.auth.submit = [&](std::uint64_t, rc::PppAuthRequest r, std::function<void(const rc::Completion&)>) {
            requests.push_back(std::move(r));
            return rc::RequestHandle{0, 1};
        };
        auto c = w.call();
        if (with_l2tp) {
            auto& l2 = c->l2tp();
            l2.session = dl::l2tp::engine::SessionKey{4, 9};
            l2.lac = "198.51.100.2";
            l2.lac_host = "lac-1";
            l2.calling = "0301234";
            l2.called = "0409876";
            l2.connect_info = "64000/64000";
        }
        pe::Credentials cr;
        cr.user = "cpe";
        cr.method = pe::AuthMethod::pap;
        cr.password.assign({'p', 'w'});
        c->verify(1, cr);
        ASSERT_EQ(requests.size(), 1u);
        const auto& r = requests[0];
        if (!with_l2tp) {
            EXPECT_FALSE(r.tunnel);
            EXPECT_TRUE(r.nas_port_id.empty());
            continue;
        }
        EXPECT_EQ(r.calling_station_id, "0301234");
        EXPECT_EQ(r.called_station_id, "0409876");
        EXPECT_EQ(r.connect_info, "64000/64000");
        EXPECT_EQ(r.nas_port_id, "l2tp 4/9");
        ASSERT_TRUE(r.tunnel);
        EXPECT_EQ(r.tunnel->client_endpoint, "198.51.100.2");
        EXPECT_EQ(r.tunnel->client_auth_id, "lac-1");
        EXPECT_EQ(c->l2tp_label(), "4/9");
    }
}

TEST(CallData, Ipv4ReadyNeedsTheL2tpSessionTheLinkAndNetworkUp) {
    World w;
    auto c = w.call();
    EXPECT_FALSE(c->ipv4_ready());
    w.start(*c);
    c->network_up("IPCP up");
    EXPECT_FALSE(c->ipv4_ready()) << "no L2TP session to send on";
    c->l2tp().session = dl::l2tp::engine::SessionKey{4, 9};
    EXPECT_TRUE(c->ipv4_ready());
    c->clear({"administrative"});
    EXPECT_FALSE(c->ipv4_ready());
}

// ---- AddressPools: the owner's allocator behind PoolPort ----

TEST(AddressPools, RoundRobinSkippingNetworkBroadcastAndOurAddress) {
    AddressPools p;
    const auto pool = *dl::core::Ipv4Prefix::parse("10.0.0.0/29");  // hosts .1-.6
    const std::uint32_t base = pool.network().address.value;
    const std::uint32_t local = base + 1;
    std::vector<std::uint32_t> got;
    for (int i = 0; i < 5; ++i) got.push_back(p.allocate("isdn", pool, local) - base);
    EXPECT_EQ(got, (std::vector<std::uint32_t>{2, 3, 4, 5, 6}));
    EXPECT_EQ(p.allocate("isdn", pool, local), 0u) << "exhausted: .0, .7 and ours never handed out";
    EXPECT_TRUE(p.release(base + 4));
    EXPECT_FALSE(p.release(base + 4)) << "already free";
    EXPECT_EQ(p.allocate("isdn", pool, local), base + 4);
    EXPECT_EQ(p.in_use(), 5u);
}

TEST(AddressPools, NextAddressAfterTheLastNotTheFirstFree) {
    AddressPools p;
    const auto pool = *dl::core::Ipv4Prefix::parse("10.0.0.0/24");
    const std::uint32_t base = pool.network().address.value;
    const auto a = p.allocate("isdn", pool, 0);
    const auto b = p.allocate("isdn", pool, 0);
    p.release(a);
    EXPECT_EQ(a, base + 1);
    EXPECT_EQ(p.allocate("isdn", pool, 0), b + 1) << "round robin: a just freed address is not reused at once";
}

TEST(AddressPools, OverlappingPoolsOfTwoProfilesNeverShareAnAddress) {
    AddressPools p;
    const auto pool = *dl::core::Ipv4Prefix::parse("10.0.0.0/30");  // one host besides ours: .1, .2
    const std::uint32_t base = pool.network().address.value;
    EXPECT_EQ(p.allocate("a", pool, 0), base + 1);
    EXPECT_EQ(p.allocate("b", pool, 0), base + 2);
    EXPECT_EQ(p.allocate("b", pool, 0), 0u);
}

}  // namespace
