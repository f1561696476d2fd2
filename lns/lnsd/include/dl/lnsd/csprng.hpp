// 64 bits from the operating system's CSPRNG, for values a peer must not predict.
#pragma once

#include <sys/random.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <system_error>

namespace dl::lnsd {

/// 64 bits from the OS CSPRNG (getrandom(2), flags 0: blocks until the pool is initialised,
/// retried on EINTR and short reads). std::system_error if the kernel refuses.
inline std::uint64_t csprng_u64() {
    std::uint64_t v = 0;
    auto* p = reinterpret_cast<unsigned char*>(&v);
    std::size_t got = 0;
    while (got < sizeof v) {
        const ssize_t n = ::getrandom(p + got, sizeof v - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::generic_category(), "getrandom");
        }
        got += static_cast<std::size_t>(n);
    }
    return v;
}

}  // namespace dl::lnsd
