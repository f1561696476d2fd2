// libFuzzer harness: FreeRADIUS dictionary text parsed from memory ($INCLUDE disabled).
#include "dl/proto/errors.hpp"
#include "dl/radius/dictionary.hpp"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace dl::radius;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        Dictionary d = Dictionary::load_string(text, "fuzz");
        if (const AttributeDef* a = d.attribute(0, 1)) {
            (void)d.attribute(a->name);
            (void)d.value(a->name, "x");
            (void)d.value_name(a->name, 1);
        }
        (void)d.vendor(4874u);
    } catch (const dl::proto::ParseError&) {
    }
    return 0;
}
