// lnsd's L2TP data-message fast path: the data messages of established
// sessions (RFC 2661 §3.1) are parsed and framed here, in place, and sent in sendmmsg bursts on
// the L2TP UDP socket; control messages (and data for sessions this path does not know) stay on
// the engine's path. No heap allocation per packet after a session is added.
#pragma once

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "dl/dataplane/framing.hpp"
#include "dl/dataplane/packet_batch.hpp"
#include "dl/dataplane/udp_batch.hpp"
#include "dl/lnsd/pass_flush.hpp"
#include "dl/lnsd/rx_datagram.hpp"
#include "dl/lnsd/rx_index.hpp"

namespace dl::lnsd {

/// Counters of the data fast path ("rx" from the LACs, "tx" towards them).
struct DataPathCounters {
    std::uint64_t rx_data = 0;          ///< data messages of a known session handed up (PPP frame)
    std::uint64_t rx_malformed = 0;     ///< data messages (T=0) with a bad header: counted, dropped
    std::uint64_t rx_out_of_order = 0;  ///< sequenced data with an Ns older than expected (§5.9): dropped
    std::uint64_t rx_not_mine = 0;      ///< control messages and unknown sessions: left to the engine
    std::uint64_t tx_frames = 0;        ///< data messages queued for sending
    std::uint64_t tx_in_place = 0;      ///< of which framed in the headroom of the TUN batch (no copy)
    std::uint64_t tx_dropped = 0;       ///< unknown session, frame too large or no headroom
    std::uint64_t tx_fragmented = 0;    ///< IPv4 packets longer than the peer's MRU sent as fragments
    std::uint64_t tx_fragments = 0;     ///< … the fragments sent for them (RFC 791 §3.2)
    std::uint64_t tx_over_mru = 0;      ///< longer than the peer's MRU and DF set (or unsplittable): dropped
    std::uint64_t tx_sent = 0;          ///< accepted by the kernel (sendmmsg)
    std::uint64_t tx_would_block = 0;   ///< dropped: socket buffer full (EAGAIN)
    std::uint64_t tx_errors = 0;        ///< dropped: other send errors
    std::uint64_t tx_syscalls = 0;      ///< sendmmsg calls
    std::uint64_t tx_connected = 0;     ///< of tx_sent: sent on a peer's connected socket (no route look-up)
    std::uint64_t peer_sockets = 0;     ///< peers with sessions whose data goes on a connected socket now
    std::uint64_t peer_socket_refused = 0;  ///< peers whose data stayed on the shared socket (no connected one)
    std::uint64_t tx_icmp_refused = 0;  ///< ICMP errors (e.g. port unreachable) a connected socket reported
                                        ///< for earlier datagrams; the datagram is sent again, not lost
};

/// The data messages of the established sessions of one L2TP UDP socket.
///
/// Sessions are added when they are established (OCCN / ICCN) with the peer's Assigned Tunnel and
/// Session IDs and the sequencing decision, and removed when they end. `Key` is the owner's name
/// of a session (lnsd packs its CallHandle into it). Not thread-safe: one event-loop thread.
///
/// Sending: send_in_place() prepends PPP (FF 03 00 21, RFC 1662 §3.1 / RFC 1332 §2) and the L2TP
/// header into the headroom of a packet read from the TUN and queues it (flush() after the TUN
/// batch sends the burst with one sendmmsg); send_frame() copies a PPP frame into an internal
/// slot, prepends the L2TP header, queues it and flushes — at once, or, after defer_flush(), once
/// per pass of the owner's loop (every frame a pass produced in one sendmmsg). Ns is carried when
/// sequencing is on (RFC 2661 §5.4 Sequencing Required, or the peer sends sequenced data, §5.9).
/// Everything goes out in the order it was queued (one queue per socket, a session uses one).
///
/// The peer's MRU (RFC 1661 §6.1, from LCP: set_peer_mru) bounds every IPv4 packet sent: a longer
/// one is split into IPv4 fragments (RFC 791 §3.2; dataplane/ipv4_fragment.hpp), each its own data
/// message, or dropped and counted (tx_over_mru) when its DF flag forbids splitting (then
/// reported to `set_too_big`'s callback, for an ICMP Fragmentation Needed, RFC 1191 §4).
///
/// Connected sockets (set_peer_sockets): when a peer gets its first session, `open(peer)` is
/// asked for a UDP socket connected to it (lnsd: UdpEndpoint::connect_peer); that peer's data
/// messages are then sent on it with sendmmsg bursts of their own and no destination, so the
/// kernel uses the socket's cached route instead of looking one up per datagram (udp(7),
/// connect(2)). When its last session is removed, `close(peer)` gives the socket back. -1 from
/// `open` (a cap, an error) keeps the peer on the shared socket (counted peer_socket_refused).
///
/// Without a socket (set_socket(-1), e.g. the sans-I/O tests) each data message goes to the
/// `fallback` callback as a vector instead (allocation there is the caller's choice).
class DataPath {
public:
    using PeerId = std::uint64_t;  ///< (IPv4 << 16) | UDP port, as lnsd's peer_id()
    using Key = std::uint64_t;
    /// A data message's PPP frame (address/control included if present), for session `key`.
    using Deliver = std::function<void(Key key, std::span<const std::uint8_t> ppp)>;
    using Fallback = std::function<void(PeerId, std::vector<std::uint8_t>)>;
    /// An IPv4 packet for session `key` longer than its peer's MRU `mru` with DF set (dropped,
    /// counted tx_over_mru): the owner's chance to send an ICMP Fragmentation Needed (RFC 1191 §4).
    using TooBig = std::function<void(Key key, std::span<const std::uint8_t> ipv4, std::uint16_t mru)>;

