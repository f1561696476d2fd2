// lac-emu's sans-I/O core: glue between the project's RFC 2661 engine in the LAC role
// (lns/l2tp, dl::l2tp::engine::Engine) and the emulated ISDN network (peers/isdn messages).
//
// Outgoing calls, RFC 2661 §7.5.1: OCRQ -> check capacity (channels) and bearer -> OCRP (after the
// configurable "ocrp-delay") -> ISDN SETUP with the OCRQ's Called Number, Sub-Address, bearer and
// Maximum BPS -> on CONNECT: OCCN with Tx Connect Speed and Framing Type (digital: sync, analog:
// async); on RELEASE: CDN with the Result Code of cdn_result_for() and a Q.931 Cause AVP (§4.4.10)
// carrying the Q.850 cause. A CDN from the LNS releases the ISDN call (cause 16).
// Then PPP is bridged: L2TP data <-> B-channel (sync HDLC frames as datagrams, or an async HDLC
// byte stream honouring the ACCM of SLI, RFC 1662).
//
// Each call is an FSM (lns/core), entity "lac.call", id "<tunnel>/<session>", states idle,
// wait-ocrp, dialing, alerting, connected, released.
//
// Incoming calls (§7.4.1, JunosE "Implementing L2TP" "Sequence of Events on the LAC"): after LCP and PAP/CHAP with
// the dialling client, the domain of the user name decides, from the local domain table or from the
// LAC's own RADIUS server (Access-Request with the client's credentials; the Access-Accept's
// RFC 2868 tunnel attributes name the LNS), whether and where the call is tunnelled.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dl/core/config.hpp"
#include "dl/core/event.hpp"
#include "dl/core/ipv4.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/isdn/message.hpp"
#include "dl/l2tp/engine/engine.hpp"
#include "dl/ppp/engine/link.hpp"
#include "dl/radius/client/builders.hpp"
#include "dl/radius/client/client.hpp"

namespace dl::lac {

/// lac-emu settings.
struct LacConfig {
    std::string number = "1701";   ///< our ISDN number (Calling party number of outgoing calls)
    std::uint16_t channels = 30;   ///< simultaneous calls (B-channels); OCRQ beyond: CDN 4, cause 34
    std::uint32_t bearer_capabilities = l2tp::kBearerDigital | l2tp::kBearerAnalog;
    // Incoming calls (§7.4.1, JunosE "Implementing L2TP" "Sequence of Events on the LAC"):
    bool incoming = true;                        ///< answer calls to `number`
    std::string name = "lac";                    ///< our PPP name (CHAP Name of our challenges)
    ppp::engine::AuthPreference incoming_auth = ppp::engine::AuthPreference::chap;  ///< asked of the client
    /// Domain ("user@domain" -> domain; "*" = any) -> LNS to tunnel to. Unrouted users are refused.
    std::map<std::string, l2tp::engine::PeerId, std::less<>> domains;
    /// Domains ("*" = any) decided by the LAC's own RADIUS server (bind_radius()): the exact domain
    /// is looked up in `domains` and here first, then "*" in both.
    std::set<std::string, std::less<>> radius_domains;
    /// NAS-IP-Address / NAS-Identifier of the incoming-call Access-Requests.
    radius::client::NasInfo radius_nas;
    /// Virtual router of the RADIUS client whose authentication servers are asked.
    std::string radius_vr = "peer";
};

/// One tunnel an Access-Accept assigns to an incoming call: RFC 2868 attributes sharing a tag,
/// Tunnel-Password decrypted (§3.5).
using RadiusTunnel = radius::client::TunnelDefinition;

/// The tunnels of an incoming-call Access-Accept (RFC 2868 §3): only tunnels with Tunnel-Type L2TP
/// (3), Tunnel-Medium-Type IPv4 (1) and a Tunnel-Server-Endpoint are kept, ordered by
/// Tunnel-Preference (lowest first, §3.8; absent = 0), then tag. `problems` names each tunnel left
/// out and why, and a Tunnel-Password that cannot be decrypted with `secret` and the request's
/// Authenticator; no tunnel at all gives an empty `tunnels`.
struct IncomingTunnels {
    std::vector<RadiusTunnel> tunnels;
    std::vector<std::string> problems;
};
IncomingTunnels decode_incoming_tunnels(const radius::Radius& accept, std::string_view secret,
                                        const radius::Authenticator& request_auth);

/// What the shell makes of a tunnel chosen by RADIUS: the engine peer to place the call towards,
/// or why that tunnel cannot be used (e.g. an endpoint that is not an IPv4 address).
struct PeerChoice {
    std::optional<l2tp::engine::PeerId> peer;
    std::string refusal;
};
using PeerResolver = std::function<PeerChoice(const RadiusTunnel&)>;

/// lac-emu's tunnel security per LNS (RFC 2661 §4.3 hiding, §4.4.3 / §5.1.1 tunnel authentication):
/// the config's default `secret` / `hide_avps`, overridden per LNS address by
/// `peers: [{address, secret, hide_avps}]`. Used as the engine's EngineCallbacks::peer_policy.
struct LnsSecrets {
    l2tp::engine::PeerPolicy fallback;                             ///< `secret`, `hide_avps`
    std::map<std::uint32_t, l2tp::engine::PeerPolicy> by_address;  ///< IPv4 (host order) -> policy
    /// The policy for an LNS at `address` (the port does not matter).
    l2tp::engine::PeerPolicy policy_for(core::Ipv4Address address) const;
};

/// Reads `secret`, `hide_avps` and `peers` from lac-emu's config root. A peer's missing `secret` /
/// `hide_avps` take the defaults. ConfigError naming the key: a peer without `address`, an address
/// listed twice, an unknown key, `hide_avps` without a secret ("needs a secret (RFC 2661 §4.3)").
LnsSecrets load_lns_secrets(const core::ConfigNode& root);

/// RFC 2661 §4.4.2 CDN Result Code for a Q.850 cause of an ISDN RELEASE (our mapping; the Q.931
/// Cause AVP carries the exact cause): after CONNECT any release -> 1 (loss of carrier);
/// before: 17 -> 8 busy; 18, 19 -> 10 timeout (not established within the time allotted);
/// 1, 3, 22, 28 -> 6 invalid destination; 21 -> 4 no facilities (temporary);
/// 34, 38, 41, 42, 44, 47 -> 4; 57, 58, 65 -> 5 no facilities (permanent); others -> 7 no carrier.
l2tp::CdnResult cdn_result_for(std::uint8_t q850_cause, bool was_connected) noexcept;

/// The LAC: one engine (many tunnels), one connection to the exchange, many calls.
class Lac {
public:
    using IsdnSend = std::function<void(const isdn::Message&)>;
    using Engine = l2tp::engine::Engine;
    using SessionKey = l2tp::engine::SessionKey;

