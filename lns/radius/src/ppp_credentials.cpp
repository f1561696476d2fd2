// PPP credentials -> PPP Access-Request fields (RFC 2865 §5.1, §5.2, §5.3, §5.40; RFC 1994 §4.1).
#include "dl/radius/client/ppp_credentials.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace dl::radius::client {

namespace {

PppAuthMapping refuse(PppCredentialsProblem p, std::string message) {
    PppAuthMapping out;
    out.error = PppCredentialsError{p, std::move(message)};
    return out;
}

}  // namespace

std::string_view to_string(PppCredentialsProblem p) noexcept {
    switch (p) {
    case PppCredentialsProblem::no_method: return "no-method";
    case PppCredentialsProblem::empty_user: return "empty-user";
    case PppCredentialsProblem::user_too_long: return "user-too-long";
    case PppCredentialsProblem::password_too_long: return "password-too-long";
    case PppCredentialsProblem::chap_challenge_size: return "chap-challenge-size";
    case PppCredentialsProblem::chap_response_size: return "chap-response-size";
    }
    return "?";
}

PppAuthMapping ppp_auth_request(const ppp::Credentials& cr) {
    using P = PppCredentialsProblem;
    using M = ppp::AuthMethod;
    if (cr.method != M::pap && cr.method != M::chap_md5)
        return refuse(P::no_method, "no PAP or CHAP credentials to check");
    if (cr.user.empty()) return refuse(P::empty_user, "empty user name (RFC 2865 §5.1 User-Name is 1..253 octets)");
    if (cr.user.size() > Attribute::kMaxValue)
        return refuse(P::user_too_long, fmt::format("user name of {} octets, over 253 (RFC 2865 §5.1)", cr.user.size()));
    PppAuthRequest q;
    q.user_name = cr.user;
    if (cr.method == M::pap) {
        if (cr.password.size() > 128)
            return refuse(P::password_too_long,
                          fmt::format("PAP password of {} octets, over 128 (RFC 2865 §5.2)", cr.password.size()));
        q.method = PppAuthRequest::Method::pap;
        q.password = cr.password;
    } else {
        if (cr.response.size() != q.chap_response.size())
            return refuse(P::chap_response_size,
                          fmt::format("CHAP response of {} octets, not 16 (RFC 1994 MD5)", cr.response.size()));
        if (cr.challenge.empty() || cr.challenge.size() > Attribute::kMaxValue)
            return refuse(P::chap_challenge_size,
                          fmt::format("CHAP challenge of {} octets, not 1..253 (RFC 2865 §5.40)", cr.challenge.size()));
        q.method = PppAuthRequest::Method::chap;
        q.chap_ident = cr.chap_id;
        std::copy(cr.response.begin(), cr.response.end(), q.chap_response.begin());
        q.chap_challenge = cr.challenge;
    }
    PppAuthMapping out;
    out.request = std::move(q);
    return out;
}

}  // namespace dl::radius::client
