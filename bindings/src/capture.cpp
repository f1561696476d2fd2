// Reading captures as users take them: classic pcap (through libpcap) and pcapng (every section and
// interface, each with its own link type), the link layers routers and span ports produce, IPv4
// reassembly (libtins' IPv4Reassembler), then each UDP datagram decoded by the project's codecs
// (proto/: L2TP, RADIUS, PPP). What is not of interest is counted by kind, never dropped silently;
// an unreadable file is a CaptureError naming the file and the link type or byte offset.
//
// Container formats: pcap — libpcap's savefile reader; pcapng (IETF draft-ietf-opsawg-pcapng §4) —
// walked here block by block, because libpcap 1.10 refuses a pcapng whose interfaces have different
// link types and users' multi-interface captures (e.g. "any" plus a PPP serial line) do.
// Link-layer headers (tcpdump.org LINKTYPE_* registry): Ethernet with 802.1Q / 802.1ad tags, MPLS,
// PPPoE session (RFC 2516 §4), Linux SLL / SLL2, BSD null / loopback, raw IPv4, DLT_PPP,
// DLT_PPP_HDLC (RFC 1662), DLT_PPP_WITH_DIR, DLT_PPP_PPPD, DLT_C_HDLC, DLT_PPP_ETHER.
#include <pybind11/stl.h>

#include <tins/exceptions.h>
#include <tins/ip.h>
#include <tins/ip_reassembler.h>
#include <tins/rawpdu.h>
#include <tins/udp.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include "common.hpp"

#include "dl/capture/capture_file.hpp"
#include "dl/l2tp/l2tp.hpp"
#include "dl/ppp/ppp.hpp"
#include "dl/proto/decode.hpp"
#include "dl/proto/errors.hpp"
#include "dl/radius/radius.hpp"

namespace dl::py_bind {

namespace {

PyObject* g_capture_error = nullptr;  // leaked on purpose: lives as long as the interpreter

// The container reader, link types and UDP classifier: bindings/capture (dl/capture/capture_file.hpp).
using namespace dl::capture;

std::string summary_of(const dl::l2tp::L2TP& m) {
    std::string name = m.is_data() ? "data" : m.is_zlb() ? "ZLB"
                                                         : std::string(dl::l2tp::message_name(m.message_type().value_or(0)));
    std::string s = "L2TP " + name + " tunnel " + std::to_string(m.tunnel_id()) + " session " + std::to_string(m.session_id());
    if (m.has_sequence()) s += " Ns " + std::to_string(m.ns()) + " Nr " + std::to_string(m.nr());
    return s;
}

std::string ppp_protocol_name(std::uint16_t p) {
    switch (p) {
    case 0xc021: return "LCP";
    case 0xc023: return "PAP";
    case 0xc223: return "CHAP";
    case 0x8021: return "IPCP";
    case 0x80fd: return "CCP";
    case 0x0021: return "IPv4";
    case 0x0057: return "IPv6";
    case 0x8057: return "IPV6CP";
    default: {
        char b[16];
        std::snprintf(b, sizeof b, "0x%04x", p);
        return b;
    }
    }
}

/// Walks one frame down to IPv4 (then UDP) or to a PPP frame seen directly on the link.
class FrameDecoder {
public:
    FrameDecoder(Classifier& c, py::list& out, std::map<std::string, std::size_t>& skipped)
        : cls_(c), out_(out), skipped_(skipped) {}

    void operator()(const RawFrame& f, std::size_t index) {
        index_ = index;
        frame_ = &f;
        direction_ = py::none();
        std::span<const std::uint8_t> d(f.data);
        try {
            link(f.link_type, d);
        } catch (const Tins::exception_base&) {
            skip("malformed-ip-or-udp");
        }
    }

private:
    void skip(const std::string& kind) { ++skipped_[kind]; }

    static std::uint16_t be16(std::span<const std::uint8_t> d, std::size_t at) {
        return static_cast<std::uint16_t>((d[at] << 8) | d[at + 1]);
    }

