// cpe-emu core end to end in virtual time: an LNS (L2TP engine in LNS role + PPP Link as
// authenticator) places an outgoing call through the LAC core and the exchange to a CPE site, and
// PPP runs through L2TP and the B-channel up to IPCP; failure injection breaks the right phase.
#include "dl/cpe/cpe.hpp"

#include <gtest/gtest.h>

#include "dl/core/event.hpp"
#include "dl/isdn/exchange.hpp"
#include "dl/lac/lac.hpp"
#include "dl/ppp/auth.hpp"
#include "dl/radius/auth.hpp"
#include "dl/radius/client/client.hpp"

using namespace dl;
using namespace std::chrono_literals;
using l2tp::engine::Engine;
using l2tp::engine::SessionKey;
using ppp::engine::AuthPreference;

namespace {
constexpr l2tp::engine::PeerId kLnsPeer = 1, kLacPeer = 2;
constexpr isdn::Exchange::EndpointId kLacEp = 1, kCpeEp = 2;
constexpr radius::client::Endpoint kRadiusServer{0xC000020A, 1812};  // 192.0.2.10

/// A scripted RADIUS server for the peers' own RADIUS: every request the client sends is parsed
/// and kept; `answer` (unless `silent`) gives the reply's Code and attributes, which is signed
/// (Message-Authenticator, Response Authenticator) and delivered after `delay`.
struct ScriptedRadius {
    std::string secret = "radius-secret";
    core::Duration delay = 20ms;
    bool silent = false;
    std::vector<radius::Radius> requests;
    std::function<radius::Radius(const radius::Radius&)> answer = [](const radius::Radius&) {
        return radius::Radius(radius::Code::Access_Reject);
    };
};

struct Chain {
    core::VirtualTimeLoop loop;
    core::EventBus bus{loop.clock()};
    core::TimerRegistry registry;
    // The LAC's and the CPE's own RADIUS: one client (outliving the LAC and the CPE), one scripted
    // server; Tunnel-Server-Endpoint 198.51.100.1 resolves to the LNS, others are refused.
    ScriptedRadius rs;
    std::unique_ptr<radius::client::Client> radius_client;
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
    std::vector<lac::RadiusTunnel> resolved;  // tunnels the LAC asked to resolve (RADIUS domains)

