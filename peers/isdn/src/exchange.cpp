// The emulated ISDN exchange: call routing, per-number behaviour and the per-call FSM (exchange.hpp).
#include "dl/isdn/exchange.hpp"

#include <chrono>
#include <stdexcept>

#include <fmt/format.h>

#include "dl/core/duration.hpp"
#include "dl/core/errors.hpp"

namespace dl::isdn {

using namespace std::chrono_literals;
using core::Duration;

namespace {
constexpr std::uint32_t kDigitalSpeed = 64000;  // Q.931 §4.5.5: unrestricted digital, 64 kbit/s
constexpr std::uint32_t kAnalogSpeed = 33600;   // V.34 modem over 3.1 kHz audio
constexpr Exchange::EndpointId kExchangeItself = 0;

std::string cause_text(std::uint8_t c) {
    const char* t = "";
    switch (c) {
    case cause::unallocated_number: t = "unallocated number"; break;
    case cause::normal_clearing: t = "normal call clearing"; break;
    case cause::user_busy: t = "user busy"; break;
    case cause::no_user_responding: t = "no user responding"; break;
    case cause::no_answer: t = "no answer from user"; break;
    case cause::call_rejected: t = "call rejected"; break;
    case cause::destination_out_of_order: t = "destination out of order"; break;
    case cause::normal_unspecified: t = "normal, unspecified"; break;
    case cause::no_channel: t = "no circuit/channel available"; break;
    case cause::temporary_failure: t = "temporary failure"; break;
    case cause::bearer_not_available: t = "bearer capability not presently available"; break;
    case cause::recovery_on_timer_expiry: t = "recovery on timer expiry"; break;
    default: t = "cause"; break;
    }
    return fmt::format("{} ({})", t, c);
}
}  // namespace

std::string_view to_string(Behaviour b) noexcept {
    switch (b) {
    case Behaviour::answer: return "answer";
    case Behaviour::answer_after: return "answer-after";
    case Behaviour::busy: return "busy";
    case Behaviour::no_answer: return "no-answer";
    case Behaviour::reject: return "reject";
    case Behaviour::unallocated: return "unallocated";
    case Behaviour::drop_after: return "drop-after";
    }
    return "?";
}

Behaviour behaviour_from_string(std::string_view s) {
    for (auto b : {Behaviour::answer, Behaviour::answer_after, Behaviour::busy, Behaviour::no_answer,
                   Behaviour::reject, Behaviour::unallocated, Behaviour::drop_after})
        if (to_string(b) == s) return b;
    throw std::invalid_argument(fmt::format(
        "behaviour: '{}' is not one of answer, answer-after, busy, no-answer, reject, unallocated, drop-after", s));
}

nlohmann::json NumberPolicy::to_json() const {
    nlohmann::json j{{"behaviour", std::string(to_string(behaviour))},
                     {"delay", core::format_duration(delay)},
                     {"cause", cause},
                     {"speed", speed},
                     {"channels", channels}};
    if (only_bearer) j["bearer"] = std::string(to_string(*only_bearer));
    return j;
}

NumberPolicy NumberPolicy::from_json(const nlohmann::json& j) {
    NumberPolicy p;
    if (!j.is_object()) throw std::invalid_argument("policy: not a JSON object");
    try {
        if (j.contains("behaviour")) p.behaviour = behaviour_from_string(j.at("behaviour").get<std::string>());
        if (j.contains("delay")) {
            const auto& d = j.at("delay");
            p.delay = d.is_string() ? core::parse_duration(d.get<std::string>(), "delay")
                                    : std::chrono::duration_cast<Duration>(std::chrono::duration<double>(d.get<double>()));
            if (p.delay < Duration::zero() || p.delay > 24h) throw std::invalid_argument("delay: must be 0..24h");
        }
        if (j.contains("cause")) {
            auto c = j.at("cause").get<int>();
            if (c < 1 || c > 127) throw std::invalid_argument(fmt::format("cause: {} is not a Q.850 cause 1..127", c));
            p.cause = static_cast<std::uint8_t>(c);
        }
        if (j.contains("speed")) p.speed = j.at("speed").get<std::uint32_t>();
        if (j.contains("channels")) {
            auto c = j.at("channels").get<int>();
            if (c < 0 || c > 65535) throw std::invalid_argument("channels: must be 0..65535");
            p.channels = static_cast<std::uint16_t>(c);
        }
        if (j.contains("bearer")) {
            auto b = j.at("bearer").get<std::string>();
            if (b == "digital") p.only_bearer = Bearer::digital;
            else if (b == "analog") p.only_bearer = Bearer::analog;
            else if (b != "any") throw std::invalid_argument("bearer: '" + b + "' is not digital, analog or any");
        }
    } catch (const nlohmann::json::exception& e) {
        throw std::invalid_argument(std::string("policy: ") + e.what());
    } catch (const core::ConfigError& e) {
        throw std::invalid_argument(e.what());
    }
    return p;
}

// ---------------------------------------------------------------------------------------------
// One call and its FSM.

enum class CallState : std::uint8_t { null, call_delivered, active };
enum class CallEvent : std::uint8_t { setup, alerting, connect, release, hangup, timer_expiry };
enum class Side : std::uint8_t { caller, callee, exchange };

struct Exchange::Call {
    using Spec = core::FsmSpec<Call, CallState, CallEvent>;
    using Step = Spec::Step;