    void link(std::uint32_t lt, std::span<const std::uint8_t> d) {
        switch (lt) {
        case kEthernet:
            if (d.size() < 14) return skip("truncated-link-header");
            return ethertype(be16(d, 12), d.subspan(14));
        case kNull: case kLoop: {
            if (d.size() < 4) return skip("truncated-link-header");
            // AF_INET is 2 everywhere; DLT_NULL stores it in the capturing host's order.
            std::uint32_t le = d[0] | (d[1] << 8) | (d[2] << 16) | (static_cast<std::uint32_t>(d[3]) << 24);
            std::uint32_t be = (static_cast<std::uint32_t>(d[0]) << 24) | (d[1] << 16) | (d[2] << 8) | d[3];
            if (le == 2 || be == 2) return ipv4(d.subspan(4));
            return skip("non-ipv4");
        }
        case kRaw: case kRaw12: case kRaw14: case kIpv4:
            if (!d.empty() && (d[0] >> 4) == 4) return ipv4(d);
            return skip("non-ipv4");
        case kSll: {  // 16 octets: packet type(2) ARPHRD(2) addr len(2) addr(8) protocol(2)
            if (d.size() < 16) return skip("truncated-link-header");
            direction_ = py::str(be16(d, 0) == 4 ? "out" : "in");
            return sll_protocol(be16(d, 2), be16(d, 14), d.subspan(16));
        }
        case kSll2: {  // 20 octets: protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1) addr len(1) addr(8)
            if (d.size() < 20) return skip("truncated-link-header");
            direction_ = py::str(d[10] == 4 ? "out" : "in");
            return sll_protocol(be16(d, 8), be16(d, 0), d.subspan(20));
        }
        case kPpp: case kPppHdlc:
            return ppp(d, lt == kPppHdlc);
        case kPppWithDir: case kPppPppd:  // one direction octet (0 = received, 1 = sent), then PPP
            if (d.empty()) return skip("truncated-link-header");
            direction_ = py::str(d[0] ? "out" : "in");
            return ppp(d.subspan(1), false);
        case kCHdlc:  // address(1) control(1) protocol = Ethernet type(2)
            if (d.size() < 4) return skip("truncated-link-header");
            return ethertype(be16(d, 2), d.subspan(4));
        case kPppEther:
            return pppoe(d);
        default:
            return skip("link-type-" + std::to_string(lt));
        }
    }

    void sll_protocol(std::uint16_t arphrd, std::uint16_t proto, std::span<const std::uint8_t> d) {
        if (arphrd == 512 /* ARPHRD_PPP */ && proto != 0x0800) return ppp(d, false);
        return ethertype(proto, d);
    }

    void ethertype(std::uint16_t et, std::span<const std::uint8_t> d) {
        while (et == 0x8100 || et == 0x88a8 || et == 0x9100) {  // 802.1Q / 802.1ad (QinQ) tags
            if (d.size() < 4) return skip("truncated-link-header");
            et = be16(d, 2);
            d = d.subspan(4);
        }
        switch (et) {
        case 0x0800: return ipv4(d);
        case 0x8864: return pppoe(d);
        case 0x8847: case 0x8848: {  // MPLS: labels up to the bottom of stack, then IPv4 by version
            while (true) {
                if (d.size() < 4) return skip("truncated-link-header");
                const bool bottom = d[2] & 0x01;
                d = d.subspan(4);
                if (bottom) break;
            }
            if (!d.empty() && (d[0] >> 4) == 4) return ipv4(d);
            return skip("non-ipv4");
        }
        case 0x86dd: return skip("ipv6");
        case 0x0806: return skip("arp");
        case 0x8863: return skip("pppoe-discovery");
        default: {
            char b[32];
            std::snprintf(b, sizeof b, "ethertype-0x%04x", et);
            return skip(b);
        }
        }
    }

    void pppoe(std::span<const std::uint8_t> d) {  // RFC 2516 §4: ver/type, code 0, session, length
        if (d.size() < 6) return skip("truncated-link-header");
        if (d[1] != 0) return skip("pppoe-discovery");
        const std::size_t len = be16(d, 4);
        return ppp(d.subspan(6, std::min(len, d.size() - 6)), false);
    }

    /// A PPP frame on the link (optionally ff 03; with `hdlc`, Cisco PPP-in-HDLC 0x0f/0x8f first).
    void ppp(std::span<const std::uint8_t> d, bool hdlc) {
        if (hdlc && d.size() >= 4 && (d[0] == 0x0f || d[0] == 0x8f)) return ethertype(be16(d, 2), d.subspan(4));
        std::optional<dl::ppp::PPP> f;
        try {
            f = dl::ppp::PPP::from_hdlc_payload(d);
        } catch (const dl::proto::ParseError& e) {
            py::dict r = base("ppp");
            r["payload"] = to_bytes(d);
            r["error"] = std::string(e.what());
            r["summary"] = "PPP malformed: " + e.field() + ": " + e.reason();
            out_.append(r);
            return;
        }
        if (f->protocol() == 0x0021) {
            if (const auto* raw = f->find_pdu<Tins::RawPDU>()) return ipv4(raw->payload());
            return skip("malformed-ipv4");
        }
        py::dict r = base("ppp");
        r["payload"] = to_bytes(d);
        r["ppp_protocol"] = f->protocol();
        r["packet"] = ppp_frame_to_py(*f);
        std::string s = "PPP " + ppp_protocol_name(f->protocol());
        py::object pkt = r["packet"].cast<py::dict>()["packet"];
        if (py::hasattr(pkt, "code_name")) s += " " + pkt.attr("code_name").cast<std::string>();
        else if (py::hasattr(pkt, "code")) s += " code " + std::to_string(pkt.attr("code").cast<int>());
        r["summary"] = s;
        out_.append(r);
    }

