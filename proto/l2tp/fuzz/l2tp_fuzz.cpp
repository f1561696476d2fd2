// libFuzzer harness: parse, validate, typed getters, re-serialise (must be byte-exact up to Length).
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "dl/l2tp/l2tp.hpp"
#include "dl/l2tp/validate.hpp"
#include "dl/proto/errors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 0xFFFF) return 0;  // one UDP datagram
    try {
        dl::l2tp::L2TP m(data, static_cast<std::uint32_t>(size));
        (void)dl::l2tp::check(m);
        (void)dl::l2tp::first_unknown_mandatory_avp(m);
        try {
            (void)m.message_type();
            (void)m.result_code();
            (void)m.host_name();
            (void)m.q931_cause_code();
            (void)m.call_errors();
            (void)m.accm();
            (void)m.challenge_response();
            (void)m.tie_breaker();
            (void)m.proxy_authen_id();
        } catch (const dl::proto::ParseError&) {
        }
        const std::vector<std::uint8_t> out = m.serialize();
        // Re-serialisation reproduces the datagram minus ignored trailing octets. The Length field is
        // recomputed, so only compare when it was absent or exact.
        const std::size_t expect = size - m.trailing_octets();
        if (out.size() != expect) std::abort();
        if (!m.has_length() || m.length_field() == size) {
            for (std::size_t i = 0; i < out.size(); ++i) {
                if (out[i] != data[i]) std::abort();
            }
        }
        dl::l2tp::L2TP again(out.data(), static_cast<std::uint32_t>(out.size()));
        if (again.avps().size() != m.avps().size()) std::abort();
    } catch (const dl::proto::ParseError&) {
    }
    return 0;
}
