// Helpers of the proto/radius tests (the generic ones are in proto/testing: dl/testing/*.hpp).
#pragma once

#include <string>
#include <vector>

#include "dl/testing/capture.hpp"

namespace dl::radius::test {

/// The UDP datagrams to or from a RADIUS port in the capture at `path` (1812 and 1813, RFC 2865 §3 and
/// RFC 2866 §3; the historical 1645 and 1646; 3799, RFC 5176 §3), numbered as Wireshark numbers frames.
/// Throws Tins::pcap_error if the file cannot be read.
inline std::vector<dl::testing::Datagram> radius_datagrams(const std::string& path) {
    return dl::testing::read_udp(path, {1812, 1813, 1645, 1646, 3799});
}

}  // namespace dl::radius::test
