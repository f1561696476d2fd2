#include "dl/lnsd/lns.hpp"

#include <algorithm>
#include <malloc.h>

#if defined(__SANITIZE_ADDRESS__)  // GCC, Clang
#define DL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)  // older Clang
#define DL_ASAN 1
#endif
#endif
#ifdef DL_ASAN
#include <sanitizer/allocator_interface.h>
#endif

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "dl/core/control.hpp"
#include "dl/core/duration.hpp"
#include "dl/core/fsm.hpp"
#include "dl/dataplane/packet_batch.hpp"

namespace dl::lnsd {

namespace eng = l2tp::engine;

std::string peer_text(PeerId p) { return peer_address(p).to_string() + ":" + std::to_string(peer_port(p)); }

namespace {
std::optional<std::uint32_t> parse_u(std::string_view s, std::uint32_t max) {
    std::uint32_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size() || v > max) return std::nullopt;
    return v;
}
double seconds_since(core::TimePoint a, core::TimePoint now) {
    return std::chrono::duration<double>(now - a).count();
}
}  // namespace

std::string_view to_string(AdminState s) noexcept {
    switch (s) {
        case AdminState::enabled: return "enabled";
        case AdminState::drain: return "drain";
        case AdminState::shutdown: return "shutdown";
    }
    return "?";
}

/// The administrative state of one level (system, destination, tunnel) as a table FSM: every
/// command is an event, every state reachable from every state (a repeated command is a permitted
/// self-transition), each change one structured event "l2tp.system|destination|tunnel".
class Lns::AdminLevel {
public:
    enum class Level : std::uint8_t { system, destination, tunnel };
    enum class Command : std::uint8_t { enable, drain, shutdown };
    using Spec = core::FsmSpec<AdminLevel, AdminState, Command>;

    AdminLevel(core::EventBus& bus, Level level, std::string id)
        : fsm_(spec(level), core::FsmEnv{.bus = &bus}, *this, std::move(id), AdminState::enabled) {}
    AdminState state() const noexcept { return fsm_.state(); }
    void set(AdminState s, std::string_view cause) {
        fsm_.dispatch(s == AdminState::shutdown ? Command::shutdown
                      : s == AdminState::drain  ? Command::drain
                                                : Command::enable,
                      cause);
    }

private:
    static const Spec& spec(Level level) {
        using S = AdminState;
        using C = Command;
        auto make = [](std::string_view entity) {
            return Spec{entity,
                        {"enabled", "drain", "shutdown"},
                        {"no-shutdown", "drain", "shutdown"},
                        {{S::enabled, C::enable, S::enabled},   {S::enabled, C::drain, S::drain},
                         {S::enabled, C::shutdown, S::shutdown}, {S::drain, C::enable, S::enabled},
                         {S::drain, C::drain, S::drain},         {S::drain, C::shutdown, S::shutdown},
                         {S::shutdown, C::enable, S::enabled},   {S::shutdown, C::drain, S::drain},
                         {S::shutdown, C::shutdown, S::shutdown}}};
        };
        static const Spec system = make("l2tp.system"), destination = make("l2tp.destination"),
                          tunnel = make("l2tp.tunnel");
        return level == Level::system ? system : level == Level::destination ? destination : tunnel;
    }
    core::Fsm<AdminLevel, AdminState, Command> fsm_;
};

struct Lns::TunnelRec {
    std::uint16_t id = 0;
    PeerId peer = 0;
    eng::TunnelState state = eng::TunnelState::idle;
    bool outgoing = false;
    bool ever_established = false;
    std::string assignment_id;
    std::string last_cause;
    core::TimePoint created{};
    std::uint32_t sessions_total = 0;
    std::uint32_t sessions_now = 0;
    std::unique_ptr<AdminLevel> admin;  // nullptr = enabled
};

struct Lns::SessionRec {
    eng::SessionKey key;
    PeerId peer = 0;
    eng::SessionState state = eng::SessionState::idle;
    bool outgoing = false;
    core::TimePoint created{};
    std::uint32_t tx_speed = 0;
    std::optional<std::uint32_t> rx_speed;
    std::string calling, called;
    bool sequencing = false;
    nlohmann::json wen;
    /// In its tunnel's, destination's and peer's session counts. An outgoing call is born waiting
    /// for a tunnel that may not exist yet: it is counted at its first event once the tunnel does.
    bool counted = false;
};

struct Lns::Pending {
    std::vector<TunnelEndpoint> tunnels;
    eng::OutgoingCall call;
    OutgoingDone done;
    std::vector<std::size_t> order;
    std::size_t next = 0;
    std::optional<CallHandle> handle;
    std::string endpoint;
    bool connected = false;
    bool answered = false;  ///< a LAC ended an attempt by its own message (CDN, StopCCN)
    OutgoingResult last;
};

std::size_t Lns::sizeof_tunnel_record() noexcept { return sizeof(TunnelRec); }
std::size_t Lns::sizeof_session_record() noexcept { return sizeof(SessionRec); }

