// lnsd dial-out wiring in virtual time: trigger -> dial-out Access-Request (scripted home RADIUS)
// -> OCRQ through the Lns core to a LAC-role engine -> PPP between the LNS Link and a CPE Link
// carried over the L2TP session -> CPE authenticated by the scripted LNS RADIUS -> access routes
// -> inService -> IPv4 both ways. Deny reasons, call failure, hang-up, config and control commands.
#include "dl/lnsd/dialout_wiring.hpp"
#include "dl/testing/counting_new.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <iostream>

#include "dl/core/config.hpp"
#include "dl/core/control.hpp"
#include "dl/core/errors.hpp"
#include "dl/core/event.hpp"
#include "dl/dataplane/packet_batch.hpp"
#include "dl/l2tp/types.hpp"
#include "dl/ppp/auth.hpp"
#include "dl/ppp/control.hpp"
#include "dl/ppp/engine/link.hpp"
#include "dl/radius/auth.hpp"
#include "dl/radius/client/client.hpp"

using namespace dl;
using namespace std::chrono_literals;
namespace eng = dl::l2tp::engine;
namespace pe = dl::ppp::engine;
namespace rc = dl::radius::client;
using dl::radius::AttributeType;
using dl::radius::Code;
using dl::radius::ErxAttribute;
using dl::radius::Radius;

namespace {

core::Ipv4Address ip(const char* s) { return *core::Ipv4Address::parse(s); }
const eng::PeerId kLnsPeer = lnsd::peer_id(ip("198.51.100.1"), 1701);
const eng::PeerId kLacPeer = lnsd::peer_id(ip("198.51.100.2"), 1701);
constexpr rc::Endpoint kHome{0xC000020A, 1812};  // 192.0.2.10

constexpr const char* kConfig = R"(
local-address: 198.51.100.1
virtual-routers:
  - name: default
    tun: dlo0
    nas-ip-address: 192.0.2.1
    radius:
      authentication: [{address: 192.0.2.10, secret: home-secret}]
      accounting: [{address: 192.0.2.10, secret: home-secret}]
    lns-radius:
      authentication: [{address: 192.0.2.11, secret: lns-secret}]
ppp-profiles:
  isdn: {local-address: 198.18.0.1, dns: [192.0.2.53]}
dialout:
  timers: {trigger: 30s, dormant: 5m}
  profiles:
    isdn: {mru: 1500, authentication: chap, keepalive: 0s, ipcp-dns: true}
  targets:
    - {virtual-router: default, prefix: 10.10.0.0/16, domain: L2TP-dial-out.de.dt, profile: isdn,
       route-distinguisher: "0.0.0.0:65000"}
)";

/// An IPv4 header (RFC 791 §3.1) from `src` to `dst` plus `extra` octets.
std::vector<std::uint8_t> ipv4(const char* src, const char* dst, std::size_t extra = 8) {
    std::vector<std::uint8_t> p(20 + extra, 0);
    p[0] = 0x45;
    p[2] = static_cast<std::uint8_t>(p.size() >> 8);
    p[3] = static_cast<std::uint8_t>(p.size());
    p[8] = 64;
    p[9] = 1;
    const auto s = ip(src).value, d = ip(dst).value;
    for (int i = 0; i < 4; ++i) {
        p[12 + i] = static_cast<std::uint8_t>(s >> (24 - 8 * i));
        p[16 + i] = static_cast<std::uint8_t>(d >> (24 - 8 * i));
    }
    return p;
}

std::vector<std::uint8_t> wire(Radius& r) {
    std::vector<std::uint8_t> out;
    dl::radius::serialize_into(r, out);
    return out;
}

/// How the scripted home server answers the dial-out Access-Request.
enum class Home { accept, reject, framed_service, no_tunnel, silent };

struct World {
    core::VirtualTimeLoop loop;
    core::EventBus bus{loop.clock()};
    core::TimerRegistry registry;
    core::EventRecorder rec{bus, {"dialout.session", ""}};
    std::vector<std::string> wiring_log;  // what the test peers saw, in order

    // RADIUS
    Home home = Home::accept;
    std::uint32_t erx_auth_protocol = 1;  // ERX-PPP-Auth-Protocol in the Access-Accept
    pe::AuthPreference cpe_requires = pe::AuthPreference::pap;  // how the CPE checks the LNS
    bool cpe_known = true;
    std::optional<std::uint32_t> interim_attr;  // Acct-Interim-Interval in the LNS Access-Accept
    bool acct_silent = false;                    // the accounting server stops answering
    bool home_omits_message_authenticator = false;  // a pre-BlastRADIUS home server
    std::vector<Radius> home_requests, lns_requests;
    std::vector<std::string> lns_auth_methods;
    std::vector<Radius> acct_requests;
    std::unique_ptr<rc::Client> radius;

    // L2TP + PPP
    std::unique_ptr<lnsd::Lns> lns;
    std::unique_ptr<eng::Engine> lac;
    bool lac_busy = false;
    bool lac_unreachable = false;  // the LNS's datagrams to the LAC are lost (its link is down)
    bool lac_rings_forever = false;  // the LAC answers the OCRQ (OCRP) but never connects (no OCCN)
    std::vector<eng::OutgoingCall> ocrqs;
    std::optional<eng::SessionKey> lac_call;
    std::unique_ptr<pe::Link> cpe;
    bool auto_cpe = true;  // incoming calls: start the CPE Link when the LAC's call is up
    bool cpe_network = false;
    /// Set: the CPE's CHAP Response Value is cut or padded to this many octets on the wire
    /// (RFC 1994 §4.1 Value-Size; MD5 gives 16), a broken peer.
    std::optional<std::size_t> cpe_chap_response_size;
    std::vector<std::vector<std::uint8_t>> cpe_ipv4;
    std::vector<std::pair<std::uint16_t, std::vector<std::uint8_t>>> cpe_queue;

    // data plane
    std::vector<std::string> dp;
    std::string fail_route;  // add_dialout_route fails for this prefix
    std::vector<std::vector<std::uint8_t>> tun_out;
    bool tun_count_only = false;  // to_tun counts instead of copying (allocation-free measurement)
    std::size_t tun_count = 0;

    std::unique_ptr<lnsd::DialOutWiring> w;

    explicit World(const char* yaml = kConfig) {
        core::register_well_known_timers(registry);
        eng::register_l2tp_timers(registry);
        rc::register_timers(registry);
        const auto root = core::ConfigNode::parse(yaml);
        auto cfg = lnsd::load_config(root, registry);
        radius = std::make_unique<rc::Client>(loop.timers(), registry, &bus,
                                              [this](const rc::Endpoint& to, std::span<const std::uint8_t> d) {
                                                  radius_server(to, d);
                                              });
        lns = std::make_unique<lnsd::Lns>(
            loop.timers(), registry, bus, cfg,
            [this](eng::PeerId, std::vector<std::uint8_t> b) {
                if (lac_unreachable) return;
                loop.timers().arm(10ms, [this, b] { lac->receive(kLnsPeer, b); });
            },
            7);
        add_lac();
        lnsd::DataPlanePort port;
        port.add_routes = [this](const std::string& vr, std::span<const core::Ipv4Prefix> ps,
                                 std::uint64_t s) -> std::vector<std::optional<std::string>> {
            for (const auto& p : ps) dp.push_back("add " + vr + " " + p.to_string() + " session " + std::to_string(s));
            return std::vector<std::optional<std::string>>(ps.size());
        };
        port.remove_session = [this](const std::string& vr, std::uint64_t s) {
            dp.push_back("remove " + vr + " session " + std::to_string(s));
        };
        port.add_dialout_route = [this](const std::string& vr, core::Ipv4Prefix p) -> std::optional<std::string> {
            dp.push_back("dial-out route " + vr + " " + p.to_string());
            if (p.to_string() == fail_route) return "add route " + p.to_string() + " dev dlo0: No such device";
            return std::nullopt;
        };
        port.remove_dialout_route = [this](const std::string& vr, core::Ipv4Prefix p) {
            dp.push_back("remove dial-out route " + vr + " " + p.to_string());
        };
        port.to_tun = [this](const std::string&, std::span<const std::uint8_t> p) {
            if (tun_count_only) ++tun_count;
            else tun_out.emplace_back(p.begin(), p.end());
        };
        w = std::make_unique<lnsd::DialOutWiring>(loop.timers(), registry, bus, *lns, *radius,
                                                  lnsd::load_wiring_config(root), port);
        w->load_dialout(root["dialout"]);
    }
    ~World() {
        w.reset();
        cpe.reset();
    }

    void add_lac() {
        eng::EngineConfig ec;
        ec.host_name = "lac";
        ec.secret = "tunnel-pw";  // = Tunnel-Password of the Access-Accept
        ec.seed = 99;
        eng::EngineCallbacks cb;
        cb.send = [this](eng::PeerId, std::vector<std::uint8_t> b) {
            loop.timers().arm(10ms, [this, b] { lns->receive(kLacPeer, b); });
        };
        cb.ocrq = [this](eng::SessionKey k, const eng::OutgoingCall& c) {
            ocrqs.push_back(c);
            wiring_log.push_back("LAC OCRQ called=" + c.called_number);
            loop.timers().arm(50ms, [this, k] {
                lac->accept(k);
                if (lac_rings_forever) return;
                if (lac_busy) {
                    lac->disconnect(k, l2tp::CdnResult::Busy, std::nullopt, l2tp::Q931Cause{17, 0x5a, "busy"});
                    return;
                }
                lac->call_connected(k, 64000, l2tp::kFramingSync);
                lac_call = k;
                start_cpe(cpe_requires);
            });
        };
        cb.ppp_frame = [this](eng::SessionKey, std::span<const std::uint8_t> f) {
            if (!cpe) return;
            if (f.size() >= 2 && f[0] == 0xFF && f[1] == 0x03) f = f.subspan(2);
            cpe->receive(f);
        };
        cb.connected = [this](eng::SessionKey k, const eng::ConnectInfo&) {
            if (cpe || !auto_cpe) return;  // outgoing calls start the CPE from the OCRQ answer
            lac_call = k;
            start_cpe(pe::AuthPreference::none);  // incoming: the LNS has no credentials to give
        };
        cb.call_ended = [this](eng::SessionKey, const eng::CallFailure& f) {
            wiring_log.push_back("LAC call ended result=" + std::to_string(f.result) + " by " + to_string(f.ended_by));
            if (cpe) cpe->lower_down("call ended");
        };
        lac = std::make_unique<eng::Engine>(loop.timers(), registry, bus, ec, std::move(cb));
    }

    /// The CPE behind the LAC: authenticates the LNS with PAP (ERX-PPP-Username/Password), is
    /// authenticated by the LNS with CHAP (cpe-remote / cpe-pass), takes its address from the LNS.
    void start_cpe(pe::AuthPreference require = pe::AuthPreference::pap) {
        pe::LinkConfig c;
        c.name = "cpe-remote";
        c.secret = "cpe-pass";
        c.require_auth = require;
        pe::LinkCallbacks cb;
        cb.send = [this](std::uint16_t proto, std::vector<std::uint8_t> info) {
            // CHAP Response (RFC 1994 §4.1): Code 2, Identifier, Length, Value-Size, Value, Name.
            if (cpe_chap_response_size && proto == 0xC223 && info.size() >= 5 && info[0] == 2) {
                const std::size_t n = *cpe_chap_response_size, old_n = info[4];
                std::vector<std::uint8_t> v(info.begin() + 5, info.begin() + 5 + static_cast<std::ptrdiff_t>(old_n));
                v.resize(n, 0xEE);
                std::vector<std::uint8_t> name(info.begin() + 5 + static_cast<std::ptrdiff_t>(old_n), info.end());
                info.resize(5);
                info[4] = static_cast<std::uint8_t>(n);
                info.insert(info.end(), v.begin(), v.end());
                info.insert(info.end(), name.begin(), name.end());
                info[2] = static_cast<std::uint8_t>(info.size() >> 8);
                info[3] = static_cast<std::uint8_t>(info.size());
            }
            std::vector<std::uint8_t> f{0xFF, 0x03, static_cast<std::uint8_t>(proto >> 8), static_cast<std::uint8_t>(proto)};
            f.insert(f.end(), info.begin(), info.end());
            if (lac_call) lac->send_ppp(*lac_call, f);
        };
        cb.verify = [this](std::uint32_t ticket, const pe::Credentials& cr) {
            wiring_log.push_back("CPE verifies " + cr.user);
            bool ok = cr.user == "lns-dialout";
            if (cr.method == pe::AuthMethod::chap_md5) {  // RFC 1994 §4.1
                const auto d = dl::ppp::chap_md5_response(cr.chap_id, std::string_view("lns-pw"), cr.challenge);
                ok = ok && std::equal(d.begin(), d.end(), cr.response.begin(), cr.response.end());
            } else {
                ok = ok && cr.password == "lns-pw";
            }
            loop.timers().arm(0ms, [this, ticket, ok] { cpe->verify_result(ticket, {ok, ok ? "welcome" : "no"}); });
        };
        cb.network_up = [this](const pe::NetworkInfo& n) {
            cpe_network = true;
            wiring_log.push_back("CPE IPCP up local=" + core::Ipv4Address{n.local_ip}.to_string() +
                                 " peer=" + core::Ipv4Address{n.peer_ip}.to_string());
        };
        cb.deliver = [this](std::uint16_t proto, std::span<const std::uint8_t> p) {
            if (proto == 0x0021) cpe_ipv4.emplace_back(p.begin(), p.end());
        };
        cpe = std::make_unique<pe::Link>(c, std::move(cb), core::FsmEnv{&bus, &loop.timers(), &registry}, "cpe");
        cpe->open();
    }

