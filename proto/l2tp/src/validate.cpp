// Message validation: RFC 2661 §4.1, §4.3, §4.4, §6.1-§6.14.
#include "dl/l2tp/validate.hpp"

#include <string>

#include "dl/l2tp/registry.hpp"

namespace dl::l2tp {

using dl::proto::Protocol;
using dl::proto::ValidationError;

UnknownMandatoryAvp::UnknownMandatoryAvp(std::string message, std::uint16_t vendor_id,
                                         std::uint16_t attribute_type, bool session_scope)
    : ValidationError(Protocol::l2tp, std::move(message),
                      "AVP vendor " + std::to_string(vendor_id) + " type " + std::to_string(attribute_type),
                      std::string("unrecognized AVP with the M bit set: clear the ") +
                          (session_scope ? "session (CDN)" : "tunnel (StopCCN)") +
                          " with Result Code 2, Error Code 8",
                      "RFC 2661 §4.1"),
      vendor_id_(vendor_id), attribute_type_(attribute_type), session_scope_(session_scope) {}

const Avp* first_unknown_mandatory_avp(const L2TP& msg) noexcept {
    for (const auto& a : msg.avps()) {
        if (a.mandatory() && !a.recognized()) return &a;
    }
    return nullptr;
}

namespace {

[[noreturn]] void bad(std::string_view message, std::string_view item, std::string reason, std::string_view source) {
    throw ValidationError(Protocol::l2tp, std::string(message), std::string(item), std::move(reason),
                          std::string(source));
}

std::uint16_t be16(std::span<const std::uint8_t> v, std::size_t at) {
    return static_cast<std::uint16_t>((v[at] << 8) | v[at + 1]);
}

}  // namespace

void validate(const L2TP& msg) {
    constexpr std::string_view kHdr = "RFC 2661 §3.1";
    if (msg.version() != 2) bad(msg.is_control() ? "control" : "data", "header.ver", "Ver must be 2", kHdr);
    if (msg.is_data()) return;
    if (!msg.has_length() || !msg.has_sequence() || msg.has_offset() || msg.priority()) {
        bad("control", "header.flags", "control messages need L=1, S=1, O=0, P=0", kHdr);
    }
    const auto avps = msg.avps();
    if (avps.empty()) return;  // ZLB (§5.8)

    const Avp& first = avps[0];
    if (!first.is(AvpType::MessageType) || first.reserved_bits() != 0) {
        bad("control", "Message Type", "the Message Type AVP MUST be the first AVP", "RFC 2661 §4.4.1");
    }
    if (first.hidden()) bad("control", "Message Type", "Message Type MUST NOT be hidden", "RFC 2661 §4.4.1");
    if (first.value().size() != 2) {
        bad("control", "Message Type", "Length must be 8, is " + std::to_string(first.length()), "RFC 2661 §4.4.1");
    }
    const std::uint16_t type = be16(first.value(), 0);
    const MessageInfo* info = message_info(type);
    if (info == nullptr) {
        bad("type " + std::to_string(type), "Message Type",
            first.mandatory() ? "unknown message type with the M bit set: the tunnel MUST be cleared"
                              : "unknown message type without the M bit: may be ignored",
            "RFC 2661 §3.2, §4.4.1");
    }
    const std::string_view name = info->name;
    if (!first.mandatory()) bad(name, "Message Type", "the M bit MUST be 1", "RFC 2661 §4.4.1");

    if (const Avp* u = first_unknown_mandatory_avp(msg)) {
        throw UnknownMandatoryAvp(std::string(name), u->vendor_id(), u->type(), info->scope == Scope::session);
    }

    for (std::uint16_t req : info->required) {
        bool found = false;
        for (const auto& a : avps) found = found || (a.vendor_id() == 0 && a.type() == req && a.recognized());
        if (!found) {
            bad(name, avp_name(req), "required AVP is missing", info->section);
        }
    }

    bool seen_rv = false;
    for (std::size_t i = 1; i < avps.size(); ++i) {
        const Avp& a = avps[i];
        if (!a.recognized()) continue;  // unknown, M clear: ignored (§4.1)
        const AvpInfo* ai = avp_info(a.type());
        if (a.is(AvpType::MessageType)) bad(name, ai->name, "Message Type appears twice", ai->section);
        const bool m_ok = ai->m == MRule::must_be_1 ? a.mandatory() : !a.mandatory();
        if (!m_ok) {
            bad(name, ai->name, std::string("the M bit MUST be ") + (ai->m == MRule::must_be_1 ? "1" : "0"),
                ai->section);
        }
        if (a.hidden()) {
            if (!ai->may_hide) bad(name, ai->name, "this AVP MUST NOT be hidden", ai->section);
            if (!seen_rv) bad(name, ai->name, "hidden AVP without a preceding Random Vector AVP", "RFC 2661 §4.3");
            if (a.hidden_state() == HiddenState::undecodable) continue;
        }
        if (a.is(AvpType::RandomVector)) seen_rv = true;
        const auto v = a.value();
        if (v.size() < ai->min_value_len || v.size() > ai->max_value_len) {
            bad(name, ai->name,
                "value of " + std::to_string(v.size()) + " octets, expected " +
                    (ai->min_value_len == ai->max_value_len ? std::to_string(ai->min_value_len)
                                                            : "at least " + std::to_string(ai->min_value_len)),
                ai->section);
        }
        if (a.is(AvpType::ResultCode) && v.size() == 3) {
            bad(name, ai->name, "Error Code is 2 octets", ai->section);
        }
        if ((a.is(AvpType::AssignedTunnelId) || a.is(AvpType::AssignedSessionId)) && be16(v, 0) == 0) {
            bad(name, ai->name, "MUST be non-zero", ai->section);
        }
        if ((a.is(AvpType::ProxyAuthenId) && v[0] != 0) ||
            ((a.is(AvpType::CallErrors) || a.is(AvpType::Accm)) && be16(v, 0) != 0)) {
            bad(name, ai->name, "reserved field is non-zero", ai->section);
        }
    }
    if (type == static_cast<std::uint16_t>(MessageType::HELLO) && msg.session_id() != 0) {
        bad(name, "header.session_id", "the Session ID in a HELLO MUST be 0", "RFC 2661 §6.5");
    }
}

std::optional<ValidationError> check(const L2TP& msg) {
    try {
        validate(msg);
    } catch (const ValidationError& e) {
        return e;
    }
    return std::nullopt;
}

}  // namespace dl::l2tp