Lns::Lns(core::TimerQueue& timers, core::TimerRegistry& registry, core::EventBus& bus, LnsdConfig cfg, Send send,
         std::uint64_t seed)
    : timers_(&timers), registry_(&registry), bus_(&bus), cfg_(std::move(cfg)), send_(std::move(send)), seed_(seed),
      selector_(timers.clock(), cfg_.selection_mode, cfg_.dead_time), started_(timers.now()),
      system_(std::make_unique<AdminLevel>(bus, AdminLevel::Level::system, cfg_.hostname)) {
    eng::register_l2tp_timers(registry);
    data_ = std::make_unique<DataPath>(
        [this](DataPath::Key k, std::span<const std::uint8_t> ppp) { deliver_frame(k, ppp); },
        [this](PeerId p, std::vector<std::uint8_t> b) {
            ++datagrams_out_;
            if (send_) send_(p, std::move(b));
        });
    data_->set_too_big([this](DataPath::Key k, std::span<const std::uint8_t> ipv4, std::uint16_t mru) {
        if (on_too_big) on_too_big(data_handle(k), ipv4, mru);
    });
    // One engine for every peer: the secret / hiding / acceptance is decided per tunnel by
    // policy_for() (SCCRQ received) or outgoing_policy() (the call's Tunnel-Password).
    eng::EngineConfig ec;
    ec.host_name = cfg_.hostname;
    ec.receive_window = cfg_.receive_window;
    ec.max_retransmits = cfg_.max_retransmits;
    ec.secret = cfg_.secret;
    ec.hide_avps = cfg_.hide_avps && !cfg_.secret.empty();
    ec.require_sequencing = cfg_.require_sequencing;
    ec.early_data_frames = cfg_.early_data_frames;
    ec.seed = seed_;
    ec.limits = cfg_.limits;
    ec.reorder_packets = cfg_.reorder_packets;
    ec.reorder_bytes = cfg_.reorder_bytes;
    ec.send_queue = cfg_.send_queue;
    eng::EngineCallbacks cb;
    cb.peer_host = [](PeerId p) -> std::uint64_t { return peer_address(p).value; };  // every port of an address
    cb.send = [this](PeerId p, std::vector<std::uint8_t> b) {
        ++datagrams_out_;
        if (send_) send_(p, std::move(b));
    };
    // lnsd's records of tunnels and sessions follow the engine's typed upcalls; its events go
    // straight to the bus, for the log and subscribers only.
    cb.tunnel_changed = [this](const eng::TunnelChange& c) { on_tunnel_changed(c); };
    cb.session_changed = [this](const eng::SessionChange& c) { on_session_changed(c); };
    cb.tunnel_up = [this](std::uint16_t t, PeerId) {
        if (auto it = tunnels_.find(t); it != tunnels_.end()) {
            it->second->ever_established = true;
            selector_.mark_ok(peer_address(it->second->peer).to_string());
        }
    };
    cb.tunnel_down = [this](std::uint16_t t, const std::string& cause) {
        if (auto it = tunnels_.find(t); it != tunnels_.end()) it->second->last_cause = cause;
    };
    cb.connected = [this](eng::SessionKey k, const eng::ConnectInfo& i) { on_connected_cb(k, i); };
    // Every session that ends, whoever ended it (peer CDN, our disconnect, tunnel down): once.
    cb.call_ended = [this](eng::SessionKey k, const eng::CallFailure& f) { on_call_ended(k, f); };
    cb.ppp_frame = [this](eng::SessionKey k, std::span<const std::uint8_t> b) {
        if (on_ppp_frame) on_ppp_frame(CallHandle{k}, b);
    };
    cb.wen = [this](eng::SessionKey k, const l2tp::CallErrors& ce) {
        if (auto it = sessions_.find({k.tunnel, k.session}); it != sessions_.end())
            it->second->wen = {{"crc", ce.crc_errors},           {"framing", ce.framing_errors},
                               {"hardware-overruns", ce.hardware_overruns}, {"buffer-overruns", ce.buffer_overruns},
                               {"timeout", ce.timeout_errors},     {"alignment", ce.alignment_errors}};
    };
    cb.peer_policy = [this](PeerId p) { return policy_for(p); };
    engine_ = std::make_unique<eng::Engine>(*timers_, *registry_, *bus_, ec, std::move(cb));
}

Lns::~Lns() = default;

eng::PeerPolicy Lns::policy_for(PeerId peer) const {
    const auto a = peer_address(peer);
    const auto* pc = cfg_.find_peer(a);
    eng::PeerPolicy p;
    p.secret = pc ? pc->secret : cfg_.secret;
    p.hide_avps = (pc ? pc->hide_avps : cfg_.hide_avps) && !p.secret.empty();
    if (pc) p.peer_host_name = pc->host_name;
    p.configured = pc != nullptr;  // keeps its setup slots under a flood of unlisted sources
    const AdminState dst = destination_state(a);
    if (system_->state() != AdminState::enabled) {
        // JunosE "l2tp shutdown" / "l2tp drain": no new tunnel on the router. §4.4.2 StopCCN
        // Result 2 with Error 7, "try another": the LAC may try another LNS.
        p.accept = false;
        p.refuse_result = l2tp::StopCcnResult::GeneralError;
        p.refuse_error = l2tp::GeneralError::TryAnother;
        p.refuse_message = system_->state() == AdminState::shutdown ? "L2TP is shut down" : "L2TP is drained";
    } else if (dst != AdminState::enabled) {
        p.accept = false;
        p.refuse_message = dst == AdminState::shutdown ? "destination is shut down" : "destination is drained";
    } else if (!cfg_.accept_unknown_peers && !pc) {
        p.accept = false;
        p.refuse_message = "peer is not configured";
    }
    return p;
}

eng::PeerPolicy Lns::outgoing_policy(PeerId peer, const std::optional<std::string>& password) const {
    const auto* pc = cfg_.find_peer(peer_address(peer));
    eng::PeerPolicy p;
    p.secret = password ? *password : pc ? pc->secret : cfg_.secret;
    p.hide_avps = (pc ? pc->hide_avps : cfg_.hide_avps) && !p.secret.empty();
    if (pc) p.peer_host_name = pc->host_name;
    return p;
}

void Lns::on_tunnel_changed(const eng::TunnelChange& c) {
    using What = eng::TunnelChange::What;
    using TS = eng::TunnelState;
    const TKey k = c.tunnel;
    auto it = tunnels_.find(k);
    if (c.what == What::released) {  // also for an SCCRQ the engine forgot at once: no walk needed
        if (it != tunnels_.end()) {
            const auto a = peer_address(it->second->peer);
            tunnels_.erase(it);
            tunnel_gone(a);
        }
        return;
    }
    if (c.what == What::refused) {
        if (it != tunnels_.end()) return;
        // The engine refused an SCCRQ by policy_for() (StopCCN 4, no SCCRP): shown in idle
        // for the §5.7 hold and counted as opened, closed and refused.
        auto rec = std::make_unique<TunnelRec>();
        rec->id = k;
        rec->peer = c.peer;
        rec->created = timers_->now();
        rec->state = TS::idle;
        rec->last_cause = c.cause;
        auto& d = dest(peer_address(rec->peer));
        ++d.tunnels_opened;
        ++d.tunnels_closed;
        ++d.tunnels_refused;
        ++tunnels_refused_;
        ++dests_[peer_address(rec->peer).value].tunnels_now;
        tunnels_.emplace(k, std::move(rec));
        return;
    }
    if (it == tunnels_.end()) {
        if (c.to == TS::idle) return;  // an SCCRQ dropped without an answer: never shown
        auto rec = std::make_unique<TunnelRec>();
        rec->id = k;
        rec->peer = c.peer;
        rec->outgoing = c.direction == eng::Direction::outgoing;
        rec->created = timers_->now();
        ++dest(peer_address(rec->peer)).tunnels_opened;
        ++dests_[peer_address(rec->peer).value].tunnels_now;
        it = tunnels_.emplace(k, std::move(rec)).first;
        if (refusal_of(*it->second)) apply_call_refusal(*it->second);
    }
    auto& t = *it->second;
    const bool was_up = t.state == TS::established;
    t.state = c.to;
    if (!c.cause.empty()) t.last_cause = c.cause;
    if (c.to == TS::established && !was_up) ++dest(peer_address(t.peer)).tunnels_established;
    if (c.to == TS::idle && c.from != TS::idle) ++dest(peer_address(t.peer)).tunnels_closed;
}

