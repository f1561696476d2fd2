// UDP datagrams out of capture files, for tests that replay public pcaps.
//
// The frames are read raw (Tins::FileSniffer with raw extraction) and the IPv4/UDP headers are found
// here rather than by libtins' decoders, so that Ethernet, IEEE 802.1Q, MPLS, PPPoE session and Linux
// cooked (SLL) encapsulations are all handled, frames libtins cannot decode still count for the
// numbering, and truncated or lying IP lengths (e.g. tcpdump_l2tp-avp-overflow.pcap) neither throw nor
// read past the captured octets. Frames are numbered from 1 in file order, as Wireshark numbers them.
#pragma once

#include <tins/rawpdu.h>
#include <tins/sniffer.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace dl::testing {

/// One UDP datagram of a capture.
struct Datagram {
    std::size_t frame = 0;              ///< 1-based frame number in the file (Wireshark's frame.number)
    std::uint16_t sport = 0;            ///< UDP source port
    std::uint16_t dport = 0;            ///< UDP destination port
    std::vector<std::uint8_t> payload;  ///< UDP payload as captured, cut at the UDP Length if shorter
};

/// pcap link types understood by udp_of_frame() (values of pcap's LINKTYPE_/DLT_ registry).
inline constexpr int kLinkEthernet = 1;      ///< DLT_EN10MB
inline constexpr int kLinkRaw = 101;         ///< LINKTYPE_RAW: the frame starts with the IP header
inline constexpr int kLinkLinuxSll = 113;    ///< DLT_LINUX_SLL: 16-octet Linux cooked header
inline constexpr int kLinkIpv4 = 228;        ///< LINKTYPE_IPV4

/// The IPv4/UDP datagram carried by one raw frame of link type `link_type`, or nullopt when the
/// frame is not IPv4/UDP (EtherType 0x0800, IP protocol 17; the version nibble is not checked, as
/// libtins does not), is an IP fragment (MF set or Fragment Offset non-zero: no reassembly), or is
/// too short for the IPv4 header (IHL >= 5) and the 8-octet UDP header. Encapsulations walked:
/// Ethernet II, any number of 802.1Q tags, an MPLS label stack (IPv4 assumed below the bottom label),
/// a PPPoE session (PPP protocol 0x0021), Linux cooked (SLL) and raw IPv4 link types.
/// The payload ends at the first of: the end of the frame, the UDP Length (RFC 768; ignored if < 8),
/// the IPv4 Total Length (ignored if 0, as with TCP segmentation offload, or shorter than the IP
/// header; shorter than IP + UDP headers -> nullopt). Never reads outside `f`; the result's `frame`
/// is left 0.
inline std::optional<Datagram> udp_of_frame(std::span<const std::uint8_t> f, int link_type = kLinkEthernet) {
    auto at16 = [&](std::size_t i) { return static_cast<std::uint16_t>(f[i] << 8 | f[i + 1]); };
    std::size_t p = 0;
    std::uint16_t et = 0x0800;
    if (link_type == kLinkEthernet || link_type == kLinkLinuxSll) {
        const std::size_t type_at = link_type == kLinkEthernet ? 12 : 14;
        if (f.size() < type_at + 2) return std::nullopt;
        et = at16(type_at);
        p = type_at + 2;
    } else if (link_type != kLinkRaw && link_type != kLinkIpv4) {
        return std::nullopt;
    }
    while (et == 0x8100 && f.size() >= p + 4) {  // 802.1Q: TCI, then the inner EtherType
        et = at16(p + 2);
        p += 4;
    }
    if (et == 0x8847) {  // MPLS: skip labels to the bottom of the stack
        while (f.size() >= p + 4) {
            const bool bottom = f[p + 2] & 1;
            p += 4;
            if (bottom) break;
        }
        et = 0x0800;
    } else if (et == 0x8864) {  // PPPoE session: 6-octet header, PPP protocol 0x0021 = IPv4
        if (f.size() < p + 8 || at16(p + 6) != 0x0021) return std::nullopt;
        p += 8;
        et = 0x0800;
    }
    if (et != 0x0800 || f.size() < p + 20) return std::nullopt;
    const std::size_t ihl = (f[p] & 0x0F) * 4u;
    const bool fragment = (at16(p + 6) & 0x3FFF) != 0;  // MF flag or Fragment Offset
    if (f[p + 9] != 17 || ihl < 20 || fragment || f.size() < p + ihl + 8) return std::nullopt;
    const std::size_t total_length = at16(p + 2);
    if (total_length >= ihl && total_length < ihl + 8) return std::nullopt;  // no room for UDP
    p += ihl;
    Datagram d;
    d.sport = at16(p);
    d.dport = at16(p + 2);
    const std::size_t ulen = at16(p + 4);
    const std::size_t avail = f.size() - (p + 8);
    std::size_t n = ulen >= 8 ? std::min(avail, ulen - 8) : avail;
    if (total_length >= ihl + 8) n = std::min(n, total_length - ihl - 8);
    const auto body = f.subspan(p + 8, n);
    d.payload.assign(body.begin(), body.end());
    return d;
}

/// Every IPv4/UDP datagram of the capture at `path` (pcap or pcapng), in file order; frames that
/// udp_of_frame() does not accept are skipped but counted. If `frames` is given it receives the
/// total number of frames in the file. Throws Tins::pcap_error if the file cannot be opened.
inline std::vector<Datagram> read_udp(const std::string& path, std::size_t* frames = nullptr) {
    Tins::FileSniffer sniffer(path);
    sniffer.set_extract_raw_pdus(true);
    const int link_type = sniffer.link_type();
    std::vector<Datagram> out;
    std::size_t n = 0;
    sniffer.sniff_loop([&](Tins::PDU& pdu) {
        ++n;
        if (const auto* raw = pdu.find_pdu<Tins::RawPDU>()) {
            if (auto d = udp_of_frame(raw->payload(), link_type)) {
                d->frame = n;
                out.push_back(std::move(*d));
            }
        }
        return true;
    });
    if (frames != nullptr) *frames = n;
    return out;
}

/// As read_udp(path, frames), keeping only the datagrams whose source or destination port is one of
/// `ports` (e.g. {1701} for L2TP, {1812, 1813, 1645, 1646, 3799} for RADIUS). Frame numbers and the
/// `frames` count still cover the whole file.
inline std::vector<Datagram> read_udp(const std::string& path, std::initializer_list<std::uint16_t> ports,
                                      std::size_t* frames = nullptr) {
    auto all = read_udp(path, frames);
    std::erase_if(all, [&](const Datagram& d) {
        return std::find(ports.begin(), ports.end(), d.sport) == ports.end() &&
               std::find(ports.begin(), ports.end(), d.dport) == ports.end();
    });
    return all;
}

}  // namespace dl::testing
