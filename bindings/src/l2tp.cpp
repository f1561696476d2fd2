// L2TP (RFC 2661) bindings: the dl::l2tp::L2TP PDU (parse, header fields, AVPs with M/H bits and
// typed values, hidden AVPs), L2TP.build() with keywords read from the message and AVP registries
// (the per-message builders are thin names over it), the registries themselves, validation, and the
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
// The 32-bit fields of Call Errors (§4.4.6) and ACCM (§4.4.6) by their Python dict keys: one table
// for both directions.
constexpr std::pair<const char*, std::uint32_t dl::l2tp::CallErrors::*> kCallErrorsFields[] = {
    {"crc_errors", &dl::l2tp::CallErrors::crc_errors},
    {"framing_errors", &dl::l2tp::CallErrors::framing_errors},
    {"hardware_overruns", &dl::l2tp::CallErrors::hardware_overruns},
    {"buffer_overruns", &dl::l2tp::CallErrors::buffer_overruns},
    {"timeout_errors", &dl::l2tp::CallErrors::timeout_errors},
    {"alignment_errors", &dl::l2tp::CallErrors::alignment_errors}};
constexpr std::pair<const char*, std::uint32_t dl::l2tp::Accm::*> kAccmFields[] = {
    {"send_accm", &dl::l2tp::Accm::send_accm}, {"receive_accm", &dl::l2tp::Accm::receive_accm}};

template <class S, std::size_t N>
py::object fields_to_py(const S& s, const std::pair<const char*, std::uint32_t S::*> (&fields)[N]) {
    py::dict d;
    for (const auto& [key, member] : fields) d[key] = s.*member;
    return py::object(std::move(d));
}
py::object to_py(const dl::l2tp::CallErrors& c) { return fields_to_py(c, kCallErrorsFields); }
py::object to_py(const dl::l2tp::Accm& a) { return fields_to_py(a, kAccmFields); }
py::object to_py(const std::vector<std::uint8_t>& v) { return to_bytes(v); }
py::object to_py(const std::array<std::uint8_t, 16>& v) { return to_bytes(v); }
py::object to_py(const std::string& s) {
    // Latin-1 keeps every octet (AVP strings are not required to be UTF-8).
    return py::reinterpret_steal<py::object>(PyUnicode_DecodeLatin1(s.data(), static_cast<Py_ssize_t>(s.size()), nullptr));
}
template <class T> std::enable_if_t<std::is_integral_v<T>, py::object> to_py(T v) { return py::int_(v); }
template <class T> py::object to_py(const std::optional<T>& o) { return o ? to_py(*o) : py::object(py::none()); }

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

// ---- builders: L2TP.build() from the registries, the per-message names as thin names over it --
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

constexpr const char* kBuildOptions[] = {"tunnel_id", "session_id", "ns", "nr", "hide", "secret",
                                         "random_vector", "pad_length", "pad_byte"};
bool is_build_option(const std::string& k) {
    return std::ranges::find(kBuildOptions, k) != std::end(kBuildOptions);
}

[[noreturn]] void refuse(const dl::l2tp::MessageInfo& msg, const dl::l2tp::AvpInfo& a, const std::string& reason) {
    throw dl::l2tp::BuildError(dl::proto::Protocol::l2tp, std::string(msg.name), std::string(a.name), reason,
                               std::string(a.section));
}

