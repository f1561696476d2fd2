// The impairment rule engine (impairment.hpp). Pure: no sockets, time only from the caller.
#include "dl/scenario/impairment.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include <tins/pdu.h>

#include "dl/l2tp/l2tp.hpp"
#include "dl/l2tp/types.hpp"
#include "dl/proto/decode.hpp"
#include "dl/proto/errors.hpp"
#include "dl/radius/radius.hpp"

namespace dl::scenario {

namespace {

bool iequal(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

}  // namespace

std::string_view to_string(Direction d) noexcept { return d == Direction::forward ? "forward" : "reverse"; }

std::string_view to_string(Action a) noexcept {
    switch (a) {
    case Action::drop: return "drop";
    case Action::delay: return "delay";
    case Action::duplicate: return "duplicate";
    case Action::reorder: return "reorder";
    }
    return "drop";
}

Classified classify(std::uint16_t sport, std::uint16_t dport, std::span<const std::uint8_t> payload) {
    Classified c;
    const auto proto = dl::proto::classify_udp(sport, dport);
    c.protocol = proto == dl::proto::UdpProtocol::unknown ? "unknown" : std::string(dl::proto::to_string(proto));
    if (proto == dl::proto::UdpProtocol::unknown) return c;
    try {
        auto pdu = dl::proto::decode_udp_payload(sport, dport, payload);
        if (auto* l = dynamic_cast<dl::l2tp::L2TP*>(pdu.get())) {
            if (l->is_data()) c.message = "data";
            else if (l->is_zlb()) c.message = "ZLB";  // RFC 2661 §5.8: a control message without AVPs
            else if (auto t = l->message_type()) c.message = std::string(dl::l2tp::message_name(static_cast<dl::l2tp::MessageType>(*t)));
        } else if (auto* r = dynamic_cast<dl::radius::Radius*>(pdu.get())) {
            c.message = std::string(dl::radius::to_string(r->code()));
        }
    } catch (const std::exception&) {  // ParseError and anything a codec may throw: a malformed datagram
        c.message = "malformed";
    }
    return c;
}

bool Match::matches(Direction d, std::uint16_t sport, std::uint16_t dport, const Classified& c) const {
    if (direction && *direction != d) return false;
    if (!protocol.empty() && !iequal(protocol, c.protocol)) return false;
    if (!message.empty() && !iequal(message, c.message)) return false;
    if (port && *port != sport && *port != dport) return false;
    return true;
}

ImpairmentEngine::ImpairmentEngine(std::vector<Rule> rules) {
    for (auto& r : rules) add_rule(std::move(r));
}

void ImpairmentEngine::add_rule(Rule r) {
    const std::string who = "impairment rule '" + r.name + "': ";
    if ((r.select.kind == Select::Kind::nth || r.select.kind == Select::Kind::every) && r.select.n == 0)
        throw std::invalid_argument(who + "nth / every needs n >= 1");
    if (r.select.kind == Select::Kind::probability && !(r.select.p >= 0.0 && r.select.p <= 1.0))
        throw std::invalid_argument(who + "probability must be within [0, 1]");
    if (r.delay < Duration::zero()) throw std::invalid_argument(who + "delay must be >= 0");
    if (r.hold < Duration::zero()) throw std::invalid_argument(who + "hold must be >= 0");
    rngs_.emplace_back(r.select.seed);
    rules_.push_back(std::move(r));
    counters_.emplace_back();
}

void ImpairmentEngine::clear_rules() {
    rules_.clear();
    counters_.clear();
    rngs_.clear();
}

bool ImpairmentEngine::selects(std::size_t i) {
    const auto& s = rules_[i].select;
    const auto k = counters_[i].matched;  // already counts this datagram (1-based)
    switch (s.kind) {
    case Select::Kind::all: return true;
    case Select::Kind::nth: return k == s.n;
    case Select::Kind::every: return k % s.n == 0;
    case Select::Kind::probability: return std::uniform_real_distribution<double>(0.0, 1.0)(rngs_[i]) < s.p;
    }
    return false;
}

void ImpairmentEngine::record(TimePoint at, Direction dir, const std::string& what, std::string outcome) {
    history_.push_back({at, dir, what, std::move(outcome)});
    if (history_.size() > 20000) history_.erase(history_.begin(), history_.begin() + 10000);
}

void ImpairmentEngine::schedule(TimePoint due, Direction dir, std::vector<std::uint8_t> bytes, std::string what,
                                bool held) {
    ++scheduled_;
    schedule_.push_back({due, seq_++, Emission{due, dir, std::move(bytes), std::move(what)}, held});
}

void ImpairmentEngine::submit(Direction dir, std::uint16_t sport, std::uint16_t dport, std::vector<std::uint8_t> bytes,
                              TimePoint now) {
    ++received_;
    const auto c = classify(sport, dport, bytes);
    std::string what = c.protocol + (c.message.empty() ? "" : " " + c.message);

    // A datagram held for reordering in this direction goes out right after this one.
    auto held = std::find_if(schedule_.begin(), schedule_.end(), [&](const Entry& e) { return e.held && e.e.dir == dir; });
    const bool release_held = held != schedule_.end();

    std::optional<std::size_t> acting;
    for (std::size_t i = 0; i < rules_.size() && !acting; ++i) {
        if (!rules_[i].match.matches(dir, sport, dport, c)) continue;
        ++counters_[i].matched;
        if (selects(i)) acting = i;
    }
    // A datagram never holds another back twice: with one held already, reorder forwards this one.
    if (acting && rules_[*acting].action == Action::reorder && release_held) acting.reset();

    if (!acting) {
        record(now, dir, what, "forwarded");
        schedule(now, dir, std::move(bytes), what, false);
    } else {
        const auto& r = rules_[*acting];
        ++counters_[*acting].applied;
        switch (r.action) {
        case Action::drop:
            record(now, dir, what, "dropped by " + r.name);
            break;
        case Action::delay:
            record(now, dir, what, "delayed by " + r.name);
            schedule(now + r.delay, dir, std::move(bytes), what, false);
            break;
        case Action::duplicate:
            record(now, dir, what, "duplicated by " + r.name);
            schedule(now, dir, bytes, what, false);
            schedule(now, dir, std::move(bytes), what + " (duplicate)", false);
            break;
        case Action::reorder:
            record(now, dir, what, "held by " + r.name);
            schedule(now + r.hold, dir, std::move(bytes), what, true);
            return;  // nothing else to release
        }
    }
    if (release_held) {
        // find it again: schedule() may have reallocated the vector
        auto h = std::find_if(schedule_.begin(), schedule_.end(), [&](const Entry& e) { return e.held && e.e.dir == dir; });
        if (h != schedule_.end()) {
            h->held = false;
            h->due = h->e.due = now;
            h->seq = seq_++;  // after the datagram just scheduled
            record(now, dir, h->e.what, "released after the next datagram");
        }
    }
}

std::vector<Emission> ImpairmentEngine::take_due(TimePoint now) {
    std::vector<Entry> due;
    auto it = std::stable_partition(schedule_.begin(), schedule_.end(), [&](const Entry& e) { return e.due > now; });
    std::move(it, schedule_.end(), std::back_inserter(due));
    schedule_.erase(it, schedule_.end());
    std::sort(due.begin(), due.end(), [](const Entry& a, const Entry& b) {
        return a.due != b.due ? a.due < b.due : a.seq < b.seq;
    });
    std::vector<Emission> out;
    out.reserve(due.size());
    for (auto& e : due) {
        if (e.held) record(now, e.e.dir, e.e.what, "released after the hold time");
        out.push_back(std::move(e.e));
    }
    return out;
}

std::optional<TimePoint> ImpairmentEngine::next_due() const {
    if (schedule_.empty()) return std::nullopt;
    return std::min_element(schedule_.begin(), schedule_.end(), [](const Entry& a, const Entry& b) {
               return a.due < b.due;
           })->due;
}

}  // namespace dl::scenario
