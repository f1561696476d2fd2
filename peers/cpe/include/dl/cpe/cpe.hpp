// cpe-emu's sans-I/O core: many emulated remote-office routers ("sites") behind one connection to
// isdn-emu. Each site registers its number, answers calls (or refuses them, by fault injection) and
// runs the project's PPP engine (lns/ppp Link) in the peer role over the B-channel: LCP,
// authenticating itself to the LNS (PAP / CHAP-MD5 with its name and secret) and, if configured,
// authenticating the LNS with its own user table or its own RADIUS server (an Access-Request with
// the LNS's PAP password or CHAP response, RFC 2865 §5.2 / §5.3), then IPCP.
// B-channel framing: digital bearer = sync HDLC frames (one per datagram), analog = async HDLC
// byte stream (RFC 1662 §4, §5).
// Optional per-site TUN (SiteConfig::tun): IPv4 the PPP link delivers (RFC 1332 §2, Protocol
// 0x0021) is written to it, packets read from it go over the link while IPCP is Opened. The core
// only decides; the device itself comes from a TunFactory (cpe-emu: dl/cpe/site_tun.hpp).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dl/core/event.hpp"
#include "dl/core/ipv4.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/isdn/message.hpp"
#include "dl/ppp/engine/link.hpp"
#include "dl/radius/client/builders.hpp"
#include "dl/radius/client/client.hpp"

namespace dl::cpe {

/// Failure injection per site: the CPE misbehaves on purpose.
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

/// A site's IPv4 interface: a TUN named `name`, created when IPCP opens with the IPCP local address
/// (/32, plus a host route to the IPCP peer address) and `routes` through it; removed when the link
/// goes down.
struct TunConfig {
    std::string name;                        ///< interface name, 1..15 characters, e.g. "cpe0"
    std::vector<core::Ipv4Prefix> routes;    ///< e.g. 203.0.113.0/24; 0.0.0.0/0 = default route
    int mtu = 1500;                          ///< octets, 68..65535

    /// From JSON: {"name":"cpe0","routes":["203.0.113.0/24","default"],"mtu":1500}.
    /// std::invalid_argument naming the key on bad values (name length, prefix with host bits…).
    static TunConfig from_json(const nlohmann::json& j);
};

/// Per-site IPv4 forwarding counters (packets), kept across calls (`show state` "tun").
struct TunCounters {
    std::uint64_t to_tun = 0;            ///< IPv4 from the PPP link written to the TUN
    std::uint64_t to_tun_dropped = 0;    ///< from the link, but no TUN, not IPv4, or the write failed
    std::uint64_t from_tun = 0;          ///< read from the TUN and sent over the link
    std::uint64_t from_tun_dropped = 0;  ///< read from the TUN while IPCP was not Opened
    std::uint64_t opened = 0;            ///< TUNs created (one per IPCP up)
    std::uint64_t open_errors = 0;       ///< TUN or route creation failed (last_error says why)
};

/// The I/O side of one site's TUN while its IPCP is up. Destroying it removes the routes and the
/// device.
class SiteTun {
public:
    virtual ~SiteTun() = default;
    /// Writes one IPv4 packet to the device; false if it was dropped.
    virtual bool write(std::span<const std::uint8_t> packet) = 0;
};

/// What the core asks a TunFactory for when a site's IPCP reaches Opened.
struct TunRequest {
    std::string site;                 ///< the site's number (for messages)
    const TunConfig& config;
    std::uint32_t local_ip = 0;       ///< IPCP local address, host order (e.g. 198.18.0.2)
    std::uint32_t peer_ip = 0;        ///< IPCP peer address, host order (e.g. 198.18.0.1); 0 = unknown
    /// Hand each packet read from the device to the core (Cpe::from_tun for that site). Valid for
    /// the lifetime of the Cpe.
    std::function<void(std::span<const std::uint8_t>)> from_tun;
};

/// Creates the device for a request; throws (any std::exception) on failure, which the core
/// counts (TunCounters::open_errors) and publishes as `cpe.tun` `open-failed`.
using TunFactory = std::function<std::unique_ptr<SiteTun>(const TunRequest&)>;

/// Where a site checks the LNS's credentials when it authenticates the LNS (require_auth).
enum class LnsAuthSource : std::uint8_t {
    users,   ///< the site's own user table (SiteConfig::users)
    radius,  ///< the CPE's RADIUS server (Cpe::bind_radius): Access-Accept = accepted
};

/// Outcomes of a site's checks of the LNS, kept across calls (`show state` "lns_auth").
struct LnsAuthCounters {
    std::uint64_t accepted = 0;
    std::uint64_t rejected = 0;       ///< wrong credentials / Access-Reject
    std::uint64_t no_answer = 0;      ///< RADIUS: every server timed out (or could not be asked)
    std::uint64_t radius_requests = 0;
};

/// One emulated remote site.
struct SiteConfig {
    std::string number;                          ///< ISDN number it registers
    std::string name = "cpe-remote";             ///< PAP Peer-ID / CHAP Name
    std::string secret = "cpe-pass";             ///< its password / CHAP secret
    bool allow_pap = true, allow_chap = true;    ///< protocols it accepts to authenticate with
    ppp::engine::AuthPreference require_auth = ppp::engine::AuthPreference::none;  ///< authenticate the LNS
    std::map<std::string, std::string> users;    ///< name -> secret, for authenticating the LNS
    LnsAuthSource lns_auth = LnsAuthSource::users;  ///< where the LNS's credentials are checked
    std::uint32_t local_ip = 0;                  ///< host order; 0 = ask the LNS
    std::uint16_t mru = 1500;
    Fault fault = Fault::none;
    std::uint32_t answer_speed = 0;              ///< CONNECT line speed; 0 = exchange default
    std::optional<TunConfig> tun;                ///< forward IPv4 through a TUN (none: IPv4 dropped)

