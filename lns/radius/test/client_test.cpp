// Sans-I/O RADIUS client tests in virtual time with a scripted server.
#include "dl/radius/client/client.hpp"

#include <gtest/gtest.h>

#include <set>

#include "dl/core/event.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/proto/crypto.hpp"
#include "dl/radius/auth.hpp"

using namespace dl::radius;
using namespace dl::radius::client;
using namespace std::chrono_literals;
namespace core = dl::core;

namespace {

constexpr Endpoint kA{0xC0000201, 1812};  // 192.0.2.1
constexpr Endpoint kB{0xC0000202, 1812};  // 192.0.2.2
constexpr Endpoint kAcct{0xC0000201, 1813};

struct Sent {
    core::Duration at;
    Endpoint to;
    std::vector<std::uint8_t> bytes;
};

/// What the scripted server does with one request datagram.
struct Action {
    enum Kind { drop, answer } kind = answer;
    Code code = Code::Access_Accept;
    core::Duration delay = 100ms;
    bool message_authenticator = true;
    bool spoof_authenticator = false;
    bool wrong_message_authenticator = false;
    bool duplicate = false;
    std::optional<Endpoint> from;  ///< source of the reply (default: the server)
    std::string secret_override;
};

std::vector<std::uint8_t> make_reply(std::span<const std::uint8_t> req_bytes, const Action& a,
                                     const std::string& secret) {
    Radius req(req_bytes.data(), static_cast<std::uint32_t>(req_bytes.size()));
    Radius resp(a.code, req.identifier());
    resp.add_string(AttributeType::Reply_Message, "hello");
    if (a.message_authenticator) add_message_authenticator(resp);
    Authenticator ra = req.authenticator();
    if (a.spoof_authenticator) ra[0] ^= 1;
    sign_response(resp, ra, a.secret_override.empty() ? secret : a.secret_override);
    std::vector<std::uint8_t> out;
    serialize_into(resp, out);
    if (a.wrong_message_authenticator) {
        // Corrupt the Message-Authenticator value, then recompute the Response Authenticator only.
        Radius r2(out.data(), static_cast<std::uint32_t>(out.size()));
        for (auto& attr : r2.attributes())
            if (attr.type() == static_cast<std::uint8_t>(AttributeType::Message_Authenticator)) {
                std::vector<std::uint8_t> v(attr.value().begin(), attr.value().end());
                v[3] ^= 0xFF;
                attr.value(v);
            }
        // Response Authenticator = MD5(Code+ID+Length+RequestAuth+Attributes+Secret)
        r2.authenticator(req.authenticator());
        std::vector<std::uint8_t> w;
        serialize_into(r2, w);
        auto md = dl::proto::crypto::md5({std::span<const std::uint8_t>(w), dl::proto::crypto::bytes(secret)});
        std::copy(md.begin(), md.end(), w.begin() + 4);
        out = w;
    }
    return out;
}

struct Harness {
    core::VirtualTimeLoop loop;
    core::TimerRegistry registry;
    core::EventBus bus{loop.clock()};
    core::EventRecorder rec{bus, core::EventFilter{"radius", ""}};
    std::vector<Sent> sent;
    std::map<Endpoint, std::string> secrets{{kA, "secretA"}, {kB, "secretB"}, {kAcct, "secretA"}};
    std::function<Action(const Sent&)> script = [](const Sent&) { return Action{}; };
    Client client{loop.timers(), registry, &bus, [this](const Endpoint& to, std::span<const std::uint8_t> d) {
                      sent.push_back({loop.now().time_since_epoch(), to, {d.begin(), d.end()}});
                      const Sent s = sent.back();
                      const Action a = script(s);
                      if (a.kind == Action::drop) return;
                      auto bytes = make_reply(s.bytes, a, secrets.at(to));
                      const Endpoint from = a.from.value_or(to);
                      const int n = a.duplicate ? 2 : 1;
                      for (int i = 0; i < n; ++i)
                          loop.timers().arm(a.delay + i * 10ms, [this, from, bytes] { client.on_datagram(from, bytes); });
                  }};
    std::vector<Completion> done;