    static const Spec& spec() {
        static const Spec s{
            "isdn.call",
            {"Null", "Call-Delivered", "Active"},
            {"SETUP", "ALERTING", "CONNECT", "RELEASE", "hangup", "timer-expiry"},
            {{CallState::null, CallEvent::setup, CallState::call_delivered, &Call::on_setup, "no-answer"},
             {CallState::call_delivered, CallEvent::alerting, CallState::call_delivered, &Call::on_alerting},
             {CallState::call_delivered, CallEvent::connect, CallState::active, &Call::on_connect},
             {CallState::call_delivered, CallEvent::release, CallState::null, &Call::on_release},
             {CallState::call_delivered, CallEvent::hangup, CallState::null, &Call::on_hangup},
             {CallState::call_delivered, CallEvent::timer_expiry, CallState::null, &Call::on_delivered_timeout},
             {CallState::active, CallEvent::release, CallState::null, &Call::on_release},
             {CallState::active, CallEvent::hangup, CallState::null, &Call::on_hangup},
             {CallState::active, CallEvent::timer_expiry, CallState::null, &Call::on_drop}},
            CallEvent::timer_expiry};
        return s;
    }

    Call(Exchange& x, std::uint64_t call_id, core::FsmEnv env)
        : ex(x), id(call_id), fsm(spec(), env, *this, fmt::format("c{}", call_id), CallState::null) {}

    // --- actions --------------------------------------------------------------------------
    static void on_setup(Call& c, Step& st) {
        Exchange& x = c.ex;
        // Decide: refused outright, delivered to an endpoint, or answered by the exchange.
        std::optional<std::uint8_t> refuse;
        auto pit = x.policies_.find(c.called);
        auto nit = x.numbers_.find(c.called);
        if (pit != x.policies_.end()) c.policy = pit->second;
        const bool has_policy = pit != x.policies_.end();
        if (!x.refuse_next_.empty()) {
            refuse = x.refuse_next_.front();
            x.refuse_next_.erase(x.refuse_next_.begin());
        } else if (c.called.empty()) {
            refuse = cause::invalid_number_format;  // Q.931 §5.1.5: no Called party number
        } else if (!has_policy && nit == x.numbers_.end()) {
            refuse = cause::unallocated_number;
        } else {
            switch (c.policy.behaviour) {
            case Behaviour::busy: refuse = cause::user_busy; break;
            case Behaviour::reject: refuse = cause::call_rejected; break;
            case Behaviour::unallocated: refuse = cause::unallocated_number; break;
            default: break;
            }
            if (!refuse && c.policy.only_bearer && *c.policy.only_bearer != c.bearer)
                refuse = cause::bearer_not_available;
            if (!refuse && c.policy.channels != 0 && x.calls_to(c.called) >= c.policy.channels)
                refuse = cause::user_busy;  // every channel of the number in use
        }
        if (refuse) {
            st.next = CallState::null;
            st.no_timer();
            x.mark_for_reap(c.id);
            ++x.counters_.refused;
            c.release_side(Side::caller, *refuse);
            c.final_cause = *refuse;
            return;
        }
        x.send(c.caller, Message::simple(MessageType::alerting, c.caller_ref));
        if (c.policy.behaviour == Behaviour::no_answer) return;  // nobody answers: no-answer timer runs
        if (nit != x.numbers_.end()) {
            c.callee = nit->second;
            c.callee_ref = x.allocate_ref(c.callee);
            x.refs_[{c.callee, c.callee_ref}] = c.id;
            x.send(c.callee, Message::setup(c.callee_ref | 0x8000u, c.called, c.calling, c.bearer, c.subaddress,
                                            c.requested_speed ? std::optional<std::uint32_t>(c.requested_speed)
                                                              : std::nullopt));
        } else {
            c.callee = kExchangeItself;
            c.callee_connected = true;  // the exchange answers explicitly configured, unregistered numbers
        }
        if (c.policy.behaviour == Behaviour::answer_after) {
            c.answer_pending = true;
            st.arm("answer-delay", c.policy.delay);
        } else if (c.callee == kExchangeItself) {
            st.next = CallState::active;
            c.enter_active(st);
        }
    }

