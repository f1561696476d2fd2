// Helpers of the data-plane benchmarks (dl_dataplane_pps, lns/dataplane/bench/pps.cpp; dl_lnsd_forward,
// lns/lnsd/bench/forward_bench.cpp): clocks, CPU pinning, loopback UDP sockets and the IPv4/UDP test
// packets both generators send. Library dl_bench_net (lns/dataplane/CMakeLists.txt).
#pragma once

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dl::bench {

/// CLOCK_MONOTONIC in seconds.
double now_s();
/// The calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID) in seconds.
double thread_cpu_s();
/// Pins the calling thread to CPU `cpu` modulo the number of CPUs (pthread_setaffinity_np); does
/// nothing when the number is unknown. Failure to pin is ignored (the figures then say so).
void pin(int cpu);
/// IPv4 socket address `ip`:`port` (dotted quad; an unparsable `ip` gives 0.0.0.0).
sockaddr_in addr(const char* ip, std::uint16_t port);
/// A UDP socket (SOCK_CLOEXEC) with send and receive buffers forced to `bufsize` octets
/// (SO_SNDBUFFORCE / SO_RCVBUFFORCE, root), bound to `bind_to` when given. std::runtime_error
/// naming socket() or bind() and the errno text on failure.
int udp_socket(const sockaddr_in* bind_to, int bufsize);
/// The address behind session i (0-based) of the benches: 10.201.<i/256>.<i%256> (host order);
/// tunnel 1, session i+1.
std::uint32_t session_address(std::size_t i);
/// An IPv4/UDP packet src -> dst:dport (addresses in host order) from source port 12345 with
/// `payload` octets of 0x5A, a valid IPv4 header checksum (RFC 791) and UDP checksum 0 (RFC 768:
/// none).
std::vector<std::uint8_t> ipv4_udp(std::uint32_t src, std::uint32_t dst, std::uint16_t dport, std::size_t payload);

}  // namespace dl::bench
