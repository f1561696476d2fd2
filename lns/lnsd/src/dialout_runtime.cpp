// lnsd's dial-out runtime: RADIUS over Asio UDP, TUN + kernel routes per VR, DialOutWiring.
#include "dl/lnsd/dialout_runtime.hpp"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include <boost/asio/io_context.hpp>

#include "dl/core/config.hpp"
#include "dl/core/control.hpp"
#include "dl/core/event.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/dataplane/asio_tun.hpp"
#include "dl/dataplane/forwarding.hpp"
#include "dl/dataplane/icmp.hpp"
#include "dl/dataplane/kernel_routes.hpp"
#include "dl/dataplane/netlink.hpp"
#include "dl/dataplane/tun_device.hpp"
#include "dl/lnsd/pass_sender.hpp"
#include "dl/radius/client/asio_transport.hpp"
#include "dl/radius/client/client.hpp"

namespace dl::lnsd {

namespace dp = dataplane;
namespace rc = radius::client;
using namespace std::chrono_literals;

/// How often lnsd looks at the link state (IFF_UP) of each VR's TUN (JunosE "L2TP Dial-Out" Table 72 down / up).
constexpr core::Duration kLinkPoll = 100ms;

struct DialOutRuntime::Impl {
    core::EventBus& bus;
    Lns& lns;
    DialOutWiringConfig cfg;
    rc::AsioUdpTransport transport;
    /// RADIUS requests (Access-Request, Accounting-Request) and their retransmissions: the ones
    /// one pass of the loop produces leave in one sendmmsg on the transport's socket.
    PassSender radius_out{64, 4096};
    rc::Client client;
    std::unique_ptr<dp::Netlink> netlink;
    std::vector<std::unique_ptr<dp::KernelRouteMirror>> mirrors;
    std::unique_ptr<dp::ForwardingLoop> loop;
    std::map<std::string, dp::VrId, std::less<>> vr_ids;
    std::map<std::string, dp::KernelRouteMirror*, std::less<>> mirror_of;
    std::vector<std::unique_ptr<dp::AsioTunWatcher>> watchers;
    std::unique_ptr<DialOutWiring> wiring;
    core::Timer link_timer;
    int ioctl_fd = -1;
    std::map<std::string, bool, std::less<>> link_up;  ///< last seen IFF_UP per VR with a TUN
    /// ICMP Fragmentation Needed (RFC 1191 §4) for DF packets over a peer's MRU: one rate-limited
    /// sender per VR (index VrId), all from `icmp_source` (host order; 0: none, no message).
    /// `dispatching`: the VR whose TUN batch is being handed to the sessions.
    double icmp_rate = 10, icmp_burst = 10;
    std::uint32_t icmp_source = 0;
    std::vector<std::unique_ptr<dp::FragNeededSender>> frag_needed;
    std::optional<dp::VrId> dispatching;
    core::TimerQueue& queue;  ///< its clock times the ICMP token buckets

    Impl(boost::asio::io_context& io, core::TimerQueue& timers, core::TimerRegistry& registry, core::EventBus& b,
         Lns& l, const core::ConfigNode& root)
        : bus(b), lns(l), cfg(load_wiring_config(root)), transport(io, rc::Endpoint{0, 0}),
          client(timers, (rc::register_timers(registry), registry), &bus,
                 [this](const rc::Endpoint& to, std::span<const std::uint8_t> d) { radius_send(to, d); }),
          link_timer(timers), queue(timers) {
        radius_out.set_socket(transport.native_handle());
        transport.start(client);
        // icmp-frag-needed: {rate: N/s, burst: N, source: A}; rate 0 turns the messages off. The
        // source is not an address of lnsd's own host (the kernel drops a packet arriving on the TUN
        // from one of its own addresses as martian): by default the LNS's IPCP address, the
        // `local-address` of the first ppp-profile (in name order) that has one (docs/lnsd.md).
        for (const auto& [name, p] : cfg.ppp_profiles)
            if (p.local_address.value != 0) {
                icmp_source = p.local_address.value;
                break;
            }
        if (auto n = root["icmp-frag-needed"]; n.defined() && !n.is_null()) {
            n.require_map();
            n.allow_keys({"rate", "burst", "source"});
            icmp_rate = static_cast<double>(n.get_int("rate", 10, 0, 100000));
            icmp_burst = static_cast<double>(n.get_int("burst", 10, 1, 100000));
            if (n.has("source")) icmp_source = n["source"].as_ipv4().value;
        }
        lns.on_too_big = [this](CallHandle, std::span<const std::uint8_t> ipv4, std::uint16_t mru) {
            frag_needed_for(ipv4, mru);
        };
    }