    static void on_alerting(Call&, Step&) {}  // already ALERTING towards the caller

    static void on_connect(Call& c, Step& st) {
        c.callee_connected = true;
        if (c.answer_pending) {  // hold the CONNECT until the answer delay has passed
            st.next = CallState::call_delivered;
            st.no_timer();
            return;
        }
        c.enter_active(st);
    }

    static void on_delivered_timeout(Call& c, Step& st) {
        c.ex.mark_for_reap(c.id);  // the table's Null, unless an answer is still due (below)
        if (c.answer_pending) {
            c.answer_pending = false;
            if (c.callee_connected) {
                st.next = CallState::active;
                c.enter_active(st);
            } else {
                st.next = CallState::call_delivered;
                st.arm("no-answer");
            }
            return;
        }
        // no-answer timer (Q.931 T301-like): caller gets cause 19, a ringing callee cause 102.
        c.final_cause = cause::no_answer;
        c.release_side(Side::caller, cause::no_answer);
        c.release_side(Side::callee, cause::recovery_on_timer_expiry);
    }

    static void on_release(Call& c, Step&) {
        c.ex.mark_for_reap(c.id);
        const Side other = c.from == Side::caller ? Side::callee : Side::caller;
        c.final_cause = c.in_cause;
        c.release_side(other, c.in_cause);
        // RELEASE COMPLETE to the side that released (Q.931 §5.3.4)
        if (c.from == Side::caller) c.ex.send(c.caller, Message::simple(MessageType::release_complete, c.caller_ref));
        else if (c.callee != kExchangeItself)
            c.ex.send(c.callee, Message::simple(MessageType::release_complete, c.callee_ref | 0x8000u));
    }

    static void on_hangup(Call& c, Step&) {
        c.ex.mark_for_reap(c.id);
        c.final_cause = c.in_cause;
        c.release_side(Side::caller, c.in_cause);
        c.release_side(Side::callee, c.in_cause);
    }

    static void on_drop(Call& c, Step&) {
        c.ex.mark_for_reap(c.id);
        c.final_cause = c.policy.cause;
        c.release_side(Side::caller, c.policy.cause);
        c.release_side(Side::callee, c.policy.cause);
    }

    void enter_active(Step& st) {
        connected_speed = connect_speed ? connect_speed
                          : policy.speed ? policy.speed
                          : bearer == Bearer::digital ? kDigitalSpeed
                                                      : kAnalogSpeed;
        ex.send(caller, Message::connect(caller_ref, connected_speed));
        if (callee != kExchangeItself)
            ex.send(callee, Message::simple(MessageType::connect_ack, callee_ref | 0x8000u));
        ++ex.counters_.connected;
        if (policy.behaviour == Behaviour::drop_after) st.arm("drop", policy.delay);
    }

    void release_side(Side s, std::uint8_t c) {
        if (s == Side::caller && caller_live) {
            ex.send(caller, Message::release(caller_ref, c));
        } else if (s == Side::callee && callee_live && callee != kExchangeItself && callee_ref_valid()) {
            ex.send(callee, Message::release(callee_ref | 0x8000u, c));
        }
    }
    bool callee_ref_valid() const { return ex.refs_.count({callee, callee_ref}) != 0; }