    /// Scripted RADIUS servers (RFC 2865 §3 Response Authenticator, RFC 2868 §3.5 Tunnel-Password).
    void radius_server(const rc::Endpoint& to, std::span<const std::uint8_t> d) {
        Radius req(d.data(), static_cast<std::uint32_t>(d.size()));
        const bool is_home = to.address == kHome.address;  // auth 1812 and accounting 1813
        const std::string secret = is_home ? "home-secret" : "lns-secret";
        std::optional<Radius> resp;
        if (req.code() == Code::Accounting_Request) {
            acct_requests.push_back(req);
            if (acct_silent) return;
            resp.emplace(Code::Accounting_Response, req.identifier());
            dl::radius::sign_response(*resp, req.authenticator(), secret);
            auto bytes = wire(*resp);
            loop.timers().arm(20ms, [this, to, bytes] { radius->on_datagram(to, bytes); });
            return;
        }
        if (is_home) {
            home_requests.push_back(req);
            wiring_log.push_back("home RADIUS Access-Request " + req.get_string(AttributeType::User_Name).value_or("?"));
            if (home == Home::silent) return;
            if (home == Home::reject) {
                resp.emplace(Code::Access_Reject, req.identifier());
            } else {
                resp.emplace(Code::Access_Accept, req.identifier());
                resp->add_integer(AttributeType::Service_Type, home == Home::framed_service ? 2 : 5);
                if (home != Home::no_tunnel) {
                    resp->add_integer(AttributeType::Tunnel_Type, 3, 1);
                    resp->add_integer(AttributeType::Tunnel_Medium_Type, 1, 1);
                    resp->add_string(AttributeType::Tunnel_Server_Endpoint, "198.51.100.2", 1);
                    resp->add(dl::radius::tunnel_password_attribute(1, "tunnel-pw", secret, req.authenticator(), 0x8123));
                    resp->add_string(AttributeType::Tunnel_Assignment_Id, "lac-1", 1);
                }
                resp->add_string(ErxAttribute::Dial_Out_Number, "5551001");
                resp->add_string(ErxAttribute::PPP_Username, "lns-dialout");
                resp->add_string(ErxAttribute::PPP_Password, "lns-pw");
                // PAP: how the LNS lets the CPE authenticate it (the CPE asks PAP, start_cpe());
                // the LNS checks the CPE with the profile's CHAP (docs/dialout.md).
                resp->add_integer(ErxAttribute::PPP_Auth_Protocol, erx_auth_protocol);
                resp->add_integer(ErxAttribute::Minimum_BPS, 56000);
                resp->add_integer(ErxAttribute::Maximum_BPS, 64000);
                resp->add_integer(ErxAttribute::Bearer_Type, 1);
            }
        } else {
            lns_requests.push_back(req);
            const auto user = req.get_string(AttributeType::User_Name).value_or("?");
            wiring_log.push_back("LNS RADIUS Access-Request " + user);
            bool ok = false;
            for (const auto& a : req.attributes())
                if (a.type() == 3)  // CHAP-Password (RFC 2865 §5.3)
                    ok = dl::radius::verify_chap_password(a.value(), "cpe-pass", dl::radius::chap_challenge(req));
            if (auto pw = dl::radius::user_password(req, secret)) {  // PAP (RFC 2865 §5.2)
                ok = *pw == "cpe-pass";
                lns_auth_methods.push_back("PAP");
            } else {
                lns_auth_methods.push_back("CHAP");
            }
            ok = ok && cpe_known && user == "cpe-remote";
            resp.emplace(ok ? Code::Access_Accept : Code::Access_Reject, req.identifier());
            if (ok) {
                resp->add_ipaddr(AttributeType::Framed_IP_Address, {198, 18, 0, 2});
                resp->add_string(AttributeType::Framed_Route, "10.10.1.0/24 198.18.0.2 1");
                if (interim_attr) resp->add_integer(AttributeType::Acct_Interim_Interval, *interim_attr);
                resp->add_string(AttributeType::Class, "lns-class-1");
            }
        }
        if (!(is_home && home_omits_message_authenticator)) dl::radius::add_message_authenticator(*resp);
        dl::radius::sign_response(*resp, req.authenticator(), secret);
        auto bytes = wire(*resp);
        loop.timers().arm(20ms, [this, to, bytes] { radius->on_datagram(to, bytes); });
    }

    dialout::SessionKey key(const char* dst = "10.10.1.1") {
        return {"default", *core::Ipv4Prefix::parse("10.10.0.0/16"), ip(dst)};
    }
    nlohmann::json call(const std::string& cmd, nlohmann::json args = nlohmann::json::object()) {
        boost::asio::io_context io;
        core::ControlServer server(io, "/nonexistent/lnsd-wiring-test.sock");
        w->register_commands(server);
        return nlohmann::json::parse(server.handle_line(nlohmann::json{{"id", 1}, {"cmd", cmd}, {"args", args}}.dump()));
    }
};

// req: AAA.username, AAA.service-type, T75.dial-out-number, T75.ppp-credentials, T75.bps, T75.bearer-type, PPP.mutual-auth, ROUTE.install, T74.inService
TEST(DialOutWiring, TriggerToInServiceEndToEnd) {
    World w;
    const auto trigger = ipv4("203.0.113.10", "10.10.1.1");
    w.w->tun_packet("default", trigger);
    w.loop.advance(5s);

    // AAA: the User-Name of JunosE "L2TP Dial-Out" with the route distinguisher, Service-Type Outbound, no password.
    ASSERT_EQ(w.home_requests.size(), 1u);
    const auto& ar = w.home_requests[0];
    EXPECT_EQ(ar.get_string(AttributeType::User_Name), "0.0.0.0:65000/10.10.1.1@L2TP-dial-out.de.dt");
    EXPECT_EQ(ar.get_integer(AttributeType::Service_Type), 5u);
    EXPECT_FALSE(ar.get_string(AttributeType::User_Password));
    EXPECT_EQ(ar.get_integer(AttributeType::NAS_IP_Address), ip("192.0.2.1").value);

    // Table 75 attributes reach the OCRQ (RFC 2661 §6.x Called Number, Min/Max BPS, Bearer Type).
    ASSERT_EQ(w.ocrqs.size(), 1u);
    EXPECT_EQ(w.ocrqs[0].called_number, "5551001");
    EXPECT_EQ(w.ocrqs[0].min_bps, 56000u);
    EXPECT_EQ(w.ocrqs[0].max_bps, 64000u);
    EXPECT_EQ(w.ocrqs[0].bearer_type, l2tp::kBearerAnalog);

    // PPP: the CPE checked our ERX credentials, we checked the CPE's through the LNS RADIUS.
    ASSERT_EQ(w.lns_requests.size(), 1u);
    EXPECT_EQ(w.lns_requests[0].get_string(AttributeType::User_Name), "cpe-remote");
    EXPECT_EQ(w.lns_requests[0].get_integer(AttributeType::Service_Type), 2u);
    EXPECT_TRUE(w.cpe_network);
    EXPECT_EQ(w.w->manager().session_state(w.key()), dialout::SessionState::inService);

    const std::vector<std::string> expected_log{
        "home RADIUS Access-Request 0.0.0.0:65000/10.10.1.1@L2TP-dial-out.de.dt",
        "LAC OCRQ called=5551001",
        "CPE verifies lns-dialout",
        "LNS RADIUS Access-Request cpe-remote",
        "CPE IPCP up local=198.18.0.2 peer=198.18.0.1",
    };
    EXPECT_EQ(w.wiring_log, expected_log);

    // Access routes: Framed-Route and Framed-IP-Address, to the data plane.
    const std::vector<std::string> dp{"dial-out route default 10.10.0.0/16", "add default 10.10.1.0/24 session 1",
                                      "add default 198.18.0.2/32 session 1"};
    EXPECT_EQ(w.dp, dp);
    EXPECT_EQ(w.w->route_lookup("default", ip("10.10.1.77")), 1u);
    EXPECT_FALSE(w.w->route_lookup("default", ip("10.10.2.1")));

    // The buffered trigger was forwarded to the CPE when the session went inService.
    ASSERT_EQ(w.cpe_ipv4.size(), 1u);
    EXPECT_EQ(w.cpe_ipv4[0], trigger);

    // TUN -> session and session -> TUN.
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.200"));
    const auto reply = ipv4("10.10.1.1", "203.0.113.10");
    auto f = std::vector<std::uint8_t>{0xFF, 0x03, 0x00, 0x21};
    f.insert(f.end(), reply.begin(), reply.end());
    w.lac->send_ppp(*w.lac_call, f);
    w.loop.advance(1s);
    EXPECT_EQ(w.cpe_ipv4.size(), 2u);
    ASSERT_EQ(w.tun_out.size(), 1u);
    EXPECT_EQ(w.tun_out[0], reply);

    // Golden log of the dial-out session.
    EXPECT_EQ(w.rec.text(),
              "+0.000000s dialout.session default/10.10.0.0/16/10.10.1.1:  -> authenticating on trigger "
              "(cause=10.10.1.1 buffered 1/4) [timer trigger=30s]\n"
              "+0.020000s dialout.session default/10.10.0.0/16/10.10.1.1: authenticating -> connecting on aaa-grant "
              "(cause=Access-Accept LAC 198.51.100.2) [timer trigger=30s]\n"
              "+0.110000s dialout.session default/10.10.0.0/16/10.10.1.1: connecting -> connecting on call-connected "
              "(cause=outgoing call connected)\n"
              "+0.210000s dialout.session default/10.10.0.0/16/10.10.1.1: connecting -> inService on route-verified "
              "(cause=access route 10.10.1.0/24 198.18.0.2/32 forwards 10.10.1.1)\n");
}

}  // namespace

