// pcap writing through libtins: write_pcap() wraps payloads in Ethernet/IPv4/UDP so that tshark and
// Wireshark read them (reading is capture.cpp: read_capture()).
#include <pybind11/stl.h>

#include <tins/ethernetII.h>
#include <tins/ip.h>
#include <tins/packet.h>
#include <tins/packet_writer.h>
#include <tins/rawpdu.h>
#include <tins/sniffer.h>
#include <tins/udp.h>

#include "common.hpp"

#include "dl/l2tp/l2tp.hpp"
#include "dl/proto/decode.hpp"
#include "dl/proto/errors.hpp"
#include "dl/radius/radius.hpp"

namespace dl::py_bind {

namespace {

/// bytes-like, or any object with to_bytes() (L2TP, Radius, LCP…).
std::vector<std::uint8_t> payload_of(const py::handle& p) {
    if (!PyObject_CheckBuffer(p.ptr()) && py::hasattr(p, "to_bytes")) return bytes_of(p.attr("to_bytes")());
    return bytes_of(p);
}

}  // namespace

void init_pcap(py::module_& m) {
    m.def("write_pcap", [](const std::string& path, const py::iterable& packets) {
        Tins::PacketWriter writer(path, Tins::DataLinkType<Tins::EthernetII>());
        std::size_t n = 0;
        double t0 = 0.0;
        for (auto item : packets) {
            std::string src, dst;
            std::uint16_t sport = 0, dport = 0;
            std::vector<std::uint8_t> payload;
            double t = t0 + 0.001 * static_cast<double>(n);
            if (py::isinstance<py::dict>(item) && item.cast<py::dict>().contains("ip")) {  // a whole IPv4 packet
                auto d = item.cast<py::dict>();
                const auto ip = payload_of(d["ip"]);
                if (d.contains("time")) t = d["time"].cast<double>();
                Tins::EthernetII frame = Tins::EthernetII() / Tins::RawPDU(ip.data(), static_cast<std::uint32_t>(ip.size()));
                frame.payload_type(0x0800);
                const auto secs = static_cast<long>(t);
                const auto usecs = static_cast<long>((t - static_cast<double>(secs)) * 1e6);
                Tins::Packet packet(frame, Tins::Timestamp(std::chrono::microseconds(secs * 1000000L + usecs)));
                writer.write(packet);
                ++n;
                continue;
            }
            if (py::isinstance<py::dict>(item)) {
                auto d = item.cast<py::dict>();
                src = d["src"].cast<std::string>();
                dst = d["dst"].cast<std::string>();
                sport = d["sport"].cast<std::uint16_t>();
                dport = d["dport"].cast<std::uint16_t>();
                payload = payload_of(d["payload"]);
                if (d.contains("time")) t = d["time"].cast<double>();
            } else {
                auto tup = item.cast<py::tuple>();
                if (tup.size() < 5) throw py::value_error("write_pcap items are (src, dst, sport, dport, payload[, time]) or dicts");
                src = tup[0].cast<std::string>();
                dst = tup[1].cast<std::string>();
                sport = tup[2].cast<std::uint16_t>();
                dport = tup[3].cast<std::uint16_t>();
                payload = payload_of(tup[4]);
                if (tup.size() > 5) t = tup[5].cast<double>();
            }
            Tins::EthernetII frame = Tins::EthernetII() / Tins::IP(dst, src) / Tins::UDP(dport, sport) /
                                     Tins::RawPDU(payload.data(), static_cast<std::uint32_t>(payload.size()));
            const auto secs = static_cast<long>(t);
            const auto usecs = static_cast<long>((t - static_cast<double>(secs)) * 1e6);
            Tins::Packet packet(frame, Tins::Timestamp(std::chrono::microseconds(secs * 1000000L + usecs)));
            writer.write(packet);
            ++n;
        }
        return n;
    }, py::arg("path"), py::arg("packets"),
       "Writes Ethernet/IPv4/UDP frames: each item (src, dst, sport, dport, payload[, time]) or a dict with those "
       "keys; payload may be bytes or an L2TP/Radius object; a dict {'ip': bytes of a whole IPv4 packet[, 'time']} "
       "is written as that packet in Ethernet. Returns the number written.");
}

}  // namespace dl::py_bind
