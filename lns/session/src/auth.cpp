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

std::optional<pe::Credentials> proxy_credentials(const l2tp::engine::IncomingCall& in, pe::AuthPreference required) {
    if (!in.proxy_authen_type || !in.proxy_authen_name) return std::nullopt;
    pe::Credentials cr;
    cr.user = *in.proxy_authen_name;
    const auto t = *in.proxy_authen_type;
    if (t == 2 && in.proxy_authen_challenge && in.proxy_authen_response && in.proxy_authen_id) {
        cr.method = pe::AuthMethod::chap_md5;
        cr.chap_id = *in.proxy_authen_id;
        cr.challenge = *in.proxy_authen_challenge;
        cr.response = *in.proxy_authen_response;
        return cr;
    }
    if (t == 3 && in.proxy_authen_response && required != pe::AuthPreference::chap) {
        cr.method = pe::AuthMethod::pap;
        cr.password.assign(in.proxy_authen_response->begin(), in.proxy_authen_response->end());
        return cr;
    }
    return std::nullopt;
}

bool proxy_lcp_usable(const l2tp::engine::IncomingCall& in, pe::AuthPreference required) {
    return !in.proxy_authen_type || *in.proxy_authen_type == 4 || proxy_credentials(in, required).has_value();
}

}  // namespace dl::session
