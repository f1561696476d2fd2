#include "dl/loadgen/stats.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "dl/l2tp/types.hpp"

namespace dl::loadgen {

std::optional<double> LatencySamples::percentile(double p) const {
    if (!(p > 0 && p <= 100)) throw std::invalid_argument("percentile must be in (0, 100]");
    if (samples_.empty()) return std::nullopt;
    const auto n = samples_.size();
    auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(n)));
    rank = std::clamp<std::size_t>(rank, 1, n);
    std::vector<double> copy(samples_);
    std::nth_element(copy.begin(), copy.begin() + static_cast<std::ptrdiff_t>(rank - 1), copy.end());
    return copy[rank - 1];
}

nlohmann::json LatencySamples::summary() const {
    nlohmann::json j{{"count", samples_.size()}};
    if (samples_.empty()) return j;
    double sum = 0;
    for (double s : samples_) sum += s;
    j["p50"] = *percentile(50);
    j["p90"] = *percentile(90);
    j["p99"] = *percentile(99);
    j["max"] = *percentile(100);
    j["mean"] = sum / static_cast<double>(samples_.size());
    return j;
}

std::size_t due_now(double elapsed_s, double rate, std::size_t started, std::size_t in_flight, std::size_t window,
                    std::size_t total) noexcept {
    if (started >= total) return 0;
    std::size_t n = total - started;
    if (rate > 0) {
        const double due = std::floor(std::max(0.0, elapsed_s) * rate) + 1;
        const auto due_n = due >= static_cast<double>(total) ? total : static_cast<std::size_t>(due);
        n = std::min(n, due_n > started ? due_n - started : 0);
    }
    if (window > 0) n = std::min(n, in_flight >= window ? 0 : window - in_flight);
    return n;
}

nlohmann::json MessageCounters::to_json() const {
    nlohmann::json j = nlohmann::json::object();
    if (zlb_) j["ZLB"] = zlb_;
    if (data_) j["data"] = data_;
    auto add = [&j](std::uint16_t t, std::uint64_t n) {
        const auto name = l2tp::message_name(t);
        const std::string key = name == "unknown" || name == "reserved" ? "type-" + std::to_string(t) : std::string(name);
        j[key] = j.value(key, std::uint64_t{0}) + n;
    };
    for (std::size_t t = 0; t < by_type_.size(); ++t)
        if (by_type_[t]) add(static_cast<std::uint16_t>(t), by_type_[t]);
    for (const auto& [t, n] : other_) add(t, n);
    return j;
}

std::optional<ProcUsage> read_proc(int pid) {
    ProcUsage u;
    {
        std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
        std::string all;
        if (!std::getline(f, all)) return std::nullopt;
        // comm (field 2) may hold blanks: fields after the last ')'.
        const auto close = all.rfind(')');
        if (close == std::string::npos) return std::nullopt;
        std::istringstream rest(all.substr(close + 2));
        std::string field;
        unsigned long utime = 0, stime = 0;
        for (int i = 3; i <= 15 && rest >> field; ++i) {
            if (i == 10) u.minor_faults = std::stoul(field);
            if (i == 14) utime = std::stoul(field);
            if (i == 15) stime = std::stoul(field);
        }
        u.cpu_s = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
    }
    std::ifstream st("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(st, line)) {
        if (line.rfind("VmRSS:", 0) == 0) u.rss_kib = std::stol(line.substr(6));
        if (line.rfind("VmHWM:", 0) == 0) u.hwm_kib = std::stol(line.substr(6));
        if (line.rfind("voluntary_ctxt_switches:", 0) == 0) u.sleeps = std::stoul(line.substr(24));
    }
    return u;
}

double self_cpu_s() {
    rusage r{};
    getrusage(RUSAGE_SELF, &r);
    auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
    return s(r.ru_utime) + s(r.ru_stime);
}

WatchedPid parse_watch_pid(const std::string& text) {
    const auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0)
        throw std::invalid_argument("'" + text + "': expected NAME=PID (a name, '=', a process id)");
    const std::string digits = text.substr(eq + 1);
    if (digits.empty() || digits.size() > 9 || !std::all_of(digits.begin(), digits.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
        throw std::invalid_argument("'" + text + "': the process id after '=' must be a positive decimal number");
    const int pid = std::stoi(digits);
    if (pid <= 0) throw std::invalid_argument("'" + text + "': the process id must be positive");
    return {text.substr(0, eq), pid};
}

nlohmann::json ProcDelta::to_json(std::size_t calls) const {
    if (pid <= 0) return nullptr;
    nlohmann::json j{{"pid", pid}};
    if (!before || !after) {
        j["error"] = "cannot read /proc/<pid>";
        return j;
    }
    const double cpu = after->cpu_s - before->cpu_s;
    j["cpu_s"] = cpu;
    j["cpu_ms_per_call"] = calls ? cpu * 1e3 / static_cast<double>(calls) : 0.0;
    j["rss_kib_before"] = before->rss_kib;
    j["rss_kib_after"] = after->rss_kib;
    j["hwm_kib"] = after->hwm_kib;
    j["rss_bytes_per_call"] =
        calls ? static_cast<double>(after->rss_kib - before->rss_kib) * 1024.0 / static_cast<double>(calls) : 0.0;
    auto per_call = [calls](unsigned long a, unsigned long b) {
        return calls ? static_cast<double>(a >= b ? a - b : 0) / static_cast<double>(calls) : 0.0;
    };
    j["wakeups_per_call"] = per_call(after->sleeps, before->sleeps);
    j["page_faults_per_call"] = per_call(after->minor_faults, before->minor_faults);
    return j;
}

}  // namespace dl::loadgen
