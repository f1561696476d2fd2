// lnsd's dial-out runtime: the I/O around DialOutWiring — the RADIUS client on a Boost.Asio UDP
// socket, one TUN per virtual router with kernel route mirroring (lns/dataplane), and the wiring
// itself (dial-out manager, PPP links, access routes). One object, built by main() after the Lns.
#pragma once

#include <memory>

#include "dl/lnsd/dialout_wiring.hpp"
#include "dl/lnsd/pass_flush.hpp"

namespace boost::asio {
class io_context;
}

namespace dl::lnsd {

/// Owns the RADIUS transport and client, the data plane (TUN per VR, RouteTable, kernel mirror,
/// Asio TUN watchers) and the DialOutWiring. Construct on the io_context's thread.
///  - Configuration: `virtual-routers`, `ppp-profiles`, `incoming`, `dialout` of lnsd's root
///    (load_wiring_config, Manager::load): dl::core::ConfigError naming key, value and rule.
///  - A VR whose TUN cannot be opened for a reason of that interface (the name is taken by another
///    kind of interface: EBUSY, EINVAL, EEXIST) is reported down to the manager (JunosE "L2TP
///    Dial-Out" Table 72 "down: its dial-out interface is down"), event `lnsd.dataplane tun-failed`.
///  - A TUN or route-socket failure of the host (EPERM / EACCES: no CAP_NET_ADMIN; ENOENT / ENODEV
///    / ENXIO: no TUN driver; EMFILE / ENFILE / ENOMEM / ENOBUFS) makes the dial-out chassis
///    initializationFailed with that reason (Table 71: "could not obtain enough system resources
///    for basic operation. All configuration commands fail"): the `dialout:` section is not loaded
///    (event `dialout.chassis configuration-refused`), dial-out commands answer an error.
///  - Kernel route errors are events `lnsd.route kernel-error`. None of these stops lnsd; a RADIUS
///    transport that cannot open its socket throws (lnsd exits 1).
class DialOutRuntime {
public:
    DialOutRuntime(boost::asio::io_context& io, core::TimerQueue& timers, core::TimerRegistry& registry,
                   core::EventBus& bus, Lns& lns, const core::ConfigNode& root);
    ~DialOutRuntime();
    DialOutRuntime(const DialOutRuntime&) = delete;
    DialOutRuntime& operator=(const DialOutRuntime&) = delete;

    DialOutWiring& wiring() noexcept;
    /// Where the RADIUS client's requests of one pass are flushed from (one sendmmsg): lnsd passes
    /// PassEnd::post() (pass_end.hpp). Until it is called, each request is sent at once.
    void defer_radius_sends(PassFlush::Post post);
    /// DialOutWiring::register_commands plus `show dataplane` (per-VR TUN counters and routes).
    void register_commands(core::ControlServer& server);

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace dl::lnsd
