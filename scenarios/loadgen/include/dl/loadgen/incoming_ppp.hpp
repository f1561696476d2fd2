// dl_loadgen incoming mode with PPP (`--ppp chap`): after ICCN, the CPE side of every incoming call
// runs PPP over the L2TP session with the LNS, on the project's PPP engine (lns/ppp Link, the peer
// role): LCP (RFC 1661), the CPE authenticated by the LNS with CHAP-MD5 (RFC 1994; the LNS asks,
// the CPE answers with its name and secret), IPCP (RFC 1332; the CPE takes the address the LNS
// gives, e.g. its RADIUS Framed-IP-Address). The session counts as up when IPCP reaches Opened.
// Sans-I/O: frames leave through `send`, arrive through receive(); time from the FsmEnv's timers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dl/core/fsm.hpp"

namespace dl::ppp::engine {
class Link;
}

namespace dl::loadgen {

/// A PPP user of the CPE side: CHAP Name and secret (what the LNS's RADIUS must know).
struct PppUser {
    std::string name, secret;
};

/// Reads a JSON array of objects with "name" and "secret" (other keys ignored: a `--sites-file` of
/// the dial-out mode fits). std::runtime_error naming the file and the problem; an empty list is
/// an error.
std::vector<PppUser> load_ppp_users(const std::string& path);

/// The CPE PPP links of the incoming calls, one per unit (the caller's session index).
///  - send(unit, frame): a PPP frame for the unit's L2TP session: HDLC address 0xFF, control 0x03
///    (RFC 1662 §3.1), Protocol, Information — what an LAC forwards in its data messages;
///  - up(unit): IPCP Opened (the session is up); down(unit, cause): the link went Dead before or
///    after that (authentication refused, LCP gave up, the L2TP session ended).
/// Unit u uses users[u % users.size()]. Links live until stop() or the object's end.
class IncomingPpp {
public:
    using Send = std::function<void(std::size_t unit, std::vector<std::uint8_t> frame)>;
    using Up = std::function<void(std::size_t unit)>;
    using Down = std::function<void(std::size_t unit, std::string_view cause)>;

    IncomingPpp(core::FsmEnv env, std::vector<PppUser> users, Send send, Up up, Down down);
    ~IncomingPpp();
    IncomingPpp(const IncomingPpp&) = delete;
    IncomingPpp& operator=(const IncomingPpp&) = delete;

    /// The unit's call is connected (ICCN sent): its CPE link opens (LCP Configure-Request).
    void start(std::size_t unit);
    /// A PPP frame the LNS sent on the unit's session (address / control optional, RFC 1662 §3.2).
    void receive(std::size_t unit, std::span<const std::uint8_t> frame);
    /// The unit's L2TP session ended: its link goes down (lower layer down, RFC 1661 §4.3).
    void stop(std::size_t unit);
    std::size_t links() const noexcept { return links_.size(); }
    /// CHAP / PAP failures seen by the links (LinkCounters::auth_failures), summed.
    std::uint64_t auth_failures() const;

private:
    core::FsmEnv env_;
    std::vector<PppUser> users_;
    Send send_;
    Up up_;
    Down down_;
    std::unordered_map<std::size_t, std::unique_ptr<ppp::engine::Link>> links_;
};

}  // namespace dl::loadgen
