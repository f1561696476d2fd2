// Q.931-modelled signalling codec of the emulated ISDN exchange (see message.hpp).
#include "dl/isdn/message.hpp"

#include <fmt/format.h>

namespace dl::isdn {

namespace {
constexpr std::uint8_t kIeBearer = 0x04;
constexpr std::uint8_t kIeCause = 0x08;
constexpr std::uint8_t kIeCalling = 0x6C;
constexpr std::uint8_t kIeCalled = 0x70;
constexpr std::uint8_t kIeSubaddress = 0x71;
constexpr std::uint8_t kIeNumber = 0x7D;
constexpr std::uint8_t kIeSpeed = 0x7E;

bool known_type(std::uint8_t t) {
    switch (static_cast<MessageType>(t)) {
    case MessageType::alerting:
    case MessageType::setup:
    case MessageType::connect:
    case MessageType::connect_ack:
    case MessageType::release:
    case MessageType::release_complete:
    case MessageType::reg:
    case MessageType::registered:
    case MessageType::data:
        return true;
    }
    return false;
}

void put_digits(std::vector<std::uint8_t>& out, std::uint8_t id, const std::string& s, const char* what) {
    if (s.empty()) return;
    if (!valid_number(s)) throw std::invalid_argument(fmt::format("{} '{}' is not 1..32 digits 0-9 * #", what, s));
    out.push_back(id);
    out.push_back(static_cast<std::uint8_t>(s.size()));
    out.insert(out.end(), s.begin(), s.end());
}
}  // namespace

DecodeError::DecodeError(std::string field, std::string reason, std::size_t offset)
    : std::runtime_error(fmt::format("isdn: {}: {} (offset {}, Q.931 §4)", field, reason, offset)),
      field_(std::move(field)),
      reason_(std::move(reason)),
      offset_(offset) {}

std::string_view to_string(MessageType t) noexcept {
    switch (t) {
    case MessageType::alerting: return "ALERTING";
    case MessageType::setup: return "SETUP";
    case MessageType::connect: return "CONNECT";
    case MessageType::connect_ack: return "CONNECT ACKNOWLEDGE";
    case MessageType::release: return "RELEASE";
    case MessageType::release_complete: return "RELEASE COMPLETE";
    case MessageType::reg: return "REGISTER";
    case MessageType::registered: return "REGISTERED";
    case MessageType::data: return "DATA";
    }
    return "UNKNOWN";
}

std::string_view to_string(Bearer b) noexcept { return b == Bearer::digital ? "digital" : "analog"; }

bool valid_number(std::string_view s) noexcept {
    if (s.empty() || s.size() > Message::kMaxDigits) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || c == '*' || c == '#')) return false;
    return true;
}

std::vector<std::uint8_t> Message::encode() const {
    std::vector<std::uint8_t> out;
    out.reserve(16 + payload.size());
    out.push_back(static_cast<std::uint8_t>(type));
    out.push_back(static_cast<std::uint8_t>(call_ref >> 8));
    out.push_back(static_cast<std::uint8_t>(call_ref));
    if (type == MessageType::data) {
        if (payload.size() + 3 > kMaxDatagram) throw std::invalid_argument("isdn DATA payload exceeds 65532 octets");
        out.insert(out.end(), payload.begin(), payload.end());
        return out;
    }
    if (bearer) out.insert(out.end(), {kIeBearer, 1, static_cast<std::uint8_t>(*bearer)});
    if (cause) out.insert(out.end(), {kIeCause, 1, *cause});
    put_digits(out, kIeCalling, calling, "calling number");
    put_digits(out, kIeCalled, called, "called number");
    put_digits(out, kIeSubaddress, subaddress, "subaddress");
    if (speed)
        out.insert(out.end(), {kIeSpeed, 4, static_cast<std::uint8_t>(*speed >> 24),
                               static_cast<std::uint8_t>(*speed >> 16), static_cast<std::uint8_t>(*speed >> 8),
                               static_cast<std::uint8_t>(*speed)});
    if (numbers.size() > kMaxNumbers) throw std::invalid_argument("isdn REGISTER: more than 1024 numbers");
    for (const auto& n : numbers) put_digits(out, kIeNumber, n, "number");
    if (out.size() > kMaxDatagram) throw std::invalid_argument("isdn message exceeds 65535 octets");
    return out;
}