namespace {

/// Runs a dial-out attempt whose AAA answer is `home` and returns the session's last event cause.
std::string denied_cause(Home home, core::Duration wait = 2s) {
    World w;
    w.home = home;
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
    w.loop.advance(wait);
    EXPECT_EQ(w.w->manager().session_state(w.key()), dialout::SessionState::inhibited);
    EXPECT_TRUE(w.ocrqs.empty()) << "no call may be placed after a deny";
    const auto text = w.rec.text();
    const auto line = text.substr(text.rfind("+", text.size() - 2));
    return line.substr(line.find(": ") + 2);
}

// BlastRADIUS (CVE-2024-3596): by default an Access-Accept without Message-Authenticator is not
// believed: dropped, counted, and the dial-out gets no tunnel (the request times out). A server
// configured with `require-message-authenticator: false` is believed without it.
TEST(DialOutWiring, AccessAcceptWithoutMessageAuthenticatorIsRefusedByDefault) {
    World w;
    w.home_omits_message_authenticator = true;
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
    w.loop.advance(5s);
    ASSERT_GE(w.home_requests.size(), 1u);
    EXPECT_TRUE(w.ocrqs.empty()) << "the unauthenticated Access-Accept placed a call";
    EXPECT_GE(w.radius->counters().dropped.missing_message_authenticator, 1u);
    const auto show = w.call("show l2tp dial-out chassis");
    EXPECT_GE(show["result"]["radius-dropped"]["missing-message-authenticator"].get<int>(), 1) << show.dump();
    EXPECT_NE(w.w->manager().session_state(w.key()), dialout::SessionState::inService);

    std::string relaxed = kConfig;
    const std::string home = "{address: 192.0.2.10, secret: home-secret}";
    relaxed.replace(relaxed.find(home), home.size(),
                    "{address: 192.0.2.10, secret: home-secret, require-message-authenticator: false}");
    World r(relaxed.c_str());
    r.home_omits_message_authenticator = true;
    r.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
    r.loop.advance(5s);
    EXPECT_EQ(r.ocrqs.size(), 1u);
    EXPECT_EQ(r.radius->counters().dropped.missing_message_authenticator, 0u);
    EXPECT_EQ(r.w->manager().session_state(r.key()), dialout::SessionState::inService);
}

// RFC 2866 §5.1: Accounting-On (7) when lnsd starts and Accounting-Off (8) at a clean stop, to
// the VR's accounting servers, Acct-Session-Id = the process's instance; a restarted lnsd (a new
// DialOutWiring) has another instance, so its call 1 does not reuse the Acct-Session-Id of the
// previous process's call 1.
TEST(DialOutWiring, AccountingOnAndOffCarryTheInstanceWhichChangesAtEveryStart) {
    World w;
    ASSERT_EQ(w.w->acct_instance().size(), 16u);
    EXPECT_TRUE(w.w->accounting_idle());
    w.w->accounting_on();
    EXPECT_FALSE(w.w->accounting_idle()) << "waiting for the Accounting-Response";
    w.loop.advance(1s);
    EXPECT_TRUE(w.w->accounting_idle());
    ASSERT_EQ(w.acct_requests.size(), 1u);
    const Radius& on = w.acct_requests[0];
    EXPECT_EQ(on.get_integer(AttributeType::Acct_Status_Type), 7u);
    EXPECT_EQ(on.get_string(AttributeType::Acct_Session_Id), w.w->acct_instance());
    EXPECT_EQ(on.get_integer(AttributeType::NAS_IP_Address), ip("192.0.2.1").value);
    EXPECT_FALSE(on.get_string(AttributeType::User_Name));
    EXPECT_EQ(w.w->accounting_off(), 1u);
    w.loop.advance(1s);
    ASSERT_EQ(w.acct_requests.size(), 2u);
    EXPECT_EQ(w.acct_requests[1].get_integer(AttributeType::Acct_Status_Type), 8u);
    EXPECT_EQ(w.acct_requests[1].get_string(AttributeType::Acct_Session_Id), w.w->acct_instance());
    EXPECT_TRUE(w.w->accounting_idle());
    EXPECT_EQ(w.w->counters().acct_on, 1u);
    EXPECT_EQ(w.w->counters().acct_off, 1u);
    EXPECT_EQ(w.w->counters().acct_responses, 2u);

    World restarted;
    EXPECT_NE(restarted.w->acct_instance(), w.w->acct_instance());
}

// req: T75.service-type, T75.tunnel-attributes, T74.authenticating, T74.inhibited
TEST(DialOutWiring, DenyReasonsReachTheManager) {
    EXPECT_EQ(denied_cause(Home::reject),
              "authenticating -> inhibited on aaa-deny (cause=access-reject) [timer inhibited=30s]\n");
    const auto st = denied_cause(Home::framed_service);
    EXPECT_NE(st.find("on aaa-deny (cause=service-type-not-outbound: Service-Type is 2, must be Outbound (5))"), std::string::npos) << st;
    const auto nt = denied_cause(Home::no_tunnel);
    EXPECT_NE(nt.find("on aaa-deny (cause=tunnel-attributes-missing: "), std::string::npos) << nt;
    // No answer: the RADIUS client gives up after 1 + 3 retries of radius-timeout 3 s.
    EXPECT_EQ(denied_cause(Home::silent, 13s),
              "authenticating -> inhibited on aaa-deny (cause=radius-timeout) [timer inhibited=30s]\n");
}

// req: T74.connecting, T74.inhibited
TEST(DialOutWiring, BusyLacMakesTheSessionInhibited) {
    World w;
    w.lac_busy = true;
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
    w.loop.advance(2s);
    ASSERT_EQ(w.ocrqs.size(), 1u);
    EXPECT_EQ(w.w->manager().session_state(w.key()), dialout::SessionState::inhibited);
    EXPECT_EQ(w.w->counters().calls_failed, 1u);
    EXPECT_EQ(w.w->call_count(), 0u);
    const auto text = w.rec.text();
    EXPECT_NE(text.find("connecting -> inhibited on call-failed"), std::string::npos) << text;
    EXPECT_EQ(w.dp.size(), 1u) << "only the dial-out route";
}

// req: T74.inService, ROUTE.install
TEST(DialOutWiring, HangUpRemovesRoutesAndTellsTheManager) {
    World w;
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
    w.loop.advance(2s);
    ASSERT_EQ(w.w->manager().session_state(w.key()), dialout::SessionState::inService);
    ASSERT_TRUE(w.lac_call);
    w.lac->disconnect(*w.lac_call, l2tp::CdnResult::LossOfCarrier);
    w.loop.advance(1s);
    EXPECT_NE(w.w->manager().session_state(w.key()), dialout::SessionState::inService);
    EXPECT_EQ(w.dp.back(), "remove default session 1");
    // RFC 2866 Accounting Start at IPCP up, Stop at hang-up, answered (RFC 2867 tunnel attributes).
    ASSERT_EQ(w.acct_requests.size(), 2u);
    EXPECT_EQ(w.acct_requests[0].get_integer(AttributeType::Acct_Status_Type), 1u);
    EXPECT_EQ(w.acct_requests[1].get_integer(AttributeType::Acct_Status_Type), 2u);
    EXPECT_EQ(w.acct_requests[0].get_string(AttributeType::User_Name), "cpe-remote");
    EXPECT_EQ(w.acct_requests[0].get_string(AttributeType::Acct_Session_Id),
              w.acct_requests[1].get_string(AttributeType::Acct_Session_Id));
    EXPECT_TRUE(w.acct_requests[1].get_string(AttributeType::Acct_Tunnel_Connection));
    // RFC 2866 §5.5: unique across restarts: "<this process's random instance>-<call number>".
    EXPECT_EQ(w.acct_requests[0].get_string(AttributeType::Acct_Session_Id), w.w->acct_instance() + "-1");
    EXPECT_EQ(w.w->counters().acct_responses, 2u);
    EXPECT_FALSE(w.w->route_lookup("default", ip("10.10.1.1")));
    EXPECT_EQ(w.w->call_count(), 0u);
    const auto text = w.rec.text();
    EXPECT_NE(text.find("inService -> "), std::string::npos) << text;
    EXPECT_NE(text.find("on call-closed"), std::string::npos) << text;
    // A new packet for the prefix is a trigger again, not forwarded over a dead session.
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
    EXPECT_EQ(w.w->counters().tun_no_route, 2u);
}

// JunosE "L2TP Dial-Out" Table 75 / "Mutual Authentication" (docs/dialout.md "ERX-PPP-Auth-Protocol"): the value
// is how the LNS lets the CPE authenticate it; the LNS checks the CPE with the profile's CHAP.
// req: T75.ppp-auth-protocol, T75.ppp-credentials, PPP.mutual-auth
TEST(DialOutWiring, PppAuthProtocolIsHowTheCpeMayAuthenticateTheLns) {
    using AP = pe::AuthPreference;
    struct Case {
        std::uint32_t erx;
        AP cpe;
        bool up;
    };
    const Case cases[] = {{0, AP::none, true}, {0, AP::chap, false}, {1, AP::pap, true},   {1, AP::chap, false},
                          {2, AP::chap, true}, {2, AP::pap, false},  {3, AP::chap, true},  {3, AP::pap, true},
                          {4, AP::pap, true},  {4, AP::chap, true}};
    for (const auto& c : cases) {
        World w;
        w.erx_auth_protocol = c.erx;
        w.cpe_requires = c.cpe;
        w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
        w.loop.advance(10s);
        const auto state = w.w->manager().session_state(w.key());
        const std::string what = "ERX-PPP-Auth-Protocol " + std::to_string(c.erx) + " against a CPE requiring " +
                                 std::to_string(static_cast<int>(c.cpe));
        EXPECT_EQ(state == dialout::SessionState::inService, c.up) << what;
        EXPECT_EQ(w.cpe_network, c.up) << what;
        if (!c.up) continue;
        ASSERT_EQ(w.lns_auth_methods.size(), 1u) << what;
        const auto ppp = w.w->show_ppp("", true);
        ASSERT_EQ(ppp.size(), 1u) << what;
        const std::string expected = c.cpe == AP::none ? "none" : c.cpe == AP::pap ? "PAP" : "CHAP-MD5";
        EXPECT_EQ(ppp[0]["peer-authenticates"], expected) << what;
        EXPECT_EQ(ppp[0]["we-authenticate"], "CHAP-MD5") << what << ": the profile's protocol checks the CPE";
    }
}

// req: PPP.mutual-auth
TEST(DialOutWiring, CpeRejectedByLnsRadiusClearsTheCall) {
    World w;
    w.cpe_known = false;
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
    w.loop.advance(3s);
    EXPECT_EQ(w.lns_requests.size(), 1u);
    EXPECT_EQ(w.w->counters().ppp_auth_rejects, 1u);
    EXPECT_FALSE(w.cpe_network);
    EXPECT_NE(w.w->manager().session_state(w.key()), dialout::SessionState::inService);
    EXPECT_EQ(w.w->call_count(), 0u);
    EXPECT_EQ(w.lns->session_count(), 0u) << "the L2TP session is cleared (CDN)";
    EXPECT_EQ(w.dp.size(), 1u) << "no access route without authentication";
}

// A CPE whose CHAP Response Value is 17 octets (MD5 gives 16, RFC 1994 §4.1) is refused by lnsd
// itself: no Access-Request to the LNS RADIUS (the old mapping cut it to 16 octets and asked), a
// counted rejection, the reason in the event, the call cleared.
// req: RADIUS.ppp-credentials, PPP.mutual-auth
TEST(DialOutWiring, ChapResponseOfSeventeenOctetsIsRefusedWithoutRadius) {
    World w;
    w.cpe_chap_response_size = 17;
    dl::core::EventRecorder refused(w.bus, {"lnsd.ppp", ""});
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
    w.loop.advance(3s);
    EXPECT_EQ(w.home_requests.size(), 1u) << "the dial-out Access-Request itself was sent";
    EXPECT_TRUE(w.lns_requests.empty()) << "no PPP Access-Request with a cut or padded CHAP response";
    EXPECT_GE(w.w->counters().ppp_auth_refused, 1u);
    EXPECT_EQ(w.w->counters().ppp_auth_refused, w.w->counters().ppp_auth_rejects) << "every reject was a refusal";
    ASSERT_GE(refused.events().size(), 1u) << "an lnsd.ppp event names the refusal";
    const auto& e = refused.events().front();
    EXPECT_EQ(e.event, "credentials-refused");
    EXPECT_EQ(e.cause, "cpe-remote: CHAP response of 17 octets, not 16 (RFC 1994 MD5)");
    EXPECT_EQ(e.extra.value("problem", ""), "chap-response-size") << e.extra.dump();
    EXPECT_FALSE(w.cpe_network) << "no network phase without authentication";
    EXPECT_NE(w.w->manager().session_state(w.key()), dialout::SessionState::inService);
    EXPECT_EQ(w.w->call_count(), 0u) << "the call is cleared";
    EXPECT_EQ(w.dp.size(), 1u) << "no access route without authentication";
    const auto ch = w.call("show l2tp dial-out chassis");
    EXPECT_EQ(ch["result"]["wiring"]["ppp-auth-refused"], w.w->counters().ppp_auth_refused) << ch.dump();
}

// Control: the same world with a 16-octet response authenticates through the LNS RADIUS, so the
// refusal above is the response size and nothing else.
// req: RADIUS.ppp-credentials
TEST(DialOutWiring, ChapResponseOfSixteenOctetsIsAskedOfRadius) {
    World w;
    w.cpe_chap_response_size = 16;
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
    w.loop.advance(3s);
    EXPECT_EQ(w.lns_requests.size(), 1u);
    EXPECT_EQ(w.w->counters().ppp_auth_refused, 0u);
    EXPECT_TRUE(w.cpe_network);
}

namespace {
/// Wraps the wiring's Lns::on_disconnected hook: every report of an ended session, in order.
std::vector<std::pair<lnsd::CallHandle, eng::CallFailure>>& count_disconnects(World& w) {
    static std::vector<std::pair<lnsd::CallHandle, eng::CallFailure>> seen;
    seen.clear();
    auto inner = w.lns->on_disconnected;
    w.lns->on_disconnected = [inner](lnsd::CallHandle h, const eng::CallFailure& f) {
        seen.emplace_back(h, f);
        if (inner) inner(h, f);
    };
    return seen;
}
std::size_t count_lines(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}
}  // namespace

// `l2tp clear session` of a dial-out call: the engine's call_ended (no synthesised upcall in Lns)
// tells the call's owner exactly once — one on_disconnected, one call-closed to the manager, one
// CDN to the LAC — and nothing more later.
// req: L2TP.call-ended, L2TP.levels, T74.inService
TEST(DialOutWiring, ClearSessionTellsTheDialOutCallsOwnerExactlyOnce) {
    World w;
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
    w.loop.advance(2s);
    ASSERT_EQ(w.w->manager().session_state(w.key()), dialout::SessionState::inService);
    auto& seen = count_disconnects(w);
    const auto sessions = w.lns->show_sessions("", false);
    ASSERT_EQ(sessions.size(), 1u) << sessions.dump();
    const std::string id = sessions[0]["id"];
    const auto slash = id.find('/');
    const auto t = static_cast<std::uint16_t>(std::stoi(id.substr(0, slash)));
    const auto sn = static_cast<std::uint16_t>(std::stoi(id.substr(slash + 1)));
    ASSERT_TRUE(w.lns->clear_session(t, sn));
    // Told inside clear_session (the engine's upcall runs inside disconnect()).
    ASSERT_EQ(seen.size(), 1u) << "the call's owner not told (or told twice) inside clear_session";
    EXPECT_EQ(seen[0].first.key, (eng::SessionKey{t, sn}));
    EXPECT_EQ(seen[0].second.ended_by, eng::CallEndedBy::local_disconnect);
    EXPECT_EQ(seen[0].second.result, 3u);
    EXPECT_EQ(seen[0].second.message.value_or(""), "session cleared by administrator");
    EXPECT_FALSE(w.lns->clear_session(t, sn)) << "a gone session cleared twice";
    w.loop.advance(5s);
    EXPECT_EQ(seen.size(), 1u) << "a second report of the same session";
    EXPECT_NE(w.w->manager().session_state(w.key()), dialout::SessionState::inService);
    EXPECT_EQ(w.w->counters().calls_closed, 1u);
    EXPECT_EQ(w.w->call_count(), 0u);
    EXPECT_EQ(w.dp.back(), "remove default session 1");
    const auto text = w.rec.text();
    EXPECT_EQ(count_lines(text, "on call-closed"), 1u) << text;
    EXPECT_NE(text.find("session cleared by administrator"), std::string::npos) << "the manager not told why: " << text;
    EXPECT_EQ(std::count(w.wiring_log.begin(), w.wiring_log.end(), std::string("LAC call ended result=3 by peer-cdn")), 1)
        << "the LAC did not get exactly one CDN";
}

// The wiring ends a call itself (PPP authentication of the CPE rejected): its own clear_session
// comes back through on_disconnected, which finds the call already closing — closed once.
// req: L2TP.call-ended, PPP.mutual-auth
TEST(DialOutWiring, CallClearedByTheWiringItselfIsClosedOnce) {
    World w;
    w.cpe_known = false;
    auto& seen = count_disconnects(w);
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
    w.loop.advance(5s);
    EXPECT_EQ(w.w->counters().ppp_auth_rejects, 1u);
    ASSERT_EQ(seen.size(), 1u) << "the ended session not reported exactly once";
    EXPECT_EQ(seen[0].second.ended_by, eng::CallEndedBy::local_disconnect);
    EXPECT_EQ(w.w->counters().calls_closed, 1u);
    EXPECT_EQ(count_lines(w.rec.text(), "on call-closed") + count_lines(w.rec.text(), "on call-failed"), 1u)
        << w.rec.text();
    EXPECT_EQ(w.lns->session_count(), 0u);
}

// req: T73.down, T77.dormant
TEST(DialOutWiring, ControlCommands) {
    World w;
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
    w.loop.advance(2s);
    auto s = w.call("show l2tp dial-out session");
    ASSERT_TRUE(s["ok"].get<bool>()) << s.dump();
    ASSERT_EQ(s["result"].size(), 1u) << s.dump();
    EXPECT_EQ(s["result"][0]["state"], "inService") << s.dump();
    auto one = w.call("show l2tp dial-out session", {{"id", "default/10.10.0.0/16/10.10.1.1"}});
    EXPECT_EQ(one["result"]["user_name"], "0.0.0.0:65000/10.10.1.1@L2TP-dial-out.de.dt") << one.dump();
    auto ppp = w.call("show ppp", {{"detail", true}});
    ASSERT_EQ(ppp["result"].size(), 1u) << ppp.dump();
    EXPECT_EQ(ppp["result"][0]["phase"], "Network") << ppp.dump();
    EXPECT_EQ(ppp["result"][0]["user"], "cpe-remote");
    EXPECT_EQ(ppp["result"][0]["peer-ip"], "198.18.0.2");
    EXPECT_EQ(ppp["result"][0]["access-routes"], nlohmann::json::array({"10.10.1.0/24", "198.18.0.2/32"}));
    auto ch = w.call("show l2tp dial-out chassis");
    EXPECT_EQ(ch["result"]["wiring"]["calls-connected"], 1) << ch.dump();

    auto bad = w.call("l2tp dial-out session reset", {{"id", "nonsense"}});
    EXPECT_FALSE(bad["ok"].get<bool>());
    auto reset = w.call("l2tp dial-out session reset", {{"id", "default/10.10.0.0/16/10.10.1.1"}});
    ASSERT_TRUE(reset["ok"].get<bool>()) << reset.dump();
    w.loop.advance(1s);
    EXPECT_EQ(w.w->manager().session_state(w.key()), dialout::SessionState::dormant);
    EXPECT_EQ(w.w->call_count(), 0u);
    EXPECT_EQ(w.lns->session_count(), 0u);

    auto add = w.call("l2tp dial-out target add", {{"virtual-router", "default"},
                                                   {"prefix", "10.20.0.0/16"},
                                                   {"domain", "example.net"},
                                                   {"profile", "isdn"}});
    ASSERT_TRUE(add["ok"].get<bool>()) << add.dump();
    EXPECT_EQ(w.w->manager().target_state("default", *core::Ipv4Prefix::parse("10.20.0.0/16")),
              dialout::TargetState::inService);
    auto unknown_vr = w.call("l2tp dial-out target add", {{"virtual-router", "vr-x"},
                                                          {"prefix", "10.30.0.0/16"},
                                                          {"domain", "example.net"},
                                                          {"profile", "isdn"}});
    EXPECT_FALSE(unknown_vr["ok"].get<bool>());
    EXPECT_EQ(unknown_vr["error"], "virtual router 'vr-x' is not configured");
    // Timers and profiles at run time: no session dropped, the next arming uses them.
    auto t = w.call("l2tp dial-out timer", {{"name", "trigger"}, {"value", "60s"}});
    ASSERT_TRUE(t["ok"].get<bool>()) << t.dump();
    EXPECT_FALSE(w.call("l2tp dial-out timer", {{"name", "hello"}, {"value", "60s"}})["ok"].get<bool>());
    EXPECT_FALSE(w.call("l2tp dial-out timer", {{"name", "trigger"}, {"value", "soon"}})["ok"].get<bool>());
    auto pr = w.call("l2tp dial-out profile", {{"name", "isdn"}, {"mru", "1492"}, {"authentication", "pap"}});
    ASSERT_TRUE(pr["ok"].get<bool>()) << pr.dump();
    EXPECT_FALSE(w.call("l2tp dial-out profile", {{"name", "isdn"}, {"authentication", "eap"}})["ok"].get<bool>());
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.9"));
    w.loop.advance(1ms);
    const auto armed = w.w->manager().session_timer(w.key("10.10.1.9"));
    ASSERT_TRUE(armed);
    EXPECT_EQ(armed->second, 60s - 1ms) << "new trigger timer (1 ms elapsed)";
    w.fail_route = "10.40.0.0/16";
    auto add_bad = w.call("l2tp dial-out target add", {{"virtual-router", "default"},
                                                       {"prefix", "10.40.0.0/16"},
                                                       {"domain", "example.net"},
                                                       {"profile", "isdn"}});
    ASSERT_TRUE(add_bad["ok"].get<bool>()) << add_bad.dump();
    EXPECT_EQ(w.w->manager().target_state("default", *core::Ipv4Prefix::parse("10.40.0.0/16")),
              dialout::TargetState::down) << "Table 73: cannot create the dial-out route";
    auto rm = w.call("l2tp dial-out target remove", {{"virtual-router", "default"}, {"prefix", "10.20.0.0/16"}});
    ASSERT_TRUE(rm["ok"].get<bool>()) << rm.dump();
    EXPECT_EQ(w.dp.back(), "remove dial-out route default 10.20.0.0/16");
    EXPECT_FALSE(w.w->manager().target_state("default", *core::Ipv4Prefix::parse("10.20.0.0/16")));
}

std::string config_error(const std::string& yaml) {
    try {
        lnsd::load_wiring_config(core::ConfigNode::parse(yaml));
    } catch (const core::ConfigError& e) {
        return e.what();
    }
    return "no error";
}

/// kConfig with `keys` added to its `dialout:` section.
std::string with_dialout_keys(const std::string& keys) {
    std::string y = kConfig;
    const std::string at = "  timers: {trigger: 30s, dormant: 5m}\n";
    y.replace(y.find(at), at.size(), at + keys);
    return y;
}

TEST(DialOutWiring, DialOutLimitsAreLnsdConfigurationWithSafeDefaults) {
    {
        World w;
        const auto& c = w.w->manager().chassis_config();
        EXPECT_EQ(c.max_sessions_per_target, 1000u);
        EXPECT_EQ(c.max_sessions_per_virtual_router, 4000u);
        EXPECT_EQ(c.trigger_rate, 100u);
        EXPECT_EQ(c.trigger_burst, 200u);
        EXPECT_EQ(c.max_pending_sessions, 1000u);
    }
    const std::string ok = with_dialout_keys(
        "  max-sessions-per-target: 8\n  max-sessions-per-virtual-router: 16\n  trigger-rate: 5\n"
        "  trigger-burst: 10\n  max-pending-sessions: 3\n");
    World w(ok.c_str());
    const auto ch = w.w->manager().show_chassis();
    EXPECT_EQ(ch["max_sessions_per_target"], 8);
    EXPECT_EQ(ch["max_sessions_per_virtual_router"], 16);
    EXPECT_EQ(ch["trigger_rate"], 5);
    EXPECT_EQ(ch["trigger_burst"], 10);
    EXPECT_EQ(ch["max_pending_sessions"], 3);
    const std::vector<std::pair<std::string, std::string>> bad{
        {"  trigger-rate: 0\n", "dialout.trigger-rate: '0' is out of range [1..1000000]"},
        {"  trigger-burst: -1\n", "dialout.trigger-burst: '-1' is out of range [1..1000000]"},
        {"  max-pending-sessions: 0\n", "dialout.max-pending-sessions: '0' is out of range [1..1000000]"},
        {"  max-sessions-per-target: 5000\n",
         "dialout.max-sessions-per-target: '5000' max-sessions-per-target (5000) must not exceed "
         "max-sessions-per-virtual-router (4000)"},
    };
    for (const auto& [keys, msg] : bad) {
        const std::string y = with_dialout_keys(keys);
        try {
            World bw(y.c_str());
            ADD_FAILURE() << "accepted: " << keys;
        } catch (const core::ConfigError& e) {
            EXPECT_NE(std::string(e.what()).find(msg), std::string::npos) << e.what() << "\n  want: " << msg;
        }
    }
}

TEST(DialOutWiring, ConfigurationErrorsNameKeyValueAndRule) {
    EXPECT_EQ(config_error("virtual-routers: [{name: a}, {name: a}]"),
              "virtual-routers[1].name: 'a' is configured twice");
    EXPECT_EQ(config_error("virtual-routers: [{name: a, radius: {authentication: [{address: 192.0.2.1, secret: ''}]}}]"),
              "virtual-routers[0].radius.authentication[0].secret: must not be empty (RFC 2865 §3)");
    EXPECT_EQ(config_error("virtual-routers: [{name: a, tun: abcdefghijklmnopq}]"),
              "virtual-routers[0].tun: 'abcdefghijklmnopq' is longer than 15 characters (IFNAMSIZ)");
    EXPECT_EQ(config_error("virtual-routers: [{name: a}]\n"
                           "dialout: {targets: [{virtual-router: b, prefix: 10.0.0.0/8, domain: d, profile: p}]}"),
              "dialout.targets[0].virtual-router: 'b' is not a configured virtual router (virtual-routers[].name)");
    EXPECT_EQ(config_error("ppp-profiles: {p: {pool: 10.0.0.0/31}}"),
              "ppp-profiles.p.pool: '10.0.0.0/31' must be /30 or wider (needs host addresses)");
    EXPECT_EQ(config_error("incoming: {mode: sometimes}").rfind("incoming.mode: 'sometimes'", 0), 0u);
    const auto ok = lnsd::load_wiring_config(core::ConfigNode::parse(kConfig));
    ASSERT_EQ(ok.virtual_routers.size(), 1u);
    EXPECT_EQ(ok.virtual_routers[0].lns_authentication.at(0).secret, "lns-secret");
    EXPECT_EQ(ok.ppp_profiles.at("isdn").dns1, ip("192.0.2.53"));
}

}  // namespace

