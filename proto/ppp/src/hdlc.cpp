// RFC 1662 §3–§5: HDLC-like framing of PPP (async octet-stuffed and bit-synchronous).
#include "dl/ppp/hdlc.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "dl/ppp/fcs.hpp"
#include "dl/proto/errors.hpp"

namespace dl::ppp {
namespace {

constexpr std::uint8_t kAc[2] = {kHdlcAllStations, kHdlcUi};

/// RFC 1661 §5: LCP codes 1..7 (Configure-*, Terminate-*, Code-Reject) always use the defaults.
bool is_lcp_default_frame(std::span<const std::uint8_t> f) noexcept {
    return f.size() >= 3 && f[0] == 0xc0 && f[1] == 0x21 && f[2] >= 1 && f[2] <= 7;
}

inline bool must_escape(std::uint8_t c, std::uint32_t accm) noexcept {
    // RFC 1662 §4.2: Flag and Control Escape always; octets < 0x20 flagged in the ACCM.
    return c == kHdlcFlag || c == kHdlcEscape || (c < 0x20 && ((accm >> c) & 1u));
}

inline std::uint8_t* put(std::uint8_t* p, std::uint8_t c, std::uint32_t accm) noexcept {
    if (must_escape(c, accm)) {
        *p++ = kHdlcEscape;
        *p++ = static_cast<std::uint8_t>(c ^ kHdlcEscapeXor);
    } else {
        *p++ = c;
    }
    return p;
}

}  // namespace

std::size_t encode_async(std::span<const std::uint8_t> ppp_frame, const AsyncOptions& opts,
                         std::vector<std::uint8_t>& out) {
    std::uint32_t accm = opts.accm;
    bool acfc = opts.acfc;
    bool use32 = opts.fcs32;
    if (opts.lcp_defaults && is_lcp_default_frame(ppp_frame)) {
        accm = kDefaultAccm;
        acfc = false;
        use32 = false;
    }
    const std::size_t start = out.size();
    out.resize(start + 2 * (ppp_frame.size() + 6) + 2);
    std::uint8_t* p = out.data() + start;
    *p++ = kHdlcFlag;
    std::uint32_t f32 = kFcs32Init;
    std::uint16_t f16 = kFcs16Init;
    if (!acfc) {
        if (use32) f32 = fcs32(f32, kAc); else f16 = fcs16(f16, kAc);
        p = put(p, kHdlcAllStations, accm);
        p = put(p, kHdlcUi, accm);
    }
    if (use32) f32 = fcs32(f32, ppp_frame); else f16 = fcs16(f16, ppp_frame);
    for (std::uint8_t c : ppp_frame) p = put(p, c, accm);
    // RFC 1662 §C.2/§C.3: transmit the ones complement, least significant octet first.
    if (use32) {
        f32 = ~f32;
        for (int i = 0; i < 4; ++i) p = put(p, static_cast<std::uint8_t>(f32 >> (8 * i)), accm);
    } else {
        f16 = static_cast<std::uint16_t>(~f16);
        p = put(p, static_cast<std::uint8_t>(f16 & 0xff), accm);
        p = put(p, static_cast<std::uint8_t>(f16 >> 8), accm);
    }
    *p++ = kHdlcFlag;
    const std::size_t n = static_cast<std::size_t>(p - (out.data() + start));
    out.resize(start + n);
    return n;
}

std::vector<std::uint8_t> encode_async(std::span<const std::uint8_t> ppp_frame,
                                       const AsyncOptions& opts) {
    std::vector<std::uint8_t> out;
    encode_async(ppp_frame, opts, out);
    return out;
}

AsyncDeframer::AsyncDeframer(DeframerOptions opts) : opts_(opts) { buf_.reserve(max_frame()); }

void AsyncDeframer::set_options(const DeframerOptions& opts) {
    opts_ = opts;
    buf_.reserve(max_frame());
}

void AsyncDeframer::reset() noexcept {
    buf_.clear();
    hunting_ = true;
    escaped_ = false;
    overflow_ = false;
    delivered_ = false;
}

std::size_t AsyncDeframer::max_frame() const noexcept {
    // Address + Control + Protocol (2) + MRU octets of Information/Padding + FCS.
    return std::size_t{opts_.mru} + 4 + (opts_.fcs32 ? 4 : 2);
}

std::optional<std::span<const std::uint8_t>> AsyncDeframer::finish_frame() {
    const bool overflow = overflow_;
    overflow_ = false;
    escaped_ = false;
    const std::size_t n = buf_.size();
    if (overflow) {
        ++stats_.too_long;
        buf_.clear();
        return std::nullopt;
    }
    if (n == 0) return std::nullopt;  // two flags in a row: empty frame, not an error (§3.1)
    const std::size_t fcs_len = opts_.fcs32 ? 4 : 2;
    if (n < fcs_len + 2) {  // RFC 1662 §4.3: < 4 octets (FCS-16) or < 6 (FCS-32)
        ++stats_.too_short;
        buf_.clear();
        return std::nullopt;
    }
    const bool good = opts_.fcs32 ? fcs32_good(buf_) : fcs16_good(buf_);
    if (!good) {
        ++stats_.bad_fcs;
        buf_.clear();
        return std::nullopt;
    }
    std::size_t off = 0;
    if (buf_[0] == kHdlcAllStations) {
        if (buf_[1] != kHdlcUi) {  // RFC 1662 §3.1: unrecognised Control, silently discarded
            ++stats_.bad_address;
            buf_.clear();
            return std::nullopt;
        }
        off = 2;
    }
    if (n - fcs_len <= off) {  // nothing left for the Protocol field
        ++stats_.too_short;
        buf_.clear();
        return std::nullopt;
    }
    ++stats_.frames;
    delivered_ = true;  // buf_ is cleared on the next call, after the caller used the view
    return std::span<const std::uint8_t>(buf_.data() + off, n - fcs_len - off);
}

std::optional<std::span<const std::uint8_t>> AsyncDeframer::next(
    std::span<const std::uint8_t>& input) {
    if (delivered_) {
        buf_.clear();
        delivered_ = false;
    }
    const std::size_t limit = max_frame();
    const std::uint8_t* p = input.data();
    const std::uint8_t* const end = p + input.size();
    const std::uint32_t accm = opts_.accm;
    while (p != end) {
        if (!hunting_ && !escaped_ && !overflow_) {
            // Fast path: copy a run of ordinary octets (no Flag, no Escape, no ACCM-flagged
            // control octet) in one go.
            const std::uint8_t* q = p;
            while (q != end && *q != kHdlcFlag && *q != kHdlcEscape &&
                   !(*q < 0x20 && ((accm >> *q) & 1u)))
                ++q;
            if (q != p) {
                const std::size_t run = static_cast<std::size_t>(q - p);
                const std::size_t room = limit - std::min(limit, buf_.size());
                if (run > room) {
                    buf_.insert(buf_.end(), p, p + room);
                    overflow_ = true;  // bounded memory: discard the rest up to the next flag
                } else {
                    buf_.insert(buf_.end(), p, q);
                }
                p = q;
                continue;
            }
        }
        std::uint8_t c = *p++;
        if (hunting_) {
            if (c == kHdlcFlag) {
                hunting_ = false;
                buf_.clear();
            } else {
                ++stats_.hunt_octets;
            }
            continue;
        }
        if (c == kHdlcFlag) {
            if (escaped_) {  // RFC 1662 §4.2: Control Escape + Flag aborts the frame
                ++stats_.aborted;
                escaped_ = false;
                overflow_ = false;
                buf_.clear();
                continue;
            }
            auto frame = finish_frame();
            if (frame) {
                input = std::span<const std::uint8_t>(p, static_cast<std::size_t>(end - p));
                return frame;
            }
            continue;
        }
        // RFC 1662 §4.2: octets < 0x20 flagged in the receiving ACCM are removed before the FCS.
        if (c < 0x20 && ((accm >> c) & 1u)) continue;
        if (escaped_) {
            c = static_cast<std::uint8_t>(c ^ kHdlcEscapeXor);
            escaped_ = false;
        } else if (c == kHdlcEscape) {
            escaped_ = true;
            continue;
        }
        if (overflow_) continue;
        if (buf_.size() >= limit) {
            overflow_ = true;  // bounded memory: discard the rest up to the next flag
            continue;
        }
        buf_.push_back(c);
    }
    input = std::span<const std::uint8_t>(end, std::size_t{0});
    return std::nullopt;
}

std::vector<std::vector<std::uint8_t>> AsyncDeframer::feed(std::span<const std::uint8_t> chunk) {
    std::vector<std::vector<std::uint8_t>> frames;
    while (auto f = next(chunk)) frames.emplace_back(f->begin(), f->end());
    return frames;
}

std::vector<std::uint8_t> encode_sync(std::span<const std::uint8_t> ppp_frame,
                                      const SyncOptions& opts) {
    bool acfc = opts.acfc;
    bool use32 = opts.fcs32;
    if (opts.lcp_defaults && is_lcp_default_frame(ppp_frame)) {
        acfc = false;
        use32 = false;
    }
    const std::size_t ac = acfc ? 0 : 2;
    const std::size_t fl = use32 ? 4 : 2;
    std::vector<std::uint8_t> out(ac + ppp_frame.size() + fl);
    std::uint8_t* p = out.data();
    if (ac) {
        p[0] = kHdlcAllStations;
        p[1] = kHdlcUi;
    }
    if (!ppp_frame.empty()) std::memcpy(p + ac, ppp_frame.data(), ppp_frame.size());
    const std::span<const std::uint8_t> covered(p, ac + ppp_frame.size());
    std::uint8_t* f = p + covered.size();
    if (use32) {
        const std::uint32_t v = ~fcs32(kFcs32Init, covered);
        for (int i = 0; i < 4; ++i) f[i] = static_cast<std::uint8_t>(v >> (8 * i));
    } else {
        const auto v = static_cast<std::uint16_t>(~fcs16(kFcs16Init, covered));
        f[0] = static_cast<std::uint8_t>(v & 0xff);
        f[1] = static_cast<std::uint8_t>(v >> 8);
    }
    return out;
}

std::span<const std::uint8_t> decode_sync(std::span<const std::uint8_t> frame, bool fcs32) {
    using dl::proto::ParseError;
    using dl::proto::Protocol;
    const std::size_t fcs_len = fcs32 ? 4 : 2;
    if (frame.size() < fcs_len + 2) {
        throw ParseError(Protocol::hdlc, "frame",
                         fmt::format("{} octets, minimum is {}", frame.size(), fcs_len + 2),
                         "RFC 1662 §4.3", 0);
    }
    if (!(fcs32 ? fcs32_good(frame) : fcs16_good(frame))) {
        throw ParseError(Protocol::hdlc, "fcs",
                         fcs32 ? "bad FCS-32" : "bad FCS-16",
                         fcs32 ? "RFC 1662 §C.3" : "RFC 1662 §C.2", frame.size() - fcs_len);
    }
    std::size_t off = 0;
    if (frame[0] == kHdlcAllStations) {
        if (frame[1] != kHdlcUi) {
            throw ParseError(Protocol::hdlc, "control",
                             fmt::format("control 0x{:02x}, expected 0x03 (UI)", frame[1]),
                             "RFC 1662 §3.1", 1);
        }
        off = 2;
    }
    if (frame.size() - fcs_len <= off) {
        throw ParseError(Protocol::hdlc, "protocol", "no Protocol field after Address/Control",
                         "RFC 1661 §2", off);
    }
    return frame.subspan(off, frame.size() - fcs_len - off);
}

}  // namespace dl::ppp
