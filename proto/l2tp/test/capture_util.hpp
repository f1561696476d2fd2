// Reads the UDP datagrams of a pcap with Tins::FileSniffer (raw frames) and finds the IPv4/UDP
// headers itself, so Ethernet, 802.1Q, MPLS and PPPoE encapsulations and truncated or lying IP
// lengths (tcpdump_l2tp-avp-overflow.pcap) are all handled without trusting libtins' decoders.
#pragma once

#include <tins/rawpdu.h>
#include <tins/sniffer.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dl::l2tp::test {

struct Datagram {
    std::size_t frame = 0;  ///< 1-based frame number
    std::uint16_t sport = 0;
    std::uint16_t dport = 0;
    std::vector<std::uint8_t> payload;  ///< UDP payload as captured (cut at the UDP length if shorter)
};

inline std::optional<Datagram> udp_of_frame(const std::vector<std::uint8_t>& f) {
    auto at16 = [&](std::size_t i) { return static_cast<std::uint16_t>(f[i] << 8 | f[i + 1]); };
    std::size_t p = 12;
    if (f.size() < 14) return std::nullopt;
    std::uint16_t et = at16(p);
    p += 2;
    while (et == 0x8100 && f.size() >= p + 4) {  // 802.1Q
        et = at16(p + 2);
        p += 4;
    }
    if (et == 0x8847) {  // MPLS: skip labels to bottom of stack
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
    if (et != 0x0800 || f.size() < p + 20 || (f[p] >> 4) != 4) return std::nullopt;
    const std::size_t ihl = (f[p] & 0x0F) * 4u;
    if (f[p + 9] != 17 || ihl < 20 || f.size() < p + ihl + 8) return std::nullopt;
    p += ihl;
    Datagram d;
    d.sport = at16(p);
    d.dport = at16(p + 2);
    const std::size_t ulen = at16(p + 4);
    const std::size_t avail = f.size() - (p + 8);
    const std::size_t n = ulen >= 8 ? std::min(avail, ulen - 8) : avail;
    d.payload.assign(f.begin() + static_cast<std::ptrdiff_t>(p + 8), f.begin() + static_cast<std::ptrdiff_t>(p + 8 + n));
    return d;
}

/// Every UDP datagram of `path` (frames that are not IPv4/UDP are skipped). `frames` gets the
/// total frame count.
inline std::vector<Datagram> read_udp(const std::string& path, std::size_t* frames = nullptr) {
    Tins::FileSniffer sniffer(path);
    sniffer.set_extract_raw_pdus(true);
    std::vector<Datagram> out;
    std::size_t n = 0;
    sniffer.sniff_loop([&](Tins::PDU& pdu) {
        ++n;
        const auto* raw = pdu.find_pdu<Tins::RawPDU>();
        if (raw != nullptr) {
            if (auto d = udp_of_frame(raw->payload())) {
                d->frame = n;
                out.push_back(std::move(*d));
            }
        }
        return true;
    });
    if (frames != nullptr) *frames = n;
    return out;
}

}  // namespace dl::l2tp::test