namespace {

/// lnsd with the LAC 198.51.100.2 listed (secret tunnel-pw; `trusted` for its proxy authentication)
/// and incoming calls in `mode` with the VT's `auth`.
std::string incoming_config(const char* mode, const char* auth = "chap", bool trusted = true) {
    return std::string(kConfig) + "peers: [{address: 198.51.100.2, secret: tunnel-pw, trusted: " +
           (trusted ? "true" : "false") + "}]\n" +
           "incoming: {virtual-router: default, profile: isdn, authentication: " + auth + ", mode: " + mode + "}\n";
}

// req: LNS.auth-modes
TEST(DialOutWiring, IncomingCallMandatoryChapThroughLnsRadius) {
    const auto yaml = incoming_config("mandatory-chap", "pap");
    World w(yaml.c_str());
    w.lac->place_incoming_call(kLnsPeer, eng::IncomingCall{.call_serial_number = 1, .calling_number = "5552000"});
    w.loop.advance(3s);
    EXPECT_TRUE(w.cpe_network);
    EXPECT_EQ(w.lns_auth_methods, std::vector<std::string>{"CHAP"}) << "mandatory CHAP overrides the PAP profile";
    EXPECT_EQ(w.w->counters().incoming_links, 1u);
    const std::vector<std::string> dp{"dial-out route default 10.10.0.0/16", "add default 10.10.1.0/24 session 1",
                                      "add default 198.18.0.2/32 session 1"};
    EXPECT_EQ(w.dp, dp);
    EXPECT_EQ(w.w->manager().session_count(), 0u) << "an incoming call is no dial-out session";
    // Home -> remote over the incoming session's Framed-Route, not a dial-out trigger.
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
    w.loop.advance(1s);
    EXPECT_EQ(w.cpe_ipv4.size(), 1u);
    EXPECT_TRUE(w.home_requests.empty());
    auto ppp = w.call("show ppp");
    ASSERT_EQ(ppp["result"].size(), 1u) << ppp.dump();
    EXPECT_EQ(ppp["result"][0]["direction"], "incoming");
}

// req: LNS.auth-modes
TEST(DialOutWiring, IncomingCallProxyModeWithoutProxyAvpsRenegotiates) {
    const auto yaml = incoming_config("proxy", "pap");
    World w(yaml.c_str());
    w.lac->place_incoming_call(kLnsPeer, eng::IncomingCall{.call_serial_number = 2});
    w.loop.advance(3s);
    EXPECT_TRUE(w.cpe_network);
    EXPECT_EQ(w.lns_auth_methods, std::vector<std::string>{"PAP"}) << "the profile's PAP, negotiated with the CPE";
}

// req: LNS.auth-modes
TEST(DialOutWiring, IncomingCallRejectedCpeGetsNoSession) {
    const auto yaml = incoming_config("lcp-renegotiation");
    World w(yaml.c_str());
    w.cpe_known = false;
    w.lac->place_incoming_call(kLnsPeer, eng::IncomingCall{.call_serial_number = 3});
    w.loop.advance(3s);
    EXPECT_FALSE(w.cpe_network);
    EXPECT_EQ(w.w->counters().ppp_auth_rejects, 1u);
    EXPECT_EQ(w.w->call_count(), 0u);
    EXPECT_EQ(w.lns->session_count(), 0u) << "CDN after the authentication failure";
    EXPECT_EQ(w.dp.size(), 1u);
}

}  // namespace

