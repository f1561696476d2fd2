// libFuzzer harness: the proxy-credential check of an incoming call, through the public entry points
// lnsd's call session uses (dl/session/auth.hpp, dl/radius/client/ppp_credentials.hpp). A LAC's
// proxy authentication (RFC 2661 §4.4.5 Proxy Authen Type / Name / Challenge / ID / Response) and
// the LNS's configuration pick the mode (incoming_mode, incoming_require_auth, proxy_pap_refused:
// RFC 2661 §9.3, Huawei "L2TP Session Establishment"); the credentials become a PPP Access-Request
// (ppp_auth_request, build_ppp_access_request) that the RADIUS client sends (User-Password hidden,
// RFC 2865 §5.2; CHAP-Password and CHAP-Challenge, §5.3 and §5.40).
//
// Input: |mode octet|Proxy Authen Type octet|ID octet| then Name, Challenge and Response, each
// |length octet|octets| (cut to what is left). Mode octet: bits 0-1 configured mode, bits 2-3 the
// LAC's own mode (3: none), bit 4 LAC trusted, bits 5-7 the configured PPP-Auth-Protocol (0..4).
// Proxy Authen Type 0 means the AVP is absent. Checks: proxy mode only from a trusted LAC; mandatory
// CHAP requires CHAP; proxy PAP refused only when CHAP is required; credentials either refused with a
// reason or sent, and what reaches the wire carries them unchanged.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dl/core/timer_registry.hpp"
#include "dl/radius/auth.hpp"
#include "dl/radius/client/client.hpp"
#include "dl/radius/client/ppp_credentials.hpp"
#include "dl/session/auth.hpp"

using namespace dl;
namespace rc = dl::radius::client;
namespace pe = dl::ppp::engine;
using session::IncomingAuthMode;

namespace {
constexpr rc::Endpoint kServer{0xC000020A, 1812};
constexpr const char* kSecret = "lns-secret";

std::vector<std::uint8_t> field(const std::uint8_t*& p, const std::uint8_t* end) {
    if (p == end) return {};
    const std::size_t want = *p++;
    const std::size_t n = std::min(want, static_cast<std::size_t>(end - p));
    std::vector<std::uint8_t> v(p, p + n);
    p += n;
    return v;
}

/// The request on the wire carries the credentials unchanged (RFC 2865 §5.1-5.3, §5.40).
void check_wire(std::span<const std::uint8_t> wire, const pe::Credentials& cr) {
    const radius::Radius sent(wire.data(), static_cast<std::uint32_t>(wire.size()));
    if (sent.code() != radius::Code::Access_Request) __builtin_trap();
    if (radius::verify_request(wire, kSecret) != radius::Verdict::ok) __builtin_trap();  // Message-Authenticator
    if (sent.get_string(radius::AttributeType::User_Name) != cr.user) __builtin_trap();
    if (cr.method == ppp::AuthMethod::pap) {
        auto pw = radius::user_password(sent, kSecret);
        std::string want = cr.password;
        while (!want.empty() && want.back() == '\0') want.pop_back();  // §5.2: NUL padding is not kept
        if (!pw || *pw != want) __builtin_trap();
    } else {
        auto chap = sent.get_octets(radius::AttributeType::CHAP_Password);
        if (!chap || chap->size() != 17 || (*chap)[0] != cr.chap_id ||
            !std::equal(cr.response.begin(), cr.response.end(), chap->begin() + 1))
            __builtin_trap();
        if (auto c = radius::chap_challenge(sent); !std::equal(c.begin(), c.end(), cr.challenge.begin(), cr.challenge.end()))
            __builtin_trap();
    }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 3) return 0;
    const std::uint8_t cfg = data[0];
    const auto configured = static_cast<IncomingAuthMode>((cfg & 3) % 3);
    const std::optional<IncomingAuthMode> for_lac =
        ((cfg >> 2) & 3) == 3 ? std::nullopt : std::optional(static_cast<IncomingAuthMode>((cfg >> 2) & 3));
    const bool trusted = cfg & 0x10;
    const auto pref = static_cast<pe::AuthPreference>((cfg >> 5) % 5);
    const std::optional<std::uint16_t> type = data[1] ? std::optional<std::uint16_t>(data[1]) : std::nullopt;
    const std::uint8_t id = data[2];
    const std::uint8_t* p = data + 3;
    const std::uint8_t* end = data + size;
    const auto name = field(p, end), challenge = field(p, end), response = field(p, end);

    const auto m = session::incoming_mode(configured, for_lac, trusted);
    if (m.mode == IncomingAuthMode::proxy && !trusted) __builtin_trap();  // RFC 2661 §9.3
    if (m.untrusted && (trusted || m.mode != IncomingAuthMode::lcp_renegotiation ||
                        for_lac.value_or(configured) != IncomingAuthMode::proxy))
        __builtin_trap();
    const auto required = session::incoming_require_auth(m.mode, pref, type);
    if (m.mode == IncomingAuthMode::mandatory_chap && required != pe::AuthPreference::chap) __builtin_trap();
    if (m.mode == IncomingAuthMode::lcp_renegotiation && required != pref) __builtin_trap();
    const bool pap_refused = session::proxy_pap_refused(m.mode, required, type);
    if (pap_refused && (m.mode != IncomingAuthMode::proxy || type != 3 || required != pe::AuthPreference::chap))
        __builtin_trap();

    // The LAC's proxy authentication as PPP credentials (RFC 2661 §4.4.5: type 2 CHAP with
    // Challenge / ID / Response, type 3 PAP with the password as Response; others carry none).
    pe::Credentials cr;
    cr.user.assign(name.begin(), name.end());
    if (type == 2) {
        cr.method = ppp::AuthMethod::chap_md5;
        cr.chap_id = id;
        cr.challenge = challenge;
        cr.response = response;
    } else if (type == 3) {
        cr.method = ppp::AuthMethod::pap;
        cr.password.assign(response.begin(), response.end());
    }
    const auto mapping = rc::ppp_auth_request(cr);
    if (mapping.ok() == mapping.error.has_value()) __builtin_trap();  // a request or an error, never both
    if (!mapping.ok()) {
        if (mapping.error->message.empty()) __builtin_trap();
        return 0;
    }
    rc::PppAuthRequest req = *mapping.request;
    req.calling_station_id = "5551000";
    req.tunnel = rc::CallTunnel{.tag = 1, .server_endpoint = "198.51.100.1", .client_endpoint = "198.51.100.2"};
    const rc::PreparedRequest prepared = rc::build_ppp_access_request(req, {{0xC0000201}, "lns"});  // must not throw

    core::VirtualTimeLoop loop;
    core::TimerRegistry reg;
    std::vector<std::uint8_t> wire;
    rc::Client client(loop.timers(), reg, nullptr,
                      [&](const rc::Endpoint&, std::span<const std::uint8_t> d) { wire.assign(d.begin(), d.end()); });
    client.set_servers("lns", rc::ServerGroup{{{kServer, kSecret, true}}, {}});
    const auto h = client.submit("lns", rc::Service::authentication, prepared.packet, [](const rc::Completion&) {},
                                 prepared.user_password);
    if (!h || wire.empty()) __builtin_trap();
    check_wire(wire, cr);
    return 0;
}