/// The C++ value of AVP `a` from its Python form: the forms L2TpAvp.typed / L2TP.get() give back
/// (int, str, bytes, dict of the structured layouts), plus (version, revision) for Protocol Version and
/// an int for the Result Code's result alone. Wrong Python types raise BuildError naming the AVP.
dl::l2tp::AvpValue avp_value_of(const dl::l2tp::MessageInfo& msg, const dl::l2tp::AvpInfo& a, const py::handle& o) {
    using K = dl::l2tp::ValueKind;
    auto dict = [&]() -> py::dict {
        if (!py::isinstance<py::dict>(o)) refuse(msg, a, "expects a dict, got " + std::string(py::str(o.get_type().attr("__name__"))));
        return o.cast<py::dict>();
    };
    auto field = [&](const py::dict& d, const char* key, auto& out) {
        if (d.contains(key) && !d[key].is_none()) out = d[key].cast<std::remove_reference_t<decltype(out)>>();
    };
    try {
        switch (a.kind) {
        case K::empty: return PyObject_IsTrue(o.ptr()) == 1;
        case K::u16:
        case K::u32:
        case K::u64:
        case K::bitmask32:
        case K::proxy_authen_id: {
            if (!py::isinstance<py::int_>(o))
                refuse(msg, a, "expects integer, got " + std::string(py::str(o.get_type().attr("__name__"))));
            if (o.cast<py::int_>() < py::int_(0)) refuse(msg, a, "value " + std::string(py::str(o)) + " is negative");
            return o.cast<std::uint64_t>();
        }
        case K::string:
            if (!py::isinstance<py::str>(o) && !py::isinstance<py::bytes>(o))
                refuse(msg, a, "expects string, got " + std::string(py::str(o.get_type().attr("__name__"))));
            return o.cast<std::string>();
        case K::octets: return bytes_of(o);
        case K::result_code: {
            dl::l2tp::ResultCode rc;
            if (py::isinstance<py::int_>(o)) {
                rc.result = o.cast<std::uint16_t>();
                return rc;
            }
            auto d = dict();
            if (!d.contains("result")) refuse(msg, a, "dict without 'result'");
            field(d, "result", rc.result);
            std::uint16_t error = 0;
            if (d.contains("error") && !d["error"].is_none()) rc.error = (field(d, "error", error), error);
            if (d.contains("message") && !d["message"].is_none()) rc.message = d["message"].cast<std::string>();
            return rc;
        }
        case K::protocol_version: {
            dl::l2tp::ProtocolVersion v;
            if (py::isinstance<py::tuple>(o)) {
                auto t = o.cast<std::pair<std::uint8_t, std::uint8_t>>();
                return dl::l2tp::ProtocolVersion{t.first, t.second};
            }
            auto d = dict();
            field(d, "version", v.version);
            field(d, "revision", v.revision);
            return v;
        }
        case K::q931_cause: {
            auto d = dict();
            dl::l2tp::Q931Cause c;
            field(d, "cause_code", c.cause_code);
            field(d, "cause_msg", c.cause_msg);
            field(d, "advisory", c.advisory);
            return c;
        }
        case K::call_errors: {
            auto d = dict();
            dl::l2tp::CallErrors c;
            for (const auto& [key, member] : kCallErrorsFields) field(d, key, c.*member);
            return c;
        }
        case K::accm: {
            auto d = dict();
            dl::l2tp::Accm c;
            for (const auto& [key, member] : kAccmFields) field(d, key, c.*member);
            return c;
        }
        }
    } catch (const py::cast_error& e) {
        refuse(msg, a, std::string("value of the wrong type: ") + e.what());
    }
    refuse(msg, a, "unknown value kind");
}

/// L2TP.build(type, **kw): AVP keywords are the registry's AVP names in snake_case (avp_keyword());
/// None leaves an AVP out; the header and hiding keywords are kBuildOptions.
L2TP build_from_keywords(const py::handle& type, const py::kwargs& kw) {
    const auto t = message_type_of(type);
    const auto* msg = dl::l2tp::message_info(t);
    std::vector<dl::l2tp::AvpArg> args;
    for (auto item : kw) {
        auto key = item.first.cast<std::string>();
        if (is_build_option(key)) continue;
        const auto* a = dl::l2tp::avp_info_by_name(key);
        if (!msg || !a) {
            args.push_back({key, false});  // build() names the message and the unknown keyword
            continue;
        }
        if (item.second.is_none()) continue;
        args.push_back({static_cast<dl::l2tp::AvpType>(a->type), avp_value_of(*msg, *a, item.second)});
    }
    Kwargs k(kw, "build");
    dl::l2tp::ControlHeader h;
    take_header(k, h);
    L2TP m = dl::l2tp::build(static_cast<dl::l2tp::MessageType>(t), h, args);
    for (auto item : kw) k.raw(item.first.cast<std::string>().c_str());  // AVPs: consumed above
    return finish(std::move(m), k);
}

/// The per-message names L2TP.sccrq() … L2TP.sli(): L2TP.build() of their message with the defaults
/// of the C++ template (the AVPs of make_xxx({}), so defaults are declared once, in builders.hpp),
/// keeping their historical keywords: min_bps / max_bps, q931_cause, result / error / error_message
/// (Result Code fields), send_accm / receive_accm (ACCM fields). None keeps a default.
struct ThinName {
    const char* name;
    dl::l2tp::MessageType type;
    L2TP (*defaults)();
    bool session_zero;  ///< HELLO: Session ID forced to 0 (RFC 2661 §6.5)
};

