// The B-channel of one ISDN number relayed to a serial line: what a terminal adapter does between
// the exchange and a PPP router's async port. cpe-line uses it to put a third-party PPP peer
// (pppd on a UML guest's /dev/ttyS0) behind isdn-emu in place of cpe-emu's own PPP engine.
//
// The serial side always carries async HDLC-like framing (RFC 1662 §4). On a digital bearer the
// B-channel carries one synchronous frame per DATA datagram (RFC 1662 §5: Address, Control,
// frame, FCS), so the relay converts each frame between the two framings (async-to-synchronous
// conversion, RFC 1662 §4.5.1 / Appendix C: the FCS is checked on one side and recomputed on the
// other). On an analog bearer the B-channel already is the async byte stream and is relayed as is.
// Sans-I/O: bytes and signalling messages in, bytes and messages out through the two callbacks.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dl/isdn/message.hpp"
#include "dl/ppp/hdlc.hpp"

namespace dl::cpe {

/// Counters of a LineRelay (`show state` of cpe-line); every dropped octet or frame is counted.
struct LineCounters {
    std::uint64_t calls_answered = 0;   ///< SETUP for our number answered with CONNECT
    std::uint64_t calls_refused = 0;    ///< SETUP while a call is up (RELEASE 17 user busy)
    std::uint64_t calls_released = 0;   ///< calls ended by RELEASE / RELEASE COMPLETE
    std::uint64_t frames_to_line = 0;   ///< B-channel frames (digital) or chunks (analog) written
    std::uint64_t frames_from_line = 0; ///< frames (digital) or chunks (analog) sent as DATA
    std::uint64_t bad_sync_frames = 0;  ///< digital DATA whose FCS / header failed (RFC 1662 §4.3)
    std::uint64_t line_octets_idle = 0; ///< serial octets read while no call was up (discarded)
};

/// Relays one number's calls. State: idle (no call) or in a call (call reference, bearer).
class LineRelay {
public:
    using SendIsdn = std::function<void(const isdn::Message&)>;
    using WriteLine = std::function<void(std::span<const std::uint8_t>)>;

    /// `number`: the ISDN number answered (IA5 digits); `speed`: bit/s in CONNECT (0 = none);
    /// `mru`: the largest PPP Information field accepted from the line (RFC 1661 §6.1).
    LineRelay(std::string number, std::uint32_t speed, std::uint16_t mru, SendIsdn send_isdn,
              WriteLine write_line);

    /// Sends REGISTER for the number (after the exchange connection is up).
    void start();
    /// A signalling message from the exchange: SETUP → ALERTING + CONNECT (or RELEASE 17 busy
    /// while a call is up), DATA → the line, RELEASE → RELEASE COMPLETE and idle.
    void isdn_receive(const isdn::Message& m);
    /// Octets read from the serial line: relayed as DATA while a call is up, else discarded.
    void line_receive(std::span<const std::uint8_t> bytes);
    /// The relay releases its call (RELEASE with `cause`, Q.850); false when idle.
    bool hangup(std::uint8_t cause);

    bool in_call() const noexcept { return call_.has_value(); }
    std::optional<isdn::Bearer> bearer() const noexcept;
    const LineCounters& counters() const noexcept { return counters_; }
    const std::string& number() const noexcept { return number_; }

private:
    struct Call {
        std::uint16_t ref;
        isdn::Bearer bearer;
    };
    std::string number_;
    std::uint32_t speed_;
    SendIsdn send_isdn_;
    WriteLine write_line_;
    ppp::AsyncDeframer deframer_;
    std::optional<Call> call_;
    LineCounters counters_;
};

}  // namespace dl::cpe
