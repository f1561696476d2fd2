// dlab._native: entry point of the pybind11 module and the shared helpers of common.hpp.
#include <cctype>

#include "common.hpp"

namespace dl::py_bind {

std::vector<std::uint8_t> bytes_of(const py::handle& o) {
    if (py::isinstance<py::str>(o)) throw py::type_error("expected bytes-like octets, got str (encode it first)");
    if (py::isinstance<py::bytes>(o)) {
        char* p = nullptr;
        Py_ssize_t n = 0;
        if (PyBytes_AsStringAndSize(o.ptr(), &p, &n) != 0) throw py::error_already_set();
        return {reinterpret_cast<const std::uint8_t*>(p), reinterpret_cast<const std::uint8_t*>(p) + n};
    }
    Py_buffer view;
    if (PyObject_GetBuffer(o.ptr(), &view, PyBUF_SIMPLE) != 0) {
        PyErr_Clear();
        throw py::type_error("expected bytes-like octets (bytes, bytearray, memoryview), got " +
                             std::string(py::str(py::type::handle_of(o).attr("__name__"))));
    }
    const auto* p = static_cast<const std::uint8_t*>(view.buf);
    std::vector<std::uint8_t> out(p, p + view.len);
    PyBuffer_Release(&view);
    return out;
}

py::bytes to_bytes(std::span<const std::uint8_t> s) {
    return py::bytes(reinterpret_cast<const char*>(s.data()), s.size());
}

py::str text(std::string_view s) {
    return py::reinterpret_steal<py::str>(
        PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "surrogateescape"));
}

std::string normalise_name(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        if (c == ' ' || c == '-' || c == '_') out.push_back('_');
        else out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    return out;
}

void Kwargs::done() const {
    for (auto item : kw_) {
        auto key = item.first.cast<std::string>();
        if (!used_.count(key)) throw py::type_error(function_ + "() got an unexpected keyword argument '" + key + "'");
    }
}

}  // namespace dl::py_bind

namespace dl::py_bind {
void init_impairment(py::module_& m);  // impairment.cpp: ImpairmentRelay, TriggerInjector (scenarios/engine)
}  // namespace dl::py_bind

PYBIND11_MODULE(_native, m) {
    m.doc() = "Native part of dlab: the project's C++ codecs (proto/) and the scripted L2TP endpoint and RADIUS server. "
              "See docs/python.md.";
    dl::py_bind::init_errors(m);
    dl::py_bind::init_l2tp(m);
    dl::py_bind::init_radius(m);
    dl::py_bind::init_ppp(m);
    dl::py_bind::init_pcap(m);
    dl::py_bind::init_capture(m);
    dl::py_bind::init_endpoint(m);
    dl::py_bind::init_scripted_radius(m);
    dl::py_bind::init_impairment(m);
}
