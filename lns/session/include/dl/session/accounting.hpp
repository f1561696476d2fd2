// The accounting of one call (RFC 2866 §5.1 Start / Interim-Update / Stop, RFC 2867 §4.1 tunnel
// attributes, RFC 2869 §2.1 interim period), owned by the call's CallSession: Start when the
// owner says the network is up, Interim-Updates on the call's `interim_timer`, Stop when the
// session enters `closing` (before the rest of the teardown).
//
// What it needs from lnsd goes through AccountingPort: whether the call's virtual router has
// accounting servers, one RADIUS accounting submit / cancel, and the call's part of a record
// (user, Class, Framed-IP-Address, IPv4 counters, tunnel). Sans-I/O, single-threaded; time from
// the session's TimerQueue.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "dl/core/clock.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/radius/client/builders.hpp"
#include "dl/radius/client/client.hpp"

namespace dl::session {

/// Accounting counters shared by the owner's calls (`show l2tp dial-out chassis` "wiring").
struct AccountingCounters {
    std::uint64_t acct_requests = 0;   ///< Accounting-Requests submitted (Start, Interim-Update, Stop)
    std::uint64_t acct_responses = 0;  ///< Accounting-Responses received (counted by the port's owner)
    std::uint64_t acct_timeouts = 0;   ///< unanswered, or a request that could not be built
    std::uint64_t acct_interims = 0;   ///< Interim-Updates sent (RFC 2866 §5.1 value 3)
    std::uint64_t acct_interims_superseded = 0;  ///< pending Interim-Update cancelled by a newer one / Stop
};

/// What a call's accounting asks of lnsd. Shared by the owner's calls (the call number tells
/// which call asks); every member optional (none: the call is not accounted).
struct AccountingPort {
    /// The call's virtual router has accounting servers: records are due.
    std::function<bool(std::uint64_t call)> enabled;
    /// Submits an Accounting-Request of `record` to the call's virtual router's accounting
    /// servers; `done` runs once with the result (accept = Accounting-Response, timeout, cancelled).
    /// Throws std::exception when the request cannot be built or submitted (counted as a timeout).
    std::function<radius::client::RequestHandle(std::uint64_t call, const radius::client::AccountingRecord& record,
                                                std::function<void(radius::client::Result)> done)>
        submit;
    /// Cancels a submitted request (its `done` runs with cancelled); false when already finished.
    std::function<bool(radius::client::RequestHandle)> cancel;
    /// Fills the call's part of `record`: User-Name, Class, Framed-IP-Address, the IPv4 packet and
    /// octet counters (RFC 2866 §5.3-5.4, §5.8-5.9), Acct-Tunnel-Connection and tunnel endpoints.
    std::function<void(std::uint64_t call, radius::client::AccountingRecord& record)> describe;
    /// Acct-Session-Id prefix of this process ("<instance>-<call>", unique across restarts, §5.5).
    std::string instance;
    /// Where the counters go; none: not counted.
    AccountingCounters* counters = nullptr;
};

/// The Interim-Update period (RFC 2869 §2.1): a locally configured value overrides the
/// Access-Accept's Acct-Interim-Interval (seconds), which is raised to the §5.16 minimum of 60 s;
/// zero = no Interim-Update.
core::Duration interim_period(std::optional<core::Duration> configured, std::optional<std::uint32_t> from_accept);

/// One call's accounting. At most one Interim-Update in flight: a newer one or the Stop cancels
/// (supersedes) an Interim-Update still being retransmitted (RFC 2869 §2.1). Not copyable.
class CallAccounting {
public:
    /// `timers` for the session time (from construction) and the interim timer; `port` must outlive this.
    CallAccounting(core::TimerQueue& timers, const AccountingPort& port, std::uint64_t call);
    CallAccounting(const CallAccounting&) = delete;
    CallAccounting& operator=(const CallAccounting&) = delete;
    ~CallAccounting();

    /// Start (RFC 2866 §5.1 value 1) once per call, then Interim-Updates every `interim` (0 = none).
    /// Nothing when the port is not enabled for the call or Start was already sent.
    void start(core::Duration interim);
    /// Stop (value 2) with the cumulative counters and Acct-Terminate-Cause (§5.10) from `cause`:
    /// 6 Admin-Reset when it says "administrat…" or "reset", else 1 User-Request. Only after a Start.
    void stop(std::string_view cause);

    bool started() const noexcept { return started_; }
    /// The Interim-Update period in use (zero before a submitted Start, or none).
    core::Duration interim() const noexcept { return interim_; }
    std::uint32_t interims_sent() const noexcept { return interims_sent_; }
    core::TimePoint created() const noexcept { return created_; }
    const std::string& session_id() const noexcept { return session_id_; }

private:
    /// `period`: Start only, the period armed once the Start is submitted.
    void send(radius::client::AcctStatus status, std::string_view cause, core::Duration period);
    void arm_interim();

    core::TimerQueue& timers_;
    const AccountingPort* port_;
    std::uint64_t call_;
    std::string session_id_;
    core::TimePoint created_;
    bool started_ = false;  ///< Start sent: Stop due
    core::Duration interim_{};
    core::Timer interim_timer_;
    std::optional<radius::client::RequestHandle> interim_pending_;
    std::uint32_t interims_sent_ = 0;
    std::shared_ptr<bool> alive_;  ///< completions of Interim-Updates after destruction do nothing
};

}  // namespace dl::session
