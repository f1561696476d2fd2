// ScriptedRadius: a scripted RADIUS server for tests ("scripted_radius" fixture). Each request that
// arrives on a UDP socket is parsed, checked (RFC 3579 §3.2 Message-Authenticator, RFC 2866 §3
// Request Authenticator) and handed to a Python function; what the function returns decides the
// answer: a Radius packet (signed here, RFC 2865 §3), None (drop), or a RadiusReply adding a delay,
// a spoofed (wrong) Response Authenticator, another Identifier or raw bytes. Deliberately NOT a
// RADIUS server implementation: no users, no policy; the test's function is the policy.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <pybind11/stl.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <optional>
#include <system_error>

#include "common.hpp"
#include "datagram.hpp"

#include "dl/proto/errors.hpp"
#include "dl/radius/auth.hpp"
#include "dl/radius/radius.hpp"

namespace dl::py_bind {

using dl::radius::Radius;
using Clock = std::chrono::steady_clock;

/// What a handler may return instead of a bare packet (see the class docstring).
struct RadiusReply {
    std::optional<Radius> packet;
    double delay = 0.0;                       // seconds before sending
    bool spoof = false;                       // corrupt the Response Authenticator after signing
    bool sign = true;                         // sign_response() with the server's secret
    bool message_authenticator = true;        // add one to an Access-Accept/-Reject/-Challenge (RFC 3579 §3.2)
    std::optional<std::uint8_t> identifier;   // default: the request's Identifier
    std::optional<std::vector<std::uint8_t>> raw;  // send these octets as they are (malformed tests)
};

namespace {

std::string endpoint_text(const sockaddr_in& a) {
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a.sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(ntohs(a.sin_port));
}

std::string verdict_text(dl::radius::Verdict v) {
    switch (v) {
    case dl::radius::Verdict::ok: return "ok";
    case dl::radius::Verdict::bad_authenticator: return "bad_authenticator";
    case dl::radius::Verdict::bad_message_authenticator: return "bad_message_authenticator";
    case dl::radius::Verdict::malformed: return "malformed";
    }
    return "malformed";
}

}  // namespace

/// See the class docstring in init_scripted_radius().
class ScriptedRadius {
public:
    ScriptedRadius(py::object sock, std::string secret, py::object handler, bool drop_unverified)
        : secret_(std::move(secret)), handler_(std::move(handler)), drop_unverified_(drop_unverified),
          sock_(std::move(sock)), start_(Clock::now()) {
        fd_ = py::hasattr(sock_, "fileno") ? sock_.attr("fileno")().cast<int>() : sock_.cast<int>();
    }

    /// Serves for `within` seconds (0: only what is already queued or due); returns the number of
    /// requests handled. The GIL is released while waiting, so other Python threads run.
    int serve(double within) {
        const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(within));
        int handled = 0;
        while (true) {
            send_due();
            auto now = Clock::now();
            auto until = deadline;
            if (!pending_.empty()) until = std::min(until, pending_.front().due);
            const int ms = now >= until ? 0
                                        : static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count()) + 1;
            if (receive_one(ms)) ++handled;
            if (Clock::now() >= deadline && !readable_now()) {
                send_due();
                return handled;
            }
        }
    }

    py::list requests() const {
        py::list l;
        for (const auto& r : requests_) l.append(py::cast(r));
        return l;
    }
    py::list history() const {
        py::list l;
        for (const auto& h : history_) l.append(h);
        return l;
    }
    std::size_t pending() const { return pending_.size(); }

    std::string secret_;
    py::object handler_;
    bool drop_unverified_;
    std::uint64_t sent_ = 0;
    std::uint64_t dropped_ = 0;
    std::uint64_t malformed_ = 0;
    std::uint64_t unverified_ = 0;
    std::uint64_t handler_errors_ = 0;
    std::uint64_t send_errors_ = 0;

