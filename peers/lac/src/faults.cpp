// lac-emu fault injection (faults.hpp).
#include "dl/lac/faults.hpp"

#include <stdexcept>
#include <string>
#include <utility>

namespace dl::lac {

std::string_view to_string(FaultKind k) noexcept {
    switch (k) {
    case FaultKind::drop: return "drop";
    case FaultKind::duplicate: return "duplicate";
    case FaultKind::corrupt: return "corrupt";
    case FaultKind::delay: return "delay";
    }
    return "?";
}

std::optional<FaultKind> fault_kind_from(std::string_view s) noexcept {
    for (FaultKind k : {FaultKind::drop, FaultKind::duplicate, FaultKind::corrupt, FaultKind::delay})
        if (s == to_string(k)) return k;
    return std::nullopt;
}

std::optional<std::size_t> first_avp_offset(std::span<const std::uint8_t> d) noexcept {
    // RFC 2661 §3.1: T L x x S x O P | x x x x Ver, [Length], Tunnel ID, Session ID, [Ns, Nr],
    // [Offset Size, Offset Pad].
    if (d.size() < 6 || !(d[0] & 0x80)) return std::nullopt;
    std::size_t off = 2;
    if (d[0] & 0x40) off += 2;  // L
    off += 4;                   // Tunnel ID, Session ID
    if (d[0] & 0x08) off += 4;  // S: Ns, Nr
    if (d[0] & 0x02) {          // O: Offset Size, then that many pad octets
        if (d.size() < off + 2) return std::nullopt;
        off += 2 + ((std::size_t{d[off]} << 8) | d[off + 1]);
    }
    if (d.size() < off + 6) return std::nullopt;  // ZLB (no AVP) or truncated
    return off;
}

std::optional<std::uint16_t> control_message_type(std::span<const std::uint8_t> d) noexcept {
    const auto off = first_avp_offset(d);
    if (!off || d.size() < *off + 8) return std::nullopt;
    return static_cast<std::uint16_t>((d[*off + 6] << 8) | d[*off + 7]);
}

bool corrupt_first_avp_length(std::vector<std::uint8_t>& d) noexcept {
    const auto off = first_avp_offset(d);
    if (!off) return false;
    // §4.1: M H rsvd(4) Length(10). Keep M/H, Length := 5.
    d[*off] = static_cast<std::uint8_t>(d[*off] & 0xFC);
    d[*off + 1] = 5;
    return true;
}

void FaultInjector::arm(FaultKind kind, int count, core::Duration delay) {
    if (count < 1 || count > kMaxCount)
        throw std::invalid_argument("count " + std::to_string(count) + " is not in 1.." + std::to_string(kMaxCount));
    if (kind == FaultKind::delay && (delay < core::Duration::zero() || delay > kMaxDelay))
        throw std::invalid_argument("delay " + core::format_duration(delay) + " is not in 0s..10m");
    armed_.push_back({kind, count, kind == FaultKind::delay ? delay : core::Duration::zero()});
}

void FaultInjector::clear() noexcept {
    armed_.clear();
    ignore_hello_ = false;
}

std::size_t FaultInjector::pending() const noexcept {
    std::size_t n = 0;
    for (const auto& a : armed_) n += static_cast<std::size_t>(a.left);
    return n;
}

FaultOutcome FaultInjector::outgoing(std::vector<std::uint8_t> datagram) {
    FaultOutcome out;
    if (armed_.empty() || !control_message_type(datagram)) {
        out.emissions.push_back({core::Duration::zero(), std::move(datagram)});
        return out;
    }
    Armed& a = armed_.front();
    const FaultKind kind = a.kind;
    const core::Duration delay = a.delay;
    if (--a.left <= 0) armed_.pop_front();
    out.applied = kind;
    switch (kind) {
    case FaultKind::drop: ++counters_.dropped; break;
    case FaultKind::duplicate:
        ++counters_.duplicated;
        out.emissions.push_back({core::Duration::zero(), datagram});
        out.emissions.push_back({core::Duration::zero(), std::move(datagram)});
        break;
    case FaultKind::corrupt:
        ++counters_.corrupted;
        corrupt_first_avp_length(datagram);
        out.emissions.push_back({core::Duration::zero(), std::move(datagram)});
        break;
    case FaultKind::delay:
        ++counters_.delayed;
        out.emissions.push_back({delay, std::move(datagram)});
        break;
    }
    return out;
}

bool FaultInjector::deliver(std::span<const std::uint8_t> datagram) noexcept {
    constexpr std::uint16_t kHello = 6;  // RFC 2661 §3.2 Message Type 6, HELLO
    if (ignore_hello_ && control_message_type(datagram) == kHello) {
        ++counters_.hello_ignored;
        return false;
    }
    return true;
}

}  // namespace dl::lac