    /// burst: most data messages per sendmmsg (1..1024); frame_size: largest PPP frame octets.
    /// std::invalid_argument if unusable.
    explicit DataPath(Deliver deliver, Fallback fallback = {}, std::size_t burst = 64, std::size_t frame_size = 2048);

    /// The L2TP UDP socket (non-blocking sends, MSG_DONTWAIT); -1: use the fallback. What is
    /// queued for the previous socket is sent first.
    void set_socket(int fd) noexcept;
    /// Queues `work` to run later on the owner's loop, once the current handler is done (lnsd:
    /// PassEnd::post(), pass_end.hpp, without allocation).
    using Post = PassFlush::Post;
    /// PPP frames (send_frame) then wait for one flush per pass of the owner's loop: a frame
    /// queued while no flush is posted posts one through `post` (at most one waits at a time), so
    /// the frames a pass produces (LCP, CHAP, IPCP of every call it served) leave in one sendmmsg
    /// per socket instead of one each. No allocation here (`work` holds one pointer); the owner's
    /// post must not allocate either to keep the path allocation-free (lnsd: PassEnd::post() queues
    /// into a list reserved up front; a plain boost::asio::post may allocate). The
    /// DataPath must outlive the posted work, or the loop must not run it after. An empty
    /// function (the default) sends each frame at once.
    void defer_flush(Post post);
    /// Per-peer connected sockets (see the class comment). Set before sessions are added: a
    /// session added earlier keeps the shared socket. Empty functions: none (the default).
    struct PeerSockets {
        std::function<int(PeerId)> open;    ///< fd of a socket connected to the peer, or -1
        std::function<void(PeerId)> close;  ///< the peer has no session left
    };
    void set_peer_sockets(PeerSockets s) { peer_sockets_ = std::move(s); }
    /// Called for each packet dropped because DF forbids fragmenting it (not for unsplittable or
    /// malformed ones); runs inside send_in_place / send_ipv4.
    void set_too_big(TooBig f) { too_big_ = std::move(f); }
    int socket() const noexcept { return fd_; }

    /// Adds (or replaces) an established session: data from `peer` addressed to our
    /// (local_tunnel, local_session) is delivered under `key`; data we send carries the peer's
    /// (peer_tunnel, peer_session). `expected_ns`: next data Ns expected from the peer (§5.9; the
    /// engine's, past the sequenced data it delivered before the hand-over, e.g. early data).
    /// Allocates (table entries); not on the per-packet path.
    void add(Key key, PeerId peer, std::uint16_t local_tunnel, std::uint16_t local_session, std::uint16_t peer_tunnel,
             std::uint16_t peer_session, bool sequencing, std::uint16_t expected_ns = 0);
    /// The MRU the peer announced in LCP (RFC 1661 §6.1; 1500 when it sent none): IPv4 packets
    /// longer than it are fragmented or dropped. 0: no bound (the default until LCP opens).
    /// False if the session is unknown (call it once the session is added: LCP runs over it).
    bool set_peer_mru(Key key, std::uint16_t mru) noexcept;
    /// Forgets a session (flushing what is queued for its peer; the last session of a peer gives
    /// its connected socket back); false if unknown.
    bool remove(Key key);
    bool contains(Key key) const { return by_key_.count(key) != 0; }
    std::size_t size() const noexcept { return by_key_.size(); }
    /// Whether the session currently sends Ns/Nr (false if unknown).
    bool sequencing(Key key) const;

    enum class Rx : std::uint8_t {
        delivered,  ///< a data message of a known session: its PPP frame went to `deliver`
        dropped,    ///< a malformed or late data message: counted, dropped
        not_mine,   ///< a control message, or data for a session not added here: give it to the engine
    };
    /// Classifies one received datagram (RFC 2661 §3.1 header) from `peer`. Never reads outside
    /// `datagram`; never throws.
    Rx receive(PeerId peer, std::span<const std::uint8_t> datagram) noexcept;