void Lns::on_session_changed(const eng::SessionChange& c) {
    using SS = eng::SessionState;
    const SKey k{c.key.tunnel, c.key.session};
    auto it = sessions_.find(k);
    auto tit = tunnels_.find(k.first);
    if (c.to == SS::idle) {
        data_->remove(data_key(CallHandle{c.key}));
        if (it != sessions_.end()) {
            if (it->second->state == SS::established) --sessions_established_;
            if (it->second->counted) {
                ++dest(peer_address(it->second->peer)).sessions_closed;
                if (tit != tunnels_.end() && tit->second->sessions_now) --tit->second->sessions_now;
                if (auto pit = peer_sessions_.find(it->second->peer); pit != peer_sessions_.end() && --pit->second == 0)
                    peer_sessions_.erase(pit);
            }
            sessions_.erase(it);
        }
        return;
    }
    if (it == sessions_.end()) {
        auto rec = std::make_unique<SessionRec>();
        rec->key = c.key;
        rec->peer = c.peer;
        rec->outgoing = c.direction == eng::Direction::outgoing;
        rec->created = timers_->now();
        it = sessions_.emplace(k, std::move(rec)).first;
    }
    if (SessionRec& r = *it->second; !r.counted && tit != tunnels_.end()) {
        r.peer = tit->second->peer;
        r.counted = true;
        ++tit->second->sessions_total;
        ++tit->second->sessions_now;
        ++dest(peer_address(r.peer)).sessions_opened;
        ++peer_sessions_[r.peer];
    }
    if (c.to == SS::established && it->second->state != SS::established) {
        ++dest(peer_address(it->second->peer)).sessions_established;
        ++sessions_established_;
    } else if (c.to != SS::established && it->second->state == SS::established) {
        --sessions_established_;
    }
    it->second->state = c.to;
}

void Lns::on_connected_cb(eng::SessionKey k, const eng::ConnectInfo& i) {
    const SKey sk{k.tunnel, k.session};
    if (auto it = sessions_.find(sk); it != sessions_.end()) {
        auto& s = *it->second;
        s.tx_speed = i.tx_connect_speed;
        s.rx_speed = i.rx_connect_speed;
        s.sequencing = i.sequencing;
        if (i.incoming) {
            s.calling = i.incoming->calling_number.value_or("");
            s.called = i.incoming->called_number.value_or("");
        }
    }
    if (auto pit = pending_by_call_.find(sk); pit != pending_by_call_.end()) {
        auto id = pit->second;
        if (auto p = pending_.find(id); p != pending_.end() && !p->second->connected) {
            p->second->connected = true;
            OutgoingResult r;
            r.ok = true;
            r.call = CallHandle{k};
            r.endpoint = p->second->endpoint;
            auto done = p->second->done;
            timers_->arm(core::Duration::zero(), [done, r] {
                if (done) done(r);
            });
        }
    }
    attach_data(k, i.sequencing);
    if (on_connected) on_connected(CallHandle{k}, i);
}

void Lns::on_call_ended(eng::SessionKey k, const eng::CallFailure& f) {
    data_->remove(data_key(CallHandle{k}));
    const SKey sk{k.tunnel, k.session};
    if (auto pit = pending_by_call_.find(sk); pit != pending_by_call_.end()) {
        const auto id = pit->second;
        pending_by_call_.erase(pit);
        auto p = pending_.find(id);
        if (p != pending_.end()) {
            auto& pd = *p->second;
            if (pd.connected) {
                pending_.erase(p);  // a connected call that ended: on_disconnected tells
            } else {
                auto tit = tunnels_.find(k.tunnel);
                const bool tunnel_failed = tit == tunnels_.end() || !tit->second->ever_established;
                if (f.ended_by != eng::CallEndedBy::timeout && f.ended_by != eng::CallEndedBy::local_stopccn &&
                    f.ended_by != eng::CallEndedBy::local_disconnect)
                    pd.answered = true;
                pd.last.ok = false;
                pd.last.no_lac_answered = !pd.answered;
                pd.last.endpoint = pd.endpoint;
                pd.last.failure = f;
                pd.last.reason = f.message.value_or(tunnel_failed ? "control connection could not be set up"
                                                                  : "call refused (CDN)");
                if (tunnel_failed) {
                    selector_.mark_failed(pd.endpoint);
                    timers_->arm(core::Duration::zero(), [this, id] { try_next(id); });
                } else {
                    auto r = pd.last;
                    timers_->arm(core::Duration::zero(), [this, id, r] { finish(id, r); });
                }
            }
        }
    }
    if (on_disconnected) on_disconnected(CallHandle{k}, f);
}

std::optional<PeerId> Lns::resolve(const std::string& endpoint) const {
    std::string_view host = endpoint;
    std::uint16_t port = 1701;
    if (auto c = endpoint.find(':'); c != std::string::npos) {
        auto p = parse_u(std::string_view(endpoint).substr(c + 1), 65535);
        if (!p || *p == 0) return std::nullopt;
        port = static_cast<std::uint16_t>(*p);
        host = std::string_view(endpoint).substr(0, c);
    }
    auto a = core::Ipv4Address::parse(host);
    if (!a) return std::nullopt;
    return peer_id(*a, port);
}

std::uint64_t Lns::place_outgoing_call(std::vector<TunnelEndpoint> tunnels, const eng::OutgoingCall& call,
                                       OutgoingDone done) {
    const auto id = next_pending_++;
    auto p = std::make_unique<Pending>();
    p->tunnels = std::move(tunnels);
    p->call = call;
    p->done = std::move(done);
    TunnelSelector::View view;
    view.open_tunnel = [this](const std::string& ep, const std::string& assignment) {
        auto peer = resolve(ep);
        if (!peer) return false;
        for (const auto& [k, t] : tunnels_)
            if (t->peer == *peer && t->state == eng::TunnelState::established && t->assignment_id == assignment)
                return true;
        return false;
    };
    view.sessions = [this](const std::string& ep) -> std::size_t {  // O(log peers), not O(sessions)
        auto peer = resolve(ep);
        if (!peer) return 0;
        auto it = peer_sessions_.find(*peer);
        return it == peer_sessions_.end() ? 0 : it->second;
    };
    p->order = selector_.order(p->tunnels, view);
    pending_[id] = std::move(p);
    timers_->arm(core::Duration::zero(), [this, id] { try_next(id); });
    return id;
}

void Lns::try_next(std::uint64_t id) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    auto& p = *it->second;
    while (p.next < p.order.size()) {
        const auto& td = p.tunnels[p.order[p.next++]];
        auto peer = resolve(td.server_endpoint);
        if (!peer || system_->state() != AdminState::enabled ||
            destination_state(peer_address(*peer)) != AdminState::enabled || selector_.is_dead(td.server_endpoint)) {
            if (peer && system_->state() != AdminState::enabled) p.last.reason = "L2TP is not enabled (system level)";
            else if (peer && destination_state(peer_address(*peer)) != AdminState::enabled)
                p.last.reason = "destination " + peer_address(*peer).to_string() + " is not enabled";
            continue;
        }
        const eng::PeerPolicy policy = outgoing_policy(*peer, td.password);
        const std::string assignment = td.assignment_id.value_or("");
        // A tunnel to this peer with this secret exists but with another assignment id: open a
        // separate one (the engine places calls on the newest tunnel to the peer with the policy).
        bool other = false, same = false;
        for (const auto& [k, t] : tunnels_) {
            if (t->peer != *peer || t->state == eng::TunnelState::idle) continue;
            const auto* tp = engine_->tunnel_policy(k);
            if (tp && *tp == policy) (t->assignment_id == assignment ? same : other) = true;
        }
        p.endpoint = td.server_endpoint;
        try {
            if (other && !same) engine_->open_tunnel(*peer, policy);
            auto key = engine_->place_outgoing_call(*peer, p.call, policy);
            if (auto tit = tunnels_.find(key.tunnel); tit != tunnels_.end() && tit->second->assignment_id.empty())
                tit->second->assignment_id = assignment;
            p.handle = CallHandle{key};
            pending_by_call_[{key.tunnel, key.session}] = id;
            // show l2tp session: the OCRQ's Called Number (RFC 2661 §4.4.5) of an outgoing call.
            if (auto sit = sessions_.find({key.tunnel, key.session}); sit != sessions_.end())
                sit->second->called = p.call.called_number;
        } catch (const std::exception& e) {
            p.last.reason = e.what();
            continue;
        }
        return;
    }
    OutgoingResult r = p.last;
    r.ok = false;
    r.no_lac_answered = !p.answered;
    if (r.reason.empty()) r.reason = "no usable tunnel endpoint";
    finish(id, r);
}