    Harness() {
        ServerGroup g;
        g.authentication = {{kA, "secretA", true}, {kB, "secretB", false}};
        g.accounting = {{kAcct, "secretA", false}};
        client.set_servers("default", g);
    }
    Radius access_request(std::string_view user = "alice") {
        Radius r(Code::Access_Request);
        r.add_string(AttributeType::User_Name, user);
        return r;
    }
    RequestHandle submit(std::string_view user = "alice", std::optional<std::string> pw = std::nullopt) {
        return client.submit("default", Service::authentication, access_request(user),
                             [this](const Completion& c) { done.push_back(c); }, std::move(pw));
    }
};

// req: RADIUS.client
TEST(RadiusClient, AcceptOnFirstTryWithGoldenEvents) {
    Harness h;
    h.submit();
    h.loop.advance(1s);
    ASSERT_EQ(h.done.size(), 1u);
    EXPECT_EQ(h.done[0].result, Result::accept);
    ASSERT_TRUE(h.done[0].reply);
    EXPECT_EQ(h.done[0].reply->get_string(AttributeType::Reply_Message), "hello");
    EXPECT_EQ(h.done[0].server->endpoint, kA);
    EXPECT_EQ(h.done[0].transmissions, 1u);
    ASSERT_EQ(h.sent.size(), 1u);
    // Every Access-Request carries a Message-Authenticator (RFC 3579 §3.2) and verifies.
    Radius req(h.sent[0].bytes.data(), static_cast<std::uint32_t>(h.sent[0].bytes.size()));
    EXPECT_NE(req.find(AttributeType::Message_Authenticator), nullptr);
    EXPECT_EQ(verify_request(h.sent[0].bytes, "secretA"), Verdict::ok);
    EXPECT_EQ(h.done[0].request_authenticator, req.authenticator());
    EXPECT_EQ(h.rec.text(),
              "+0.000000s radius.request default/1: queued -> wait-reply on send (cause=submitted) [timer radius-timeout=3s]\n"
              "+0.100000s radius.request default/1: wait-reply -> accepted on Access-Accept (cause=from 192.0.2.1:1812)\n");
    EXPECT_EQ(h.client.outstanding(), 0u);
}

// req: RADIUS.client
TEST(RadiusClient, RetransmitsSamePacketThenFailsOverThenTimesOut) {
    Harness h;
    h.script = [](const Sent&) { return Action{Action::drop}; };
    h.submit();
    h.loop.advance(30s);
    ASSERT_EQ(h.done.size(), 1u);
    EXPECT_EQ(h.done[0].result, Result::timeout);
    EXPECT_EQ(h.done[0].server->endpoint, kB);
    EXPECT_EQ(h.done[0].transmissions, 8u);
    ASSERT_EQ(h.sent.size(), 8u);
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(h.sent[i].to, kA);
        EXPECT_EQ(h.sent[i].at, core::Duration(i * 3s));
        EXPECT_EQ(h.sent[i].bytes, h.sent[0].bytes) << "retransmission " << i << " must be identical";
    }
    for (int i = 4; i < 8; ++i) {
        EXPECT_EQ(h.sent[i].to, kB);
        EXPECT_EQ(h.sent[i].at, core::Duration(12s + (i - 4) * 3s));
        EXPECT_EQ(h.sent[i].bytes, h.sent[4].bytes);
    }
    // Re-signed for B: new Request Authenticator, verifies with B's secret only.
    EXPECT_NE(h.sent[4].bytes, h.sent[0].bytes);
    EXPECT_EQ(verify_request(h.sent[4].bytes, "secretB"), Verdict::ok);
    EXPECT_NE(verify_request(h.sent[4].bytes, "secretA"), Verdict::ok);
    EXPECT_TRUE(h.client.is_dead(kA));
    EXPECT_TRUE(h.client.is_dead(kB));
    const auto& c = h.client.counters();
    EXPECT_EQ(c.transmissions, 2u);
    EXPECT_EQ(c.retransmissions, 6u);
    EXPECT_EQ(c.failovers, 1u);
    EXPECT_EQ(c.timeouts, 1u);
    EXPECT_EQ(c.servers_marked_dead, 2u);
    EXPECT_EQ(h.rec.count("retries-exhausted"), 2u);
    EXPECT_EQ(h.rec.lines().back(),
              "+24.000000s radius.request default/1: wait-reply -> timed-out on timer-expiry (cause=radius-timeout expired)");
}

