// pcap reading and writing through libtins: read_pcap() decodes every IPv4/UDP datagram with the
// project's codecs (by port: dl::proto::classify_udp), write_pcap() wraps payloads in
// Ethernet/IPv4/UDP so that tshark and Wireshark read them.
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

std::string summary_of(const dl::l2tp::L2TP& m) {
    std::string name = m.is_data() ? "data" : m.is_zlb() ? "ZLB"
                                                         : std::string(dl::l2tp::message_name(m.message_type().value_or(0)));
    std::string s = "L2TP " + name + " tunnel " + std::to_string(m.tunnel_id()) + " session " + std::to_string(m.session_id());
    if (m.has_sequence()) s += " Ns " + std::to_string(m.ns()) + " Nr " + std::to_string(m.nr());
    return s;
}

py::dict decode_one(std::size_t index, double time, const Tins::IP& ip, const Tins::UDP& udp,
                    std::span<const std::uint8_t> payload) {
    py::dict d;
    d["index"] = index;
    d["time"] = time;
    d["src"] = ip.src_addr().to_string();
    d["dst"] = ip.dst_addr().to_string();
    d["sport"] = udp.sport();
    d["dport"] = udp.dport();
    d["payload"] = to_bytes(payload);
    const auto proto = dl::proto::classify_udp(udp.sport(), udp.dport());
    d["protocol"] = std::string(dl::proto::to_string(proto));
    d["packet"] = py::none();
    d["error"] = py::none();
    d["summary"] = "UDP " + std::to_string(udp.sport()) + " > " + std::to_string(udp.dport());
    try {
        if (proto == dl::proto::UdpProtocol::l2tp) {
            dl::l2tp::L2TP m(payload.data(), static_cast<std::uint32_t>(payload.size()));
            d["summary"] = summary_of(m);
            d["packet"] = py::cast(std::move(m));
        } else if (proto != dl::proto::UdpProtocol::unknown) {
            dl::radius::Radius r(payload.data(), static_cast<std::uint32_t>(payload.size()));
            d["summary"] = "RADIUS " + std::string(dl::radius::to_string(r.code())) + " id " + std::to_string(r.identifier());
            d["packet"] = py::cast(std::move(r));
        }
    } catch (const dl::proto::ParseError& e) {
        d["error"] = std::string(e.what());
        d["summary"] = std::string(dl::proto::to_string(proto)) + " malformed: " + e.field() + ": " + e.reason();
    }
    return d;
}

/// bytes-like, or any object with to_bytes() (L2TP, Radius, LCP…).
std::vector<std::uint8_t> payload_of(const py::handle& p) {
    if (!PyObject_CheckBuffer(p.ptr()) && py::hasattr(p, "to_bytes")) return bytes_of(p.attr("to_bytes")());
    return bytes_of(p);
}

}  // namespace

void init_pcap(py::module_& m) {
    m.def("read_pcap", [](const std::string& path) {
        py::list out;
        Tins::FileSniffer sniffer(path);
        std::size_t index = 0;
        for (auto& packet : sniffer) {
            ++index;
            const Tins::PDU* pdu = packet.pdu();
            if (!pdu) continue;
            const auto* ip = pdu->find_pdu<Tins::IP>();
            const auto* udp = pdu->find_pdu<Tins::UDP>();
            if (!ip || !udp) continue;
            const auto* raw = udp->find_pdu<Tins::RawPDU>();
            static const std::vector<std::uint8_t> empty;
            const auto& payload = raw ? raw->payload() : empty;
            const auto ts = packet.timestamp();
            const double t = static_cast<double>(ts.seconds()) + static_cast<double>(ts.microseconds()) / 1e6;
            out.append(decode_one(index, t, *ip, *udp, payload));
        }
        return out;
    }, py::arg("path"),
       "Every IPv4/UDP datagram of a pcap as a dict: index (1-based frame number), time (s), src, dst, sport, dport, "
       "payload (bytes), protocol ('l2tp', 'radius-auth', …, 'unknown'), packet (L2TP / Radius or None), error "
       "(ParseError text or None), summary (one line). Other frames are skipped. RuntimeError if unreadable.");

    m.def("write_pcap", [](const std::string& path, const py::iterable& packets) {
        Tins::PacketWriter writer(path, Tins::DataLinkType<Tins::EthernetII>());
        std::size_t n = 0;
        double t0 = 0.0;
        for (auto item : packets) {
            std::string src, dst;
            std::uint16_t sport = 0, dport = 0;
            std::vector<std::uint8_t> payload;
            double t = t0 + 0.001 * static_cast<double>(n);
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
       "keys; payload may be bytes or an L2TP/Radius object. Returns the number written.");
}

}  // namespace dl::py_bind
