// cpe-emu core end to end in virtual time: an LNS (L2TP engine in LNS role + PPP Link as
// authenticator) places an outgoing call through the LAC core and the exchange to a CPE site, and
// PPP runs through L2TP and the B-channel up to IPCP; failure injection breaks the right phase.
#include "dl/cpe/cpe.hpp"

#include <gtest/gtest.h>

#include "dl/core/event.hpp"
#include "dl/isdn/exchange.hpp"
#include "dl/lac/lac.hpp"
#include "dl/ppp/auth.hpp"

using namespace dl;
using namespace std::chrono_literals;
using l2tp::engine::Engine;
using l2tp::engine::SessionKey;
using ppp::engine::AuthPreference;

namespace {
constexpr l2tp::engine::PeerId kLnsPeer = 1, kLacPeer = 2;
constexpr isdn::Exchange::EndpointId kLacEp = 1, kCpeEp = 2;

struct Chain {
    core::VirtualTimeLoop loop;
    core::EventBus bus{loop.clock()};
    core::TimerRegistry registry;
    std::unique_ptr<isdn::Exchange> exchange;
    std::unique_ptr<lac::Lac> lac;
    std::unique_ptr<cpe::Cpe> cpe;
    std::unique_ptr<Engine> lac_engine, lns;
    std::unique_ptr<ppp::engine::Link> lns_link;
    std::optional<SessionKey> key;
    bool lns_network_up = false;
    std::vector<std::vector<std::uint8_t>> lns_ipv4;  // IPv4 the LNS's PPP link delivered
    std::vector<l2tp::engine::CallFailure> failures;
    ppp::engine::LinkConfig lns_ppp;

    std::optional<l2tp::engine::ConnectInfo> lns_connect;
    bool proxy_lcp_accepted = false;

