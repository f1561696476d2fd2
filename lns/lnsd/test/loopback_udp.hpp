// Test helper shared by lnsd's socket tests: a UDP socket bound to 127.0.0.1 on an ephemeral port.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace dl::lnsd::test {

/// Binds `fd` (an AF_INET datagram socket) to 127.0.0.1 on a port the kernel chooses and returns
/// that address in `addr` (network byte order, as getsockname(2) gives it). `rcvbuf` > 0 also asks
/// for that SO_RCVBUF (octets), so a burst of datagrams is not dropped before the test reads it.
inline void bind_loopback(int fd, sockaddr_in& addr, int rcvbuf = 0) {
    if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t l = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &l);
}

}  // namespace dl::lnsd::test
