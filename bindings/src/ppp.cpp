// PPP bindings: LCP / IPCP (RFC 1661 §5, RFC 1332), PAP (RFC 1334), CHAP (RFC 1994) packets, the PPP
// frame (Protocol + Information, RFC 1661 §2), HDLC-like async framing and deframing (RFC 1662 §4)
// and the CHAP MD5 response.
#include <pybind11/stl.h>

#include <tins/rawpdu.h>

#include "common.hpp"

#include "dl/ppp/auth.hpp"
#include "dl/ppp/control.hpp"
#include "dl/ppp/hdlc.hpp"
#include "dl/ppp/ppp.hpp"

namespace dl::py_bind {

using namespace dl::ppp;

namespace {

template <class T> T parse_as(const py::handle& data) {
    auto v = bytes_of(data);
    return T(v.data(), static_cast<std::uint32_t>(v.size()));
}

std::vector<std::uint8_t> secret_bytes(const py::handle& s) {
    if (py::isinstance<py::str>(s)) {
        auto t = s.cast<std::string>();
        return {t.begin(), t.end()};
    }
    return bytes_of(s);
}

/// Python object for a PPP packet PDU (LCP, IPCP, PAP, CHAP), else the raw octets.
py::object inner_to_py(const Tins::PDU* pdu) {
    if (!pdu) return py::bytes();
    if (const auto* p = dynamic_cast<const LCP*>(pdu)) return py::cast(*p);
    if (const auto* p = dynamic_cast<const IPCP*>(pdu)) return py::cast(*p);
    if (const auto* p = dynamic_cast<const PAP*>(pdu)) return py::cast(*p);
    if (const auto* p = dynamic_cast<const CHAP*>(pdu)) return py::cast(*p);
    if (const auto* p = dynamic_cast<const Tins::RawPDU*>(pdu)) return to_bytes(p->payload());
    return py::bytes();
}

/// {'protocol': int, 'packet': LCP/IPCP/PAP/CHAP or bytes, 'compressed': bool}
py::dict frame_to_py(const PPP& f) {
    py::dict d;
    d["protocol"] = f.protocol();
    d["compressed"] = f.protocol_compressed();
    d["packet"] = inner_to_py(f.inner_pdu());
    return d;
}

py::dict stats_to_py(const DeframerStats& s) {
    py::dict d;
    d["frames"] = s.frames;
    d["bad_fcs"] = s.bad_fcs;
    d["too_short"] = s.too_short;
    d["too_long"] = s.too_long;
    d["aborted"] = s.aborted;
    d["bad_address"] = s.bad_address;
    d["hunt_octets"] = s.hunt_octets;
    return d;
}

std::uint32_t ipv4_of(const py::handle& o) {
    if (py::isinstance<py::int_>(o)) return o.cast<std::uint32_t>();
    auto s = o.cast<std::string>();
    unsigned a = 0, b = 0, c = 0, d = 0;
    char tail = 0;
    if (std::sscanf(s.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4 || a > 255 || b > 255 || c > 255 || d > 255)
        throw py::value_error("not an IPv4 address: '" + s + "'");
    return (a << 24) | (b << 16) | (c << 8) | d;
}
py::object ipv4_to_py(std::optional<std::uint32_t> v) {
    if (!v) return py::none();
    return py::str(std::to_string(*v >> 24) + "." + std::to_string((*v >> 16) & 0xff) + "." +
                   std::to_string((*v >> 8) & 0xff) + "." + std::to_string(*v & 0xff));
}

template <class Packet> std::uint16_t protocol_of();
template <> std::uint16_t protocol_of<LCP>() { return kProtoLCP; }
template <> std::uint16_t protocol_of<IPCP>() { return kProtoIPCP; }
template <> std::uint16_t protocol_of<PAP>() { return kProtoPAP; }
template <> std::uint16_t protocol_of<CHAP>() { return kProtoCHAP; }

/// to_bytes() / frame() common to every packet class.
template <class C> void common_methods(C& cls) {
    using T = typename C::type;
    cls.def("to_bytes", [](T& p) { return to_bytes(p.serialize()); }, "The packet (Code … Data), without Protocol.")
        .def("__bytes__", [](T& p) { return to_bytes(p.serialize()); })
        .def("frame", [](T& p, bool hdlc) {
            auto body = p.serialize();
            std::vector<std::uint8_t> out;
            if (hdlc) out = {kHdlcAllStations, kHdlcUi};
            const auto proto = protocol_of<T>();
            out.push_back(static_cast<std::uint8_t>(proto >> 8));
            out.push_back(static_cast<std::uint8_t>(proto));
            out.insert(out.end(), body.begin(), body.end());
            return to_bytes(out);
        }, py::arg("hdlc") = true,
           "PPP frame: [ff 03] + Protocol + packet, as carried in an L2TP data message (RFC 2661 §3.2).")
        .def_property("identifier", [](const T& p) { return p.identifier(); }, [](T& p, std::uint8_t v) { p.identifier(v); });
}

}  // namespace

py::dict ppp_frame_to_py(const PPP& f) { return frame_to_py(f); }

void init_ppp(py::module_& m) {
    auto cp = py::class_<ControlPacket>(m, "PppControlPacket",
                                        "Packet of an LCP-format control protocol (RFC 1661 §5): code, identifier, "
                                        "options [(type, value bytes)] for codes 1-4, data for the others.");
    cp.def_property("code", [](const ControlPacket& p) { return p.code(); }, [](ControlPacket& p, std::uint8_t c) { p.code(c); })
        .def_property_readonly("code_name", [](const ControlPacket& p) { return std::string(p.code_name()); })
        .def_property_readonly("known_code", &ControlPacket::known_code)
        .def_property_readonly("options", [](const ControlPacket& p) {
            py::list out;
            for (const auto& o : p.options()) out.append(py::make_tuple(o.type, to_bytes(o.value)));
            return out;
        })
        .def("option", [](const ControlPacket& p, std::uint8_t type) -> py::object {
            const auto* o = p.find_option(type);
            return o ? py::object(to_bytes(o->value)) : py::object(py::none());
        }, py::arg("type"))
        .def("add_option", [](ControlPacket& p, std::uint8_t type, const py::handle& v) {
            auto b = bytes_of(v);
            p.add_option(type, b);
            return &p;
        }, py::arg("type"), py::arg("value") = py::bytes(), py::return_value_policy::reference)
        .def("set_option", [](ControlPacket& p, std::uint8_t type, const py::handle& v) {
            auto b = bytes_of(v);
            p.set_option(type, b);
            return &p;
        }, py::arg("type"), py::arg("value") = py::bytes(), py::return_value_policy::reference)
        .def("remove_option", &ControlPacket::remove_option, py::arg("type"))
        .def_property("data", [](const ControlPacket& p) { return to_bytes(p.data()); },
                      [](ControlPacket& p, const py::handle& d) { p.data(bytes_of(d)); })
        .def_property_readonly("length", &ControlPacket::length);

    auto lcp = py::class_<LCP, ControlPacket>(m, "LCP", "Link Control Protocol packet (RFC 1661 §5, RFC 1570), Protocol 0xc021.");
    lcp.def(py::init([](std::uint8_t code, std::uint8_t id) { return LCP(static_cast<CpCode>(code), id); }),
            py::arg("code") = 1, py::arg("identifier") = 0)
        .def_static("parse", &parse_as<LCP>, py::arg("data"))
        .def_property("mru", [](const LCP& p) { return p.mru(); }, [](LCP& p, std::uint16_t v) { p.mru(v); })
        .def_property("accm", [](const LCP& p) { return p.accm(); }, [](LCP& p, std::uint32_t v) { p.accm(v); })
        .def_property("magic_number", [](const LCP& p) { return p.magic_number(); }, [](LCP& p, std::uint32_t v) { p.magic_number(v); })
        .def_property("pfc", [](const LCP& p) { return p.pfc(); }, [](LCP& p, bool v) { p.pfc(v); })
        .def_property("acfc", [](const LCP& p) { return p.acfc(); }, [](LCP& p, bool v) { p.acfc(v); })
        .def_property_readonly("auth_protocol", [](const LCP& p) -> py::object {
            auto a = p.auth_protocol();
            if (!a) return py::none();
            return py::make_tuple(a->protocol, to_bytes(a->data));
        }, "(protocol, data) of the Authentication-Protocol option (RFC 1661 §6.2), e.g. (0xc223, b'\\x05').")
        .def("set_auth_protocol", [](LCP& p, std::uint16_t proto, const py::handle& data) {
            auto d = bytes_of(data);
            p.auth_protocol(proto, d);
            return &p;
        }, py::arg("protocol"), py::arg("data") = py::bytes(), py::return_value_policy::reference)
        .def("set_auth_chap_md5", [](LCP& p) { p.auth_chap_md5(); return &p; }, py::return_value_policy::reference)
        .def_property("echo_data", [](const LCP& p) { return to_bytes(p.echo_data()); },
                      [](LCP& p, const py::handle& d) { auto b = bytes_of(d); p.echo_data(b); })
        .def_property_readonly("rejected_protocol", [](const LCP& p) { return p.rejected_protocol(); })
        .def("__repr__", [](const LCP& p) {
            return "<LCP " + std::string(p.code_name()) + " id " + std::to_string(p.identifier()) + ">";
        });
    common_methods(lcp);

    auto ipcp = py::class_<IPCP, ControlPacket>(m, "IPCP", "IP Control Protocol packet (RFC 1332, RFC 1877), Protocol 0x8021. "
                                                           "Addresses are dotted-quad strings (ints accepted).");
    ipcp.def(py::init([](std::uint8_t code, std::uint8_t id) { return IPCP(static_cast<CpCode>(code), id); }),
             py::arg("code") = 1, py::arg("identifier") = 0)
        .def_static("parse", &parse_as<IPCP>, py::arg("data"))
        .def_property("ip_address", [](const IPCP& p) { return ipv4_to_py(p.ip_address()); },
                      [](IPCP& p, const py::handle& a) { p.ip_address(ipv4_of(a)); })
        .def_property("primary_dns", [](const IPCP& p) { return ipv4_to_py(p.primary_dns()); },
                      [](IPCP& p, const py::handle& a) { p.primary_dns(ipv4_of(a)); })
        .def_property("secondary_dns", [](const IPCP& p) { return ipv4_to_py(p.secondary_dns()); },
                      [](IPCP& p, const py::handle& a) { p.secondary_dns(ipv4_of(a)); })
        .def("__repr__", [](const IPCP& p) {
            return "<IPCP " + std::string(p.code_name()) + " id " + std::to_string(p.identifier()) + ">";
        });
    common_methods(ipcp);

    auto pap = py::class_<PAP>(m, "PAP", "Password Authentication Protocol packet (RFC 1334 §2.2), Protocol 0xc023. "
                                         "code: 1 Authenticate-Request, 2 -Ack, 3 -Nak.");
    pap.def(py::init([](std::uint8_t code, std::uint8_t id, std::string peer_id, std::string password, std::string message) {
                PAP p(static_cast<PapCode>(code), id);
                p.peer_id(peer_id);
                p.password(password);
                p.message(message);
                return p;
            }),
            py::arg("code") = 1, py::arg("identifier") = 0, py::arg("peer_id") = "", py::arg("password") = "",
            py::arg("message") = "")
        .def_static("parse", &parse_as<PAP>, py::arg("data"))
        .def_property_readonly("code", [](const PAP& p) { return static_cast<int>(p.code()); })
        .def_property("peer_id", [](const PAP& p) { return text(p.peer_id()); }, [](PAP& p, std::string_view v) { p.peer_id(v); })
        .def_property("password", [](const PAP& p) { return text(p.password()); }, [](PAP& p, std::string_view v) { p.password(v); })
        .def_property("message", [](const PAP& p) { return text(p.message()); }, [](PAP& p, std::string_view v) { p.message(v); })
        .def("__repr__", [](const PAP& p) { return "<PAP code " + std::to_string(static_cast<int>(p.code())) + ">"; });
    common_methods(pap);

    auto chap = py::class_<CHAP>(m, "CHAP", "Challenge-Handshake Authentication Protocol packet (RFC 1994 §4), Protocol "
                                            "0xc223. code: 1 Challenge, 2 Response, 3 Success, 4 Failure.");
    chap.def(py::init([](std::uint8_t code, std::uint8_t id, const py::handle& value, std::string name, std::string message) {
                 CHAP p(static_cast<ChapCode>(code), id);
                 auto v = bytes_of(value);
                 if (!v.empty()) p.value(v);
                 p.name(name);
                 p.message(message);
                 return p;
             }),
             py::arg("code") = 1, py::arg("identifier") = 0, py::arg("value") = py::bytes(), py::arg("name") = "",
             py::arg("message") = "")
        .def_static("parse", &parse_as<CHAP>, py::arg("data"))
        .def_property_readonly("code", [](const CHAP& p) { return static_cast<int>(p.code()); })
        .def_property("value", [](const CHAP& p) { return to_bytes(p.value()); },
                      [](CHAP& p, const py::handle& v) { auto b = bytes_of(v); p.value(b); })
        .def_property("name", [](const CHAP& p) { return text(p.name()); }, [](CHAP& p, std::string_view v) { p.name(v); })
        .def_property("message", [](const CHAP& p) { return text(p.message()); }, [](CHAP& p, std::string_view v) { p.message(v); })
        .def("__repr__", [](const CHAP& p) { return "<CHAP code " + std::to_string(static_cast<int>(p.code())) + ">"; });
    common_methods(chap);

    m.def("ppp_parse", [](const py::handle& data) {
        auto v = bytes_of(data);
        return frame_to_py(PPP::from_hdlc_payload(v));
    }, py::arg("data"),
       "Decodes a PPP frame (Protocol + Information, optionally after ff 03; RFC 1661 §2, RFC 1662 §3.1) into "
       "{'protocol', 'compressed', 'packet'}: packet is LCP/IPCP/PAP/CHAP or the raw octets. ParseError when malformed.");
    m.def("ppp_frame", [](std::uint16_t protocol, const py::handle& information, bool hdlc, bool compress) {
        auto info = bytes_of(information);
        PPP f(protocol, compress);
        f /= Tins::RawPDU(info.data(), static_cast<std::uint32_t>(info.size()));
        auto body = f.serialize();
        std::vector<std::uint8_t> out;
        if (hdlc) out = {kHdlcAllStations, kHdlcUi};
        out.insert(out.end(), body.begin(), body.end());
        return to_bytes(out);
    }, py::arg("protocol"), py::arg("information"), py::arg("hdlc") = true, py::arg("compress") = false,
       "[ff 03] + Protocol + Information (RFC 1661 §2; compress: 1-octet Protocol, §6.5).");
    m.def("chap_md5_response", [](std::uint8_t identifier, const py::handle& secret, const py::handle& challenge) {
        auto s = secret_bytes(secret);
        auto c = bytes_of(challenge);
        return to_bytes(chap_md5_response(identifier, std::span<const std::uint8_t>(s), c));
    }, py::arg("identifier"), py::arg("secret"), py::arg("challenge"),
       "CHAP MD5 Response Value (RFC 1994 §4.1): MD5(identifier ‖ secret ‖ challenge), 16 octets.");
    m.def("hdlc_encode_async", [](const py::handle& frame, std::uint32_t accm, bool acfc, bool fcs32, bool lcp_defaults) {
        auto f = bytes_of(frame);
        AsyncOptions o;
        o.accm = accm;
        o.acfc = acfc;
        o.fcs32 = fcs32;
        o.lcp_defaults = lcp_defaults;
        return to_bytes(encode_async(f, o));
    }, py::arg("ppp_frame"), py::arg("accm") = kDefaultAccm, py::arg("acfc") = false, py::arg("fcs32") = false,
       py::arg("lcp_defaults") = true,
       "Async HDLC-like framing (RFC 1662 §4): Flag, [ff 03], escaped Protocol+Information, FCS, Flag.");
    m.def("hdlc_encode_sync", [](const py::handle& frame, bool acfc, bool fcs32) {
        auto f = bytes_of(frame);
        SyncOptions o;
        o.acfc = acfc;
        o.fcs32 = fcs32;
        return to_bytes(encode_sync(f, o));
    }, py::arg("ppp_frame"), py::arg("acfc") = false, py::arg("fcs32") = false, "Synchronous frame body with FCS (RFC 1662 §5).");
    m.def("hdlc_decode_sync", [](const py::handle& frame, bool fcs32) {
        auto f = bytes_of(frame);
        return to_bytes(decode_sync(f, fcs32));
    }, py::arg("frame"), py::arg("fcs32") = false, "Checks and strips FCS and ff 03 (RFC 1662 §5); ParseError when bad.");

    py::class_<AsyncDeframer>(m, "AsyncDeframer",
                              "Streaming async HDLC-like deframer (RFC 1662 §4): feed(chunk) returns the complete good "
                              "PPP frames (Protocol + Information); bad frames are counted in stats, never raised.")
        .def(py::init([](std::uint32_t accm, bool fcs32, std::uint16_t mru) {
                 DeframerOptions o;
                 o.accm = accm;
                 o.fcs32 = fcs32;
                 o.mru = mru;
                 return AsyncDeframer(o);
             }),
             py::arg("accm") = kDefaultAccm, py::arg("fcs32") = false, py::arg("mru") = kDefaultMru)
        .def("feed", [](AsyncDeframer& d, const py::handle& chunk) {
            auto c = bytes_of(chunk);
            py::list out;
            for (const auto& f : d.feed(c)) out.append(to_bytes(f));
            return out;
        }, py::arg("chunk"))
        .def_property_readonly("stats", [](const AsyncDeframer& d) { return stats_to_py(d.stats()); })
        .def("reset", &AsyncDeframer::reset);
}

}  // namespace dl::py_bind