    explicit Chain(cpe::SiteConfig site, lac::LacConfig lac_cfg_in = {}) {
        l2tp::engine::register_l2tp_timers(registry);
        core::register_well_known_timers(registry);
        lns_ppp.require_auth = AuthPreference::chap;
        lns_ppp.name = "lns";
        lns_ppp.secret = "lns-secret";
        lns_ppp.local_ip = 0xC6120001;  // 198.18.0.1
        lns_ppp.peer_ip = 0xC6120002;
        exchange = std::make_unique<isdn::Exchange>(bus, loop.timers(), registry,
                                                    [this](isdn::Exchange::EndpointId ep, const isdn::Message& m) {
                                                        loop.timers().arm(1ms, [this, ep, m] {
                                                            if (ep == kLacEp) lac->isdn_receive(m);
                                                            else cpe->isdn_receive(m);
                                                        });
                                                    });
        exchange->attach(kLacEp, "lac");
        exchange->attach(kCpeEp, "cpe");
        lac = std::make_unique<lac::Lac>(loop.timers(), registry, bus, lac_cfg_in, [this](const isdn::Message& m) {
            loop.timers().arm(1ms, [this, m] { exchange->receive(kLacEp, m); });
        });
        cpe = std::make_unique<cpe::Cpe>(loop.timers(), registry, bus, [this](const isdn::Message& m) {
            loop.timers().arm(1ms, [this, m] { exchange->receive(kCpeEp, m); });
        });
        cpe->add_site(std::move(site));
        l2tp::engine::EngineConfig lac_cfg, lns_cfg;
        lac_cfg.seed = 2;
        lns_cfg.seed = 1;
        lac_engine = std::make_unique<Engine>(loop.timers(), registry, bus, lac_cfg,
                                              lac->callbacks([this](l2tp::engine::PeerId, std::vector<std::uint8_t> b) {
                                                  loop.timers().arm(5ms, [this, b] { lns->receive(kLacPeer, b); });
                                              }));
        lac->bind(*lac_engine);
        l2tp::engine::EngineCallbacks cb;
        cb.send = [this](l2tp::engine::PeerId, std::vector<std::uint8_t> b) {
            loop.timers().arm(5ms, [this, b] { lac_engine->receive(kLnsPeer, b); });
        };
        cb.connected = [this](SessionKey k, const l2tp::engine::ConnectInfo& i) {
            lns_connect = i;
            start_lns_ppp(k);
        };
        cb.failed = [this](SessionKey, const l2tp::engine::CallFailure& f) { failures.push_back(f); };
        cb.ppp_frame = [this](SessionKey, std::span<const std::uint8_t> f) {
            if (!lns_link) return;
            if (f.size() >= 2 && f[0] == 0xFF && f[1] == 0x03) f = f.subspan(2);
            std::vector<std::uint8_t> copy(f.begin(), f.end());
            loop.timers().arm(0ms, [this, copy] { if (lns_link) lns_link->receive(copy); });
        };
        lns = std::make_unique<Engine>(loop.timers(), registry, bus, lns_cfg, cb);
        lac->start();
        cpe->start();
        loop.advance(10ms);
    }
    void start_lns_ppp(SessionKey k) {
        ppp::engine::LinkCallbacks cb;
        cb.send = [this, k](std::uint16_t proto, std::vector<std::uint8_t> info) {
            std::vector<std::uint8_t> f{0xFF, 0x03, static_cast<std::uint8_t>(proto >> 8), static_cast<std::uint8_t>(proto)};
            f.insert(f.end(), info.begin(), info.end());
            lns->send_ppp(k, f);
        };
        cb.verify = [this](std::uint32_t ticket, const ppp::engine::Credentials& cr) {
            bool ok = cr.user == "cpe-remote" || cr.user == "cpe-remote@example.com";
            if (cr.method == ppp::engine::AuthMethod::chap_md5) {
                auto want = ppp::chap_md5_response(cr.chap_id, std::string_view("cpe-pass"), cr.challenge);
                ok = ok && std::equal(want.begin(), want.end(), cr.response.begin(), cr.response.end());
            } else {
                ok = ok && cr.password == "cpe-pass";
            }
            loop.timers().arm(0ms, [this, ticket, ok] { lns_link->verify_result(ticket, {ok, ok ? "ok" : "no"}); });
        };
        cb.network_up = [this](const ppp::engine::NetworkInfo&) { lns_network_up = true; };
        cb.deliver = [this](std::uint16_t proto, std::span<const std::uint8_t> p) {
            if (proto == 0x0021) lns_ipv4.emplace_back(p.begin(), p.end());
        };
        lns_link = std::make_unique<ppp::engine::Link>(lns_ppp, cb, core::FsmEnv{&bus, &loop.timers(), &registry}, "lns");
        if (lns_connect && lns_connect->incoming && lns_connect->incoming->last_sent_lcp_confreq) {
            // Seed 003 "Sequence of Events on the LNS": proxy LCP, then proxy authentication.
            const auto& ic = *lns_connect->incoming;
            proxy_lcp_accepted = lns_link->open_with_proxy_lcp(*ic.last_sent_lcp_confreq, *ic.last_received_lcp_confreq);
            ppp::engine::Credentials cr;
            cr.method = ic.proxy_authen_type == 2 ? ppp::engine::AuthMethod::chap_md5 : ppp::engine::AuthMethod::pap;
            cr.user = ic.proxy_authen_name.value_or("");
            cr.chap_id = ic.proxy_authen_id.value_or(0);
            if (ic.proxy_authen_challenge) cr.challenge = *ic.proxy_authen_challenge;
            if (ic.proxy_authen_response) {
                cr.response = *ic.proxy_authen_response;
                if (cr.method == ppp::engine::AuthMethod::pap) cr.password.assign(cr.response.begin(), cr.response.end());
            }
            lns_link->proxy_authentication(cr);
        } else {
            lns_link->open();
        }
    }
    void dial(std::uint32_t bearer = l2tp::kBearerDigital) {
        l2tp::engine::OutgoingCall oc;
        oc.called_number = "5551000";
        oc.bearer_type = bearer;
        key = lns->place_outgoing_call(kLacPeer, oc);
    }
};

cpe::SiteConfig site() {
    cpe::SiteConfig s;
    s.number = "5551000";
    s.require_auth = AuthPreference::chap;  // the CPE authenticates the LNS too
    s.users = {{"lns", "lns-secret"}};
    return s;
}
}  // namespace

