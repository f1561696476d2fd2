#include "dl/dataplane/icmp.hpp"

#include <algorithm>
#include <cstring>

#include "dl/dataplane/ipv4_fragment.hpp"

namespace dl::dataplane {

namespace {
constexpr std::uint8_t kProtoIcmp = 1;
constexpr std::uint8_t kDestUnreachable = 3, kFragNeeded = 4;  // RFC 792 type / code

std::uint16_t be16(const std::uint8_t* p) noexcept { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }
std::uint32_t be32(const std::uint8_t* p) noexcept {
    return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}
void put16(std::uint8_t* p, std::uint16_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
void put32(std::uint8_t* p, std::uint32_t v) noexcept {
    put16(p, static_cast<std::uint16_t>(v >> 16));
    put16(p + 2, static_cast<std::uint16_t>(v));
}

/// A source that names a single host (RFC 1812 §4.3.2.7, §5.3.7): not 0/8, 127/8, 224/4 or above.
bool single_host(std::uint32_t a) noexcept {
    const std::uint32_t first = a >> 24;
    return first != 0 && first != 127 && first < 224;
}
}  // namespace

std::size_t write_icmp_frag_needed(std::span<const std::uint8_t> p, std::uint32_t source, std::uint16_t mtu,
                                   std::span<std::uint8_t> out, IcmpRefusal* why) noexcept {
    auto refuse = [&](IcmpRefusal r) {
        if (why) *why = r;
        return std::size_t{0};
    };
    if (!single_host(source)) return refuse(IcmpRefusal::no_source);
    if (p.size() < 20 || (p[0] >> 4) != 4) return refuse(IcmpRefusal::malformed);
    const std::size_t hl = std::size_t{p[0] & 0x0Fu} * 4;
    const std::size_t total = be16(&p[2]);
    if (hl < 20 || total < hl || total > p.size()) return refuse(IcmpRefusal::malformed);
    if ((be16(&p[6]) & 0x1FFF) != 0) return refuse(IcmpRefusal::not_first_fragment);
    const std::uint32_t src = be32(&p[12]), dst = be32(&p[16]);
    if (!single_host(src) || (dst >> 28) == 0xE || dst == 0xFFFFFFFFu) return refuse(IcmpRefusal::not_unicast);
    if (p[9] == kProtoIcmp) {
        // ICMP error messages get none (RFC 1812 §4.3.2.7); queries (echo, timestamp…) do.
        if (total < hl + 1) return refuse(IcmpRefusal::malformed);
        const std::uint8_t t = p[hl];
        if (t == 3 || t == 4 || t == 5 || t == 11 || t == 12) return refuse(IcmpRefusal::icmp_error);
    }
    const std::size_t quoted = hl + std::min<std::size_t>(8, total - hl);
    const std::size_t n = 20 + 8 + quoted;
    if (out.size() < n) return refuse(IcmpRefusal::output_too_small);
    std::uint8_t* o = out.data();
    std::memset(o, 0, 28);
    o[0] = 0x45;  // version 4, IHL 5
    put16(&o[2], static_cast<std::uint16_t>(n));
    o[8] = 64;  // TTL
    o[9] = kProtoIcmp;
    put32(&o[12], source);
    put32(&o[16], src);
    put16(&o[10], ipv4_header_checksum({o, 20}));
    std::uint8_t* icmp = o + 20;
    icmp[0] = kDestUnreachable;
    icmp[1] = kFragNeeded;
    put16(&icmp[6], mtu);  // RFC 1191 §4: Next-Hop MTU in the low-order 16 bits of the "unused" word
    std::memcpy(icmp + 8, p.data(), quoted);
    put16(&icmp[2], ipv4_header_checksum({icmp, 8 + quoted}));  // the same one's-complement sum (RFC 792)
    if (why) *why = IcmpRefusal::none;
    return n;
}

bool TokenBucket::take(core::TimePoint now) noexcept {
    if (rate_ <= 0) return false;
    if (started_ && now > last_) {
        const double dt = std::chrono::duration<double>(now - last_).count();
        tokens_ = std::min(burst_, tokens_ + dt * rate_);
    }
    if (!started_ || now > last_) last_ = now;
    started_ = true;
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
}

std::span<const std::uint8_t> FragNeededSender::make(std::span<const std::uint8_t> original, std::uint32_t source,
                                                     std::uint16_t next_hop_mtu, core::TimePoint now) noexcept {
    IcmpRefusal why = IcmpRefusal::none;
    const std::size_t n = write_icmp_frag_needed(original, source, next_hop_mtu, buf_, &why);
    if (n == 0) {
        ++counters_.not_sent;
        return {};
    }
    // The bucket is asked only for packets that would get a message: refusals spend no token.
    if (!bucket_.take(now)) {
        ++counters_.rate_limited;
        return {};
    }
    ++counters_.sent;
    return {buf_.data(), n};
}

}  // namespace dl::dataplane
