#include "dl/core/event.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <iterator>
#include <system_error>

#include <fmt/format.h>

#include "dl/core/config.hpp"
#include "dl/core/duration.hpp"
#include "dl/core/errors.hpp"

namespace dl::core {

// ---- Event ------------------------------------------------------------------------------------

nlohmann::json Event::to_json() const {
    nlohmann::json j = nlohmann::json::object();
    j["time_ns"] = time_ns == kUnstamped ? 0 : time_ns;
    j["time"] = format_iso8601(wall);
    j["entity"] = entity;
    j["id"] = id;
    j["from"] = from;
    j["to"] = to;
    j["event"] = event;
    j["cause"] = cause;
    if (timer)
        j["timer"] = {{"name", timer->name},
                      {"duration", format_duration(timer->duration)},
                      {"duration_ns", timer->duration.count()}};
    if (!permitted) j["permitted"] = false;
    if (extra.is_object() && !extra.empty()) j["extra"] = extra;
    return j;
}

namespace {
/// Appends `v` as a JSON string exactly as nlohmann::json::dump(-1, ' ', false, replace) writes it:
/// printable ASCII other than '"' and '\\' is copied; anything else goes through nlohmann.
void append_json_string(std::string& out, std::string_view v) {
    // One table look-up per octet and no early exit (the check was ≈ 230 instructions per string
    // with std::all_of and a predicate of four comparisons; a dial-out call writes ≈ 200 strings).
    static constexpr auto kPlain = [] {
        std::array<bool, 256> t{};
        for (int c = 0x20; c < 0x7F; ++c) t[static_cast<std::size_t>(c)] = c != '"' && c != '\\';
        return t;
    }();
    bool plain = true;
    for (const char ch : v) plain &= kPlain[static_cast<unsigned char>(ch)];
    if (plain) {
        const std::size_t at = out.size();
        out.resize(at + v.size() + 2);
        char* p = out.data() + at;
        *p = '"';
        if (!v.empty()) std::memcpy(p + 1, v.data(), v.size());
        p[v.size() + 1] = '"';
    } else {
        out += nlohmann::json(std::string(v)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
}
/// Appends `v` in decimal, as nlohmann and fmt write an integer.
void append_int(std::string& out, std::int64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}
}  // namespace

void Event::append_json_line(std::string& out) const {
    // Keys in the order nlohmann's std::map-backed object dumps them (sorted), so the line is
    // byte-for-byte to_json().dump(): cause, entity, event, extra, from, id, permitted, time,
    // time_ns, timer{duration, duration_ns, name}, to.
    out += "{\"cause\":";
    append_json_string(out, cause);
    out += ",\"entity\":";
    append_json_string(out, entity);
    out += ",\"event\":";
    append_json_string(out, event);
    if (extra.is_object() && !extra.empty()) {
        out += ",\"extra\":";
        out += extra.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    out += ",\"from\":";
    append_json_string(out, from);
    out += ",\"id\":";
    append_json_string(out, id);
    if (!permitted) out += ",\"permitted\":false";
    // The time is digits, '-', ':', 'T', '.' and 'Z': no escaping needed.
    out += ",\"time\":\"";
    append_iso8601(out, wall);
    out += "\",\"time_ns\":";
    append_int(out, time_ns == kUnstamped ? 0 : time_ns);
    if (timer) {
        out += ",\"timer\":{\"duration\":";
        append_json_string(out, format_duration(timer->duration));
        out += ",\"duration_ns\":";
        append_int(out, timer->duration.count());
        out += ",\"name\":";
        append_json_string(out, timer->name);
        out += '}';
    }
    out += ",\"to\":";
    append_json_string(out, to);
    out += '}';
}

Event Event::from_json(const nlohmann::json& j) {
    Event e;
    e.time_ns = j.value("time_ns", std::int64_t{0});
    e.entity = j.value("entity", std::string{});
    e.id = j.value("id", std::string{});
    e.from = j.value("from", std::string{});
    e.to = j.value("to", std::string{});
    e.event = j.value("event", std::string{});
    e.cause = j.value("cause", std::string{});
    e.permitted = j.value("permitted", true);
    if (const auto it = j.find("timer"); it != j.end() && it->is_object())
        e.timer = TimerArmed{it->value("name", std::string{}), Duration{it->value("duration_ns", std::int64_t{0})}};
    if (const auto it = j.find("extra"); it != j.end() && it->is_object()) e.extra = *it;
    return e;
}

std::string format_golden(const Event& e, TimePoint origin) {
    const std::int64_t t = (e.time_ns == Event::kUnstamped ? 0 : e.time_ns) - to_ns(origin);
    const std::uint64_t abs = t < 0 ? static_cast<std::uint64_t>(-(t + 1)) + 1 : static_cast<std::uint64_t>(t);
    std::string out = fmt::format("{}{}.{:06}s {} {}:", t < 0 ? '-' : '+', abs / 1'000'000'000,
                                  (abs % 1'000'000'000) / 1000, e.entity, e.id);
    if (!e.permitted) {
        out += fmt::format(" {}: {} NOT PERMITTED", e.from, e.event);
    } else if (!e.from.empty() || !e.to.empty()) {
        out += fmt::format(" {} -> {} on {}", e.from, e.to, e.event);
    } else {
        out += fmt::format(" {}", e.event);
    }
    if (!e.cause.empty()) out += fmt::format(" (cause={})", e.cause);
    if (e.timer) out += fmt::format(" [timer {}={}]", e.timer->name, format_duration(e.timer->duration));
    if (e.extra.is_object() && !e.extra.empty()) {
        out += ' ';
        out += e.extra.dump();
    }
    return out;
}

bool EventFilter::matches(const Event& e) const noexcept {
    if (!id.empty() && id != e.id) return false;
    if (entity.empty()) return true;
    if (e.entity.size() < entity.size() || e.entity.compare(0, entity.size(), entity) != 0) return false;
    return e.entity.size() == entity.size() || e.entity[entity.size()] == '.';
}

// ---- EventBus ---------------------------------------------------------------------------------

EventBus::SubscriptionId EventBus::subscribe(EventFilter filter, Callback cb) {
    if (!cb) throw std::invalid_argument("EventBus::subscribe: empty callback");
    const SubscriptionId id = next_id_++;
    subs_.push_back(Sub{id, std::move(filter), std::make_shared<const Callback>(std::move(cb))});
    ++live_;
    return id;
}

bool EventBus::unsubscribe(SubscriptionId id) noexcept {
    for (auto it = subs_.begin(); it != subs_.end(); ++it) {
        if (it->id != id || !it->cb) continue;
        --live_;
        if (depth_ > 0) {
            it->cb = nullptr;  // erased when the outermost publish returns
            dirty_ = true;
        } else {
            subs_.erase(it);
        }
        return true;
    }
    return false;
}

void EventBus::publish(Event e) {
    ++published_;
    if (live_ == 0) return;
    if (e.time_ns == Event::kUnstamped) {
        e.time_ns = to_ns(clock_->now());
        e.wall = clock_->wall_now();
    }
    ++depth_;
    struct Leave {
        EventBus& bus;
        ~Leave() {
            if (--bus.depth_ == 0 && bus.dirty_) {
                std::erase_if(bus.subs_, [](const Sub& s) { return !s.cb; });
                bus.dirty_ = false;
            }
        }
    } leave{*this};
    const std::size_t n = subs_.size();  // subscribers added during delivery wait for the next event
    for (std::size_t i = 0; i < n; ++i) {
        if (subs_[i].cb && subs_[i].filter.matches(e)) {
            // Hold a reference: the callback may subscribe (reallocating subs_) or unsubscribe itself.
            const std::shared_ptr<const Callback> cb = subs_[i].cb;
            (*cb)(e);
        }
    }
}

EventFlush event_flush_from(const ConfigNode& cfg, EventFlush fallback) {
    if (!cfg.has("events-flush")) return fallback;
    const std::string v = cfg.get_string("events-flush", "line");
    if (v == "line") return EventFlush::line;
    if (v == "loop") return EventFlush::loop;
    cfg["events-flush"].fail("must be line (flush every event) or loop (once per pass of the event loop)");
}

// ---- JsonLinesSink ----------------------------------------------------------------------------

JsonLinesSink::JsonLinesSink(const std::string& path, bool truncate) : path_(path) { open(truncate); }

void JsonLinesSink::open(bool truncate) {
    file_ = std::fopen(path_.c_str(), truncate ? "w" : "a");
    if (file_ == nullptr) throw std::system_error(errno, std::generic_category(), "JsonLinesSink: open " + path_);
    constexpr std::size_t kBuffer = 64 * 1024;  // lines collect here between flushes
    if (!buffer_) buffer_ = std::make_unique<char[]>(kBuffer);
    std::setvbuf(file_, buffer_.get(), _IOFBF, kBuffer);
    std::fseek(file_, 0, SEEK_END);
    const long at = std::ftell(file_);
    bytes_ = at > 0 ? static_cast<std::uint64_t>(at) : 0;
}

void JsonLinesSink::rotate() {
    std::fclose(file_);  // writes what is buffered
    file_ = nullptr;
    const std::string old = path_ + ".1";
    std::rename(path_.c_str(), old.c_str());  // replaces the previous <path>.1
    ++rotations_;
    open(true);
}

JsonLinesSink::~JsonLinesSink() {
    detach();
    if (file_ != nullptr) std::fclose(file_);  // writes what is buffered
}

void JsonLinesSink::write(const Event& e) {
    line_.clear();  // reused: no allocation per event once it has grown
    e.append_json_line(line_);
    line_ += '\n';
    std::fwrite(line_.data(), 1, line_.size(), file_);
    ++lines_;
    bytes_ += line_.size();
    if (max_bytes_ != 0 && bytes_ >= max_bytes_) rotate();
    if (!post_) {
        flush();
    } else if (!flush_queued_) {
        flush_queued_ = true;
        post_([this] { flush(); });
    }
}

void JsonLinesSink::defer_flush(Post post) {
    flush();
    post_ = std::move(post);
}

void JsonLinesSink::flush() {
    flush_queued_ = false;
    std::fflush(file_);
    ++flushes_;
}

void JsonLinesSink::attach(EventBus& bus, EventFilter filter) {
    detach();
    bus_ = &bus;
    sub_ = bus.subscribe(std::move(filter), [this](const Event& e) { write(e); });
}

void JsonLinesSink::detach() noexcept {
    if (bus_ != nullptr) bus_->unsubscribe(sub_);
    bus_ = nullptr;
}

// ---- EventRecorder ----------------------------------------------------------------------------

EventRecorder::EventRecorder(EventBus& bus, EventFilter filter, TimePoint origin)
    : bus_(bus), sub_(bus.subscribe(std::move(filter), [this](const Event& e) { events_.push_back(e); })),
      origin_(origin) {}

EventRecorder::~EventRecorder() { bus_.unsubscribe(sub_); }

std::vector<std::string> EventRecorder::lines() const {
    std::vector<std::string> out;
    out.reserve(events_.size());
    for (const auto& e : events_) out.push_back(format_golden(e, origin_));
    return out;
}

std::string EventRecorder::text() const {
    std::string out;
    for (const auto& e : events_) {
        out += format_golden(e, origin_);
        out += '\n';
    }
    return out;
}

std::size_t EventRecorder::count(std::string_view name) const noexcept {
    std::size_t n = 0;
    for (const auto& e : events_)
        if (name.empty() || e.event == name) ++n;
    return n;
}

}  // namespace dl::core