TEST(Cpe, MutualChapAndIpcpThroughLacAndExchange) {
    Chain c(site());
    c.dial();
    c.loop.advance(5s);
    EXPECT_TRUE(c.lns_network_up);
    EXPECT_EQ(c.cpe->network_up_count(), 1u);
    auto st = c.cpe->state()["sites"][0]["call"];
    EXPECT_EQ(st["ipcp"], "Opened");
    EXPECT_EQ(st["local_ip"], "198.18.0.2");
    EXPECT_EQ(st["peer_name"], "lns");
    EXPECT_EQ(c.lns_link->negotiated().peer_name, "cpe-remote");
    EXPECT_EQ(c.lns_link->negotiated().we_authenticate, ppp::engine::AuthMethod::chap_md5);
    EXPECT_EQ(c.lns_link->negotiated().peer_authenticates, ppp::engine::AuthMethod::chap_md5);
}

TEST(Cpe, AnalogBearerAsyncHdlcWithPap) {
    auto s = site();
    s.require_auth = AuthPreference::pap;
    Chain c(s);
    c.lns_ppp.require_auth = AuthPreference::pap;
    c.dial(l2tp::kBearerAnalog);
    c.loop.advance(5s);
    EXPECT_TRUE(c.lns_network_up);
    EXPECT_EQ(c.cpe->network_up_count(), 1u);
    EXPECT_EQ(c.cpe->state()["sites"][0]["call"]["bearer"], "analog");
}

TEST(Cpe, WrongPasswordFailsAuthenticationAndClearsTheCall) {
    auto s = site();
    s.fault = cpe::Fault::wrong_password;
    Chain c(s);
    c.dial();
    c.loop.advance(10s);
    EXPECT_FALSE(c.lns_network_up);
    EXPECT_EQ(c.cpe->network_up_count(), 0u);
    EXPECT_GE(c.lns_link->counters().auth_failures, 1u);
}

TEST(Cpe, RefuseAuthNeverReachesNetwork) {
    auto s = site();
    s.fault = cpe::Fault::refuse_auth;
    Chain c(s);
    c.dial();
    c.loop.advance(60s);
    EXPECT_FALSE(c.lns_network_up);
    EXPECT_NE(c.lns_link->lcp_state(), ppp::engine::CpState::opened);
}

TEST(Cpe, NoLcpLeavesLnsInReqSent) {
    auto s = site();
    s.fault = cpe::Fault::no_lcp;
    Chain c(s);
    c.dial();
    c.loop.advance(2s);
    ASSERT_TRUE(c.lns_link);
    EXPECT_EQ(c.lns_link->lcp_state(), ppp::engine::CpState::req_sent);
    EXPECT_FALSE(c.lns_network_up);
}

TEST(Cpe, BusyAndNoAnswerFaultsGiveCdn) {
    auto s = site();
    s.fault = cpe::Fault::busy;
    Chain c(s);
    c.dial();
    c.loop.advance(2s);
    ASSERT_EQ(c.failures.size(), 1u);
    EXPECT_EQ(c.failures[0].result, 8);
    EXPECT_EQ(c.failures[0].q931->cause_code, 17);

    auto s2 = site();
    s2.fault = cpe::Fault::no_answer;
    Chain c2(s2);
    c2.dial();
    c2.loop.advance(40s);
    ASSERT_EQ(c2.failures.size(), 1u);
    EXPECT_EQ(c2.failures[0].result, 10);
    EXPECT_EQ(c2.failures[0].q931->cause_code, 19);
}