namespace {
TEST(DialOutWiring, PerCallFootprintFitsTheSessionBudget) {
    const auto call = lnsd::DialOutWiring::sizeof_call_record();
    const auto link = pe::Link::footprint();
    const auto manager = dialout::Manager::session_footprint();
    ::testing::Test::RecordProperty("call_record", static_cast<int>(call));
    ::testing::Test::RecordProperty("ppp_link", static_cast<int>(link));
    ::testing::Test::RecordProperty("dialout_session", static_cast<int>(manager));
    std::cout << "call record " << call << " B, PPP link " << link << " B, dial-out session " << manager << " B\n";
    EXPECT_LT(call + link + manager, 8u * 1024u) << "memory budget: L2TP + PPP + dial-out per session <= 8 KiB";
}
}  // namespace

namespace {

/// An incoming call as a LAC that negotiated LCP (CHAP, magic numbers) and CHAP with the client.
eng::IncomingCall proxied_call(std::uint16_t authen_type) {
    dl::ppp::LCP sent(dl::ppp::CpCode::configure_request, 1);
    sent.auth_chap_md5();
    sent.magic_number(0x11223344);
    dl::ppp::LCP received(dl::ppp::CpCode::configure_request, 1);
    received.magic_number(0x55667788);
    eng::IncomingCall c;
    c.call_serial_number = 9;
    c.last_sent_lcp_confreq = sent.serialize();
    c.last_received_lcp_confreq = received.serialize();
    c.initial_received_lcp_confreq = received.serialize();
    c.proxy_authen_type = authen_type;
    c.proxy_authen_name = "cpe-remote";
    if (authen_type == 2) {  // CHAP (RFC 2661 §4.4.5 Proxy Authen Challenge/ID/Response)
        c.proxy_authen_challenge = std::vector<std::uint8_t>(16, 0xab);
        c.proxy_authen_id = 7;
        const auto d = dl::ppp::chap_md5_response(7, "cpe-pass", *c.proxy_authen_challenge);
        c.proxy_authen_response = std::vector<std::uint8_t>(d.begin(), d.end());
    } else {
        c.proxy_authen_response = std::vector<std::uint8_t>{'c', 'p', 'e', '-', 'p', 'a', 's', 's'};
    }
    return c;
}

// req: LNS.auth-modes
TEST(DialOutWiring, IncomingCallProxyLcpAndProxyChapVerifiedThroughRadius) {
    const auto yaml = incoming_config("proxy", "chap");
    World w(yaml.c_str());
    w.auto_cpe = false;
    dl::core::EventRecorder lcp(w.bus, {"ppp.lcp", ""});
    w.lac->place_incoming_call(kLnsPeer, proxied_call(2));
    w.loop.advance(2s);
    // The LAC's CHAP exchange is checked by the LNS RADIUS with the proxied challenge, no new one.
    ASSERT_EQ(w.lns_requests.size(), 1u);
    EXPECT_EQ(w.lns_auth_methods, std::vector<std::string>{"CHAP"});
    const auto ch = dl::radius::chap_challenge(w.lns_requests[0]);
    EXPECT_EQ(std::vector<std::uint8_t>(ch.begin(), ch.end()), std::vector<std::uint8_t>(16, 0xab));
    EXPECT_NE(lcp.text().find("proxy-lcp-accepted"), std::string::npos) << lcp.text();
    auto ppp = w.call("show ppp", {{"detail", true}});
    ASSERT_EQ(ppp["result"].size(), 1u) << ppp.dump();
    EXPECT_EQ(ppp["result"][0]["lcp"], "Opened");
    EXPECT_EQ(ppp["result"][0]["phase"], "Network") << "authenticated by proxy, IPCP next";
    EXPECT_EQ(ppp["result"][0]["user"], "cpe-remote");
}

// RFC 2661 §9.3: proxy authentication is believed only from a LAC marked trusted. A LAC that is
// not (the default) gets the same call renegotiated: the LNS challenges the CPE itself, so a CHAP
// triple captured elsewhere and replayed in an ICCN gives no session by itself.
TEST(DialOutWiring, IncomingCallProxyFromAnUntrustedLacIsAuthenticatedByTheLns) {
    const auto yaml = incoming_config("proxy", "chap", false);
    World w(yaml.c_str());
    dl::core::EventRecorder all(w.bus, {"", ""});
    w.lac->place_incoming_call(kLnsPeer, proxied_call(2));
    w.loop.advance(3s);
    EXPECT_TRUE(w.cpe_network) << "the CPE answered the LNS's own CHAP challenge";
    ASSERT_EQ(w.lns_requests.size(), 1u);
    EXPECT_EQ(w.lns_auth_methods, std::vector<std::string>{"CHAP"});
    const auto ch = dl::radius::chap_challenge(w.lns_requests[0]);
    EXPECT_NE(std::vector<std::uint8_t>(ch.begin(), ch.end()), std::vector<std::uint8_t>(16, 0xab))
        << "the proxied challenge was not used";
    EXPECT_EQ(all.text().find("proxy-lcp-accepted"), std::string::npos) << all.text();
    EXPECT_NE(all.text().find("proxy-authentication-untrusted"), std::string::npos) << all.text();
    EXPECT_EQ(w.w->counters().proxy_untrusted, 1u);
    EXPECT_EQ(w.call("show l2tp dial-out chassis")["result"]["wiring"]["proxy-untrusted"], 1);
}

// req: LNS.auth-modes, LNS.proxy
TEST(DialOutWiring, IncomingCallProxyChapAdoptedWhenTheVtAsksPap) {
    // Huawei "L2TP Session Establishment": "In other situations, the LNS adopts the authentication mode carried in the
    // messages sent by the LAC rather than the authentication mode configured on the VT."
    const auto yaml = incoming_config("proxy", "pap");
    World w(yaml.c_str());
    w.auto_cpe = false;
    dl::core::EventRecorder all(w.bus, {"", ""});
    w.lac->place_incoming_call(kLnsPeer, proxied_call(2));
    w.loop.advance(2s);
    EXPECT_EQ(w.lns_auth_methods, std::vector<std::string>{"CHAP"}) << "the LAC's CHAP, verified by proxy";
    EXPECT_NE(all.text().find("proxy-lcp-accepted"), std::string::npos) << all.text();
    auto ppp = w.call("show ppp", {{"detail", true}});
    ASSERT_EQ(ppp["result"].size(), 1u) << ppp.dump();
    EXPECT_EQ(ppp["result"][0]["we-authenticate"], "CHAP-MD5") << ppp.dump();
    EXPECT_EQ(ppp["result"][0]["phase"], "Network") << ppp.dump();
}

// req: LNS.auth-modes, LNS.proxy
TEST(DialOutWiring, IncomingCallProxyLcpNotAcceptableRenegotiatesOnce) {
    // Proxy LCP the LNS cannot accept (an MRU below its minimum): LCP is renegotiated with the
    // client (JunosE "Implementing L2TP" NOTE), opened once — no second open, no "not permitted" event.
    const auto yaml = incoming_config("proxy", "chap");
    World w(yaml.c_str());
    dl::core::EventRecorder all(w.bus, {"", ""});
    auto call = proxied_call(2);
    dl::ppp::LCP odd(dl::ppp::CpCode::configure_request, 1);
    odd.magic_number(0x55667788);
    odd.mru(10);
    call.last_received_lcp_confreq = odd.serialize();
    w.lac->place_incoming_call(kLnsPeer, call);
    w.loop.advance(3s);
    const auto text = all.text();
    EXPECT_NE(text.find("proxy-lcp-renegotiate"), std::string::npos) << text;
    EXPECT_EQ(text.find("NOT PERMITTED"), std::string::npos) << text;
    EXPECT_TRUE(w.cpe_network) << "renegotiated with the CPE, CHAP through the LNS RADIUS";
    EXPECT_EQ(w.lns_auth_methods, std::vector<std::string>{"CHAP"});
}

// Proxy CHAP (RFC 2661 §4.4.5 Proxy Authen Response) of 17 octets: in proxy mode and in mandatory
// CHAP mode lnsd refuses it without asking the LNS RADIUS; no session.
// req: RADIUS.ppp-credentials, LNS.proxy, LNS.mandatory-chap
TEST(DialOutWiring, IncomingCallProxyChapResponseOfSeventeenOctetsIsRefused) {
    for (const char* mode : {"proxy", "mandatory-chap"}) {
        const auto yaml = incoming_config(mode, "chap");
        World w(yaml.c_str());
        w.auto_cpe = false;
        dl::core::EventRecorder refused(w.bus, {"lnsd.ppp", ""});
        auto call = proxied_call(2);
        call.proxy_authen_response->push_back(0xEE);
        w.lac->place_incoming_call(kLnsPeer, call);
        w.loop.advance(10s);  // proxy mode: LCP Terminate-Request x2 unanswered (no client here)
        EXPECT_TRUE(w.lns_requests.empty()) << mode << ": nothing sent to the LNS RADIUS";
        EXPECT_EQ(w.w->counters().ppp_auth_refused, 1u) << mode;
        ASSERT_EQ(refused.events().size(), 1u) << mode << "\n" << refused.text();
        EXPECT_EQ(refused.events()[0].cause, "cpe-remote: CHAP response of 17 octets, not 16 (RFC 1994 MD5)") << mode;
        EXPECT_EQ(w.w->call_count(), 0u) << mode << ": no session";
        EXPECT_EQ(w.lns->session_count(), 0u) << mode << ": CDN";
    }
}

// req: LNS.auth-modes, LNS.mandatory-chap
TEST(DialOutWiring, IncomingCallMandatoryChapVerifiesProxyPapThenChallenges) {
    // Huawei "L2TP Session Establishment" steps 10-14: the proxy data to AAA first, then the LNS's own CHAP Challenge.
    const auto yaml = incoming_config("mandatory-chap", "pap");
    World w(yaml.c_str());
    dl::core::EventRecorder inc(w.bus, {"lnsd.incoming", ""});
    w.lac->place_incoming_call(kLnsPeer, proxied_call(3));
    w.loop.advance(5s);
    EXPECT_EQ(w.lns_auth_methods, (std::vector<std::string>{"PAP", "CHAP"})) << "proxy PAP checked, then CHAP";
    EXPECT_TRUE(w.cpe_network);
    EXPECT_NE(inc.text().find("proxy-authentication-accepted"), std::string::npos) << inc.text();
    auto ppp = w.call("show ppp", {{"detail", true}});
    ASSERT_EQ(ppp["result"].size(), 1u) << ppp.dump();
    EXPECT_EQ(ppp["result"][0]["we-authenticate"], "CHAP-MD5") << ppp.dump();
    EXPECT_EQ(ppp["result"][0]["lac"], "198.51.100.2") << ppp.dump();
}

// req: LNS.auth-modes, LNS.mandatory-chap
TEST(DialOutWiring, IncomingCallMandatoryChapRejectedProxyGetsNoSession) {
    const auto yaml = incoming_config("mandatory-chap", "chap");
    World w(yaml.c_str());
    w.cpe_known = false;
    dl::core::EventRecorder inc(w.bus, {"lnsd.incoming", ""});
    w.lac->place_incoming_call(kLnsPeer, proxied_call(2));
    w.loop.advance(5s);
    EXPECT_EQ(w.lns_auth_methods, std::vector<std::string>{"CHAP"}) << "only the proxied CHAP, no own challenge";
    EXPECT_NE(inc.text().find("proxy-authentication-rejected"), std::string::npos) << inc.text();
    EXPECT_FALSE(w.cpe_network);
    EXPECT_EQ(w.w->call_count(), 0u);
    EXPECT_EQ(w.lns->session_count(), 0u) << "CDN";
}

// req: LNS.auth-modes, LNS.proxy
TEST(DialOutWiring, IncomingCallProxyPapWhenChapRequiredGetsNoSession) {
    const auto yaml = incoming_config("proxy", "chap");
    World w(yaml.c_str());
    w.auto_cpe = false;
    w.lac->place_incoming_call(kLnsPeer, proxied_call(3));
    w.loop.advance(2s);
    EXPECT_TRUE(w.lns_requests.empty()) << "refused before asking RADIUS (Huawei \"L2TP Session Establishment\": stronger than the LAC)";
    EXPECT_EQ(w.w->call_count(), 0u);
    EXPECT_EQ(w.lns->session_count(), 0u) << "CDN";
}

}  // namespace

