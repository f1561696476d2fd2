// HDLC-like framing of PPP: RFC 1662 §4 (asynchronous, octet-stuffed) and §5 (bit-synchronous).
//
// Terms: a "PPP frame" here is Protocol + Information + Padding (RFC 1661 §2), i.e. what follows
// the Address and Control fields. The framers add/remove Address-and-Control (0xff 0x03, RFC 1662
// §3.1), the FCS (RFC 1662 §3.1, Appendix C) and, for async links, flags and escapes (§4.2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace dl::ppp {

inline constexpr std::uint8_t kHdlcFlag = 0x7e;           ///< Flag Sequence (RFC 1662 §3.1)
inline constexpr std::uint8_t kHdlcEscape = 0x7d;         ///< Control Escape (RFC 1662 §4.2)
inline constexpr std::uint8_t kHdlcEscapeXor = 0x20;      ///< XOR applied after Control Escape
inline constexpr std::uint8_t kHdlcAllStations = 0xff;    ///< Address field (RFC 1662 §3.1)
inline constexpr std::uint8_t kHdlcUi = 0x03;             ///< Control field, UI (RFC 1662 §3.1)
inline constexpr std::uint32_t kDefaultAccm = 0xffffffff; ///< RFC 1662 §7.1 default async ACCM
inline constexpr std::uint16_t kDefaultMru = 1500;        ///< RFC 1661 §6.1 default MRU

/// Transmit options of an HDLC-like framer (values negotiated by LCP).
struct AsyncOptions {
    /// Sending Async-Control-Character-Map for octets 0x00–0x1f (bit n set: escape octet n),
    /// RFC 1662 §7.1. Flag and Control Escape are always escaped (§4.2).
    std::uint32_t accm = kDefaultAccm;
    /// Address-and-Control-Field-Compression: omit 0xff 0x03 (RFC 1661 §6.6).
    bool acfc = false;
    /// Use the 32-bit FCS instead of FCS-16 (RFC 1662 §C.3; negotiated per RFC 1570).
    bool fcs32 = false;
    /// RFC 1661 §5: LCP packets with codes 1–7 are always sent as if no option were negotiated.
    /// When true, a frame whose Protocol is 0xc021 and Code is 1..7 is framed with the default
    /// ACCM, Address/Control present and FCS-16 regardless of the fields above.
    bool lcp_defaults = true;
};

/// Synchronous framing options (RFC 1662 §5: no flags/stuffing in the octet stream handed over).
struct SyncOptions {
    bool acfc = false;   ///< omit 0xff 0x03 (RFC 1661 §6.6)
    bool fcs32 = false;  ///< FCS-32 instead of FCS-16
    bool lcp_defaults = true;  ///< as AsyncOptions::lcp_defaults (ACFC and FCS only)
};

/// Appends the async HDLC-like encoding of `ppp_frame` (Protocol + Information) to `out`:
/// Flag, [0xff 0x03], escaped frame and FCS (least significant octet first), Flag.
/// RFC 1662 §4.1–§4.2, §3.1, Appendix C. Appends at most 2*(len+6)+2 octets; `out` is reused by
/// the caller so no allocation happens once it has grown. Returns the number of octets appended.
std::size_t encode_async(std::span<const std::uint8_t> ppp_frame, const AsyncOptions& opts,
                         std::vector<std::uint8_t>& out);

/// Convenience form of encode_async() returning a fresh buffer.
std::vector<std::uint8_t> encode_async(std::span<const std::uint8_t> ppp_frame,
                                       const AsyncOptions& opts = {});

/// Receive-side settings and counters of AsyncDeframer.
struct DeframerOptions {
    /// Receiving ACCM: an unescaped octet < 0x20 whose bit is set is removed before the FCS is
    /// computed (RFC 1662 §4.2: it may have been inserted by intervening equipment).
    std::uint32_t accm = kDefaultAccm;
    bool fcs32 = false;               ///< expect FCS-32 (RFC 1662 §C.3)
    std::uint16_t mru = kDefaultMru;  ///< Information+Padding limit (RFC 1661 §6.1)
};

