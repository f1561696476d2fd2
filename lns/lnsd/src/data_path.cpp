#include "dl/lnsd/data_path.hpp"

#include <arpa/inet.h>

#include <cstring>
#include <stdexcept>
#include <vector>

#include "dl/dataplane/ipv4_fragment.hpp"
#include "dl/l2tp/engine/engine.hpp"

namespace dl::lnsd {

namespace dp = dataplane;

namespace {
/// RFC 1982-style serial comparison of 16-bit sequence numbers (RFC 2661 §5.8).
bool seq_lt(std::uint16_t a, std::uint16_t b) noexcept { return static_cast<std::int16_t>(a - b) < 0; }
constexpr std::size_t kHeadroom = 16;  // ≥ dp::kMaxEncapHeader (14)
}  // namespace

DataPath::DataPath(Deliver deliver, Fallback fallback, std::size_t burst, std::size_t frame_size)
    : deliver_(std::move(deliver)), fallback_(std::move(fallback)), sender_(burst, /*nonblocking=*/true),
      burst_(burst), copies_(burst, frame_size, kHeadroom) {}

void DataPath::add(Key key, PeerId peer, std::uint16_t local_tunnel, std::uint16_t local_session,
                   std::uint16_t peer_tunnel, std::uint16_t peer_session, bool sequencing, std::uint16_t expected_ns) {
    remove(key);
    ++generation_;  // receive_batch: look the rest of its chunk up again
    Session s;
    s.key = key;
    s.peer = peer;
    s.rx_ids = (std::uint32_t{local_tunnel} << 16) | local_session;
    s.encap.tunnel_id = peer_tunnel;
    s.encap.session_id = peer_session;
    s.encap.sequence = sequencing;
    s.expected_ns = expected_ns;
    s.to.sin_family = AF_INET;
    s.to.sin_addr.s_addr = htonl(static_cast<std::uint32_t>(peer >> 16));
    s.to.sin_port = htons(static_cast<std::uint16_t>(peer & 0xFFFF));
    if (auto p = peers_.find(peer); p != peers_.end()) {
        s.via = p->second.get();
    } else if (peer_sockets_.open) {
        const int fd = peer_sockets_.open(peer);
        if (fd >= 0) {
            auto rec = std::make_unique<Peer>(burst_);
            rec->fd = fd;
            s.via = rec.get();
            dirty_.reserve(peers_.size() + 1);  // flush() never allocates
            peers_.emplace(peer, std::move(rec));
        } else {
            ++counters_.peer_socket_refused;
        }
    }
    if (s.via) ++s.via->sessions;
    auto [it, ok] = by_key_.emplace(key, s);
    (void)ok;
    // A stale entry for the same (peer, tunnel, session) belongs to an ended session: replace it.
    by_rx_.insert_or_assign(peer, s.rx_ids, RxEntry{&it->second, key});
}

bool DataPath::remove(Key key) {
    auto it = by_key_.find(key);
    if (it == by_key_.end()) return false;
    ++generation_;  // receive_batch: look the rest of its chunk up again
    by_rx_.erase_if(it->second.peer, it->second.rx_ids,
                    [&](const RxEntry& e) { return e.session == &it->second; });
    leave_peer(it->second);
    by_key_.erase(it);
    return true;
}

void DataPath::leave_peer(Session& s) {
    Peer* p = s.via;
    s.via = nullptr;
    if (!p || --p->sessions > 0) return;
    flush_peer(*p);  // what the batch queued for it leaves first
    if (p->dirty) std::erase(dirty_, p);
    peers_.erase(s.peer);
    if (peer_sockets_.close) peer_sockets_.close(s.peer);
}

void DataPath::flush_peer(Peer& p) noexcept {
    if (p.sender.pending() > 0) p.sender.flush(p.fd);
    peer_sent_ += p.sender.sent() - p.sent;
    peer_would_block_ += p.sender.would_block() - p.would_block;
    peer_errors_ += p.sender.errors() - p.errors;
    peer_syscalls_ += p.sender.syscalls() - p.syscalls;
    peer_refused_ += p.sender.refused() - p.refused;
    p.refused = p.sender.refused();
    p.sent = p.sender.sent();
    p.would_block = p.sender.would_block();
    p.errors = p.sender.errors();
    p.syscalls = p.sender.syscalls();
}

bool DataPath::set_peer_mru(Key key, std::uint16_t mru) noexcept {
    auto it = by_key_.find(key);
    if (it == by_key_.end()) return false;
    it->second.peer_mru = mru;
    return true;
}

bool DataPath::sequencing(Key key) const {
    auto it = by_key_.find(key);
    return it != by_key_.end() && it->second.encap.sequence;
}

DataPath::Rx DataPath::receive(PeerId peer, std::span<const std::uint8_t> d) noexcept {
    if (d.empty() || (d[0] & 0x80)) {  // T=1: a control message (RFC 2661 §3.1)
        ++counters_.rx_not_mine;
        return Rx::not_mine;
    }
    dp::DecapError err = dp::DecapError::none;
    const auto m = dp::parse_l2tp_data(d, &err);
    if (!m) {
        ++counters_.rx_malformed;
        return Rx::dropped;
    }
    const RxEntry* const found = by_rx_.find(peer, (std::uint32_t{m->tunnel_id} << 16) | m->session_id);
    if (!found) {
        ++counters_.rx_not_mine;  // the engine counts it (unknown session) and logs it
        return Rx::not_mine;
    }
    const Key key = found->key;  // deliver_ may add or remove sessions: copy before the call
    if (m->ns && !accept_ns(*found->session, *m->ns)) return Rx::dropped;
    ++counters_.rx_data;
    if (deliver_) deliver_(key, m->ppp);
    return Rx::delivered;
}

bool DataPath::accept_ns(Session& s, std::uint16_t ns) noexcept {
    // §5.9: once the peer sends sequenced data we sequence ours too; an Ns older than the
    // expected one is a late (reordered) packet and is dropped; Nr on data is ignored (§3.1).
    s.encap.sequence = true;
    if (seq_lt(ns, s.expected_ns)) {
        ++counters_.rx_out_of_order;
        return false;
    }
    s.expected_ns = static_cast<std::uint16_t>(ns + 1);
    return true;
}

void DataPath::look_up_batch(std::span<const RxDatagram> chunk) noexcept {
    rx_lookup_generation_ = generation_;
    const std::size_t n = chunk.size();
    // Parse every header and prefetch its index slot: the misses of the batch overlap ...
    for (std::size_t i = 0; i < n; ++i) {
        RxLookup& l = rx_lookup_[i];
        const std::span<const std::uint8_t> d = chunk[i].bytes;
        if (d.empty() || (d[0] & 0x80)) {  // T=1: a control message (RFC 2661 §3.1)
            l.kind = RxLookup::Kind::control;
            continue;
        }
        dp::DecapError err = dp::DecapError::none;
        const auto m = dp::parse_l2tp_data(d, &err);
        if (!m) {
            l.kind = RxLookup::Kind::malformed;
            continue;
        }
        l.kind = RxLookup::Kind::data;
        l.has_ns = m->ns.has_value();
        l.ns = m->ns.value_or(0);
        l.ids = (std::uint32_t{m->tunnel_id} << 16) | m->session_id;
        l.ppp = m->ppp.data();
        l.ppp_size = m->ppp.size();
        l.hash = by_rx_.prefetch(chunk[i].peer, l.ids);
    }
    // ... then each is found (its slot now arriving or in the cache); a sequenced message's
    // session record, needed for its Ns check, is prefetched in turn.
    for (std::size_t i = 0; i < n; ++i) {
        RxLookup& l = rx_lookup_[i];
        if (l.kind != RxLookup::Kind::data) continue;
        const RxEntry* e = by_rx_.find(chunk[i].peer, l.ids, l.hash);
        l.entry = e ? *e : RxEntry{};
        if (e && l.has_ns) __builtin_prefetch(e->session);
    }
}

bool DataPath::queue(Session& s, std::span<const std::uint8_t> datagram) noexcept {
    ++counters_.tx_frames;
    if (fd_ < 0) {
        if (fallback_) {
            try {
                fallback_(s.peer, std::vector<std::uint8_t>(datagram.begin(), datagram.end()));
            } catch (...) {
                ++counters_.tx_dropped;
                return false;
            }
        }
        return true;
    }
    if (s.via) {
        Peer& p = *s.via;
        if (!p.dirty) {
            p.dirty = true;
            dirty_.push_back(&p);  // capacity reserved in add(): no allocation
        }
        if (!p.sender.add(p.fd, datagram)) {
            ++counters_.tx_dropped;
            return false;
        }
        return true;
    }
    if (!sender_.add(fd_, datagram, &s.to)) {
        ++counters_.tx_dropped;
        return false;
    }
    return true;
}

bool DataPath::send_fragments(Session& s, std::span<const std::uint8_t> ipv4) noexcept {
    const auto plan = dp::plan_ipv4_fragments(ipv4, s.peer_mru);
    if (plan.verdict != dp::FragmentVerdict::fragment) {
        ++counters_.tx_over_mru;
        ++counters_.tx_dropped;
        if (plan.verdict == dp::FragmentVerdict::dont_fragment && too_big_) too_big_(s.key, ipv4, s.peer_mru);
        return false;
    }
    for (std::size_t k = 0; k < plan.count; ++k) {
        dp::Packet* p = copy_slot(dp::ipv4_fragment_size(ipv4, plan, k));
        if (!p || dp::write_ipv4_fragment(ipv4, plan, k, p->bytes()) == 0 || dp::prepend_l2tp_ppp(*p, s.encap) == 0) {
            ++counters_.tx_dropped;
            return false;
        }
        if (!queue(s, p->bytes())) return false;
        ++counters_.tx_fragments;
    }
    ++counters_.tx_fragmented;
    return true;
}

DataPath::Tx DataPath::offer_in_place(Key key, dp::Packet& ipv4) noexcept {
    auto it = by_key_.find(key);
    if (it == by_key_.end()) return Tx::not_mine;
    Session& s = it->second;
    if (s.peer_mru && ipv4.length > s.peer_mru)  // queued with the batch, flushed after it
        return send_fragments(s, ipv4.bytes()) ? Tx::queued : Tx::dropped;
    if (dp::prepend_l2tp_ppp(ipv4, s.encap) == 0) {
        ++counters_.tx_dropped;
        return Tx::dropped;
    }
    ++counters_.tx_in_place;
    return queue(s, ipv4.bytes()) ? Tx::queued : Tx::dropped;
}

bool DataPath::send_in_place(Key key, dp::Packet& ipv4) noexcept {
    const Tx t = offer_in_place(key, ipv4);
    if (t == Tx::not_mine) ++counters_.tx_dropped;
    return t == Tx::queued;
}

dp::Packet* DataPath::copy_slot(std::size_t need) noexcept {
    if (need > copies_.buffer_size()) return nullptr;
    if (copies_.full()) flush();
    dp::Packet* p = copies_.next_free();
    if (!p) return nullptr;
    copies_.commit(need);
    return &copies_[copies_.size() - 1];
}

bool DataPath::send_ipv4(Key key, std::span<const std::uint8_t> ipv4) noexcept {
    auto it = by_key_.find(key);
    if (it != by_key_.end() && it->second.peer_mru && ipv4.size() > it->second.peer_mru) {
        const bool ok = send_fragments(it->second, ipv4);
        flush();
        return ok;
    }
    dp::Packet* p = it == by_key_.end() ? nullptr : copy_slot(ipv4.size());
    if (!p) {
        ++counters_.tx_dropped;
        return false;
    }
    if (!ipv4.empty()) std::memcpy(p->data, ipv4.data(), ipv4.size());
    if (dp::prepend_l2tp_ppp(*p, it->second.encap) == 0) {
        ++counters_.tx_dropped;
        return false;
    }
    const bool ok = queue(it->second, p->bytes());
    flush();
    return ok;
}

bool DataPath::send_frame(Key key, std::span<const std::uint8_t> ppp) noexcept {
    auto it = by_key_.find(key);
    dp::Packet* p = it == by_key_.end() ? nullptr : copy_slot(ppp.size());
    if (!p) {
        ++counters_.tx_dropped;
        return false;
    }
    if (!ppp.empty()) std::memcpy(p->data, ppp.data(), ppp.size());
    if (dp::prepend_l2tp(*p, it->second.encap) == 0) {
        ++counters_.tx_dropped;
        return false;
    }
    // RFC 2661 §3.1: the P bit on PPP control frames (LCP, authentication, NCPs).
    if (l2tp::engine::ppp_priority(ppp)) p->data[0] |= 0x01;
    const bool ok = queue(it->second, p->bytes());
    flush_later();
    return ok;
}

void DataPath::defer_flush(Post post) { pass_flush_.defer(std::move(post)); }

void DataPath::flush_later() noexcept { pass_flush_.request(); }

void DataPath::set_socket(int fd) noexcept {
    if (fd != fd_) flush();
    fd_ = fd;
}

std::size_t DataPath::pending() const noexcept {
    std::size_t n = sender_.pending();
    for (const Peer* p : dirty_) n += p->sender.pending();
    return n;
}

void DataPath::flush() noexcept {
    if (fd_ >= 0 && sender_.pending() > 0) sender_.flush(fd_);
    for (Peer* p : dirty_) {
        flush_peer(*p);
        p->dirty = false;
    }
    dirty_.clear();
    copies_.reset();
}

const DataPathCounters& DataPath::counters() const noexcept {
    counters_.tx_sent = sender_.sent() + peer_sent_;
    counters_.tx_connected = peer_sent_;
    counters_.tx_would_block = sender_.would_block() + peer_would_block_;
    counters_.tx_errors = sender_.errors() + peer_errors_;
    counters_.tx_syscalls = sender_.syscalls() + peer_syscalls_;
    counters_.peer_sockets = peers_.size();
    counters_.tx_icmp_refused = sender_.refused() + peer_refused_;
    return counters_;
}

}  // namespace dl::lnsd