    struct Counters {
        std::uint64_t incoming = 0, tunnelled = 0, refused_domain = 0;
        /// RADIUS-decided incoming calls: Access-Requests sent; refused by Access-Reject, by an
        /// Access-Accept without a usable tunnel, by no answer (timeout), or by the resolver.
        std::uint64_t radius_requests = 0, radius_accepts = 0, refused_radius_reject = 0, refused_radius_no_tunnel = 0,
                      refused_radius_timeout = 0, refused_radius_endpoint = 0;
        std::uint64_t ocrq = 0, refused_capacity = 0, refused_bearer = 0, refused_injected = 0, connected = 0,
                      failed = 0, cleared_by_lns = 0, frames_to_b = 0, frames_to_l2tp = 0, bad_b_frames = 0;
        /// Operator hang-ups (hangup()) of outgoing and of tunnelled incoming calls.
        std::uint64_t hangups = 0;
    };

    /// Registers "ocrp-delay" (0s [0s..1m]) in `registry` if absent. Everything must outlive the Lac.
    Lac(core::TimerQueue& timers, core::TimerRegistry& registry, core::EventBus& bus, LacConfig cfg, IsdnSend isdn_send);
    ~Lac();
    Lac(const Lac&) = delete;
    Lac& operator=(const Lac&) = delete;

    /// Engine callbacks wired to this Lac; `udp_send` carries L2TP datagrams to the LNS.
    l2tp::engine::EngineCallbacks callbacks(std::function<void(l2tp::engine::PeerId, std::vector<std::uint8_t>)> udp_send);
    /// The engine built with callbacks() (must outlive the Lac's use of it).
    void bind(Engine& engine) noexcept { engine_ = &engine; }

    /// The LAC's own RADIUS (LacConfig::radius_domains): `client` has authentication servers under
    /// LacConfig::radius_vr; `resolve` maps a tunnel of the Access-Accept to an engine peer. Both
    /// must outlive the Lac. Without it, RADIUS domains are refused ("no RADIUS client").
    void bind_radius(radius::client::Client& client, PeerResolver resolve);

    /// Registers our number with the exchange (REGISTER).
    void start();
    /// One message from the exchange.
    void isdn_receive(const isdn::Message& m);
    /// The exchange connection was lost: every call is cleared with CDN 1 (loss of carrier).
    void isdn_down();

