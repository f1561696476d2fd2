// Helpers of the data-plane benchmarks (bench_net.hpp).
#include "bench_net.hpp"

#include <arpa/inet.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

namespace dl::bench {

double now_s() {
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}
double thread_cpu_s() {
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}
void pin(int cpu) {
    const int n = static_cast<int>(std::thread::hardware_concurrency());
    if (n <= 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu % n, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}
sockaddr_in addr(const char* ip, std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}
int udp_socket(const sockaddr_in* bind_to, int bufsize) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufsize, sizeof bufsize);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsize, sizeof bufsize);
    if (bind_to && ::bind(fd, reinterpret_cast<const sockaddr*>(bind_to), sizeof *bind_to) < 0)
        throw std::runtime_error(std::string("bind: ") + std::strerror(errno));
    return fd;
}
std::uint32_t session_address(std::size_t i) {
    return 0x0AC90000u | static_cast<std::uint32_t>(i & 0xFFFF);
}

std::vector<std::uint8_t> ipv4_udp(std::uint32_t src, std::uint32_t dst, std::uint16_t dport, std::size_t payload) {
    std::vector<std::uint8_t> p(28 + payload, 0x5A);
    p[0] = 0x45, p[1] = 0;
    p[2] = static_cast<std::uint8_t>(p.size() >> 8), p[3] = static_cast<std::uint8_t>(p.size());
    p[4] = p[5] = p[6] = p[7] = 0;
    p[8] = 64, p[9] = 17, p[10] = p[11] = 0;
    for (int i = 0; i < 4; ++i) {
        p[12 + i] = static_cast<std::uint8_t>(src >> (24 - 8 * i));
        p[16 + i] = static_cast<std::uint8_t>(dst >> (24 - 8 * i));
    }
    std::uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) sum += static_cast<std::uint32_t>((p[i] << 8) | p[i + 1]);
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    p[10] = static_cast<std::uint8_t>(~sum >> 8), p[11] = static_cast<std::uint8_t>(~sum);
    p[20] = 0x30, p[21] = 0x39;  // sport 12345
    p[22] = static_cast<std::uint8_t>(dport >> 8), p[23] = static_cast<std::uint8_t>(dport);
    p[24] = static_cast<std::uint8_t>((8 + payload) >> 8), p[25] = static_cast<std::uint8_t>(8 + payload);
    p[26] = p[27] = 0;
    return p;
}

}  // namespace dl::bench