    /// From JSON / YAML-as-JSON: {"number","name","secret","auth":["pap","chap"],"require_auth":
    /// "none|pap|chap","users":{..},"lns_auth":"users|radius","local_ip":"a.b.c.d","mru","fault","speed","tun":{..}}. std::invalid_argument
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

    /// The CPE's own RADIUS server for sites with lns_auth radius: `client` has authentication
    /// servers under `vr`; `nas` goes in every request. Must outlive the Cpe; call before add_site().
    void bind_radius(radius::client::Client& client, radius::client::NasInfo nas, std::string vr = "peer");

    /// Adds a site (before or after start()). std::invalid_argument for a bad or duplicate number,
    /// or lns_auth radius without bind_radius().
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
    /// Hang up a site's call (answered or being placed): RELEASE with Q.850 `q850_cause` (default
    /// 16 normal clearing), the PPP link goes down; false if the site has no call.
    bool hangup(const std::string& number, std::uint8_t q850_cause = 16);

    /// Where sites with a `tun` get their device from (none set: their IPv4 is dropped and
    /// counted as if the TUN failed to open).
    void set_tun_factory(TunFactory factory);
    /// A packet read from a site's TUN: sent over its PPP link as IPv4 (Protocol 0x0021, RFC 1332
    /// §2) when IPCP is Opened, else dropped and counted. True if sent.
    bool from_tun(const std::string& number, std::span<const std::uint8_t> packet);
    /// The site's TUN counters; nullptr if the number is unknown.
    const TunCounters* tun_counters(const std::string& number) const;
    /// The site's counters of checks of the LNS; nullptr if the number is unknown.
    const LnsAuthCounters* lns_auth_counters(const std::string& number) const;

    /// {"sites":[{number,name,fault,call:{state,phase,lcp,ipcp,local_ip,peer_ip,peer_name},
    ///   lns_auth:{source,accepted,rejected,no_answer,radius_requests},
    ///   tun:{name,up,routes,to_tun,to_tun_dropped,from_tun,from_tun_dropped,opened,open_errors,last_error}}]}
    nlohmann::json state() const;
    /// Typed notification for an owner that measures (the load generator): called with the site's
    /// number each time its IPCP reaches Opened (RFC 1332 §1; the `cpe.call` `network-up` event is
    /// published just before). Unset by default.
    void set_network_up_hook(std::function<void(const std::string& number)> hook) { network_up_hook_ = std::move(hook); }
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
    void verify_lns(Call& c, std::uint32_t ticket, const ppp::engine::Credentials& cr);
    void ask_radius(Call& c, std::uint32_t ticket, const ppp::engine::Credentials& cr);
    enum class LnsVerdict : std::uint8_t { accepted, rejected, no_answer };
    void lns_verdict(Call& c, std::uint32_t ticket, LnsVerdict v, std::string why);
    void end_call(Site& s, std::optional<std::uint8_t> release_cause);
    void send_ppp(Call& c, std::uint16_t protocol, const std::vector<std::uint8_t>& info);
    void receive_data(Call& c, std::span<const std::uint8_t> payload);
    void schedule_reap();
    void open_tun(Site& s, std::uint32_t local_ip, std::uint32_t peer_ip);
    void close_tun(Site& s, std::string_view why);
    bool send_ipv4(Site& s, std::span<const std::uint8_t> packet);

    core::TimerQueue& timers_;
    core::TimerRegistry& registry_;
    core::EventBus& bus_;
    IsdnSend isdn_send_;
    TunFactory tun_factory_;
    std::function<void(const std::string&)> network_up_hook_;
    std::map<std::string, std::unique_ptr<Site>, std::less<>> sites_;
    std::map<std::uint16_t, Site*> by_ref_;
    std::vector<std::unique_ptr<Call>> doomed_;
    core::Timer reap_timer_;
    bool started_ = false;
    bool closing_ = false;
    std::uint16_t next_ref_ = 0;
    std::uint64_t next_call_serial_ = 0;
    radius::client::Client* radius_ = nullptr;
    radius::client::NasInfo radius_nas_;
    std::string radius_vr_;
};

}  // namespace dl::cpe
