// cpe-emu's TUN glue: the TunFactory that gives a site a real Linux TUN (lns/dataplane TunDevice,
// non-blocking, batch reads on Boost.Asio readiness) with its address and routes set over
// rtnetlink (lns/dataplane Netlink). Needs CAP_NET_ADMIN; works in the caller's network namespace.
#pragma once

#include <cstddef>

#include "dl/cpe/cpe.hpp"

namespace boost::asio {
class io_context;
}

namespace dl::cpe {

/// A TunFactory for Cpe::set_tun_factory. For each request it opens TUN `config.name` (MTU
/// `config.mtu`, up), adds `local_ip`/32, a host route to `peer_ip` and every `config.routes`
/// prefix (main table, dev TUN, replace semantics), and keeps one async_wait(wait_read) on the fd:
/// when readable it reads up to `batch` packets (TunDevice::read_batch) and hands each to
/// `request.from_tun`, then re-arms. The returned SiteTun deletes the routes and closes the device
/// (a non-persistent TUN disappears with it) on destruction. Errors: std::system_error (TUN) or
/// dataplane::NetlinkError (address, route) naming the step; nothing is left behind then.
/// `io` must outlive every SiteTun it made; use from the io_context's thread only.
TunFactory make_asio_tun_factory(boost::asio::io_context& io, std::size_t batch = 64);

}  // namespace dl::cpe
