// Sans-I/O RADIUS client core. See client.hpp; RFC 2865 §2.4/§2.5/§3, RFC 2866 §2/§3,
// RFC 3579 §3.2, RFC 5080 §2.2.1.
#include "dl/radius/client/client.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <deque>
#include <stdexcept>

#include "dl/core/event.hpp"
#include "dl/core/fsm.hpp"
#include "dl/core/ipv4.hpp"
#include "dl/core/timer_registry.hpp"
#include "dl/proto/crypto.hpp"
#include "dl/proto/errors.hpp"
#include "dl/radius/auth.hpp"

namespace dl::radius::client {

using namespace std::chrono_literals;

namespace {
/// "192.0.2.1:1812" written into `buf` (at most 21 characters); returns the text. No allocation.
std::string_view format_endpoint(const Endpoint& e, std::array<char, 24>& buf) noexcept {
    char* p = core::Ipv4Address{e.address}.write(buf.data());
    *p++ = ':';
    p = std::to_chars(p, buf.data() + buf.size(), e.port).ptr;
    return {buf.data(), static_cast<std::size_t>(p - buf.data())};
}
}  // namespace

std::string Endpoint::to_string() const {
    std::array<char, 24> buf;
    return std::string(format_endpoint(*this, buf));
}

std::string_view to_string(Result r) noexcept {
    switch (r) {
        case Result::accept: return "accept";
        case Result::reject: return "reject";
        case Result::timeout: return "timeout";
        case Result::cancelled: return "cancelled";
    }
    return "?";
}

void register_timers(core::TimerRegistry& registry) {
    if (!registry.contains(kTimerTimeout))
        registry.add({std::string(kTimerTimeout), 3s, 100ms, 60s,
                      "RADIUS retransmission interval (RFC 5080 §2.2.1)"});
    if (!registry.contains(kTimerDeadTime))
        registry.add({std::string(kTimerDeadTime), 60s, 0s, 3600s,
                      "time a RADIUS server stays marked dead after retries are exhausted"});
}

namespace {
// RADIUS request FSM (states/events named after RFC 2865 packet types where they exist).
enum class RqState : std::uint16_t { queued, wait_reply, accepted, rejected, timed_out, cancelled };
enum class RqEvent : std::uint16_t {
    send, timer_expiry, access_accept, access_reject, access_challenge, accounting_response, cancel
};
}  // namespace

struct Client::ServerState {
    Endpoint endpoint;
    std::string secret;  ///< of the last request sent (for duplicate detection)
    std::bitset<256> used;
    std::bitset<256> completed_valid;
    std::array<Request*, 256> outstanding{};
    std::array<Authenticator, 256> completed_auth{};
    std::deque<RequestHandle> queue;
    core::TimePoint dead_until{};
    bool dead = false;
    std::uint8_t next_id = 0;
};

struct Client::Request {
    using Fsm = core::Fsm<Request, RqState, RqEvent>;
    using Spec = Fsm::Spec;
    using Step = Spec::Step;

    Request(Client& c, std::string fsm_id, core::FsmEnv env)
        : client(&c), fsm(spec(), env, *this, std::move(fsm_id), RqState::queued) {}

    static const Spec& spec() {
        static const Spec s{
            "radius.request",
            {"queued", "wait-reply", "accepted", "rejected", "timed-out", "cancelled"},
            {"send", "timer-expiry", "Access-Accept", "Access-Reject", "Access-Challenge",
             "Accounting-Response", "cancel"},
            {
                {RqState::queued, RqEvent::send, RqState::wait_reply, &Request::on_send, kTimerTimeout},
                {RqState::queued, RqEvent::cancel, RqState::cancelled, &Request::on_cancel},
                {RqState::wait_reply, RqEvent::timer_expiry, RqState::wait_reply, &Request::on_expiry,
                 kTimerTimeout},
                {RqState::wait_reply, RqEvent::access_accept, RqState::accepted, &Request::on_accept},
                {RqState::wait_reply, RqEvent::accounting_response, RqState::accepted, &Request::on_accept},
                {RqState::wait_reply, RqEvent::access_reject, RqState::rejected, &Request::on_reject},
                // RFC 2865 §4.4: this client does not pursue challenges; treated as a reject.
                {RqState::wait_reply, RqEvent::access_challenge, RqState::rejected, &Request::on_reject},
                {RqState::wait_reply, RqEvent::cancel, RqState::cancelled, &Request::on_cancel},
            },
            RqEvent::timer_expiry};
        return s;
    }

