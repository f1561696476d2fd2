// A call's accounting through a fake AccountingPort, in virtual time: the records the session
// sends (Start, Interim-Update, Stop: RFC 2866 §5.1, RFC 2869 §2.1), when, with what, and what
// it does not send (no Stop without a Start, nothing without accounting servers).
#include "dl/session/accounting.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "dl/core/event.hpp"
#include "dl/session/call.hpp"

using namespace dl::session;
using namespace std::chrono_literals;
namespace rc = dl::radius::client;

namespace {

struct World {
    dl::core::VirtualTimeLoop loop;
    dl::core::EventBus bus{loop.clock()};
    dl::core::FsmEnv env{&bus, &loop.timers(), nullptr};
    bool enabled = true;
    bool throw_on_submit = false;
    std::vector<rc::AccountingRecord> sent;
    std::vector<std::function<void(rc::Result)>> pending;  ///< completions, by submit order
    std::vector<std::uint32_t> cancelled;                  ///< slots
    std::vector<std::string> log;                          ///< "acct <status>" / "close" in order
    AccountingCounters counters;
    CallPorts ports;

    World() {
        ports.close = [this](CallSession&, const CloseOrder&) { log.push_back("close"); };
        auto& a = ports.accounting;
        a.instance = "0123456789abcdef";
        a.counters = &counters;
        a.enabled = [this](std::uint64_t) { return enabled; };
        a.submit = [this](std::uint64_t, const rc::AccountingRecord& r, std::function<void(rc::Result)> done) {
            if (throw_on_submit) throw std::invalid_argument("unencodable");
            sent.push_back(r);
            pending.push_back(std::move(done));
            log.push_back("acct " + std::to_string(static_cast<unsigned>(r.status)));
            return rc::RequestHandle{static_cast<std::uint32_t>(sent.size()), 1};
        };
        a.cancel = [this](rc::RequestHandle h) {
            cancelled.push_back(h.slot);
            if (auto& d = pending.at(h.slot - 1)) {
                auto f = std::move(d);
                d = nullptr;
                f(rc::Result::cancelled);
                return true;
            }
            return false;
        };
        a.describe = [](std::uint64_t call, rc::AccountingRecord& r) {
            r.user_name = "cpe-" + std::to_string(call);
            r.input_packets = 3;
            r.output_packets = 4;
            r.input_octets = 300;
            r.output_octets = 400;
            r.tunnel_connection = "1/2";
        };
    }
    /// An incoming call at IPCP up.
    std::unique_ptr<CallSession> up(std::uint64_t id = 7) {
        auto c = std::make_unique<CallSession>(env, ports, id, CallDirection::incoming, CallState::ppp);
        c->start("ICCN 1/2");
        c->network_up("IPCP up");
        return c;
    }
    void answer(std::size_t i, rc::Result r = rc::Result::accept) {
        if (auto f = std::move(pending.at(i))) {
            pending.at(i) = nullptr;
            f(r);
        }
    }
};

constexpr auto kStart = rc::AcctStatus::Start;
constexpr auto kInterim = rc::AcctStatus::Interim_Update;
constexpr auto kStop = rc::AcctStatus::Stop;

TEST(CallAccounting, InterimPeriodRules) {
    EXPECT_EQ(interim_period(std::nullopt, std::nullopt), dl::core::Duration::zero());
    EXPECT_EQ(interim_period(std::nullopt, 0u), dl::core::Duration::zero());
    EXPECT_EQ(interim_period(std::nullopt, 30u), dl::core::Duration(60s)) << "RFC 2869 §5.16 floor";
    EXPECT_EQ(interim_period(std::nullopt, 600u), dl::core::Duration(600s));
    EXPECT_EQ(interim_period(dl::core::Duration(10s), 600u), dl::core::Duration(10s)) << "local value overrides";
    EXPECT_EQ(interim_period(dl::core::Duration::zero(), 600u), dl::core::Duration::zero()) << "local 0 = off";
}

TEST(CallAccounting, StartInterimsAndStopOnClosing) {
    World w;
    auto c = w.up();
    c->accounting().start(60s);
    ASSERT_EQ(w.sent.size(), 1u);
    EXPECT_EQ(w.sent[0].status, kStart);
    EXPECT_EQ(w.sent[0].session_id, "0123456789abcdef-7");
    EXPECT_EQ(w.sent[0].user_name, "cpe-7");
    EXPECT_EQ(w.sent[0].input_octets, 0u) << "no counters in a Start";
    EXPECT_EQ(w.sent[0].session_time, 0u);
    EXPECT_FALSE(w.sent[0].terminate_cause);
    c->accounting().start(60s);  // IPCP opened again: no second Start
    EXPECT_EQ(w.sent.size(), 1u);
    w.answer(0);
    w.loop.advance(59s);
    EXPECT_EQ(w.sent.size(), 1u);
    w.loop.advance(1s);
    ASSERT_EQ(w.sent.size(), 2u) << "Interim-Update 60 s after Start";
    EXPECT_EQ(w.sent[1].status, kInterim);
    EXPECT_EQ(w.sent[1].session_time, 60u);
    EXPECT_EQ(w.sent[1].input_octets, 300u);
    EXPECT_EQ(w.sent[1].output_packets, 4u);
    w.answer(1);
    w.loop.advance(60s);
    ASSERT_EQ(w.sent.size(), 3u);
    w.answer(2);
    w.loop.advance(5s);
    EXPECT_TRUE(c->clear({"session reset", true}));
    ASSERT_EQ(w.sent.size(), 4u) << "the session sends the Stop on entering closing";
    EXPECT_EQ(w.sent[3].status, kStop);
    EXPECT_EQ(w.sent[3].session_time, 125u);
    EXPECT_EQ(w.sent[3].terminate_cause, 6u) << "Admin-Reset for a reset (RFC 2866 §5.10)";
    EXPECT_EQ(w.sent[3].session_id, w.sent[0].session_id);
    EXPECT_EQ(w.log.back(), "close");
    EXPECT_EQ(w.log[w.log.size() - 2], "acct 2") << "Stop before the rest of the teardown";
    EXPECT_FALSE(c->accounting().started());
    w.loop.advance(600s);
    EXPECT_EQ(w.sent.size(), 4u) << "no Interim-Update after Stop";
    EXPECT_EQ(w.counters.acct_requests, 4u);
    EXPECT_EQ(w.counters.acct_interims, 2u);
    EXPECT_EQ(c->accounting().interims_sent(), 2u);
}

TEST(CallAccounting, UserRequestCauseOnLinkDown) {
    World w;
    auto c = w.up();
    c->accounting().start(dl::core::Duration::zero());
    EXPECT_TRUE(c->link_down({"PPP: echo timeout", true}));
    EXPECT_EQ(w.sent.size(), 1u) << "releasing: the Stop waits for the teardown";
    w.loop.run_until_idle();
    ASSERT_EQ(w.sent.size(), 2u);
    EXPECT_EQ(w.sent[1].terminate_cause, 1u) << "User-Request";
}

TEST(CallAccounting, NoStopWithoutStart) {
    World w;
    auto c = w.up();
    EXPECT_TRUE(c->clear({"administrative", true}));
    EXPECT_TRUE(w.sent.empty());
    EXPECT_EQ(w.log, std::vector<std::string>{"close"});
}

TEST(CallAccounting, NothingWithoutAccountingServers) {
    World w;
    w.enabled = false;
    auto c = w.up();
    c->accounting().start(60s);
    EXPECT_FALSE(c->accounting().started());
    EXPECT_EQ(c->accounting().interim(), dl::core::Duration::zero()) << "no period shown when nothing is sent";
    w.loop.advance(120s);
    c->clear({"administrative"});
    EXPECT_TRUE(w.sent.empty());
    EXPECT_EQ(w.counters.acct_requests, 0u);
}

TEST(CallAccounting, UnansweredInterimIsSupersededByTheNextAndByStop) {
    World w;
    auto c = w.up();
    c->accounting().start(60s);
    w.answer(0);
    w.loop.advance(60s);  // Interim #1, left unanswered
    w.loop.advance(60s);  // Interim #2 cancels #1
    ASSERT_EQ(w.sent.size(), 3u);
    EXPECT_EQ(w.cancelled, std::vector<std::uint32_t>{2});
    EXPECT_EQ(w.counters.acct_interims_superseded, 1u);
    c->clear({"administrative"});  // Stop cancels #2
    EXPECT_EQ(w.cancelled, (std::vector<std::uint32_t>{2, 3}));
    EXPECT_EQ(w.counters.acct_interims_superseded, 2u);
    EXPECT_EQ(w.sent.back().status, kStop);
}

TEST(CallAccounting, AnsweredInterimIsNotCancelled) {
    World w;
    auto c = w.up();
    c->accounting().start(60s);
    w.loop.advance(60s);
    w.answer(1);
    w.loop.advance(60s);
    EXPECT_TRUE(w.cancelled.empty());
    EXPECT_EQ(w.counters.acct_interims_superseded, 0u);
}

TEST(CallAccounting, UnbuildableStartCountsATimeoutAndStopIsStillDue) {
    World w;
    auto c = w.up();
    w.throw_on_submit = true;
    c->accounting().start(60s);
    EXPECT_EQ(w.counters.acct_timeouts, 1u);
    EXPECT_EQ(w.counters.acct_requests, 0u);
    EXPECT_TRUE(c->accounting().started());
    w.loop.advance(120s);
    EXPECT_TRUE(w.sent.empty()) << "no interim timer after a failed Start";
    w.throw_on_submit = false;
    c->clear({"administrative"});
    ASSERT_EQ(w.sent.size(), 1u);
    EXPECT_EQ(w.sent[0].status, kStop);
}

TEST(CallAccounting, CompletionAfterDestructionDoesNothing) {
    World w;
    auto c = w.up();
    c->accounting().start(60s);
    w.loop.advance(60s);
    c.reset();
    w.answer(1);  // the Interim-Update's answer arrives after the call is gone
    EXPECT_EQ(w.sent.size(), 2u);
}

}  // namespace