    /// Most datagrams receive_batch() looks up at once (a longer batch is taken in chunks of this).
    static constexpr std::size_t kRxChunk = 64;
    /// receive() for a batch of datagrams (e.g. one recvmmsg), with the same outcome, counters and
    /// order as calling receive() on each in turn, but with typed sinks instead of `deliver`, and
    /// with every session look-up of the batch done before the first delivery:
    ///  1. each datagram's header is parsed (parse_l2tp_data, RFC 2661 §3.1) and its index slot
    ///     prefetched (RxIndex::prefetch), then each is looked up (its (peer, tunnel, session)
    ///     index slot: the session's key and record; for a sequenced one the record is
    ///     prefetched too), so the cache misses of up to kRxChunk look-ups overlap instead of
    ///     each costing a round trip to memory between two TUN writes;
    ///  2. in order: a data message of a known session gets its §5.9 Ns check (late ones dropped,
    ///     counted rx_out_of_order) and `on_data(key, ppp)` (counted rx_data); a malformed one is
    ///     counted rx_malformed and dropped; a control message or the data of a session not added
    ///     here goes to `not_mine(peer, datagram)` (counted rx_not_mine).
    /// A sink may add or remove sessions (an engine handling a control message, a delivered frame
    /// ending a call): every add() / remove() moves a generation counter, and the datagrams after
    /// it in the chunk are looked up again, so each datagram sees the sessions as they are when
    /// its turn comes, as with receive(). `on_data(Key, std::span<const std::uint8_t>)`,
    /// `not_mine(PeerId, std::span<const std::uint8_t>)`: any callables (inlined: no type-erased
    /// hop per datagram). Never allocates; never reads outside a datagram. Not re-entrant: a sink
    /// must not call receive_batch() (pass 1's results live in the DataPath, one chunk's worth).
    template <class OnData, class NotMine>
    void receive_batch(std::span<const RxDatagram> batch, OnData&& on_data, NotMine&& not_mine);

    /// IPv4 packet → session, framed in place (needs ≥ dataplane::kMaxEncapHeader octets of
    /// headroom). Queued: call flush() after the batch. False (counted) if unknown or no room.
    bool send_in_place(Key key, dataplane::Packet& ipv4) noexcept;
    enum class Tx : std::uint8_t {
        queued,    ///< framed in place and queued (flush() after the batch)
        dropped,   ///< a known session, but no headroom, over the MRU with DF, or the queue refused: counted
        not_mine,  ///< no such session here: nothing counted, the packet untouched (the caller's slow path)
    };
    /// send_in_place with one look-up for the owner's choice between this path and its engine's
    /// (Lns::send_ipv4): an unknown session is `not_mine`, not counted as dropped.
    Tx offer_in_place(Key key, dataplane::Packet& ipv4) noexcept;
    /// An IPv4 packet not in a batch (e.g. a buffered dial-out trigger): copied, framed, sent now.
    bool send_ipv4(Key key, std::span<const std::uint8_t> ipv4) noexcept;
    /// A PPP frame (FF 03 + protocol + information, from the PPP engine): copied, sent now — or
    /// at the end of the loop's pass after defer_flush().
    bool send_frame(Key key, std::span<const std::uint8_t> ppp) noexcept;
    /// Sends everything queued (one sendmmsg per burst, more only on partial sends).
    void flush() noexcept;
    /// Datagrams queued and not yet sent, on the shared socket and the peers' connected ones.
    std::size_t pending() const noexcept;

    const DataPathCounters& counters() const noexcept;

private:
    /// A peer whose data goes on its own connected socket, with its own sendmmsg queue.
    struct Peer {
        explicit Peer(std::size_t burst) : sender(burst, /*nonblocking=*/true) {}
        int fd = -1;
        std::size_t sessions = 0;
        dataplane::UdpBatchSender sender;
        bool dirty = false;  // in dirty_: something queued since the last flush
        std::uint64_t sent = 0, would_block = 0, errors = 0, syscalls = 0, refused = 0;  // sender's, counted so far
    };
    struct Session {
        Key key = 0;
        PeerId peer = 0;
        Peer* via = nullptr;  // its peer's connected socket (a node of peers_), or the shared one
        std::uint32_t rx_ids = 0;  // (local tunnel << 16) | local session
        dataplane::DataEncap encap;
        std::uint16_t expected_ns = 0;  // next Ns expected from the peer (§5.9)
        std::uint16_t peer_mru = 0;     // longest IPv4 packet per frame (RFC 1661 §6.1); 0 = unbounded
        sockaddr_in to{};
    };
    // The receive index's value (by_rx_, below): the session's key and its node of by_key_.
    struct RxEntry {
        Session* session = nullptr;
        Key key = 0;
    };
    /// What pass 1 of receive_batch() found for one datagram.
    struct RxLookup {
        enum class Kind : std::uint8_t { control, malformed, data } kind = Kind::control;
        bool has_ns = false;
        std::uint16_t ns = 0;
        std::uint32_t ids = 0;   // (tunnel << 16) | session, as the message names them
        std::uint32_t hash = 0;  // RxIndex::prefetch's
        const std::uint8_t* ppp = nullptr;
        std::size_t ppp_size = 0;
        RxEntry entry{};  // session == nullptr: not found (at generation rx_lookup_generation_)
    };
    /// Pass 1 of receive_batch() over `chunk` (≤ kRxChunk datagrams) into rx_lookup_.
    void look_up_batch(std::span<const RxDatagram> chunk) noexcept;
    /// The Ns check of receive() (§5.9) for `s`: false if the message is late (counted).
    bool accept_ns(Session& s, std::uint16_t ns) noexcept;