private:
    struct Pending {
        Clock::time_point due;
        std::vector<std::uint8_t> bytes;
        sockaddr_in to{};
        std::string what;
    };

    double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

    void log(std::string line) {
        char t[32];
        std::snprintf(t, sizeof t, "+%.3fs ", seconds());
        history_.push_back(t + line);
        if (history_.size() > 10000) history_.pop_front();
    }

    bool readable_now() {
        pollfd p{fd_, POLLIN, 0};
        return ::poll(&p, 1, 0) > 0;
    }

    void send_due() {
        const auto now = Clock::now();
        while (!pending_.empty() && pending_.front().due <= now) {
            Pending p = std::move(pending_.front());
            pending_.pop_front();
            if (const int err = send_to(p.bytes, p.to); err != 0) {
                ++send_errors_;  // e.g. the NAS's address is gone: logged, serving goes on
                log("sending " + p.what + " to " + endpoint_text(p.to) + " failed: " + std::strerror(err));
            } else {
                log("sent " + p.what + " to " + endpoint_text(p.to));
            }
        }
    }

    /// 0, or the errno of a failed sendto.
    int send_to(const std::vector<std::uint8_t>& b, const sockaddr_in& to) {
        const int err = send_datagram(fd_, b, to);
        if (err == 0) ++sent_;
        return err;
    }

    /// One datagram within `timeout_ms`: parse, verify, ask the handler, queue the answer.
    bool receive_one(int timeout_ms) {
        auto got = receive_datagram(fd_, timeout_ms, "ScriptedRadius poll");
        if (!got) return false;
        const auto& buf = got->bytes;
        const sockaddr_in& from = got->from;
        std::optional<Radius> req;
        try {
            req.emplace(buf.data(), static_cast<std::uint32_t>(buf.size()));
        } catch (const dl::proto::ParseError& e) {
            ++malformed_;
            log("malformed datagram from " + endpoint_text(from) + ": " + e.what() + " (dropped)");
            return true;
        }
        const auto verdict = dl::radius::verify_request(buf, secret_);  // RFC 3579 §3.2, RFC 2866 §3
        std::string head = std::string(dl::radius::to_string(req->code())) + " id " + std::to_string(req->identifier()) +
                           " from " + endpoint_text(from);
        if (verdict != dl::radius::Verdict::ok) {
            ++unverified_;
            head += " (" + verdict_text(verdict) + ")";
            if (drop_unverified_) {  // RFC 2865 §3 / RFC 3579 §3.2: silently discard
                ++dropped_;
                log(head + ": dropped, does not verify with the secret");
                return true;
            }
        }
        requests_.push_back(*req);
        if (requests_.size() > 10000) requests_.pop_front();

        py::object out = py::none();
        if (!handler_.is_none()) {
            try {
                out = handler_(py::cast(*req));
            } catch (py::error_already_set& e) {
                ++handler_errors_;
                ++dropped_;
                log(head + ": handler raised " + std::string(e.what()) + " (dropped)");
                return true;
            }
        }
        RadiusReply r;
        if (out.is_none()) {
            ++dropped_;
            log(head + ": dropped");
            return true;
        }
        if (py::isinstance<Radius>(out)) r.packet = out.cast<Radius>();
        else if (py::isinstance<RadiusReply>(out)) r = out.cast<RadiusReply>();
        else {
            ++handler_errors_;
            ++dropped_;
            log(head + ": handler returned " + std::string(py::str(py::type::handle_of(out).attr("__name__"))) +
                ", not Radius / RadiusReply / None (dropped)");
            return true;
        }
        Pending p;
        p.to = from;
        p.due = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(std::max(0.0, r.delay)));
        if (r.raw) {
            p.bytes = *r.raw;
            p.what = "raw " + std::to_string(p.bytes.size()) + " octets";
        } else if (r.packet) {
            Radius resp = *r.packet;
            resp.identifier(r.identifier.value_or(req->identifier()));
            const auto code = resp.code();
            const bool access_reply = code == dl::radius::Code::Access_Accept || code == dl::radius::Code::Access_Reject ||
                                      code == dl::radius::Code::Access_Challenge;
            // What a BlastRADIUS-fixed server sends (CVE-2024-3596); message_authenticator=False
            // plays one that does not, which lnsd refuses by default.
            if (r.sign && r.message_authenticator && access_reply &&
                !resp.find(dl::radius::AttributeType::Message_Authenticator))
                dl::radius::add_message_authenticator(resp);
            if (r.sign) dl::radius::sign_response(resp, req->authenticator(), secret_);  // RFC 2865 §3
            p.bytes = resp.serialize();
            if (r.spoof) p.bytes[4] ^= 0xff;  // Response Authenticator starts at octet 4: now it cannot verify
            p.what = std::string(dl::radius::to_string(resp.code())) + " id " + std::to_string(resp.identifier()) +
                     (r.spoof ? " (spoofed authenticator)" : "") + (r.sign ? "" : " (unsigned)");
        } else {
            ++dropped_;
            log(head + ": dropped (RadiusReply without a packet)");
            return true;
        }
        char d[48] = "";
        if (r.delay > 0) std::snprintf(d, sizeof d, " after %.3fs", r.delay);
        log(head + ": answer " + p.what + d);
        // keep pending_ ordered by due time
        auto at = std::upper_bound(pending_.begin(), pending_.end(), p.due,
                                   [](Clock::time_point t, const Pending& q) { return t < q.due; });
        pending_.insert(at, std::move(p));
        return true;
    }

    py::object sock_;  // keeps the Python socket alive while we use its fd
    int fd_ = -1;
    Clock::time_point start_;
    std::deque<Radius> requests_;
    std::deque<std::string> history_;
    std::deque<Pending> pending_;
};

