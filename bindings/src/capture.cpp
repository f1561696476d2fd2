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

#include <pcap/pcap.h>

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

#include "dl/l2tp/l2tp.hpp"
#include "dl/ppp/ppp.hpp"
#include "dl/proto/decode.hpp"
#include "dl/proto/errors.hpp"
#include "dl/radius/radius.hpp"

namespace dl::py_bind {

namespace {

PyObject* g_capture_error = nullptr;  // leaked on purpose: lives as long as the interpreter

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

std::string link_type_name(std::uint32_t lt) {
    static const std::map<std::uint32_t, const char*> names = {
        {kNull, "NULL (BSD loopback)"}, {kEthernet, "ETHERNET"}, {kPpp, "PPP"}, {kRaw12, "RAW"}, {kRaw14, "RAW"},
        {kPppHdlc, "PPP_HDLC"}, {kPppEther, "PPP_ETHER (PPPoE)"}, {kRaw, "RAW"}, {kCHdlc, "C_HDLC (Cisco HDLC)"},
        {kLoop, "LOOP (OpenBSD loopback)"}, {kSll, "LINUX_SLL"}, {kPppPppd, "PPP_PPPD"},
        {kPppWithDir, "PPP_WITH_DIR"}, {kIpv4, "IPV4"}, {kSll2, "LINUX_SLL2"}};
    if (auto it = names.find(lt); it != names.end()) return it->second;
    const char* n = pcap_datalink_val_to_name(static_cast<int>(lt));  // libpcap's table (DLT_ = LINKTYPE_ for these)
    return n ? n : "unknown";
}

bool supported(std::uint32_t lt) {
    switch (lt) {
    case kNull: case kEthernet: case kPpp: case kRaw12: case kRaw14: case kPppHdlc: case kPppEther: case kRaw:
    case kCHdlc: case kLoop: case kSll: case kPppPppd: case kPppWithDir: case kIpv4: case kSll2: return true;
    default: return false;
    }
}

/// One captured frame as stored in the file.
struct RawFrame {
    double time = 0;
    std::uint32_t link_type = 0;
    std::uint32_t interface = 0;
    std::uint64_t offset = 0;  // of the record in the file
    std::vector<std::uint8_t> data;
};

/// Every frame of a file, in file order. pcap through libpcap; pcapng walked block by block.
class CaptureFile {
public:
    explicit CaptureFile(std::string path) : path_(std::move(path)) {
        std::ifstream f(path_, std::ios::binary);
        if (!f) throw CaptureError(path_, std::string("cannot open: ") + std::strerror(errno));
        std::array<std::uint8_t, 4> magic{};
        f.read(reinterpret_cast<char*>(magic.data()), 4);
        if (f.gcount() < 4) throw CaptureError(path_, "too short for a capture file header", f.gcount());
        pcapng_ = magic == std::array<std::uint8_t, 4>{0x0a, 0x0d, 0x0d, 0x0a};
    }

    std::string format() const { return pcapng_ ? "pcapng" : "pcap"; }