    /// The ICMP Fragmentation Needed for `ipv4` (refused: longer than the peer's MRU `mru`, DF set),
    /// written into the TUN of the VR it came from (the one being dispatched; outside a TUN batch,
    /// e.g. a buffered dial-out trigger, the first VR), from `icmp_source`.
    void frag_needed_for(std::span<const std::uint8_t> ipv4, std::uint16_t mru) {
        if (frag_needed.empty()) return;
        const dp::VrId vr = dispatching.value_or(0);
        if (vr >= frag_needed.size() || !frag_needed[vr]) return;
        const auto msg = frag_needed[vr]->make(ipv4, icmp_source, mru, queue.now());
        if (!msg.empty()) loop->from_session(vr, msg);
    }
    void radius_send(const rc::Endpoint& to, std::span<const std::uint8_t> datagram) {
        radius_out.send(PassSender::destination(to.address, to.port), datagram);
    }

    ~Impl() {
        radius_out.set_socket(-1);  // what waits leaves before the socket closes
        lns.on_too_big = nullptr;
        link_timer.cancel();
        if (ioctl_fd >= 0) ::close(ioctl_fd);
        wiring.reset();
        watchers.clear();
        loop.reset();
        for (auto& m : mirrors) m->shutdown();
        mirrors.clear();
        transport.stop();
    }

    void publish(std::string id, std::string event, std::string cause) {
        core::Event e;
        e.entity = "lnsd.dataplane";
        e.id = std::move(id);
        e.event = std::move(event);
        e.cause = std::move(cause);
        bus.publish(e);
    }

    /// Why the dial-out chassis could not obtain the system resources for basic operation (JunosE
    /// "L2TP Dial-Out" Table 71 initializationFailed); empty when it could.
    std::string chassis_failure;

    /// Opens the TUN of every VR that names one; failures of one VR's TUN are returned (vr,
    /// reason). A failure that no VR can escape (see chassis_resource) sets chassis_failure instead.
    std::vector<std::pair<std::string, std::string>> open_tuns(boost::asio::io_context& io) {
        std::vector<std::pair<std::string, std::string>> failed;
        dp::ForwardingLoop::Callbacks cb;
        // TUN batch → sessions: PPP + L2TP framed in place, one sendmmsg per batch.
        cb.to_session = [this](dp::VrId vr, dp::SessionHandle s, dp::Packet& p) {
            dispatching = vr;
            if (wiring) wiring->to_session(s, p);
            dispatching.reset();
        };
        cb.batch_end = [this](dp::VrId) { lns.flush_data(); };
        cb.no_route = [this](dp::VrId vr, std::uint32_t, std::span<const std::uint8_t> pkt) {
            dispatching = vr;
            if (wiring) wiring->tun_packet(loop->vr_name(vr), pkt);
            dispatching.reset();
        };
        loop = std::make_unique<dp::ForwardingLoop>(std::move(cb));
        std::uint32_t table = 100;
        for (const auto& v : cfg.virtual_routers) {
            if (v.tun.empty()) continue;
            try {
                if (!netlink) netlink = std::make_unique<dp::Netlink>();
                auto tun = dp::TunDevice::open({.name = v.tun});
                dp::VrKernelConfig kc;
                kc.vr = v.name;
                kc.tun_ifindex = tun.ifindex();
                // The kernel here has no VRF: `default` uses the main table, others a table each.
                kc.table = v.table.value_or(v.name == "default" ? dp::kMainTable : table++);
                kc.ingress_interfaces = v.ingress_interfaces;
                auto mirror = std::make_unique<dp::KernelRouteMirror>(*netlink, kc);
                for (const auto& err : mirror->start()) publish(v.name, "kernel-error", err);
                const auto id = loop->add_vr(v.name, std::move(tun), mirror.get());
                mirror_of[v.name] = mirror.get();
                mirrors.push_back(std::move(mirror));
                vr_ids[v.name] = id;
                if (frag_needed.size() <= id) frag_needed.resize(id + 1);
                frag_needed[id] = std::make_unique<dp::FragNeededSender>(icmp_rate, icmp_burst);
                auto w = std::make_unique<dp::AsioTunWatcher>(io, *loop, id);
                w->start();
                watchers.push_back(std::move(w));
                publish(v.name, "tun-up", v.tun);
            } catch (const std::system_error& e) {
                const std::string why = std::string("TUN ") + v.tun + ": " + e.what();
                publish(v.name, "tun-failed", why);
                if (chassis_resource(e.code())) {
                    if (chassis_failure.empty()) chassis_failure = why;
                } else {
                    failed.emplace_back(v.name, why);
                }
            } catch (const std::exception& e) {
                failed.emplace_back(v.name, std::string("TUN ") + v.tun + ": " + e.what());
                publish(v.name, "tun-failed", failed.back().second);
            }
        }
        remove_stale_rules();
        return failed;
    }

