// One received UDP datagram as lnsd's UDP adapter hands a recvmmsg batch on (udp.hpp) to the LNS
// core and its data fast path (lns.hpp, data_path.hpp).
#pragma once

#include <cstdint>
#include <span>

namespace dl::lnsd {

/// One received UDP datagram: its source (PeerId, (IPv4 << 16) | UDP port) and payload, for
/// DataPath::receive_batch / Lns::receive_batch (lnsd's UdpEndpoint hands a whole recvmmsg batch
/// on as a span of these). `bytes` is valid for the call it is passed to.
struct RxDatagram {
    std::uint64_t peer = 0;
    std::span<const std::uint8_t> bytes;
};

}  // namespace dl::lnsd