// Only the attempt in progress (`handle`) is in pending_by_call_: on_call_ended erases a failed
// attempt's entry before the next one is placed. O(log n), not a walk of every pending call.
void Lns::forget_pending_call(std::uint64_t id, const std::optional<CallHandle>& handle) {
    if (!handle) return;
    if (auto b = pending_by_call_.find({handle->key.tunnel, handle->key.session});
        b != pending_by_call_.end() && b->second == id)
        pending_by_call_.erase(b);
}

void Lns::finish(std::uint64_t id, OutgoingResult r) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    auto done = std::move(it->second->done);
    forget_pending_call(id, it->second->handle);
    pending_.erase(it);
    if (done) done(r);
}

bool Lns::outgoing_call_answered(std::uint64_t id) const {
    auto it = pending_.find(id);
    if (it == pending_.end()) return false;
    const auto& p = *it->second;
    if (p.answered || p.connected) return true;
    if (!p.handle) return false;
    auto s = sessions_.find({p.handle->key.tunnel, p.handle->key.session});
    return s != sessions_.end() && s->second->state == eng::SessionState::wait_connect;
}

bool Lns::cancel_outgoing_call(std::uint64_t id) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return false;
    auto h = it->second->handle;
    forget_pending_call(id, h);
    pending_.erase(it);
    if (h) engine_->disconnect(h->key, l2tp::CdnResult::Administrative);
    return true;
}

// ---- data path: data messages of established sessions go through DataPath (in place,
// sendmmsg bursts, no engine, no allocation); the engine keeps control messages and data for
// sessions the fast path does not know (it counts and logs those).

DataPath::Key Lns::data_key(const CallHandle& c) noexcept {
    return (DataPath::Key{c.key.tunnel} << 16) | c.key.session;
}

CallHandle Lns::data_handle(DataPath::Key k) noexcept {
    return CallHandle{{static_cast<std::uint16_t>(k >> 16), static_cast<std::uint16_t>(k)}};
}

void Lns::attach_data(eng::SessionKey k, bool sequencing) {
    auto sit = sessions_.find({k.tunnel, k.session});
    const auto ids = engine_->peer_ids(k);
    if (sit == sessions_.end() || !ids) return;  // not established: the engine keeps the data
    data_->add(data_key(CallHandle{k}), sit->second->peer, k.tunnel, k.session, ids->tunnel, ids->session,
               sequencing, ids->data_nr);
}

void Lns::attach_data_session(CallHandle c, PeerId peer, std::uint16_t peer_tunnel, std::uint16_t peer_session,
                              bool sequencing) {
    data_->add(data_key(c), peer, c.key.tunnel, c.key.session, peer_tunnel, peer_session, sequencing);
}

bool Lns::detach_data_session(CallHandle c) { return data_->remove(data_key(c)); }

void Lns::set_data_socket(int fd) noexcept { data_->set_socket(fd); }
void Lns::set_peer_sockets(DataPath::PeerSockets s) { data_->set_peer_sockets(std::move(s)); }
void Lns::flush_data() noexcept { data_->flush(); }
void Lns::defer_data_flush(DataPath::Post post) { data_->defer_flush(std::move(post)); }
const DataPathCounters& Lns::data_counters() const noexcept { return data_->counters(); }

bool Lns::set_link_info(CallHandle c, const l2tp::Accm& accm) { return engine_->set_link_info(c.key, accm); }
bool Lns::set_peer_mru(CallHandle c, std::uint16_t mru) noexcept { return data_->set_peer_mru(data_key(c), mru); }

bool Lns::send_ppp(CallHandle c, std::span<const std::uint8_t> frame) {
    if (data_->contains(data_key(c))) return data_->send_frame(data_key(c), frame);
    return engine_->send_ppp(c.key, frame);
}

namespace {
/// FF 03 00 21 + packet (RFC 1662 §3.1, RFC 1332 §2) for the engine's path (slow path only).
std::vector<std::uint8_t> ipv4_frame(std::span<const std::uint8_t> packet) {
    std::vector<std::uint8_t> f(packet.size() + 4);
    f[0] = 0xFF, f[1] = 0x03, f[2] = 0x00, f[3] = 0x21;
    std::copy(packet.begin(), packet.end(), f.begin() + 4);
    return f;
}
}  // namespace

bool Lns::send_ipv4(CallHandle c, dataplane::Packet& packet) {
    switch (data_->offer_in_place(data_key(c), packet)) {  // one look-up per packet on the fast path
        case DataPath::Tx::queued: return true;
        case DataPath::Tx::dropped: return false;
        case DataPath::Tx::not_mine: break;
    }
    return send_ppp(c, ipv4_frame(packet.bytes()));
}

bool Lns::send_ipv4(CallHandle c, std::span<const std::uint8_t> packet) {
    if (data_->contains(data_key(c))) return data_->send_ipv4(data_key(c), packet);
    return send_ppp(c, ipv4_frame(packet));
}

void Lns::deliver_frame(DataPath::Key k, std::span<const std::uint8_t> ppp) {
    if (on_ppp_frame) on_ppp_frame(data_handle(k), ppp);
}

// Whatever the data fast path does not take (control messages, data of sessions not on it) goes
// to the engine; an SCCRQ the policy refuses gets its StopCCN 4 there.
void Lns::receive(PeerId peer, std::span<const std::uint8_t> datagram) {
    ++datagrams_in_;
    if (data_->receive(peer, datagram) != DataPath::Rx::not_mine) return;
    engine_->receive(peer, datagram);
}

void Lns::receive_batch(std::span<const RxDatagram> batch) {
    datagrams_in_ += batch.size();
    data_->receive_batch(
        batch, [this](DataPath::Key k, std::span<const std::uint8_t> ppp) { deliver_frame(k, ppp); },
        [this](PeerId peer, std::span<const std::uint8_t> datagram) { engine_->receive(peer, datagram); });
}