TEST(DialOutWiring, FaultInjectionIsOffUnlessConfigured) {
    World w;
    const auto r = w.call("l2tp dial-out fault-injection", {{"level", "chassis"}, {"condition", "initialization-failed"}});
    EXPECT_FALSE(r["ok"].get<bool>()) << r.dump();
    EXPECT_NE(r["error"].get<std::string>().find("fault injection is disabled"), std::string::npos) << r.dump();
    EXPECT_EQ(w.call("show l2tp dial-out chassis")["result"]["state"], "inService") << "nothing was injected";
}

// req: T71.initializationFailed, T71.inService, T72.initPending, T72.inService, T73.inhibited, T73.inService
TEST(DialOutWiring, FaultInjectionCommandDrivesChassisVrAndTargetStates) {
    const auto yaml = std::string(kConfig) + "fault-injection: true\n";
    World w(yaml.c_str());
    const auto target = *core::Ipv4Prefix::parse("10.10.0.0/16");
    auto inject = [&](nlohmann::json args) { return w.call("l2tp dial-out fault-injection", std::move(args)); };

    // Table 71: initializationFailed -> configuration commands fail with a clear error, nothing dials.
    auto ch = inject({{"level", "chassis"}, {"condition", "initialization-failed"}, {"reason", "no memory"}});
    ASSERT_TRUE(ch["ok"].get<bool>()) << ch.dump();
    EXPECT_EQ(ch["result"]["state"], "initializationFailed") << ch.dump();
    auto add = w.call("l2tp dial-out target add", {{"virtual-router", "default"}, {"prefix", "10.20.0.0/16"},
                                                   {"domain", "example.net"}, {"profile", "isdn"}});
    EXPECT_FALSE(add["ok"].get<bool>()) << add.dump();
    EXPECT_NE(add["error"].get<std::string>().find("initializationFailed (no memory)"), std::string::npos) << add.dump();
    EXPECT_FALSE(w.call("l2tp dial-out timer", {{"name", "trigger"}, {"value", "5s"}})["ok"].get<bool>());
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
    w.loop.advance(1s);
    EXPECT_TRUE(w.home_requests.empty()) << "no Access-Request while initializationFailed";
    EXPECT_FALSE(w.w->manager().session_state(w.key()));
    ch = inject({{"level", "chassis"}, {"condition", "resources-available"}});
    EXPECT_EQ(ch["result"]["state"], "inService") << ch.dump();

    // Table 72: initPending (VR not yet operational) discards triggers; operational -> inService.
    auto vr = inject({{"level", "virtual-router"}, {"virtual-router", "default"}, {"condition", "not-operational"}});
    EXPECT_EQ(vr["result"]["state"], "initPending") << vr.dump();
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
    w.loop.advance(1s);
    EXPECT_TRUE(w.home_requests.empty()) << "no Access-Request while the VR is initPending";
    vr = inject({{"level", "virtual-router"}, {"virtual-router", "default"}, {"condition", "operational"}});
    EXPECT_EQ(vr["result"]["state"], "inService") << vr.dump();

    // Table 73: inhibited (cannot obtain resources) discards triggers; resources-available recovers.
    auto t = inject({{"level", "target"}, {"virtual-router", "default"}, {"prefix", "10.10.0.0/16"},
                     {"condition", "resources-exhausted"}});
    EXPECT_EQ(t["result"]["state"], "inhibited") << t.dump();
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
    w.loop.advance(1s);
    EXPECT_TRUE(w.home_requests.empty()) << "no Access-Request while the target is inhibited";
    t = inject({{"level", "target"}, {"prefix", "10.10.0.0/16"}, {"condition", "resources-available"}});
    EXPECT_EQ(t["result"]["state"], "inService") << t.dump();
    EXPECT_EQ(w.w->manager().target_state("default", target), dialout::TargetState::inService);
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
    w.loop.advance(2s);
    EXPECT_EQ(w.home_requests.size(), 1u) << "dials again once everything is inService";

    // Bad input: a clear error naming the argument and the rule; nothing changes.
    auto bad = inject({{"level", "planet"}});
    EXPECT_EQ(bad["error"], "level 'planet' is not chassis|virtual-router|target") << bad.dump();
    bad = inject({{"level", "virtual-router"}, {"virtual-router", "vr-x"}, {"condition", "operational"}});
    EXPECT_EQ(bad["error"], "virtual router 'vr-x' is not configured") << bad.dump();
    bad = inject({{"level", "target"}, {"prefix", "10.99.0.0/16"}, {"condition", "resources-exhausted"}});
    EXPECT_EQ(bad["error"], "dial-out target default/10.99.0.0/16 does not exist") << bad.dump();
    bad = inject({{"level", "chassis"}, {"condition", "melted"}});
    EXPECT_FALSE(bad["ok"].get<bool>());
    EXPECT_EQ(w.w->manager().chassis_state(), dialout::ChassisState::inService);
}

// req: T72.down, T72.inService, T73.down, T73.inService
TEST(DialOutWiring, DialOutInterfaceDownAndUpDrivesVrAndReinstallsTargetRoutes) {
    World w;
    const auto target = *core::Ipv4Prefix::parse("10.10.0.0/16");
    w.w->dialout_interface("default", false);
    EXPECT_EQ(w.w->manager().vr_state("default"), dialout::VrState::down);
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
    w.loop.advance(1s);
    EXPECT_TRUE(w.home_requests.empty()) << "VR down: triggers discarded";

    // Up again but the dial-out route cannot be created: the target is down, the VR inService.
    w.fail_route = "10.10.0.0/16";
    w.w->dialout_interface("default", true);
    EXPECT_EQ(w.w->manager().vr_state("default"), dialout::VrState::inService);
    EXPECT_EQ(w.w->manager().target_state("default", target), dialout::TargetState::down);

    // Down / up with the route creatable: the target recovers.
    w.fail_route.clear();
    w.w->dialout_interface("default", false);
    w.w->dialout_interface("default", true);
    EXPECT_EQ(w.w->manager().target_state("default", target), dialout::TargetState::inService);
    EXPECT_EQ(w.w->manager().vr_state("default"), dialout::VrState::inService);
    w.w->dialout_interface("no-such-vr", false);  // ignored
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
    w.loop.advance(2s);
    EXPECT_EQ(w.home_requests.size(), 1u) << "dials once VR and target are inService";
}

/// kConfig with `dialout.route-withdrawal` (the last section of kConfig is `dialout:`).
std::string with_withdrawal(const char* settings) {
    return std::string(kConfig) + "  route-withdrawal: " + settings + "\n";
}

std::size_t count_of(const std::vector<std::string>& v, const std::string& s) {
    return static_cast<std::size_t>(std::count(v.begin(), v.end(), s));
}

// Off by default (JunosE "L2TP Dial-Out" Table 73: the target, and its dial-out route, stay in
// service whatever its sessions do): dial-outs that reach no LAC leave the route in the kernel.
// req: ROUTE.withdrawal
TEST(DialOutWiring, DialOutRouteStaysWhenNoLacAnswersByDefault) {
    World w;
    w.lac_unreachable = true;
    for (const char* d : {"10.10.1.1", "10.10.2.1", "10.10.3.1"}) {
        w.w->tun_packet("default", ipv4("203.0.113.10", d));
        w.loop.advance(40s);
    }
    EXPECT_EQ(w.w->manager().session_state(w.key("10.10.3.1")), dialout::SessionState::inhibited);
    EXPECT_EQ(count_of(w.dp, "remove dial-out route default 10.10.0.0/16"), 0u);
    EXPECT_EQ(w.w->counters().route_withdrawals, 0u);
    EXPECT_EQ(w.call("show l2tp dial-out target")["result"][0]["route"], "announced");
}

