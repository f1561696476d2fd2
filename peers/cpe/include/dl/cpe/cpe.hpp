// cpe-emu's sans-I/O core: many emulated remote-office routers ("sites") behind one connection to
// isdn-emu. Each site registers its number, answers calls (or refuses them, by fault injection) and
// runs the project's PPP engine (lns/ppp Link) in the peer role over the B-channel: LCP,
// authenticating itself to the LNS (PAP / CHAP-MD5 with its name and secret) and, if configured,
// authenticating the LNS from its own user table, then IPCP.
// B-channel framing: digital bearer = sync HDLC frames (one per datagram), analog = async HDLC
// byte stream (RFC 1662 §4, §5).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dl/core/event.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/isdn/message.hpp"
#include "dl/ppp/engine/link.hpp"

namespace dl::cpe {

/// Failure injection per site (issue 7): the CPE misbehaves on purpose.
enum class Fault : std::uint8_t {
    none,
    wrong_password,  ///< authenticates with a wrong secret
    refuse_auth,     ///< refuses every authentication protocol the LNS asks for (Configure-Reject/Nak)
    no_lcp,          ///< answers the call but never answers LCP
    no_answer,       ///< never answers the call (exchange no-answer timer: cause 19)
    busy,            ///< RELEASE cause 17
    reject,          ///< RELEASE cause 21
};
std::string_view to_string(Fault f) noexcept;
/// Inverse of to_string ("none", "wrong-password", "refuse-auth", "no-lcp", "no-answer", "busy",
/// "reject"); std::invalid_argument otherwise.
Fault fault_from_string(std::string_view s);

/// One emulated remote site.
struct SiteConfig {
    std::string number;                          ///< ISDN number it registers
    std::string name = "cpe-remote";             ///< PAP Peer-ID / CHAP Name
    std::string secret = "cpe-pass";             ///< its password / CHAP secret
    bool allow_pap = true, allow_chap = true;    ///< protocols it accepts to authenticate with
    ppp::engine::AuthPreference require_auth = ppp::engine::AuthPreference::none;  ///< authenticate the LNS
    std::map<std::string, std::string> users;    ///< name -> secret, for authenticating the LNS
    std::uint32_t local_ip = 0;                  ///< host order; 0 = ask the LNS
    std::uint16_t mru = 1500;
    Fault fault = Fault::none;
    std::uint32_t answer_speed = 0;              ///< CONNECT line speed; 0 = exchange default

    /// From JSON / YAML-as-JSON: {"number","name","secret","auth":["pap","chap"],"require_auth":
    /// "none|pap|chap","users":{..},"local_ip":"a.b.c.d","mru","fault","speed"}. std::invalid_argument
    /// naming the key on bad values.
    static SiteConfig from_json(const nlohmann::json& j);
};

/// The CPE process core. Single-threaded; time from the TimerQueue.
class Cpe {
public:
    using IsdnSend = std::function<void(const isdn::Message&)>;

    Cpe(core::TimerQueue& timers, core::TimerRegistry& registry, core::EventBus& bus, IsdnSend isdn_send);
    ~Cpe();
    Cpe(const Cpe&) = delete;
    Cpe& operator=(const Cpe&) = delete;

    /// Adds a site (before or after start()). std::invalid_argument for a bad or duplicate number.
    void add_site(SiteConfig site);
    /// Registers every site's number with the exchange (one REGISTER).
    void start();
    /// One message from the exchange.
    void isdn_receive(const isdn::Message& m);
    /// The exchange went away: every call's PPP gets lower_down.
    void isdn_down();

    /// Run-time fault injection for a site; false if the number is unknown.
    bool set_fault(const std::string& number, Fault f);
    /// The site places a call (SETUP from its number) to `called`, e.g. the LAC's number for an
    /// L2TP incoming call (§7.4.1); on CONNECT its PPP peer starts LCP. False if the site is
    /// unknown or already in a call.
    bool dial(const std::string& site_number, const std::string& called, isdn::Bearer bearer = isdn::Bearer::digital);
    /// Hang up a site's active call (RELEASE cause 16); false if none.
    bool hangup(const std::string& number);

    /// {"sites":[{number,name,fault,call:{state,phase,lcp,ipcp,local_ip,peer_ip,peer_name}}]}
    nlohmann::json state() const;
    /// Number of sites whose IPCP is Opened.
    std::size_t network_up_count() const noexcept;
    /// sizeof of the per-site and per-call objects (without the PPP Link: ppp::engine::Link::footprint()).
    static std::size_t site_footprint() noexcept;
    static std::size_t call_footprint() noexcept;

    struct Site;
    struct Call;

private:
    friend struct Call;
    void on_setup(const isdn::Message& m);
    void make_link(Site& s);
    void end_call(Site& s, std::optional<std::uint8_t> release_cause);
    void send_ppp(Call& c, std::uint16_t protocol, const std::vector<std::uint8_t>& info);
    void receive_data(Call& c, std::span<const std::uint8_t> payload);
    void schedule_reap();

    core::TimerQueue& timers_;
    core::TimerRegistry& registry_;
    core::EventBus& bus_;
    IsdnSend isdn_send_;
    std::map<std::string, std::unique_ptr<Site>, std::less<>> sites_;
    std::map<std::uint16_t, Site*> by_ref_;
    std::vector<std::unique_ptr<Call>> doomed_;
    core::Timer reap_timer_;
    bool started_ = false;
    std::uint16_t next_ref_ = 0;
};

}  // namespace dl::cpe
