// The load generator's measuring pieces, free of I/O: latency samples with nearest-rank
// percentiles, the pacing of new calls (rate and window), per-message-type counters and the CPU /
// memory figures of a process read from /proc (proc(5)).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace dl::loadgen {

/// Latencies of one stage, in milliseconds (any non-negative double). Percentiles are
/// nearest-rank (the smallest sample such that at least p % of the samples are ≤ it), so p100 is
/// the maximum and every reported value is a measured one.
class LatencySamples {
public:
    void add(double ms) { samples_.push_back(ms); }
    std::size_t count() const noexcept { return samples_.size(); }
    /// Nearest-rank percentile, p in (0, 100]; nullopt with no samples. std::invalid_argument for
    /// p outside (0, 100].
    std::optional<double> percentile(double p) const;
    /// {"count","p50","p90","p99","max","mean"} (ms); only "count" (0) with no samples.
    nlohmann::json summary() const;

private:
    std::vector<double> samples_;
};

/// Pacing of new setups: how many may start now.
///  - rate > 0: the k-th setup (0-based) is due at k / rate seconds after the start, so at
///    `elapsed_s` floor(elapsed_s × rate) + 1 have been due (a late tick sends every due one at
///    once: the average rate holds);
///  - rate == 0: as fast as the window allows;
///  - window > 0 bounds setups in flight (started, neither established nor failed);
///  - never more than `total` in all.
/// Returns the number to start now (0 if none).
std::size_t due_now(double elapsed_s, double rate, std::size_t started, std::size_t in_flight, std::size_t window,
                    std::size_t total) noexcept;

/// Counters of L2TP control messages by Message Type (RFC 2661 §4.4.1): "SCCRQ" … "SLI",
/// "ZLB" for acknowledgements without a message, "data" for data messages, "type-N" otherwise.
/// Counting is an array increment (no name, no string, no allocation per datagram); the names are
/// made by to_json().
class MessageCounters {
public:
    /// Counts one datagram by its Message Type (nullopt = data or ZLB: `is_data` tells which).
    void count(std::optional<std::uint16_t> message_type, bool is_data) noexcept {
        if (!message_type) ++(is_data ? data_ : zlb_);
        else if (*message_type < by_type_.size()) ++by_type_[*message_type];
        else ++other_[*message_type];  // not an RFC 2661 type: rare
    }
    nlohmann::json to_json() const;

private:
    std::array<std::uint64_t, 64> by_type_{};  ///< by Message Type (RFC 2661 §4.4.1 defines 0-16)
    std::map<std::uint16_t, std::uint64_t> other_;
    std::uint64_t data_ = 0, zlb_ = 0;
};

/// CPU time (user + system) and resident memory of a process.
struct ProcUsage {
    double cpu_s = 0;          ///< utime + stime, seconds
    long rss_kib = 0;          ///< VmRSS
    long hwm_kib = 0;          ///< VmHWM (peak RSS)
    unsigned long minor_faults = 0;   ///< minflt (field 10 of /proc/<pid>/stat): pages first touched
    unsigned long sleeps = 0;  ///< voluntary_ctxt_switches of /proc/<pid>/status: times it blocked
                               ///< (each followed by a wake-up), main thread
};
/// Reads /proc/<pid>/stat (fields 14, 15: utime, stime in clock ticks) and /proc/<pid>/status;
/// nullopt if the process is gone or the files cannot be parsed.
std::optional<ProcUsage> read_proc(int pid);
/// This process's CPU time (getrusage RUSAGE_SELF, user + system), seconds.
double self_cpu_s();

/// A process whose CPU and memory the generator reports beside the LNS's (e.g. a RADIUS server):
/// `--watch-pid NAME=PID`.
struct WatchedPid {
    std::string name;
    int pid = 0;
};
/// Parses "NAME=PID" (NAME non-empty, without '='; PID a positive decimal number).
/// std::invalid_argument naming the rule otherwise.
WatchedPid parse_watch_pid(const std::string& text);

/// CPU (utime + stime) and RSS of one process between two instants (`start`, `stop`: read_proc).
/// Shapes of to_json(calls): null for pid ≤ 0; {"pid", "error"} when /proc could not be read;
/// else {"pid", "cpu_s", "cpu_ms_per_call", "rss_kib_before", "rss_kib_after", "hwm_kib",
/// "rss_bytes_per_call", "wakeups_per_call", "page_faults_per_call"} (wake-ups: voluntary context
/// switches of the main thread, i.e. waits that blocked; page faults: minor faults, proc(5)). The CPU figures have the clock tick's resolution (sysconf(_SC_CLK_TCK),
/// 10 ms at 100 Hz).
struct ProcDelta {
    int pid = 0;
    std::optional<ProcUsage> before, after;
    void start() {
        if (pid > 0) before = read_proc(pid);
    }
    void stop() {
        if (pid > 0) after = read_proc(pid);
    }
    nlohmann::json to_json(std::size_t calls) const;
};

}  // namespace dl::loadgen
