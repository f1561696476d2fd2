// The forwarding glue between the VRs' TUN devices and the sessions:
// TUN read batch → longest-prefix match → to_session(handle, packet); from_session(vr, packet) →
// TUN write. Driven by fd readiness (poll_tun when tun_fd(vr) is readable), so it plugs into
// Boost.Asio (posix::stream_descriptor::async_wait) or any poll loop. No threads, no allocation
// per packet.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dl/core/event.hpp"
#include "dl/dataplane/kernel_routes.hpp"
#include "dl/dataplane/packet_batch.hpp"
#include "dl/dataplane/route_table.hpp"
#include "dl/dataplane/tun_device.hpp"

namespace dl::dataplane {

/// Index of a virtual router in a ForwardingLoop (0, 1, … in add_vr order).
using VrId = std::uint32_t;

/// Per-VR counters. "in"/"out" are seen from the sessions: tun_* count the TUN side.
struct VrCounters {
    std::uint64_t tun_reads = 0;         ///< poll_tun wake-ups that read ≥ 1 packet
    std::uint64_t tun_packets_in = 0;    ///< packets read from the TUN (home → sessions)
    std::uint64_t tun_bytes_in = 0;
    std::uint64_t to_session = 0;        ///< packets handed to to_session
    std::uint64_t no_route = 0;          ///< packets matching no session (handed to no_route)
    std::uint64_t not_ipv4 = 0;          ///< TUN packets that are not IPv4 (dropped)
    std::uint64_t tun_packets_out = 0;   ///< packets written to the TUN (sessions → home)
    std::uint64_t tun_bytes_out = 0;
    std::uint64_t drops = 0;             ///< from_session packets the TUN refused (full / error)
    friend bool operator==(const VrCounters&, const VrCounters&) = default;
};

class ForwardingLoop {
public:
    struct Callbacks {
        /// A packet for a session. `packet` lives in the loop's batch until the callback and
        /// batch_end return; its headroom (≥ ForwardingLoop::headroom()) lets the callee prepend
        /// PPP + L2TP in place (prepend_l2tp_ppp) and queue it for sendmmsg.
        std::function<void(VrId, SessionHandle, Packet&)> to_session;
        /// After each batch handed to to_session: flush queued datagrams (sendmmsg).
        std::function<void(VrId)> batch_end;
        /// A packet matching no session (a possible dial-out trigger); destination host order.
        std::function<void(VrId, std::uint32_t destination, std::span<const std::uint8_t>)> no_route;
    };

    /// batch: packets per TUN read batch; buffer_size: largest packet (≥ TUN MTU); headroom:
    /// octets reserved before each packet (≥ kMaxEncapHeader). std::invalid_argument if unusable.
    explicit ForwardingLoop(Callbacks callbacks, std::size_t batch = 64, std::size_t buffer_size = 2048,
                            std::size_t headroom = 64);
    ~ForwardingLoop();
    ForwardingLoop(const ForwardingLoop&) = delete;
    ForwardingLoop& operator=(const ForwardingLoop&) = delete;

    /// Adds a VR with its TUN (may be a closed TunDevice{} in tests: poll_tun reads nothing and
    /// from_session counts drops) and, optionally, its kernel route mirror (non-owning; must
    /// outlive the loop or be detached with set_mirror(vr, nullptr)).
    VrId add_vr(std::string name, TunDevice tun, KernelRouteMirror* mirror = nullptr);
    std::optional<VrId> find_vr(const std::string& name) const;
    std::size_t vr_count() const noexcept { return vrs_.size(); }
    const std::string& vr_name(VrId vr) const { return at(vr).name; }
    TunDevice& tun(VrId vr) { return at(vr).tun; }
    void set_mirror(VrId vr, KernelRouteMirror* mirror) { at(vr).mirror = mirror; }
    /// Publishes one Event per route change on `bus` (nullptr: none). Entity "dataplane.route",
    /// id "<vr>/<prefix>", event "install" / "remove" / "conflict", cause = the kernel error if
    /// mirroring failed, extra {"session", "kind"} ("kind" on install/conflict only).
    void set_event_bus(core::EventBus* bus) noexcept { bus_ = bus; }

    /// Route management: the table and, when a mirror is attached, the kernel. add_route returns
    /// the table's answer plus the kernel error text, if any (the table entry stays either way:
    /// the sessions are still reachable from the data plane; the caller logs the error).
    struct RouteResult {
        RouteTable::Insert insert;
        std::optional<std::string> kernel_error;
    };
    RouteResult add_route(VrId vr, core::Ipv4Prefix prefix, SessionHandle session, RouteKind kind);
    /// Several prefixes of one session, as add_route each (a /32 as RouteKind::framed_ip, any
    /// other as framed_route), mirrored into the kernel together (KernelRouteMirror::install of a
    /// span: two system calls for all). One result per prefix, in order.
    std::vector<RouteResult> add_routes(VrId vr, std::span<const core::Ipv4Prefix> prefixes, SessionHandle session);
    /// Removes one prefix of a session (table and kernel). False if the session did not hold it.
    bool remove_route(VrId vr, core::Ipv4Prefix prefix, SessionHandle session,
                      std::vector<std::string>* kernel_errors = nullptr);
    /// Session down: removes all its prefixes (table and kernel); returns them.
    std::vector<core::Ipv4Prefix> remove_session(VrId vr, SessionHandle session,
                                                 std::vector<std::string>* kernel_errors = nullptr);
    const RouteTable& routes(VrId vr) const { return at(vr).routes; }

    /// The fd to watch for readability for this VR (-1 if no TUN).
    int tun_fd(VrId vr) const { return at(vr).tun.fd(); }
    /// Reads TUN batches until the TUN is empty or `budget` packets were handled; dispatches each
    /// (to_session / no_route), calling batch_end after each batch. Returns packets read.
    std::size_t poll_tun(VrId vr, std::size_t budget = 256);
    /// Dispatches an already-filled batch as if read from the VR's TUN (tests, other sources).
    void dispatch(VrId vr, PacketBatch& batch);
    /// A packet from a session (IPv4 from the PPP engine's deliver) → the VR's TUN.
    WriteStatus from_session(VrId vr, std::span<const std::uint8_t> packet) noexcept;

    const VrCounters& counters(VrId vr) const { return at(vr).counters; }
    std::size_t headroom() const noexcept { return batch_.headroom(); }

private:
    struct Vr {
        std::string name;
        TunDevice tun;
        KernelRouteMirror* mirror = nullptr;
        RouteTable routes;
        VrCounters counters;
    };
    Vr& at(VrId vr);
    const Vr& at(VrId vr) const;

    void publish(const Vr& v, core::Ipv4Prefix prefix, const char* event, SessionHandle session,
                 const RouteKind* kind, const std::optional<std::string>& kernel_error);

    Callbacks cb_;
    core::EventBus* bus_ = nullptr;
    PacketBatch batch_;
    std::vector<std::unique_ptr<Vr>> vrs_;
};

}  // namespace dl::dataplane