// req: RADIUS.client
TEST(RadiusClient, DeadServerSkippedThenRevived) {
    Harness h;
    h.script = [](const Sent& s) { return s.to == kA ? Action{Action::drop} : Action{}; };
    h.submit();
    h.loop.advance(13s);
    ASSERT_EQ(h.done.size(), 1u);
    EXPECT_EQ(h.done[0].result, Result::accept);
    EXPECT_EQ(h.done[0].server->endpoint, kB);
    EXPECT_TRUE(h.client.is_dead(kA));
    // While A is dead the next request goes straight to B.
    h.sent.clear();
    h.submit("bob");
    h.loop.advance(1s);
    ASSERT_EQ(h.done.size(), 2u);
    ASSERT_EQ(h.sent.size(), 1u);
    EXPECT_EQ(h.sent[0].to, kB);
    // After radius-dead-time (60 s from 12 s) A is tried first again.
    h.loop.advance_to(core::TimePoint(72s));
    h.script = [](const Sent&) { return Action{}; };
    h.sent.clear();
    h.submit("carol");
    h.loop.advance(1s);
    ASSERT_EQ(h.sent.size(), 1u);
    EXPECT_EQ(h.sent[0].to, kA);
    EXPECT_EQ(h.done.back().server->endpoint, kA);
    EXPECT_EQ(h.client.counters().servers_revived, 1u);
    EXPECT_EQ(h.rec.count("revived"), 1u);
}

// req: RADIUS.client
TEST(RadiusClient, ConfiguredTimersAreUsed) {
    Harness h;
    h.registry.set("radius-timeout", 1s);
    h.registry.set("radius-dead-time", 5s);
    h.script = [](const Sent&) { return Action{Action::drop}; };
    h.submit();
    h.loop.advance(4s);
    EXPECT_EQ(h.sent.size(), 5u);  // 4 to A at 0..3 s, then B at 4 s
    h.loop.advance(5s);
    EXPECT_FALSE(h.client.is_dead(kA));
}

struct DropCase {
    const char* name;
    Action bad;
    std::uint64_t DropCounters::*counter;
};

class RadiusClientDrops : public ::testing::TestWithParam<DropCase> {};

