#include "dl/cpe/line_relay.hpp"

#include "dl/proto/errors.hpp"

namespace dl::cpe {

using isdn::Message;
using isdn::MessageType;

LineRelay::LineRelay(std::string number, std::uint32_t speed, std::uint16_t mru, SendIsdn send_isdn,
                     WriteLine write_line)
    : number_(std::move(number)),
      speed_(speed),
      send_isdn_(std::move(send_isdn)),
      write_line_(std::move(write_line)),
      deframer_(ppp::DeframerOptions{.accm = ppp::kDefaultAccm, .fcs32 = false, .mru = mru}) {}

void LineRelay::start() { send_isdn_(Message::reg({number_})); }

std::optional<isdn::Bearer> LineRelay::bearer() const noexcept {
    if (!call_) return std::nullopt;
    return call_->bearer;
}

void LineRelay::isdn_receive(const Message& m) {
    switch (m.type) {
    case MessageType::setup: {
        if (m.called != number_) {
            send_isdn_(Message::release(m.call_ref, isdn::cause::unallocated_number));
            return;
        }
        if (call_) {
            ++counters_.calls_refused;
            send_isdn_(Message::release(m.call_ref, isdn::cause::user_busy));
            return;
        }
        call_ = Call{m.call_ref, m.bearer.value_or(isdn::Bearer::digital)};
        deframer_.reset();
        ++counters_.calls_answered;
        send_isdn_(Message::simple(MessageType::alerting, m.call_ref));
        Message conn = Message::simple(MessageType::connect, m.call_ref);
        if (speed_) conn.speed = speed_;
        send_isdn_(conn);
        return;
    }
    case MessageType::release:
    case MessageType::release_complete:
        if (!call_ || call_->ref != m.call_ref) return;
        if (m.type == MessageType::release) send_isdn_(Message::simple(MessageType::release_complete, m.call_ref));
        call_.reset();
        ++counters_.calls_released;
        return;
    case MessageType::data: {
        if (!call_ || call_->ref != m.call_ref) return;
        if (call_->bearer == isdn::Bearer::analog) {
            ++counters_.frames_to_line;
            write_line_(m.payload);
            return;
        }
        try {
            const auto frame = ppp::decode_sync(m.payload);
            ++counters_.frames_to_line;
            write_line_(ppp::encode_async(frame));   // default ACCM: every control octet escaped
        } catch (const proto::ParseError&) {
            ++counters_.bad_sync_frames;
        }
        return;
    }
    default: return;
    }
}

void LineRelay::line_receive(std::span<const std::uint8_t> bytes) {
    if (!call_) {
        counters_.line_octets_idle += bytes.size();
        return;
    }
    if (call_->bearer == isdn::Bearer::analog) {
        ++counters_.frames_from_line;
        send_isdn_(Message::data(call_->ref, bytes));
        return;
    }
    while (auto frame = deframer_.next(bytes)) {
        ++counters_.frames_from_line;
        send_isdn_(Message::data(call_->ref, ppp::encode_sync(*frame)));
    }
}

bool LineRelay::hangup(std::uint8_t cause) {
    if (!call_) return false;
    send_isdn_(Message::release(call_->ref, cause));
    call_.reset();
    ++counters_.calls_released;
    return true;
}

}  // namespace dl::cpe