    static void on_send(Request& r, Step&) { r.client->send_current(r); }
    static void on_expiry(Request& r, Step& st) { r.client->on_timer_expiry(r, &st); }
    static void on_accept(Request& r, Step&) { r.client->finish(r, Result::accept); }
    static void on_reject(Request& r, Step&) { r.client->finish(r, Result::reject); }
    static void on_cancel(Request& r, Step&) { r.client->finish(r, Result::cancelled); }

    Client* client;
    std::shared_ptr<const ServerGroup> group;
    Radius packet;
    std::vector<std::uint8_t> wire;
    std::optional<std::string> password;
    std::optional<Radius> reply;
    Callback done;
    ServerState* server = nullptr;  ///< where it is outstanding or queued
    Authenticator auth{};
    RequestHandle handle;
    std::uint32_t transmissions = 0;
    std::uint8_t server_index = 0;
    std::uint8_t tries = 0;  ///< transmissions on the current server
    std::uint8_t id = 0;
    bool has_id = false;
    bool completed = false;
    Service service = Service::authentication;
    Result result = Result::timeout;
    core::Timer complete_timer;
    Fsm fsm;

    const std::vector<Server>& list() const {
        return service == Service::authentication ? group->authentication : group->accounting;
    }
    const Server& current() const { return list()[server_index]; }
};

Client::Client(core::TimerQueue& timers, core::TimerRegistry& registry, core::EventBus* bus, SendFn send,
               Options options)
    : timers_(timers), registry_(registry), bus_(bus), send_(std::move(send)), options_(options) {
    register_timers(registry_);
    if (options_.retries > 254) throw std::invalid_argument("radius client: retries above 254");
    // Request Authenticators are random (RFC 2865 §3): the CSPRNG's one-time instantiation happens
    // here, at start, not on the first Access-Request.
    dl::proto::crypto::random_prepare();
}

Client::Client(core::TimerQueue& timers, core::TimerRegistry& registry, core::EventBus* bus, SendFn send)
    : Client(timers, registry, bus, std::move(send), Options{}) {}

Client::~Client() = default;

std::size_t Client::request_size() noexcept { return sizeof(Request); }

void Client::set_servers(std::string_view vr, ServerGroup group) {
    if (group.authentication.size() > 255 || group.accounting.size() > 255)
        throw std::invalid_argument("radius client: more than 255 servers in a list");
    // Known endpoints: a reply from one with nothing outstanding is an unknown Identifier, not a
    // wrong source.
    for (const auto* list : {&group.authentication, &group.accounting})
        for (const Server& srv : *list) state_for(srv.endpoint);
    groups_[std::string(vr)] = std::make_shared<const ServerGroup>(std::move(group));
}

const ServerGroup* Client::servers(std::string_view vr) const {
    auto it = groups_.find(vr);
    return it == groups_.end() ? nullptr : it->second.get();
}

Client::ServerState& Client::state_for(const Endpoint& e) {
    auto& p = servers_[e];
    if (!p) {
        p = std::make_unique<ServerState>();
        p->endpoint = e;
    }
    return *p;
}

Client::Request* Client::lookup(RequestHandle h) const noexcept {
    if (!h || h.slot >= slots_.size() || generations_[h.slot] != h.generation) return nullptr;
    return slots_[h.slot].get();
}

void Client::publish_server(const ServerState& s, std::string_view from, std::string_view to,
                            std::string_view event, std::string cause) {
    if (!bus_) return;
    core::Event e;
    e.entity = "radius.server";
    e.id = s.endpoint.to_string();
    e.from = from;
    e.to = to;
    e.event = event;
    e.cause = std::move(cause);
    bus_->publish(std::move(e));
}

bool Client::alive(ServerState& s) {
    if (s.dead && timers_.now() >= s.dead_until) {
        s.dead = false;
        ++counters_.servers_revived;
        publish_server(s, "dead", "alive", "revived", "radius-dead-time elapsed");
    }
    return !s.dead;
}

void Client::mark_dead(ServerState& s) {
    if (s.dead) return;
    s.dead = true;
    s.dead_until = timers_.now() + registry_.get(kTimerDeadTime);
    ++counters_.servers_marked_dead;
    publish_server(s, "alive", "dead", "retries-exhausted", "no reply");
}

bool Client::is_dead(const Endpoint& e) const {
    auto it = servers_.find(e);
    return it != servers_.end() && it->second->dead && timers_.now() < it->second->dead_until;
}

std::size_t Client::outstanding() const noexcept {
    std::size_t n = 0;
    for (const auto& [ep, s] : servers_) n += s->used.count();
    return n;
}

std::size_t Client::queued() const noexcept {
    std::size_t n = 0;
    for (const auto& [ep, s] : servers_)
        for (RequestHandle h : s->queue)
            if (const Request* r = lookup(h); r && !r->completed && !r->has_id) ++n;
    return n;
}

RequestHandle Client::submit(std::string_view vr, Service service, Radius packet, Callback done,
                             std::optional<std::string> user_password) {
    auto it = groups_.find(vr);
    if (it == groups_.end()) throw std::invalid_argument("radius client: unknown virtual router '" + std::string(vr) + "'");
    const auto& list = service == Service::authentication ? it->second->authentication : it->second->accounting;
    if (list.empty())
        throw std::invalid_argument("radius client: no " +
                                    std::string(service == Service::authentication ? "authentication" : "accounting") +
                                    " server for virtual router '" + std::string(vr) + "'");
    const Code want = service == Service::authentication ? Code::Access_Request : Code::Accounting_Request;
    if (packet.code() != want)
        throw std::invalid_argument("radius client: " + std::string(to_string(packet.code())) +
                                    " cannot be submitted as " + std::string(to_string(want)));

    std::uint32_t slot;
    if (!free_slots_.empty()) {
        slot = free_slots_.back();
        free_slots_.pop_back();
    } else {
        slot = static_cast<std::uint32_t>(slots_.size());
        slots_.emplace_back();
        generations_.push_back(0);
    }
    std::uint32_t gen = ++generations_[slot];
    if (gen == 0) gen = generations_[slot] = 1;
    slots_[slot] = std::make_unique<Request>(*this, std::string(vr) + '/' + std::to_string(next_serial_++),
                                             core::FsmEnv{bus_, &timers_, &registry_});
    Request& r = *slots_[slot];
    r.handle = {slot, gen};
    r.group = it->second;
    r.service = service;
    r.packet = std::move(packet);
    r.password = std::move(user_password);
    r.done = std::move(done);
    r.complete_timer.bind(timers_);
    ++counters_.submitted;

    // First live server of the list; the first one when all are dead.
    r.server_index = 0;
    for (std::size_t i = 0; i < list.size(); ++i)
        if (alive(state_for(list[i].endpoint))) {
            r.server_index = static_cast<std::uint8_t>(i);
            break;
        }
    const RequestHandle h = r.handle;
    if (assign_id(r)) {
        r.fsm.dispatch(RqEvent::send, "submitted");
    } else {
        enqueue(r);
    }
    complete_if_done(h);
    return h;
}

bool Client::assign_id(Request& r) {
    const Server& srv = r.current();
    ServerState& s = state_for(srv.endpoint);
    r.server = &s;
    if (s.used.all()) return false;
    // RFC 5080 §2.2.1: an Identifier is not reused while outstanding; sequential allocation also
    // keeps a just-freed one from coming back at once.
    std::uint8_t id = s.next_id;
    while (s.used.test(id)) ++id;
    s.next_id = static_cast<std::uint8_t>(id + 1);
    s.used.set(id);
    s.outstanding[id] = &r;
    s.completed_valid.reset(id);
    s.secret = srv.secret;
    r.id = id;
    r.has_id = true;
    r.tries = 0;

    // Finish the packet for this server (RFC 2865 §3, §5.2; RFC 3579 §3.2; RFC 2866 §3).
    Radius& p = r.packet;
    p.identifier(id);
    if (p.code() == Code::Access_Request) {
        p.authenticator(random_authenticator());
        if (r.password) {
            p.remove(static_cast<std::uint8_t>(AttributeType::User_Password));
            add_user_password(p, *r.password, srv.secret);
        }
        add_message_authenticator(p);
    } else {
        p.authenticator(Authenticator{});
    }
    sign_request(p, srv.secret);
    r.auth = p.authenticator();
    serialize_into(p, r.wire);
    return true;
}

void Client::enqueue(Request& r) {
    ServerState& s = state_for(r.current().endpoint);
    r.server = &s;
    r.has_id = false;
    s.queue.push_back(r.handle);
    ++counters_.queued;
}

void Client::send_current(Request& r) {
    ++r.tries;
    ++r.transmissions;
    if (r.tries == 1)
        ++counters_.transmissions;
    else
        ++counters_.retransmissions;
    send_(r.current().endpoint, r.wire);
}

void Client::release_id(Request& r) {
    if (!r.has_id) return;
    ServerState& s = *r.server;
    s.used.reset(r.id);
    s.outstanding[r.id] = nullptr;
    s.completed_auth[r.id] = r.auth;
    s.completed_valid.set(r.id);
    r.has_id = false;
    drain_queue(s);
}

void Client::drain_queue(ServerState& s) {
    while (!s.queue.empty() && !s.used.all()) {
        const RequestHandle h = s.queue.front();
        s.queue.pop_front();
        Request* r = lookup(h);
        if (!r || r->completed || r->has_id || r->server != &s) continue;
        if (assign_id(*r)) {
            r->fsm.dispatch(RqEvent::send, "Identifier available");
            if (r->completed) arm_completion(*r);
        }
    }
}

void Client::on_timer_expiry(Request& r, void* step_ptr) {
    auto& st = *static_cast<Request::Step*>(step_ptr);
    if (r.tries <= options_.retries) {
        send_current(r);  // RFC 5080 §2.2.1: same Identifier and Request Authenticator
        return;
    }
    ServerState& failed = *r.server;
    mark_dead(failed);
    release_id(r);
    const auto& list = r.list();
    for (std::size_t i = r.server_index + 1u; i < list.size(); ++i) {
        if (!alive(state_for(list[i].endpoint))) continue;
        ++counters_.failovers;
        r.server_index = static_cast<std::uint8_t>(i);
        if (assign_id(r)) {
            send_current(r);
        } else {
            enqueue(r);
            st.next = RqState::queued;
            st.no_timer();
        }
        return;
    }
    st.next = RqState::timed_out;
    st.no_timer();
    finish(r, Result::timeout);
}

void Client::finish(Request& r, Result res) {
    r.result = res;
    r.completed = true;
    switch (res) {
        case Result::accept: ++counters_.accepts; break;
        case Result::reject: ++counters_.rejects; break;
        case Result::timeout: ++counters_.timeouts; break;
        case Result::cancelled: ++counters_.cancelled; break;
    }
    release_id(r);
    arm_completion(r);
}

void Client::arm_completion(Request& r) {
    // The callback runs after the FSM transition: at once when the caller of dispatch() is ours
    // (complete_if_done), else from this zero-delay timer (timer-expiry path).
    const RequestHandle h = r.handle;
    r.complete_timer.start(core::Duration{0}, [this, h] { complete_if_done(h); });
}

void Client::complete_if_done(RequestHandle h) {
    Request* r = lookup(h);
    if (!r || !r->completed) return;
    r->complete_timer.cancel();
    // Take what the callback needs, then free the slot before calling it (it may submit).
    Completion c;
    c.result = r->result;
    c.reply = std::move(r->reply);
    c.request_authenticator = r->auth;
    c.server = &r->current();
    c.transmissions = r->transmissions;
    Callback done = std::move(r->done);
    std::shared_ptr<const ServerGroup> keep = r->group;  // c.server points into it
    slots_[h.slot].reset();
    ++generations_[h.slot];
    if (generations_[h.slot] == 0) generations_[h.slot] = 1;
    free_slots_.push_back(h.slot);
    if (done) done(c);
}

bool Client::cancel(RequestHandle h) {
    Request* r = lookup(h);
    if (!r || r->completed) return false;
    r->fsm.dispatch(RqEvent::cancel, "cancelled");
    complete_if_done(h);
    return true;
}

void Client::on_datagram(const Endpoint& from, std::span<const std::uint8_t> d) {
    auto& drop = counters_.dropped;
    if (d.size() < Radius::kHeaderSize) {
        ++drop.malformed;
        return;
    }
    auto it = servers_.find(from);
    if (it == servers_.end()) {
        ++drop.wrong_source;
        return;
    }
    ServerState& s = *it->second;
    const std::uint8_t id = d[1];
    Request* r = s.used.test(id) ? s.outstanding[id] : nullptr;
    if (!r) {
        if (s.completed_valid.test(id) && verify_response(d, s.completed_auth[id], s.secret) == Verdict::ok)
            ++drop.duplicate;
        else
            ++drop.unknown_identifier;
        return;
    }
    const auto code = static_cast<Code>(d[0]);
    const bool access = r->packet.code() == Code::Access_Request;
    const bool code_ok = access ? (code == Code::Access_Accept || code == Code::Access_Reject ||
                                   code == Code::Access_Challenge)
                                : code == Code::Accounting_Response;
    if (!code_ok) {
        ++drop.unexpected_code;
        return;
    }
    const Server& srv = r->current();
    switch (verify_response(d, r->auth, srv.secret)) {
        case Verdict::ok: break;
        case Verdict::bad_authenticator: ++drop.bad_authenticator; return;
        case Verdict::bad_message_authenticator: ++drop.bad_message_authenticator; return;
        case Verdict::malformed: ++drop.malformed; return;
    }
    std::optional<Radius> reply;
    try {
        reply.emplace(d.data(), static_cast<std::uint32_t>(d.size()));
    } catch (const proto::ParseError&) {
        ++drop.malformed;
        return;
    }
    if (access && srv.require_message_authenticator && !reply->find(AttributeType::Message_Authenticator)) {
        ++drop.missing_message_authenticator;
        return;
    }
    if (s.dead) {  // a late answer proves it alive
        s.dead = false;
        ++counters_.servers_revived;
        publish_server(s, "dead", "alive", "revived", "reply received");
    }
    r->reply = std::move(reply);
    const RequestHandle h = r->handle;
    const RqEvent ev = code == Code::Access_Accept     ? RqEvent::access_accept
                       : code == Code::Access_Reject   ? RqEvent::access_reject
                       : code == Code::Access_Challenge ? RqEvent::access_challenge
                                                        : RqEvent::accounting_response;
    // The cause "from 192.0.2.1:1812" on the stack: no string built per reply.
    std::array<char, 32> cause{'f', 'r', 'o', 'm', ' '};
    std::array<char, 24> ep;
    const std::string_view where = format_endpoint(from, ep);
    std::copy(where.begin(), where.end(), cause.begin() + 5);
    r->fsm.dispatch(ev, std::string_view(cause.data(), 5 + where.size()));
    complete_if_done(h);
}

}  // namespace dl::radius::client