// req: RADIUS.client
TEST_P(RadiusClientDrops, BadReplyIsDroppedAndCountedThenGoodOneAccepted) {
    Harness h;
    int n = 0;
    const DropCase p = GetParam();
    h.script = [&n, p](const Sent&) { return n++ == 0 ? p.bad : Action{}; };
    h.submit();
    h.loop.advance(1s);
    EXPECT_TRUE(h.done.empty()) << "a bad reply must never complete a request";
    EXPECT_EQ(h.client.counters().dropped.*(p.counter), 1u);
    h.loop.advance(3s);  // retransmission is answered correctly
    ASSERT_EQ(h.done.size(), 1u);
    EXPECT_EQ(h.done[0].result, Result::accept);
    EXPECT_EQ(h.sent.size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(
    Reasons, RadiusClientDrops,
    ::testing::Values(
        DropCase{"spoofed_authenticator", Action{.spoof_authenticator = true}, &DropCounters::bad_authenticator},
        DropCase{"wrong_secret", Action{.secret_override = "nope"}, &DropCounters::bad_authenticator},
        DropCase{"wrong_message_authenticator", Action{.wrong_message_authenticator = true},
                 &DropCounters::bad_message_authenticator},
        DropCase{"missing_message_authenticator", Action{.message_authenticator = false},
                 &DropCounters::missing_message_authenticator},
        DropCase{"wrong_source_port", Action{.from = Endpoint{0xC0000201, 4000}}, &DropCounters::wrong_source},
        DropCase{"wrong_source_address", Action{.from = Endpoint{0xC0000209, 1812}}, &DropCounters::wrong_source},
        DropCase{"other_server", Action{.from = kB}, &DropCounters::unknown_identifier},
        DropCase{"unexpected_code", Action{.code = Code::Accounting_Response}, &DropCounters::unexpected_code}),
    [](const ::testing::TestParamInfo<DropCase>& pinfo) { return std::string(pinfo.param.name); });

// req: RADIUS.client
TEST(RadiusClient, DuplicateReplyToCompletedRequestIsDropped) {
    Harness h;
    h.script = [](const Sent&) { return Action{.duplicate = true}; };
    h.submit();
    h.loop.advance(1s);
    ASSERT_EQ(h.done.size(), 1u);
    EXPECT_EQ(h.client.counters().dropped.duplicate, 1u);
    EXPECT_EQ(h.client.counters().accepts, 1u);
}

// req: RADIUS.client
TEST(RadiusClient, MalformedAndUnknownIdentifierDropped) {
    Harness h;
    h.script = [](const Sent&) { return Action{Action::drop}; };
    h.submit();
    const std::vector<std::uint8_t> shortpkt{2, 0, 0};
    h.client.on_datagram(kA, shortpkt);
    std::vector<std::uint8_t> other(20, 0);
    other[0] = 2;
    other[1] = 77;
    other[3] = 20;
    h.client.on_datagram(kA, other);
    // Right identifier, Length field lying.
    std::vector<std::uint8_t> lying(h.sent[0].bytes.begin(), h.sent[0].bytes.begin() + 20);
    lying[0] = 2;
    lying[2] = 0x10;
    h.client.on_datagram(kA, lying);
    const auto& d = h.client.counters().dropped;
    EXPECT_EQ(d.malformed, 2u);
    EXPECT_EQ(d.unknown_identifier, 1u);
    EXPECT_TRUE(h.done.empty());
}

// req: RADIUS.client
TEST(RadiusClient, RejectAndChallengeComplete) {
    Harness h;
    int n = 0;
    h.script = [&n](const Sent&) { return Action{.code = n++ == 0 ? Code::Access_Reject : Code::Access_Challenge}; };
    h.submit();
    h.submit("bob");
    h.loop.advance(1s);
    ASSERT_EQ(h.done.size(), 2u);
    EXPECT_EQ(h.done[0].result, Result::reject);
    EXPECT_EQ(h.done[1].result, Result::reject);
    EXPECT_EQ(h.rec.count("Access-Challenge"), 1u);
}

// req: RADIUS.client
TEST(RadiusClient, IdentifierExhaustionQueues) {
    Harness h;
    h.script = [](const Sent&) { return Action{Action::drop}; };
    for (int i = 0; i < 300; ++i) h.submit("u" + std::to_string(i));
    EXPECT_EQ(h.client.outstanding(), 256u);
    EXPECT_EQ(h.client.queued(), 44u);
    std::set<std::uint8_t> ids;
    for (const auto& s : h.sent) ids.insert(s.bytes[1]);
    EXPECT_EQ(ids.size(), 256u);
    EXPECT_EQ(h.sent.size(), 256u);
    // Answer everything now: the queued requests go out as identifiers free up, then complete.
    h.script = [](const Sent&) { return Action{}; };
    for (std::size_t i = 0; i < 256; ++i) {
        Action a;
        auto bytes = make_reply(h.sent[i].bytes, a, "secretA");
        h.client.on_datagram(kA, bytes);
    }
    EXPECT_EQ(h.done.size(), 256u);
    EXPECT_EQ(h.client.queued(), 0u);
    h.loop.advance(1s);
    EXPECT_EQ(h.done.size(), 300u);
    for (const auto& c : h.done) EXPECT_EQ(c.result, Result::accept);
    EXPECT_EQ(h.client.counters().queued, 44u);
    EXPECT_EQ(h.client.outstanding(), 0u);
}

// req: RADIUS.client
TEST(RadiusClient, CancelQueuedAndInFlight) {
    Harness h;
    h.script = [](const Sent&) { return Action{Action::drop}; };
    auto a = h.submit();
    EXPECT_TRUE(h.client.cancel(a));
    EXPECT_FALSE(h.client.cancel(a));
    ASSERT_EQ(h.done.size(), 1u);
    EXPECT_EQ(h.done[0].result, Result::cancelled);
    h.loop.advance(20s);
    EXPECT_EQ(h.sent.size(), 1u) << "no retransmission after cancel";
    EXPECT_EQ(h.client.outstanding(), 0u);
}

// req: RADIUS.client
TEST(RadiusClient, UserPasswordHiddenPerServerSecret) {
    Harness h;
    h.script = [](const Sent& s) { return s.to == kA ? Action{Action::drop} : Action{}; };
    h.submit("alice", std::string("s3cr3t"));
    h.loop.advance(13s);
    ASSERT_EQ(h.sent.size(), 5u);
    Radius a(h.sent[0].bytes.data(), static_cast<std::uint32_t>(h.sent[0].bytes.size()));
    Radius b(h.sent[4].bytes.data(), static_cast<std::uint32_t>(h.sent[4].bytes.size()));
    EXPECT_EQ(user_password(a, "secretA"), "s3cr3t");
    EXPECT_EQ(user_password(b, "secretB"), "s3cr3t");
    EXPECT_EQ(b.find_all(2).size(), 1u);
}

// req: RADIUS.client
TEST(RadiusClient, AccountingRequestAndResponse) {
    Harness h;
    h.script = [](const Sent&) { return Action{.code = Code::Accounting_Response, .message_authenticator = false}; };
    Radius acct(Code::Accounting_Request);
    acct.add_integer(AttributeType::Acct_Status_Type, 1);
    acct.add_string(AttributeType::Acct_Session_Id, "0001");
    h.client.submit("default", Service::accounting, acct, [&](const Completion& c) { h.done.push_back(c); });
    h.loop.advance(1s);
    ASSERT_EQ(h.done.size(), 1u);
    EXPECT_EQ(h.done[0].result, Result::accept);
    EXPECT_EQ(h.sent[0].to, kAcct);
    EXPECT_EQ(verify_request(h.sent[0].bytes, "secretA"), Verdict::ok);  // RFC 2866 §3
}

// req: RADIUS.client
TEST(RadiusClient, SubmitRejectsBadArguments) {
    Harness h;
    EXPECT_THROW(h.client.submit("nope", Service::authentication, h.access_request(), {}), std::invalid_argument);
    EXPECT_THROW(h.client.submit("default", Service::accounting, h.access_request(), {}), std::invalid_argument);
    h.client.set_servers("empty", ServerGroup{});
    EXPECT_THROW(h.client.submit("empty", Service::authentication, h.access_request(), {}), std::invalid_argument);
}

// req: RADIUS.client
TEST(RadiusClient, CallbackMaySubmitAgain) {
    Harness h;
    int chained = 0;
    std::function<void(const Completion&)> cb = [&](const Completion& c) {
        EXPECT_EQ(c.result, Result::accept);
        if (++chained < 3) h.client.submit("default", Service::authentication, h.access_request(), cb);
    };
    h.client.submit("default", Service::authentication, h.access_request(), cb);
    h.loop.advance(1s);
    EXPECT_EQ(chained, 3);
}

// req: RADIUS.client
TEST(RadiusClient, FailOverToFullServerQueuesThenSends) {
    Harness h;
    ServerGroup other;
    other.authentication = {{kB, "secretB", false}};
    h.client.set_servers("other", other);
    h.script = [](const Sent& s) {
        Radius r(s.bytes.data(), static_cast<std::uint32_t>(s.bytes.size()));
        return s.to == kB && r.get_string(AttributeType::User_Name) == "x" ? Action{} : Action{Action::drop};
    };
    h.submit("x");
    h.loop.advance(11s);
    for (int i = 0; i < 256; ++i)
        h.client.submit("other", Service::authentication, h.access_request("o"), [](const Completion&) {});
    EXPECT_EQ(h.client.outstanding(), 257u);
    h.loop.advance(1s);  // 12 s: x gives up on A, B has no free Identifier
    EXPECT_EQ(h.client.queued(), 1u);
    EXPECT_TRUE(h.done.empty());
    const Sent first_other = h.sent[4];
    ASSERT_EQ(first_other.to, kB);
    h.client.on_datagram(kB, make_reply(first_other.bytes, Action{}, "secretB"));
    EXPECT_EQ(h.sent.back().bytes[1], first_other.bytes[1]) << "x takes the freed Identifier";
    h.loop.advance(200ms);
    ASSERT_EQ(h.done.size(), 1u);
    EXPECT_EQ(h.done[0].result, Result::accept);
    EXPECT_EQ(h.done[0].server->endpoint, kB);
    std::vector<std::string> x_lines;
    for (const auto& l : h.rec.lines())
        if (l.find("default/1") != std::string::npos || l.find("radius.server") != std::string::npos)
            x_lines.push_back(l);
    EXPECT_EQ(x_lines, (std::vector<std::string>{
        "+0.000000s radius.request default/1: queued -> wait-reply on send (cause=submitted) [timer radius-timeout=3s]",
        "+3.000000s radius.request default/1: wait-reply -> wait-reply on timer-expiry (cause=radius-timeout expired) [timer radius-timeout=3s]",
        "+6.000000s radius.request default/1: wait-reply -> wait-reply on timer-expiry (cause=radius-timeout expired) [timer radius-timeout=3s]",
        "+9.000000s radius.request default/1: wait-reply -> wait-reply on timer-expiry (cause=radius-timeout expired) [timer radius-timeout=3s]",
        "+12.000000s radius.server 192.0.2.1:1812: alive -> dead on retries-exhausted (cause=no reply)",
        "+12.000000s radius.request default/1: wait-reply -> queued on timer-expiry (cause=radius-timeout expired)",
        "+12.000000s radius.request default/1: queued -> wait-reply on send (cause=Identifier available) [timer radius-timeout=3s]",
        "+12.100000s radius.request default/1: wait-reply -> accepted on Access-Accept (cause=from 192.0.2.2:1812)",
    }));
}

// req: RADIUS.client
TEST(RadiusClient, RepliesOutOfOrderMatchTheirRequests) {
    Harness h;
    int n = 0;
    h.script = [&n](const Sent&) { return Action{.code = n == 0 ? Code::Access_Reject : Code::Access_Accept,
                                                 .delay = n++ == 0 ? 500ms : 100ms}; };
    std::vector<std::pair<std::string, Result>> got;
    for (const char* u : {"first", "second"})
        h.client.submit("default", Service::authentication, h.access_request(u),
                        [&got, u](const Completion& c) { got.emplace_back(u, c.result); });
    h.loop.advance(1s);
    EXPECT_EQ(got, (std::vector<std::pair<std::string, Result>>{{"second", Result::accept}, {"first", Result::reject}}));
}

// req: RADIUS.client
TEST(RadiusClient, SlowAnswerToFirstTransmissionStillMatches) {
    Harness h;
    h.script = [](const Sent& s) { return s.to == kA ? Action{Action::drop} : Action{.delay = 10s}; };
    h.submit();
    h.loop.advance(12s);  // A dead, request now on B, whose answer takes 10 s
    EXPECT_TRUE(h.client.is_dead(kA));
    h.loop.advance(10s);
    ASSERT_EQ(h.done.size(), 1u) << "B's answer to its first copy (same Identifier/Authenticator) is accepted";
    EXPECT_EQ(h.done[0].result, Result::accept);
    EXPECT_EQ(h.done[0].transmissions, 8u);  // 4 to A, 4 to B (0, 3, 6, 9 s after 12 s)
    EXPECT_EQ(h.client.counters().dropped.duplicate, 0u);
    h.loop.advance(20s);  // the answers to the retransmissions are duplicates now
    EXPECT_EQ(h.client.counters().dropped.duplicate, 3u);
}

// req: RADIUS.client
TEST(RadiusClient, AllDeadTriesFirstAndReplyRevives) {
    Harness h;
    bool answer = false;
    h.script = [&answer](const Sent&) { return answer ? Action{} : Action{Action::drop}; };
    h.submit();
    h.loop.advance(25s);
    EXPECT_TRUE(h.client.is_dead(kA));
    EXPECT_TRUE(h.client.is_dead(kB));
    answer = true;
    h.sent.clear();
    h.submit("bob");
    h.loop.advance(1s);
    ASSERT_EQ(h.sent.size(), 1u);
    EXPECT_EQ(h.sent[0].to, kA);
    ASSERT_EQ(h.done.size(), 2u);
    EXPECT_EQ(h.done[1].result, Result::accept);
    EXPECT_FALSE(h.client.is_dead(kA));
    EXPECT_TRUE(h.client.is_dead(kB));
    EXPECT_EQ(h.rec.count("revived"), 1u);
}

// req: RADIUS.client
TEST(RadiusClient, RequestSize) {
    std::printf("sizeof(Request) = %zu bytes\n", Client::request_size());
    EXPECT_LT(Client::request_size(), 1024u);
}

}  // namespace

// Endpoint text (events, server ids) from to_chars: the extremes of every field.
TEST(RadiusClient, EndpointText) {
    EXPECT_EQ((Endpoint{0xC0000201, 1812}).to_string(), "192.0.2.1:1812");
    EXPECT_EQ((Endpoint{0xFFFFFFFF, 65535}).to_string(), "255.255.255.255:65535");
    EXPECT_EQ((Endpoint{0, 0}).to_string(), "0.0.0.0:0");
}
