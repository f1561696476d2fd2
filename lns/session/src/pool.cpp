// Pool addresses of calls. See dl/session/pool.hpp.
#include "dl/session/pool.hpp"

namespace dl::session {

std::uint32_t AddressPools::allocate(const std::string& profile, core::Ipv4Prefix pool, std::uint32_t local) {
    const auto base = pool.network().address.value;
    const std::uint32_t size = pool.length >= 32 ? 1 : (std::uint32_t{1} << (32 - pool.length));
    if (size < 4) return 0;  // no host address besides network and broadcast
    auto& next = next_[profile];
    for (std::uint32_t tries = 0; tries < size; ++tries) {
        next = next % (size - 1);
        const std::uint32_t a = base + 1 + next++;
        if (a == base + size - 1 || a == local) continue;  // broadcast, ours
        if (used_.insert(a).second) return a;
    }
    return 0;
}

bool AddressPools::release(std::uint32_t address) { return used_.erase(address) > 0; }

}  // namespace dl::session
