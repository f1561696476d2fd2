// Structured events: every state transition is one Event (docs/architecture.md "Events"); they go to the
// JSON-lines log and to control-API subscribers. Conformance tests assert on events, never on text logs.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "dl/core/clock.hpp"

namespace dl::core {

/// The timer an event armed: registry name and the duration it was armed for.
struct TimerArmed {
    std::string name;
    Duration duration{};
    friend bool operator==(const TimerArmed&, const TimerArmed&) = default;
};

/// One structured event.
///  - time_ns: nanoseconds since the publishing clock's epoch (EventBus stamps it); wall: UTC time.
///  - entity: kind of object, dotted ("dialout.session", "l2tp.tunnel", "ppp.lcp").
///  - id: identity of the object ("default/10.10.0.0/16/10.10.1.1", tunnel id…).
///  - from / to: states of a transition (empty for events that are not transitions).
///  - event: what happened ("trigger", "timer-expiry", "SCCRP-received").
///  - cause: why, free text or a result code ("no answer", "RFC 2661 result code 2").
///  - timer: the timer armed by the transition, if any.
///  - permitted: false when an FSM refused the event in its current state (from == to).
///  - extra: further fields, a JSON object.
struct Event {
    static constexpr std::int64_t kUnstamped = std::numeric_limits<std::int64_t>::min();

    std::int64_t time_ns = kUnstamped;
    WallTime wall{};
    std::string entity;
    std::string id;
    std::string from;
    std::string to;
    std::string event;
    std::string cause;
    std::optional<TimerArmed> timer;
    bool permitted = true;
    nlohmann::json extra = nlohmann::json::object();

    /// {"time_ns","time"(ISO 8601 UTC),"entity","id","from","to","event","cause",
    ///  "timer":{"name","duration","duration_ns"} (only if armed), "permitted" (only if false),
    ///  "extra" (only if non-empty)}.
    nlohmann::json to_json() const;
    /// Appends to_json().dump() (compact, UTF-8 kept, invalid UTF-8 replaced) to `out` without
    /// building the JSON object: what JsonLinesSink writes per event (docs/performance.md).
    void append_json_line(std::string& out) const;
    /// Inverse of to_json (missing fields take their defaults). nlohmann::json::exception on
    /// wrongly typed fields.
    static Event from_json(const nlohmann::json& j);
};

/// The fixed one-line text of an event used by golden logs (time relative to `origin`):
///   "+1.500000s dialout.session default/10.10.1.1: connecting -> inhibited on timer-expiry (cause=no answer) [timer inhibited=30s]"
///   "+2.000000s toy.door d1: closed: push NOT PERMITTED (cause=button)"
///   "+0.000000s l2tp.tunnel 7: malformed (cause=...)"            (no from/to)
/// A non-empty `extra` is appended as compact JSON with sorted keys.
std::string format_golden(const Event& e, TimePoint origin = TimePoint{});

/// Which events a subscriber wants. entity "" = all; "ppp" matches "ppp" and "ppp.lcp" (dotted
/// prefix); id "" = all ids, else exact.
struct EventFilter {
    std::string entity;
    std::string id;
    bool matches(const Event& e) const noexcept;
};

/// Synchronous publish/subscribe of events within one event-loop thread.
/// Callbacks run inside publish(), in subscription order; they may publish, subscribe and
/// unsubscribe re-entrantly (a subscriber added during delivery does not see the current event;
/// one removed during delivery gets no further events). Not thread-safe.
class EventBus {
public:
    using Callback = std::function<void(const Event&)>;
    using SubscriptionId = std::uint64_t;

    /// `clock` stamps events published without a time.
    explicit EventBus(const Clock& clock) noexcept : clock_(&clock) {}
    EventBus(const EventBus&) = delete;
    EventBus& operator=(const EventBus&) = delete;

    const Clock& clock() const noexcept { return *clock_; }

    SubscriptionId subscribe(EventFilter filter, Callback cb);
    /// Returns false if the id is unknown (already removed).
    bool unsubscribe(SubscriptionId id) noexcept;

    /// Stamps time_ns / wall from the clock if time_ns == kUnstamped, then delivers to matching
    /// subscribers. With no subscriber this is a counter increment (the Event is not copied).
    void publish(Event e);

