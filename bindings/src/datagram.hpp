// The UDP socket I/O of the scripted endpoints (ScriptedL2tp in endpoint.cpp, ScriptedRadius in
// scripted_radius.cpp): one receive with a timeout and one send, each with the GIL released so that
// other Python threads (a scripted RADIUS server on its thread, the test) run while one waits.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace dl::py_bind {

/// One received UDP datagram: its octets and the sender's IPv4 address and port.
struct Datagram {
    std::vector<std::uint8_t> bytes;
    sockaddr_in from{};
};

/// Waits up to `timeout_ms` milliseconds (poll(2); 0 = do not wait) for one datagram on the UDP
/// socket `fd` and reads it (up to 65535 octets), the GIL released meanwhile. Then runs Python's
/// signal handlers: Ctrl-C raises KeyboardInterrupt (py::error_already_set). nullopt when nothing
/// arrived in time, the wait was interrupted (EINTR) or recvfrom failed; a failing poll raises
/// std::system_error naming `who` ("ScriptedL2tp poll"). Call with the GIL held.
std::optional<Datagram> receive_datagram(int fd, int timeout_ms, const char* who);

/// Sends `bytes` to `to` on `fd` (sendto(2)), the GIL released meanwhile. Returns 0, or the errno of
/// the failed send (the caller decides whether that is an error). Call with the GIL held.
int send_datagram(int fd, std::span<const std::uint8_t> bytes, const sockaddr_in& to);

}  // namespace dl::py_bind
