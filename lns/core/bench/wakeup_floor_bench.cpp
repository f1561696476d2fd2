// dl_wakeup_floor: what one wake-up of a process that does nothing else costs this machine, in
// CPU time charged to that process — the floor under a daemon's CPU per call when it idles between
// datagrams (docs/performance.md "Eleventh round").
//
// An echo process (its own CPU) blocks in epoll_wait on a UDP socket; a pinger process (another CPU)
// sends it one 64-octet datagram every 1/rate s (a timerfd), and the echo reads it (recvmmsg) and
// sends it back (sendmmsg), as a daemon answers one datagram per wake-up. At a rate where the echo's
// CPU idles between datagrams, every round trip is one wake-up from idle. Printed per rate: the
// echo's CPU time per round trip (getrusage, µs), its voluntary context switches per round trip and
// a `json {…}` line. Loopback sockets in the caller's namespace; nothing else is touched; each
// rate runs --seconds (bounded) and both processes exit.
//
//   dl_wakeup_floor --rates 0,500,2000,8000 --seconds 2 [--echo-cpu 1 --pinger-cpu 0]
//
// Rate 0: back to back (the next datagram leaves when the previous came back), so the echo's CPU
// rarely idles: the cost of the system calls without the wake-up from idle.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace {

struct Usage {
    double cpu_s = 0;
    long voluntary = 0;
};

Usage self_usage() {
    rusage r{};
    getrusage(RUSAGE_SELF, &r);
    auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
    return {s(r.ru_utime) + s(r.ru_stime), r.ru_nvcsw};
}

void pin(int cpu) {
    if (cpu < 0) return;
    cpu_set_t m;
    CPU_ZERO(&m);
    CPU_SET(cpu, &m);
    if (sched_setaffinity(0, sizeof m, &m) != 0) std::perror("sched_setaffinity");
}

int udp_socket(sockaddr_in& bound) {
    const int s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) {
        std::perror("socket");
        std::exit(1);
    }
    bound = {};
    bound.sin_family = AF_INET;
    bound.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof bound;
    if (bind(s, reinterpret_cast<sockaddr*>(&bound), sizeof bound) != 0 ||
        getsockname(s, reinterpret_cast<sockaddr*>(&bound), &len) != 0) {
        std::perror("bind");
        std::exit(1);
    }
    return s;
}