    bool queue(Session& s, std::span<const std::uint8_t> datagram) noexcept;
    /// `ipv4` longer than s.peer_mru: its fragments copied, framed and queued (or dropped, counted).
    bool send_fragments(Session& s, std::span<const std::uint8_t> ipv4) noexcept;
    dataplane::Packet* copy_slot(std::size_t need) noexcept;
    /// After a frame is queued: flush() now, or once at the end of the pass (defer_flush).
    void flush_later() noexcept;
    /// Sends what `p` has queued and adds its sender's new totals to the counters.
    void flush_peer(Peer& p) noexcept;
    /// The session's peer loses a session: flushed and given back when it was the last.
    void leave_peer(Session& s);

    Deliver deliver_;
    Fallback fallback_;
    TooBig too_big_;
    int fd_ = -1;
    std::unordered_map<Key, Session> by_key_;
    // (peer, local tunnel, local session) → the session's key and its node of by_key_ (stable):
    // the receive look-up, one flat open-addressed table (rx_index.hpp), CSPRNG-keyed, one entry
    // per session. The key is in the slot: unsequenced data needs nothing else of the Session.
    RxIndex<RxEntry> by_rx_;
    std::uint64_t generation_ = 0;  // moved by every add() and remove(): receive_batch's look-ups are stale
    RxLookup rx_lookup_[kRxChunk];  // receive_batch's pass 1, per datagram of the chunk
    std::uint64_t rx_lookup_generation_ = 0;
    dataplane::UdpBatchSender sender_;  // the shared socket's queue
    PeerSockets peer_sockets_;
    std::size_t burst_;
    std::unordered_map<PeerId, std::unique_ptr<Peer>> peers_;
    std::vector<Peer*> dirty_;       // peers with queued datagrams; capacity ≥ peers_.size()
    std::uint64_t peer_sent_ = 0, peer_would_block_ = 0, peer_errors_ = 0, peer_syscalls_ = 0, peer_refused_ = 0;
    dataplane::PacketBatch copies_;  // frames sent by copy; reset at every flush
    PassFlush pass_flush_{[this] { flush(); }};  // defer_flush(); none: send_frame flushes at once
    mutable DataPathCounters counters_;
};

template <class OnData, class NotMine>
void DataPath::receive_batch(std::span<const RxDatagram> batch, OnData&& on_data, NotMine&& not_mine) {
    while (!batch.empty()) {
        const std::size_t n = batch.size() < kRxChunk ? batch.size() : kRxChunk;
        const std::span<const RxDatagram> chunk = batch.first(n);
        batch = batch.subspan(n);
        look_up_batch(chunk);
        for (std::size_t i = 0; i < n; ++i) {
            RxLookup& l = rx_lookup_[i];
            if (l.kind == RxLookup::Kind::malformed) {
                ++counters_.rx_malformed;
                continue;
            }
            if (l.kind == RxLookup::Kind::data && rx_lookup_generation_ != generation_) {
                // A sink added or removed a session since pass 1: this one's look-up again.
                const RxEntry* e = by_rx_.find(chunk[i].peer, l.ids, l.hash);
                l.entry = e ? *e : RxEntry{};
            }
            if (l.kind == RxLookup::Kind::control || !l.entry.session) {
                ++counters_.rx_not_mine;  // the engine counts it (unknown session) and logs it
                not_mine(chunk[i].peer, chunk[i].bytes);
                continue;
            }
            if (l.has_ns && !accept_ns(*l.entry.session, l.ns)) continue;
            ++counters_.rx_data;
            on_data(l.entry.key, std::span<const std::uint8_t>(l.ppp, l.ppp_size));
        }
    }
}

}  // namespace dl::lnsd