void Lns::tunnel_gone(core::Ipv4Address a) {
    // dests_ is keyed by every address that ever opened a tunnel: bounded by keeping at most
    // `limits.destinations-kept` records of addresses with no tunnel (oldest forgotten first).
    auto it = dests_.find(a.value);
    if (it == dests_.end() || it->second.tunnels_now == 0 || --it->second.tunnels_now != 0) return;
    idle_dests_.push_back(a.value);
    while (idle_dests_.size() > cfg_.destinations_kept) {
        const auto old = idle_dests_.front();
        idle_dests_.pop_front();
        auto d = dests_.find(old);
        if (d != dests_.end() && d->second.tunnels_now == 0 && !d->second.admin && !cfg_.find_peer({old})) {
            dests_.erase(d);
            ++destinations_forgotten_;
        }
    }
}

namespace {
/// Tunnels of `tunnels` (lnsd's records) past idle, optionally only those of address `a`.
template <class Map>
std::vector<std::uint16_t> open_tunnels(const Map& tunnels, std::optional<core::Ipv4Address> a) {
    std::vector<std::uint16_t> keys;
    for (const auto& [k, t] : tunnels)
        if ((!a || peer_address(t->peer) == *a) && t->state != eng::TunnelState::idle) keys.push_back(k);
    return keys;
}
}  // namespace

std::size_t Lns::close_tunnels(const std::vector<TKey>& keys, l2tp::StopCcnResult result, const std::string& message) {
    std::size_t n = 0;
    for (const auto k : keys) n += engine_->close_tunnel(k, result, std::nullopt, message) ? 1 : 0;
    return n;
}

std::size_t Lns::clear_system(std::string message) {
    return close_tunnels(open_tunnels(tunnels_, std::nullopt), l2tp::StopCcnResult::GeneralRequestToClear, message);
}

AdminState Lns::system_state() const noexcept { return system_->state(); }

std::size_t Lns::set_system_state(AdminState s) {
    system_->set(s, "administrator");
    std::size_t closed = 0;
    if (s == AdminState::shutdown)
        closed = close_tunnels(open_tunnels(tunnels_, std::nullopt), l2tp::StopCcnResult::ShuttingDown,
                               "L2TP shut down by administrator");
    for (const auto& [k, t] : tunnels_) apply_call_refusal(*t);
    return closed;
}

AdminState Lns::destination_state(core::Ipv4Address a) const {
    auto it = dests_.find(a.value);
    return it == dests_.end() || !it->second.admin ? AdminState::enabled : it->second.admin->state();
}

std::size_t Lns::clear_destination(core::Ipv4Address a) {
    return close_tunnels(open_tunnels(tunnels_, a), l2tp::StopCcnResult::GeneralRequestToClear,
                         "destination cleared by administrator");
}

std::size_t Lns::set_destination_state(core::Ipv4Address a, AdminState s) {
    auto& d = dests_[a.value];
    if (!d.admin) d.admin = std::make_shared<AdminLevel>(*bus_, AdminLevel::Level::destination, a.to_string());
    d.admin->set(s, "administrator");
    std::size_t closed = 0;
    if (s == AdminState::shutdown)
        closed = close_tunnels(open_tunnels(tunnels_, a), l2tp::StopCcnResult::GeneralRequestToClear,
                               "destination shut down by administrator");
    for (const auto& [k, t] : tunnels_)
        if (peer_address(t->peer) == a) apply_call_refusal(*t);
    if (s == AdminState::enabled) d.admin.reset();  // enabled is the default: the record may be forgotten again
    return closed;
}

std::size_t Lns::clear_tunnel(std::uint16_t tunnel) {
    auto it = tunnels_.find(tunnel);
    if (it == tunnels_.end() || it->second->state == eng::TunnelState::idle) return 0;
    return close_tunnels({tunnel}, l2tp::StopCcnResult::GeneralRequestToClear, "tunnel cleared by administrator");
}

std::optional<std::size_t> Lns::set_tunnel_state(std::uint16_t tunnel, AdminState s) {
    auto it = tunnels_.find(tunnel);
    if (it == tunnels_.end() || it->second->state == eng::TunnelState::idle) return std::nullopt;
    TunnelRec& t = *it->second;
    if (!t.admin) t.admin = std::make_unique<AdminLevel>(*bus_, AdminLevel::Level::tunnel, std::to_string(tunnel));
    t.admin->set(s, "administrator");
    apply_call_refusal(t);  // first: a call of ours being placed must not land on it meanwhile
    std::size_t cleared = 0;
    if (s == AdminState::shutdown) {
        std::vector<SKey> keys;
        for (auto sit = sessions_.lower_bound({tunnel, 0}); sit != sessions_.end() && sit->first.first == tunnel; ++sit)
            keys.push_back(sit->first);
        for (const auto& k : keys)
            cleared += clear_session(k.first, k.second, l2tp::CdnResult::Administrative,
                                     "tunnel shut down by administrator")
                           ? 1
                           : 0;
    }
    return cleared;
}

std::optional<std::string> Lns::refusal_of(const TunnelRec& t) const {
    auto text = [](const char* level, AdminState s) {
        return std::string(level) + (s == AdminState::shutdown ? " is shut down" : " is drained");
    };
    if (system_->state() != AdminState::enabled) return text("L2TP", system_->state());
    if (const auto d = destination_state(peer_address(t.peer)); d != AdminState::enabled) return text("destination", d);
    if (t.admin && t.admin->state() != AdminState::enabled) return text("tunnel", t.admin->state());
    return std::nullopt;
}

void Lns::apply_call_refusal(const TunnelRec& t) {
    auto why = refusal_of(t);
    engine_->refuse_calls(t.id, why.has_value(), why.value_or(""));
}

bool Lns::clear_session(std::uint16_t tunnel, std::uint16_t session, l2tp::CdnResult result, std::string message) {
    // CDN Result Code (RFC 2661 §4.4.2) with an Error Message. The engine's call_ended upcall
    // (ended_by local_disconnect), raised inside disconnect(), tells the call's owner (dial-out
    // wiring or incoming-call PPP) through on_call_ended -> on_disconnected.
    return sessions_.count({tunnel, session}) != 0 &&
           engine_->disconnect({tunnel, session}, result, std::nullopt, std::nullopt, std::move(message));
}

std::size_t Lns::close_all() {
    return close_tunnels(open_tunnels(tunnels_, std::nullopt), l2tp::StopCcnResult::GeneralRequestToClear,
                         "lnsd shutting down");
}

bool Lns::quiescent() const {
    for (const auto& [k, t] : tunnels_) {
        if (t->state != eng::TunnelState::idle) return false;
        const auto* ch = engine_->channel(k);
        if (ch && !ch->idle()) return false;  // StopCCN not yet acknowledged
    }
    return true;
}

// ---- show ----

namespace {
/// The fast path's counters for `show l2tp` (data messages of established sessions).
nlohmann::json data_path_json(const DataPathCounters& c) {
    return {{"rx-data", c.rx_data},          {"rx-malformed", c.rx_malformed},
            {"rx-out-of-order", c.rx_out_of_order}, {"tx-frames", c.tx_frames},
            {"tx-in-place", c.tx_in_place},   {"tx-sent", c.tx_sent},
            {"tx-dropped", c.tx_dropped},     {"tx-would-block", c.tx_would_block},
            {"tx-errors", c.tx_errors},       {"sendmmsg-calls", c.tx_syscalls},
            {"tx-fragmented", c.tx_fragmented}, {"tx-fragments", c.tx_fragments},
            {"tx-over-mru", c.tx_over_mru},     {"tx-connected", c.tx_connected},
            {"peer-sockets", c.peer_sockets}, {"peer-sockets-refused", c.peer_socket_refused},
            {"tx-icmp-refused", c.tx_icmp_refused}};
}
}  // namespace