    void ipv4(std::span<const std::uint8_t> d) {
        if (d.size() < 20 || (d[0] >> 4) != 4) return skip("non-ipv4");
        if (const std::uint8_t proto = d[9]; proto != 17) {  // only UDP carries L2TP / RADIUS
            skip(proto == 6 ? "tcp" : proto == 1 ? "icmp" : "ip-protocol-" + std::to_string(proto));
            return other_ipv4(d);
        }
        Tins::IP ip(d.data(), static_cast<std::uint32_t>(d.size()));
        const auto status = reassembler_.process(ip);
        if (status == Tins::IPv4Reassembler::FRAGMENTED) return skip("ipv4-fragment-held");
        std::vector<std::uint8_t> l4;
        if (const auto* raw = ip.find_pdu<Tins::RawPDU>(); raw && !ip.find_pdu<Tins::UDP>()) l4 = raw->payload();
        const Tins::UDP* udp = ip.find_pdu<Tins::UDP>();
        std::optional<Tins::UDP> parsed;
        if (!udp) {
            if (l4.size() < 8) return skip("truncated-udp");
            parsed.emplace(l4.data(), static_cast<std::uint32_t>(l4.size()));
            udp = &*parsed;
        }
        const auto* raw = udp->find_pdu<Tins::RawPDU>();
        static const std::vector<std::uint8_t> empty;
        const auto& payload = raw ? raw->payload() : empty;
        if (!udp_datagram(ip, *udp, payload, status == Tins::IPv4Reassembler::REASSEMBLED)) {
            skip("udp-other");
            if (status == Tins::IPv4Reassembler::REASSEMBLED) {
                const auto whole = ip.serialize();  // the fragments put back together
                return other_ipv4(whole);
            }
            other_ipv4(d);
        }
    }

    /// An IPv4 packet that is neither L2TP nor RADIUS (counted by kind in `skipped` as well):
    /// protocol 'ipv4', its header's addresses and IP protocol, the TCP / UDP ports (else None),
    /// 'payload' the whole packet as captured (the header first), for instance a dial-out's trigger.
    void other_ipv4(std::span<const std::uint8_t> d) {
        const std::size_t total = std::min<std::size_t>(be16(d, 2), d.size());
        const std::size_t ihl = static_cast<std::size_t>(d[0] & 0x0f) * 4;
        py::dict r = base("ipv4");
        auto addr = [&](std::size_t at) {
            return std::to_string(d[at]) + "." + std::to_string(d[at + 1]) + "." + std::to_string(d[at + 2]) + "." +
                   std::to_string(d[at + 3]);
        };
        r["src"] = addr(12);
        r["dst"] = addr(16);
        const std::uint8_t proto = d[9];
        const bool first_fragment = (be16(d, 6) & 0x1fff) == 0;
        if ((proto == 6 || proto == 17) && first_fragment && ihl >= 20 && total >= ihl + 4) {
            r["sport"] = be16(d, ihl);
            r["dport"] = be16(d, ihl + 2);
        }
        r["ip_protocol"] = proto;
        r["payload"] = to_bytes(d.first(std::max<std::size_t>(total, 20)));
        r["summary"] = "IPv4 " + std::string(proto == 6 ? "TCP" : proto == 17 ? "UDP" : proto == 1 ? "ICMP"
                                                : "protocol " + std::to_string(proto)) +
                       " " + addr(12) + " > " + addr(16);
        out_.append(r);
    }

    py::dict base(const std::string& protocol) {
        py::dict r;
        r["index"] = index_;
        r["time"] = frame_->time;
        r["interface"] = frame_->interface;
        r["link_type"] = frame_->link_type;
        r["direction"] = direction_;
        r["src"] = py::none();
        r["dst"] = py::none();
        r["sport"] = py::none();
        r["dport"] = py::none();
        r["protocol"] = protocol;
        r["packet"] = py::none();
        r["error"] = py::none();
        r["reassembled"] = false;
        return r;
    }

