#include "dl/core/control.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <set>
#include <system_error>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

namespace dl::core {

namespace asio = boost::asio;
using stream = asio::local::stream_protocol;
using nlohmann::json;

namespace {
constexpr std::size_t kMaxLine = 1 << 20;
constexpr std::size_t kMaxQueuedLines = 8192;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json error_response(const json& id, std::string_view message) {
    return json{{"id", id}, {"ok", false}, {"error", message}};
}
}  // namespace

// ---- paging -----------------------------------------------------------------------------------

ListPage ListPage::parse(const json& args) {
    ListPage p;
    if (!args.is_object()) return p;
    if (const auto it = args.find("limit"); it != args.end()) {
        std::uint64_t n = 0;
        bool ok = false;
        if (it->is_number_integer()) {  // signed or unsigned; a float (1.5) is not
            const auto v = it->get<std::int64_t>();
            ok = v >= 0;
            n = ok ? static_cast<std::uint64_t>(v) : 0;
        } else if (it->is_string()) {
            const auto& t = it->get_ref<const std::string&>();
            const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
            ok = ec == std::errc() && end == t.data() + t.size() && !t.empty();
        }
        if (!ok || n < 1 || n > kMaxItems)
            throw ControlArgError("limit", fmt::format("'{}' is not an integer 1..{}",
                                                       it->is_string() ? it->get<std::string>() : dump(*it), kMaxItems));
        p.limit = static_cast<std::size_t>(n);
        p.paged = true;
    }
    if (const auto it = args.find("after"); it != args.end()) {
        if (!it->is_string() || it->get_ref<const std::string&>().empty())
            throw ControlArgError("after", fmt::format("'{}' is not the key of a listed item (a non-empty string)",
                                                       it->is_string() ? it->get<std::string>() : dump(*it)));
        p.after = it->get<std::string>();
        if (!p.paged) p.limit = kDefaultLimit;
        p.paged = true;
    }
    return p;
}

ListPageBuilder::ListPageBuilder(const ListPage& page, std::size_t total, std::string_view what)
    : page_(page), total_(total) {
    if (!page.paged && total > ListPage::kMaxItems)
        throw ControlArgError("limit", fmt::format("{}: {} items, more than {} in one answer; ask for pages "
                                                   "(limit=1..{}, then after=<next> of the previous page)",
                                                   what, total, ListPage::kMaxItems, ListPage::kMaxItems));
}

void ListPageBuilder::add(json item, std::string key) {
    items_.push_back(std::move(item));
    last_ = std::move(key);
}

json ListPageBuilder::finish() && {
    if (!page_.paged) return std::move(items_);
    return json{{"items", std::move(items_)}, {"total", total_}, {"next", more_ ? json(last_) : json(nullptr)}};
}

// ---- server -----------------------------------------------------------------------------------

struct ControlServer::Impl : std::enable_shared_from_this<Impl> {
    struct Session;

    Impl(asio::io_context& io_, std::string path_, EventBus* bus_)
        : io(io_), path(std::move(path_)), bus(bus_), acceptor(io_) {}

    asio::io_context& io;
    std::string path;
    EventBus* bus;
    stream::acceptor acceptor;
    struct Command {
        Handler handler;
        std::string help;
    };
    std::map<std::string, Command, std::less<>> commands;
    std::set<std::shared_ptr<Session>> sessions;
    bool running = false;

    void accept();
    json dispatch(const json& request, Session* session);
    std::string handle_line(std::string_view line, Session* session);
};

struct ControlServer::Impl::Session : std::enable_shared_from_this<Session> {
    Session(std::shared_ptr<Impl> server_, stream::socket sock_)
        : server(std::move(server_)), sock(std::move(sock_)), in(kMaxLine) {}

    std::weak_ptr<Impl> server;
    stream::socket sock;
    asio::streambuf in;
    std::deque<std::string> out;
    bool writing = false;
    bool closed = false;
    bool discarding = false;  // inside an overlong line
    std::optional<EventBus::SubscriptionId> sub;
    EventBus* sub_bus = nullptr;

