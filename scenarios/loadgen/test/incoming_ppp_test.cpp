// loadgen::IncomingPpp against an LNS-side PPP link (lns/ppp Link as authenticator, CHAP-MD5) in
// virtual time: the CPE side opens LCP, answers the CHAP Challenge with its user's name and
// secret (RFC 1994 §4.1), takes the address IPCP gives it, and reports up at IPCP Opened; a wrong
// secret is reported down, never up.
#include "dl/loadgen/incoming_ppp.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>

#include "dl/core/event.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/ppp/auth.hpp"
#include "dl/ppp/engine/link.hpp"

namespace dl::loadgen {
namespace {

using namespace std::chrono_literals;
namespace pe = dl::ppp::engine;

struct World {
    core::VirtualTimeLoop loop;
    core::EventBus bus{loop.clock()};
    core::TimerRegistry registry;
    std::map<std::size_t, std::unique_ptr<pe::Link>> lns;  // the LNS side of each unit
    std::map<std::string, std::string> radius{{"site0", "pass0"}, {"site1", "pass1"}};  // what the LNS accepts
    std::vector<std::size_t> up;
    std::vector<std::pair<std::size_t, std::string>> down;
    std::unique_ptr<IncomingPpp> cpe;

    explicit World(std::vector<PppUser> users) {
        core::register_well_known_timers(registry);
        cpe = std::make_unique<IncomingPpp>(
            core::FsmEnv{&bus, &loop.timers(), &registry}, std::move(users),
            [this](std::size_t u, std::vector<std::uint8_t> f) {
                // the L2TP session: delivered to the LNS side 1 ms later, address / control stripped
                loop.timers().arm(1ms, [this, u, f] {
                    ASSERT_GE(f.size(), 4u);
                    EXPECT_EQ(f[0], 0xFF);
                    EXPECT_EQ(f[1], 0x03);
                    if (auto it = lns.find(u); it != lns.end())
                        it->second->receive(std::span<const std::uint8_t>(f).subspan(2));
                });
            },
            [this](std::size_t u) { up.push_back(u); },
            [this](std::size_t u, std::string_view cause) { down.emplace_back(u, std::string(cause)); });
    }
    void call(std::size_t u) {
        pe::LinkConfig c;
        c.require_auth = pe::AuthPreference::chap;
        c.local_ip = 0xC6120001;  // 198.18.0.1
        pe::LinkCallbacks cb;
        cb.send = [this, u](std::uint16_t proto, std::vector<std::uint8_t> info) {
            std::vector<std::uint8_t> f{static_cast<std::uint8_t>(proto >> 8), static_cast<std::uint8_t>(proto)};
            f.insert(f.end(), info.begin(), info.end());
            loop.timers().arm(1ms, [this, u, f] { cpe->receive(u, f); });  // no address / control: optional
        };
        cb.verify = [this, u](std::uint32_t ticket, const ppp::Credentials& cr) {
            auto it = radius.find(cr.user);
            bool ok = it != radius.end() && cr.method == ppp::AuthMethod::chap_md5;
            if (ok) {
                const auto d = ppp::chap_md5_response(cr.chap_id, std::string_view(it->second), cr.challenge);
                ok = std::equal(d.begin(), d.end(), cr.response.begin(), cr.response.end());
            }
            pe::VerifyResult r{ok, ok ? "welcome" : "no", static_cast<std::uint32_t>(0xC6120100 + u)};
            loop.timers().arm(2ms, [this, u, ticket, r] { lns[u]->verify_result(ticket, r); });
        };
        lns[u] = std::make_unique<pe::Link>(c, std::move(cb), core::FsmEnv{&bus, &loop.timers(), &registry},
                                            "lns-" + std::to_string(u));
        lns[u]->open();
        cpe->start(u);
    }
};

TEST(IncomingPpp, EachCallAuthenticatesWithItsUserAndIsUpAtIpcpOpened) {
    World w(std::vector<PppUser>{{"site0", "pass0"}, {"site1", "pass1"}});
    for (std::size_t u = 0; u < 3; ++u) w.call(u);  // unit 2 uses users[0] again
    w.loop.advance(2s);
    std::sort(w.up.begin(), w.up.end());
    EXPECT_EQ(w.up, (std::vector<std::size_t>{0, 1, 2}));
    EXPECT_TRUE(w.down.empty());
    EXPECT_EQ(w.cpe->links(), 3u);
    EXPECT_EQ(w.cpe->auth_failures(), 0u);
    w.cpe->stop(1);
    EXPECT_EQ(w.cpe->links(), 2u);
}

TEST(IncomingPpp, AWrongSecretIsDownNeverUp) {
    World w(std::vector<PppUser>{{"site0", "wrong"}});
    w.call(0);
    w.loop.advance(5s);
    EXPECT_TRUE(w.up.empty());
    ASSERT_FALSE(w.down.empty());
    EXPECT_EQ(w.down.front().first, 0u);
}

TEST(IncomingPpp, UsersFileErrorsNameTheFile) {
    const std::string path = ::testing::TempDir() + "/loadgen-users.json";
    for (const char* text : {"[]", "{\"name\": \"a\"}", "[{\"name\": \"a\"}]", "not json"}) {
        std::ofstream(path) << text;
        try {
            load_ppp_users(path);
            ADD_FAILURE() << text << " accepted";
        } catch (const std::runtime_error& e) {
            EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
        }
    }
    std::ofstream(path) << R"([{"name": "site0", "secret": "pass0", "number": "5500000"}])";
    const auto users = load_ppp_users(path);
    ASSERT_EQ(users.size(), 1u);
    EXPECT_EQ(users[0].name, "site0");
    EXPECT_EQ(users[0].secret, "pass0");
    std::remove(path.c_str());
    EXPECT_THROW(load_ppp_users(path), std::runtime_error);
}

}  // namespace
}  // namespace dl::loadgen
