#include "dl/dataplane/route_table.hpp"

#include <algorithm>
#include <bit>

namespace dl::dataplane {

std::string_view to_string(RouteKind k) noexcept {
    switch (k) {
        case RouteKind::access: return "access";
        case RouteKind::framed_route: return "framed-route";
        case RouteKind::framed_ip: return "framed-ip";
    }
    return "?";
}

RouteTable::Insert RouteTable::insert(core::Ipv4Prefix prefix, SessionHandle session, RouteKind kind) {
    if (prefix.length > 32) prefix.length = 32;
    prefix = prefix.network();
    auto& map = by_length_[prefix.length];
    auto [it, fresh] = map.try_emplace(prefix.address.value, Route{prefix, session, kind});
    if (!fresh) {
        if (it->second.session != session) return Insert::conflict;
        it->second.kind = kind;
        return Insert::already_present;
    }
    lengths_in_use_ |= std::uint64_t{1} << prefix.length;
    by_session_[session].push_back(prefix);
    ++size_;
    return Insert::inserted;
}

bool RouteTable::remove(core::Ipv4Prefix prefix, SessionHandle session) {
    if (prefix.length > 32) return false;
    prefix = prefix.network();
    auto& map = by_length_[prefix.length];
    auto it = map.find(prefix.address.value);
    if (it == map.end() || it->second.session != session) return false;
    map.erase(it);
    if (map.empty()) lengths_in_use_ &= ~(std::uint64_t{1} << prefix.length);
    --size_;
    auto s = by_session_.find(session);
    if (s != by_session_.end()) {
        auto& v = s->second;
        v.erase(std::remove(v.begin(), v.end(), prefix), v.end());
        if (v.empty()) by_session_.erase(s);
    }
    return true;
}

std::vector<core::Ipv4Prefix> RouteTable::remove_session(SessionHandle session) {
    auto s = by_session_.find(session);
    if (s == by_session_.end()) return {};
    std::vector<core::Ipv4Prefix> prefixes = std::move(s->second);
    by_session_.erase(s);
    for (const auto& p : prefixes) {
        auto& map = by_length_[p.length];
        map.erase(p.address.value);
        if (map.empty()) lengths_in_use_ &= ~(std::uint64_t{1} << p.length);
        --size_;
    }
    return prefixes;
}

const Route* RouteTable::lookup(core::Ipv4Address destination) const noexcept {
    std::uint64_t in_use = lengths_in_use_;
    while (in_use != 0) {
        const int len = 63 - std::countl_zero(in_use);  // longest length still to try
        in_use &= ~(std::uint64_t{1} << len);
        const std::uint32_t mask = len == 0 ? 0 : ~std::uint32_t{0} << (32 - len);
        const auto& map = by_length_[static_cast<std::size_t>(len)];
        auto it = map.find(destination.value & mask);
        if (it != map.end()) return &it->second;
    }
    return nullptr;
}

const Route* RouteTable::find(core::Ipv4Prefix prefix) const noexcept {
    if (prefix.length > 32) return nullptr;
    prefix = prefix.network();
    const auto& map = by_length_[prefix.length];
    auto it = map.find(prefix.address.value);
    return it == map.end() ? nullptr : &it->second;
}

std::vector<core::Ipv4Prefix> RouteTable::prefixes_of(SessionHandle session) const {
    auto s = by_session_.find(session);
    return s == by_session_.end() ? std::vector<core::Ipv4Prefix>{} : s->second;
}

std::vector<Route> RouteTable::routes() const {
    std::vector<Route> out;
    out.reserve(size_);
    for (const auto& map : by_length_)
        for (const auto& [addr, r] : map) out.push_back(r);
    std::sort(out.begin(), out.end(), [](const Route& a, const Route& b) {
        if (a.prefix.length != b.prefix.length) return a.prefix.length > b.prefix.length;
        return a.prefix.address.value < b.prefix.address.value;
    });
    return out;
}

void RouteTable::clear() noexcept {
    for (auto& m : by_length_) m.clear();
    lengths_in_use_ = 0;
    by_session_.clear();
    size_ = 0;
}

}  // namespace dl::dataplane
