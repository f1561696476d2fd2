#include "dl/radius/tunnel.hpp"

#include <map>

#include "dl/proto/errors.hpp"
#include "dl/radius/auth.hpp"

namespace dl::radius {

TaggedTunnels decode_tagged_tunnels(const Radius& packet, std::string_view secret, const Authenticator& request_auth) {
    TaggedTunnels out;
    std::map<std::uint8_t, TaggedTunnel> by_tag;
    for (const Attribute& a : packet.attributes()) {
        if (a.is_vsa()) continue;
        const auto type = static_cast<AttributeType>(a.type());
        switch (type) {
            case AttributeType::Tunnel_Type:
            case AttributeType::Tunnel_Medium_Type:
            case AttributeType::Tunnel_Client_Endpoint:
            case AttributeType::Tunnel_Server_Endpoint:
            case AttributeType::Tunnel_Password:
            case AttributeType::Tunnel_Assignment_Id:
            case AttributeType::Tunnel_Preference:
            case AttributeType::Tunnel_Client_Auth_Id:
            case AttributeType::Tunnel_Server_Auth_Id: break;
            default: continue;
        }
        const AttributeFormat f = builtin_format(0, a.type());
        const std::uint8_t tag = a.tag(f);
        if (tag > 0x1F) {
            const AttributeSpec* spec = builtin_attribute(0, a.type());
            out.problems.push_back(std::string(spec->name) + ": tag " + std::to_string(tag) + " out of range 0..31");
            continue;
        }
        TaggedTunnel& t = by_tag[tag];
        t.tag = tag;
        switch (type) {
            case AttributeType::Tunnel_Type: t.type = a.as_integer(f).value_or(0); break;
            case AttributeType::Tunnel_Medium_Type: t.medium = a.as_integer(f).value_or(0); break;
            case AttributeType::Tunnel_Client_Endpoint: t.client_endpoint = a.as_string(f); break;
            case AttributeType::Tunnel_Server_Endpoint: t.server_endpoint = a.as_string(f); break;
            case AttributeType::Tunnel_Password:
                try {
                    t.password = decrypt_tunnel_password(a.payload(f), secret, request_auth);
                } catch (const proto::ParseError& e) {
                    t.password_undecryptable = true;
                    out.problems.push_back("tag " + std::to_string(tag) + ": Tunnel-Password cannot be decrypted: " +
                                           e.what());
                }
                break;
            case AttributeType::Tunnel_Assignment_Id: t.assignment_id = a.as_string(f); break;
            case AttributeType::Tunnel_Preference: t.preference = a.as_integer(f); break;
            case AttributeType::Tunnel_Client_Auth_Id: t.client_auth_id = a.as_string(f); break;
            case AttributeType::Tunnel_Server_Auth_Id: t.server_auth_id = a.as_string(f); break;
            default: break;
        }
    }
    for (auto& [tag, t] : by_tag) out.tunnels.push_back(std::move(t));
    return out;
}

}  // namespace dl::radius