Message Message::decode(std::span<const std::uint8_t> b) {
    if (b.size() < 3) throw DecodeError("header", fmt::format("{} octets, need 3", b.size()), 0);
    if (!known_type(b[0])) throw DecodeError("message type", fmt::format("unknown type 0x{:02X}", b[0]), 0);
    Message m;
    m.type = static_cast<MessageType>(b[0]);
    m.call_ref = static_cast<std::uint16_t>((b[1] << 8) | b[2]);
    if (m.type == MessageType::data) {
        m.payload.assign(b.begin() + 3, b.end());
        return m;
    }
    std::size_t off = 3;
    std::uint32_t seen = 0;  // bit per IE kind
    while (off < b.size()) {
        if (b.size() - off < 2) throw DecodeError("ie header", "truncated information element", off);
        const std::uint8_t id = b[off];
        const std::size_t len = b[off + 1];
        if (len > b.size() - off - 2)
            throw DecodeError(fmt::format("ie 0x{:02X}.length", id),
                              fmt::format("length {} exceeds {} octets remaining", len, b.size() - off - 2), off + 1);
        const std::uint8_t* v = b.data() + off + 2;
        auto once = [&](int bit, const char* name) {
            if (seen & (1u << bit)) throw DecodeError(name, "repeated information element", off);
            seen |= 1u << bit;
        };
        auto digits = [&](const char* name) {
            std::string s(reinterpret_cast<const char*>(v), len);
            if (!valid_number(s)) throw DecodeError(name, "not 1..32 digits 0-9 * #", off);
            return s;
        };
        auto fixed = [&](const char* name, std::size_t want) {
            if (len != want) throw DecodeError(name, fmt::format("length {}, must be {}", len, want), off + 1);
        };
        switch (id) {
        case kIeBearer:
            once(0, "bearer capability");
            fixed("bearer capability", 1);
            if (v[0] > 1) throw DecodeError("bearer capability", fmt::format("unknown bearer {}", v[0]), off + 2);
            m.bearer = static_cast<Bearer>(v[0]);
            break;
        case kIeCause:
            once(1, "cause");
            fixed("cause", 1);
            m.cause = v[0];
            break;
        case kIeCalling:
            once(2, "calling party number");
            m.calling = digits("calling party number");
            break;
        case kIeCalled:
            once(3, "called party number");
            m.called = digits("called party number");
            break;
        case kIeSubaddress:
            once(4, "called party subaddress");
            m.subaddress = digits("called party subaddress");
            break;
        case kIeSpeed:
            once(5, "line speed");
            fixed("line speed", 4);
            m.speed = (std::uint32_t{v[0]} << 24) | (std::uint32_t{v[1]} << 16) | (std::uint32_t{v[2]} << 8) | v[3];
            break;
        case kIeNumber:
            if (m.numbers.size() >= kMaxNumbers) throw DecodeError("number", "more than 1024 numbers", off);
            m.numbers.push_back(digits("number"));
            break;
        default:
            // Q.931 §5.8.7.1: unrecognised information elements are ignored.
            break;
        }
        off += 2 + len;
    }
    return m;
}

std::string Message::describe() const {
    std::string s = fmt::format("{} ref=0x{:04X}", to_string(type), call_ref);
    if (!called.empty()) s += " called=" + called;
    if (!calling.empty()) s += " calling=" + calling;
    if (!subaddress.empty()) s += " subaddress=" + subaddress;
    if (bearer) s += fmt::format(" bearer={}", to_string(*bearer));
    if (speed) s += fmt::format(" speed={}", *speed);
    if (cause) s += fmt::format(" cause={}", *cause);
    if (!numbers.empty()) s += fmt::format(" numbers={}", numbers.size());
    if (type == MessageType::data) s += fmt::format(" bytes={}", payload.size());
    return s;
}

Message Message::setup(std::uint16_t ref, std::string called_number, std::string calling_number, Bearer b,
                       std::string sub, std::optional<std::uint32_t> spd) {
    Message m;
    m.type = MessageType::setup;
    m.call_ref = ref;
    m.called = std::move(called_number);
    m.calling = std::move(calling_number);
    m.bearer = b;
    m.subaddress = std::move(sub);
    m.speed = spd;
    return m;
}

Message Message::simple(MessageType t, std::uint16_t ref) {
    Message m;
    m.type = t;
    m.call_ref = ref;
    return m;
}

Message Message::connect(std::uint16_t ref, std::uint32_t spd) {
    Message m = simple(MessageType::connect, ref);
    m.speed = spd;
    return m;
}

Message Message::release(std::uint16_t ref, std::uint8_t cause_value) {
    Message m = simple(MessageType::release, ref);
    m.cause = cause_value;
    return m;
}

Message Message::data(std::uint16_t ref, std::span<const std::uint8_t> bytes) {
    Message m = simple(MessageType::data, ref);
    m.payload.assign(bytes.begin(), bytes.end());
    return m;
}

Message Message::reg(std::vector<std::string> nums) {
    Message m = simple(MessageType::reg, 0);
    m.numbers = std::move(nums);
    return m;
}

}  // namespace dl::isdn