// route-withdrawal: after `after-failures` dial-outs that no LAC answered the target's route
// leaves the kernel (a routing daemon stops announcing it); after the hold-down it comes back on
// probation; one more such failure withdraws it for twice the hold-down; a connected call ends it.
// req: ROUTE.withdrawal
TEST(DialOutWiring, DialOutRouteWithdrawnWhileNoLacAnswersAndReinstalledAfterHoldDown) {
    const auto cfg = with_withdrawal("{after-failures: 2, hold-down: 10s}");
    World w(cfg.c_str());
    core::EventRecorder routes{w.bus, {"lnsd.dialout-route", ""}};
    const std::string removed = "remove dial-out route default 10.10.0.0/16", installed = "dial-out route default 10.10.0.0/16";
    ASSERT_EQ(count_of(w.dp, installed), 1u);
    w.lac_unreachable = true;
    // 1: the SCCRQ goes unanswered (retransmissions exhausted, RFC 2661 §5.8) or the connecting
    // timer ends the call first; either way no LAC answered. The route stays (1 < 2).
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
    w.loop.advance(40s);
    EXPECT_EQ(w.w->manager().session_state(w.key("10.10.1.1")), dialout::SessionState::inhibited);
    EXPECT_EQ(count_of(w.dp, removed), 0u);
    // 2: a second destination: the LAC is dead (tunnel-selection dead-time), no usable endpoint.
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.2.1"));
    w.loop.advance(40s);
    EXPECT_EQ(count_of(w.dp, removed), 1u) << routes.text();
    EXPECT_EQ(w.w->counters().route_withdrawals, 1u);
    // The retransmissions (1 + 2 + 4 + 8 + 8 s) outlast the 30 s trigger timer here.
    EXPECT_NE(routes.text().find("connecting timer expired before any LAC answered"), std::string::npos)
        << routes.text();
    EXPECT_EQ(w.call("show l2tp dial-out target")["result"][0]["route"], "withdrawn");
    EXPECT_EQ(w.call("show l2tp dial-out chassis")["result"]["wiring"]["route-withdrawals"], 1);
    // The target itself stays inService (Table 73): only the kernel route went.
    EXPECT_EQ(w.w->manager().target_state("default", w.key().target), dialout::TargetState::inService);
    // The interface flapping meanwhile does not put a withdrawn route back.
    w.w->dialout_interface("default", false);
    w.w->dialout_interface("default", true);
    EXPECT_EQ(count_of(w.dp, installed), 1u);
    // Hold-down over: back on probation.
    w.loop.advance(10s);
    EXPECT_EQ(count_of(w.dp, installed), 2u);
    EXPECT_EQ(w.w->counters().route_reinstalls, 1u);
    EXPECT_EQ(w.call("show l2tp dial-out target")["result"][0]["route"], "probation");
    // Still no LAC: one failure withdraws it again, for 2 × 10 s.
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.3.1"));
    w.loop.advance(35s);
    EXPECT_EQ(count_of(w.dp, removed), 2u) << routes.text();
    w.loop.advance(15s);
    EXPECT_EQ(count_of(w.dp, installed), 2u) << "withdrawn for 20 s this time";
    w.loop.advance(10s);
    EXPECT_EQ(count_of(w.dp, installed), 3u);
    // The LAC is back (and its dead-time over): a call connects; the route is announced for good.
    w.lac_unreachable = false;
    w.loop.advance(60s);
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
    w.loop.advance(5s);
    ASSERT_EQ(w.w->manager().session_state(w.key("10.10.1.1")), dialout::SessionState::inService) << routes.text();
    EXPECT_EQ(w.call("show l2tp dial-out target")["result"][0]["route"], "announced");
    const auto text = routes.text();
    for (const char* t : {"announced -> withdrawn on unreachable", "withdrawn -> probation on hold-down-expiry",
                          "probation -> withdrawn on unreachable", "probation -> announced on connected"})
        EXPECT_NE(text.find(t), std::string::npos) << t << "\n" << text;
}

// With fewer retransmissions the L2TP layer gives the LAC up first (RFC 2661 §5.8): the call fails
// with no LAC having answered (OutgoingResult::no_lac_answered) before the trigger timer.
// req: ROUTE.withdrawal
TEST(DialOutWiring, DialOutRouteWithdrawnWhenTheSccrqGoesUnanswered) {
    const auto cfg = "max-retransmits: 2\n" + with_withdrawal("{after-failures: 1, hold-down: 10s}");
    World w(cfg.c_str());
    core::EventRecorder routes{w.bus, {"lnsd.dialout-route", ""}};
    w.lac_unreachable = true;
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
    w.loop.advance(20s);
    EXPECT_EQ(w.w->counters().calls_failed, 1u);
    EXPECT_EQ(w.w->counters().route_withdrawals, 1u);
    EXPECT_EQ(count_of(w.dp, "remove dial-out route default 10.10.0.0/16"), 1u);
    EXPECT_NE(routes.text().find("announced -> withdrawn on unreachable (cause=no LAC answered"), std::string::npos)
        << routes.text();
}

// A LAC that answers with a CDN (busy) is reachable: the box can serve, the route stays.
// req: ROUTE.withdrawal
TEST(DialOutWiring, DialOutRouteStaysWhenTheLacRefusesTheCall) {
    const auto cfg = with_withdrawal("{after-failures: 1}");
    World w(cfg.c_str());
    w.lac_busy = true;
    for (const char* d : {"10.10.1.1", "10.10.2.1"}) {
        w.w->tun_packet("default", ipv4("203.0.113.10", d));
        w.loop.advance(2s);
    }
    EXPECT_EQ(w.w->counters().calls_failed, 2u);
    EXPECT_EQ(w.w->counters().route_withdrawals, 0u);
    EXPECT_EQ(count_of(w.dp, "remove dial-out route default 10.10.0.0/16"), 0u);
}

// The LAC answered the OCRQ (OCRP) but the call never connected before the trigger timer: the LAC
// is reachable (Lns::outgoing_call_answered), the route stays.
// req: ROUTE.withdrawal
TEST(DialOutWiring, DialOutRouteStaysWhenTheLacAnsweredButNeverConnected) {
    const auto cfg = with_withdrawal("{after-failures: 1}");
    World w(cfg.c_str());
    w.lac_rings_forever = true;
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
    w.loop.advance(35s);
    ASSERT_EQ(w.ocrqs.size(), 1u);
    EXPECT_EQ(w.w->manager().session_state(w.key()), dialout::SessionState::inhibited);
    EXPECT_EQ(w.w->counters().route_withdrawals, 0u);
    EXPECT_EQ(count_of(w.dp, "remove dial-out route default 10.10.0.0/16"), 0u);
}

// No home RADIUS server answers: the box cannot serve either.
// req: ROUTE.withdrawal
TEST(DialOutWiring, DialOutRouteWithdrawnWhenNoHomeRadiusAnswers) {
    const auto cfg = with_withdrawal("{after-failures: 1, hold-down: 5s}");
    World w(cfg.c_str());
    w.home = Home::silent;
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
    w.loop.advance(35s);
    EXPECT_EQ(w.w->counters().route_withdrawals, 1u);
    EXPECT_EQ(count_of(w.dp, "remove dial-out route default 10.10.0.0/16"), 1u);
}

TEST(DialOutWiring, RouteWithdrawalConfigErrorsNameTheKey) {
    for (const char* bad : {"{after-failures: -1}", "{hold-down: 0s}", "{after-failures: 2, hold: 5s}", "3"}) {
        const auto cfg = with_withdrawal(bad);
        try {
            World w(cfg.c_str());
            ADD_FAILURE() << bad << " accepted";
        } catch (const core::ConfigError& e) {
            EXPECT_NE(std::string(e.what()).find("route-withdrawal"), std::string::npos) << e.what();
        }
    }
}

// operator new calls of this test binary (counting allocator in data_path_test.cpp).

namespace {

// req: DP.no-allocation
TEST(DialOutWiring, ForwardingAnInServiceCallAllocatesNothingPerPacket) {
    World w;
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
    w.loop.advance(5s);
    ASSERT_EQ(w.w->manager().session_state(w.key()), dialout::SessionState::inService);
    // From here the LNS sends its data messages with sendmmsg on a socket that refuses them
    // locally (an AF_UNIX pair: an IPv4 destination is EINVAL), so nothing leaves this host.
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
    w.lns->set_data_socket(sv[0]);
    w.tun_count_only = true;
    // The LNS's own ids of the call, as the LAC addresses its data messages (RFC 2661 §3.1).
    const auto ids = w.lac->peer_ids(*w.lac_call);
    ASSERT_TRUE(ids);
    const auto reply = ipv4("10.10.1.1", "203.0.113.10");
    std::vector<std::uint8_t> data = {0x00, 0x02, static_cast<std::uint8_t>(ids->tunnel >> 8),
                                      static_cast<std::uint8_t>(ids->tunnel), static_cast<std::uint8_t>(ids->session >> 8),
                                      static_cast<std::uint8_t>(ids->session), 0xFF, 0x03, 0x00, 0x21};
    data.insert(data.end(), reply.begin(), reply.end());
    const auto out = ipv4("203.0.113.10", "10.10.1.200");
    dataplane::PacketBatch batch(32, 2048, 64);
    auto round = [&] {
        batch.reset();
        while (!batch.full()) batch.push(out);
        for (auto& p : batch) w.w->to_session(1, p);  // TUN batch → the call (wiring → Lns → DataPath)
        w.lns->flush_data();
        for (int i = 0; i < 32; ++i) w.lns->receive(kLacPeer, data);  // → DataPath → Link → to_tun
    };
    round();  // warm-up
    const auto before = dl::testing::allocations();
    for (int i = 0; i < 10; ++i) round();
    const auto allocations = dl::testing::allocations() - before;
    EXPECT_EQ(allocations, 0u) << "320 packets each way through DialOutWiring, Lns, DataPath and the PPP Link";
    EXPECT_EQ(w.tun_count, 11u * 32u) << "every data message reached the TUN port through the PPP Link";
    EXPECT_EQ(w.lns->data_counters().tx_in_place, 11u * 32u);
    EXPECT_EQ(w.w->counters().frames_dropped, 0u);
    // Accounting counts what went out in place too (RFC 2866 §5.4): 352 packets of 20 octets,
    // plus the trigger (20 octets) sent by copy at IPCP up.
    const auto ppp = w.w->show_ppp("", true);
    ASSERT_EQ(ppp.size(), 1u) << ppp.dump();
    EXPECT_EQ(ppp[0]["counters"]["octets-out"], (11u * 32u + 1u) * out.size()) << ppp.dump();
    w.lns->set_data_socket(-1);
    ::close(sv[0]);
    ::close(sv[1]);
}

}  // namespace

namespace {

/// Dial-out up to inService, then one IPv4 packet each way (TUN -> CPE 28 octets, CPE -> TUN 48).
void up_with_traffic(World& w) {
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
    w.loop.advance(2s);
    ASSERT_EQ(w.w->manager().session_state(w.key()), dialout::SessionState::inService);
    ASSERT_EQ(w.acct_requests.size(), 1u) << "Accounting Start at IPCP up";
    const auto reply = ipv4("10.10.1.1", "203.0.113.10", 28);
    auto f = std::vector<std::uint8_t>{0xFF, 0x03, 0x00, 0x21};
    f.insert(f.end(), reply.begin(), reply.end());
    w.lac->send_ppp(*w.lac_call, f);
    w.loop.advance(100ms);
}

std::uint32_t integer(const Radius& r, AttributeType t) { return r.get_integer(t).value_or(0xFFFFFFFFu); }

}  // namespace

