// dl_loadgen incoming mode with PPP (dl/loadgen/incoming_ppp.hpp).
#include "dl/loadgen/incoming_ppp.hpp"

#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "dl/ppp/engine/link.hpp"

namespace dl::loadgen {

std::vector<PppUser> load_ppp_users(const std::string& path) {
    std::ifstream f(path);
    if (!f) throw std::runtime_error("--users-file: cannot read " + path);
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(f);
    } catch (const std::exception& e) {
        throw std::runtime_error("--users-file " + path + ": " + e.what());
    }
    if (!j.is_array() || j.empty())
        throw std::runtime_error("--users-file " + path + ": must be a non-empty JSON array of {name, secret}");
    std::vector<PppUser> out;
    for (const auto& e : j) {
        if (!e.is_object() || !e.contains("name") || !e.contains("secret") || !e["name"].is_string() ||
            !e["secret"].is_string())
            throw std::runtime_error("--users-file " + path + ": every entry needs string \"name\" and \"secret\"");
        out.push_back({e["name"].get<std::string>(), e["secret"].get<std::string>()});
    }
    return out;
}

IncomingPpp::IncomingPpp(core::FsmEnv env, std::vector<PppUser> users, Send send, Up up, Down down)
    : env_(env), users_(std::move(users)), send_(std::move(send)), up_(std::move(up)), down_(std::move(down)) {
    if (users_.empty()) throw std::invalid_argument("IncomingPpp: no PPP user");
}

IncomingPpp::~IncomingPpp() = default;

void IncomingPpp::start(std::size_t unit) {
    const auto& u = users_[unit % users_.size()];
    ppp::engine::LinkConfig c;
    c.name = u.name;
    c.secret = u.secret;
    c.require_auth = ppp::engine::AuthPreference::none;  // the CPE does not authenticate the LNS
    c.allow_pap = false;                                  // CHAP only (RFC 1994)
    ppp::engine::LinkCallbacks cb;
    cb.send = [this, unit](std::uint16_t proto, std::vector<std::uint8_t> info) {
        std::vector<std::uint8_t> f;
        f.reserve(4 + info.size());
        f.insert(f.end(), {0xFF, 0x03, static_cast<std::uint8_t>(proto >> 8), static_cast<std::uint8_t>(proto)});
        f.insert(f.end(), info.begin(), info.end());
        send_(unit, std::move(f));
    };
    cb.network_up = [this, unit](const ppp::engine::NetworkInfo&) { up_(unit); };
    cb.link_down = [this, unit](std::string_view cause) { down_(unit, cause); };
    auto link = std::make_unique<ppp::engine::Link>(c, std::move(cb), env_, "cpe-" + std::to_string(unit));
    auto* l = link.get();
    links_[unit] = std::move(link);
    l->open();
}

void IncomingPpp::receive(std::size_t unit, std::span<const std::uint8_t> frame) {
    auto it = links_.find(unit);
    if (it == links_.end()) return;
    if (frame.size() >= 2 && frame[0] == 0xFF && frame[1] == 0x03) frame = frame.subspan(2);
    it->second->receive(frame);
}

void IncomingPpp::stop(std::size_t unit) {
    auto it = links_.find(unit);
    if (it == links_.end()) return;
    auto link = std::move(it->second);
    links_.erase(it);
    link->lower_down("L2TP session ended");
}

std::uint64_t IncomingPpp::auth_failures() const {
    std::uint64_t n = 0;
    for (const auto& [u, l] : links_) n += l->counters().auth_failures;
    return n;
}

}  // namespace dl::loadgen