    void read() {
        asio::async_read_until(sock, in, '\n', [self = shared_from_this()](const boost::system::error_code& ec,
                                                                           std::size_t n) {
            if (self->closed) return;
            if (ec == asio::error::not_found) {
                // No '\n' within kMaxLine bytes: answer once, then discard up to the next '\n'.
                if (!self->discarding)
                    self->send(dump(error_response(nullptr, "request line longer than 1 MiB; ignored")));
                self->discarding = true;
                self->in.consume(self->in.size());
                self->read();
                return;
            }
            if (ec) {
                self->close();
                return;
            }
            std::string line(asio::buffers_begin(self->in.data()), asio::buffers_begin(self->in.data()) + n - 1);
            self->in.consume(n);
            if (self->discarding) {  // the tail of an overlong line
                self->discarding = false;
                self->read();
                return;
            }
            if (!line.empty() && line.back() == '\r') line.pop_back();
            auto srv = self->server.lock();
            if (!srv) return;
            if (!line.empty()) self->send(srv->handle_line(line, self.get()));
            if (!self->closed) self->read();
        });
    }

    void send(std::string line) {
        if (closed) return;
        if (out.size() >= kMaxQueuedLines) {  // a subscriber that does not read: drop it
            close();
            return;
        }
        line += '\n';
        out.push_back(std::move(line));
        if (!writing) write_next();
    }

    void write_next() {
        if (out.empty() || closed) {
            writing = false;
            return;
        }
        writing = true;
        asio::async_write(sock, asio::buffer(out.front()),
                          [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                              if (self->closed) return;
                              if (ec) {
                                  self->close();
                                  return;
                              }
                              self->out.pop_front();
                              self->write_next();
                          });
    }

    void unsubscribe() {
        if (sub && sub_bus != nullptr) sub_bus->unsubscribe(*sub);
        sub.reset();
        sub_bus = nullptr;
    }