const ThinName kThinNames[] = {
    {"sccrq", dl::l2tp::MessageType::SCCRQ, [] { return dl::l2tp::make_sccrq({}); }, false},
    {"sccrp", dl::l2tp::MessageType::SCCRP, [] { return dl::l2tp::make_sccrp({}); }, false},
    {"scccn", dl::l2tp::MessageType::SCCCN, [] { return dl::l2tp::make_scccn({}); }, false},
    {"stopccn", dl::l2tp::MessageType::StopCCN, [] { return dl::l2tp::make_stopccn({}); }, false},
    {"hello", dl::l2tp::MessageType::HELLO, [] { return dl::l2tp::make_hello({}); }, true},
    {"ocrq", dl::l2tp::MessageType::OCRQ, [] { return dl::l2tp::make_ocrq({}); }, false},
    {"ocrp", dl::l2tp::MessageType::OCRP, [] { return dl::l2tp::make_ocrp({}); }, false},
    {"occn", dl::l2tp::MessageType::OCCN, [] { return dl::l2tp::make_occn({}); }, false},
    {"icrq", dl::l2tp::MessageType::ICRQ, [] { return dl::l2tp::make_icrq({}); }, false},
    {"icrp", dl::l2tp::MessageType::ICRP, [] { return dl::l2tp::make_icrp({}); }, false},
    {"iccn", dl::l2tp::MessageType::ICCN, [] { return dl::l2tp::make_iccn({}); }, false},
    {"cdn", dl::l2tp::MessageType::CDN, [] { return dl::l2tp::make_cdn({}); }, false},
    {"wen", dl::l2tp::MessageType::WEN, [] { return dl::l2tp::make_wen({}, {}); }, false},
    {"sli", dl::l2tp::MessageType::SLI, [] { return dl::l2tp::make_sli({}, {}); }, false},
};

/// {keyword: typed value} of the AVPs of `m` after Message Type.
py::dict keywords_of(const L2TP& m) {
    py::dict d;
    for (const auto& a : m.avps())
        if (a.vendor_id() == 0 && a.type() != 0)
            d[py::str(dl::l2tp::avp_keyword(dl::l2tp::avp_name(a.type())))] = typed_value(a.type(), a.value());
    return d;
}

L2TP build_thin(const ThinName& thin, const py::kwargs& kw) {
    py::dict merged = keywords_of(thin.defaults());
    auto into = [&](const char* avp, const char* field, const py::handle& v) {
        py::dict d = merged.contains(avp) ? py::dict(merged[avp]) : py::dict();
        d[field] = v;
        merged[avp] = d;
    };
    for (auto item : kw) {
        auto key = item.first.cast<std::string>();
        if (key == "result" || key == "error" || key == "error_message") {
            into("result_code", key == "error_message" ? "message" : key.c_str(), item.second);
        } else if (key == "send_accm" || key == "receive_accm") {
            if (!item.second.is_none()) into("accm", key.c_str(), item.second);
        } else {
            if (key == "min_bps") key = "minimum_bps";
            if (key == "max_bps") key = "maximum_bps";
            if (key == "q931_cause") key = "q931_cause_code";
            if (item.second.is_none() && merged.contains(key.c_str())) continue;  // None keeps a default
            merged[py::str(key)] = item.second;
        }
    }
    if (thin.session_zero) merged["session_id"] = 0;
    return build_from_keywords(py::int_(static_cast<int>(thin.type)), py::kwargs(std::move(merged)));
}

