// libFuzzer harness: PPP frame parse (Protocol + LCP/IPCP/PAP/CHAP/raw), with and without HDLC
// Address/Control. Property: a parsed frame re-serialises to bytes that parse to the same bytes.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "dl/ppp/auth.hpp"
#include "dl/ppp/control.hpp"
#include "dl/ppp/ppp.hpp"
#include "dl/proto/errors.hpp"

namespace {

template <typename T>
void round_trip(const std::uint8_t* data, std::size_t size) {
    try {
        T p(data, static_cast<std::uint32_t>(size));
        const std::vector<std::uint8_t> a = p.serialize();
        T q(a.data(), static_cast<std::uint32_t>(a.size()));
        if (q.serialize() != a) __builtin_trap();
    } catch (const dl::proto::ParseError&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    round_trip<dl::ppp::PPP>(data, size);
    round_trip<dl::ppp::LCP>(data, size);
    round_trip<dl::ppp::IPCP>(data, size);
    round_trip<dl::ppp::PAP>(data, size);
    round_trip<dl::ppp::CHAP>(data, size);
    try {
        auto p = dl::ppp::PPP::from_hdlc_payload({data, size});
        (void)p.serialize();
        if (auto* l = p.find_pdu<dl::ppp::LCP>()) {
            (void)l->mru();
            (void)l->magic_number();
            (void)l->auth_protocol();
            (void)l->echo_data();
            (void)l->rejected_information();
            (void)l->seconds_remaining();
        }
        if (auto* i = p.find_pdu<dl::ppp::IPCP>()) {
            (void)i->ip_address();
            (void)i->ip_addresses();
            (void)i->ip_compression_protocol();
        }
    } catch (const dl::proto::ParseError&) {
    }
    return 0;
}