/// The echo: until a 1-octet datagram (the end) arrives, wait, read what waits, send it back.
/// Writes its CPU time and voluntary context switches over the run to `report` (a pipe).
void echo(int sock, const sockaddr_in& to, int report) {
    const int ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    epoll_ctl(ep, EPOLL_CTL_ADD, sock, &ev);
    constexpr int kBatch = 16;
    std::vector<char> bufs(kBatch * 256);
    std::vector<iovec> iov(kBatch);
    std::vector<mmsghdr> msgs(kBatch);
    const Usage u0 = self_usage();
    long round_trips = 0;
    for (bool done = false; !done;) {
        epoll_event out;
        if (epoll_wait(ep, &out, 1, -1) < 0 && errno != EINTR) break;
        for (;;) {
            for (int i = 0; i < kBatch; ++i) {
                iov[i] = {bufs.data() + i * 256, 256};
                msgs[i] = {};
                msgs[i].msg_hdr.msg_iov = &iov[i];
                msgs[i].msg_hdr.msg_iovlen = 1;
            }
            const int n = recvmmsg(sock, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
            if (n <= 0) break;
            int back = 0;
            for (int i = 0; i < n; ++i) {
                if (msgs[i].msg_len == 1) done = true;
                iov[back].iov_len = msgs[i].msg_len;
                msgs[back] = {};
                msgs[back].msg_hdr.msg_iov = &iov[i];
                msgs[back].msg_hdr.msg_iovlen = 1;
                msgs[back].msg_hdr.msg_name = const_cast<sockaddr_in*>(&to);
                msgs[back].msg_hdr.msg_namelen = sizeof to;
                ++back;
            }
            if (!done) {
                sendmmsg(sock, msgs.data(), static_cast<unsigned>(back), 0);
                round_trips += back;
            }
            if (n < kBatch) break;  // edge-triggered: a later datagram wakes us again
        }
    }
    const Usage u1 = self_usage();
    const double fig[3] = {u1.cpu_s - u0.cpu_s, static_cast<double>(u1.voluntary - u0.voluntary),
                           static_cast<double>(round_trips)};
    if (write(report, fig, sizeof fig) != static_cast<ssize_t>(sizeof fig)) std::perror("write");
}

struct Result {
    double rate = 0, echo_cpu_us_per_rt = 0, echo_sleeps_per_rt = 0;
    long round_trips = 0;
};

Result run_rate(double rate, double seconds, int echo_cpu, int pinger_cpu) {
    sockaddr_in ping_addr{}, echo_addr{};
    const int ping_sock = udp_socket(ping_addr);
    const int echo_sock = udp_socket(echo_addr);
    int report[2];
    if (pipe(report) != 0) {
        std::perror("pipe");
        std::exit(1);
    }
    const pid_t child = fork();
    if (child == 0) {
        pin(echo_cpu);
        close(ping_sock);
        echo(echo_sock, ping_addr, report[1]);
        _exit(0);
    }
    close(echo_sock);
    pin(pinger_cpu);
    const int ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = ping_sock;
    epoll_ctl(ep, EPOLL_CTL_ADD, ping_sock, &ev);
    int tfd = -1;
    if (rate > 0) {
        tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        const auto ns = static_cast<long>(1e9 / rate);
        itimerspec its{{ns / 1000000000, ns % 1000000000}, {ns / 1000000000, ns % 1000000000}};
        timerfd_settime(tfd, 0, &its, nullptr);
        ev.data.fd = tfd;
        epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
    }
    char payload[64] = {};
    char buf[256];
    auto send_one = [&](std::size_t len) {
        sendto(ping_sock, payload, len, 0, reinterpret_cast<const sockaddr*>(&echo_addr), sizeof echo_addr);
    };
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    if (rate <= 0) send_one(sizeof payload);
    while (std::chrono::steady_clock::now() < end) {
        epoll_event out[2];
        const int n = epoll_wait(ep, out, 2, 100);
        for (int i = 0; i < n; ++i) {
            if (out[i].data.fd == tfd) {
                std::uint64_t ticks = 0;
                if (read(tfd, &ticks, sizeof ticks) > 0) send_one(sizeof payload);
            } else {
                while (recv(ping_sock, buf, sizeof buf, MSG_DONTWAIT) > 0)
                    if (rate <= 0) send_one(sizeof payload);
            }
        }
    }
    send_one(1);  // the end
    double fig[3] = {0, 0, 0};
    if (read(report[0], fig, sizeof fig) != static_cast<ssize_t>(sizeof fig)) std::perror("read report");
    waitpid(child, nullptr, 0);
    close(report[0]);
    close(report[1]);
    close(ping_sock);
    close(ep);
    if (tfd >= 0) close(tfd);
    Result r;
    r.rate = rate;
    r.round_trips = static_cast<long>(fig[2]);
    if (r.round_trips > 0) {
        r.echo_cpu_us_per_rt = fig[0] * 1e6 / fig[2];
        r.echo_sleeps_per_rt = fig[1] / fig[2];
    }
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"CPU time one wake-up costs a process that does nothing else (UDP echo over loopback)"};
    std::string rates_text = "0,500,2000,8000";
    double seconds = 2;
    int echo_cpu = 1, pinger_cpu = 0;
    app.add_option("--rates", rates_text, "comma-separated round trips per second; 0 = back to back");
    app.add_option("--seconds", seconds, "seconds per rate")->check(CLI::Range(0.1, 60.0));
    app.add_option("--echo-cpu", echo_cpu, "CPU of the echo process (-1: not pinned)");
    app.add_option("--pinger-cpu", pinger_cpu, "CPU of the pinger process (-1: not pinned)");
    CLI11_PARSE(app, argc, argv);
    std::vector<double> rates;
    for (std::size_t at = 0; at <= rates_text.size();) {
        const auto comma = std::min(rates_text.find(',', at), rates_text.size());
        try {
            rates.push_back(std::stod(rates_text.substr(at, comma - at)));
        } catch (const std::exception&) {
            std::fprintf(stderr, "dl_wakeup_floor: --rates: '%s' is not a number\n",
                         rates_text.substr(at, comma - at).c_str());
            return 2;
        }
        at = comma + 1;
    }
    double load[3] = {0, 0, 0};
    getloadavg(load, 3);
    nlohmann::json out{{"seconds", seconds}, {"load_average", {load[0], load[1], load[2]}}, {"runs", nlohmann::json::array()}};
    std::printf("%10s  %12s  %22s  %24s\n", "rate/s", "round trips", "echo CPU µs/round trip", "echo sleeps/round trip");
    for (const double rate : rates) {
        const Result r = run_rate(rate, seconds, echo_cpu, pinger_cpu);
        std::printf("%10.0f  %12ld  %22.1f  %24.2f\n", r.rate, r.round_trips, r.echo_cpu_us_per_rt, r.echo_sleeps_per_rt);
        out["runs"].push_back({{"rate", r.rate},
                               {"round_trips", r.round_trips},
                               {"echo_cpu_us_per_round_trip", r.echo_cpu_us_per_rt},
                               {"echo_sleeps_per_round_trip", r.echo_sleeps_per_rt}});
    }
    std::printf("json %s\n", out.dump().c_str());
    return 0;
}
