// libFuzzer harness: RADIUS parse, attribute walk, re-serialisation, verification and unhiding.
#include "dl/proto/errors.hpp"
#include "dl/radius/auth.hpp"
#include "dl/radius/radius.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace dl::radius;
    const std::span<const std::uint8_t> wire(data, size);
    // Verification runs on raw bytes and must never crash, whatever they hold.
    (void)verify_request(wire, "testing123");
    Authenticator ra{};
    if (size >= 36) std::memcpy(ra.data(), data + size - 16, 16);
    (void)verify_response(wire, ra, "testing123");
    try {
        Radius p(data, static_cast<std::uint32_t>(size));
        // Attribute walk with every typed accessor.
        for (const Attribute& a : p.attributes()) {
            const AttributeFormat f = builtin_format(a.vendor(), a.is_vsa() ? a.vendor_type() : a.type());
            (void)a.tag(f);
            (void)a.as_string(f);
            (void)a.as_integer(f);
            (void)a.as_ipaddr();
        }
        (void)p.get_string(AttributeType::User_Name);
        (void)p.get_integer(AttributeType::Tunnel_Type, 1);
        (void)p.get_string(ErxAttribute::Dial_Out_Number);
        (void)chap_challenge(p);
        try { (void)user_password(p, "s"); } catch (const dl::proto::ParseError&) {}
        try { (void)tunnel_password(p, "s", ra); } catch (const dl::proto::ParseError&) {}
        // Round trip: what parsed re-serialises to the first Length octets.
        auto out = p.serialize();
        const std::size_t len = (std::size_t{data[2]} << 8) | data[3];
        if (out.size() != len || std::memcmp(out.data(), data, len) != 0) std::abort();
        Radius again(out.data(), static_cast<std::uint32_t>(out.size()));
        if (again.attributes().size() != p.attributes().size()) std::abort();
        // Signing a copy must produce something that verifies.
        if (is_response(p.code())) {
            sign_response(p, ra, "k");
            auto s = p.serialize();
            if (verify_response(s, ra, "k") != Verdict::ok) std::abort();
        } else {
            sign_request(p, "k");
            auto s = p.serialize();
            if (verify_request(s, "k") != Verdict::ok) std::abort();
        }
    } catch (const dl::proto::ParseError&) {
    }
    return 0;
}