nlohmann::json memory_json() {
#ifdef DL_ASAN
    // Built with AddressSanitizer: its allocator replaces glibc's, whose mallinfo2 then counts
    // nothing; the sanitizer's allocator statistics instead (sanitizer/allocator_interface.h).
    nlohmann::json j = {{"heap-in-use", __sanitizer_get_current_allocated_bytes()},
                        {"heap-arena", __sanitizer_get_heap_size()},
                        {"heap-mmapped", 0},
                        {"heap-free", __sanitizer_get_free_bytes()},
                        {"heap-allocator", "asan"}};
#else
    // glibc's mallinfo2(3): every arena's figures (bytes; a walk over the arenas' bins, not over
    // the allocations). "heap-in-use" = uordblks + hblkhd: what lnsd's objects hold.
    const struct mallinfo2 mi = ::mallinfo2();
    nlohmann::json j = {{"heap-in-use", mi.uordblks + mi.hblkhd},
                        {"heap-arena", mi.arena},
                        {"heap-mmapped", mi.hblkhd},
                        {"heap-free", mi.fordblks},
                        {"heap-allocator", "glibc"}};
#endif
    // VmRSS / VmHWM of /proc/self/status (proc(5)), kB.
    std::ifstream st("/proc/self/status");
    for (std::string line; std::getline(st, line);)
        for (const auto& [key, name] : {std::pair{"VmRSS:", "rss-kib"}, std::pair{"VmHWM:", "rss-peak-kib"}})
            if (line.rfind(key, 0) == 0) j[name] = std::strtoull(line.c_str() + std::strlen(key), nullptr, 10);
    return j;
}

nlohmann::json Lns::show_summary() const {
    eng::EngineStats sum = engine_->stats();
    sum.data_in += data_->counters().rx_data;  // the fast path's data messages (data_path.hpp)
    sum.data_out += data_->counters().tx_frames;
    sum.data_dropped += data_->counters().rx_malformed + data_->counters().rx_out_of_order;
    // O(tunnels), never O(sessions): "show l2tp" stays instant at 100 000 sessions.
    std::size_t established = 0;
    const std::size_t sess_up = sessions_established_;
    std::set<std::uint32_t> dests;
    for (const auto& [k, t] : tunnels_) {
        established += t->state == eng::TunnelState::established;
        dests.insert(peer_address(t->peer).value);
    }
    std::size_t shut = 0, drained = 0;
    for (const auto& [a, d] : dests_) {
        shut += d.admin && d.admin->state() == AdminState::shutdown;
        drained += d.admin && d.admin->state() == AdminState::drain;
    }
    return {{"system",
             {{"state", to_string(system_->state())},
              {"hostname", cfg_.hostname},
              {"uptime", seconds_since(started_, timers_->now())},
              {"destinations", dests.size()},
              {"destinations-shutdown", shut},
              {"destinations-drained", drained},
              {"tunnels", tunnels_.size()},
              {"tunnels-established", established},
              {"sessions", sessions_.size()},
              {"sessions-established", sess_up},
              {"counters",
               {{"datagrams-in", datagrams_in_},
                {"datagrams-out", datagrams_out_},
                {"malformed", sum.malformed},
                {"invalid", sum.invalid},
                {"unknown-tunnel", sum.unknown_tunnel},
                {"unknown-session", sum.unknown_session},
                {"not-permitted", sum.not_permitted},
                {"auth-failures", sum.auth_failures},
                {"tunnels-refused", tunnels_refused_},
                {"host-name-refused", sum.host_name_refused},
                {"unknown-message-type", sum.unknown_message_type},
                {"capability-refused", sum.capability_refused},
                {"calls-refused-admin", sum.calls_refused},
                {"sccrq-dropped",
                 {{"rate", sum.sccrq_dropped.rate},
                  {"tunnels", sum.sccrq_dropped.tunnels},
                  {"tunnels-per-peer", sum.sccrq_dropped.peer_tunnels},
                  {"tunnels-setup", sum.sccrq_dropped.setup},
                  {"tunnels-setup-per-peer", sum.sccrq_dropped.peer_setup},
                  {"refused-held", sum.sccrq_dropped.refused_held},
                  {"no-tunnel-id", sum.sccrq_dropped.no_id}}},
                {"sessions-refused-setup", sum.sessions_refused_setup},
                {"call-setup-timeouts", sum.call_setup_timeouts},
                {"reorder-dropped", sum.reorder_dropped},
                {"outside-window", sum.outside_window},
                {"send-queue-overflows", sum.send_queue_overflows},
                {"destinations-forgotten", destinations_forgotten_},
                {"data-in", sum.data_in},
                {"data-out", sum.data_out},
                {"data-dropped", sum.data_dropped},
                {"data-early-kept", sum.data_early_kept},
                {"data-early-delivered", sum.data_early_delivered},
                {"data-early-dropped", sum.data_early_dropped},
                {"data-early-discarded", sum.data_early_discarded}}},
              {"data-path", data_path_json(data_->counters())},
              // What the limits (`limits:`, docs/reliability.md) are measured against, now.
              {"limits-usage",
               {{"tunnels", engine_->admission().live()},
                {"tunnels-setup", engine_->admission().setup()},
                {"refused-held", engine_->admission().refused_held()},
                {"destination-records", dests_.size()}}}}}};
}

nlohmann::json Lns::show_destinations(const std::string& id, bool detail, const core::ListPage& page) const {
    std::map<std::uint32_t, std::pair<std::size_t, std::size_t>> load;  // tunnels, sessions
    for (const auto& [k, t] : tunnels_) ++load[peer_address(t->peer).value].first;
    // Counted sessions (not a call still waiting for its tunnel) per peer, summed per address:
    // O(peers), not a walk over every session.
    for (const auto& [peer, n] : peer_sessions_) load[peer_address(peer).value].second += n;
    std::set<std::uint32_t> all;
    for (const auto& [a, d] : dests_) all.insert(a);
    for (const auto& [a, l] : load) all.insert(a);
    std::optional<core::Ipv4Address> want;
    if (!id.empty()) {
        want = core::Ipv4Address::parse(id);
        if (!want) throw core::ControlError("destination '" + id + "' is not an IPv4 address");
    }
    auto it = all.begin();
    if (want) {
        it = all.find(want->value);
        if (it == all.end()) throw core::ControlError("no destination " + id);
    } else if (page.after) {
        const auto after = core::Ipv4Address::parse(*page.after);
        if (!after) throw core::ControlArgError("after", "'" + *page.after + "' is not a destination (IPv4 address)");
        it = all.upper_bound(after->value);
    }
    core::ListPageBuilder out(want ? core::ListPage{} : page, want ? 1 : all.size(), "show l2tp destination");
    for (; it != all.end(); ++it) {
        const auto a = *it;
        if (want && want->value != a) break;
        if (!out.room()) {
            out.more();
            break;
        }
        auto dit = dests_.find(a);
        const auto l = load.count(a) ? load.at(a) : std::pair<std::size_t, std::size_t>{};
        nlohmann::json j = {{"address", core::Ipv4Address{a}.to_string()},
                            {"state", to_string(destination_state(core::Ipv4Address{a}))},
                            {"configured", cfg_.find_peer({a}) != nullptr},
                            {"tunnels", l.first},
                            {"sessions", l.second}};
        if (detail || want) {
            DestinationCounters c = dit != dests_.end() ? dit->second.counters : DestinationCounters{};
            j["counters"] = {{"tunnels-opened", c.tunnels_opened},         {"tunnels-established", c.tunnels_established},
                             {"tunnels-closed", c.tunnels_closed},         {"tunnels-refused", c.tunnels_refused},
                             {"sessions-opened", c.sessions_opened},       {"sessions-established", c.sessions_established},
                             {"sessions-closed", c.sessions_closed}};
            j["dead"] = selector_.is_dead(core::Ipv4Address{a}.to_string());
        }
        out.add(std::move(j), core::Ipv4Address{a}.to_string());
    }
    return std::move(out).finish();
}