    bool has_subscribers() const noexcept { return live_ != 0; }
    std::size_t subscriber_count() const noexcept { return live_; }
    std::uint64_t published_count() const noexcept { return published_; }

private:
    struct Sub {
        SubscriptionId id;
        EventFilter filter;
        std::shared_ptr<const Callback> cb;  // null once unsubscribed during delivery
    };
    const Clock* clock_;
    std::vector<Sub> subs_;
    std::size_t live_ = 0;
    int depth_ = 0;
    bool dirty_ = false;
    SubscriptionId next_id_ = 1;
    std::uint64_t published_ = 0;
};

/// When a daemon's event log reaches the file (config key `events-flush`).
///  - line (default): every event is written before publish() returns, so it is in the file before
///    any packet it caused leaves the daemon — what the conformance suites rely on when they read
///    the log after seeing a packet on the wire.
///  - loop: one write per pass of the daemon's loop (JsonLinesSink::defer_flush); an event may reach
///    the file a few microseconds after a packet it caused. For load (docs/performance.md).
enum class EventFlush { line, loop };

/// Parses `events-flush` ("line" | "loop") of a daemon config map; absent: `fallback`.
/// ConfigError naming the key and the allowed values otherwise.
class ConfigNode;
EventFlush event_flush_from(const ConfigNode& cfg, EventFlush fallback = EventFlush::line);

/// Writes each event as one JSON object per line to a file (O_APPEND).
///
/// By default every line is flushed as it is written (a reader tailing the file sees each event at
/// once). A daemon whose loop publishes bursts of events (dozens per dial-out call: measured 43
/// write(2) calls per call in lnsd, docs/performance.md) calls defer_flush() with a function that
/// queues work on its loop: lines then collect in a 64 KiB buffer and the first line after a flush
/// queues one flush, which runs when the loop has finished the handlers already queued — one
/// write(2) per pass of the loop instead of one per event, and no line waits longer than that pass.
/// The buffer is also written when it fills and on destruction.
class JsonLinesSink {
public:
    /// Queues `work` to run later on the owner's loop (e.g. boost::asio::post(io, work)).
    using Post = std::function<void(std::function<void()> work)>;

    /// Opens (creates) `path`; `truncate` empties it first. std::system_error if it cannot be opened.
    explicit JsonLinesSink(const std::string& path, bool truncate = false);
    ~JsonLinesSink();
    JsonLinesSink(const JsonLinesSink&) = delete;
    JsonLinesSink& operator=(const JsonLinesSink&) = delete;

    void write(const Event& e);
    /// Subscribes to `bus` (one bus at a time); detached on destruction. The bus must outlive it.
    void attach(EventBus& bus, EventFilter filter = {});
    void detach() noexcept;
    /// Batches flushes through `post` (see the class comment); an empty function restores
    /// flush-per-line. The sink must outlive the work it posts, or the loop must not run it after
    /// the sink is gone (a daemon's sink lives as long as its loop).
    void defer_flush(Post post);
    /// Writes buffered lines to the file now.
    void flush();
    /// Caps the file (lnsd key `events-max-bytes`): once it holds `max_bytes` octets it is renamed
    /// to `<path>.1` (replacing the previous one) and a new, empty file is started, so the log
    /// never takes more than about 2 × max_bytes on disk whatever a peer makes lnsd publish.
    /// 0 (the default) = no cap. Counts the octets already in an appended file.
    void set_size_cap(std::uint64_t max_bytes) noexcept { max_bytes_ = max_bytes; }
    /// Times the file was rotated by the size cap.
    std::uint64_t rotations() const noexcept { return rotations_; }
    std::uint64_t lines_written() const noexcept { return lines_; }
    /// Times the buffer was written to the file (flush-per-line: one per line).
    std::uint64_t flushes() const noexcept { return flushes_; }

private:
    std::unique_ptr<char[]> buffer_;  // the FILE's buffer (glibc ignores a size without one)
    std::FILE* file_ = nullptr;
    std::string path_;
    std::uint64_t bytes_ = 0;      // octets in the current file
    std::uint64_t max_bytes_ = 0;  // set_size_cap
    std::uint64_t rotations_ = 0;
    void open(bool truncate);
    void rotate();
    EventBus* bus_ = nullptr;
    EventBus::SubscriptionId sub_ = 0;
    std::uint64_t lines_ = 0;
    std::uint64_t flushes_ = 0;
    Post post_;
    bool flush_queued_ = false;
    std::string line_;
};

/// In-memory recorder for tests: keeps every matching event and renders the golden log.
class EventRecorder {
public:
    /// Subscribes to `bus` (which must outlive the recorder); times are shown relative to `origin`.
    explicit EventRecorder(EventBus& bus, EventFilter filter = {}, TimePoint origin = TimePoint{});
    ~EventRecorder();
    EventRecorder(const EventRecorder&) = delete;
    EventRecorder& operator=(const EventRecorder&) = delete;

    const std::vector<Event>& events() const noexcept { return events_; }
    /// format_golden() of each event.
    std::vector<std::string> lines() const;
    /// lines() joined, each followed by '\n'.
    std::string text() const;
    /// Number of recorded events whose `event` equals `name` (all if name is empty).
    std::size_t count(std::string_view name = {}) const noexcept;
    void clear() noexcept { events_.clear(); }

private:
    EventBus& bus_;
    EventBus::SubscriptionId sub_;
    TimePoint origin_;
    std::vector<Event> events_;
};

}  // namespace dl::core
