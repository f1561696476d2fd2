// L2TP (RFC 2661) bindings: the dl::l2tp::L2TP PDU (parse, header fields, AVPs with M/H bits and
// typed values, hidden AVPs), the §6 message builders with keyword arguments, validation, and the
// §4.3 / §5.1.1 helpers (hide/unhide a value, Challenge Response).
#include <pybind11/stl.h>

#include <algorithm>

#include "common.hpp"

#include "dl/l2tp/builders.hpp"
#include "dl/l2tp/hidden.hpp"
#include "dl/l2tp/l2tp.hpp"
#include "dl/l2tp/registry.hpp"
#include "dl/l2tp/validate.hpp"

namespace dl::py_bind {

using dl::l2tp::L2TP;

namespace {

// ---- Python forms of the structured AVP values -------------------------------------------------
py::object to_py(const dl::l2tp::ResultCode& r) {
    py::dict d;
    d["result"] = r.result;
    d["error"] = r.error ? py::object(py::int_(*r.error)) : py::object(py::none());
    d["message"] = r.message ? py::object(py::str(*r.message)) : py::object(py::none());
    return py::object(std::move(d));
}
py::object to_py(const dl::l2tp::ProtocolVersion& v) {
    py::dict d;
    d["version"] = v.version;
    d["revision"] = v.revision;
    return py::object(std::move(d));
}
py::object to_py(const dl::l2tp::Q931Cause& c) {
    py::dict d;
    d["cause_code"] = c.cause_code;
    d["cause_msg"] = c.cause_msg;
    d["advisory"] = c.advisory;
    return py::object(std::move(d));
}
py::object to_py(const dl::l2tp::CallErrors& c) {
    py::dict d;
    d["crc_errors"] = c.crc_errors;
    d["framing_errors"] = c.framing_errors;
    d["hardware_overruns"] = c.hardware_overruns;
    d["buffer_overruns"] = c.buffer_overruns;
    d["timeout_errors"] = c.timeout_errors;
    d["alignment_errors"] = c.alignment_errors;
    return py::object(std::move(d));
}
py::object to_py(const dl::l2tp::Accm& a) {
    py::dict d;
    d["send_accm"] = a.send_accm;
    d["receive_accm"] = a.receive_accm;
    return py::object(std::move(d));
}
py::object to_py(const std::vector<std::uint8_t>& v) { return to_bytes(v); }
py::object to_py(const std::array<std::uint8_t, 16>& v) { return to_bytes(v); }
py::object to_py(const std::string& s) {
    // Latin-1 keeps every octet (AVP strings are not required to be UTF-8).
    return py::reinterpret_steal<py::object>(PyUnicode_DecodeLatin1(s.data(), static_cast<Py_ssize_t>(s.size()), nullptr));
}
template <class T> std::enable_if_t<std::is_integral_v<T>, py::object> to_py(T v) { return py::int_(v); }
template <class T> py::object to_py(const std::optional<T>& o) { return o ? to_py(*o) : py::object(py::none()); }

dl::l2tp::Q931Cause q931_from(const py::handle& o) {
    auto d = o.cast<py::dict>();
    dl::l2tp::Q931Cause c;
    if (d.contains("cause_code")) c.cause_code = d["cause_code"].cast<std::uint16_t>();
    if (d.contains("cause_msg")) c.cause_msg = d["cause_msg"].cast<std::uint8_t>();
    if (d.contains("advisory")) c.advisory = d["advisory"].cast<std::string>();
    return c;
}
dl::l2tp::CallErrors call_errors_from(const py::handle& o) {
    auto d = o.cast<py::dict>();
    dl::l2tp::CallErrors c;
    auto get = [&](const char* k, std::uint32_t& v) { if (d.contains(k)) v = d[k].cast<std::uint32_t>(); };
    get("crc_errors", c.crc_errors);
    get("framing_errors", c.framing_errors);
    get("hardware_overruns", c.hardware_overruns);
    get("buffer_overruns", c.buffer_overruns);
    get("timeout_errors", c.timeout_errors);
    get("alignment_errors", c.alignment_errors);
    return c;
}

// ---- name look-ups through the registries -----------------------------------------------------
std::uint16_t avp_type_of(const py::handle& o) {
    if (py::isinstance<py::int_>(o)) return o.cast<std::uint16_t>();
    auto want = normalise_name(o.cast<std::string>());
    for (const auto& a : dl::l2tp::avp_registry())
        if (normalise_name(a.name) == want) return a.type;
    throw py::value_error("unknown L2TP AVP name '" + o.cast<std::string>() + "' (RFC 2661 §4.4)");
}
std::uint16_t message_type_of(const py::handle& o) {
    if (py::isinstance<py::int_>(o)) return o.cast<std::uint16_t>();
    auto want = normalise_name(o.cast<std::string>());
    for (const auto& msg : dl::l2tp::message_registry())
        if (normalise_name(msg.name) == want || normalise_name(msg.long_name) == want) return msg.type;
    throw py::value_error("unknown L2TP message type '" + o.cast<std::string>() + "' (RFC 2661 §3.2)");
}

/// The typed value of one AVP value, by the registry's ValueKind. Structured kinds go through the
/// codec's own accessors on a one-AVP message, so no layout is re-implemented here.
py::object typed_value(std::uint16_t type, std::span<const std::uint8_t> v) {
    const auto* info = dl::l2tp::avp_info(type);
    if (!info) return to_bytes(v);
    auto be = [&](std::size_t n) -> py::object {
        if (v.size() != n) return py::none();
        std::uint64_t x = 0;
        for (auto b : v) x = (x << 8) | b;
        return py::int_(x);
    };
    using K = dl::l2tp::ValueKind;
    switch (info->kind) {
    case K::empty: return py::bool_(true);
    case K::u16: return be(2);
    case K::u32:
    case K::bitmask32: return be(4);
    case K::u64: return be(8);
    case K::string: return to_py(std::string(v.begin(), v.end()));
    case K::octets: return to_bytes(v);
    default: break;
    }
    L2TP one;
    one.add_avp(0, type, 0, v);
    try {
        switch (info->kind) {
        case K::result_code: return to_py(one.result_code());
        case K::protocol_version: return to_py(one.protocol_version());
        case K::q931_cause: return to_py(one.q931_cause_code());
        case K::proxy_authen_id: return to_py(one.proxy_authen_id());
        case K::call_errors: return to_py(one.call_errors());
        case K::accm: return to_py(one.accm());
        default: return to_bytes(v);
        }
    } catch (const dl::proto::ParseError&) {
        return py::none();  // wrong length for its layout: the raw octets stay in .value
    }
}

/// An AVP copied out of its message (a dl::l2tp::Avp is only a view into the PDU).
struct PyAvp {
    std::uint16_t vendor_id = 0;
    std::uint16_t type = 0;
    std::uint8_t flags = 0;
    bool recognized = false;
    std::vector<std::uint8_t> value;
    std::vector<std::uint8_t> wire_value;
    std::string hidden_state;
    std::string undecodable_reason;
    py::object typed;
};

PyAvp copy_avp(const dl::l2tp::Avp& a) {
    PyAvp p;
    p.vendor_id = a.vendor_id();
    p.type = a.type();
    p.flags = a.flags();
    p.recognized = a.recognized();
    p.value.assign(a.value().begin(), a.value().end());
    p.wire_value.assign(a.wire_value().begin(), a.wire_value().end());
    p.hidden_state = std::string(dl::l2tp::to_string(a.hidden_state()));
    p.undecodable_reason = std::string(a.undecodable_reason());
    if (a.recognized() && a.hidden_state() != dl::l2tp::HiddenState::undecodable)
        p.typed = typed_value(a.type(), a.value());
    else
        p.typed = py::none();
    return p;
}

L2TP parse(const py::handle& data) {
    auto v = bytes_of(data);
    return L2TP(v.data(), static_cast<std::uint32_t>(v.size()));
}

std::string name_of(const L2TP& m) {
    if (m.is_data()) return "data";
    if (m.is_zlb()) return "ZLB";
    auto t = m.message_type();
    return t ? std::string(dl::l2tp::message_name(*t)) : std::string("unknown");
}

// ---- builders --------------------------------------------------------------------------------
void take_header(Kwargs& k, dl::l2tp::ControlHeader& h) {
    k.take("tunnel_id", h.tunnel_id);
    k.take("session_id", h.session_id);
    k.take("ns", h.ns);
    k.take("nr", h.nr);
}

/// Options every builder accepts after building: hide=[AVP names] with secret=… (RFC 2661 §4.3),
/// random_vector=…, pad_length=…, pad_byte=… for deterministic hiding.
L2TP finish(L2TP m, Kwargs& k) {
    py::object hide = k.raw("hide");
    std::optional<std::string> secret;
    k.take("secret", secret);
    dl::l2tp::HideOptions opt;
    std::optional<std::vector<std::uint8_t>> rv;
    k.take("random_vector", rv);
    if (rv) opt.random_vector = *rv;
    k.take("pad_length", opt.pad_length);
    k.take("pad_byte", opt.pad_byte);
    k.done();
    if (!hide.is_none()) {
        for (auto h : hide) m.set_hidden(static_cast<dl::l2tp::AvpType>(avp_type_of(h)), true);
    }
    if (secret) m.set_hiding(*secret, opt);
    return m;
}

L2TP build_sccrq_like(bool reply, const py::kwargs& kw) {
    Kwargs k(kw, reply ? "sccrp" : "sccrq");
    dl::l2tp::SccrqParams p;
    take_header(k, p.header);
    k.take("assigned_tunnel_id", p.assigned_tunnel_id);
    k.take("host_name", p.host_name);
    k.take("framing_capabilities", p.framing_capabilities);
    k.take("bearer_capabilities", p.bearer_capabilities);
    k.take("receive_window_size", p.receive_window_size);
    k.take("challenge", p.challenge);
    if (!reply) k.take("tie_breaker", p.tie_breaker);
    k.take("firmware_revision", p.firmware_revision);
    k.take("vendor_name", p.vendor_name);
    if (reply) k.take("challenge_response", p.challenge_response);
    py::object pv = k.raw("protocol_version");
    if (!pv.is_none()) {
        auto t = pv.cast<std::pair<std::uint8_t, std::uint8_t>>();
        p.protocol_version = {t.first, t.second};
    }
    return finish(reply ? dl::l2tp::make_sccrp(p) : dl::l2tp::make_sccrq(p), k);
}

L2TP build_ocrq(const py::kwargs& kw) {
    Kwargs k(kw, "ocrq");
    dl::l2tp::OcrqParams p;
    take_header(k, p.header);
    k.take("called_number", p.called_number);
    k.take("sub_address", p.sub_address);
    k.take("min_bps", p.min_bps);
    k.take("max_bps", p.max_bps);
    k.take("bearer_type", p.bearer_type);
    k.take("framing_type", p.framing_type);
    k.take("assigned_session_id", p.assigned_session_id);
    k.take("call_serial_number", p.call_serial_number);
    return finish(dl::l2tp::make_ocrq(p), k);
}

L2TP build_ocrp_like(bool icrp, const py::kwargs& kw) {
    Kwargs k(kw, icrp ? "icrp" : "ocrp");
    dl::l2tp::OcrpParams p;
    take_header(k, p.header);
    k.take("assigned_session_id", p.assigned_session_id);
    if (!icrp) k.take("physical_channel_id", p.physical_channel_id);
    return finish(icrp ? dl::l2tp::make_icrp(p) : dl::l2tp::make_ocrp(p), k);
}

L2TP build_occn(const py::kwargs& kw) {
    Kwargs k(kw, "occn");
    dl::l2tp::OccnParams p;
    take_header(k, p.header);
    k.take("tx_connect_speed", p.tx_connect_speed);
    k.take("framing_type", p.framing_type);
    k.take("rx_connect_speed", p.rx_connect_speed);
    k.take("sequencing_required", p.sequencing_required);
    return finish(dl::l2tp::make_occn(p), k);
}

L2TP build_icrq(const py::kwargs& kw) {
    Kwargs k(kw, "icrq");
    dl::l2tp::IcrqParams p;
    take_header(k, p.header);
    k.take("assigned_session_id", p.assigned_session_id);
    k.take("call_serial_number", p.call_serial_number);
    k.take("bearer_type", p.bearer_type);
    k.take("physical_channel_id", p.physical_channel_id);
    k.take("calling_number", p.calling_number);
    k.take("called_number", p.called_number);
    k.take("sub_address", p.sub_address);
    return finish(dl::l2tp::make_icrq(p), k);
}

L2TP build_iccn(const py::kwargs& kw) {
    Kwargs k(kw, "iccn");
    dl::l2tp::IccnParams p;
    take_header(k, p.header);
    k.take("tx_connect_speed", p.tx_connect_speed);
    k.take("framing_type", p.framing_type);
    k.take("initial_received_lcp_confreq", p.initial_received_lcp_confreq);
    k.take("last_sent_lcp_confreq", p.last_sent_lcp_confreq);
    k.take("last_received_lcp_confreq", p.last_received_lcp_confreq);
    k.take("proxy_authen_type", p.proxy_authen_type);
    k.take("proxy_authen_name", p.proxy_authen_name);
    k.take("proxy_authen_challenge", p.proxy_authen_challenge);
    k.take("proxy_authen_id", p.proxy_authen_id);
    k.take("proxy_authen_response", p.proxy_authen_response);
    k.take("private_group_id", p.private_group_id);
    k.take("rx_connect_speed", p.rx_connect_speed);
    k.take("sequencing_required", p.sequencing_required);
    return finish(dl::l2tp::make_iccn(p), k);
}

L2TP build_stopccn(const py::kwargs& kw) {
    Kwargs k(kw, "stopccn");
    dl::l2tp::StopccnParams p;
    take_header(k, p.header);
    k.take("assigned_tunnel_id", p.assigned_tunnel_id);
    k.take("result", p.result);
    k.take("error", p.error);
    k.take("error_message", p.error_message);
    return finish(dl::l2tp::make_stopccn(p), k);
}

L2TP build_cdn(const py::kwargs& kw) {
    Kwargs k(kw, "cdn");
    dl::l2tp::CdnParams p;
    take_header(k, p.header);
    k.take("result", p.result);
    k.take("error", p.error);
    k.take("error_message", p.error_message);
    k.take("assigned_session_id", p.assigned_session_id);
    py::object q = k.raw("q931_cause");
    if (!q.is_none()) p.q931_cause = q931_from(q);
    return finish(dl::l2tp::make_cdn(p), k);
}

L2TP build_scccn(const py::kwargs& kw) {
    Kwargs k(kw, "scccn");
    dl::l2tp::ScccnParams p;
    take_header(k, p.header);
    k.take("challenge_response", p.challenge_response);
    return finish(dl::l2tp::make_scccn(p), k);
}

L2TP build_header_only(const char* fn, const py::kwargs& kw, L2TP (*make)(const dl::l2tp::ControlHeader&)) {
    Kwargs k(kw, fn);
    dl::l2tp::ControlHeader h;
    take_header(k, h);
    return finish(make(h), k);
}

}  // namespace

void init_l2tp(py::module_& m) {
    py::class_<PyAvp>(m, "L2tpAvp",
                      "One AVP copied out of an L2TP message (RFC 2661 §4.1): vendor_id, type, name, "
                      "mandatory (M), hidden (H), reserved_bits, recognized, value (cleartext octets when "
                      "known), wire_value (octets on the wire), hidden_state ('not_hidden', 'decoded', "
                      "'undecodable', 'pending'), undecodable_reason, typed (int / str / bytes / dict by "
                      "the §4.4 layout, None when unknown, undecodable or of the wrong length).")
        .def_readonly("vendor_id", &PyAvp::vendor_id)
        .def_readonly("type", &PyAvp::type)
        .def_property_readonly("name", [](const PyAvp& a) {
            return a.vendor_id == 0 ? std::string(dl::l2tp::avp_name(a.type)) : std::string("vendor");
        })
        .def_readonly("flags", &PyAvp::flags)
        .def_property_readonly("mandatory", [](const PyAvp& a) { return (a.flags & dl::l2tp::Avp::kMandatory) != 0; })
        .def_property_readonly("hidden", [](const PyAvp& a) { return (a.flags & dl::l2tp::Avp::kHidden) != 0; })
        .def_property_readonly("reserved_bits", [](const PyAvp& a) { return (a.flags & dl::l2tp::Avp::kReserved) >> 2; })
        .def_readonly("recognized", &PyAvp::recognized)
        .def_property_readonly("value", [](const PyAvp& a) { return to_bytes(a.value); })
        .def_property_readonly("wire_value", [](const PyAvp& a) { return to_bytes(a.wire_value); })
        .def_readonly("hidden_state", &PyAvp::hidden_state)
        .def_readonly("undecodable_reason", &PyAvp::undecodable_reason)
        .def_readonly("typed", &PyAvp::typed)
        .def("__repr__", [](const PyAvp& a) {
            std::string s = "<L2tpAvp " + (a.vendor_id ? "vendor " + std::to_string(a.vendor_id) + " " : std::string()) +
                            std::to_string(a.type) + " " + std::string(dl::l2tp::avp_name(a.type));
            s += (a.flags & dl::l2tp::Avp::kMandatory) ? " M" : "";
            s += (a.flags & dl::l2tp::Avp::kHidden) ? " H(" + a.hidden_state + ")" : "";
            s += " = " + std::string(py::repr(a.typed.is_none() ? to_bytes(a.value) : a.typed)) + ">";
            return s;
        });

    auto cls = py::class_<L2TP>(m, "L2TP", R"(An L2TPv2 message (RFC 2661 §3.1): control message with AVPs, ZLB, or data message.

Parse with L2TP.parse(bytes) (raises ParseError for malformed input); build with the class methods
sccrq(), sccrp(), scccn(), stopccn(), hello(), ocrq(), ocrp(), occn(), icrq(), icrp(), iccn(), cdn(),
wen(), sli(), zlb(), data(), control() taking keyword arguments (header: tunnel_id, session_id, ns,
nr; the §6.x AVPs by their RFC names in snake_case; hiding: hide=[AVP names], secret=,
random_vector=, pad_length=, pad_byte=). to_bytes() serialises.)");
    cls.def(py::init<>(), "A ZLB (control message without AVPs) to tunnel/session 0.")
        .def_static("parse", &parse, py::arg("data"), "Parses one UDP payload. ParseError on malformed input (RFC 2661 §3.1, §4.1).")
        .def("to_bytes", [](L2TP& self) { return to_bytes(self.serialize()); },
             "Wire bytes. RuntimeError (std::logic_error) while hidden AVPs wait for a secret.")
        .def("__bytes__", [](L2TP& self) { return to_bytes(self.serialize()); })
        .def("copy", [](const L2TP& self) { return L2TP(self); })
        // header
        .def_property_readonly("flags", &L2TP::flags)
        .def_property_readonly("is_control", &L2TP::is_control)
        .def_property_readonly("is_data", &L2TP::is_data)
        .def_property_readonly("is_zlb", &L2TP::is_zlb)
        .def_property_readonly("has_length", &L2TP::has_length)
        .def_property_readonly("has_sequence", &L2TP::has_sequence)
        .def_property_readonly("has_offset", &L2TP::has_offset)
        .def_property("priority", &L2TP::priority, &L2TP::set_priority)
        .def_property_readonly("version", &L2TP::version)
        .def_property_readonly("reserved_bits", &L2TP::reserved_bits)
        .def_property_readonly("length_field", &L2TP::length_field)
        .def_property("tunnel_id", &L2TP::tunnel_id, &L2TP::set_tunnel_id)
        .def_property("session_id", &L2TP::session_id, &L2TP::set_session_id)
        .def_property("ns", &L2TP::ns, [](L2TP& s, std::uint16_t v) { s.set_sequence(v, s.nr()); })
        .def_property("nr", &L2TP::nr, [](L2TP& s, std::uint16_t v) { s.set_sequence(s.ns(), v); })
        .def_property_readonly("offset_size", &L2TP::offset_size)
        .def_property_readonly("offset_pad", [](const L2TP& s) { return to_bytes(s.offset_pad()); })
        .def_property_readonly("trailing_octets", &L2TP::trailing_octets)
        .def_property("payload", [](const L2TP& s) { return to_bytes(s.payload()); },
                      [](L2TP& s, const py::handle& b) { auto v = bytes_of(b); s.set_payload(v); },
                      "Data message payload (PPP frame) octets.")
        .def_property_readonly("message_type", [](const L2TP& s) { return to_py(s.message_type()); },
                               "Message Type AVP value (RFC 2661 §3.2) or None (ZLB, data).")
        .def_property_readonly("message_name", &name_of, "'SCCRQ'…'SLI', 'ZLB', 'data', 'reserved' or 'unknown'.")
        // AVPs
        .def_property_readonly("avps", [](const L2TP& s) {
            std::vector<PyAvp> out;
            for (const auto& a : s.avps()) out.push_back(copy_avp(a));
            return out;
        }, "AVPs in wire order, as L2tpAvp copies.")
        .def("avp", [](const L2TP& s, const py::handle& type) -> py::object {
            auto t = avp_type_of(type);
            for (const auto& a : s.avps())
                if (a.vendor_id() == 0 && a.type() == t) return py::cast(copy_avp(a));
            return py::none();
        }, py::arg("type"), "First IETF AVP of `type` (number or RFC name, e.g. 'Host Name'), or None.")
        .def("get", [](const L2TP& s, const py::handle& type) -> py::object {
            auto t = avp_type_of(type);
            for (const auto& a : s.avps())
                if (a.vendor_id() == 0 && a.type() == t)
                    return a.hidden_state() == dl::l2tp::HiddenState::undecodable ? py::object(py::none())
                                                                                 : typed_value(t, a.value());
            return py::none();
        }, py::arg("type"), "Typed value of the first AVP of `type` (number or name), None if absent or undecodable.")
        .def("add_avp", [](L2TP& s, const py::handle& type, const py::handle& value, bool mandatory, bool hidden,
                           std::uint16_t vendor_id, std::uint8_t reserved) {
            auto v = bytes_of(value);
            std::uint8_t flags = static_cast<std::uint8_t>((mandatory ? dl::l2tp::Avp::kMandatory : 0) |
                                                           (hidden ? dl::l2tp::Avp::kHidden : 0) |
                                                           ((reserved & 0x0F) << 2));
            s.add_avp(vendor_id, vendor_id ? type.cast<std::uint16_t>() : avp_type_of(type), flags, v);
            return &s;
        }, py::arg("type"), py::arg("value"), py::arg("mandatory") = true, py::arg("hidden") = false,
           py::arg("vendor_id") = 0, py::arg("reserved") = 0, py::return_value_policy::reference,
           "Appends an AVP as given (any vendor, flags, reserved bits, value octets: unknown M-bit AVPs and "
           "wrong lengths included, for negative tests). Returns self.")
        .def("set_avp", [](L2TP& s, const py::handle& type, const py::handle& value) {
            auto v = bytes_of(value);
            s.set_avp(static_cast<dl::l2tp::AvpType>(avp_type_of(type)), v);
            return &s;
        }, py::arg("type"), py::arg("value"), py::return_value_policy::reference,
           "Replaces the value octets of the first AVP of `type` or appends it with the registry's M bit.")
        .def("remove_avp", [](L2TP& s, const py::handle& type) {
            return s.remove_avp(static_cast<dl::l2tp::AvpType>(avp_type_of(type)));
        }, py::arg("type"), "Removes every IETF AVP of `type`; returns how many.")
        .def("clear_avps", &L2TP::clear_avps)
        .def("set_message_type", [](L2TP& s, const py::handle& t) { s.set_message_type(message_type_of(t)); return &s; },
             py::arg("type"), py::return_value_policy::reference)
        .def("set_hidden", [](L2TP& s, const py::handle& type, bool hidden) {
            s.set_hidden(static_cast<dl::l2tp::AvpType>(avp_type_of(type)), hidden);
            return &s;
        }, py::arg("type"), py::arg("hidden") = true, py::return_value_policy::reference,
           "Sets/clears the H bit of the first AVP of `type` (RFC 2661 §4.3).")
        .def("set_hiding", [](L2TP& s, std::string secret, std::optional<std::vector<std::uint8_t>> rv,
                              std::optional<std::uint16_t> pad_length, std::optional<std::uint8_t> pad_byte) {
            dl::l2tp::HideOptions o;
            if (rv) o.random_vector = *rv;
            o.pad_length = pad_length;
            o.pad_byte = pad_byte;
            s.set_hiding(std::move(secret), o);
            return &s;
        }, py::arg("secret"), py::arg("random_vector") = py::none(), py::arg("pad_length") = py::none(),
           py::arg("pad_byte") = py::none(), py::return_value_policy::reference,
           "Hides every H-marked AVP with the tunnel secret (RFC 2661 §4.3); random_vector / pad_* fix the random parts.")
        .def("unhide", &L2TP::unhide, py::arg("secret"),
             "Decodes hidden AVPs with `secret` (RFC 2661 §4.3); returns how many. Never raises.")
        .def_property_readonly("pending_hidden", &L2TP::pending_hidden)
        .def("validate", [](const L2TP& s) { dl::l2tp::validate(s); },
             "Raises ValidationError / UnknownMandatoryAvp for the first RFC 2661 §4, §6 rule broken.")
        .def("check", [](const L2TP& s) -> py::object {
            auto e = dl::l2tp::check(s);
            if (!e) return py::none();
            py::dict d;
            d["message"] = e->message();
            d["item"] = e->item();
            d["reason"] = e->reason();
            d["source"] = e->source();
            return py::object(std::move(d));
        }, "None when valid, else a dict (message, item, reason, source) describing the first problem.")
        .def("__repr__", [](const L2TP& s) {
            return "<L2TP " + name_of(s) + " tunnel " + std::to_string(s.tunnel_id()) + " session " +
                   std::to_string(s.session_id()) +
                   (s.has_sequence() ? " Ns " + std::to_string(s.ns()) + " Nr " + std::to_string(s.nr()) : std::string()) +
                   (s.is_control() ? " avps " + std::to_string(s.avps().size()) : " payload " + std::to_string(s.payload().size())) +
                   ">";
        });

    // Typed AVP accessors (RFC 2661 §4.4), read-only: None when absent or undecodable.
#define DL_GETTER(name) cls.def_property_readonly(#name, [](const L2TP& s) { return to_py(s.name()); })
    DL_GETTER(result_code); DL_GETTER(protocol_version); DL_GETTER(framing_capabilities);
    DL_GETTER(bearer_capabilities); DL_GETTER(tie_breaker); DL_GETTER(firmware_revision); DL_GETTER(host_name);
    DL_GETTER(vendor_name); DL_GETTER(assigned_tunnel_id); DL_GETTER(receive_window_size); DL_GETTER(challenge);
    DL_GETTER(q931_cause_code); DL_GETTER(challenge_response); DL_GETTER(assigned_session_id);
    DL_GETTER(call_serial_number); DL_GETTER(minimum_bps); DL_GETTER(maximum_bps); DL_GETTER(bearer_type);
    DL_GETTER(framing_type); DL_GETTER(called_number); DL_GETTER(calling_number); DL_GETTER(sub_address);
    DL_GETTER(tx_connect_speed); DL_GETTER(physical_channel_id); DL_GETTER(initial_received_lcp_confreq);
    DL_GETTER(last_sent_lcp_confreq); DL_GETTER(last_received_lcp_confreq); DL_GETTER(proxy_authen_type);
    DL_GETTER(proxy_authen_name); DL_GETTER(proxy_authen_challenge); DL_GETTER(proxy_authen_id);
    DL_GETTER(proxy_authen_response); DL_GETTER(call_errors); DL_GETTER(accm); DL_GETTER(random_vector);
    DL_GETTER(private_group_id); DL_GETTER(rx_connect_speed);
#undef DL_GETTER
    cls.def_property_readonly("sequencing_required", &L2TP::sequencing_required);

    // Builders (RFC 2661 §6.1-§6.14, §5.8 ZLB, §3.1 data).
    cls.def_static("sccrq", [](const py::kwargs& kw) { return build_sccrq_like(false, kw); },
                   "SCCRQ (§6.1): assigned_tunnel_id, host_name, framing_capabilities, protocol_version=(1,0), "
                   "bearer_capabilities, receive_window_size, challenge, tie_breaker, firmware_revision, vendor_name.")
        .def_static("sccrp", [](const py::kwargs& kw) { return build_sccrq_like(true, kw); },
                    "SCCRP (§6.2): as sccrq without tie_breaker, plus challenge_response (16 octets).")
        .def_static("scccn", &build_scccn, "SCCCN (§6.3): challenge_response.")
        .def_static("stopccn", &build_stopccn, "StopCCN (§6.4): assigned_tunnel_id, result, error, error_message.")
        .def_static("hello", [](const py::kwargs& kw) { return build_header_only("hello", kw, &dl::l2tp::make_hello); },
                    "HELLO (§6.5); Session ID is forced to 0.")
        .def_static("ocrq", &build_ocrq,
                    "OCRQ (§6.9): called_number, sub_address, min_bps, max_bps, bearer_type, framing_type, "
                    "assigned_session_id, call_serial_number.")
        .def_static("ocrp", [](const py::kwargs& kw) { return build_ocrp_like(false, kw); },
                    "OCRP (§6.10): assigned_session_id, physical_channel_id.")
        .def_static("occn", &build_occn, "OCCN (§6.11): tx_connect_speed, framing_type, rx_connect_speed, sequencing_required.")
        .def_static("icrq", &build_icrq,
                    "ICRQ (§6.6): assigned_session_id, call_serial_number, bearer_type, physical_channel_id, "
                    "calling_number, called_number, sub_address.")
        .def_static("icrp", [](const py::kwargs& kw) { return build_ocrp_like(true, kw); }, "ICRP (§6.7): assigned_session_id.")
        .def_static("iccn", &build_iccn, "ICCN (§6.8): tx_connect_speed, framing_type, proxy LCP/authentication AVPs, ….")
        .def_static("cdn", &build_cdn,
                    "CDN (§6.12): result, error, error_message, assigned_session_id, q931_cause={cause_code, cause_msg, advisory}.")
        .def_static("wen", [](const py::kwargs& kw) {
            Kwargs k(kw, "wen");
            dl::l2tp::ControlHeader h;
            take_header(k, h);
            py::object ce = k.raw("call_errors");
            auto errors = ce.is_none() ? dl::l2tp::CallErrors{} : call_errors_from(ce);
            return finish(dl::l2tp::make_wen(h, errors), k);
        }, "WEN (§6.13): call_errors={crc_errors, framing_errors, …}.")
        .def_static("sli", [](const py::kwargs& kw) {
            Kwargs k(kw, "sli");
            dl::l2tp::ControlHeader h;
            take_header(k, h);
            dl::l2tp::Accm a;
            k.take("send_accm", a.send_accm);
            k.take("receive_accm", a.receive_accm);
            return finish(dl::l2tp::make_sli(h, a), k);
        }, "SLI (§6.14): send_accm, receive_accm.")
        .def_static("zlb", [](std::uint16_t tunnel_id, std::uint16_t session_id, std::uint16_t ns, std::uint16_t nr) {
            return dl::l2tp::make_zlb(tunnel_id, session_id, ns, nr);
        }, py::arg("tunnel_id") = 0, py::arg("session_id") = 0, py::arg("ns") = 0, py::arg("nr") = 0,
           "ZLB acknowledgement (§5.8).")
        .def_static("control", [](const py::handle& type, const py::kwargs& kw) {
            Kwargs k(kw, "control");
            dl::l2tp::ControlHeader h;
            take_header(k, h);
            L2TP msg = dl::l2tp::make_control(dl::l2tp::MessageType::SCCRQ, h);
            msg.set_message_type(message_type_of(type));
            return finish(std::move(msg), k);
        }, py::arg("type"), "A control message of any type (number or name, reserved/unknown included) with only "
                            "the Message Type AVP; add AVPs with add_avp().")
        .def_static("data", [](std::uint16_t tunnel_id, std::uint16_t session_id, const py::handle& payload,
                               std::optional<std::uint16_t> ns, std::optional<std::uint16_t> nr, bool length,
                               std::optional<std::vector<std::uint8_t>> offset_pad, bool priority) {
            dl::l2tp::DataOptions o;
            if (ns || nr) o.ns_nr = std::make_pair(ns.value_or(0), nr.value_or(0));
            o.length = length;
            o.offset_pad = std::move(offset_pad);
            o.priority = priority;
            auto p = bytes_of(payload);
            return dl::l2tp::make_data(tunnel_id, session_id, p, o);
        }, py::arg("tunnel_id"), py::arg("session_id"), py::arg("payload") = py::bytes(), py::arg("ns") = py::none(),
           py::arg("nr") = py::none(), py::arg("length") = false, py::arg("offset_pad") = py::none(),
           py::arg("priority") = false, "Data message (§3.1) carrying a PPP frame; ns/nr set S, length sets L, offset_pad sets O.");

    m.def("l2tp_challenge_response", [](std::uint8_t message_type, std::string_view secret, const py::handle& challenge) {
        auto c = bytes_of(challenge);
        return to_bytes(dl::l2tp::challenge_response(message_type, secret, c));
    }, py::arg("message_type"), py::arg("secret"), py::arg("challenge"),
       "Challenge Response (RFC 2661 §4.4.3, §5.1.1): MD5(message_type ‖ secret ‖ challenge), 16 octets; "
       "message_type 2 in the SCCRP, 3 in the SCCCN.");
    m.def("l2tp_hide_value", [](const py::handle& type, std::string_view secret, const py::handle& rv,
                                const py::handle& value, const py::handle& pad) {
        auto r = bytes_of(rv), v = bytes_of(value), p = bytes_of(pad);
        return to_bytes(dl::l2tp::hide_value(avp_type_of(type), secret, r, v, p));
    }, py::arg("type"), py::arg("secret"), py::arg("random_vector"), py::arg("value"), py::arg("pad") = py::bytes(),
       "Hidden AVP value (RFC 2661 §4.3) of `value` for AVP `type`.");
    m.def("l2tp_unhide_value", [](const py::handle& type, std::string_view secret, const py::handle& rv,
                                  const py::handle& hidden) -> py::object {
        auto r = bytes_of(rv), h = bytes_of(hidden);
        auto out = dl::l2tp::unhide_value(avp_type_of(type), secret, r, h);
        return out ? py::object(to_bytes(*out)) : py::object(py::none());
    }, py::arg("type"), py::arg("secret"), py::arg("random_vector"), py::arg("hidden"),
       "Reverses l2tp_hide_value(); None when the secret / Random Vector do not fit.");
    m.def("l2tp_message_types", [] {
        py::dict d;
        for (const auto& msg : dl::l2tp::message_registry()) d[py::str(std::string(msg.name))] = msg.type;
        return d;
    }, "{'SCCRQ': 1, …} from the message registry (RFC 2661 §3.2).");
    m.def("l2tp_avp_types", [] {
        py::dict d;
        for (const auto& a : dl::l2tp::avp_registry()) d[py::str(std::string(a.name))] = a.type;
        return d;
    }, "{'Message Type': 0, …} from the AVP registry (RFC 2661 §4.4).");
}

}  // namespace dl::py_bind
