// Shared helpers of the dlab._native bindings: byte conversions, keyword-argument parsing for the
// message builders, and the init functions of each binding file (one per protocol).
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace dl::ppp {
class PPP;
}

namespace dl::py_bind {

namespace py = pybind11;

/// Octets of a bytes / bytearray / memoryview (any C-contiguous buffer). str is refused (TypeError):
/// values are octets, encode text first.
std::vector<std::uint8_t> bytes_of(const py::handle& o);
/// Python bytes holding `s`.
py::bytes to_bytes(std::span<const std::uint8_t> s);
/// Text that may not be valid UTF-8 (RADIUS text, PAP/CHAP names): UTF-8 with surrogateescape, so
/// any octets decode and `.encode("utf-8", "surrogateescape")` gives them back.
py::str text(std::string_view s);
/// "Host Name" / "host-name" / "HOST_NAME" -> "host_name" (for name look-ups).
std::string normalise_name(std::string_view s);

template <class T> struct is_optional : std::false_type {};
template <class T> struct is_optional<std::optional<T>> : std::true_type {};
template <class T> struct is_std_array : std::false_type {};
template <std::size_t N> struct is_std_array<std::array<std::uint8_t, N>> : std::true_type {};

/// Converts a Python value to T: octets for std::vector<uint8_t> and std::array<uint8_t, N>
/// (exact size, else ValueError), enums from int, the rest through pybind11's casters.
template <class T> T convert(const py::handle& o, const char* name) {
    if constexpr (is_optional<T>::value) {
        return convert<typename T::value_type>(o, name);
    } else if constexpr (std::is_same_v<T, std::vector<std::uint8_t>>) {
        return bytes_of(o);
    } else if constexpr (is_std_array<T>::value) {
        auto v = bytes_of(o);
        T out{};
        if (v.size() != out.size())
            throw py::value_error(std::string(name) + ": expected " + std::to_string(out.size()) + " octets, got " +
                                  std::to_string(v.size()));
        std::copy(v.begin(), v.end(), out.begin());
        return out;
    } else if constexpr (std::is_enum_v<T>) {
        return static_cast<T>(o.cast<std::underlying_type_t<T>>());
    } else {
        return o.cast<T>();
    }
}

/// Keyword arguments of a builder: take() each known one, then done() raises TypeError naming any
/// argument left over (a misspelt keyword must not be silently ignored).
class Kwargs {
public:
    Kwargs(const py::kwargs& kw, std::string function) : kw_(kw), function_(std::move(function)) {}
    template <class T> bool take(const char* name, T& out) {
        if (!kw_.contains(name)) return false;
        used_.insert(name);
        py::object o = kw_[name];
        if (o.is_none()) {
            if constexpr (is_optional<T>::value) out.reset();
            return false;
        }
        out = convert<T>(o, name);
        return true;
    }
    bool has(const char* name) const { return kw_.contains(name); }
    py::object raw(const char* name) {
        used_.insert(name);
        return kw_.contains(name) ? py::object(kw_[name]) : py::object(py::none());
    }
    void done() const;

private:
    const py::kwargs& kw_;
    std::string function_;
    std::set<std::string> used_;
};

/// {'protocol': int, 'compressed': bool, 'packet': LCP/IPCP/PAP/CHAP object or the raw octets} (ppp.cpp).
py::dict ppp_frame_to_py(const dl::ppp::PPP& f);

void init_errors(py::module_& m);
void init_l2tp(py::module_& m);
void init_radius(py::module_& m);
void init_ppp(py::module_& m);
void init_pcap(py::module_& m);
void init_capture(py::module_& m);  // capture.cpp: read_capture, CaptureError
void init_endpoint(py::module_& m);
void init_scripted_radius(py::module_& m);

}  // namespace dl::py_bind