    explicit Chain(cpe::SiteConfig site, lac::LacConfig lac_cfg_in = {}) {
        l2tp::engine::register_l2tp_timers(registry);
        core::register_well_known_timers(registry);
        radius::client::register_timers(registry);
        radius_client = std::make_unique<radius::client::Client>(
            loop.timers(), registry, &bus, [this](const radius::client::Endpoint& to, std::span<const std::uint8_t> d) {
                radius::Radius req(d.data(), static_cast<std::uint32_t>(d.size()));
                rs.requests.push_back(req);
                if (rs.silent) return;
                radius::Radius reply = rs.answer(req);
                reply.identifier(req.identifier());
                radius::add_message_authenticator(reply);
                radius::sign_response(reply, req.authenticator(), rs.secret);
                std::vector<std::uint8_t> bytes;
                radius::serialize_into(reply, bytes);
                loop.timers().arm(rs.delay, [this, to, bytes] { radius_client->on_datagram(to, bytes); });
            });
        radius_client->set_servers("peer", {.authentication = {{kRadiusServer, rs.secret, true}}});
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
        cpe->bind_radius(*radius_client, {core::Ipv4Address{0xC6336403}, "cpe-emu"});
        cpe->add_site(std::move(site));
        lac->bind_radius(*radius_client, [this](const lac::RadiusTunnel& t) -> lac::PeerChoice {
            resolved.push_back(t);
            if (t.server_endpoint == "198.51.100.1") return {kLnsPeer, {}};
            return {std::nullopt, "unknown LNS"};
        });
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
        cb.call_ended = [this](SessionKey, const l2tp::engine::CallFailure& f) { failures.push_back(f); };
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
            // JunosE "Implementing L2TP" "Sequence of Events on the LNS": proxy LCP, then proxy authentication.
            const auto& ic = *lns_connect->incoming;
            ppp::engine::Credentials cr;
            cr.method = ic.proxy_authen_type == 2 ? ppp::engine::AuthMethod::chap_md5 : ppp::engine::AuthMethod::pap;
            cr.user = ic.proxy_authen_name.value_or("");
            cr.chap_id = ic.proxy_authen_id.value_or(0);
            if (ic.proxy_authen_challenge) cr.challenge = *ic.proxy_authen_challenge;
            if (ic.proxy_authen_response) {
                cr.response = *ic.proxy_authen_response;
                if (cr.method == ppp::engine::AuthMethod::pap) cr.password.assign(cr.response.begin(), cr.response.end());
            }
            proxy_lcp_accepted = lns_link->open_with_proxy_lcp(
                *ic.last_sent_lcp_confreq, *ic.last_received_lcp_confreq,
                ic.proxy_authen_type ? cr.method : ppp::engine::AuthMethod::none);
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

// req: PEER.hangup
TEST(Cpe, HangupReleasesAndLnsGetsCdn) {
    Chain c(site());
    c.dial();
    c.loop.advance(5s);
    ASSERT_TRUE(c.lns_network_up);
    ASSERT_TRUE(c.cpe->hangup("5551000"));
    c.loop.advance(1s);
    ASSERT_EQ(c.failures.size(), 1u);
    EXPECT_EQ(c.failures[0].result, 1);  // loss of carrier after CONNECT
    EXPECT_EQ(c.failures[0].q931->cause_code, 16) << "default cause: normal clearing";
    EXPECT_EQ(c.cpe->network_up_count(), 0u);
    EXPECT_FALSE(c.cpe->hangup("5551000")) << "no call any more";
}

// req: PEER.hangup
TEST(Cpe, HangupCarriesTheNamedCause) {
    Chain c(site());
    c.dial();
    c.loop.advance(5s);
    ASSERT_TRUE(c.lns_network_up);
    ASSERT_TRUE(c.cpe->hangup("5551000", 41));
    c.loop.advance(1s);
    ASSERT_EQ(c.failures.size(), 1u);
    ASSERT_TRUE(c.failures[0].q931);
    EXPECT_EQ(c.failures[0].q931->cause_code, 41) << "the RELEASE cause reaches the LNS in the Q.931 Cause AVP";
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
    // JunosE "Implementing L2TP" "Sequence of Events on the LAC": the CPE calls the LAC, LCP + CHAP with the LAC,
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

// ---- the peers' own RADIUS (JunosE "Implementing L2TP" "Sequence of Events on the LAC") -----------------

namespace {
using radius::AttributeType;
using radius::Code;

/// Access-Accept with one RFC 2868 tunnel per entry (tag, endpoint, preference), Tunnel-Password
/// on each, encrypted for the request's Authenticator.
radius::Radius tunnel_accept(const radius::Radius& req, const std::string& secret,
                             std::vector<std::tuple<std::uint8_t, std::string, std::uint32_t>> tunnels) {
    radius::Radius r(Code::Access_Accept);
    for (const auto& [tag, endpoint, pref] : tunnels) {
        r.add_integer(AttributeType::Tunnel_Type, 3, tag);
        r.add_integer(AttributeType::Tunnel_Medium_Type, 1, tag);
        r.add_string(AttributeType::Tunnel_Server_Endpoint, endpoint, tag);
        r.add(radius::tunnel_password_attribute(tag, "tunnel-pw", secret, req.authenticator()));
        r.add_integer(AttributeType::Tunnel_Preference, pref, tag);
        r.add_string(AttributeType::Tunnel_Assignment_Id, "lns-a", tag);
        r.add_string(AttributeType::Tunnel_Client_Auth_Id, "lac", tag);
    }
    return r;
}

/// A dialling site whose calls the LAC decides by RADIUS ("*" -> radius).
cpe::SiteConfig dialling_site(std::string name = "cpe-remote@example.com") {
    auto s = site();
    s.name = std::move(name);
    s.require_auth = AuthPreference::none;
    return s;
}
lac::LacConfig radius_lac(ppp::engine::AuthPreference auth = AuthPreference::chap) {
    lac::LacConfig lc;
    lc.radius_domains = {"*"};
    lc.radius_nas = {core::Ipv4Address{0xC6336402}, "lac-emu"};  // 198.51.100.2
    lc.incoming_auth = auth;
    return lc;
}
}  // namespace

// req: PEER.lac-radius
TEST(LacRadius, ChapClientTunnelledToTheEndpointOfTheAccessAccept) {
    Chain c(dialling_site(), radius_lac());
    core::EventRecorder rec{c.bus, core::EventFilter{"lac.incoming", ""}};
    c.rs.answer = [&](const radius::Radius& req) {
        // Tag 2 is preferred (RFC 2868 §3.8) but unreachable: the LAC falls back to tag 1.
        return tunnel_accept(req, c.rs.secret, {{1, "198.51.100.1", 5}, {2, "203.0.113.9", 1}});
    };
    ASSERT_TRUE(c.cpe->dial("5551000", "1701"));
    c.loop.advance(5s);

    ASSERT_EQ(c.rs.requests.size(), 1u) << "one Access-Request per dial-in";
    const radius::Radius& q = c.rs.requests[0];
    EXPECT_EQ(q.code(), Code::Access_Request);
    EXPECT_EQ(q.get_string(AttributeType::User_Name), "cpe-remote@example.com");
    const auto chap = q.get_octets(AttributeType::CHAP_Password);
    ASSERT_TRUE(chap) << "CHAP client: CHAP-Password (RFC 2865 §5.3)";
    EXPECT_TRUE(radius::verify_chap_password(*chap, "cpe-pass", radius::chap_challenge(q)))
        << "CHAP-Password + CHAP-Challenge are the client's response to the LAC's challenge";
    EXPECT_TRUE(q.get_octets(AttributeType::CHAP_Challenge)) << "CHAP-Challenge (RFC 2865 §5.40)";
    EXPECT_FALSE(q.find(AttributeType::User_Password)) << "no User-Password with CHAP";
    EXPECT_EQ(q.get_integer(AttributeType::NAS_Port_Type), 2u) << "digital bearer: ISDN Sync (RFC 2865 §5.41)";
    EXPECT_EQ(q.get_integer(AttributeType::Service_Type), 2u) << "Framed";
    EXPECT_EQ(q.get_integer(AttributeType::Framed_Protocol), 1u) << "PPP";
    EXPECT_EQ(q.get_string(AttributeType::Called_Station_Id), "1701");
    EXPECT_EQ(q.get_string(AttributeType::Calling_Station_Id), "5551000");
    EXPECT_EQ(q.get_string(AttributeType::NAS_Identifier), "lac-emu");
    EXPECT_TRUE(q.find(80)) << "Message-Authenticator on every Access-Request (RFC 3579 §3.2)";

    ASSERT_EQ(c.resolved.size(), 2u) << "both tunnels offered to the resolver, preferred first";
    EXPECT_EQ(c.resolved[0].server_endpoint, "203.0.113.9");
    EXPECT_EQ(c.resolved[1].server_endpoint, "198.51.100.1");
    EXPECT_EQ(c.resolved[1].password, "tunnel-pw") << "Tunnel-Password decrypted (RFC 2868 §3.5)";
    EXPECT_EQ(c.resolved[1].assignment_id, "lns-a");
    EXPECT_EQ(c.resolved[1].client_auth_id, "lac");
    EXPECT_EQ(c.resolved[1].preference, 5u);

    ASSERT_TRUE(c.lns_connect && c.lns_connect->incoming) << "ICRQ/ICCN reached the LNS of the Access-Accept";
    EXPECT_EQ(c.lns_connect->incoming->proxy_authen_name, "cpe-remote@example.com");
    EXPECT_EQ(c.lns_connect->incoming->proxy_authen_type, 2) << "proxy CHAP";
    EXPECT_EQ(c.lac->counters().radius_requests, 1u);
    EXPECT_EQ(c.lac->counters().radius_accepts, 1u);
    EXPECT_EQ(c.lac->counters().tunnelled, 1u);
    EXPECT_TRUE(c.lns_network_up) << "the LNS accepted the proxy data and IPCP came up";
    EXPECT_EQ(c.cpe->network_up_count(), 1u);
    EXPECT_EQ(rec.count("radius-request"), 1u);
    ASSERT_EQ(rec.count("tunnel"), 1u);
    for (const auto& e : rec.events())
        if (e.event == "tunnel") {
            EXPECT_NE(e.cause.find("Tunnel-Server-Endpoint 198.51.100.1"), std::string::npos) << e.cause;
        }
}

// req: PEER.lac-radius
TEST(LacRadius, PapClientPasswordHiddenInUserPassword) {
    Chain c(dialling_site(), radius_lac(AuthPreference::pap));
    std::optional<std::string> seen;
    c.rs.answer = [&](const radius::Radius& req) {
        seen = radius::user_password(req, c.rs.secret);
        return tunnel_accept(req, c.rs.secret, {{1, "198.51.100.1", 1}});
    };
    ASSERT_TRUE(c.cpe->dial("5551000", "1701"));
    c.loop.advance(5s);
    EXPECT_EQ(seen, "cpe-pass") << "PAP password sent as User-Password hidden with the server secret (RFC 2865 §5.2)";
    ASSERT_EQ(c.rs.requests.size(), 1u);
    EXPECT_FALSE(c.rs.requests[0].find(AttributeType::CHAP_Password));
    ASSERT_TRUE(c.lns_connect && c.lns_connect->incoming);
    EXPECT_EQ(c.lns_connect->incoming->proxy_authen_type, 3) << "proxy PAP";
    EXPECT_EQ(c.cpe->network_up_count(), 1u);
}

// req: PEER.lac-radius
TEST(LacRadius, AnalogCallAsksWithNasPortTypeAsync) {
    Chain c(dialling_site(), radius_lac());
    c.rs.answer = [&](const radius::Radius& req) { return tunnel_accept(req, c.rs.secret, {{1, "198.51.100.1", 1}}); };
    ASSERT_TRUE(c.cpe->dial("5551000", "1701", isdn::Bearer::analog));
    c.loop.advance(5s);
    ASSERT_EQ(c.rs.requests.size(), 1u);
    EXPECT_EQ(c.rs.requests[0].get_integer(AttributeType::NAS_Port_Type), 0u) << "analog bearer: Async";
    EXPECT_EQ(c.cpe->network_up_count(), 1u);
}

// req: PEER.lac-radius-refuse
TEST(LacRadius, AccessRejectRefusesTheCallAndTheClientIsReleased) {
    Chain c(dialling_site(), radius_lac());
    core::EventRecorder rec{c.bus, core::EventFilter{"lac.incoming", ""}};
    core::EventRecorder cpe_rec{c.bus, core::EventFilter{"cpe.call", "5551000"}};
    c.rs.answer = [](const radius::Radius&) { return radius::Radius(Code::Access_Reject); };
    ASSERT_TRUE(c.cpe->dial("5551000", "1701"));
    c.loop.advance(10s);
    EXPECT_FALSE(c.lns_connect) << "no ICRQ for a rejected user";
    EXPECT_EQ(c.lac->counters().refused_radius_reject, 1u);
    EXPECT_EQ(c.lac->counters().tunnelled, 0u);
    EXPECT_TRUE(c.resolved.empty());
    ASSERT_EQ(rec.count("refused"), 1u);
    for (const auto& e : rec.events())
        if (e.event == "refused") {
            EXPECT_EQ(e.cause, "RADIUS: Access-Reject");
        }
    EXPECT_EQ(cpe_rec.count("link-down"), 1u) << "the client's PPP saw the authentication fail";
    EXPECT_EQ(cpe_rec.count("released"), 1u) << "the LAC released the ISDN call";
    EXPECT_FALSE(c.cpe->state()["sites"][0].contains("call")) << "the site is idle again";
}

// req: PEER.lac-radius-refuse
TEST(LacRadius, AcceptWithoutUsableTunnelIsRefused) {
    Chain c(dialling_site(), radius_lac());
    core::EventRecorder rec{c.bus, core::EventFilter{"lac.incoming", ""}};
    c.rs.answer = [](const radius::Radius&) {
        radius::Radius r(Code::Access_Accept);
        r.add_integer(AttributeType::Service_Type, 2);
        return r;
    };
    ASSERT_TRUE(c.cpe->dial("5551000", "1701"));
    c.loop.advance(10s);
    EXPECT_FALSE(c.lns_connect);
    EXPECT_EQ(c.lac->counters().radius_accepts, 1u);
    EXPECT_EQ(c.lac->counters().refused_radius_no_tunnel, 1u);
    bool named = false;
    for (const auto& e : rec.events())
        if (e.event == "refused") named = e.cause.find("no tunnel attributes") != std::string::npos;
    EXPECT_TRUE(named) << rec.text();
    EXPECT_FALSE(c.cpe->state()["sites"][0].contains("call"));
}

// req: PEER.lac-radius-refuse
TEST(LacRadius, UnreachableEndpointIsRefused) {
    Chain c(dialling_site(), radius_lac());
    c.rs.answer = [&](const radius::Radius& req) { return tunnel_accept(req, c.rs.secret, {{1, "lns.example", 1}}); };
    ASSERT_TRUE(c.cpe->dial("5551000", "1701"));
    c.loop.advance(10s);
    EXPECT_FALSE(c.lns_connect);
    EXPECT_EQ(c.lac->counters().refused_radius_endpoint, 1u);
    EXPECT_EQ(c.resolved.size(), 1u);
}

// req: PEER.lac-radius-refuse
TEST(LacRadius, SilentServerRefusesAfterRetransmissions) {
    Chain c(dialling_site(), radius_lac());
    c.rs.silent = true;
    ASSERT_TRUE(c.cpe->dial("5551000", "1701"));
    c.loop.advance(30s);
    EXPECT_EQ(c.rs.requests.size(), 4u) << "first send + 3 retransmissions (radius-timeout 3s)";
    EXPECT_EQ(c.lac->counters().refused_radius_timeout, 1u);
    EXPECT_FALSE(c.lns_connect);
    EXPECT_FALSE(c.cpe->state()["sites"][0].contains("call"));
}

// req: PEER.lac-radius-refuse
TEST(LacRadius, ClientHangsUpWhileRadiusIsAskedRequestCancelled) {
    Chain c(dialling_site(), radius_lac());
    c.rs.delay = 20s;  // the answer comes after the client has gone
    c.rs.answer = [&](const radius::Radius& req) { return tunnel_accept(req, c.rs.secret, {{1, "198.51.100.1", 1}}); };
    ASSERT_TRUE(c.cpe->dial("5551000", "1701"));
    c.loop.advance(2s);
    ASSERT_EQ(c.rs.requests.size(), 1u);
    ASSERT_TRUE(c.cpe->hangup("5551000"));
    c.loop.advance(30s);
    EXPECT_EQ(c.radius_client->counters().cancelled, 1u) << "the Access-Request is cancelled with the call";
    EXPECT_FALSE(c.lns_connect) << "a late Access-Accept does not tunnel a call that is gone";
    EXPECT_EQ(c.lac->counters().tunnelled, 0u);
}

// req: PEER.lac-radius
TEST(LacRadius, LocalTableWinsForItsDomainRadiusForTheRest) {
    auto lc = radius_lac();
    lc.domains = {{"example.com", kLnsPeer}};
    {
        Chain c(dialling_site("cpe-remote@example.com"), lc);
        ASSERT_TRUE(c.cpe->dial("5551000", "1701"));
        c.loop.advance(5s);
        EXPECT_TRUE(c.rs.requests.empty()) << "example.com is in the local table: RADIUS not asked";
        EXPECT_EQ(c.lac->counters().tunnelled, 1u);
    }
    {
        Chain c(dialling_site("cpe-remote@other.net"), lc);
        c.rs.answer = [&](const radius::Radius& req) { return tunnel_accept(req, c.rs.secret, {{1, "198.51.100.1", 1}}); };
        ASSERT_TRUE(c.cpe->dial("5551000", "1701"));
        c.loop.advance(5s);
        EXPECT_EQ(c.rs.requests.size(), 1u) << "other.net falls to \"*\" = RADIUS";
        EXPECT_EQ(c.lac->counters().tunnelled, 1u);
    }
}

// req: PEER.lac-radius
TEST(LacRadius, DecodeIncomingTunnelsNamesWhatIsWrong) {
    const radius::Authenticator ra{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    radius::Radius r(Code::Access_Accept);
    r.add_integer(AttributeType::Tunnel_Type, 1, 1);  // PPTP
    r.add_integer(AttributeType::Tunnel_Medium_Type, 1, 1);
    r.add_string(AttributeType::Tunnel_Server_Endpoint, "192.0.2.1", 1);
    r.add_integer(AttributeType::Tunnel_Type, 3, 2);
    r.add_integer(AttributeType::Tunnel_Medium_Type, 1, 2);  // no endpoint
    r.add_integer(AttributeType::Tunnel_Type, 3, 3);
    r.add_integer(AttributeType::Tunnel_Medium_Type, 2, 3);  // IPv6
    r.add_string(AttributeType::Tunnel_Server_Endpoint, "2001:db8::1", 3);
    r.add_integer(AttributeType::Tunnel_Type, 3, 4);
    r.add_integer(AttributeType::Tunnel_Medium_Type, 1, 4);
    r.add_string(AttributeType::Tunnel_Server_Endpoint, "192.0.2.4", 4);
    r.add(radius::tunnel_password_attribute(4, "pw4", "s", ra));
    const auto t = lac::decode_incoming_tunnels(r, "s", ra);
    ASSERT_EQ(t.tunnels.size(), 1u);
    EXPECT_EQ(t.tunnels[0].tag, 4);
    EXPECT_EQ(t.tunnels[0].password, "pw4");
    ASSERT_EQ(t.problems.size(), 3u);
    EXPECT_EQ(t.problems[0], "tag 1: Tunnel-Type is 1, not L2TP (3)");
    EXPECT_EQ(t.problems[1], "tag 2: Tunnel-Server-Endpoint missing");
    EXPECT_EQ(t.problems[2], "tag 3: Tunnel-Medium-Type is 2, not IPv4 (1)");
    const auto wrong_secret = lac::decode_incoming_tunnels(r, "other", ra);
    EXPECT_TRUE(wrong_secret.tunnels.empty() || wrong_secret.tunnels[0].password != "pw4")
        << "a Tunnel-Password decrypted with the wrong secret is not the password";
    EXPECT_TRUE(lac::decode_incoming_tunnels(radius::Radius(Code::Access_Accept), "s", ra).tunnels.empty());
}

// req: PEER.cpe-radius
TEST(CpeRadius, LnsChapResponseAcceptedByTheCpesRadius) {
    auto s = site();
    s.lns_auth = cpe::LnsAuthSource::radius;
    s.users.clear();  // the table would refuse: only RADIUS can accept
    Chain c(s);
    c.rs.answer = [&](const radius::Radius& req) {
        const bool ok = req.get_string(AttributeType::User_Name) == "lns" &&
                        radius::verify_chap_password(*req.get_octets(AttributeType::CHAP_Password), "lns-secret",
                                                     radius::chap_challenge(req));
        return radius::Radius(ok ? Code::Access_Accept : Code::Access_Reject);
    };
    c.dial();
    c.loop.advance(5s);
    ASSERT_EQ(c.rs.requests.size(), 1u);
    const auto& q = c.rs.requests[0];
    EXPECT_EQ(q.get_string(AttributeType::Called_Station_Id), "5551000") << "the site";
    EXPECT_EQ(q.get_string(AttributeType::Calling_Station_Id), "1701") << "the LAC's number (the caller)";
    EXPECT_EQ(q.get_string(AttributeType::NAS_Identifier), "cpe-emu");
    EXPECT_EQ(q.get_integer(AttributeType::NAS_Port_Type), 2u);
    const auto* a = c.cpe->lns_auth_counters("5551000");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->accepted, 1u);
    EXPECT_EQ(a->radius_requests, 1u);
    EXPECT_TRUE(c.lns_network_up);
    EXPECT_EQ(c.cpe->network_up_count(), 1u);
    EXPECT_EQ(c.cpe->state()["sites"][0]["lns_auth"]["source"], "radius");
}

// req: PEER.cpe-radius
TEST(CpeRadius, LnsPapPasswordCheckedByRadius) {
    auto s = site();
    s.require_auth = AuthPreference::pap;
    s.lns_auth = cpe::LnsAuthSource::radius;
    Chain c(s);
    std::optional<std::string> seen;
    c.rs.answer = [&](const radius::Radius& req) {
        seen = radius::user_password(req, c.rs.secret);
        return radius::Radius(seen == "lns-secret" ? Code::Access_Accept : Code::Access_Reject);
    };
    c.dial();
    c.loop.advance(5s);
    EXPECT_EQ(seen, "lns-secret") << "the LNS's PAP password as User-Password";
    EXPECT_EQ(c.cpe->lns_auth_counters("5551000")->accepted, 1u);
    EXPECT_EQ(c.cpe->network_up_count(), 1u);
}

// req: PEER.cpe-radius
TEST(CpeRadius, LnsRejectedByRadiusNeverReachesNetwork) {
    auto s = site();
    s.lns_auth = cpe::LnsAuthSource::radius;  // the table has lns/lns-secret, but RADIUS decides
    Chain c(s);
    core::EventRecorder rec{c.bus, core::EventFilter{"cpe.auth", "5551000"}};
    c.rs.answer = [](const radius::Radius&) { return radius::Radius(Code::Access_Reject); };
    c.dial();
    c.loop.advance(10s);
    EXPECT_GE(c.rs.requests.size(), 1u);
    EXPECT_GE(c.cpe->lns_auth_counters("5551000")->rejected, 1u);
    EXPECT_EQ(c.cpe->lns_auth_counters("5551000")->accepted, 0u);
    EXPECT_FALSE(c.lns_network_up);
    EXPECT_EQ(c.cpe->network_up_count(), 0u);
    EXPECT_GE(rec.count("lns-rejected"), 1u) << rec.text();
    EXPECT_FALSE(c.failures.empty()) << "the LNS got a CDN when the CPE dropped the link";
}

// req: PEER.cpe-radius
TEST(CpeRadius, SilentServerMeansNoAnswerAndTheLinkFails) {
    auto s = site();
    s.lns_auth = cpe::LnsAuthSource::radius;
    Chain c(s);
    c.rs.silent = true;
    c.dial();
    c.loop.advance(40s);
    EXPECT_GE(c.cpe->lns_auth_counters("5551000")->no_answer, 1u);
    EXPECT_EQ(c.cpe->network_up_count(), 0u);
}

// req: PEER.cpe-radius
TEST(CpeRadius, ConfigAndBindingRules) {
    auto j = nlohmann::json{{"number", "5551000"}, {"require_auth", "chap"}, {"lns_auth", "radius"}};
    EXPECT_EQ(cpe::SiteConfig::from_json(j).lns_auth, cpe::LnsAuthSource::radius);
    j["lns_auth"] = "ldap";
    try {
        (void)cpe::SiteConfig::from_json(j);
        ADD_FAILURE() << "lns_auth ldap accepted";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("lns_auth"), std::string::npos) << e.what();
    }
    core::VirtualTimeLoop loop;
    core::EventBus bus{loop.clock()};
    core::TimerRegistry registry;
    cpe::Cpe unbound(loop.timers(), registry, bus, [](const isdn::Message&) {});
    auto s = site();
    s.lns_auth = cpe::LnsAuthSource::radius;
    EXPECT_THROW(unbound.add_site(s), std::invalid_argument) << "lns_auth radius needs a RADIUS client";
}
