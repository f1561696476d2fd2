// lnsd: configuration of the dial-out wiring (virtual routers, PPP profiles, incoming calls).
#include "dl/core/config.hpp"
#include "dl/lnsd/dialout_wiring.hpp"

namespace dl::lnsd {

const VirtualRouterConfig* DialOutWiringConfig::find_vr(std::string_view name) const noexcept {
    for (const auto& v : virtual_routers)
        if (v.name == name) return &v;
    return nullptr;
}

namespace {

std::vector<RadiusServerConfig> servers(const core::ConfigNode& list, std::uint16_t default_port) {
    std::vector<RadiusServerConfig> out;
    if (!list.defined() || list.is_null()) return out;
    list.require_sequence();
    for (std::size_t i = 0; i < list.size(); ++i) {
        const auto s = list.at(i);
        s.require_map();
        s.allow_keys({"address", "port", "secret", "require-message-authenticator"});
        RadiusServerConfig r;
        r.address = s.at("address").as_ipv4();
        r.port = static_cast<std::uint16_t>(s.get_int("port", default_port, 1, 65535));
        r.secret = s.at("secret").as_string();
        // RFC 2865 §3: the shared secret MUST NOT be empty.
        if (r.secret.empty()) s["secret"].fail("must not be empty (RFC 2865 §3)");
        // BlastRADIUS guidance (CVE-2024-3596): required by default (RadiusServerConfig).
        r.require_message_authenticator = s.get_bool("require-message-authenticator", r.require_message_authenticator);
        for (const auto& o : out)
            if (o.address == r.address && o.port == r.port) s["address"].fail("is listed twice");
        out.push_back(std::move(r));
    }
    return out;
}

void server_lists(const core::ConfigNode& n, VirtualRouterConfig& v, bool lns) {
    if (!n.defined() || n.is_null()) return;
    n.require_map();
    if (lns) {
        n.allow_keys({"authentication"});
        v.lns_authentication = servers(n["authentication"], 1812);
    } else {
        n.allow_keys({"authentication", "accounting"});
        v.authentication = servers(n["authentication"], 1812);
        v.accounting = servers(n["accounting"], 1813);
    }
}

IncomingAuthMode mode_of(const core::ConfigNode& n) {
    switch (n.as_enum({"proxy", "lcp-renegotiation", "mandatory-chap"})) {
        case 0: return IncomingAuthMode::proxy;
        case 1: return IncomingAuthMode::lcp_renegotiation;
        default: return IncomingAuthMode::mandatory_chap;
    }
}

}  // namespace

DialOutWiringConfig load_wiring_config(const core::ConfigNode& root) {
    DialOutWiringConfig c;
    if (!root.defined() || root.is_null()) return c;
    if (auto vrs = root["virtual-routers"]; vrs.defined() && !vrs.is_null()) {
        vrs.require_sequence();
        for (std::size_t i = 0; i < vrs.size(); ++i) {
            const auto n = vrs.at(i);
            n.require_map();
            n.allow_keys({"name", "tun", "nas-ip-address", "nas-identifier", "radius", "lns-radius", "table",
                          "ingress-interfaces", "accounting-interim-interval"});
            VirtualRouterConfig v;
            v.name = n.get_string("name", "default");
            if (v.name.empty() || v.name.find('/') != std::string::npos)
                n["name"].fail("must be a non-empty name without '/'");
            if (c.find_vr(v.name)) n["name"].fail("is configured twice");
            v.tun = n.get_string("tun", "");
            // Linux IFNAMSIZ is 16 including the terminating NUL.
            if (v.tun.size() > 15) n["tun"].fail("is longer than 15 characters (IFNAMSIZ)");
            if (n.has("nas-ip-address")) v.nas_ip = n["nas-ip-address"].as_ipv4();
            v.nas_identifier = n.get_string("nas-identifier", "");
            if (n.has("table")) {
                v.table = static_cast<std::uint32_t>(n["table"].as_int(1, 0xFFFFFFFF));
                // 253 default, 254 main, 255 local are the kernel's own (rtnetlink(7) RT_TABLE_*).
                if (*v.table >= 253 && *v.table <= 255 && !(*v.table == 254 && v.name == "default"))
                    n["table"].fail("is a reserved kernel table (253 default, 254 main, 255 local)");
            }
            if (auto ii = n["ingress-interfaces"]; ii.defined() && !ii.is_null()) {
                ii.require_sequence();
                for (std::size_t k = 0; k < ii.size(); ++k) {
                    auto name = ii.at(k).as_string();
                    if (name.empty() || name.size() > 15) ii.at(k).fail("is not an interface name (1..15 characters)");
                    v.ingress_interfaces.push_back(std::move(name));
                }
            }
            // RFC 2869 §2.1: a local interim value overrides the Access-Accept's. §5.16's 60 s floor
            // binds the RADIUS attribute; locally 1 s is allowed (lab suites), 0 s = none.
            if (n.has("accounting-interim-interval")) {
                const auto d = n.get_duration("accounting-interim-interval", core::Duration::zero(),
                                              core::Duration::zero(), std::chrono::hours(24));
                if (d > core::Duration::zero() && d < std::chrono::seconds(1))
                    n["accounting-interim-interval"].fail("must be 0 (off) or at least 1s");
                v.accounting_interim = d;
            }
            server_lists(n["radius"], v, false);
            server_lists(n["lns-radius"], v, true);
            c.virtual_routers.push_back(std::move(v));
        }
    }
    if (auto ps = root["ppp-profiles"]; ps.defined() && !ps.is_null()) {
        ps.require_map();
        for (const auto& name : ps.keys()) {
            const auto n = ps[name];
            n.require_map();
            n.allow_keys({"local-address", "pool", "dns", "echo-failures", "keepalive"});
            PppProfileConfig p;
            p.name = name;
            if (n.has("local-address")) p.local_address = n["local-address"].as_ipv4();
            if (n.has("pool")) {
                p.pool = n["pool"].as_ipv4_prefix();
                if (p.pool->length > 30) n["pool"].fail("must be /30 or wider (needs host addresses)");
            }
            if (auto d = n["dns"]; d.defined() && !d.is_null()) {
                d.require_sequence();
                if (d.size() > 2) d.fail("holds at most two addresses (RFC 1877 primary, secondary)");
                if (d.size() > 0) p.dns1 = d.at(0).as_ipv4();
                if (d.size() > 1) p.dns2 = d.at(1).as_ipv4();
            }
            p.echo_failures = static_cast<std::uint8_t>(n.get_int("echo-failures", 5, 1, 255));
            p.keepalive = n.get_duration("keepalive", p.keepalive, core::Duration::zero(), std::chrono::hours(1));
            c.ppp_profiles.emplace(name, std::move(p));
        }
    }
    c.fault_injection = root.get_bool("fault-injection", false);
    if (auto in = root["incoming"]; in.defined() && !in.is_null()) {
        in.require_map();
        in.allow_keys({"virtual-router", "profile", "authentication", "mode", "peers"});
        c.incoming_vr = in.get_string("virtual-router", c.incoming_vr);
        c.incoming_profile = in.get_string("profile", "");
        if (in.has("authentication")) {
            static constexpr std::string_view names[] = {"none", "pap", "chap", "pap-chap", "chap-pap"};
            c.incoming_authentication = names[in["authentication"].as_enum({"none", "pap", "chap", "pap-chap", "chap-pap"})];
        }
        if (in.has("mode")) c.incoming_mode = mode_of(in["mode"]);
        if (auto peers = in["peers"]; peers.defined() && !peers.is_null()) {
            peers.require_sequence();
            for (std::size_t i = 0; i < peers.size(); ++i) {
                const auto p = peers.at(i);
                p.require_map();
                p.allow_keys({"address", "mode"});
                c.incoming_peer_modes[p.at("address").as_ipv4().value] = mode_of(p.at("mode"));
            }
        }
    }
    if (c.virtual_routers.empty() == false && !c.find_vr(c.incoming_vr) && root["incoming"].defined())
        root["incoming"]["virtual-router"].fail("is not a configured virtual router");
    // Targets of the dialout section must name configured virtual routers.
    if (auto d = root["dialout"]; d.defined() && d.is_map()) {
        if (auto ts = d["targets"]; ts.defined() && ts.is_sequence())
            for (std::size_t i = 0; i < ts.size(); ++i) {
                const auto t = ts.at(i);
                if (!t.is_map()) continue;
                const auto vr = t.get_string("virtual-router", "default");
                if (!c.find_vr(vr)) t["virtual-router"].fail("is not a configured virtual router (virtual-routers[].name)");
            }
    }
    return c;
}

}  // namespace dl::lnsd