    /// The policy rules lnsd owns in its namespace (protocol dp::kLnsdRuleProtocol) that this
    /// configuration does not have — left by an lnsd killed with SIGKILL or started with another
    /// configuration — are removed; those it has are re-used; rules of any other protocol are
    /// never touched. Each removal is an event `lnsd.dataplane stale-rule-removed`, each failure
    /// `kernel-error`; neither stops lnsd.
    void remove_stale_rules() {
        std::vector<dp::RuleIif> keep;
        for (const auto& m : mirrors) {
            const auto r = m->rules();
            keep.insert(keep.end(), r.begin(), r.end());
        }
        try {
            if (!netlink) netlink = std::make_unique<dp::Netlink>();
        } catch (const std::exception& e) {
            publish("policy-rules", "kernel-error", e.what());
            return;
        }
        const auto stale = dp::remove_stale_rules(*netlink, keep);
        for (const auto& r : stale.removed) {
            std::string what = "iif " + r.interface;
            what.append(" lookup ").append(std::to_string(r.table));
            what.append(" priority ").append(std::to_string(r.priority));
            what.append(" proto ").append(std::to_string(r.protocol));
            publish("policy-rules", "stale-rule-removed", what);
        }
        for (const auto& e : stale.errors) publish("policy-rules", "kernel-error", e);
    }

    /// An error of the TUN clone device or the route socket that says the host gives dial-out no
    /// data plane at all, whatever the interface name: no permission (EPERM, EACCES: lnsd without
    /// CAP_NET_ADMIN), no TUN driver (ENOENT, ENODEV, ENXIO), out of descriptors or memory (EMFILE,
    /// ENFILE, ENOMEM, ENOBUFS). Other errors (EBUSY, EINVAL, EEXIST: the name is taken by another
    /// kind of interface or is not valid) concern one virtual router's TUN only.
    static bool chassis_resource(const std::error_code& ec) {
        if (ec.category() != std::generic_category() && ec.category() != std::system_category()) return false;
        switch (ec.value()) {
            case EPERM: case EACCES: case ENOENT: case ENODEV: case ENXIO:
            case EMFILE: case ENFILE: case ENOMEM: case ENOBUFS:
                return true;
            default:
                return false;
        }
    }

    /// IFF_UP of interface `name` (SIOCGIFFLAGS, netdevice(7)); false if it cannot be read.
    bool interface_up(const std::string& name) {
        if (ioctl_fd < 0) ioctl_fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (ioctl_fd < 0) return true;  // cannot observe: assume unchanged (up)
        ifreq ifr{};
        std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
        if (::ioctl(ioctl_fd, SIOCGIFFLAGS, &ifr) != 0) return false;
        return (ifr.ifr_flags & IFF_UP) != 0;
    }

    /// JunosE "L2TP Dial-Out" Table 72 "down: its dial-out interface is down": every kLinkPoll, the link state of
    /// each VR's TUN; a change is an event `lnsd.dataplane link-down|link-up` and goes to the wiring
    /// (VR down / up, dial-out routes installed again). On up, the access routes of the VR's
    /// sessions are installed in the kernel again too (the kernel removed them with the link).
    void watch_links() {
        for (const auto& [vr, id] : vr_ids) {
            const std::string tun = loop->tun(id).name();
            const bool up = interface_up(tun);
            auto [it, fresh] = link_up.try_emplace(vr, up);
            if (fresh || it->second == up) continue;
            it->second = up;
            publish(vr, up ? "link-up" : "link-down", tun);
            if (up)
                if (auto m = mirror_of.find(vr); m != mirror_of.end())
                    for (const auto& r : loop->routes(id).routes())
                        if (auto err = m->second->install(r.prefix)) publish(vr, "kernel-error", *err);
            try {
                if (wiring) wiring->dialout_interface(vr, up);
            } catch (const std::exception& e) {
                // e.g. chassis initializationFailed: the manager refuses VR changes (Table 71).
                publish(vr, "link-ignored", e.what());
            }
        }
        link_timer.start(kLinkPoll, [this] { watch_links(); });
    }

