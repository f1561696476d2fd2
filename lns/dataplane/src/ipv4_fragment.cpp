#include "dl/dataplane/ipv4_fragment.hpp"

#include <algorithm>
#include <cstring>

namespace dl::dataplane {

namespace {
constexpr std::uint16_t kDf = 0x4000, kMf = 0x2000, kOffsetMask = 0x1FFF;  // RFC 791 §3.1 Flags / Fragment Offset

std::uint16_t be16(const std::uint8_t* p) noexcept { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }
void put16(std::uint8_t* p, std::uint16_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}

/// The options (RFC 791 §3.1) walk: false if an option runs past the header or has a bad length.
template <typename F>
bool for_each_option(std::span<const std::uint8_t> opts, F&& f) noexcept {
    std::size_t i = 0;
    while (i < opts.size()) {
        const std::uint8_t type = opts[i];
        if (type == 0) return true;  // End of Option List: the rest is padding
        if (type == 1) {             // No Operation
            ++i;
            continue;
        }
        if (i + 1 >= opts.size() || opts[i + 1] < 2 || i + opts[i + 1] > opts.size()) return false;
        f(i, static_cast<std::size_t>(opts[i + 1]), type);
        i += opts[i + 1];
    }
    return true;
}
}  // namespace

std::uint16_t ipv4_header_checksum(std::span<const std::uint8_t> h) noexcept {
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i + 1 < h.size(); i += 2) sum += be16(&h[i]);
    if (h.size() & 1) sum += std::uint32_t{h.back()} << 8;
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

FragmentPlan plan_ipv4_fragments(std::span<const std::uint8_t> p, std::size_t mtu) noexcept {
    FragmentPlan plan;
    if (p.size() < 20 || (p[0] >> 4) != 4) return plan;
    const std::size_t hl = std::size_t{p[0] & 0x0Fu} * 4;
    const std::size_t total = be16(&p[2]);
    if (hl < 20 || total < hl || total > p.size()) return plan;
    if (!for_each_option(p.subspan(20, hl - 20), [](std::size_t, std::size_t, std::uint8_t) {})) return plan;
    plan.header_len = hl;
    if (total <= mtu) {
        plan.verdict = FragmentVerdict::fits;
        plan.chunk = total - hl;
        plan.count = 1;
        return plan;
    }
    if (be16(&p[6]) & kDf) {
        plan.verdict = FragmentVerdict::dont_fragment;
        return plan;
    }
    if (mtu < hl + 8) {
        plan.verdict = FragmentVerdict::unsplittable;
        return plan;
    }
    plan.verdict = FragmentVerdict::fragment;
    plan.chunk = (mtu - hl) / 8 * 8;
    plan.count = (total - hl + plan.chunk - 1) / plan.chunk;
    return plan;
}

std::size_t ipv4_fragment_size(std::span<const std::uint8_t> p, const FragmentPlan& plan, std::size_t k) noexcept {
    if (k >= plan.count || plan.chunk == 0) return 0;
    const std::size_t data = be16(&p[2]) - plan.header_len;
    return plan.header_len + std::min(plan.chunk, data - k * plan.chunk);
}

std::size_t write_ipv4_fragment(std::span<const std::uint8_t> p, const FragmentPlan& plan, std::size_t k,
                                std::span<std::uint8_t> out) noexcept {
    const std::size_t n = ipv4_fragment_size(p, plan, k);
    if (n == 0 || out.size() < n) return 0;
    const std::size_t hl = plan.header_len;
    std::memcpy(out.data(), p.data(), hl);
    std::memcpy(out.data() + hl, p.data() + hl + k * plan.chunk, n - hl);
    if (k > 0)  // options not marked "copied" (type bit 0x80) appear in the first fragment only
        for_each_option(p.subspan(20, hl - 20), [&](std::size_t at, std::size_t len, std::uint8_t type) {
            if (!(type & 0x80)) std::memset(out.data() + 20 + at, 1, len);
        });
    const std::uint16_t flags = be16(&p[6]);
    const std::size_t offset = (flags & kOffsetMask) + k * plan.chunk / 8;
    const bool more = k + 1 < plan.count || (flags & kMf);
    put16(&out[2], static_cast<std::uint16_t>(n));
    put16(&out[6], static_cast<std::uint16_t>((flags & ~(kMf | kOffsetMask)) | (more ? kMf : 0) | (offset & kOffsetMask)));
    put16(&out[10], 0);
    put16(&out[10], ipv4_header_checksum({out.data(), hl}));
    return n;
}

}  // namespace dl::dataplane