TEST(Cpe, HangupReleasesAndLnsGetsCdn) {
    Chain c(site());
    c.dial();
    c.loop.advance(5s);
    ASSERT_TRUE(c.lns_network_up);
    ASSERT_TRUE(c.cpe->hangup("5551000"));
    c.loop.advance(1s);
    ASSERT_EQ(c.failures.size(), 1u);
    EXPECT_EQ(c.failures[0].result, 1);  // loss of carrier after CONNECT
    EXPECT_EQ(c.cpe->network_up_count(), 0u);
}

TEST(Cpe, SiteConfigFromJson) {
    auto s = cpe::SiteConfig::from_json({{"number", "5551000"}, {"auth", {"chap"}}, {"require_auth", "pap"},
                                         {"local_ip", "10.10.1.254"}, {"fault", "no-lcp"}});
    EXPECT_FALSE(s.allow_pap);
    EXPECT_TRUE(s.allow_chap);
    EXPECT_EQ(s.local_ip, 0x0A0A01FEu);
    EXPECT_EQ(s.fault, cpe::Fault::no_lcp);
    EXPECT_THROW(cpe::SiteConfig::from_json({{"number", "x"}}), std::invalid_argument);
    EXPECT_THROW(cpe::SiteConfig::from_json({{"number", "1"}, {"fault", "explode"}}), std::invalid_argument);
    EXPECT_LE(cpe::Cpe::call_footprint(), 256u);
    RecordProperty("cpe_call_bytes", static_cast<int>(cpe::Cpe::call_footprint()));
    RecordProperty("cpe_site_bytes", static_cast<int>(cpe::Cpe::site_footprint()));
    RecordProperty("ppp_link_bytes", static_cast<int>(ppp::engine::Link::footprint()));
}

TEST(Cpe, DialsInAndLacTunnelsWithProxyLcpAndProxyChap) {
    // Seed 003 "Sequence of Events on the LAC": the CPE calls the LAC, LCP + CHAP with the LAC,
    // the domain selects the LNS, ICRQ/ICCN carry proxy LCP and proxy authentication.
    auto s = site();
    s.name = "cpe-remote@example.com";
    s.require_auth = AuthPreference::none;
    lac::LacConfig lc;
    lc.domains = {{"example.com", kLnsPeer}};
    Chain c(s, lc);
    ASSERT_TRUE(c.cpe->dial("5551000", "1701"));
    c.loop.advance(5s);
    ASSERT_TRUE(c.lns_connect);
    ASSERT_TRUE(c.lns_connect->incoming);
    const auto& ic = *c.lns_connect->incoming;
    EXPECT_EQ(ic.calling_number, "5551000");
    EXPECT_EQ(ic.called_number, "1701");
    EXPECT_EQ(ic.proxy_authen_type, 2);
    EXPECT_EQ(ic.proxy_authen_name, "cpe-remote@example.com");
    ASSERT_TRUE(ic.proxy_authen_challenge && ic.proxy_authen_response);
    EXPECT_EQ(ic.proxy_authen_response->size(), 16u);
    ASSERT_TRUE(ic.initial_received_lcp_confreq && ic.last_sent_lcp_confreq && ic.last_received_lcp_confreq);
    EXPECT_TRUE(c.proxy_lcp_accepted);
    EXPECT_EQ(c.lac->counters().tunnelled, 1u);
    EXPECT_TRUE(c.lns_network_up);
    EXPECT_EQ(c.cpe->network_up_count(), 1u);
    EXPECT_EQ(c.cpe->state()["sites"][0]["call"]["local_ip"], "198.18.0.2");
}

TEST(Cpe, DialInWithUnknownDomainIsRefused) {
    auto s = site();
    s.name = "someone@elsewhere.org";
    s.require_auth = AuthPreference::none;
    lac::LacConfig lc;
    lc.domains = {{"example.com", kLnsPeer}};
    Chain c(s, lc);
    ASSERT_TRUE(c.cpe->dial("5551000", "1701"));
    c.loop.advance(5s);
    EXPECT_FALSE(c.lns_connect);
    EXPECT_EQ(c.lac->counters().refused_domain, 1u);
    EXPECT_EQ(c.cpe->network_up_count(), 0u);
}

