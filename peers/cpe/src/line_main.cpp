// cpe-line: one ISDN number of isdn-emu relayed to a serial line (dl::cpe::LineRelay), so a PPP
// implementation we did not write — pppd on a user-mode Linux guest's /dev/ttyS0 — answers the
// dial-out in place of cpe-emu. The serial line is an inherited file descriptor (one end of a
// socketpair whose other end is the guest's `ssl0=fd:N`).
//
//   cpe-line --isdn SOCK --number 5551001 --line-fd 3 [--speed 64000] [--control CTL]
//
// Control API: `show state` (number, in_call, bearer, counters), `hangup {cause: 16}`.
#include <unistd.h>

#include <array>
#include <iostream>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/write.hpp>

#include "dl/core/control.hpp"
#include "dl/core/daemon.hpp"
#include "dl/core/errors.hpp"
#include "dl/cpe/line_relay.hpp"
#include "dl/isdn/unix_link.hpp"

namespace {
constexpr const char* kUsage =
    "usage: cpe-line --isdn SOCK --number DIGITS --line-fd FD [--speed BPS] [--control PATH]\n";

/// Reads the serial line until EOF or an error, handing every chunk to `on_bytes`.
struct LineReader {
    boost::asio::posix::stream_descriptor& fd;
    std::function<void(std::span<const std::uint8_t>)> on_bytes;
    std::array<std::uint8_t, 4096> buf{};
    void arm() {
        fd.async_read_some(boost::asio::buffer(buf), [this](const boost::system::error_code& ec, std::size_t n) {
            if (ec) return;   // the guest is gone: the relay stays, the lab stops us
            on_bytes(std::span<const std::uint8_t>(buf.data(), n));
            arm();
        });
    }
};
}  // namespace

int main(int argc, char** argv) {
    std::string isdn_path, number, control_path;
    int line_fd = -1;
    std::uint32_t speed = 64000;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc) {
            std::cerr << kUsage;
            return 2;
        }
        const std::string v = argv[++i];
        try {
            if (a == "--isdn") isdn_path = v;
            else if (a == "--number") number = v;
            else if (a == "--line-fd") line_fd = std::stoi(v);
            else if (a == "--speed") speed = static_cast<std::uint32_t>(std::stoul(v));
            else if (a == "--control") control_path = v;
            else {
                std::cerr << kUsage;
                return 2;
            }
        } catch (const std::exception&) {
            std::cerr << "cpe-line: " << a << ": '" << v << "' is not a number\n";
            return 2;
        }
    }
    if (isdn_path.empty() || !dl::isdn::valid_number(number) || line_fd < 0) {
        std::cerr << kUsage;
        return 2;
    }
    try {
        dl::core::DaemonShell shell("cpe-line");
        boost::asio::posix::stream_descriptor line(shell.io, ::dup(line_fd));
        ::close(line_fd);
        std::optional<dl::isdn::SeqPacketClient> isdn;
        // Writes are synchronous: the socketpair to the guest drains at line speed and a frame is
        // at most 2*(MRU+6)+2 octets, so a blocking write of one frame is bounded.
        dl::cpe::LineRelay relay(
            number, speed, 16384,
            [&](const dl::isdn::Message& m) {
                if (isdn && isdn->connected()) isdn->send(m.encode());
            },
            [&](std::span<const std::uint8_t> bytes) {
                boost::system::error_code ec;
                boost::asio::write(line, boost::asio::buffer(bytes.data(), bytes.size()), ec);
            });
        LineReader reader{line, [&](std::span<const std::uint8_t> b) { relay.line_receive(b); }};
        isdn.emplace(shell.io, dl::isdn::SeqPacketClient::Handlers{
                                   [&](std::span<const std::uint8_t> d) {
                                       try {
                                           relay.isdn_receive(dl::isdn::Message::decode(d));
                                       } catch (const dl::isdn::DecodeError& e) {
                                           shell.bus.publish({.entity = "cpe.line", .event = "malformed", .cause = e.what()});
                                       }
                                   },
                                   [&] { shell.bus.publish({.entity = "cpe.line", .event = "isdn-down"}); }});
        isdn->connect(isdn_path);
        relay.start();
        reader.arm();
        if (auto* control = shell.open_control(control_path)) {
            control->add_handler("show state", [&](const nlohmann::json&) {
                const auto& c = relay.counters();
                const auto b = relay.bearer();
                return nlohmann::json{
                    {"number", relay.number()}, {"in_call", relay.in_call()},
                    {"bearer", b ? std::string(dl::isdn::to_string(*b)) : std::string()},
                    {"counters", {{"calls_answered", c.calls_answered}, {"calls_refused", c.calls_refused},
                                  {"calls_released", c.calls_released}, {"frames_to_line", c.frames_to_line},
                                  {"frames_from_line", c.frames_from_line}, {"bad_sync_frames", c.bad_sync_frames},
                                  {"line_octets_idle", c.line_octets_idle}}}};
            }, "the relayed number, its call and counters");
            control->add_handler("hangup", [&](const nlohmann::json& a) {
                const int c = a.value("cause", 16);
                if (c < 1 || c > 127) throw dl::core::ControlError("cause must be 1..127");
                if (!relay.hangup(static_cast<std::uint8_t>(c))) throw dl::core::ControlError("no call");
                return nlohmann::json{{"released", true}, {"cause", c}};
            }, "{cause: 16}: release the call with this Q.850 cause");
            control->start();
        }
        return shell.run();
    } catch (const std::exception& e) {
        std::cerr << "cpe-line: " << e.what() << "\n";
        return 1;
    }
}
