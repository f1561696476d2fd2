// A counting global operator new for the dl_radius_client_test binary: every allocation of the
// binary is counted, so a test reads allocations() before and after the code it measures. The
// replacements live in counting_new.cpp, once per binary (two definitions would not link).
#pragma once

#include <cstdint>

namespace dl::radius::test {

/// operator new calls made by this test binary so far (all threads).
std::uint64_t allocations() noexcept;

}  // namespace dl::radius::test