    void close() {
        if (closed) return;
        closed = true;
        unsubscribe();
        boost::system::error_code ignored;
        sock.shutdown(stream::socket::shutdown_both, ignored);
        sock.close(ignored);
        out.clear();
        if (auto srv = server.lock()) srv->sessions.erase(shared_from_this());
    }
};

void ControlServer::Impl::accept() {
    acceptor.async_accept([weak = weak_from_this()](const boost::system::error_code& ec, stream::socket sock) {
        auto self = weak.lock();
        if (!self || !self->running) return;
        if (!ec) {
            auto session = std::make_shared<Session>(self, std::move(sock));
            self->sessions.insert(session);
            session->read();
        }
        if (ec != asio::error::operation_aborted) self->accept();
    });
}

json ControlServer::Impl::dispatch(const json& req, Session* session) {
    if (!req.is_object()) return error_response(nullptr, "request must be a JSON object");
    const json id = req.contains("id") ? req["id"] : json(nullptr);
    const auto cmd_it = req.find("cmd");
    if (cmd_it == req.end() || !cmd_it->is_string()) return error_response(id, "request needs a \"cmd\" string");
    const std::string cmd = cmd_it->get<std::string>();
    json args = json::object();
    if (const auto a = req.find("args"); a != req.end() && !a->is_null()) {
        if (!a->is_object()) return error_response(id, "\"args\" must be a JSON object");
        args = *a;
    }
    try {
        json result;
        if (cmd == "help") {
            json list = json::array();
            list.push_back({{"name", "help"}, {"help", "list the commands"}});
            list.push_back({{"name", "subscribe"}, {"help", "stream events; args: entity, id"}});
            list.push_back({{"name", "unsubscribe"}, {"help", "stop streaming events"}});
            for (const auto& [name, c] : commands) list.push_back({{"name", name}, {"help", c.help}});
            result = {{"commands", list}};
        } else if (cmd == "subscribe" || cmd == "unsubscribe") {
            if (session == nullptr) throw ControlError(cmd + " needs a connection");
            session->unsubscribe();
            if (cmd == "subscribe") {
                if (bus == nullptr) throw ControlError("this server has no event bus");
                EventFilter filter;
                if (args.contains("entity")) filter.entity = args["entity"].get<std::string>();
                if (args.contains("id")) filter.id = args["id"].get<std::string>();
                std::weak_ptr<Session> weak = session->shared_from_this();
                session->sub = bus->subscribe(filter, [weak](const Event& e) {
                    if (auto s = weak.lock()) s->send(dump(json{{"event", e.to_json()}}));
                });
                session->sub_bus = bus;
                result = {{"subscribed", true}, {"entity", filter.entity}, {"id", filter.id}};
            } else {
                result = {{"subscribed", false}};
            }
        } else {
            const auto it = commands.find(cmd);
            if (it == commands.end()) return error_response(id, fmt::format("unknown command '{}' (try 'help')", cmd));
            result = it->second.handler(args);
        }
        return json{{"id", id}, {"ok", true}, {"result", std::move(result)}};
    } catch (const ControlArgError& e) {
        auto r = error_response(id, e.what());
        r["param"] = e.param();
        return r;
    } catch (const std::exception& e) {
        return error_response(id, e.what());
    }
}

std::string ControlServer::Impl::handle_line(std::string_view line, Session* session) {
    json req;
    try {
        req = json::parse(line);
    } catch (const json::exception& e) {
        return dump(error_response(nullptr, fmt::format("bad JSON: {}", e.what())));
    }
    return dump(dispatch(req, session));
}

namespace {
// True when a process accepts connections on the Unix socket `path` (connect(2) succeeds, or fails
// with EAGAIN: the listen backlog is full, so someone listens); false for ECONNREFUSED / ENOENT.
bool socket_in_use(const std::string& path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
    const int err = errno;
    ::close(fd);
    return rc == 0 || err == EAGAIN || err == EINPROGRESS;
}
}  // namespace

ControlServer::ControlServer(asio::io_context& io, std::string socket_path, EventBus* bus)
    : impl_(std::make_shared<Impl>(io, std::move(socket_path), bus)) {}

ControlServer::~ControlServer() { stop(); }

void ControlServer::add_handler(std::string cmd, Handler handler, std::string help) {
    if (cmd.empty() || !handler) throw std::invalid_argument("ControlServer::add_handler: empty name or handler");
    impl_->commands[std::move(cmd)] = Impl::Command{std::move(handler), std::move(help)};
}

void ControlServer::start() {
    Impl& s = *impl_;
    if (s.running) return;
    struct stat st{};
    if (::lstat(s.path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            throw std::system_error(EEXIST, std::generic_category(), "control socket path exists and is not a socket: " + s.path);
    }
    if (s.path.size() >= sizeof(sockaddr_un::sun_path))
        throw std::system_error(ENAMETOOLONG, std::generic_category(), "control socket path too long: " + s.path);
    if (S_ISSOCK(st.st_mode)) {
        // A socket someone still accepts on belongs to a running daemon: taking it over would cut that
        // daemon off from its operators. Only a socket nobody listens on (ECONNREFUSED: its daemon
        // died without unlinking it) is removed.
        if (socket_in_use(s.path))
            throw std::system_error(EADDRINUSE, std::generic_category(),
                                    "control socket " + s.path + " is in use by a running process");
        ::unlink(s.path.c_str());
    }
    stream::endpoint ep(s.path);
    s.acceptor.open(ep.protocol());
    // Linux gives the socket file the socket inode's mode (minus umask): restrict it before bind so
    // the path is never reachable by others, then chmod to be explicit.
    ::fchmod(s.acceptor.native_handle(), S_IRUSR | S_IWUSR);
    s.acceptor.bind(ep);
    if (::chmod(s.path.c_str(), S_IRUSR | S_IWUSR) != 0) {
        const int err = errno;
        s.acceptor.close();
        throw std::system_error(err, std::generic_category(), "chmod 0600 " + s.path);
    }
    s.acceptor.listen();
    s.running = true;
    s.accept();
}

void ControlServer::stop() {
    Impl& s = *impl_;
    if (!s.running) return;
    s.running = false;
    boost::system::error_code ignored;
    s.acceptor.close(ignored);
    auto sessions = s.sessions;  // close() erases from the set
    for (const auto& session : sessions) session->close();
    s.sessions.clear();
    ::unlink(s.path.c_str());
}

const std::string& ControlServer::path() const noexcept { return impl_->path; }
std::size_t ControlServer::client_count() const noexcept { return impl_->sessions.size(); }
std::string ControlServer::handle_line(std::string_view line) { return impl_->handle_line(line, nullptr); }

// ---- client -----------------------------------------------------------------------------------

ControlClient::ControlClient(const std::string& socket_path, std::chrono::milliseconds timeout) : timeout_(timeout) {
    connect(socket_path);
}

ControlClient::~ControlClient() { close(); }

void ControlClient::connect(const std::string& socket_path) {
    close();
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof(addr.sun_path)) throw ControlError("control socket path too long: " + socket_path);
    std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw ControlError(fmt::format("socket: {}", std::strerror(errno)));
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
        const int err = errno;
        ::close(fd);
        throw ControlError(fmt::format("cannot connect to {}: {}", socket_path, std::strerror(err)));
    }
    fd_ = fd;
    rbuf_.clear();
    events_.clear();
}