    DataPlanePort port() {
        DataPlanePort p;
        p.add_routes = [this](const std::string& vr, std::span<const core::Ipv4Prefix> prefixes,
                              std::uint64_t s) -> std::vector<std::optional<std::string>> {
            std::vector<std::optional<std::string>> out(prefixes.size());
            auto it = vr_ids.find(vr);
            if (it == vr_ids.end()) return out;  // no TUN: routes live in the wiring only
            const auto results = loop->add_routes(it->second, prefixes, s);  // one netlink exchange
            for (std::size_t i = 0; i < results.size(); ++i)
                out[i] = results[i].insert == dp::RouteTable::Insert::conflict
                             ? "route " + prefixes[i].to_string() + " held by another session"
                             : results[i].kernel_error;
            return out;
        };
        p.remove_session = [this](const std::string& vr, std::uint64_t s) {
            if (auto it = vr_ids.find(vr); it != vr_ids.end()) {
                std::vector<std::string> errs;
                loop->remove_session(it->second, s, &errs);
                for (const auto& e : errs) publish(vr, "kernel-error", e);
            }
        };
        p.add_dialout_route = [this](const std::string& vr, core::Ipv4Prefix prefix) -> std::optional<std::string> {
            auto it = mirror_of.find(vr);
            if (it == mirror_of.end()) return std::nullopt;
            return it->second->install(prefix);
        };
        p.remove_dialout_route = [this](const std::string& vr, core::Ipv4Prefix prefix) {
            if (auto it = mirror_of.find(vr); it != mirror_of.end())
                if (auto err = it->second->remove(prefix)) publish(vr, "kernel-error", *err);
        };
        p.to_tun = [this](const std::string& vr, std::span<const std::uint8_t> pkt) {
            if (auto it = vr_ids.find(vr); it != vr_ids.end()) loop->from_session(it->second, pkt);
        };
        return p;
    }
};

DialOutRuntime::DialOutRuntime(boost::asio::io_context& io, core::TimerQueue& timers, core::TimerRegistry& registry,
                               core::EventBus& bus, Lns& lns, const core::ConfigNode& root)
    : impl_(std::make_unique<Impl>(io, timers, registry, bus, lns, root)) {
    const auto failed = impl_->open_tuns(io);
    impl_->wiring = std::make_unique<DialOutWiring>(timers, registry, bus, lns, impl_->client, impl_->cfg, impl_->port());
    if (!impl_->chassis_failure.empty()) {
        // JunosE "L2TP Dial-Out" Table 71 initializationFailed: "could not obtain enough system
        // resources for basic operation. All configuration commands fail": the `dialout:` section
        // is refused (an event says so), lnsd stays up for incoming calls and the control API.
        auto& m = impl_->wiring->manager();
        m.chassis_initialization_failed(impl_->chassis_failure);
        core::Event e;
        e.entity = "dialout.chassis";
        e.id = "chassis";
        e.event = "configuration-refused";
        e.cause = "dialout: not loaded: chassis is initializationFailed (" + impl_->chassis_failure + ")";
        bus.publish(e);
    } else {
        impl_->wiring->load_dialout(root["dialout"]);
        for (const auto& [vr, why] : failed) {
            impl_->wiring->manager().vr_interface(vr, false);
            (void)why;
        }
    }
    impl_->watch_links();
    impl_->wiring->accounting_on();  // RFC 2866 §5.1: this NAS is (back) on-line
}

DialOutRuntime::~DialOutRuntime() = default;

void DialOutRuntime::defer_radius_sends(PassFlush::Post post) { impl_->radius_out.defer(std::move(post)); }

DialOutWiring& DialOutRuntime::wiring() noexcept { return *impl_->wiring; }

namespace {
nlohmann::json icmp_counters(const dp::FragNeededSender* s) {
    if (!s) return nullptr;
    const auto& c = s->counters();
    return {{"sent", c.sent}, {"rate-limited", c.rate_limited}, {"not-sent", c.not_sent}};
}
}  // namespace

void DialOutRuntime::register_commands(core::ControlServer& server) {
    auto icmp_json = [this](dp::VrId id) {
        return icmp_counters(id < impl_->frag_needed.size() ? impl_->frag_needed[id].get() : nullptr);
    };
    impl_->wiring->register_commands(server);
    server.add_handler(
        "show dataplane",
        [this, icmp_json](const nlohmann::json&) {
            auto out = nlohmann::json::array();
            for (const auto& [name, id] : impl_->vr_ids) {
                const auto& c = impl_->loop->counters(id);
                auto routes = nlohmann::json::array();
                for (const auto& r : impl_->loop->routes(id).routes())
                    routes.push_back({{"prefix", r.prefix.to_string()}, {"session", r.session}});
                out.push_back({{"virtual-router", name},
                               {"tun", impl_->loop->tun(id).name()},
                               {"tun-packets-in", c.tun_packets_in},
                               {"tun-packets-out", c.tun_packets_out},
                               {"to-session", c.to_session},
                               {"no-route", c.no_route},
                               {"drops", c.drops},
                               {"icmp-frag-needed", icmp_json(id)},
                               {"routes", routes}});
            }
            return out;
        },
        "data plane: TUN counters and session routes per virtual router");
}

}  // namespace dl::lnsd
