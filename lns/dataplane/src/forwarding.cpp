#include "dl/dataplane/forwarding.hpp"

#include <stdexcept>

#include "dl/dataplane/framing.hpp"

namespace dl::dataplane {

ForwardingLoop::ForwardingLoop(Callbacks callbacks, std::size_t batch, std::size_t buffer_size,
                               std::size_t headroom)
    : cb_(std::move(callbacks)), batch_(batch, buffer_size, headroom) {
    if (headroom < kMaxEncapHeader) throw std::invalid_argument("ForwardingLoop: headroom < kMaxEncapHeader");
}

ForwardingLoop::~ForwardingLoop() = default;

ForwardingLoop::Vr& ForwardingLoop::at(VrId vr) {
    if (vr >= vrs_.size()) throw std::out_of_range("ForwardingLoop: unknown VR id " + std::to_string(vr));
    return *vrs_[vr];
}
const ForwardingLoop::Vr& ForwardingLoop::at(VrId vr) const {
    if (vr >= vrs_.size()) throw std::out_of_range("ForwardingLoop: unknown VR id " + std::to_string(vr));
    return *vrs_[vr];
}

VrId ForwardingLoop::add_vr(std::string name, TunDevice tun, KernelRouteMirror* mirror) {
    auto v = std::make_unique<Vr>();
    v->name = std::move(name);
    v->tun = std::move(tun);
    v->mirror = mirror;
    vrs_.push_back(std::move(v));
    return static_cast<VrId>(vrs_.size() - 1);
}

std::optional<VrId> ForwardingLoop::find_vr(const std::string& name) const {
    for (std::size_t i = 0; i < vrs_.size(); ++i)
        if (vrs_[i]->name == name) return static_cast<VrId>(i);
    return std::nullopt;
}

void ForwardingLoop::publish(const Vr& v, core::Ipv4Prefix prefix, const char* event, SessionHandle session,
                             const RouteKind* kind, const std::optional<std::string>& kernel_error) {
    if (!bus_) return;
    core::Event e;
    e.entity = "dataplane.route";
    e.id = v.name + "/" + prefix.network().to_string();
    e.event = event;
    if (kernel_error) e.cause = *kernel_error;
    e.extra["session"] = session;
    if (kind) e.extra["kind"] = std::string(to_string(*kind));
    bus_->publish(std::move(e));
}

ForwardingLoop::RouteResult ForwardingLoop::add_route(VrId vr, core::Ipv4Prefix prefix, SessionHandle session,
                                                      RouteKind kind) {
    Vr& v = at(vr);
    RouteResult r{v.routes.insert(prefix, session, kind), std::nullopt};
    if (r.insert == RouteTable::Insert::conflict) {
        const Route* holder = v.routes.find(prefix);
        publish(v, prefix, "conflict", session, &kind,
                "held by session " + std::to_string(holder ? holder->session : 0));
        return r;
    }
    if (v.mirror) r.kernel_error = v.mirror->install(prefix);
    if (r.insert == RouteTable::Insert::inserted || r.kernel_error) publish(v, prefix, "install", session, &kind, r.kernel_error);
    return r;
}

std::vector<ForwardingLoop::RouteResult> ForwardingLoop::add_routes(VrId vr, std::span<const core::Ipv4Prefix> prefixes,
                                                                  SessionHandle session) {
    Vr& v = at(vr);
    std::vector<RouteResult> out;
    out.reserve(prefixes.size());
    std::vector<core::Ipv4Prefix> to_kernel;
    for (const auto& prefix : prefixes) {
        const RouteKind kind = prefix.length == 32 ? RouteKind::framed_ip : RouteKind::framed_route;
        out.push_back({v.routes.insert(prefix, session, kind), std::nullopt});
        if (out.back().insert == RouteTable::Insert::conflict) {
            const Route* holder = v.routes.find(prefix);
            publish(v, prefix, "conflict", session, &kind, "held by session " + std::to_string(holder ? holder->session : 0));
        } else {
            to_kernel.push_back(prefix);
        }
    }
    std::vector<std::optional<std::string>> errors;
    if (v.mirror && !to_kernel.empty()) errors = v.mirror->install(to_kernel);
    for (std::size_t i = 0, k = 0; i < prefixes.size(); ++i) {
        RouteResult& r = out[i];
        if (r.insert == RouteTable::Insert::conflict) continue;
        if (!errors.empty()) r.kernel_error = std::move(errors[k]);
        ++k;
        const RouteKind kind = prefixes[i].length == 32 ? RouteKind::framed_ip : RouteKind::framed_route;
        if (r.insert == RouteTable::Insert::inserted || r.kernel_error)
            publish(v, prefixes[i], "install", session, &kind, r.kernel_error);
    }
    return out;
}

bool ForwardingLoop::remove_route(VrId vr, core::Ipv4Prefix prefix, SessionHandle session,
                                  std::vector<std::string>* kernel_errors) {
    Vr& v = at(vr);
    if (!v.routes.remove(prefix, session)) return false;
    std::optional<std::string> e;
    if (v.mirror) e = v.mirror->remove(prefix);
    if (e && kernel_errors) kernel_errors->push_back(*e);
    publish(v, prefix, "remove", session, nullptr, e);
    return true;
}

std::vector<core::Ipv4Prefix> ForwardingLoop::remove_session(VrId vr, SessionHandle session,
                                                             std::vector<std::string>* kernel_errors) {
    Vr& v = at(vr);
    auto prefixes = v.routes.remove_session(session);
    for (const auto& p : prefixes) {
        std::optional<std::string> e;
        if (v.mirror) e = v.mirror->remove(p);
        if (e && kernel_errors) kernel_errors->push_back(*e);
        publish(v, p, "remove", session, nullptr, e);
    }
    return prefixes;
}

void ForwardingLoop::dispatch(VrId vr, PacketBatch& batch) {
    Vr& v = at(vr);
    for (Packet& p : batch) {
        ++v.counters.tun_packets_in;
        v.counters.tun_bytes_in += p.length;
        const auto dst = ipv4_destination(p.bytes());
        if (!dst) {
            ++v.counters.not_ipv4;
            continue;
        }
        const Route* r = v.routes.lookup(*dst);
        if (!r) {
            ++v.counters.no_route;
            if (cb_.no_route) cb_.no_route(vr, *dst, p.bytes());
            continue;
        }
        ++v.counters.to_session;
        if (cb_.to_session) cb_.to_session(vr, r->session, p);
    }
    if (cb_.batch_end && !batch.empty()) cb_.batch_end(vr);
}

std::size_t ForwardingLoop::poll_tun(VrId vr, std::size_t budget) {
    Vr& v = at(vr);
    if (!v.tun.is_open()) return 0;
    std::size_t total = 0;
    while (total < budget) {
        batch_.reset();
        const std::size_t n = v.tun.read_batch(batch_, budget - total);
        if (n == 0) break;
        ++v.counters.tun_reads;
        total += n;
        dispatch(vr, batch_);
        if (!batch_.full()) break;  // the TUN ran dry before the batch filled
    }
    batch_.reset();
    return total;
}

WriteStatus ForwardingLoop::from_session(VrId vr, std::span<const std::uint8_t> packet) noexcept {
    if (vr >= vrs_.size()) return WriteStatus::error;
    Vr& v = *vrs_[vr];
    if (!v.tun.is_open()) {
        ++v.counters.drops;
        return WriteStatus::error;
    }
    const WriteStatus s = v.tun.write(packet);
    if (s == WriteStatus::written) {
        ++v.counters.tun_packets_out;
        v.counters.tun_bytes_out += packet.size();
    } else {
        ++v.counters.drops;
    }
    return s;
}

}  // namespace dl::dataplane