void ControlClient::close() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

void ControlClient::send_line(std::string_view line) {
    if (fd_ < 0) throw ControlError("not connected");
    std::string data(line);
    data += '\n';
    std::size_t off = 0;
    while (off < data.size()) {
        const ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw ControlError(fmt::format("send: {}", std::strerror(errno)));
        }
        off += static_cast<std::size_t>(n);
    }
}

std::optional<std::string> ControlClient::read_line(std::chrono::milliseconds timeout) {
    if (fd_ < 0) throw ControlError("not connected");
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (const auto nl = rbuf_.find('\n'); nl != std::string::npos) {
            std::string line = rbuf_.substr(0, nl);
            rbuf_.erase(0, nl + 1);
            return line;
        }
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() < 0) return std::nullopt;
        pollfd p{fd_, POLLIN, 0};
        const int r = ::poll(&p, 1, static_cast<int>(left.count()));
        if (r < 0) {
            if (errno == EINTR) continue;
            throw ControlError(fmt::format("poll: {}", std::strerror(errno)));
        }
        if (r == 0) return std::nullopt;
        char buf[65536];
        const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            throw ControlError(fmt::format("recv: {}", std::strerror(errno)));
        }
        if (n == 0) throw ControlError("connection closed by the server");
        rbuf_.append(buf, static_cast<std::size_t>(n));
    }
}

std::optional<json> ControlClient::next_response(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        const auto line = read_line(std::max(left, std::chrono::milliseconds(0)));
        if (!line) return std::nullopt;
        json j;
        try {
            j = json::parse(*line);
        } catch (const json::exception& e) {
            throw ControlError(fmt::format("unparseable line from server: {}", e.what()));
        }
        if (j.is_object() && j.contains("event") && !j.contains("ok")) {
            events_.push_back(Event::from_json(j["event"]));
            continue;
        }
        return j;
    }
}

std::optional<Event> ControlClient::next_event(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (events_.empty()) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() < 0) return std::nullopt;
        const auto line = read_line(left);
        if (!line) return std::nullopt;
        const json j = json::parse(*line, nullptr, false);
        if (j.is_object() && j.contains("event")) events_.push_back(Event::from_json(j["event"]));
        // responses arriving here (no request pending) are dropped
    }
    Event e = std::move(events_.front());
    events_.pop_front();
    return e;
}

json ControlClient::call(std::string_view cmd, const json& args) {
    const std::int64_t id = next_id_++;
    send_line(dump(json{{"id", id}, {"cmd", cmd}, {"args", args}}));
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        const auto resp = next_response(std::max(left, std::chrono::milliseconds(0)));
        if (!resp) throw ControlError(fmt::format("no response to '{}' within {} ms", cmd, timeout_.count()));
        if (resp->is_object() && resp->value("id", json()) == json(id)) return *resp;
    }
}

json ControlClient::request(std::string_view cmd, const json& args) {
    json resp = call(cmd, args);
    if (!resp.value("ok", false)) throw ControlError(resp.value("error", std::string("request failed")));
    return resp.contains("result") ? resp["result"] : json();
}

void ControlClient::subscribe(const EventFilter& filter) {
    request("subscribe", json{{"entity", filter.entity}, {"id", filter.id}});
}

}  // namespace dl::core