// ---- per-site TUN (sans-I/O side): a fake device records what the core asks for ----------------

namespace {
struct FakeTunLog {
    int opened = 0, closed = 0;
    std::optional<cpe::TunConfig> config;
    std::uint32_t local_ip = 0, peer_ip = 0;
    std::vector<std::vector<std::uint8_t>> written;
    std::function<void(std::span<const std::uint8_t>)> from_tun;
};
struct FakeTun : cpe::SiteTun {
    FakeTunLog& log;
    explicit FakeTun(FakeTunLog& l) : log(l) {}
    ~FakeTun() override { ++log.closed; }
    bool write(std::span<const std::uint8_t> p) override {
        log.written.emplace_back(p.begin(), p.end());
        return true;
    }
};
cpe::TunFactory fake_factory(FakeTunLog& log) {
    return [&log](const cpe::TunRequest& r) -> std::unique_ptr<cpe::SiteTun> {
        ++log.opened;
        log.config = r.config;
        log.local_ip = r.local_ip;
        log.peer_ip = r.peer_ip;
        log.from_tun = r.from_tun;
        return std::make_unique<FakeTun>(log);
    };
}
cpe::SiteConfig tun_site() {
    auto s = site();
    s.tun = cpe::TunConfig::from_json(nlohmann::json{{"name", "cpe0"}, {"routes", {"203.0.113.0/24", "192.0.2.0/24"}}});
    return s;
}
const std::vector<std::uint8_t> kPing{0x45, 0, 0, 20, 0, 1, 0, 0, 64, 1, 0, 0, 203, 0, 113, 10, 10, 10, 1, 1};
const std::vector<std::uint8_t> kReply{0x45, 0, 0, 20, 0, 2, 0, 0, 64, 1, 0, 0, 10, 10, 1, 1, 203, 0, 113, 10};
}  // namespace

TEST(CpeTun, ConfigFromJson) {
    auto t = cpe::TunConfig::from_json(nlohmann::json{{"name", "cpe0"}, {"routes", {"203.0.113.0/24", "default"}}, {"mtu", "1400"}});
    EXPECT_EQ(t.name, "cpe0");
    ASSERT_EQ(t.routes.size(), 2u);
    EXPECT_EQ(t.routes[0].to_string(), "203.0.113.0/24");
    EXPECT_EQ(t.routes[1].to_string(), "0.0.0.0/0");
    EXPECT_EQ(t.mtu, 1400);
    auto bad = [](nlohmann::json j, const char* key) {
        try {
            cpe::TunConfig::from_json(j);
            ADD_FAILURE() << "accepted " << j.dump();
        } catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
        }
    };
    bad({{"routes", nlohmann::json::array()}}, "tun");
    bad({{"name", "a-very-long-tun-name"}}, "tun.name");
    bad({{"name", "cpe0"}, {"routes", {"203.0.113.1/24"}}}, "tun.routes");
    bad({{"name", "cpe0"}, {"routes", {"nonsense"}}}, "tun.routes");
    bad({{"name", "cpe0"}, {"mtu", 20}}, "tun.mtu");
    bad({{"name", "cpe0"}, {"colour", "red"}}, "tun.colour");
    auto s = cpe::SiteConfig::from_json(nlohmann::json{{"number", "5551000"}, {"tun", {{"name", "cpe0"}}}});
    ASSERT_TRUE(s.tun);
    EXPECT_TRUE(s.tun->routes.empty());
}

