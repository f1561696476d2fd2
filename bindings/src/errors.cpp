// Python exception classes for dl::proto::ParseError / ValidationError, with their fields as
// attributes (protocol, field, reason, source = RFC section, offset).
#include "common.hpp"

#include "dl/l2tp/builders.hpp"
#include "dl/l2tp/validate.hpp"
#include "dl/proto/errors.hpp"

namespace dl::py_bind {

namespace {
PyObject* g_parse_error = nullptr;       // leaked on purpose: lives as long as the interpreter
PyObject* g_validation_error = nullptr;
PyObject* g_unknown_mandatory = nullptr;
PyObject* g_build_error = nullptr;

void raise_with(PyObject* type, const std::exception& e, const py::dict& attrs) {
    py::object inst = py::reinterpret_borrow<py::object>(type)(e.what());
    for (auto item : attrs) py::setattr(inst, item.first, item.second);
    PyErr_SetObject(type, inst.ptr());
}
py::dict validation_attrs(const dl::proto::ValidationError& e) {
    py::dict a;
    a["protocol"] = std::string(dl::proto::to_string(e.protocol()));
    a["message"] = e.message();
    a["item"] = e.item();
    a["reason"] = e.reason();
    a["source"] = e.source();
    return a;
}
}  // namespace

void init_errors(py::module_& m) {
    g_parse_error = PyErr_NewExceptionWithDoc(
        "dlab._native.ParseError",
        "Bytes that a codec cannot decode (dl::proto::ParseError). Attributes: protocol ('l2tp', "
        "'ppp', 'hdlc', 'radius', 'dictionary'), field (what was being read, e.g. 'avp[3].length'), "
        "reason (the rule broken), source (RFC and section, e.g. 'RFC 2661 §4.1'), offset (byte "
        "offset in the input).",
        PyExc_ValueError, nullptr);
    g_validation_error = PyErr_NewExceptionWithDoc(
        "dlab._native.ValidationError",
        "A well-formed message that breaks a protocol rule (dl::proto::ValidationError). Attributes: "
        "protocol, message (e.g. 'SCCRQ'), item (AVP / attribute), reason, source (RFC section).",
        PyExc_ValueError, nullptr);
    g_unknown_mandatory = PyErr_NewExceptionWithDoc(
        "dlab._native.UnknownMandatoryAvp",
        "An unrecognised L2TP AVP with the M bit set (RFC 2661 §4.1). ValidationError attributes plus "
        "vendor_id, attribute_type, session_scope (True: answer CDN, False: StopCCN).",
        g_validation_error, nullptr);
    // A ValidationError, and a TypeError like any call with a keyword the callee does not take.
    py::tuple build_bases = py::make_tuple(py::handle(g_validation_error), py::handle(PyExc_TypeError));
    g_build_error = PyErr_NewExceptionWithDoc(
        "dlab._native.BuildError",
        "L2TP.build() (or a per-message builder) refused its arguments by the registries "
        "(dl::l2tp::BuildError): unknown keyword, AVP the message does not carry, value of the wrong "
        "type / range / length (RFC 2661 §4.4), required AVP missing (§6.x). ValidationError "
        "attributes: message (e.g. 'OCRQ'), item (the AVP, or the keyword as given), reason, source. "
        "Also a TypeError.",
        build_bases.ptr(), nullptr);
    m.attr("ParseError") = py::handle(g_parse_error);
    m.attr("BuildError") = py::handle(g_build_error);
    m.attr("ValidationError") = py::handle(g_validation_error);
    m.attr("UnknownMandatoryAvp") = py::handle(g_unknown_mandatory);

    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const dl::proto::ParseError& e) {
            py::dict a;
            a["protocol"] = std::string(dl::proto::to_string(e.protocol()));
            a["field"] = e.field();
            a["reason"] = e.reason();
            a["source"] = e.source();
            a["offset"] = e.offset();
            raise_with(g_parse_error, e, a);
        } catch (const dl::l2tp::UnknownMandatoryAvp& e) {
            py::dict a = validation_attrs(e);
            a["vendor_id"] = e.vendor_id();
            a["attribute_type"] = e.attribute_type();
            a["session_scope"] = e.session_scope();
            raise_with(g_unknown_mandatory, e, a);
        } catch (const dl::l2tp::BuildError& e) {
            raise_with(g_build_error, e, validation_attrs(e));
        } catch (const dl::proto::ValidationError& e) {
            raise_with(g_validation_error, e, validation_attrs(e));
        }
    });
}

}  // namespace dl::py_bind
