// Incoming-call authentication mode rules. See dl/session/auth.hpp.
#include "dl/session/auth.hpp"

namespace dl::session {

namespace pe = ppp::engine;

IncomingMode incoming_mode(IncomingAuthMode configured, std::optional<IncomingAuthMode> for_lac, bool lac_trusted) {
    IncomingMode m{for_lac.value_or(configured), false};
    if (m.mode == IncomingAuthMode::proxy && !lac_trusted) {
        m.mode = IncomingAuthMode::lcp_renegotiation;
        m.untrusted = true;
    }
    return m;
}

pe::AuthPreference incoming_require_auth(IncomingAuthMode mode, pe::AuthPreference configured,
                                         std::optional<std::uint16_t> proxy_authen_type) {
    if (mode == IncomingAuthMode::mandatory_chap) return pe::AuthPreference::chap;
    if (mode == IncomingAuthMode::proxy && proxy_authen_type && configured != pe::AuthPreference::chap) {
        if (*proxy_authen_type == 2) return pe::AuthPreference::chap;
        if (*proxy_authen_type == 3) return pe::AuthPreference::pap;
    }
    return configured;
}

bool proxy_pap_refused(IncomingAuthMode mode, pe::AuthPreference required, std::optional<std::uint16_t> proxy_authen_type) {
    return mode == IncomingAuthMode::proxy && proxy_authen_type == 3 && required == pe::AuthPreference::chap;
}

}  // namespace dl::session