/// Counters of AsyncDeframer; frames are silently discarded and counted, never thrown.
struct DeframerStats {
    std::uint64_t frames = 0;        ///< good frames delivered
    std::uint64_t bad_fcs = 0;       ///< FCS check failed (RFC 1662 §4.3)
    std::uint64_t too_short = 0;     ///< < 4 (FCS-16) or < 6 (FCS-32) octets between flags (§4.3)
    std::uint64_t too_long = 0;      ///< longer than MRU + address/control + protocol + FCS
    std::uint64_t aborted = 0;       ///< Control Escape followed by Flag (abort, RFC 1662 §4.2)
    std::uint64_t bad_address = 0;   ///< address 0xff with a control octet other than 0x03 (§3.1)
    std::uint64_t hunt_octets = 0;   ///< octets skipped before the first flag
};

/// Streaming async HDLC-like deframer (RFC 1662 §4). Feed byte chunks of any size; frames may be
/// split across chunks, several frames may be in one chunk. Memory is bounded by the MRU.
///
/// Usage (allocation-free once warm):
///   std::span<const uint8_t> in = chunk;
///   while (auto frame = deframer.next(in)) handle(*frame);   // `in` is advanced
/// Each delivered frame is the PPP frame (Protocol + Information) with Address/Control (if
/// present) and FCS removed; the span stays valid until the next call to next()/feed()/reset().
class AsyncDeframer {
public:
    explicit AsyncDeframer(DeframerOptions opts = {});

    /// Consumes octets from the front of `input` until a complete good frame is found (returned,
    /// `input` then starts just after its closing flag) or the input is exhausted (nullopt).
    std::optional<std::span<const std::uint8_t>> next(std::span<const std::uint8_t>& input);

    /// Consumes all of `chunk` and returns copies of every complete good frame in it.
    std::vector<std::vector<std::uint8_t>> feed(std::span<const std::uint8_t> chunk);

    /// Changes receive options (e.g. after LCP opened); a partial frame is kept.
    void set_options(const DeframerOptions& opts);
    const DeframerOptions& options() const noexcept { return opts_; }
    const DeframerStats& stats() const noexcept { return stats_; }
    /// Drops any partial frame and returns to flag hunting; counters are kept.
    void reset() noexcept;

private:
    std::optional<std::span<const std::uint8_t>> finish_frame();
    std::size_t max_frame() const noexcept;

    DeframerOptions opts_;
    DeframerStats stats_;
    std::vector<std::uint8_t> buf_;
    bool hunting_ = true;    // before the first flag
    bool escaped_ = false;   // previous octet was Control Escape
    bool overflow_ = false;  // current frame exceeded max_frame(); discard at next flag
    bool delivered_ = false; // buf_ holds a frame handed out by next(); clear on next call
};

/// Encodes a synchronous HDLC frame body as a bit-synchronous controller hands it over after
/// bit de-stuffing: [0xff 0x03] + ppp_frame + FCS (RFC 1662 §5, §3.1). No flags, no escapes.
std::vector<std::uint8_t> encode_sync(std::span<const std::uint8_t> ppp_frame,
                                      const SyncOptions& opts = {});

/// Checks and strips a synchronous frame: verifies the FCS (RFC 1662 §C.2/§C.3), strips the FCS
/// and an Address/Control pair 0xff 0x03 if present (ACFC otherwise), and returns a view into
/// `frame` of the PPP frame (Protocol + Information). Throws dl::proto::ParseError
/// (Protocol::hdlc) if the frame is shorter than 4/6 octets (RFC 1662 §4.3), the FCS is bad, or
/// the address is 0xff with a control other than 0x03 (§3.1).
std::span<const std::uint8_t> decode_sync(std::span<const std::uint8_t> frame, bool fcs32 = false);

}  // namespace dl::ppp
