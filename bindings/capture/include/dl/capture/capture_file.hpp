// The container side of the capture reader of dlab._native.read_capture (bindings/src/capture.cpp
// walks each frame's link layer down to UDP and decodes it): classic pcap through libpcap, pcapng
// (IETF draft-ietf-opsawg-pcapng §4) walked here block by block, the link types the walker knows
// (tcpdump.org LINKTYPE_* registry), and the UDP classification by port and learnt L2TP endpoint
// (RFC 2661 §8.1). A library of its own so the fuzz harness (fuzz/capture_fuzz.cpp) reads what
// users' files hold through the same code; no Python here.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace dl::capture {

/// A file that cannot be read as a capture: what, where (byte offset, or -1) and the link type.
struct CaptureError : std::runtime_error {
    CaptureError(std::string path, std::string why, long long at = -1, long long lt = -1)
        : std::runtime_error(path + ": " + why + (at >= 0 ? " (at byte " + std::to_string(at) + ")" : std::string())),
          file(std::move(path)), reason(std::move(why)), offset(at), link_type(lt) {}
    std::string file, reason;
    long long offset, link_type;
};

// LINKTYPE_* numbers (tcpdump.org link-layer header types registry).
constexpr std::uint32_t kNull = 0, kEthernet = 1, kPpp = 9, kRaw12 = 12, kRaw14 = 14, kPppHdlc = 50,
                        kPppEther = 51, kRaw = 101, kCHdlc = 104, kLoop = 108, kSll = 113, kPppPppd = 166,
                        kPppWithDir = 204, kIpv4 = 228, kSll2 = 276;

/// The registry name of a link type ("ETHERNET", "LINUX_SLL", …; libpcap's table for others).
std::string link_type_name(std::uint32_t lt);
/// Whether the frame walker of dlab._native.read_capture reads this link type.
bool supported(std::uint32_t lt);

/// One captured frame as stored in the file.
struct RawFrame {
    double time = 0;
    std::uint32_t link_type = 0;
    std::uint32_t interface = 0;
    std::uint64_t offset = 0;  // of the record in the file
    std::vector<std::uint8_t> data;
};

/// Receives each frame of a file, in file order.
using FrameSink = std::function<void(const RawFrame&)>;

/// Every frame of a file, in file order. pcap through libpcap; pcapng walked block by block.
class CaptureFile {
public:
    /// Opens `path` and reads its magic number. CaptureError when it cannot be opened or is shorter
    /// than 4 octets.
    explicit CaptureFile(std::string path);

    std::string format() const { return pcapng_ ? "pcapng" : "pcap"; }

    /// Calls `on(RawFrame&)` for each frame; `interfaces` gets each interface's link type.
    /// CaptureError when the file is corrupt or truncated, or a frame's link type is unsupported.
    void read(const FrameSink& on, std::vector<std::uint32_t>& interfaces);

private:
    void read_pcap(const FrameSink& on, std::vector<std::uint32_t>& interfaces);
    /// libpcap reports DLT_ values; the few that differ from LINKTYPE_ values on Linux.
    static std::uint32_t dlt_to_linktype(int dlt);
    // pcapng: Section Header (0x0A0D0D0A), Interface Description (1), Enhanced Packet (6),
    // Simple Packet (3), obsolete Packet (2); other blocks are skipped by their length.
    void read_pcapng(const FrameSink& on, std::vector<std::uint32_t>& interfaces);

    std::string path_;
    bool pcapng_ = false;
};

/// Ports the user named, and the endpoints learnt to speak L2TP (RFC 2661 §8.1: a peer may answer
/// from another port than 1701, and the control connection then "floats" there).
struct Classifier {
    std::set<std::uint16_t> l2tp_ports{1701};
    std::set<std::uint16_t> radius_ports;
    std::set<std::pair<std::uint32_t, std::uint16_t>> l2tp_endpoints;

    /// "l2tp" (a port named, or an endpoint learnt), a protocol of dl::proto::classify_udp, "radius-auth" /
    /// "radius-acct" / "radius-dynauth" on a RADIUS port named (by Code), else "unknown".
    std::string classify(std::uint32_t src, std::uint16_t sport, std::uint32_t dst, std::uint16_t dport,
                         std::span<const std::uint8_t> payload);
};

}  // namespace dl::capture
