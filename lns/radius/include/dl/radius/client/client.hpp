// The sans-I/O RADIUS client core (RFC 2865 §2.4 / §2.5, RFC 2866 §2, RFC 5080 §2.2.1, RFC 3579 §3.2).
// Datagrams in as bytes (on_datagram), datagrams out through a send callback, time from a TimerQueue;
// no sockets, no threads. One Client serves every virtual router of the LNS.
#pragma once
#include <array>
#include <bitset>
#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dl/core/clock.hpp"
#include "dl/core/timer_queue.hpp"
#include "dl/radius/radius.hpp"

namespace dl::core {
class EventBus;
class TimerRegistry;
}  // namespace dl::core

namespace dl::radius::client {

/// A UDP endpoint: IPv4 address in host byte order and UDP port.
struct Endpoint {
    std::uint32_t address = 0;
    std::uint16_t port = 0;
    std::string to_string() const;  ///< "192.0.2.1:1812"
    friend auto operator<=>(const Endpoint&, const Endpoint&) = default;
};

/// One RADIUS server: where, its shared secret (RFC 2865 §3), and whether its Access-* replies
/// must carry a Message-Authenticator (RFC 3579 §3.2; an absent one is then dropped and counted).
struct Server {
    Endpoint endpoint;
    std::string secret;
    bool require_message_authenticator = false;
};

/// Which server list a request goes to.
enum class Service : std::uint8_t { authentication, accounting };

/// Ordered server lists of one virtual router: the first live server is used, the next ones on
/// fail-over (RFC 2865 §2.4 leaves the policy to the client; ours: in list order, dead servers skipped).
struct ServerGroup {
    std::vector<Server> authentication;
    std::vector<Server> accounting;
};

/// How a request ended.
enum class Result : std::uint8_t {
    accept,     ///< Access-Accept or Accounting-Response
    reject,     ///< Access-Reject (or an Access-Challenge, which this client does not pursue)
    timeout,    ///< every server of the list failed (retries exhausted on each)
    cancelled,  ///< cancel() was called
};
std::string_view to_string(Result r) noexcept;

/// Completion of a request, handed to its callback exactly once.
///  - reply: the verified reply (accept / reject), nullopt for timeout / cancelled;
///  - request_authenticator: of the last transmission (needed e.g. to decrypt Tunnel-Password,
///    RFC 2868 §3.5);
///  - server: the server that answered (or the last one tried), with its secret; valid during
///    the callback only (copy what you keep).
struct Completion {
    Result result = Result::timeout;
    std::optional<Radius> reply;
    Authenticator request_authenticator{};
    const Server* server = nullptr;
    std::uint32_t transmissions = 0;  ///< datagrams sent for this request, all servers
};

/// Handle of a submitted request (slot + generation; a stale handle is harmless).
struct RequestHandle {
    std::uint32_t slot = 0;
    std::uint32_t generation = 0;
    explicit operator bool() const noexcept { return generation != 0; }
};

/// Reasons a datagram is dropped, counted one by one (never acted on).
struct DropCounters {
    std::uint64_t malformed = 0;                      ///< not a parseable RADIUS packet
    std::uint64_t wrong_source = 0;                   ///< not from a configured server endpoint
    std::uint64_t unknown_identifier = 0;             ///< no outstanding request with that Identifier
    std::uint64_t duplicate = 0;                      ///< reply to an already-completed request
    std::uint64_t unexpected_code = 0;                ///< e.g. Accounting-Response to an Access-Request
    std::uint64_t bad_authenticator = 0;              ///< Response Authenticator mismatch (RFC 2865 §3)
    std::uint64_t bad_message_authenticator = 0;      ///< RFC 3579 §3.2 mismatch
    std::uint64_t missing_message_authenticator = 0;  ///< required by the server config, absent
};

/// Activity counters.
struct Counters {
    std::uint64_t submitted = 0;
    std::uint64_t transmissions = 0;    ///< first sends, on every server
    std::uint64_t retransmissions = 0;  ///< same Identifier and Authenticator again
    std::uint64_t failovers = 0;        ///< moves to the next server
    std::uint64_t queued = 0;           ///< had to wait for a free Identifier (256 outstanding)
    std::uint64_t accepts = 0, rejects = 0, timeouts = 0, cancelled = 0;
    std::uint64_t servers_marked_dead = 0, servers_revived = 0;
    DropCounters dropped;
};

/// Timer names registered by the client (if absent from the registry):
///  radius-timeout 3s [100ms..1m], radius-dead-time 60s [0s..1h].
inline constexpr std::string_view kTimerTimeout = "radius-timeout";
inline constexpr std::string_view kTimerDeadTime = "radius-dead-time";
void register_timers(core::TimerRegistry& registry);

/// The RADIUS client. Not thread-safe: one instance per event loop.
///
/// Behaviour:
///  - submit(): the packet is finished per server: Identifier chosen among those not outstanding
///    towards that server (RFC 5080 §2.2.1; sequential, so a freed one is not reused at once),
///    random Request Authenticator for Access-Request (RFC 2865 §3), User-Password hidden with the
///    server's secret (RFC 2865 §5.2), Message-Authenticator added to every Access-Request
///    (RFC 3579 §3.2), Accounting Request Authenticator (RFC 2866 §3).
///  - no answer within radius-timeout: the SAME datagram (same Identifier and Authenticator) is
///    sent again, `retries` times (RFC 5080 §2.2.1); then the server is marked dead for
///    radius-dead-time and the request moves to the next live server of the list, re-signed with a
///    new Identifier; after the last server the request completes with Result::timeout.
///  - a dead server is revived when its dead time has passed (or when it answers). When every
///    server of a list is dead, the list is tried in order anyway.
///  - 256 requests outstanding towards a server: further ones wait in a FIFO queue (state `queued`).
///  - every reply is verified (source endpoint, Identifier, Code, Response Authenticator,
///    Message-Authenticator); any failure is dropped and counted in counters().dropped.
///  - each request is a table FSM (entity "radius.request"; states queued, wait-reply, accepted,
///    rejected, timed-out, cancelled) publishing one Event per transition on the EventBus.
///  - the completion callback runs inside on_datagram() or a timer callback; it may call submit()
///    and cancel(). Request memory is released on a zero-delay timer afterwards.
class Client {
public:
    using SendFn = std::function<void(const Endpoint& server, std::span<const std::uint8_t> datagram)>;
    using Callback = std::function<void(const Completion&)>;
    struct Options {
        unsigned retries = 3;  ///< retransmissions per server after the first send
    };

