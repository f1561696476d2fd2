// UDP receive / send of the scripted endpoints with the GIL released (datagram.hpp).
#include "datagram.hpp"

#include <poll.h>
#include <pybind11/pybind11.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>
#include <system_error>

namespace dl::py_bind {

namespace py = pybind11;

std::optional<Datagram> receive_datagram(int fd, int timeout_ms, const char* who) {
    Datagram d;
    d.bytes.resize(65536);
    socklen_t flen = sizeof d.from;
    ssize_t n = -1;
    int pr = 0;
    int poll_errno = 0;
    {
        py::gil_scoped_release nogil;
        pollfd p{fd, POLLIN, 0};
        pr = ::poll(&p, 1, timeout_ms);
        if (pr < 0) poll_errno = errno;
        if (pr > 0) n = ::recvfrom(fd, d.bytes.data(), d.bytes.size(), 0, reinterpret_cast<sockaddr*>(&d.from), &flen);
    }
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    if (pr < 0 && poll_errno != EINTR) throw std::system_error(poll_errno, std::generic_category(), who);
    if (pr <= 0 || n < 0) return std::nullopt;
    d.bytes.resize(static_cast<std::size_t>(n));
    return d;
}

int send_datagram(int fd, std::span<const std::uint8_t> bytes, const sockaddr_in& to) {
    py::gil_scoped_release nogil;
    const ssize_t n = ::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
    return n < 0 ? errno : 0;
}

}  // namespace dl::py_bind
