// Capture container reader and UDP classifier. See dl/capture/capture_file.hpp.
#include "dl/capture/capture_file.hpp"

#include <pcap/pcap.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>

#include "dl/proto/decode.hpp"

namespace dl::capture {

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

CaptureFile::CaptureFile(std::string path) : path_(std::move(path)) {
    std::ifstream f(path_, std::ios::binary);
    if (!f) throw CaptureError(path_, std::string("cannot open: ") + std::strerror(errno));
    std::array<std::uint8_t, 4> magic{};
    f.read(reinterpret_cast<char*>(magic.data()), 4);
    if (f.gcount() < 4) throw CaptureError(path_, "too short for a capture file header", f.gcount());
    pcapng_ = magic == std::array<std::uint8_t, 4>{0x0a, 0x0d, 0x0d, 0x0a};
}


void CaptureFile::read(const FrameSink& on, std::vector<std::uint32_t>& interfaces) {
    if (pcapng_) read_pcapng(on, interfaces);
    else read_pcap(on, interfaces);
}

void CaptureFile::read_pcap(const FrameSink& on, std::vector<std::uint32_t>& interfaces) {
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

std::uint32_t CaptureFile::dlt_to_linktype(int dlt) {
    // libpcap reports DLT_ values; the few that differ from LINKTYPE_ values on Linux.
    switch (dlt) {
    case 12: case 14: return kRaw;  // DLT_RAW
    default: return static_cast<std::uint32_t>(dlt);
    }
}

void CaptureFile::read_pcapng(const FrameSink& on, std::vector<std::uint32_t>& interfaces) {
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

std::string Classifier::classify(std::uint32_t src, std::uint16_t sport, std::uint32_t dst, std::uint16_t dport,
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

}  // namespace dl::capture