    /// False when the datagram is neither L2TP nor RADIUS (the caller returns it as 'ipv4').
    bool udp_datagram(const Tins::IP& ip, const Tins::UDP& udp, const std::vector<std::uint8_t>& payload, bool reassembled) {
        const std::string proto = cls_.classify(ip.src_addr(), udp.sport(), ip.dst_addr(), udp.dport(), payload);
        if (proto == "unknown") return false;
        py::dict d = base(proto);
        d["src"] = ip.src_addr().to_string();
        d["dst"] = ip.dst_addr().to_string();
        d["sport"] = udp.sport();
        d["dport"] = udp.dport();
        d["payload"] = to_bytes(payload);
        d["reassembled"] = reassembled;
        d["summary"] = "UDP " + std::to_string(udp.sport()) + " > " + std::to_string(udp.dport());
        try {
            if (proto == "l2tp") {
                dl::l2tp::L2TP m(payload.data(), static_cast<std::uint32_t>(payload.size()));
                d["summary"] = summary_of(m);
                d["packet"] = py::cast(std::move(m));
            } else {
                dl::radius::Radius r(payload.data(), static_cast<std::uint32_t>(payload.size()));
                d["summary"] = "RADIUS " + std::string(dl::radius::to_string(r.code())) + " id " + std::to_string(r.identifier());
                d["packet"] = py::cast(std::move(r));
            }
        } catch (const dl::proto::ParseError& e) {
            d["error"] = std::string(e.what());
            d["summary"] = proto + " malformed: " + e.field() + ": " + e.reason();
        }
        out_.append(d);
        return true;
    }

    Classifier& cls_;
    py::list& out_;
    std::map<std::string, std::size_t>& skipped_;
    Tins::IPv4Reassembler reassembler_;
    std::size_t index_ = 0;
    const RawFrame* frame_ = nullptr;
    py::object direction_ = py::none();
};

}  // namespace

void init_capture(py::module_& m) {
    g_capture_error = PyErr_NewExceptionWithDoc(
        "dlab._native.CaptureError",
        "A file that cannot be read as a capture. Attributes: file, reason, offset (byte offset in the "
        "file, or None), link_type (LINKTYPE_ number, or None), link_type_name.",
        PyExc_ValueError, nullptr);
    m.attr("CaptureError") = py::handle(g_capture_error);
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const CaptureError& e) {
            py::object inst = py::reinterpret_borrow<py::object>(g_capture_error)(e.what());
            inst.attr("file") = e.file;
            inst.attr("reason") = e.reason;
            inst.attr("offset") = e.offset >= 0 ? py::object(py::int_(e.offset)) : py::object(py::none());
            inst.attr("link_type") = e.link_type >= 0 ? py::object(py::int_(e.link_type)) : py::object(py::none());
            inst.attr("link_type_name") = e.link_type >= 0 ? py::object(py::str(link_type_name(static_cast<std::uint32_t>(e.link_type)))) : py::object(py::none());
            PyErr_SetObject(g_capture_error, inst.ptr());
        }
    });

    m.def("read_capture", [](const std::string& path, const std::vector<std::uint16_t>& l2tp_ports,
                             const std::vector<std::uint16_t>& radius_ports) {
        CaptureFile file(path);
        Classifier cls;
        cls.l2tp_ports.insert(l2tp_ports.begin(), l2tp_ports.end());
        cls.radius_ports.insert(radius_ports.begin(), radius_ports.end());
        py::list frames;
        std::map<std::string, std::size_t> skipped;
        std::vector<std::uint32_t> interfaces;
        FrameDecoder decode(cls, frames, skipped);
        std::size_t index = 0;
        file.read([&](const RawFrame& f) { decode(f, ++index); }, interfaces);
        py::dict r;
        r["frames"] = frames;
        r["skipped"] = skipped;
        r["total"] = index;
        r["format"] = file.format();
        py::list ifs;
        for (auto lt : interfaces) {
            py::dict i;
            i["link_type"] = lt;
            i["name"] = link_type_name(lt);
            ifs.append(i);
        }
        r["interfaces"] = ifs;
        return r;
    }, py::arg("path"), py::arg("l2tp_ports") = std::vector<std::uint16_t>{}, py::arg("radius_ports") = std::vector<std::uint16_t>{},
       "Reads a pcap / pcapng: {'frames': [dict per UDP datagram of interest, PPP frame on the link or other "
       "IPv4 packet ('ipv4', also counted by kind in 'skipped')], "
       "'skipped': {kind: count}, 'total': frames in the file, 'format', 'interfaces': [{'link_type', 'name'}]}. "
       "dlab.proto.read_pcap wraps it. CaptureError when the file cannot be read.");
}

}  // namespace dl::py_bind
