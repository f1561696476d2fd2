#include "dl/loadgen/b_channel.hpp"

namespace dl::loadgen {

using isdn::MessageType;

namespace {
bool ends_call(MessageType t) { return t == MessageType::release || t == MessageType::release_complete; }
}  // namespace

void BChannelBridge::forget_caller(std::uint16_t caller_ref) {
    auto it = by_caller_.find(caller_ref);
    if (it == by_caller_.end()) return;
    if (it->second.active) --active_count_;
    by_callee_.erase(it->second.callee);
    by_caller_.erase(it);
}

void BChannelBridge::from_caller(const isdn::Message& m) {
    if (m.type == MessageType::setup) {
        forget_caller(m.call_ref);
        pending_[m.called] = m.call_ref;
    } else if (ends_call(m.type)) {
        forget_caller(m.call_ref);
    }
}

void BChannelBridge::to_caller(const isdn::Message& m) {
    if (m.type == MessageType::connect) {
        auto it = by_caller_.find(m.call_ref);
        if (it != by_caller_.end() && !it->second.active) {
            it->second.active = true;
            ++active_count_;
        }
    } else if (ends_call(m.type)) {
        forget_caller(m.call_ref);
    }
}

void BChannelBridge::to_callee(const isdn::Message& m) {
    if (m.type == MessageType::setup) {
        auto p = pending_.find(m.called);
        if (p == pending_.end()) return;
        const std::uint16_t caller = p->second;
        pending_.erase(p);
        if (auto old = by_callee_.find(m.call_ref); old != by_callee_.end()) forget_caller(old->second);
        by_caller_[caller] = Pair{m.call_ref, false};
        by_callee_[m.call_ref] = caller;
    } else if (ends_call(m.type)) {
        if (auto it = by_callee_.find(m.call_ref); it != by_callee_.end()) forget_caller(it->second);
    }
}

void BChannelBridge::from_callee(const isdn::Message& m) {
    if (ends_call(m.type))
        if (auto it = by_callee_.find(m.call_ref); it != by_callee_.end()) forget_caller(it->second);
}

std::optional<std::uint16_t> BChannelBridge::callee_of(std::uint16_t caller_ref) const {
    auto it = by_caller_.find(caller_ref);
    if (it == by_caller_.end() || !it->second.active) return std::nullopt;
    return it->second.callee;
}

std::optional<std::uint16_t> BChannelBridge::caller_of(std::uint16_t callee_ref) const {
    auto it = by_callee_.find(callee_ref);
    if (it == by_callee_.end()) return std::nullopt;
    auto c = by_caller_.find(it->second);
    if (c == by_caller_.end() || !c->second.active) return std::nullopt;
    return it->second;
}

}  // namespace dl::loadgen