nlohmann::json Lns::tunnel_json(const TunnelRec& t, bool detail) const {
    const std::size_t n = t.sessions_now;
    nlohmann::json j = {{"id", t.id},
                        {"destination", peer_address(t.peer).to_string()},
                        {"peer", peer_text(t.peer)},
                        {"state", eng::to_string(t.state)},
                        {"admin-state", to_string(t.admin ? t.admin->state() : AdminState::enabled)},
                        {"direction", t.outgoing ? "outgoing" : "incoming"},
                        {"sessions", n},
                        {"age", seconds_since(t.created, timers_->now())}};
    if (detail) {
        j["sessions-total"] = t.sessions_total;
        j["assignment-id"] = t.assignment_id;
        j["last-cause"] = t.last_cause;
        const auto* pol = engine_->tunnel_policy(t.id);
        j["authenticated"] = pol && !pol->secret.empty();
        j["hidden-avps"] = pol && pol->hide_avps;
        if (const auto* ch = engine_->channel(t.id)) {
            const auto& st = ch->stats();
            j["peer-tunnel-id"] = ch->peer_tunnel_id();
            j["ns"] = ch->next_ns();
            j["nr"] = ch->next_nr();
            j["in-flight"] = ch->in_flight();
            j["queued"] = ch->queued();
            j["cwnd"] = ch->cwnd();
            j["ssthresh"] = ch->ssthresh();
            j["receive-window"] = ch->config().receive_window;
            j["channel"] = {{"sent", st.sent},
                            {"received", st.received},
                            {"retransmitted", st.retransmitted},
                            {"duplicates", st.duplicates},
                            {"out-of-order", st.out_of_order},
                            {"zlb-sent", st.zlb_sent}};
        }
    }
    return j;
}

nlohmann::json Lns::show_tunnels(const std::string& id, bool detail, const core::ListPage& page) const {
    if (!id.empty()) {
        const auto want = parse_u(id, 65535);
        if (!want) throw core::ControlError("tunnel '" + id + "' is not a Tunnel ID (0..65535)");
        const auto it = tunnels_.find(static_cast<TKey>(*want));
        if (it == tunnels_.end()) throw core::ControlError("no tunnel " + id);
        return nlohmann::json::array({tunnel_json(*it->second, true)});
    }
    auto it = tunnels_.begin();
    if (page.after) {
        const auto after = parse_u(*page.after, 65535);
        if (!after) throw core::ControlArgError("after", "'" + *page.after + "' is not a Tunnel ID (0..65535)");
        it = tunnels_.upper_bound(static_cast<TKey>(*after));
    }
    core::ListPageBuilder out(page, tunnels_.size(), "show l2tp tunnel");
    for (; it != tunnels_.end(); ++it) {
        if (!out.room()) {
            out.more();
            break;
        }
        out.add(tunnel_json(*it->second, detail), std::to_string(it->first));
    }
    return std::move(out).finish();
}

nlohmann::json Lns::session_json(const SessionRec& s, bool detail) const {
    nlohmann::json j = {{"tunnel", s.key.tunnel},
                        {"session", s.key.session},
                        {"id", std::to_string(s.key.tunnel) + "/" + std::to_string(s.key.session)},
                        {"destination", peer_address(s.peer).to_string()},
                        {"state", eng::to_string(s.state)},
                        {"direction", s.outgoing ? "outgoing" : "incoming"},
                        {"age", seconds_since(s.created, timers_->now())}};
    if (detail) {
        j["tx-connect-speed"] = s.tx_speed;
        if (s.rx_speed) j["rx-connect-speed"] = *s.rx_speed;
        j["calling-number"] = s.calling;
        j["called-number"] = s.called;
        j["sequencing"] = s.sequencing;
        if (!s.wen.is_null()) j["wan-errors"] = s.wen;
    }
    return j;
}

nlohmann::json Lns::show_sessions(const std::string& id, bool detail, const core::ListPage& page) const {
    // "<tunnel>/<session>" or "<tunnel>" (ws empty); nullopt when neither.
    auto parse_key = [](std::string_view text) -> std::optional<std::pair<std::uint32_t, std::optional<std::uint32_t>>> {
        const auto slash = text.find('/');
        const auto t = parse_u(text.substr(0, slash), 65535);
        if (!t) return std::nullopt;
        if (slash == std::string_view::npos) return std::pair{*t, std::optional<std::uint32_t>{}};
        const auto s = parse_u(text.substr(slash + 1), 65535);
        if (!s) return std::nullopt;
        return std::pair{*t, s};
    };
    std::optional<std::uint32_t> wt, ws;
    if (!id.empty()) {
        const auto k = parse_key(id);
        if (!k) throw core::ControlError("session '" + id + "' is not <tunnel>/<session> or <tunnel>");
        wt = k->first;
        ws = k->second;
    }
    auto key = [](std::uint32_t t, std::uint32_t s) { return SKey{static_cast<std::uint16_t>(t), static_cast<std::uint16_t>(s)}; };
    if (ws) {
        const auto it = sessions_.find(key(*wt, *ws));
        if (it == sessions_.end()) throw core::ControlError("no session " + id);
        return nlohmann::json::array({session_json(*it->second, true)});
    }
    // sessions_ is ordered by (Tunnel ID, Session ID): one tunnel's sessions are one range, a
    // page one look-up and its items (not a walk over every session of the system).
    auto first = wt ? sessions_.lower_bound(key(*wt, 0)) : sessions_.begin();
    auto last = wt ? sessions_.upper_bound(key(*wt, 65535)) : sessions_.end();
    const std::size_t total = wt ? static_cast<std::size_t>(std::distance(first, last)) : sessions_.size();
    if (page.after) {
        const auto a = parse_key(*page.after);
        if (!a || !a->second)
            throw core::ControlArgError("after", "'" + *page.after + "' is not a session <tunnel>/<session>");
        const auto from = sessions_.upper_bound(key(a->first, *a->second));
        if (first != last) {
            if (from == sessions_.end() || (wt && from->first.first != *wt && from->first > first->first))
                first = last;  // past this listing
            else if (from->first > first->first)
                first = from;
        }
    }
    core::ListPageBuilder out(page, total, "show l2tp session");
    for (auto it = first; it != last; ++it) {
        if (!out.room()) {
            out.more();
            break;
        }
        out.add(session_json(*it->second, detail), std::to_string(it->first.first) + "/" + std::to_string(it->first.second));
    }
    return std::move(out).finish();
}