    /// Fault injection: the next OCRQ is refused with this Result Code and Q.850 cause.
    void refuse_next(l2tp::CdnResult result, std::uint8_t q850_cause);
    /// Operator hang-up of the call on L2TP session `key`, outgoing (§7.5.1) or a tunnelled
    /// incoming call (§7.4.1): ISDN RELEASE towards the remote party with Q.850 `q850_cause`, CDN
    /// towards the LNS with `result` (RFC 2661 §4.4.2; default 3, "Call disconnected for
    /// administrative reasons") and a Q.931 Cause AVP (§4.4.10) carrying the same cause. False when
    /// no call has that key (or it is already released).
    bool hangup(SessionKey key, l2tp::CdnResult result = l2tp::CdnResult::Administrative,
                std::uint8_t q850_cause = 16);

    /// {"calls":[{id,state,called,subaddress,bearer,isdn_ref,speed,ocrq:{called_number,sub_address,
    ///  min_bps,max_bps,bearer_type,framing_type,call_serial},framing:"sync"|"async"|""}],
    ///  "incoming":[{id:"in/<ref>",call:"<tunnel>/<session>"|"",calling,called,bearer,speed,
    ///  send_accm,receive_accm}],"counters":{...}}; ACCMs are those of the last SLI (RFC 2661 §6.15),
    ///  0xffffffff until one arrives.
    nlohmann::json state() const;
    const Counters& counters() const noexcept { return counters_; }
    std::size_t call_count() const noexcept { return calls_.size(); }
    static std::size_t call_footprint() noexcept;

    struct Call;    // lac.cpp
    struct InCall;  // lac.cpp: an incoming call (§7.4.1)

private:
    friend struct Call;
    void on_ocrq(SessionKey key, const l2tp::engine::OutgoingCall& oc);
    /// The engine's call_ended: the LNS's CDN, the tunnel going down or the engine's own CDN end
    /// the ISDN call (RELEASE 16); our own disconnect() is ignored (already released).
    void on_call_ended(SessionKey key, const l2tp::engine::CallFailure& f);
    void on_ppp(SessionKey key, std::span<const std::uint8_t> frame);
    void on_sli(SessionKey key, const l2tp::Accm& accm);
    void on_incoming_setup(const isdn::Message& m);
    void incoming_verify(InCall& c, std::uint32_t ticket, const ppp::engine::Credentials& cr);
    void tunnel_incoming(InCall& c, std::uint32_t ticket, const ppp::engine::Credentials& creds,
                         l2tp::engine::PeerId peer, std::string how);
    void refuse_incoming(InCall& c, std::uint32_t ticket, std::uint64_t& counter, std::string reason);
    void ask_radius(InCall& c, std::uint32_t ticket, const ppp::engine::Credentials& cr);
    void radius_answered(InCall& c, std::uint32_t ticket, const ppp::engine::Credentials& cr,
                         const radius::client::Completion& done);
    void incoming_data(InCall& c, std::span<const std::uint8_t> payload);
    void send_b_channel_incoming(InCall& c, std::span<const std::uint8_t> ppp_frame);
    /// Ends an incoming call: RELEASE with `release_cause` (none: the client released it) and, when
    /// `cdn` is set and the call is tunnelled, CDN with that Result Code and Q.931 cause.
    struct IncomingCdn {
        l2tp::CdnResult result;
        std::uint8_t q850_cause;
        std::string message;
    };
    void end_incoming(InCall& c, std::optional<std::uint8_t> release_cause, std::optional<IncomingCdn> cdn);
    Call* by_ref(std::uint16_t ref);
    std::uint16_t allocate_ref();
    void schedule_reap();
    void reap();
    /// A call entered released: one channel fewer in use; removed on the next reap.
    void call_released(Call& c);

    core::TimerQueue& timers_;
    core::TimerRegistry& registry_;
    core::EventBus& bus_;
    LacConfig cfg_;
    IsdnSend isdn_send_;
    Engine* engine_ = nullptr;
    std::map<std::uint32_t, std::unique_ptr<Call>> calls_;  // key: tunnel << 16 | session
    std::map<std::uint16_t, std::uint32_t> refs_;           // ISDN call ref -> call
    std::map<std::uint16_t, std::unique_ptr<InCall>> in_by_ref_;  // exchange's call ref (flag set)
    std::map<std::uint32_t, InCall*> in_by_key_;                  // tunnelled incoming calls
    std::vector<std::unique_ptr<InCall>> in_doomed_;
    std::optional<std::pair<l2tp::CdnResult, std::uint8_t>> refuse_next_;
    radius::client::Client* radius_ = nullptr;
    PeerResolver resolve_;
    std::uint64_t next_in_serial_ = 0;
    bool closing_ = false;
    std::uint16_t next_ref_ = 0;
    core::Timer reap_timer_;
    std::vector<std::uint32_t> reap_candidates_;  // calls_ keys, see call_released()
    std::size_t active_calls_ = 0;                // outgoing calls in calls_ not released
    Counters counters_;
};

}  // namespace dl::lac
