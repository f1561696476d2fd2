// cpe-emu core: sites answering ISDN calls and running the PPP engine in the peer role (cpe.hpp).
#include "dl/cpe/cpe.hpp"

#include <arpa/inet.h>

#include <utility>

#include <fmt/format.h>

#include "dl/ppp/auth.hpp"
#include "dl/ppp/hdlc.hpp"
#include "dl/proto/errors.hpp"
#include "dl/radius/client/ppp_credentials.hpp"
#include "dl/radius/radius.hpp"

namespace dl::cpe {

using ppp::engine::AuthMethod;
using ppp::engine::AuthPreference;

std::string_view to_string(Fault f) noexcept {
    switch (f) {
    case Fault::none: return "none";
    case Fault::wrong_password: return "wrong-password";
    case Fault::refuse_auth: return "refuse-auth";
    case Fault::no_lcp: return "no-lcp";
    case Fault::no_answer: return "no-answer";
    case Fault::busy: return "busy";
    case Fault::reject: return "reject";
    }
    return "?";
}

Fault fault_from_string(std::string_view s) {
    for (auto f : {Fault::none, Fault::wrong_password, Fault::refuse_auth, Fault::no_lcp, Fault::no_answer, Fault::busy,
                   Fault::reject})
        if (to_string(f) == s) return f;
    throw std::invalid_argument(fmt::format(
        "fault: '{}' is not one of none, wrong-password, refuse-auth, no-lcp, no-answer, busy, reject", s));
}

namespace {
std::uint32_t parse_ip(const std::string& s, const char* key) {
    in_addr a{};
    if (::inet_pton(AF_INET, s.c_str(), &a) != 1) throw std::invalid_argument(fmt::format("{}: '{}' is not an IPv4 address", key, s));
    return ntohl(a.s_addr);
}
std::string ip_text(std::uint32_t ip) {
    return fmt::format("{}.{}.{}.{}", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}
}  // namespace

TunConfig TunConfig::from_json(const nlohmann::json& j) {
    TunConfig t;
    try {
        if (!j.is_object()) throw std::invalid_argument("tun: must be a map {name, routes, mtu}");
        for (const auto& [k, v] : j.items())
            if (k != "name" && k != "routes" && k != "mtu") throw std::invalid_argument("tun." + k + ": unknown key (name, routes, mtu)");
        t.name = j.at("name").get<std::string>();
        if (t.name.empty() || t.name.size() > 15) throw std::invalid_argument("tun.name: '" + t.name + "' must be 1..15 characters");
        if (j.contains("routes")) {
            for (const auto& r : j.at("routes")) {
                const auto text = r.get<std::string>();
                auto p = text == "default" ? std::optional<core::Ipv4Prefix>(core::Ipv4Prefix{}) : core::Ipv4Prefix::parse(text);
                if (!p || p->has_host_bits())
                    throw std::invalid_argument("tun.routes: '" + text + "' is not a prefix without host bits (e.g. 203.0.113.0/24) or default");
                t.routes.push_back(*p);
            }
        }
        if (j.contains("mtu")) {
            const auto& m = j.at("mtu");
            const int mtu = m.is_string() ? std::stoi(m.get<std::string>()) : m.get<int>();
            if (mtu < 68 || mtu > 65535) throw std::invalid_argument("tun.mtu: must be 68..65535");
            t.mtu = mtu;
        }
    } catch (const nlohmann::json::exception& e) {
        throw std::invalid_argument(std::string("tun: ") + e.what());
    }
    return t;
}

SiteConfig SiteConfig::from_json(const nlohmann::json& j) {
    SiteConfig s;
    try {
        s.number = j.at("number").get<std::string>();
        if (!isdn::valid_number(s.number)) throw std::invalid_argument("number: '" + s.number + "' is not 1..32 digits");
        s.name = j.value("name", s.name);
        s.secret = j.value("secret", s.secret);
        if (j.contains("auth")) {
            s.allow_pap = s.allow_chap = false;
            for (const auto& a : j.at("auth")) {
                auto v = a.get<std::string>();
                if (v == "pap") s.allow_pap = true;
                else if (v == "chap") s.allow_chap = true;
                else throw std::invalid_argument("auth: '" + v + "' is not pap or chap");
            }
        }
        if (j.contains("require_auth")) {
            auto v = j.at("require_auth").get<std::string>();
            if (v == "none") s.require_auth = AuthPreference::none;
            else if (v == "pap") s.require_auth = AuthPreference::pap;
            else if (v == "chap") s.require_auth = AuthPreference::chap;
            else throw std::invalid_argument("require_auth: '" + v + "' is not none, pap or chap");
        }
        if (j.contains("users")) s.users = j.at("users").get<std::map<std::string, std::string>>();
        if (j.contains("lns_auth")) {
            auto v = j.at("lns_auth").get<std::string>();
            if (v == "users") s.lns_auth = LnsAuthSource::users;
            else if (v == "radius") s.lns_auth = LnsAuthSource::radius;
            else throw std::invalid_argument("lns_auth: '" + v + "' is not users or radius");
        }
        if (j.contains("local_ip")) s.local_ip = parse_ip(j.at("local_ip").get<std::string>(), "local_ip");
        if (j.contains("mru")) {
            auto m = j.at("mru").get<int>();
            if (m < 128 || m > 16384) throw std::invalid_argument("mru: must be 128..16384");
            s.mru = static_cast<std::uint16_t>(m);
        }
        if (j.contains("fault")) s.fault = fault_from_string(j.at("fault").get<std::string>());
        if (j.contains("speed")) s.answer_speed = j.at("speed").get<std::uint32_t>();
        if (j.contains("tun")) s.tun = TunConfig::from_json(j.at("tun"));
    } catch (const nlohmann::json::exception& e) {
        throw std::invalid_argument(std::string("site: ") + e.what());
    }
    return s;
}

struct Cpe::Site {
    SiteConfig cfg;
    std::unique_ptr<Call> call;
    std::unique_ptr<SiteTun> tun;  // while IPCP is up (cfg.tun set)
    TunCounters tun_counters;
    std::string tun_error;
    LnsAuthCounters lns_auth;
};

struct Cpe::Call {
    Cpe& cpe;
    Site& site;
    std::uint16_t ref;  // the exchange's call reference (flag set)
    isdn::Bearer bearer;
    bool active = false;
    bool network_up = false;
    std::unique_ptr<ppp::AsyncDeframer> deframer;  // analog only
    std::unique_ptr<ppp::engine::Link> link;
    std::vector<std::vector<std::uint8_t>> rx_queue;  // packets received while a Link callback runs
    int in_callback = 0;
    std::uint64_t serial = 0;               // tells this call from a later one of the same site
    std::string other_number;               // calling number (answered) or called number (dialled)
    radius::client::RequestHandle radius;   // Access-Request checking the LNS, in flight

