#include "dl/dataplane/netns.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "dl/dataplane/netlink.hpp"

namespace dl::dataplane {

namespace {
/// Runs /sbin/ip (or ip on PATH) with `args`, no shell; returns the exit status.
int run_ip(const std::vector<std::string>& args) {
    const pid_t pid = ::fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        std::vector<char*> argv;
        argv.push_back(const_cast<char*>("ip"));
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        const int devnull = ::open("/dev/null", O_WRONLY);
        if (devnull >= 0) ::dup2(devnull, 2);
        ::execvp("ip", argv.data());
        ::_exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
}  // namespace

std::string ScopedNetns::random_name(std::string_view tag) {
    std::random_device rd;
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(rd()));
    return "dl-" + std::string(hex) + "-" + std::string(tag);
}

ScopedNetns::ScopedNetns(std::string name) : name_(std::move(name)) {
    if (name_.rfind("dl-", 0) != 0) throw std::invalid_argument("namespace name must start with dl-: " + name_);
    if (run_ip({"netns", "add", name_}) != 0) throw std::runtime_error("ip netns add " + name_ + " failed");
    try {
        run([] {
            Netlink nl;
            nl.set_link_up(1);  // "lo" is ifindex 1 in every namespace
        });
    } catch (...) {
        run_ip({"netns", "del", name_});
        throw;
    }
}

ScopedNetns::~ScopedNetns() { run_ip({"netns", "del", name_}); }

void ScopedNetns::run(const std::function<void()>& fn) const {
    std::exception_ptr error;
    std::thread t([&] {
        try {
            const std::string path = "/run/netns/" + name_;
            const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0) throw std::runtime_error("open " + path + ": " + std::strerror(errno));
            const int r = ::setns(fd, CLONE_NEWNET);
            const int e = errno;
            ::close(fd);
            if (r < 0) throw std::runtime_error("setns " + path + ": " + std::strerror(e));
            fn();
        } catch (...) {
            error = std::current_exception();
        }
    });
    t.join();
    if (error) std::rethrow_exception(error);
}

}  // namespace dl::dataplane
