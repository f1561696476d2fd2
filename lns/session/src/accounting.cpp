// The accounting of one call. See dl/session/accounting.hpp.
#include "dl/session/accounting.hpp"

#include <algorithm>
#include <chrono>
#include <exception>

namespace dl::session {

namespace rc = radius::client;

core::Duration interim_period(std::optional<core::Duration> configured, std::optional<std::uint32_t> from_accept) {
    if (configured) return std::max(*configured, core::Duration::zero());
    if (from_accept && *from_accept > 0) return std::chrono::seconds(std::max<std::uint32_t>(60, *from_accept));
    return core::Duration::zero();
}

CallAccounting::CallAccounting(core::TimerQueue& timers, const AccountingPort& port, std::uint64_t call)
    : timers_(timers), port_(&port), call_(call), session_id_(port.instance + "-" + std::to_string(call)),
      created_(timers.now()), interim_timer_(timers), alive_(std::make_shared<bool>(true)) {}

CallAccounting::~CallAccounting() { *alive_ = false; }

void CallAccounting::start(core::Duration interim) {
    if (started_) return;
    send(rc::AcctStatus::Start, {}, interim);
}

void CallAccounting::stop(std::string_view cause) { send(rc::AcctStatus::Stop, cause, {}); }

void CallAccounting::send(rc::AcctStatus status, std::string_view cause, core::Duration period) {
    if (!port_->enabled || !port_->submit || !port_->enabled(call_)) return;
    const bool start = status == rc::AcctStatus::Start;
    if (start == started_) return;  // one Start; Interim-Update and Stop only after it
    AccountingCounters none;
    AccountingCounters& k = port_->counters ? *port_->counters : none;
    if (interim_pending_) {
        if (port_->cancel && port_->cancel(*interim_pending_)) ++k.acct_interims_superseded;
        interim_pending_.reset();
    }
    if (status == rc::AcctStatus::Stop) {
        started_ = false;
        interim_timer_.cancel();
    }
    rc::AccountingRecord r;
    if (port_->describe) port_->describe(call_, r);
    r.status = status;
    r.session_id = session_id_;  // unique across restarts (RFC 2866 §5.5)
    if (start) {  // counters only in Interim-Update and Stop (RFC 2869 §2.1: cumulative)
        r.input_octets = r.output_octets = 0;
        r.input_packets = r.output_packets = 0;
        r.session_time = 0;
    } else {
        r.session_time =
            static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(timers_.now() - created_).count());
    }
    r.terminate_cause.reset();
    if (status == rc::AcctStatus::Stop)
        r.terminate_cause = cause.find("administrat") != std::string_view::npos || cause.find("reset") != std::string_view::npos
                                ? 6u   // Admin-Reset (RFC 2866 §5.10)
                                : 1u;  // User-Request
    const bool interim = status == rc::AcctStatus::Interim_Update;
    try {
        std::weak_ptr<bool> alive = alive_;
        auto h = port_->submit(call_, r, [this, alive, interim](rc::Result) {
            if (auto a = alive.lock(); a && *a && interim) interim_pending_.reset();
        });
        ++k.acct_requests;
        if (start) {
            started_ = true;
            interim_ = period;  // the period in use once Start is out
            arm_interim();
        } else if (interim) {
            ++k.acct_interims;
            ++interims_sent_;
            if (h) interim_pending_ = h;
        }
    } catch (const std::exception&) {
        ++k.acct_timeouts;
        if (start) started_ = true;  // Stop still due
    }
}

void CallAccounting::arm_interim() {
    if (interim_ <= core::Duration::zero()) return;
    interim_timer_.start(interim_, [this] {
        if (!started_) return;
        send(rc::AcctStatus::Interim_Update, {}, {});
        arm_interim();
    });
}

}  // namespace dl::session