    /// `registry` must hold (or gets, via register_timers) radius-timeout and radius-dead-time;
    /// `bus` may be null (no events). All referenced objects must outlive the client.
    Client(core::TimerQueue& timers, core::TimerRegistry& registry, core::EventBus* bus, SendFn send,
           Options options);
    Client(core::TimerQueue& timers, core::TimerRegistry& registry, core::EventBus* bus, SendFn send);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    /// Sets (replaces) the server lists of virtual router `vr` ("default" …). Requests in flight
    /// keep the lists they started with until they finish.
    void set_servers(std::string_view vr, ServerGroup group);
    const ServerGroup* servers(std::string_view vr) const;

    /// Submits a request. `packet`: Code Access-Request or Accounting-Request with its attributes
    /// (Identifier/Authenticator are set here). `user_password`: hidden per server as User-Password.
    /// Throws std::invalid_argument for an unknown vr, an empty server list or another Code.
    RequestHandle submit(std::string_view vr, Service service, Radius packet, Callback done,
                         std::optional<std::string> user_password = std::nullopt);

    /// Cancels an unfinished request: its callback runs with Result::cancelled. False if stale.
    bool cancel(RequestHandle h);

    /// A datagram received from `from` (on the client's socket). Verified, then acted on or dropped.
    void on_datagram(const Endpoint& from, std::span<const std::uint8_t> datagram);

    const Counters& counters() const noexcept { return counters_; }
    std::size_t outstanding() const noexcept;  ///< requests in wait-reply
    std::size_t queued() const noexcept;       ///< requests in queued
    /// True if `server` is currently marked dead.
    bool is_dead(const Endpoint& server) const;
    /// Bytes of one in-flight request object (for the memory budget; excludes the packet's heap).
    static std::size_t request_size() noexcept;

    struct Request;      // internal
    struct ServerState;  // internal

private:
    friend struct Request;
    ServerState& state_for(const Endpoint& e);
    bool assign_id(Request& r);
    void enqueue(Request& r);
    void send_current(Request& r);
    void on_timer_expiry(Request& r, void* step);
    void finish(Request& r, Result res);
    void arm_completion(Request& r);
    void complete_if_done(RequestHandle h);
    void release_id(Request& r);
    void drain_queue(ServerState& s);
    bool alive(ServerState& s);
    void mark_dead(ServerState& s);
    void publish_server(const ServerState& s, std::string_view from, std::string_view to,
                        std::string_view event, std::string cause);
    Request* lookup(RequestHandle h) const noexcept;

    core::TimerQueue& timers_;
    core::TimerRegistry& registry_;
    core::EventBus* bus_;
    SendFn send_;
    Options options_;
    std::map<std::string, std::shared_ptr<const ServerGroup>, std::less<>> groups_;
    std::map<Endpoint, std::unique_ptr<ServerState>> servers_;
    std::vector<std::unique_ptr<Request>> slots_;
    std::vector<std::uint32_t> generations_;
    std::vector<std::uint32_t> free_slots_;
    std::uint64_t next_serial_ = 1;
    Counters counters_;
};

}  // namespace dl::radius::client