// req: ACCT.interim, ACCT.start-stop
TEST(DialOutWiring, InterimUpdateEveryAcctInterimIntervalWithCumulativeCounters) {
    World w;
    w.interim_attr = 30;  // below RFC 2869 §5.16's minimum: used as 60 s
    up_with_traffic(w);
    // Nothing before 60 s after Start.
    w.loop.advance(57s);
    ASSERT_EQ(w.acct_requests.size(), 1u) << "an Acct-Interim-Interval of 30 must be raised to 60 s";
    w.loop.advance(3s);
    ASSERT_EQ(w.acct_requests.size(), 2u) << "Interim-Update due 60 s after Start";
    const Radius& i1 = w.acct_requests[1];
    EXPECT_EQ(integer(i1, AttributeType::Acct_Status_Type), 3u) << "Interim-Update (RFC 2866 §5.1)";
    EXPECT_EQ(i1.get_string(AttributeType::Acct_Session_Id), w.acct_requests[0].get_string(AttributeType::Acct_Session_Id));
    EXPECT_EQ(i1.get_string(AttributeType::User_Name), "cpe-remote");
    EXPECT_GE(integer(i1, AttributeType::Acct_Session_Time), 60u);
    EXPECT_LE(integer(i1, AttributeType::Acct_Session_Time), 62u);
    // The trigger (28 octets) went to the CPE; the CPE's 48-octet reply came in.
    EXPECT_EQ(integer(i1, AttributeType::Acct_Output_Packets), 1u);
    EXPECT_EQ(integer(i1, AttributeType::Acct_Output_Octets), 28u);
    EXPECT_EQ(integer(i1, AttributeType::Acct_Input_Packets), 1u);
    EXPECT_EQ(integer(i1, AttributeType::Acct_Input_Octets), 48u);
    EXPECT_FALSE(i1.get_integer(AttributeType::Acct_Terminate_Cause)) << "only Stop has a terminate cause";
    EXPECT_EQ(i1.get_string(AttributeType::Class), "lns-class-1") << "Class echoed (RFC 2865 §5.25)";
    EXPECT_EQ(w.acct_requests[0].get_string(AttributeType::Class), "lns-class-1") << "Class in the Start";
    // RFC 2867 tunnel attributes like Start/Stop.
    EXPECT_TRUE(i1.get_string(AttributeType::Acct_Tunnel_Connection));
    EXPECT_TRUE(i1.find(AttributeType::Tunnel_Type)) << "tagged Tunnel-Type (RFC 2868 §3.1)";
    EXPECT_TRUE(i1.find(AttributeType::Tunnel_Server_Endpoint));

    // More traffic; the next Interim-Update is cumulative (RFC 2869 §2.1).
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1", 100));
    w.loop.advance(60s);
    ASSERT_EQ(w.acct_requests.size(), 3u);
    const Radius& i2 = w.acct_requests[2];
    EXPECT_EQ(integer(i2, AttributeType::Acct_Status_Type), 3u);
    EXPECT_EQ(integer(i2, AttributeType::Acct_Output_Packets), 2u);
    EXPECT_EQ(integer(i2, AttributeType::Acct_Output_Octets), 28u + 120u);
    EXPECT_GE(integer(i2, AttributeType::Acct_Session_Time), 120u);
    EXPECT_EQ(w.w->counters().acct_interims, 2u);
    EXPECT_EQ(w.w->counters().acct_responses, 3u);

    // Stop ends the series: cumulative counters, a terminate cause, no Interim-Update after it.
    w.lac->disconnect(*w.lac_call, l2tp::CdnResult::LossOfCarrier);
    w.loop.advance(1s);
    ASSERT_EQ(w.acct_requests.size(), 4u);
    const Radius& st = w.acct_requests[3];
    EXPECT_EQ(integer(st, AttributeType::Acct_Status_Type), 2u);
    EXPECT_EQ(integer(st, AttributeType::Acct_Output_Octets), 148u);
    EXPECT_EQ(integer(st, AttributeType::Acct_Input_Octets), 48u);
    EXPECT_TRUE(st.get_integer(AttributeType::Acct_Terminate_Cause));
    w.loop.advance(5min);
    EXPECT_EQ(w.acct_requests.size(), 4u) << "no Interim-Update after Stop";
}

// req: ACCT.interim
TEST(DialOutWiring, ConfiguredInterimIntervalOverridesTheAccessAccept) {
    std::string yaml = kConfig;
    const std::string at = "    nas-ip-address: 192.0.2.1\n";
    yaml.replace(yaml.find(at), at.size(), at + "    accounting-interim-interval: 10s\n");
    World w(yaml.c_str());
    w.interim_attr = 600;  // RFC 2869 §2.1: the local value MUST override this
    up_with_traffic(w);
    w.loop.advance(10s);
    ASSERT_EQ(w.acct_requests.size(), 2u) << "Interim-Update after the configured 10 s";
    EXPECT_EQ(integer(w.acct_requests[1], AttributeType::Acct_Status_Type), 3u);
    w.loop.advance(20s);
    EXPECT_EQ(w.acct_requests.size(), 4u) << "every 10 s";
    const auto detail = w.call("show ppp", {{"id", "1"}});
    ASSERT_TRUE(detail.contains("result")) << detail.dump();
    // The same call by its L2TP "tunnel/session" (a look-up in the wiring's handle map), and ids
    // that name no call.
    const std::string label = detail["result"][0]["l2tp-session"];
    const auto by_label = w.call("show ppp", {{"id", label}});
    ASSERT_TRUE(by_label["ok"].get<bool>()) << by_label.dump();
    EXPECT_EQ(by_label["result"][0]["id"], detail["result"][0]["id"]);
    for (const char* bad : {"2", "x", "1/", "/1", "70000/1", "1/2/3"})
        EXPECT_FALSE(w.call("show ppp", {{"id", bad}})["ok"].get<bool>()) << bad;
    EXPECT_EQ(detail["result"][0]["accounting"]["interim-interval-s"], 10) << detail.dump();
    EXPECT_EQ(detail["result"][0]["accounting"]["interims-sent"], 3) << detail.dump();
}

// req: ACCT.interim
TEST(DialOutWiring, NoInterimWithoutIntervalAndBadIntervalConfigNamesTheKey) {
    World w;
    up_with_traffic(w);
    w.loop.advance(30min);
    EXPECT_EQ(w.acct_requests.size(), 1u) << "neither Acct-Interim-Interval nor a local value: no Interim-Update";
    std::string yaml = kConfig;
    const std::string at = "    nas-ip-address: 192.0.2.1\n";
    yaml.replace(yaml.find(at), at.size(), at + "    accounting-interim-interval: 500ms\n");
    try {
        lnsd::load_wiring_config(core::ConfigNode::parse(yaml));
        FAIL() << "500ms accepted";
    } catch (const core::ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("accounting-interim-interval"), std::string::npos) << e.what();
    }
}

// req: ACCT.interim
TEST(DialOutWiring, UnansweredInterimUpdateIsSupersededNotQueued) {
    // RFC 2869 §2.1: "only a single generation of an interim Accounting message for a given session
    // is present in the retransmission queue at any given time".
    std::string yaml = kConfig;
    const std::string at = "    nas-ip-address: 192.0.2.1\n";
    yaml.replace(yaml.find(at), at.size(), at + "    accounting-interim-interval: 10s\n");
    World w(yaml.c_str());
    up_with_traffic(w);
    w.acct_silent = true;
    w.loop.advance(10s);  // Interim-Update #1, unanswered: retransmitted every radius-timeout (3 s)
    w.loop.advance(10s);  // #2 supersedes #1, whose retransmissions stop
    EXPECT_EQ(w.w->counters().acct_interims, 2u);
    EXPECT_EQ(w.w->counters().acct_interims_superseded, 1u);
    const auto second = integer(w.acct_requests.back(), AttributeType::Acct_Session_Time);
    EXPECT_GE(second, 20u);
    const auto seen = w.acct_requests.size();
    w.loop.advance(7s);  // up to just before #3 (Start + 30 s)
    ASSERT_GT(w.acct_requests.size(), seen) << "#2 is retransmitted";
    for (std::size_t i = seen; i < w.acct_requests.size(); ++i)
        EXPECT_EQ(integer(w.acct_requests[i], AttributeType::Acct_Session_Time), second)
            << "request " << i << " is not a retransmission of the newest Interim-Update";
}

// ---- the call session (lns/session, docs/architecture.md "Call session") ----

namespace {
/// "from -> to on event" of each recorded session.call event.
std::vector<std::string> call_transitions(const dl::core::EventRecorder& rec) {
    std::vector<std::string> out;
    for (const auto& e : rec.events()) out.push_back(e.from + " -> " + e.to + " on " + e.event);
    return out;
}
}  // namespace

TEST(DialOutWiring, DialOutCallSessionFromPlacingToClosing) {
    World w;
    dl::core::EventRecorder calls(w.bus, {"session.call", ""});
    w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
    w.loop.advance(2s);
    ASSERT_EQ(w.w->manager().session_state(w.key()), dialout::SessionState::inService);
    auto ppp = w.call("show ppp");
    ASSERT_EQ(ppp["result"].size(), 1u) << ppp.dump();
    EXPECT_EQ(ppp["result"][0]["state"], "network-up");
    ASSERT_TRUE(w.lac_call);
    w.lac->disconnect(*w.lac_call, l2tp::CdnResult::LossOfCarrier);
    w.loop.advance(1s);
    EXPECT_EQ(w.w->call_count(), 0u);
    const std::vector<std::string> expected{" -> placing on place", "placing -> ppp on l2tp-up",
                                            "ppp -> network-up on network-up", "network-up -> closing on l2tp-down"};
    EXPECT_EQ(call_transitions(calls), expected) << calls.text();
    for (const auto& e : calls.events()) EXPECT_EQ(e.id, "1");
    EXPECT_EQ(calls.events().back().cause, "CDN result 1");
}

TEST(DialOutWiring, IncomingCallRefusedAtAaaIsReleasedThenClosed) {
    const auto yaml = incoming_config("mandatory-chap", "chap");
    World w(yaml.c_str());
    w.cpe_known = false;
    dl::core::EventRecorder calls(w.bus, {"session.call", ""});
    w.lac->place_incoming_call(kLnsPeer, proxied_call(2));
    w.loop.advance(5s);
    const std::vector<std::string> expected{" -> proxy-auth on l2tp-up", "proxy-auth -> releasing on refused",
                                            "releasing -> closing on timer-expiry"};
    EXPECT_EQ(call_transitions(calls), expected) << calls.text();
    ASSERT_EQ(calls.events().size(), 3u);
    ASSERT_TRUE(calls.events()[1].timer);
    EXPECT_EQ(calls.events()[1].timer->name, "call-release");
    EXPECT_EQ(w.w->call_count(), 0u);
    EXPECT_EQ(w.lns->session_count(), 0u) << "CDN";
}

// `show ppp`'s total is a running count of the live calls (not a walk over every call): it stays
// equal to what a full listing walks through every way a call starts and ends.
TEST(DialOutWiring, ShowPppTotalFollowsEveryWayACallStartsAndEnds) {
    auto expect_total = [](World& w, std::size_t n, const char* when) {
        SCOPED_TRACE(when);
        const auto paged = w.call("show ppp", {{"limit", 1}});
        EXPECT_EQ(paged["result"]["total"], n) << paged.dump();
        const auto all = w.call("show ppp");
        EXPECT_EQ(all["result"].size(), n) << all.dump();
    };
    {  // dial-out in service, then the LAC hangs up (l2tp-down)
        World w;
        expect_total(w, 0, "no call yet");
        w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
        w.loop.advance(2s);
        ASSERT_EQ(w.w->manager().session_state(w.key()), dialout::SessionState::inService);
        expect_total(w, 1, "in service");
        w.lac->disconnect(*w.lac_call, l2tp::CdnResult::LossOfCarrier);
        w.loop.advance(1s);
        expect_total(w, 0, "after the LAC's CDN");
    }
    {  // the LAC is busy: the call fails while placing (call-failed, erased at once)
        World w;
        w.lac_busy = true;
        w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
        w.loop.advance(2s);
        ASSERT_EQ(w.w->counters().calls_failed, 1u);
        expect_total(w, 0, "after the busy CDN");
    }
    {  // the LAC never connects: placing until the connecting timer clears the call
        World w;
        w.lac_rings_forever = true;
        w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
        w.loop.advance(2s);
        expect_total(w, 1, "placing");
        w.loop.advance(35s);
        ASSERT_EQ(w.w->manager().session_state(w.key()), dialout::SessionState::inhibited);
        expect_total(w, 0, "after the connecting timer");
    }
    {  // the wiring ends the call itself: the CPE rejected by the LNS RADIUS server
        World w;
        w.cpe_known = false;
        w.w->tun_packet("default", ipv4("203.0.113.10", "10.10.1.1"));
        w.loop.advance(5s);
        ASSERT_EQ(w.w->counters().ppp_auth_rejects, 1u);
        expect_total(w, 0, "after the PPP authentication failure");
    }
    {  // incoming, refused at AAA: releasing, then closing on the call-release timer
        const auto yaml = incoming_config("mandatory-chap", "chap");
        World w(yaml.c_str());
        w.cpe_known = false;
        w.lac->place_incoming_call(kLnsPeer, proxied_call(2));
        w.loop.advance(5s);
        ASSERT_EQ(w.w->call_count(), 0u);
        expect_total(w, 0, "after the release");
    }
    {  // incoming in service, then cleared by the administrator (clear_session)
        const auto yaml = incoming_config("mandatory-chap", "pap");
        World w(yaml.c_str());
        w.lac->place_incoming_call(kLnsPeer, eng::IncomingCall{.call_serial_number = 1, .calling_number = "5552000"});
        w.loop.advance(3s);
        ASSERT_TRUE(w.cpe_network);
        expect_total(w, 1, "incoming in service");
        const auto sessions = w.lns->show_sessions("", false);
        ASSERT_EQ(sessions.size(), 1u) << sessions.dump();
        const std::string id = sessions[0]["id"];
        const auto slash = id.find('/');
        ASSERT_TRUE(w.lns->clear_session(static_cast<std::uint16_t>(std::stoi(id.substr(0, slash))),
                                         static_cast<std::uint16_t>(std::stoi(id.substr(slash + 1)))));
        expect_total(w, 0, "cleared, not yet reaped");
        w.loop.advance(1s);
        expect_total(w, 0, "after the clear");
    }
}
