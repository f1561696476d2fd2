// Reads the UDP datagrams of a capture with libtins, numbered as Wireshark numbers frames.
#pragma once

#include <pcap/pcap.h>
#include <tins/tins.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dl::radius::test {

struct Datagram {
    int frame;  ///< 1-based frame number in the file
    std::uint16_t sport, dport;
    std::vector<std::uint8_t> payload;
};

inline bool radius_port(std::uint16_t p) {
    return p == 1812 || p == 1813 || p == 1645 || p == 1646 || p == 3799;
}

/// UDP datagrams to or from a RADIUS port (1812, 1813, 1645, 1646, 3799) in `path`.
/// Frames are decoded here (raw extraction) so that frames libtins cannot decode still count.
inline std::vector<Datagram> radius_datagrams(const std::string& path) {
    std::vector<Datagram> out;
    Tins::FileSniffer sniffer(path);
    sniffer.set_extract_raw_pdus(true);
    int frame = 0;
    sniffer.sniff_loop([&](Tins::PDU& frame_pdu) {
        ++frame;
        const auto& bytes = static_cast<Tins::RawPDU&>(frame_pdu).payload();
        std::unique_ptr<Tins::PDU> pdu;
        try {
            const auto n = static_cast<std::uint32_t>(bytes.size());
            if (sniffer.link_type() == DLT_LINUX_SLL) pdu = std::make_unique<Tins::SLL>(bytes.data(), n);
            else pdu = std::make_unique<Tins::EthernetII>(bytes.data(), n);
        } catch (const Tins::malformed_packet&) {
            return true;
        }
        const auto* udp = pdu->find_pdu<Tins::UDP>();
        const auto* raw = pdu->find_pdu<Tins::RawPDU>();
        if (udp && raw && (radius_port(udp->sport()) || radius_port(udp->dport())))
            out.push_back({frame, udp->sport(), udp->dport(), raw->payload()});
        return true;
    });
    return out;
}

}  // namespace dl::radius::test
