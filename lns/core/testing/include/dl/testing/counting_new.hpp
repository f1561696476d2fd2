// Test support: a counting global operator new, for test binaries that assert how many heap
// allocations a piece of code makes (e.g. none per packet on the data path). Link the
// `dl_counting_new` object library into the test binary (dl_module's TEST_DEPS); it replaces the
// binary's global operator new / delete once (two replacements in one binary would not link).
#pragma once

#include <cstdint>

namespace dl::testing {

/// operator new calls this test binary has made so far, all threads together (relaxed atomic
/// counter; read it before and after the code measured and compare).
std::uint64_t allocations() noexcept;

}  // namespace dl::testing
