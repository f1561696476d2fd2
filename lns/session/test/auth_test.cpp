// The call's PPP authentication through a fake AuthPort: the Access-Request is made (and not for
// credentials RADIUS cannot carry), the Access-Accept's authorisation kept, a request still out
// cancelled when the call closes; mandatory CHAP's proxy check; the incoming-mode rules.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dl/core/event.hpp"
#include "dl/session/call.hpp"

using namespace dl::session;
namespace pe = dl::ppp::engine;
namespace rc = dl::radius::client;
using dl::core::EventRecorder;

namespace {

/// A fake LNS RADIUS: records each Access-Request, answers when the test says, records cancels.
struct FakeAaa {
    std::vector<std::pair<std::uint64_t, rc::PppAuthRequest>> requests;
    std::map<std::uint32_t, std::function<void(const rc::Completion&)>> out;  ///< by generation
    std::vector<std::uint32_t> cancelled;
    bool servers = true;
    rc::PppAuthorisation authorisation;
    std::uint32_t next = 1;

    AuthPort port(AuthCounters* counters) {
        AuthPort p;
        p.counters = counters;
        p.submit = [this](std::uint64_t call, rc::PppAuthRequest r, std::function<void(const rc::Completion&)> done) {
            if (!servers) return rc::RequestHandle{};
            requests.emplace_back(call, std::move(r));
            const rc::RequestHandle h{0, next++};
            out[h.generation] = std::move(done);
            return h;
        };
        p.cancel = [this](rc::RequestHandle h) {
            auto it = out.find(h.generation);
            if (it == out.end()) return false;
            cancelled.push_back(h.generation);
            auto done = std::move(it->second);
            out.erase(it);
            done(rc::Completion{rc::Result::cancelled});
            return true;
        };
        p.decode = [this](const rc::Completion&) { return rc::Decoded<rc::PppAuthorisation>{authorisation, {}}; };
        return p;
    }
    /// Answers the oldest request still out.
    void answer(rc::Result r) {
        ASSERT_FALSE(out.empty()) << "no Access-Request out";
        auto it = out.begin();
        auto done = std::move(it->second);
        out.erase(it);
        done(rc::Completion{r});
    }
};

struct World {
    dl::core::VirtualTimeLoop loop;
    dl::core::EventBus bus{loop.clock()};
    dl::core::FsmEnv env{&bus, &loop.timers(), nullptr};
    FakeAaa aaa;
    AuthCounters counters;
    CallPorts ports;
    int closed = 0;
    World() {
        ports.auth = aaa.port(&counters);
        ports.closed = [this](CallSession&, const CloseOrder&) { ++closed; };
    }
    std::unique_ptr<CallSession> call(CallState initial = CallState::ppp) {
        auto c = std::make_unique<CallSession>(env, ports, 7, CallDirection::incoming, initial, "default");
        c->start("ICCN 1/2");
        return c;
    }
};

pe::Credentials pap(std::string user, std::string password) {
    pe::Credentials cr;
    cr.method = pe::AuthMethod::pap;
    cr.user = std::move(user);
    cr.password.assign(password.begin(), password.end());
    return cr;
}

TEST(CallAuth, VerifyAsksAaaAndKeepsTheAuthorisation) {
    World w;
    auto c = w.call();
    w.aaa.authorisation.framed_ip = dl::core::Ipv4Address{0x0A000005};
    w.aaa.authorisation.routes.push_back({*dl::core::Ipv4Prefix::parse("192.0.2.0/24"), std::nullopt, std::nullopt});
    w.aaa.authorisation.classes = {{1, 2, 3}};
    w.aaa.authorisation.acct_interim_interval = 600;
    c->verify(1, pap("alice", "secret"));
    ASSERT_EQ(w.aaa.requests.size(), 1u) << "the credentials go to AAA";
    EXPECT_EQ(w.aaa.requests[0].first, 7u);
    EXPECT_EQ(w.aaa.requests[0].second.user_name, "alice");
    EXPECT_EQ(w.aaa.requests[0].second.password, "secret");
    EXPECT_EQ(c->authorisation().user, "") << "nothing authorised before the Access-Accept";
    w.aaa.answer(rc::Result::accept);
    EXPECT_EQ(c->authorisation().user, "alice");
    EXPECT_EQ(c->authorisation().framed_ip, 0x0A000005u);
    ASSERT_EQ(c->authorisation().routes.size(), 1u);
    EXPECT_EQ(c->authorisation().routes[0].to_string(), "192.0.2.0/24");
    EXPECT_EQ(c->authorisation().classes.size(), 1u);
    EXPECT_EQ(c->authorisation().acct_interim_interval, 600u);
    EXPECT_EQ(w.counters.ppp_auth_requests, 1u);
    EXPECT_EQ(w.counters.ppp_auth_accepts, 1u);
    EXPECT_EQ(w.counters.ppp_auth_rejects, 0u);
}

TEST(CallAuth, RejectKeepsNoAuthorisation) {
    World w;
    auto c = w.call();
    c->verify(1, pap("alice", "wrong"));
    w.aaa.answer(rc::Result::reject);
    EXPECT_EQ(c->authorisation().user, "");
    EXPECT_EQ(w.counters.ppp_auth_rejects, 1u);
    EXPECT_EQ(w.counters.ppp_auth_accepts, 0u);
}

TEST(CallAuth, RequestStillOutIsCancelledOnClosing) {
    World w;
    auto c = w.call();
    c->verify(1, pap("alice", "secret"));
    c->verify(2, pap("alice", "secret"));
    w.aaa.answer(rc::Result::reject);  // the first one is finished: not cancelled
    ASSERT_EQ(w.aaa.out.size(), 1u);
    EXPECT_TRUE(c->clear({"administrative"}));
    EXPECT_EQ(w.aaa.cancelled, std::vector<std::uint32_t>{2}) << "the request out is cancelled on closing";
    EXPECT_TRUE(w.aaa.out.empty());
    EXPECT_EQ(w.counters.ppp_auth_rejects, 1u) << "a cancelled request is no rejection";
    EXPECT_EQ(c->authorisation().user, "");
}

TEST(CallAuth, CompletionAfterTheSessionIsGoneDoesNothing) {
    World w;
    auto c = w.call();
    c->verify(1, pap("alice", "secret"));
    c.reset();
    w.aaa.answer(rc::Result::accept);
    EXPECT_EQ(w.counters.ppp_auth_accepts, 0u);
}

TEST(CallAuth, CredentialsRadiusCannotCarryAreRefusedWithoutRequest) {
    World w;
    EventRecorder rec(w.bus, {"lnsd.ppp", ""});
    auto c = w.call();
    c->verify(1, pap("", "secret"));  // User-Name needs 1..253 octets (RFC 2865 §5.1)
    EXPECT_TRUE(w.aaa.requests.empty()) << "nothing sent to RADIUS";
    EXPECT_EQ(w.counters.ppp_auth_refused, 1u);
    EXPECT_EQ(w.counters.ppp_auth_rejects, 1u);
    ASSERT_EQ(rec.events().size(), 1u);
    EXPECT_EQ(rec.events()[0].event, "credentials-refused");
    EXPECT_EQ(rec.events()[0].id, "7");
}

TEST(CallAuth, NoServerIsARejection) {
    World w;
    w.aaa.servers = false;
    auto c = w.call();
    c->verify(1, pap("alice", "secret"));
    EXPECT_EQ(w.counters.ppp_auth_requests, 1u);
    EXPECT_EQ(w.counters.ppp_auth_rejects, 1u);
}

TEST(CallAuth, ProxyAcceptedStartsPpp) {
    World w;
    EventRecorder rec(w.bus, {"lnsd.incoming", ""});
    auto c = w.call(CallState::proxy_auth);
    int started = 0;
    EXPECT_TRUE(c->authenticate_proxy(pap("alice", "secret"), "1/2", [&] { ++started; }));
    ASSERT_EQ(w.aaa.requests.size(), 1u) << "the proxy authentication goes to AAA before any PPP";
    EXPECT_EQ(started, 0);
    EXPECT_EQ(c->state(), CallState::proxy_auth);
    w.aaa.answer(rc::Result::accept);
    EXPECT_EQ(started, 1);
    EXPECT_EQ(c->state(), CallState::ppp);
    ASSERT_EQ(rec.events().size(), 1u);
    EXPECT_EQ(rec.events()[0].event, "proxy-authentication-accepted");
    EXPECT_EQ(rec.events()[0].cause, "alice: RADIUS accept");
    EXPECT_FALSE(c->authenticate_proxy(pap("alice", "secret"), "1/2", [&] { ++started; })) << "only in proxy-auth";
}

TEST(CallAuth, ProxyRejectedEndsTheCall) {
    World w;
    EventRecorder rec(w.bus, {"lnsd.incoming", ""});
    auto c = w.call(CallState::proxy_auth);
    int started = 0;
    c->authenticate_proxy(pap("alice", "secret"), "1/2", [&] { ++started; });
    w.aaa.answer(rc::Result::reject);
    EXPECT_EQ(started, 0);
    EXPECT_EQ(c->state(), CallState::releasing);
    w.loop.run_until_idle();
    EXPECT_EQ(c->state(), CallState::closing);
    EXPECT_EQ(w.closed, 1);
    ASSERT_EQ(rec.events().size(), 1u);
    EXPECT_EQ(rec.events()[0].event, "proxy-authentication-rejected");
}

TEST(CallAuth, ProxyWithoutServerLetsPppAuthenticate) {
    World w;
    w.aaa.servers = false;
    auto c = w.call(CallState::proxy_auth);
    int started = 0;
    c->authenticate_proxy(pap("alice", "secret"), "1/2", [&] { ++started; });
    EXPECT_EQ(started, 1);
    EXPECT_EQ(c->state(), CallState::ppp);
    EXPECT_EQ(w.counters.ppp_auth_requests, 0u);
}

TEST(CallAuth, ProxyCheckOutIsCancelledOnClosing) {
    World w;
    auto c = w.call(CallState::proxy_auth);
    int started = 0;
    c->authenticate_proxy(pap("alice", "secret"), "1/2", [&] { ++started; });
    c->l2tp_down({"CDN"});
    EXPECT_EQ(w.aaa.cancelled.size(), 1u);
    EXPECT_EQ(started, 0);
}

TEST(IncomingMode, ProxyOnlyFromATrustedLac) {
    using M = IncomingAuthMode;
    EXPECT_EQ(incoming_mode(M::proxy, std::nullopt, true).mode, M::proxy);
    const auto u = incoming_mode(M::proxy, std::nullopt, false);
    EXPECT_EQ(u.mode, M::lcp_renegotiation);
    EXPECT_TRUE(u.untrusted);
    EXPECT_EQ(incoming_mode(M::proxy, M::mandatory_chap, false).mode, M::mandatory_chap) << "the LAC's own mode";
    EXPECT_FALSE(incoming_mode(M::lcp_renegotiation, std::nullopt, false).untrusted);
    EXPECT_TRUE(incoming_mode(M::lcp_renegotiation, M::proxy, false).untrusted);
}

TEST(IncomingMode, RequiredAuthentication) {
    using M = IncomingAuthMode;
    using A = pe::AuthPreference;
    EXPECT_EQ(incoming_require_auth(M::mandatory_chap, A::pap, std::nullopt), A::chap);
    EXPECT_EQ(incoming_require_auth(M::proxy, A::pap, 2), A::chap) << "the LAC's CHAP adopted";
    EXPECT_EQ(incoming_require_auth(M::proxy, A::none, 3), A::pap) << "the LAC's PAP adopted";
    EXPECT_EQ(incoming_require_auth(M::proxy, A::chap, 3), A::chap) << "CHAP required stays";
    EXPECT_EQ(incoming_require_auth(M::lcp_renegotiation, A::pap, 2), A::pap);
    EXPECT_EQ(incoming_require_auth(M::proxy, A::pap, std::nullopt), A::pap);
    EXPECT_TRUE(proxy_pap_refused(M::proxy, A::chap, 3));
    EXPECT_FALSE(proxy_pap_refused(M::proxy, A::pap, 3));
    EXPECT_FALSE(proxy_pap_refused(M::proxy, A::chap, 2));
    EXPECT_FALSE(proxy_pap_refused(M::lcp_renegotiation, A::chap, 3));
}

}  // namespace