/// "OCRQ (RFC 2661 §6.9): required assigned_session_id, …; optional sub_address" from the registry.
std::string keywords_doc(const dl::l2tp::MessageInfo& msg) {
    auto list = [](std::span<const std::uint16_t> avps) {
        std::string s;
        for (auto t : avps) s += (s.empty() ? "" : ", ") + dl::l2tp::avp_keyword(dl::l2tp::avp_name(t));
        return s.empty() ? std::string("none") : s;
    };
    return std::string(msg.name) + " (" + std::string(msg.section) + "): required " + list(msg.required) +
           "; optional " + list(msg.optional);
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

Parse with L2TP.parse(bytes) (raises ParseError for malformed input). Build control messages with
L2TP.build('OCRQ', called_number=…, …): keywords are the AVP names of the registry in snake_case,
checked against the message's row (RFC 2661 §6.1-§6.14; BuildError otherwise). The class methods
sccrq(), sccrp(), scccn(), stopccn(), hello(), ocrq(), ocrp(), occn(), icrq(), icrp(), iccn(), cdn(),
wen(), sli() are build() with defaults; zlb(), data() and control() build ZLBs, data messages and bare
control messages of any type. Header keywords: tunnel_id, session_id, ns, nr; hiding: hide=[AVP
names], secret=, random_vector=, pad_length=, pad_byte= (§4.3). to_bytes() serialises.)");
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

    // Builders (RFC 2661 §6.1-§6.14, §5.8 ZLB, §3.1 data): build() reads the registries; the
    // per-message names are thin names over it.
    std::string build_doc =
        "L2TP.build(type, **avps): the control message `type` (name such as 'OCRQ' or "
        "'Outgoing-Call-Request', or number) with the AVPs given as keywords, checked against the "
        "message and AVP registries (RFC 2661 §6.1-§6.14, §4.4). Keywords: the AVP names in snake_case "
        "(called_number, tx_connect_speed, q931_cause_code…), values as L2tpAvp.typed gives them (int, "
        "str, bytes, dict for Result Code / Q.931 Cause Code / Call Errors / ACCM, (version, revision) "
        "or dict for Protocol Version, True for Sequencing Required); None leaves an AVP out. Header: "
        "tunnel_id, session_id, ns, nr; hiding: hide=[AVP names], secret, random_vector, pad_length, "
        "pad_byte (§4.3). Raises BuildError (a ValidationError and a TypeError) naming the message and "
        "the AVP for an unknown keyword, an AVP the message does not carry, a value of the wrong type, "
        "out of range or of the wrong length, or a required AVP missing.\n";
    for (const auto& msg : dl::l2tp::message_registry()) build_doc += "\n" + keywords_doc(msg);
    cls.def_static("build", &build_from_keywords, py::arg("type"), build_doc.c_str());
    for (const auto& thin : kThinNames) {
        const auto* msg = dl::l2tp::message_info(thin.type);
        std::string doc = std::string(msg->name) + " (" + std::string(msg->section) + "): L2TP.build('" +
                          std::string(msg->name) + "', …) with the defaults " +
                          std::string(py::repr(keywords_of(thin.defaults()))) +
                          (thin.session_zero ? " and Session ID 0" : "") +
                          "; also takes min_bps / max_bps, q931_cause, result / error / error_message and "
                          "send_accm / receive_accm where the message carries those AVPs. " + keywords_doc(*msg);
        cls.def_static(thin.name, [&thin](const py::kwargs& kw) { return build_thin(thin, kw); }, doc.c_str());
    }
    cls        .def_static("zlb", [](std::uint16_t tunnel_id, std::uint16_t session_id, std::uint16_t ns, std::uint16_t nr) {
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
    m.def("l2tp_message_registry", [] {
        py::list out;
        for (const auto& msg : dl::l2tp::message_registry()) {
            py::dict d;
            d["type"] = msg.type;
            d["name"] = std::string(msg.name);
            d["long_name"] = std::string(msg.long_name);
            d["section"] = std::string(msg.section);
            d["scope"] = msg.scope == dl::l2tp::Scope::tunnel ? "tunnel" : "session";
            auto keywords = [](std::span<const std::uint16_t> avps) {
                py::list l;
                for (auto t : avps) l.append(dl::l2tp::avp_keyword(dl::l2tp::avp_name(t)));
                return l;
            };
            d["required"] = keywords(msg.required);
            d["optional"] = keywords(msg.optional);
            out.append(d);
        }
        return out;
    }, "The message registry (RFC 2661 §3.2, §6.1-§6.14) as a list of dicts: type, name, long_name, section, "
       "scope ('tunnel' / 'session'), required and optional (AVP keywords of L2TP.build(), in emission order).");
    m.def("l2tp_avp_registry", [] {
        static constexpr const char* kKind[] = {"empty",           "u16",          "u32",          "u64",
                                                "bitmask32",       "string",       "octets",       "result_code",
                                                "protocol_version", "q931_cause",  "proxy_authen_id",
                                                "call_errors",     "accm"};
        py::list out;
        for (const auto& a : dl::l2tp::avp_registry()) {
            py::dict d;
            d["type"] = a.type;
            d["name"] = std::string(a.name);
            d["keyword"] = dl::l2tp::avp_keyword(a.name);
            d["kind"] = kKind[static_cast<std::size_t>(a.kind)];
            d["min_length"] = a.min_value_len;
            d["max_length"] = a.max_value_len;
            d["mandatory"] = a.m == dl::l2tp::MRule::must_be_1;
            d["may_hide"] = a.may_hide;
            d["section"] = std::string(a.section);
            out.append(d);
        }
        return out;
    }, "The AVP registry (RFC 2661 §4.4) as a list of dicts: type, name, keyword (of L2TP.build()), kind "
       "(value layout: 'u16', 'string', 'result_code', …), min_length / max_length (value octets), mandatory "
       "(M bit), may_hide (H bit allowed), section.");
    m.def("l2tp_avp_types", [] {
        py::dict d;
        for (const auto& a : dl::l2tp::avp_registry()) d[py::str(std::string(a.name))] = a.type;
        return d;
    }, "{'Message Type': 0, …} from the AVP registry (RFC 2661 §4.4).");
}

}  // namespace dl::py_bind