void init_scripted_radius(py::module_& m) {
    py::class_<RadiusReply>(m, "RadiusReply", R"(How ScriptedRadius answers one request (a handler's return value).

RadiusReply(packet=None, delay=0.0, spoof=False, sign=True, identifier=None, raw=None,
message_authenticator=True): packet is a Radius response (its Identifier becomes the request's
unless identifier= is given; it is signed with the server's secret and the request's Authenticator,
RFC 2865 §3, unless sign=False; an Access-Accept / -Reject / -Challenge gets a Message-Authenticator,
RFC 3579 §3.2, unless message_authenticator=False: a server without the BlastRADIUS fix); delay: seconds
before it is sent (other requests are served meanwhile); spoof: the Response Authenticator is
corrupted after signing, so a NAS must discard it; raw: octets sent as they are instead.)")
        .def(py::init([](py::object packet, double delay, bool spoof, bool sign, std::optional<std::uint8_t> identifier,
                         py::object raw, bool message_authenticator) {
                 RadiusReply r;
                 if (!packet.is_none()) r.packet = packet.cast<Radius>();
                 r.delay = delay;
                 r.spoof = spoof;
                 r.sign = sign;
                 r.message_authenticator = message_authenticator;
                 r.identifier = identifier;
                 if (!raw.is_none()) r.raw = bytes_of(raw);
                 if (!r.packet && !r.raw) throw py::value_error("RadiusReply needs packet= or raw= (return None to drop)");
                 if (delay < 0) throw py::value_error("RadiusReply delay must be >= 0 seconds");
                 return r;
             }),
             py::arg("packet") = py::none(), py::arg("delay") = 0.0, py::arg("spoof") = false, py::arg("sign") = true,
             py::arg("identifier") = py::none(), py::arg("raw") = py::none(), py::arg("message_authenticator") = true)
        .def_readonly("delay", &RadiusReply::delay)
        .def_readonly("spoof", &RadiusReply::spoof)
        .def_readonly("sign", &RadiusReply::sign)
        .def_readonly("message_authenticator", &RadiusReply::message_authenticator)
        .def_property_readonly("packet", [](const RadiusReply& r) -> py::object {
            return r.packet ? py::cast(*r.packet) : py::none();
        });

    py::class_<ScriptedRadius>(m, "ScriptedRadius", R"(A scripted RADIUS server over a UDP socket (the test's function is its policy).

ScriptedRadius(sock, secret, handler=None, drop_unverified=True): sock is a bound UDP socket object
(or fd), e.g. dlab.netns.socket_in(ns) bound to (address, port). Each request is parsed (a malformed
datagram is logged and dropped), verified with `secret` (Message-Authenticator, RFC 3579 §3.2;
Accounting Request Authenticator, RFC 2866 §3; one that does not verify is dropped unless
drop_unverified=False) and passed to handler(request: Radius), which returns a Radius response
(signed here), a RadiusReply (delay, spoof, identifier, raw) or None (no answer). With handler=None
every request is dropped. serve(within) serves for `within` seconds and returns how many requests
it handled; delayed answers go out during later serve() calls. requests: the requests received,
history: one line per request / answer, pending: delayed answers not sent yet.)")
        .def(py::init<py::object, std::string, py::object, bool>(), py::arg("sock"), py::arg("secret"),
             py::arg("handler") = py::none(), py::arg("drop_unverified") = true)
        .def("serve", &ScriptedRadius::serve, py::arg("within") = 0.0)
        .def_readwrite("handler", &ScriptedRadius::handler_, "handler(request) -> Radius | RadiusReply | None.")
        .def_readwrite("secret", &ScriptedRadius::secret_)
        .def_readwrite("drop_unverified", &ScriptedRadius::drop_unverified_)
        .def_property_readonly("requests", &ScriptedRadius::requests, "Requests received (verified ones, or all).")
        .def_property_readonly("history", &ScriptedRadius::history, "One line per request and answer.")
        .def_property_readonly("pending", &ScriptedRadius::pending, "Delayed answers not sent yet.")
        .def_readonly("sent", &ScriptedRadius::sent_)
        .def_readonly("dropped", &ScriptedRadius::dropped_)
        .def_readonly("malformed", &ScriptedRadius::malformed_)
        .def_readonly("unverified", &ScriptedRadius::unverified_)
        .def_readonly("handler_errors", &ScriptedRadius::handler_errors_)
        .def_readonly("send_errors", &ScriptedRadius::send_errors_, "Answers whose sendto failed (logged in history).");
}

}  // namespace dl::py_bind