    Exchange& ex;
    std::uint64_t id;
    EndpointId caller = 0;
    EndpointId callee = kExchangeItself;
    std::uint16_t caller_ref = 0;
    std::uint16_t callee_ref = 0;  // without the 0x8000 flag
    Bearer bearer = Bearer::digital;
    bool callee_connected = false;
    bool answer_pending = false;
    bool caller_live = true;  // false once that endpoint detached
    bool callee_live = true;
    Side from = Side::caller;  // side of the message being dispatched
    std::uint8_t in_cause = cause::normal_clearing;
    std::uint8_t final_cause = 0;
    std::uint32_t requested_speed = 0;
    std::uint32_t connect_speed = 0;    // from the callee's CONNECT
    std::uint32_t connected_speed = 0;  // what the caller was told
    std::string called, calling, subaddress;
    NumberPolicy policy;
    core::Fsm<Call, CallState, CallEvent> fsm;
};

// ---------------------------------------------------------------------------------------------

Exchange::Exchange(core::EventBus& bus, core::TimerQueue& timers, core::TimerRegistry& registry, Send send)
    : bus_(bus), timers_(timers), registry_(registry), send_(std::move(send)), reap_timer_(timers) {
    if (!registry_.contains("no-answer"))
        registry_.add({"no-answer", 30s, 1s, 10min,
                       "isdn-emu: caller gets RELEASE cause 19 when the callee has not answered (Q.931 T301-like)"});
    if (!registry_.contains("answer-delay"))
        registry_.add({"answer-delay", 1s, 0s, 24h, "isdn-emu: per-number answer delay (policy answer-after)"});
    if (!registry_.contains("drop"))
        registry_.add({"drop", 1s, 0s, 24h, "isdn-emu: per-number call duration before a drop (policy drop-after)"});
}

Exchange::~Exchange() = default;

std::size_t Exchange::call_footprint() noexcept { return sizeof(Call); }
std::size_t Exchange::call_count() const noexcept { return calls_.size(); }

void Exchange::send(EndpointId ep, const Message& m) {
    if (ep == kExchangeItself || !endpoints_.count(ep)) return;
    send_(ep, m);
}

void Exchange::publish(std::string entity, std::string id, std::string event, std::string cause_str,
                       nlohmann::json extra) {
    core::Event e;
    e.entity = std::move(entity);
    e.id = std::move(id);
    e.event = std::move(event);
    e.cause = std::move(cause_str);
    if (extra.is_object()) e.extra = std::move(extra);
    bus_.publish(std::move(e));
}

void Exchange::attach(EndpointId ep, std::string name) {
    if (ep == kExchangeItself) throw std::invalid_argument("endpoint id 0 is reserved for the exchange");
    endpoints_[ep].name = name.empty() ? fmt::format("ep{}", ep) : std::move(name);
    publish("isdn.endpoint", endpoints_[ep].name, "attached", "");
}

void Exchange::detach(EndpointId ep) {
    auto it = endpoints_.find(ep);
    if (it == endpoints_.end()) return;
    for (const auto& n : it->second.numbers) numbers_.erase(n);
    const std::string name = it->second.name;
    endpoints_.erase(it);  // nothing more is sent to it
    // Release every call of this endpoint towards the other side.
    std::vector<Call*> mine;
    for (auto& [id, c] : calls_)
        if (c->fsm.state() != CallState::null && (c->caller == ep || c->callee == ep)) mine.push_back(c.get());
    for (Call* c : mine) {
        if (c->caller == ep) c->caller_live = false;
        if (c->callee == ep) c->callee_live = false;
        c->from = c->caller == ep ? Side::caller : Side::callee;
        c->in_cause = cause::destination_out_of_order;
        c->fsm.dispatch(CallEvent::release, "endpoint detached");
    }
    publish("isdn.endpoint", name, "detached", "");
}

void Exchange::receive_bytes(EndpointId ep, std::span<const std::uint8_t> datagram) {
    Message m;
    try {
        m = Message::decode(datagram);
    } catch (const DecodeError& e) {
        ++counters_.malformed;
        auto it = endpoints_.find(ep);
        publish("isdn.endpoint", it != endpoints_.end() ? it->second.name : fmt::format("ep{}", ep), "malformed",
                e.what());
        return;
    }
    receive(ep, m);
}

Exchange::Call* Exchange::find(EndpointId ep, std::uint16_t ref) {
    auto it = refs_.find({ep, static_cast<std::uint16_t>(ref & 0x7FFFu)});
    if (it == refs_.end()) return nullptr;
    auto c = calls_.find(it->second);
    if (c == calls_.end()) return nullptr;
    Call* call = c->second.get();
    // The flag tells which side of the call the reference belongs to (Q.931 §4.3).
    const bool callee_side = (ref & 0x8000u) != 0;
    if (callee_side ? call->callee != ep : call->caller != ep) return nullptr;
    if (call->fsm.state() == CallState::null) return nullptr;
    return call;
}

void Exchange::receive(EndpointId ep, const Message& m) {
    if (!endpoints_.count(ep)) attach(ep);
    switch (m.type) {
    case MessageType::reg: handle_register(ep, m); return;
    case MessageType::setup: handle_setup(ep, m); return;
    case MessageType::registered:
    case MessageType::connect_ack: return;
    default: break;
    }
    Call* c = find(ep, m.call_ref);
    if (!c) {
        if (m.type == MessageType::data) {
            ++counters_.data_dropped;
        } else if (m.type != MessageType::release_complete) {
            // Q.931 §5.8.3.2: a message with an unknown call reference is answered by RELEASE
            // COMPLETE with cause 81 (RELEASE and RELEASE COMPLETE with one are simply dropped).
            ++counters_.unknown_call_ref;
            if (m.type != MessageType::release) {
                Message rc = Message::simple(MessageType::release_complete, m.call_ref);
                rc.cause = cause::invalid_call_reference;
                send(ep, rc);
            }
        }
        return;
    }
    const Side side = (m.call_ref & 0x8000u) ? Side::callee : Side::caller;
    switch (m.type) {
    case MessageType::alerting:
    case MessageType::connect:
        if (side != Side::callee) {
            ++counters_.unknown_call_ref;
            return;
        }
        c->from = side;
        if (m.type == MessageType::connect && m.speed) c->connect_speed = *m.speed;
        c->fsm.dispatch(m.type == MessageType::alerting ? CallEvent::alerting : CallEvent::connect,
                        side == Side::callee ? "callee" : "caller");
        break;
    case MessageType::release:
    case MessageType::release_complete: {
        c->from = side;
        c->in_cause = m.cause.value_or(cause::normal_clearing);
        const std::string why = fmt::format("{} {}", side == Side::caller ? "caller" : "callee", cause_text(c->in_cause));
        c->fsm.dispatch(CallEvent::release, why);
        break;
    }
    case MessageType::data: {
        if (c->fsm.state() != CallState::active) {
            ++counters_.data_dropped;
            return;
        }
        if (side == Side::caller) {
            if (c->callee == kExchangeItself) {
                ++counters_.data_sunk;
                return;
            }
            send(c->callee, Message::data(c->callee_ref | 0x8000u, m.payload));
        } else {
            send(c->caller, Message::data(c->caller_ref, m.payload));
        }
        ++counters_.data_relayed;
        break;
    }
    default: break;
    }
}

void Exchange::handle_register(EndpointId ep, const Message& m) {
    Endpoint& e = endpoints_[ep];
    std::vector<std::string> refused;
    for (const auto& n : m.numbers) {
        auto it = numbers_.find(n);
        if (it != numbers_.end() && it->second != ep) {
            refused.push_back(n);
            continue;
        }
        if (it == numbers_.end()) {
            numbers_.emplace(n, ep);
            e.numbers.push_back(n);
        }
    }
    Message r = Message::simple(MessageType::registered, 0);
    r.numbers = refused;  // numbers already held by another endpoint
    if (!refused.empty()) r.cause = cause::call_rejected;
    send(ep, r);
    publish("isdn.endpoint", e.name, "registered", refused.empty() ? "" : fmt::format("{} refused", refused.size()),
            {{"numbers", m.numbers.size() - refused.size()}});
}

std::size_t Exchange::calls_to(const std::string& number) const {
    std::size_t n = 0;
    for (const auto& [id, c] : calls_)
        if (c->called == number && c->fsm.state() != CallState::null) ++n;
    return n;
}

std::uint16_t Exchange::allocate_ref(EndpointId ep) {
    Endpoint& e = endpoints_[ep];
    for (int i = 0; i < 0x8000; ++i) {
        e.next_ref = static_cast<std::uint16_t>((e.next_ref + 1) & 0x7FFF);
        if (e.next_ref == 0) continue;
        if (!refs_.count({ep, e.next_ref})) return e.next_ref;
    }
    return 0;  // 32767 calls on one endpoint: not reachable with the channel limits used
}

void Exchange::handle_setup(EndpointId ep, const Message& m) {
    const std::uint16_t ref = m.call_ref & 0x7FFFu;
    if ((m.call_ref & 0x8000u) || ref == 0 || refs_.count({ep, ref})) {
        // Q.931 §5.8.3.2 f): SETUP with a call reference in use (or with the flag set) is ignored.
        ++counters_.unknown_call_ref;
        return;
    }
    ++counters_.setups;
    const std::uint64_t id = next_call_++;
    auto owned = std::make_unique<Call>(*this, id, core::FsmEnv{&bus_, &timers_, &registry_});
    Call& c = *owned;
    c.caller = ep;
    c.caller_ref = ref;
    c.called = m.called;
    c.calling = m.calling;
    if (c.calling.empty() && !endpoints_[ep].numbers.empty()) c.calling = endpoints_[ep].numbers.front();
    c.subaddress = m.subaddress;
    c.bearer = m.bearer.value_or(Bearer::digital);
    c.requested_speed = m.speed.value_or(0);
    calls_.emplace(id, std::move(owned));
    refs_[{ep, ref}] = id;
    c.fsm.dispatch(CallEvent::setup, fmt::format("{} -> {} {}", c.calling.empty() ? "?" : c.calling,
                                                 c.called.empty() ? "?" : c.called, to_string(c.bearer)));
}

bool Exchange::hangup(std::string_view call_id, std::uint8_t cause_value) {
    for (auto& [id, c] : calls_) {
        if (c->fsm.id() == call_id && c->fsm.state() != CallState::null) {
            c->in_cause = cause_value;
            c->from = Side::exchange;
            c->fsm.dispatch(CallEvent::hangup, "operator " + cause_text(cause_value));
            return true;
        }
    }
    return false;
}

void Exchange::set_policy(const std::string& number, NumberPolicy p) {
    if (!valid_number(number)) throw std::invalid_argument("number: '" + number + "' is not 1..32 digits 0-9 * #");
    policies_[number] = p;
    publish("isdn.number", number, "policy", std::string(to_string(p.behaviour)), p.to_json());
}

void Exchange::clear_policy(const std::string& number) { policies_.erase(number); }

void Exchange::refuse_next(std::uint8_t cause_value) { refuse_next_.push_back(cause_value); }

void Exchange::mark_for_reap(std::uint64_t call_id) {
    reap_candidates_.push_back(call_id);
    if (!reap_timer_.armed()) reap_timer_.start(Duration::zero(), [this] { reap(); });
}

void Exchange::reap() {
    // Only the calls whose last action could end in Null: O(ended calls), not O(calls) per reap.
    std::vector<std::uint64_t> candidates;
    candidates.swap(reap_candidates_);
    for (const std::uint64_t id : candidates) {
        auto it = calls_.find(id);
        if (it == calls_.end() || it->second->fsm.state() != CallState::null) continue;
        Call& c = *it->second;
        ++counters_.released;
        refs_.erase({c.caller, c.caller_ref});
        if (c.callee != kExchangeItself) refs_.erase({c.callee, c.callee_ref});
        calls_.erase(it);
    }
}

nlohmann::json Exchange::state() const {
    nlohmann::json eps = nlohmann::json::array();
    for (const auto& [id, e] : endpoints_) eps.push_back({{"id", id}, {"name", e.name}, {"numbers", e.numbers}});
    nlohmann::json calls = nlohmann::json::array();
    for (const auto& [id, c] : calls_) {
        auto ep_name = [&](EndpointId ep) -> std::string {
            if (ep == kExchangeItself) return "exchange";
            auto it = endpoints_.find(ep);
            return it != endpoints_.end() ? it->second.name : fmt::format("ep{}", ep);
        };
        calls.push_back({{"id", c->fsm.id()},
                         {"state", std::string(c->fsm.state_name())},
                         {"caller", ep_name(c->caller)},
                         {"callee", ep_name(c->callee)},
                         {"called", c->called},
                         {"calling", c->calling},
                         {"subaddress", c->subaddress},
                         {"bearer", std::string(to_string(c->bearer))},
                         {"speed", c->connected_speed},
                         {"behaviour", std::string(to_string(c->policy.behaviour))},
                         {"timer", std::string(c->fsm.timer_name())}});
    }
    nlohmann::json pol = nlohmann::json::object();
    for (const auto& [n, p] : policies_) pol[n] = p.to_json();
    const auto& k = counters_;
    return {{"endpoints", eps},
            {"calls", calls},
            {"policies", pol},
            {"refuse_next", refuse_next_},
            {"counters",
             {{"setups", k.setups}, {"connected", k.connected}, {"refused", k.refused}, {"released", k.released},
              {"malformed", k.malformed}, {"unknown_call_ref", k.unknown_call_ref}, {"data_relayed", k.data_relayed},
              {"data_sunk", k.data_sunk}, {"data_dropped", k.data_dropped},
              {"not_permitted", Call::spec().not_permitted_count()}}}};
}

}  // namespace dl::isdn
