// Accounting-On / Accounting-Off (RFC 2866 §5.1 Acct-Status-Type 7 / 8) of lnsd's dial-out wiring,
// and the per-process accounting instance that keeps Acct-Session-Id unique across restarts
// (RFC 2866 §5.5 "Acct-Session-Id ... unique").
#include <fmt/format.h>

#include "dl/lnsd/csprng.hpp"
#include "dl/lnsd/dialout_wiring.hpp"
#include "dl/radius/client/builders.hpp"
#include "dl/radius/client/client.hpp"

namespace dl::lnsd {

namespace rc = radius::client;

std::string new_acct_instance() { return fmt::format("{:016x}", csprng_u64()); }

void DialOutWiring::accounting_on() { counters_.acct_on += account_nas(rc::AcctStatus::Accounting_On); }

std::size_t DialOutWiring::accounting_off() {
    const auto n = account_nas(rc::AcctStatus::Accounting_Off);
    counters_.acct_off += n;
    return n;
}

std::size_t DialOutWiring::account_nas(rc::AcctStatus status) {
    std::size_t sent = 0;
    for (const auto& vr : cfg_.virtual_routers) {
        if (vr.accounting.empty() || !radius_.servers(vr.name) || radius_.servers(vr.name)->accounting.empty()) continue;
        ++acct_on_off_pending_;  // before submit(): its completion may not run first, but never underflows
        try {
            auto alive = alive_;
            radius_.submit(vr.name, rc::Service::accounting,
                           rc::build_accounting_on_off(status, acct_instance_, {vr.nas_ip, vr.nas_identifier}),
                           [this, alive](const rc::Completion& comp) {
                               if (!*alive) return;
                               if (acct_on_off_pending_) --acct_on_off_pending_;
                               if (comp.result == rc::Result::accept) ++counters_.acct_responses;
                               else if (comp.result == rc::Result::timeout) ++counters_.acct_timeouts;
                           });
            ++counters_.acct_requests;
            ++sent;
        } catch (const std::exception&) {
            --acct_on_off_pending_;
            ++counters_.acct_timeouts;  // no server could be asked: counted like an unanswered request
        }
    }
    return sent;
}

}  // namespace dl::lnsd