    /// Calls `on(RawFrame&)` for each frame; `interfaces` gets each interface's link type.
    template <class F> void read(F&& on, std::vector<std::uint32_t>& interfaces) {
        if (pcapng_) read_pcapng(on, interfaces);
        else read_pcap(on, interfaces);
    }

private:
    template <class F> void read_pcap(F&& on, std::vector<std::uint32_t>& interfaces) {
        char err[PCAP_ERRBUF_SIZE] = {};
        pcap_t* p = pcap_open_offline_with_tstamp_precision(path_.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
        if (!p) throw CaptureError(path_, std::string("not a pcap or pcapng file: ") + err, 0);
        std::unique_ptr<pcap_t, void (*)(pcap_t*)> guard(p, pcap_close);
        const auto lt = dlt_to_linktype(pcap_datalink(p));
        interfaces.push_back(lt);
        if (!supported(lt)) throw CaptureError(path_, "unsupported link type " + std::to_string(lt) + " (" + link_type_name(lt) + ")", -1, lt);
        std::uint64_t offset = 24;
        pcap_pkthdr* h = nullptr;
        const u_char* data = nullptr;
        while (true) {
            int rc = pcap_next_ex(p, &h, &data);
            if (rc == PCAP_ERROR_BREAK) break;
            if (rc != 1) throw CaptureError(path_, std::string("corrupt or truncated: ") + pcap_geterr(p), static_cast<long long>(offset), lt);
            RawFrame fr;
            fr.time = static_cast<double>(h->ts.tv_sec) + static_cast<double>(h->ts.tv_usec) / 1e9;
            fr.link_type = lt;
            fr.offset = offset;
            fr.data.assign(data, data + h->caplen);
            offset += 16 + h->caplen;
            on(fr);
        }
    }

    static std::uint32_t dlt_to_linktype(int dlt) {
        // libpcap reports DLT_ values; the few that differ from LINKTYPE_ values on Linux.
        switch (dlt) {
        case 12: case 14: return kRaw;  // DLT_RAW
        default: return static_cast<std::uint32_t>(dlt);
        }
    }

    // pcapng: Section Header (0x0A0D0D0A), Interface Description (1), Enhanced Packet (6),
    // Simple Packet (3), obsolete Packet (2); other blocks are skipped by their length.
    template <class F> void read_pcapng(F&& on, std::vector<std::uint32_t>& interfaces) {
        std::ifstream f(path_, std::ios::binary);
        std::vector<std::uint8_t> file((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        bool swap = false;
        struct Iface { std::uint32_t link_type; double tick; std::uint32_t snaplen; };
        std::vector<Iface> ifs;  // of the current section
        std::size_t base = 0;    // interfaces of earlier sections
        auto u32 = [&](std::size_t at) {
            std::uint32_t v;
            std::memcpy(&v, file.data() + at, 4);
            return swap ? __builtin_bswap32(v) : v;
        };
        auto u16 = [&](std::size_t at) {
            std::uint16_t v;
            std::memcpy(&v, file.data() + at, 2);
            return swap ? __builtin_bswap16(v) : v;
        };
        std::size_t at = 0;
        while (at < file.size()) {
            if (file.size() - at < 12) throw CaptureError(path_, "truncated pcapng block header", static_cast<long long>(at));
            std::uint32_t type;
            std::memcpy(&type, file.data() + at, 4);
            if (type == 0x0a0d0d0a) {
                std::uint32_t bom;
                std::memcpy(&bom, file.data() + at + 8, 4);
                if (bom == 0x1a2b3c4d) swap = false;
                else if (bom == 0x4d3c2b1a) swap = true;
                else throw CaptureError(path_, "pcapng Section Header with a bad byte-order magic", static_cast<long long>(at + 8));
                base += ifs.size();
                ifs.clear();
            } else {
                type = u32(at);
            }
            const std::uint32_t len = u32(at + 4);
            if (len < 12 || len % 4 != 0) throw CaptureError(path_, "pcapng block length " + std::to_string(len) + " is invalid", static_cast<long long>(at + 4));
            if (len > file.size() - at) throw CaptureError(path_, "truncated pcapng block (" + std::to_string(len) + " octets announced, " + std::to_string(file.size() - at) + " left)", static_cast<long long>(at));
            const std::size_t body = at + 8, body_len = len - 12;
            if (type == 1) {
                if (body_len < 8) throw CaptureError(path_, "pcapng Interface Description block too short", static_cast<long long>(at));
                Iface i{u16(body), 1e-6, u32(body + 4)};
                for (std::size_t o = body + 8; o + 4 <= body + body_len;) {  // options: if_tsresol (9)
                    const std::uint16_t code = u16(o), olen = u16(o + 2);
                    if (code == 0) break;
                    if (o + 4 + olen > body + body_len) throw CaptureError(path_, "pcapng option runs past its block", static_cast<long long>(o));
                    if (code == 9 && olen >= 1) {
                        const std::uint8_t r = file[o + 4];
                        i.tick = (r & 0x80) ? std::pow(2.0, -static_cast<double>(r & 0x7f)) : std::pow(10.0, -static_cast<double>(r));
                    }
                    o += 4 + ((olen + 3u) & ~3u);
                }
                ifs.push_back(i);
                interfaces.push_back(i.link_type);
            } else if (type == 6 || type == 2 || type == 3) {
                RawFrame fr;
                fr.offset = at;
                std::uint32_t ifid = 0, caplen;
                std::size_t data_at;
                double ts = 0;
                if (type == 3) {
                    if (body_len < 4) throw CaptureError(path_, "pcapng Simple Packet block too short", static_cast<long long>(at));
                    caplen = std::min<std::uint32_t>(u32(body), body_len - 4);
                    data_at = body + 4;
                } else {
                    if (body_len < 20) throw CaptureError(path_, "pcapng Packet block too short", static_cast<long long>(at));
                    ifid = type == 6 ? u32(body) : u16(body);
                    ts = static_cast<double>((static_cast<std::uint64_t>(u32(body + 4)) << 32) | u32(body + 8));
                    caplen = u32(body + 12);
                    data_at = body + 20;
                    if (caplen > body_len - 20) throw CaptureError(path_, "pcapng packet longer than its block", static_cast<long long>(at + 20));
                }
                if (ifid >= ifs.size()) throw CaptureError(path_, "pcapng packet on undeclared interface " + std::to_string(ifid), static_cast<long long>(at));
                const auto& iface = ifs[ifid];
                if (!supported(iface.link_type))
                    throw CaptureError(path_, "unsupported link type " + std::to_string(iface.link_type) + " (" + link_type_name(iface.link_type) + ") on interface " + std::to_string(base + ifid), static_cast<long long>(at), iface.link_type);
                fr.time = ts * iface.tick;
                fr.link_type = iface.link_type;
                fr.interface = static_cast<std::uint32_t>(base + ifid);
                fr.data.assign(file.begin() + static_cast<std::ptrdiff_t>(data_at), file.begin() + static_cast<std::ptrdiff_t>(data_at + caplen));
                on(fr);
            }
            at += len;
        }
    }

    std::string path_;
    bool pcapng_ = false;
};

/// Ports the user named, and the endpoints learnt to speak L2TP (RFC 2661 §8.1: a peer may answer
/// from another port than 1701, and the control connection then "floats" there).
struct Classifier {
    std::set<std::uint16_t> l2tp_ports{1701};
    std::set<std::uint16_t> radius_ports;
    std::set<std::pair<std::uint32_t, std::uint16_t>> l2tp_endpoints;

    std::string classify(std::uint32_t src, std::uint16_t sport, std::uint32_t dst, std::uint16_t dport,
                         std::span<const std::uint8_t> payload) {
        const bool port_l2tp = l2tp_ports.count(sport) || l2tp_ports.count(dport);
        const bool learnt = l2tp_endpoints.count({src, sport}) || l2tp_endpoints.count({dst, dport});
        if (port_l2tp || learnt) {
            l2tp_endpoints.insert({src, sport});
            l2tp_endpoints.insert({dst, dport});
            return "l2tp";
        }
        auto p = dl::proto::classify_udp(sport, dport);
        if (p != dl::proto::UdpProtocol::unknown) return std::string(dl::proto::to_string(p));
        if (radius_ports.count(sport) || radius_ports.count(dport)) {
            const std::uint8_t code = payload.empty() ? 0 : payload[0];
            if (code == 4 || code == 5) return "radius-acct";
            if (code >= 40 && code <= 45) return "radius-dynauth";
            return "radius-auth";
        }
        return "unknown";
    }
};

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