TEST(CpeTun, IpcpUpOpensTunAndIpv4FlowsBothWaysUntilTheCallEnds) {
    FakeTunLog log;
    Chain c(tun_site());
    c.cpe->set_tun_factory(fake_factory(log));
    // Before any call: a packet read from the TUN is dropped and counted.
    EXPECT_FALSE(c.cpe->from_tun("5551000", kReply));
    EXPECT_EQ(c.cpe->tun_counters("5551000")->from_tun_dropped, 1u);
    c.dial();
    c.loop.advance(5s);
    ASSERT_TRUE(c.lns_network_up);
    ASSERT_EQ(log.opened, 1);
    EXPECT_EQ(log.config->name, "cpe0");
    EXPECT_EQ(log.local_ip, 0xC6120002u);  // IPCP local address 198.18.0.2
    EXPECT_EQ(log.peer_ip, 0xC6120001u);   // peer 198.18.0.1
    EXPECT_EQ(c.cpe->state()["sites"][0]["tun"]["up"], true);

    // LNS -> CPE: IPv4 (Protocol 0x0021) delivered by the site's PPP link is written to the TUN.
    std::vector<std::uint8_t> f{0xFF, 0x03, 0x00, 0x21};
    f.insert(f.end(), kPing.begin(), kPing.end());
    c.lns->send_ppp(*c.key, f);
    c.loop.advance(1s);
    ASSERT_EQ(log.written.size(), 1u);
    EXPECT_EQ(log.written[0], kPing);

    // CPE -> LNS: a packet read from the TUN goes over the link.
    log.from_tun(kReply);
    c.loop.advance(1s);
    ASSERT_EQ(c.lns_ipv4.size(), 1u);
    EXPECT_EQ(c.lns_ipv4[0], kReply);
    auto t = c.cpe->state()["sites"][0]["tun"];
    EXPECT_EQ(t["to_tun"], 1);
    EXPECT_EQ(t["from_tun"], 1);
    EXPECT_EQ(t["from_tun_dropped"], 1);
    EXPECT_EQ(t["opened"], 1);

    // The call ends: the TUN is removed, later reads are dropped.
    ASSERT_TRUE(c.cpe->hangup("5551000"));
    c.loop.advance(1s);
    EXPECT_EQ(log.closed, 1);
    EXPECT_EQ(c.cpe->state()["sites"][0]["tun"]["up"], false);
    log.from_tun(kReply);
    EXPECT_EQ(c.cpe->tun_counters("5551000")->from_tun_dropped, 2u);
    EXPECT_EQ(c.lns_ipv4.size(), 1u);
}

TEST(CpeTun, FailedTunIsCountedAndIpv4Dropped) {
    Chain c(tun_site());
    c.cpe->set_tun_factory([](const cpe::TunRequest&) -> std::unique_ptr<cpe::SiteTun> {
        throw std::runtime_error("TUN cpe0: open /dev/net/tun: Permission denied");
    });
    c.dial();
    c.loop.advance(5s);
    ASSERT_TRUE(c.lns_network_up);  // PPP itself is unaffected
    std::vector<std::uint8_t> f{0xFF, 0x03, 0x00, 0x21};
    f.insert(f.end(), kPing.begin(), kPing.end());
    c.lns->send_ppp(*c.key, f);
    c.loop.advance(1s);
    auto t = c.cpe->state()["sites"][0]["tun"];
    EXPECT_EQ(t["up"], false);
    EXPECT_EQ(t["open_errors"], 1);
    EXPECT_EQ(t["to_tun_dropped"], 1);
    EXPECT_NE(t["last_error"].get<std::string>().find("Permission denied"), std::string::npos);
}

TEST(CpeTun, SiteWithoutTunDropsIpv4AndShowsNoTun) {
    FakeTunLog log;
    Chain c(site());
    c.cpe->set_tun_factory(fake_factory(log));
    c.dial();
    c.loop.advance(5s);
    ASSERT_TRUE(c.lns_network_up);
    std::vector<std::uint8_t> f{0xFF, 0x03, 0x00, 0x21};
    f.insert(f.end(), kPing.begin(), kPing.end());
    c.lns->send_ppp(*c.key, f);
    c.loop.advance(1s);
    EXPECT_EQ(log.opened, 0);
    EXPECT_EQ(c.cpe->tun_counters("5551000")->to_tun_dropped, 1u);
    EXPECT_FALSE(c.cpe->state()["sites"][0].contains("tun"));
}
