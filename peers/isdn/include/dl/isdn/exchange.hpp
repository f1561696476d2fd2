// The call model of isdn-emu: a sans-I/O emulated ISDN exchange. Subscribers (lac-emu, cpe-emu)
// are "endpoints" (one per Unix-socket connection in the process shell); they register numbers and
// exchange Q.931-modelled messages (message.hpp). The exchange routes SETUP by called number, plays
// each number's configured behaviour (answer, answer after N s, busy, no answer, reject,
// unallocated, drop after N s), and relays B-channel bytes of active calls.
//
// Each call is an explicit FSM (lns/core fsm.hpp), entity "isdn.call", id "c<N>", with network-side
// states named after Q.931 §2.1.2: Null (N0), Call-Delivered (N4: SETUP routed, ALERTING sent to the
// caller), Active (N10). Timers (TimerRegistry): "no-answer" (30s default; Q.931 T301-like, caller
// gets cause 19), "answer-delay" and "drop" (per-number durations).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "dl/core/event.hpp"
#include "dl/core/fsm.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/isdn/message.hpp"

namespace dl::isdn {

/// What the exchange does with a SETUP to a number.
///  - answer:       deliver to the registered endpoint (which answers or not); unregistered
///                  numbers with this explicit policy are answered by the exchange itself (a sink);
///  - answer_after: as answer, but the caller sees CONNECT only `delay` after SETUP;
///  - busy:         RELEASE cause 17 (user busy);
///  - no_answer:    ALERTING, then RELEASE cause 19 when the no-answer timer expires;
///  - reject:       RELEASE cause 21 (call rejected);
///  - unallocated:  RELEASE cause 1 (also the default for numbers nobody registered);
///  - drop_after:   as answer, then both sides get RELEASE with `cause` `delay` after CONNECT.
enum class Behaviour : std::uint8_t { answer, answer_after, busy, no_answer, reject, unallocated, drop_after };

/// "answer", "answer-after", "busy", "no-answer", "reject", "unallocated", "drop-after".
std::string_view to_string(Behaviour b) noexcept;
/// Inverse of to_string; std::invalid_argument listing the names otherwise.
Behaviour behaviour_from_string(std::string_view s);

/// Per-number policy.
struct NumberPolicy {
    Behaviour behaviour = Behaviour::answer;
    core::Duration delay{};                         ///< answer_after / drop_after
    std::uint8_t cause = cause::normal_clearing;    ///< drop_after: the Q.850 cause of the drop
    std::uint32_t speed = 0;                        ///< CONNECT line speed, bit/s; 0 = by bearer
    std::uint16_t channels = 0;                     ///< simultaneous calls to the number; 0 = unlimited
    std::optional<Bearer> only_bearer;              ///< other bearers: cause 58

    /// {"behaviour":"answer-after","delay":"5s","cause":16,"speed":0,"channels":1,"bearer":"digital"}
    nlohmann::json to_json() const;
    /// Inverse; every key optional. std::invalid_argument naming the key on a bad value.
    static NumberPolicy from_json(const nlohmann::json& j);
};

/// The emulated exchange. Single-threaded; all input through attach/detach/receive, all output
/// through the Send callback, time through the TimerQueue (virtual in tests).
class Exchange {
public:
    using EndpointId = std::uint32_t;
    using Send = std::function<void(EndpointId, const Message&)>;

    struct Counters {
        std::uint64_t setups = 0, connected = 0, refused = 0, released = 0, malformed = 0,
                      unknown_call_ref = 0, data_relayed = 0, data_sunk = 0, data_dropped = 0;
    };

    /// Registers the timers "no-answer" (30s [1s..10m]), "answer-delay" and "drop" (1s
    /// [0s..24h]; per-number values override) into `registry` if absent. `bus`, `timers` and
    /// `registry` must outlive the exchange.
    Exchange(core::EventBus& bus, core::TimerQueue& timers, core::TimerRegistry& registry, Send send);
    ~Exchange();
    Exchange(const Exchange&) = delete;
    Exchange& operator=(const Exchange&) = delete;

    /// A subscriber connected. `name` is shown in state ("unix:3").
    void attach(EndpointId ep, std::string name = {});
    /// A subscriber went away: its numbers are unregistered; each of its calls is released towards
    /// the other side with cause 27 (destination out of order).
    void detach(EndpointId ep);
    /// One datagram from an endpoint: decoded and handled; malformed ones counted and logged
    /// (an "isdn.endpoint" event "malformed") and answered with nothing (Q.931 §5.8.2).
    void receive_bytes(EndpointId ep, std::span<const std::uint8_t> datagram);
    /// One decoded message from an endpoint.
    void receive(EndpointId ep, const Message& m);

    /// Sets / removes the policy of a number (numbers without one: answer if registered, else
    /// unallocated). std::invalid_argument for a bad number.
    void set_policy(const std::string& number, NumberPolicy p);
    void clear_policy(const std::string& number);
    /// Fault injection: the next SETUP (any number) is refused with `cause_value`.
    void refuse_next(std::uint8_t cause_value);
    /// Operator hang-up: releases call `id` ("c7") both ways with `cause_value`; false if unknown.
    bool hangup(std::string_view call_id, std::uint8_t cause_value = cause::normal_clearing);

    /// {"endpoints":[{id,name,numbers}],"calls":[{id,state,caller,called,calling,subaddress,
    ///  bearer,speed,behaviour}],"policies":{number:policy},"counters":{...}}
    nlohmann::json state() const;
    const Counters& counters() const noexcept { return counters_; }
    std::size_t call_count() const noexcept;
    /// sizeof the per-call object (for the footprint report).
    static std::size_t call_footprint() noexcept;

    struct Call;  // defined in exchange.cpp

private:
    friend struct Call;
    struct Endpoint {
        std::string name;
        std::vector<std::string> numbers;
        std::uint16_t next_ref = 0;
    };
    void send(EndpointId ep, const Message& m);
    void handle_register(EndpointId ep, const Message& m);
    void handle_setup(EndpointId ep, const Message& m);
    Call* find(EndpointId ep, std::uint16_t ref);
    std::uint16_t allocate_ref(EndpointId ep);
    std::size_t calls_to(const std::string& number) const;
    /// The call's action may have ended it in Null: check it on the next reap (posted at once).
    void mark_for_reap(std::uint64_t call_id);
    void reap();
    void publish(std::string entity, std::string id, std::string event, std::string cause, nlohmann::json extra = {});

    core::EventBus& bus_;
    core::TimerQueue& timers_;
    core::TimerRegistry& registry_;
    Send send_;
    std::map<EndpointId, Endpoint> endpoints_;
    std::map<std::string, EndpointId, std::less<>> numbers_;
    std::map<std::string, NumberPolicy, std::less<>> policies_;
    std::map<std::uint64_t, std::unique_ptr<Call>> calls_;               // by call id
    std::map<std::pair<EndpointId, std::uint16_t>, std::uint64_t> refs_;  // (endpoint, call ref) -> id
    std::vector<std::uint8_t> refuse_next_;
    std::uint64_t next_call_ = 1;
    core::Timer reap_timer_;
    std::vector<std::uint64_t> reap_candidates_;  // call ids, see mark_for_reap()
    Counters counters_;
};

}  // namespace dl::isdn