    Call(Cpe& c, Site& s, std::uint16_t r, isdn::Bearer b) : cpe(c), site(s), ref(r), bearer(b) {}
};

Cpe::Cpe(core::TimerQueue& timers, core::TimerRegistry& registry, core::EventBus& bus, IsdnSend isdn_send)
    : timers_(timers), registry_(registry), bus_(bus), isdn_send_(std::move(isdn_send)), reap_timer_(timers) {
    core::register_well_known_timers(registry_);
}

Cpe::~Cpe() {
    closing_ = true;
    if (!radius_) return;
    auto cancel = [this](Call* c) {
        if (c && c->radius) radius_->cancel(std::exchange(c->radius, {}));
    };
    for (auto& [n, s] : sites_) cancel(s->call.get());
    for (auto& c : doomed_) cancel(c.get());
}

void Cpe::bind_radius(radius::client::Client& client, radius::client::NasInfo nas, std::string vr) {
    radius_ = &client;
    radius_nas_ = std::move(nas);
    radius_vr_ = std::move(vr);
}

std::size_t Cpe::site_footprint() noexcept { return sizeof(Site); }
std::size_t Cpe::call_footprint() noexcept { return sizeof(Call); }

void Cpe::add_site(SiteConfig site) {
    if (!isdn::valid_number(site.number)) throw std::invalid_argument("number: '" + site.number + "' is not 1..32 digits");
    if (sites_.count(site.number)) throw std::invalid_argument("number: '" + site.number + "' is configured twice");
    if (site.lns_auth == LnsAuthSource::radius && !radius_)
        throw std::invalid_argument("lns_auth: 'radius' for site '" + site.number + "' needs a RADIUS client (radius: section)");
    auto s = std::make_unique<Site>();
    s->cfg = std::move(site);
    const std::string n = s->cfg.number;
    sites_.emplace(n, std::move(s));
    if (started_) isdn_send_(isdn::Message::reg({n}));
}

void Cpe::start() {
    started_ = true;
    std::vector<std::string> numbers;
    for (const auto& [n, s] : sites_) {
        numbers.push_back(n);
        if (numbers.size() == isdn::Message::kMaxNumbers) {
            isdn_send_(isdn::Message::reg(std::move(numbers)));
            numbers.clear();
        }
    }
    if (!numbers.empty()) isdn_send_(isdn::Message::reg(std::move(numbers)));
}

void Cpe::isdn_receive(const isdn::Message& m) {
    using isdn::MessageType;
    switch (m.type) {
    case MessageType::setup: on_setup(m); return;
    case MessageType::connect: {  // our own call was answered
        auto it = by_ref_.find(m.call_ref);
        if (it == by_ref_.end() || !it->second->call || (m.call_ref & 0x8000u)) return;
        Call& c = *it->second->call;
        c.active = true;
        bus_.publish({.entity = "cpe.call", .id = c.site.cfg.number, .event = "connected",
                      .cause = fmt::format("{} bit/s", m.speed.value_or(0))});
        if (c.site.cfg.fault != Fault::no_lcp) c.link->open();
        return;
    }
    case MessageType::connect_ack: {
        auto it = by_ref_.find(m.call_ref);
        if (it == by_ref_.end() || !it->second->call) return;
        Call& c = *it->second->call;
        c.active = true;
        if (c.site.cfg.fault != Fault::no_lcp) c.link->open();
        return;
    }
    case MessageType::release:
    case MessageType::release_complete: {
        auto it = by_ref_.find(m.call_ref);
        if (it == by_ref_.end()) return;
        Site& s = *it->second;
        if (m.type == MessageType::release)
            isdn_send_(isdn::Message::simple(MessageType::release_complete, m.call_ref));
        bus_.publish({.entity = "cpe.call", .id = s.cfg.number, .event = "released",
                      .cause = fmt::format("cause {}", m.cause.value_or(16))});
        end_call(s, std::nullopt);
        return;
    }
    case MessageType::data: {
        auto it = by_ref_.find(m.call_ref);
        if (it == by_ref_.end() || !it->second->call || !it->second->call->active) return;
        receive_data(*it->second->call, m.payload);
        return;
    }
    default: return;
    }
}

void Cpe::on_setup(const isdn::Message& m) {
    auto it = sites_.find(m.called);
    if (it == sites_.end()) {
        isdn_send_(isdn::Message::release(m.call_ref, isdn::cause::unallocated_number));
        return;
    }
    Site& s = *it->second;
    if (s.call) {
        isdn_send_(isdn::Message::release(m.call_ref, isdn::cause::user_busy));
        return;
    }
    switch (s.cfg.fault) {
    case Fault::busy: isdn_send_(isdn::Message::release(m.call_ref, isdn::cause::user_busy)); return;
    case Fault::reject: isdn_send_(isdn::Message::release(m.call_ref, isdn::cause::call_rejected)); return;
    default: break;
    }
    const isdn::Bearer bearer = m.bearer.value_or(isdn::Bearer::digital);
    s.call = std::make_unique<Call>(*this, s, m.call_ref, bearer);
    by_ref_[m.call_ref] = &s;
    Call& c = *s.call;
    c.serial = ++next_call_serial_;
    c.other_number = m.calling;
    if (bearer == isdn::Bearer::analog) c.deframer = std::make_unique<ppp::AsyncDeframer>();

    make_link(s);
    bus_.publish({.entity = "cpe.call", .id = s.cfg.number, .event = "setup",
                  .cause = fmt::format("from {} {}", m.calling, to_string(bearer))});
    isdn_send_(isdn::Message::simple(isdn::MessageType::alerting, m.call_ref));
    if (s.cfg.fault == Fault::no_answer) return;
    isdn::Message conn = isdn::Message::simple(isdn::MessageType::connect, m.call_ref);
    if (s.cfg.answer_speed) conn.speed = s.cfg.answer_speed;
    isdn_send_(conn);
}

void Cpe::make_link(Site& s) {
    ppp::engine::LinkConfig lc;
    lc.mru = s.cfg.mru;
    lc.name = s.cfg.name;
    lc.secret = s.cfg.fault == Fault::wrong_password ? s.cfg.secret + "-wrong" : s.cfg.secret;
    lc.allow_pap = s.cfg.fault != Fault::refuse_auth && s.cfg.allow_pap;
    lc.allow_chap = s.cfg.fault != Fault::refuse_auth && s.cfg.allow_chap;
    lc.require_auth = s.cfg.require_auth;
    lc.local_ip = s.cfg.local_ip;
    ppp::engine::LinkCallbacks cb;
    Call* cp = s.call.get();
    Call& c = *cp;
    cb.send = [this, cp](std::uint16_t proto, std::vector<std::uint8_t> info) { send_ppp(*cp, proto, info); };
    cb.verify = [this, cp](std::uint32_t ticket, const ppp::engine::Credentials& cr) { verify_lns(*cp, ticket, cr); };
    cb.network_up = [this, cp](const ppp::engine::NetworkInfo& n) {
        cp->network_up = true;
        bus_.publish({.entity = "cpe.call", .id = cp->site.cfg.number, .event = "network-up",
                      .cause = fmt::format("local {} peer {}", ip_text(n.local_ip), ip_text(n.peer_ip))});
        if (cp->site.cfg.tun && cp->site.call.get() == cp) open_tun(cp->site, n.local_ip, n.peer_ip);
        if (network_up_hook_) network_up_hook_(cp->site.cfg.number);
    };
    cb.deliver = [cp](std::uint16_t protocol, std::span<const std::uint8_t> packet) {
        Site& site = cp->site;
        // RFC 1332 §2: Protocol 0x0021 carries one IPv4 datagram.
        if (protocol == 0x0021 && site.tun && site.call.get() == cp && site.tun->write(packet))
            ++site.tun_counters.to_tun;
        else
            ++site.tun_counters.to_tun_dropped;
    };
    cb.link_down = [this, cp](std::string_view why) {
        bus_.publish({.entity = "cpe.call", .id = cp->site.cfg.number, .event = "link-down", .cause = std::string(why)});
        Site& site = cp->site;
        if (site.call.get() == cp) close_tun(site, why);
        // Hang up after the engine's callback has returned.
        timers_.arm(core::Duration::zero(), [this, &site, cp] {
            if (site.call.get() == cp) end_call(site, isdn::cause::normal_clearing);
        });
    };
    c.link = std::make_unique<ppp::engine::Link>(lc, cb, core::FsmEnv{&bus_, &timers_, &registry_},
                                                 fmt::format("{}", s.cfg.number));
}

void Cpe::verify_lns(Call& c, std::uint32_t ticket, const ppp::engine::Credentials& cr) {
    if (c.site.cfg.lns_auth == LnsAuthSource::radius) {
        ask_radius(c, ticket, cr);
        return;
    }
    // Authenticate the LNS from the site's own user table (RFC 1334 §2.2, RFC 1994 §4.1).
    const auto& users = c.site.cfg.users;
    auto u = users.find(cr.user);
    bool ok = false;
    if (u != users.end()) {
        if (cr.method == AuthMethod::pap) ok = cr.password == u->second;
        else if (cr.method == AuthMethod::chap_md5) {
            auto want = ppp::chap_md5_response(cr.chap_id, u->second, cr.challenge);
            ok = cr.response.size() == want.size() && std::equal(want.begin(), want.end(), cr.response.begin());
        }
    }
    lns_verdict(c, ticket, ok ? LnsVerdict::accepted : LnsVerdict::rejected, ok ? "welcome" : "bad credentials");
}

void Cpe::lns_verdict(Call& c, std::uint32_t ticket, LnsVerdict v, std::string why) {
    auto& k = c.site.lns_auth;
    ++(v == LnsVerdict::accepted ? k.accepted : v == LnsVerdict::rejected ? k.rejected : k.no_answer);
    const bool ok = v == LnsVerdict::accepted;
    bus_.publish({.entity = "cpe.auth", .id = c.site.cfg.number, .event = ok ? "lns-accepted" : "lns-rejected",
                  .cause = why});
    // Answer after the callback returns (the engine's verify() is asynchronous by design).
    Call* cp = &c;
    timers_.arm(core::Duration::zero(), [cp, ticket, ok, why = std::move(why)] {
        if (cp->link) cp->link->verify_result(ticket, {ok, ok ? "welcome" : why});
    });
}

void Cpe::ask_radius(Call& c, std::uint32_t ticket, const ppp::engine::Credentials& cr) {
    Site& s = c.site;
    if (!radius_) return lns_verdict(c, ticket, LnsVerdict::no_answer, "no RADIUS client");
    // RFC 2865 §5.2 (PAP User-Password) / §5.3 + §5.40 (CHAP-Password, CHAP-Challenge), §5.41
    // NAS-Port-Type of the ISDN bearer; Called-Station-Id = the site, Calling-Station-Id = the caller.
    auto m = radius::client::ppp_auth_request(cr);
    if (!m.ok()) return lns_verdict(c, ticket, LnsVerdict::rejected, m.error->message);
    radius::client::PppAuthRequest& q = *m.request;
    q.called_station_id = s.cfg.number;
    q.calling_station_id = c.other_number;
    radius::client::PreparedRequest req;
    try {
        req = radius::client::build_ppp_access_request(q, radius_nas_);
    } catch (const std::exception& e) {
        lns_verdict(c, ticket, LnsVerdict::rejected, std::string("cannot ask RADIUS: ") + e.what());
        return;
    }
    req.packet.remove(static_cast<std::uint8_t>(radius::AttributeType::NAS_Port_Type));
    req.packet.add_integer(radius::AttributeType::NAS_Port_Type, c.bearer == isdn::Bearer::digital ? 2u : 0u);
    ++s.lns_auth.radius_requests;
    bus_.publish({.entity = "cpe.auth", .id = s.cfg.number, .event = "radius-request",
                  .cause = fmt::format("LNS '{}' {}", cr.user, cr.method == AuthMethod::chap_md5 ? "CHAP" : "PAP")});
    const std::string number = s.cfg.number;
    const std::uint64_t serial = c.serial;
    auto done = [this, number, serial, ticket](const radius::client::Completion& comp) {
        if (closing_ || comp.result == radius::client::Result::cancelled) return;
        auto it = sites_.find(number);
        if (it == sites_.end() || !it->second->call || it->second->call->serial != serial) return;
        Call& call = *it->second->call;
        call.radius = {};
        switch (comp.result) {
        case radius::client::Result::accept: lns_verdict(call, ticket, LnsVerdict::accepted, "RADIUS: Access-Accept"); break;
        case radius::client::Result::reject: lns_verdict(call, ticket, LnsVerdict::rejected, "RADIUS: Access-Reject"); break;
        default:
            lns_verdict(call, ticket, LnsVerdict::no_answer,
                        fmt::format("RADIUS: no answer ({} transmissions)", comp.transmissions));
        }
    };
    try {
        c.radius = radius_->submit(radius_vr_, radius::client::Service::authentication, std::move(req.packet),
                                   std::move(done), std::move(req.user_password));
    } catch (const std::exception& e) {
        lns_verdict(c, ticket, LnsVerdict::no_answer, std::string("cannot ask RADIUS: ") + e.what());
    }
}

bool Cpe::dial(const std::string& site_number, const std::string& called, isdn::Bearer bearer) {
    auto it = sites_.find(site_number);
    if (it == sites_.end() || it->second->call) return false;
    Site& s = *it->second;
    std::uint16_t ref = 0;
    for (int i = 0; i < 0x8000 && ref == 0; ++i) {
        next_ref_ = static_cast<std::uint16_t>((next_ref_ + 1) & 0x7FFF);
        if (next_ref_ != 0 && !by_ref_.count(next_ref_)) ref = next_ref_;
    }
    if (ref == 0) return false;
    s.call = std::make_unique<Call>(*this, s, ref, bearer);
    by_ref_[ref] = &s;
    s.call->serial = ++next_call_serial_;
    s.call->other_number = called;
    if (bearer == isdn::Bearer::analog) s.call->deframer = std::make_unique<ppp::AsyncDeframer>();
    make_link(s);
    bus_.publish({.entity = "cpe.call", .id = s.cfg.number, .event = "dial", .cause = "to " + called});
    isdn_send_(isdn::Message::setup(ref, called, s.cfg.number, bearer));
    return true;
}

void Cpe::send_ppp(Call& c, std::uint16_t protocol, const std::vector<std::uint8_t>& info) {
    if (!c.active) return;
    std::vector<std::uint8_t> frame{static_cast<std::uint8_t>(protocol >> 8), static_cast<std::uint8_t>(protocol)};
    frame.insert(frame.end(), info.begin(), info.end());
    std::vector<std::uint8_t> out = c.bearer == isdn::Bearer::digital ? ppp::encode_sync(frame) : ppp::encode_async(frame);
    isdn_send_(isdn::Message::data(c.ref, out));
}

void Cpe::receive_data(Call& c, std::span<const std::uint8_t> payload) {
    if (c.site.cfg.fault == Fault::no_lcp || !c.link) return;  // never answers LCP
    if (c.bearer == isdn::Bearer::digital) {
        try {
            auto f = ppp::decode_sync(payload);
            c.link->receive(f);
        } catch (const proto::ParseError&) {
            bus_.publish({.entity = "cpe.call", .id = c.site.cfg.number, .event = "bad-frame", .cause = "sync HDLC"});
        }
    } else if (c.deframer) {
        auto frames = c.deframer->feed(payload);
        for (const auto& f : frames)
            if (c.link) c.link->receive(f);
    }
}

void Cpe::end_call(Site& s, std::optional<std::uint8_t> release_cause) {
    if (!s.call) return;
    if (release_cause) isdn_send_(isdn::Message::release(s.call->ref, *release_cause));
    by_ref_.erase(s.call->ref);
    s.call->active = false;
    if (s.call->radius && radius_) radius_->cancel(std::exchange(s.call->radius, {}));
    close_tun(s, "call released");
    if (s.call->link) s.call->link->lower_down("ISDN call released");
    doomed_.push_back(std::move(s.call));
    schedule_reap();
}

void Cpe::schedule_reap() {
    if (!reap_timer_.armed()) reap_timer_.start(core::Duration::zero(), [this] { doomed_.clear(); });
}

void Cpe::isdn_down() {
    for (auto& [n, s] : sites_) end_call(*s, std::nullopt);
}

bool Cpe::set_fault(const std::string& number, Fault f) {
    auto it = sites_.find(number);
    if (it == sites_.end()) return false;
    it->second->cfg.fault = f;
    return true;
}

bool Cpe::hangup(const std::string& number, std::uint8_t q850_cause) {
    auto it = sites_.find(number);
    if (it == sites_.end() || !it->second->call) return false;
    bus_.publish({.entity = "cpe.call", .id = number, .event = "hangup", .cause = fmt::format("operator, cause {}", q850_cause)});
    end_call(*it->second, q850_cause);
    return true;
}

void Cpe::set_tun_factory(TunFactory factory) { tun_factory_ = std::move(factory); }

void Cpe::open_tun(Site& s, std::uint32_t local_ip, std::uint32_t peer_ip) {
    close_tun(s, "IPCP up again");
    try {
        if (!tun_factory_) throw std::runtime_error("no TUN support in this process");
        Site* sp = &s;
        TunRequest req{s.cfg.number, *s.cfg.tun, local_ip, peer_ip,
                       [this, sp](std::span<const std::uint8_t> p) { send_ipv4(*sp, p); }};
        s.tun = tun_factory_(req);
        ++s.tun_counters.opened;
        s.tun_error.clear();
        bus_.publish({.entity = "cpe.tun", .id = s.cfg.number, .event = "up",
                      .cause = fmt::format("{} {}/32 peer {}", s.cfg.tun->name, ip_text(local_ip), ip_text(peer_ip))});
    } catch (const std::exception& e) {
        s.tun.reset();
        ++s.tun_counters.open_errors;
        s.tun_error = e.what();
        bus_.publish({.entity = "cpe.tun", .id = s.cfg.number, .event = "open-failed", .cause = e.what()});
    }
}

void Cpe::close_tun(Site& s, std::string_view why) {
    if (!s.tun) return;
    s.tun.reset();
    bus_.publish({.entity = "cpe.tun", .id = s.cfg.number, .event = "down", .cause = std::string(why)});
}

bool Cpe::send_ipv4(Site& s, std::span<const std::uint8_t> packet) {
    Call* c = s.call.get();
    if (!c || !c->active || !c->link || c->link->ipcp_state() != ppp::engine::CpState::opened) {
        ++s.tun_counters.from_tun_dropped;
        return false;
    }
    send_ppp(*c, 0x0021, std::vector<std::uint8_t>(packet.begin(), packet.end()));
    ++s.tun_counters.from_tun;
    return true;
}

bool Cpe::from_tun(const std::string& number, std::span<const std::uint8_t> packet) {
    auto it = sites_.find(number);
    return it != sites_.end() && send_ipv4(*it->second, packet);
}

const LnsAuthCounters* Cpe::lns_auth_counters(const std::string& number) const {
    auto it = sites_.find(number);
    return it == sites_.end() ? nullptr : &it->second->lns_auth;
}

const TunCounters* Cpe::tun_counters(const std::string& number) const {
    auto it = sites_.find(number);
    return it == sites_.end() ? nullptr : &it->second->tun_counters;
}

std::size_t Cpe::network_up_count() const noexcept {
    std::size_t n = 0;
    for (const auto& [k, s] : sites_)
        if (s->call && s->call->link && s->call->link->ipcp_state() == ppp::engine::CpState::opened) ++n;
    return n;
}

nlohmann::json Cpe::state() const {
    nlohmann::json sites = nlohmann::json::array();
    for (const auto& [n, s] : sites_) {
        nlohmann::json j{{"number", n}, {"name", s->cfg.name}, {"fault", std::string(to_string(s->cfg.fault))}};
        if (s->call && s->call->link) {
            const auto& link = *s->call->link;
            const auto& neg = link.negotiated();
            j["call"] = {{"bearer", std::string(to_string(s->call->bearer))},
                         {"active", s->call->active},
                         {"phase", std::string(to_string(link.phase()))},
                         {"lcp", std::string(ppp::engine::to_string(link.lcp_state()))},
                         {"ipcp", std::string(ppp::engine::to_string(link.ipcp_state()))},
                         {"local_ip", ip_text(neg.network.local_ip)},
                         {"peer_ip", ip_text(neg.network.peer_ip)},
                         {"peer_name", neg.peer_name}};
        }
        if (s->cfg.require_auth != AuthPreference::none) {
            const auto& a = s->lns_auth;
            j["lns_auth"] = {{"source", s->cfg.lns_auth == LnsAuthSource::radius ? "radius" : "users"},
                             {"accepted", a.accepted}, {"rejected", a.rejected}, {"no_answer", a.no_answer},
                             {"radius_requests", a.radius_requests}};
        }
        if (s->cfg.tun) {
            const auto& t = s->tun_counters;
            nlohmann::json routes = nlohmann::json::array();
            for (const auto& r : s->cfg.tun->routes) routes.push_back(r.to_string());
            j["tun"] = {{"name", s->cfg.tun->name}, {"up", s->tun != nullptr}, {"routes", routes},
                        {"to_tun", t.to_tun}, {"to_tun_dropped", t.to_tun_dropped}, {"from_tun", t.from_tun},
                        {"from_tun_dropped", t.from_tun_dropped}, {"opened", t.opened},
                        {"open_errors", t.open_errors}, {"last_error", s->tun_error}};
        }
        sites.push_back(j);
    }
    return {{"sites", sites}, {"network_up", network_up_count()}};
}

}  // namespace dl::cpe