void Lns::register_commands(core::ControlServer& server) {
    auto id_of = [](const nlohmann::json& a) -> std::string {
        if (!a.contains("id")) return {};
        const auto& v = a["id"];
        return v.is_string() ? v.get<std::string>() : v.dump();
    };
    auto detail_of = [](const nlohmann::json& a) { return a.value("detail", false); };
    auto need_id = [id_of](const nlohmann::json& a, const char* what) {
        auto id = id_of(a);
        if (id.empty()) throw core::ControlError(std::string("which ") + what + "? (args.id)");
        return id;
    };
    auto addr = [](const std::string& id) {
        auto a = core::Ipv4Address::parse(id);
        if (!a) throw core::ControlError("destination '" + id + "' is not an IPv4 address");
        return *a;
    };
    server.add_handler("show l2tp", [this](const nlohmann::json&) { return show_summary(); }, "L2TP system summary");
    server.add_handler("show l2tp summary", [this](const nlohmann::json&) { return show_summary(); },
                       "L2TP system summary");
    server.add_handler(
        "show l2tp destination",
        [=, this](const nlohmann::json& a) { return show_destinations(id_of(a), detail_of(a), core::ListPage::parse(a)); },
        "destinations (remote L2TP peers): [id] [detail] [limit=N] [after=ADDRESS]");
    server.add_handler(
        "show l2tp tunnel",
        [=, this](const nlohmann::json& a) { return show_tunnels(id_of(a), detail_of(a), core::ListPage::parse(a)); },
        "tunnels: [id] [detail] [limit=N] [after=TUNNEL]");
    server.add_handler(
        "show l2tp session",
        [=, this](const nlohmann::json& a) { return show_sessions(id_of(a), detail_of(a), core::ListPage::parse(a)); },
        "sessions: [tunnel[/session]] [detail] [limit=N] [after=TUNNEL/SESSION]");
    auto tunnel_id = [](const std::string& id) {
        auto t = parse_u(id, 65535);
        if (!t || *t == 0) throw core::ControlError("tunnel '" + id + "' is not a Tunnel ID (1..65535)");
        return static_cast<std::uint16_t>(*t);
    };
    // Close (clear): what is there goes, new ones are accepted.
    server.add_handler(
        "l2tp clear system", [this](const nlohmann::json&) { return nlohmann::json{{"tunnels-cleared", clear_system()}}; },
        "close every tunnel (StopCCN 1) and session; new ones are accepted");
    server.add_handler(
        "l2tp clear destination",
        [=, this](const nlohmann::json& a) {
            return nlohmann::json{{"tunnels-cleared", clear_destination(addr(need_id(a, "destination")))}};
        },
        "close every tunnel and session of a destination");
    server.add_handler(
        "l2tp clear tunnel",
        [=, this](const nlohmann::json& a) {
            auto id = need_id(a, "tunnel");
            auto n = clear_tunnel(tunnel_id(id));
            if (n == 0) throw core::ControlError("no open tunnel " + id);
            return nlohmann::json{{"tunnels-cleared", n}};
        },
        "close a tunnel (StopCCN) and its sessions");
    auto session_id = [=](const nlohmann::json& a) {
        auto id = need_id(a, "session");
        auto slash = id.find('/');
        auto t = parse_u(std::string_view(id).substr(0, slash), 65535);
        auto s = slash == std::string::npos ? std::nullopt : parse_u(std::string_view(id).substr(slash + 1), 65535);
        if (!t || !s) throw core::ControlError("session '" + id + "' is not <tunnel>/<session>");
        return std::tuple{id, static_cast<std::uint16_t>(*t), static_cast<std::uint16_t>(*s)};
    };
    for (const char* verb : {"clear", "shutdown"}) {
        const bool shut = verb == std::string_view("shutdown");
        server.add_handler(
            std::string("l2tp ") + verb + " session",
            [=, this](const nlohmann::json& a) {
                auto [id, t, s] = session_id(a);
                if (!clear_session(t, s, l2tp::CdnResult::Administrative,
                                   shut ? "session shut down by administrator" : "session cleared by administrator"))
                    throw core::ControlError("no session " + id);
                return nlohmann::json{{"sessions-cleared", 1}};
            },
            "clear a session (CDN 3, administrative)");
    }
    // Shutdown / drain and their `no` forms (JunosE "Broadband Access Configuration Guide", L2TP
    // "Shutting Down Destinations, Tunnels, and Sessions"): system ("l2tp shutdown"), destination,
    // tunnel.
    const std::pair<const char*, AdminState> verbs[] = {{"shutdown", AdminState::shutdown},
                                                         {"drain", AdminState::drain},
                                                         {"no shutdown", AdminState::enabled},
                                                         {"no drain", AdminState::enabled}};
    for (const auto& [verb, state] : verbs) {
        const std::string v = verb;
        const AdminState st = state;
        const char* what = st == AdminState::shutdown ? "close what is there and accept nothing new"
                           : st == AdminState::drain  ? "keep what is there, accept nothing new"
                                                      : "accept new ones again";
        server.add_handler(
            "l2tp " + v,
            [=, this](const nlohmann::json&) {
                const auto n = set_system_state(st);
                return nlohmann::json{{"system", to_string(st)}, {"tunnels-closed", n}};
            },
            std::string("system level: ") + what);
        server.add_handler(
            "l2tp " + v + " destination",
            [=, this](const nlohmann::json& a) {
                auto d = addr(need_id(a, "destination"));
                const auto n = set_destination_state(d, st);
                return nlohmann::json{{"destination", d.to_string()}, {"state", to_string(st)}, {"tunnels-closed", n}};
            },
            std::string("destination level: ") + what);
        server.add_handler(
            "l2tp " + v + " tunnel",
            [=, this](const nlohmann::json& a) {
                auto id = need_id(a, "tunnel");
                auto n = set_tunnel_state(tunnel_id(id), st);
                if (!n) throw core::ControlError("no open tunnel " + id);
                return nlohmann::json{{"tunnel", tunnel_id(id)}, {"state", to_string(st)}, {"sessions-cleared", *n}};
            },
            std::string("tunnel level (its sessions): ") + what);
    }
    server.add_handler("show timers", [this](const nlohmann::json&) { return nlohmann::json::parse(registry_->to_json()); },
                       "configurable timers");
    server.add_handler("show memory", [](const nlohmann::json&) { return memory_json(); },
                       "lnsd's heap (malloc's own figures) and resident memory");
}

}  // namespace dl::lnsd
