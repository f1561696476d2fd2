// Control API: newline-delimited JSON over a Unix-domain socket (mode 0600), one per daemon
// (docs/architecture.md "Control API"). lnsctl, the peers' CLIs, the Python bindings and tests speak it.
//
// Wire format, one JSON object per line in each direction:
//   request   {"id":1,"cmd":"show l2tp tunnel","args":{...}}        (id: any JSON value, echoed)
//   response  {"id":1,"ok":true,"result":...}  or  {"id":1,"ok":false,"error":"..."}
//   event     {"event":{...Event::to_json()...}}                    (after "subscribe")
// Built-in commands:
//   "help"        -> {"commands":[{"name","help"}...]}
//   "subscribe"   args {"entity":"ppp","id":""} (both optional; EventFilter) -> {"subscribed":true}
//                 Replaces an earlier subscription of the same client.
//   "unsubscribe" -> {"subscribed":false}
// A line that is not JSON, not an object, or lacks "cmd" is answered with ok:false and id null
// (or the id, if one could be read); the connection stays open. A line longer than 1 MiB is
// answered once with an error and discarded up to its '\n'. A client whose unsent output exceeds
// 8192 lines (a subscriber that does not read) is disconnected.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "dl/core/errors.hpp"
#include "dl/core/event.hpp"

namespace boost::asio {
class io_context;
}

namespace dl::core {

/// Paging of a listing command (`show l2tp session`, `show ppp`, …): what its args ask for.
///
/// args `limit` (integer 1..kMaxItems, a JSON number or its decimal text) and `after` (the key of
/// the last item of the previous page, in the listing's own key form: "12/34" for an L2TP session).
/// With either one the answer is a page, `{"items":[…],"total":N,"next":KEY|null}`: at most
/// `limit` items (kDefaultLimit when only `after` is given) that follow `after` in the listing's
/// order, `total` the items of the whole listing now, `next` the key to pass as `after` for the
/// following page (null: this was the last). Resuming after a key, not at an offset, keeps paging
/// stable while items come and go: an item is never listed twice, and one that stays is never
/// skipped (the JunosE / BNG Blaster "start after" form). Without either the answer stays the plain
/// array of the whole listing, but only while it holds at most kMaxItems items: a larger listing
/// is refused (ControlArgError naming `limit`) rather than holding the daemon's single event loop
/// for seconds (100 000 sessions are 14 MB of JSON, docs/performance.md "Scale in one lnsd").
struct ListPage {
    static constexpr std::size_t kMaxItems = 10000;     ///< most items in one answer
    static constexpr std::size_t kDefaultLimit = 1000;  ///< page size when only `after` is given
    bool paged = false;                                 ///< `limit` or `after` was given
    std::size_t limit = kMaxItems;
    std::optional<std::string> after;

    /// Reads `limit` / `after` from a command's args. ControlArgError("limit" / "after") for a value
    /// that is not an integer 1..kMaxItems / not a non-empty string.
    static ListPage parse(const nlohmann::json& args);
};

/// Collects one listing's answer for a ListPage: the handler walks its items in key order from
/// the first one after `page.after`, calls add() while room() and stops at the first one there is
/// no room for (more()). finish() returns the page object or, unpaged, the plain array.
class ListPageBuilder {
public:
    /// `total`: items in the whole listing now. Unpaged with total > kMaxItems: ControlArgError
    /// ("limit") naming the count and how to page (`what` is the command, for the message).
    ListPageBuilder(const ListPage& page, std::size_t total, std::string_view what);
    bool room() const noexcept { return items_.size() < page_.limit; }
    void add(nlohmann::json item, std::string key);
    /// There is at least one more item after the last one added.
    void more() noexcept { more_ = true; }
    nlohmann::json finish() &&;

private:
    ListPage page_;
    std::size_t total_;
    nlohmann::json items_ = nlohmann::json::array();
    std::string last_;
    bool more_ = false;
};

/// The server side. Lives on one io_context thread: construct, add handlers, start(), then run the
/// io_context; publish events to the bus from that thread (boost::asio::post from others).
class ControlServer {
public:
    /// A command handler: gets "args" (a JSON object, {} if absent), returns "result". Throwing
    /// ControlError (or any std::exception) answers ok:false with its what() as "error".
    using Handler = std::function<nlohmann::json(const nlohmann::json& args)>;

    /// `bus` (optional; needed for "subscribe") must outlive the server.
    ControlServer(boost::asio::io_context& io, std::string socket_path, EventBus* bus = nullptr);
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    /// Registers (or replaces) a command. `help` is shown by the "help" command.
    void add_handler(std::string cmd, Handler handler, std::string help = {});

    /// Removes a stale socket file at the path (one nobody accepts on), binds (mode 0600: fchmod
    /// before bind, chmod after), listens and starts accepting. std::system_error on failure: path
    /// too long, directory missing, a file that is not a socket, or EADDRINUSE "control socket P is
    /// in use by a running process" when a live daemon accepts on the path (it is left alone).
    void start();
    /// Closes the listener and every client, removes the socket file. Idempotent.
    void stop();

    const std::string& path() const noexcept;
    std::size_t client_count() const noexcept;
    /// Answers one request line without a socket (the same code path as a client's line); used by
    /// tests and for in-process calls. Returns the response line without '\n'.
    std::string handle_line(std::string_view line);

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

/// A tiny synchronous client (blocking POSIX socket with timeouts). Events that arrive while
/// waiting for a response are kept for next_event(). Not thread-safe.
class ControlClient {
public:
    ControlClient() = default;
    /// Connects; ControlError if the socket cannot be reached.
    explicit ControlClient(const std::string& socket_path,
                           std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
    ~ControlClient();
    ControlClient(const ControlClient&) = delete;
    ControlClient& operator=(const ControlClient&) = delete;

    void connect(const std::string& socket_path);
    void close() noexcept;
    bool connected() const noexcept { return fd_ >= 0; }
    void set_timeout(std::chrono::milliseconds t) noexcept { timeout_ = t; }

    /// Sends a request with a fresh numeric id and returns the whole response object
    /// ({"id","ok",...}). ControlError on timeout, closed connection or unparseable response.
    nlohmann::json call(std::string_view cmd, const nlohmann::json& args = nlohmann::json::object());
    /// call(), then returns "result"; ControlError(error text) when ok is false.
    nlohmann::json request(std::string_view cmd, const nlohmann::json& args = nlohmann::json::object());
    /// "subscribe" with an entity / id filter.
    void subscribe(const EventFilter& filter = {});

    /// Sends raw bytes followed by '\n' (tests of bad input).
    void send_line(std::string_view line);
    /// Next non-event line as JSON (nullopt on timeout). ControlError if the connection closed.
    std::optional<nlohmann::json> next_response(std::chrono::milliseconds timeout);
    /// Next event received (buffered ones first); nullopt on timeout.
    std::optional<Event> next_event(std::chrono::milliseconds timeout);

private:
    std::optional<std::string> read_line(std::chrono::milliseconds timeout);
    int fd_ = -1;
    std::int64_t next_id_ = 1;
    std::chrono::milliseconds timeout_{5000};
    std::string rbuf_;
    std::deque<Event> events_;
};

}  // namespace dl::core
