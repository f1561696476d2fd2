// The call's PPP link owned by its session: opened once, frames in with or without Address and
// Control, taken down on entering closing between CallPorts::close and CallPorts::closed, verify
// answers never given inside the call, and nothing after the session is gone.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "dl/core/event.hpp"
#include "dl/session/call.hpp"

using namespace dl::session;
namespace pe = dl::ppp::engine;

namespace {

struct World {
    dl::core::VirtualTimeLoop loop;
    dl::core::EventBus bus{loop.clock()};
    dl::core::FsmEnv env{&bus, &loop.timers(), nullptr};
    std::vector<std::pair<std::uint16_t, std::vector<std::uint8_t>>> sent;  ///< the link's output
    std::vector<std::string> log;
    CallPorts ports;
    World() {
        ports.close = [this](CallSession& c, const CloseOrder&) {
            log.push_back(std::string("close, lcp ") + std::string(to_string(c.link()->lcp_state())));
        };
        ports.closed = [this](CallSession& c, const CloseOrder&) {
            log.push_back(std::string("closed, lcp ") + std::string(to_string(c.link()->lcp_state())));
        };
    }
    std::unique_ptr<CallSession> call(std::uint64_t id = 7) {
        auto c = std::make_unique<CallSession>(env, ports, id, CallDirection::incoming, CallState::ppp);
        c->start("ICCN 1/2");
        return c;
    }
    pe::Link& open(CallSession& c) {
        pe::LinkCallbacks cb;
        cb.send = [this](std::uint16_t p, std::vector<std::uint8_t> i) { sent.emplace_back(p, std::move(i)); };
        cb.random = [] { return 0x01020304u; };
        auto& l = c.open_link(pe::LinkConfig{}, std::move(cb), "1/2");
        l.open();
        return l;
    }
};

// LCP Configure-Request, Identifier 9, no options (RFC 1661 §5.1).
const std::vector<std::uint8_t> kConfReq{0xC0, 0x21, 0x01, 0x09, 0x00, 0x04};

TEST(CallLink, OpenedOnceAndOwned) {
    World w;
    auto c = w.call();
    EXPECT_EQ(c->link(), nullptr);
    EXPECT_FALSE(c->receive_ppp(kConfReq)) << "no link yet: the owner keeps early frames";
    auto& l = w.open(*c);
    EXPECT_EQ(c->link(), &l);
    EXPECT_THROW(w.open(*c), std::logic_error);
}

TEST(CallLink, FramesWithAndWithoutAddressAndControl) {
    for (const bool with_ff03 : {false, true}) {
        World w;
        auto c = w.call();
        w.open(*c);
        w.sent.clear();  // our own Configure-Request
        std::vector<std::uint8_t> f = kConfReq;
        if (with_ff03) f.insert(f.begin(), {0xFF, 0x03});
        EXPECT_TRUE(c->receive_ppp(f));
        ASSERT_EQ(w.sent.size(), 1u) << "with FF 03: " << with_ff03;
        EXPECT_EQ(w.sent[0].first, 0xC021);
        EXPECT_EQ(w.sent[0].second.at(0), 0x02) << "Configure-Ack, not a Protocol-Reject of 0xFF03";
        EXPECT_EQ(w.sent[0].second.at(1), 0x09);
    }
}

TEST(CallLink, LowerDownBetweenCloseAndClosed) {
    World w;
    auto c = w.call();
    w.open(*c);
    EXPECT_TRUE(c->clear({"administrative"}));
    ASSERT_EQ(w.log.size(), 2u);
    EXPECT_EQ(w.log[0], "close, lcp Req-Sent") << "the L2TP side first";
    EXPECT_EQ(w.log[1], "closed, lcp Initial") << "then the link is down";
}

TEST(CallLink, ClosedWithoutALink) {
    World w;
    w.ports.close = [&](CallSession& c, const CloseOrder&) { w.log.push_back(c.link() ? "link" : "close"); };
    w.ports.closed = [&](CallSession&, const CloseOrder&) { w.log.push_back("closed"); };
    auto c = w.call();
    c->clear({"administrative"});
    EXPECT_EQ(w.log, (std::vector<std::string>{"close", "closed"}));
}

TEST(CallLink, VerifyAnswerGivenOnTheNextTurnNotInsideTheUpcall) {
    World w;
    auto c = w.call();
    pe::LinkCallbacks cb;
    std::vector<std::uint32_t> tickets;
    cb.send = [&](std::uint16_t p, std::vector<std::uint8_t> i) { w.sent.emplace_back(p, std::move(i)); };
    cb.random = [] { return 0x01020304u; };
    cb.verify = [&](std::uint32_t ticket, const pe::Credentials& cr) {
        tickets.push_back(ticket);
        c->answer_verify(ticket, {cr.user == "u"});  // inside the upcall, as a refusal would be
    };
    pe::LinkConfig lc;
    lc.require_auth = pe::AuthPreference::pap;
    c->open_link(lc, std::move(cb), "1/2").open();
    ASSERT_EQ(w.sent.size(), 1u);
    std::vector<std::uint8_t> ack{0xC0, 0x21};
    ack.insert(ack.end(), w.sent[0].second.begin(), w.sent[0].second.end());
    ack[2] = 0x02;  // Configure-Ack of its Configure-Request (Authentication-Protocol PAP)
    c->receive_ppp(ack);
    c->receive_ppp(kConfReq);  // ours, acked: LCP Opened, authentication phase
    w.sent.clear();
    // PAP Authenticate-Request (RFC 1334 §2.2.1): Id 5, Peer-ID "u", Password "p"
    c->receive_ppp(std::vector<std::uint8_t>{0xC0, 0x23, 0x01, 0x05, 0x00, 0x08, 0x01, 'u', 0x01, 'p'});
    ASSERT_EQ(tickets.size(), 1u);
    for (const auto& [p, i] : w.sent) EXPECT_NE(p, 0xC023) << "no PAP answer inside the verify upcall";
    w.loop.run_until_idle(std::chrono::milliseconds(1));
    bool acked = false;
    for (const auto& [p, i] : w.sent) acked |= p == 0xC023 && i.at(0) == 0x02 && i.at(1) == 0x05;
    EXPECT_TRUE(acked) << "Authenticate-Ack on the next turn";
}

TEST(CallLink, VerifyAnswerDiesWithTheCall) {
    World w;
    auto c = w.call();
    w.open(*c);
    c->answer_verify(3, {true});
    c.reset();
    EXPECT_NO_THROW(w.loop.run_until_idle(std::chrono::milliseconds(1)));
}

}  // namespace
