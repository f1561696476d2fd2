// ScriptedL2tp: a scripted L2TP endpoint for conformance tests ("scripted LAC" / "scripted LNS").
// It sends any message (malformed included) on a UDP socket with automatic Ns/Nr, and expects
// messages with matchers and a deadline, acknowledging with ZLBs (RFC 2661 §5.8) if asked.
// Deliberately NOT a protocol engine: no FSM, no retransmission; the test script is the FSM.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <pybind11/stl.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <system_error>

#include "common.hpp"
#include "datagram.hpp"

#include "dl/l2tp/builders.hpp"
#include "dl/l2tp/l2tp.hpp"
#include "dl/proto/errors.hpp"

namespace dl::py_bind {

using dl::l2tp::L2TP;

namespace {

PyObject* g_expect_timeout = nullptr;

std::string summary(const L2TP& m) {
    std::string name = m.is_data() ? "data" : m.is_zlb() ? "ZLB"
                                                         : std::string(dl::l2tp::message_name(m.message_type().value_or(0)));
    std::string s = name + " tunnel " + std::to_string(m.tunnel_id()) + " session " + std::to_string(m.session_id());
    if (m.has_sequence()) s += " Ns " + std::to_string(m.ns()) + " Nr " + std::to_string(m.nr());
    return s;
}

/// One received datagram: the parsed message, or the parse error.
struct Arrival {
    double time = 0;  // seconds since the endpoint was created
    std::optional<L2TP> message;
    std::string error;
    std::string text() const {
        char t[32];
        std::snprintf(t, sizeof t, "+%.3fs ", time);
        return t + (message ? summary(*message) : "malformed: " + error);
    }
};

}  // namespace

/// See the class docstring in init_endpoint().
class ScriptedL2tp {
public:
    ScriptedL2tp(py::object sock, py::object peer, bool auto_ack, std::uint16_t peer_tunnel_id)
        : peer_tunnel_id_(peer_tunnel_id), auto_ack_(auto_ack), sock_(std::move(sock)),
          start_(std::chrono::steady_clock::now()) {
        fd_ = py::hasattr(sock_, "fileno") ? sock_.attr("fileno")().cast<int>() : sock_.cast<int>();
        if (!peer.is_none()) set_peer(peer.cast<std::pair<std::string, std::uint16_t>>());
    }

    void set_peer(const std::pair<std::string, std::uint16_t>& p) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(p.second);
        if (inet_pton(AF_INET, p.first.c_str(), &a.sin_addr) != 1) throw py::value_error("peer: not an IPv4 address: " + p.first);
        peer_ = a;
    }
    py::object peer() const {
        if (!peer_) return py::none();
        char buf[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &peer_->sin_addr, buf, sizeof buf);
        return py::make_tuple(std::string(buf), ntohs(peer_->sin_port));
    }

    /// Sends `msg`: with auto_seq, Ns/Nr are the endpoint's (Ns advances for non-ZLB control
    /// messages, RFC 2661 §5.8); with fill_tunnel_id, a zero Tunnel ID becomes the peer's Assigned
    /// Tunnel ID once known. Returns the bytes sent (the message object is updated too).
    py::bytes send(L2TP& msg, bool auto_seq, bool fill_tunnel_id) {
        if (fill_tunnel_id && msg.tunnel_id() == 0 && peer_tunnel_id_ != 0) msg.set_tunnel_id(peer_tunnel_id_);
        if (msg.is_control() && auto_seq) {
            msg.set_sequence(ns_, nr_);
            if (!msg.is_zlb()) ++ns_;
        }
        if (auto t = msg.assigned_tunnel_id(); t && msg.is_control()) local_tunnel_id_ = *t;
        auto bytes = msg.serialize();
        send_bytes(bytes);
        return to_bytes(bytes);
    }

    void send_bytes(std::span<const std::uint8_t> b) {
        if (!peer_) throw std::runtime_error("ScriptedL2tp: no peer address yet (give peer= or expect() a message first)");
        if (const int err = send_datagram(fd_, b, *peer_); err != 0)
            throw std::system_error(err, std::generic_category(), "ScriptedL2tp sendto");
    }

    /// Waits up to `within` seconds for a message matching `matcher` (message name such as
    /// "OCRP", "ZLB", "data", "any"; a Message Type number; or a callable(L2TP) -> bool). Messages
    /// that arrived earlier and were not taken are looked at first, in order. Raises ExpectTimeout
    /// listing what arrived.
    L2TP expect(const py::object& matcher, double within) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(within);
        for (auto it = backlog_.begin(); it != backlog_.end(); ++it) {
            if (matches(matcher, *it)) {
                L2TP m = *it;
                backlog_.erase(it);
                return m;
            }
        }
        std::vector<std::string> seen;
        for (const auto& m : backlog_) seen.push_back("(earlier) " + summary(m));
        while (true) {
            auto now = std::chrono::steady_clock::now();
            if (now >= deadline) break;
            auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
            std::optional<Arrival> a = receive_one(static_cast<int>(ms) + 1);
            if (!a) continue;
            seen.push_back(a->text());
            if (!a->message) continue;
            if (matches(matcher, *a->message)) return *a->message;
            backlog_.push_back(*a->message);
            if (backlog_.size() > 1000) backlog_.pop_front();
        }
        std::string what = "no L2TP message matching " + std::string(py::repr(matcher)) + " within " +
                           std::to_string(within) + " s; arrived: ";
        if (seen.empty()) what += "nothing";
        for (std::size_t i = 0; i < seen.size(); ++i) what += (i ? "; " : "") + seen[i];
        py::object exc = py::reinterpret_borrow<py::object>(g_expect_timeout)(what);
        exc.attr("arrived") = seen;
        PyErr_SetObject(g_expect_timeout, exc.ptr());
        throw py::error_already_set();
    }

    /// Receives for `within` seconds and returns everything that arrived (and the backlog).
    std::vector<L2TP> drain(double within) {
        std::vector<L2TP> out(backlog_.begin(), backlog_.end());
        backlog_.clear();
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(within);
        while (true) {
            auto now = std::chrono::steady_clock::now();
            if (now >= deadline && within > 0) break;
            auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
            auto a = receive_one(within > 0 ? static_cast<int>(ms) + 1 : 0);
            if (!a) {
                if (within <= 0) break;
                continue;
            }
            if (a->message) out.push_back(*a->message);
        }
        return out;
    }

    py::list history() const {
        py::list l;
        for (const auto& a : history_) l.append(a.text());
        return l;
    }

    std::uint16_t ns_ = 0;  // next Ns to send
    std::uint16_t nr_ = 0;  // next Ns expected from the peer
    std::uint16_t peer_tunnel_id_ = 0;
    std::uint16_t local_tunnel_id_ = 0;
    std::uint16_t peer_session_id_ = 0;
    std::uint64_t duplicates_ = 0;
    std::uint64_t out_of_order_ = 0;
    std::uint64_t malformed_ = 0;
    std::uint64_t acks_sent_ = 0;
    bool auto_ack_;

private:
    static bool matches(const py::object& matcher, const L2TP& m) {
        if (py::isinstance<py::str>(matcher)) {
            auto want = normalise_name(matcher.cast<std::string>());
            if (want == "any") return true;
            if (want == "zlb") return m.is_zlb();
            if (want == "data") return m.is_data();
            if (!m.is_control() || m.is_zlb()) return false;
            return normalise_name(dl::l2tp::message_name(m.message_type().value_or(0))) == want;
        }
        if (py::isinstance<py::int_>(matcher)) return m.is_control() && m.message_type() == matcher.cast<std::uint16_t>();
        if (PyCallable_Check(matcher.ptr())) return matcher(py::cast(m)).cast<bool>();
        throw py::type_error("matcher: a message name, a Message Type number or a callable(L2TP) -> bool");
    }

    /// One datagram within `timeout_ms` (nullopt if none), with the §5.8 bookkeeping done.
    std::optional<Arrival> receive_one(int timeout_ms) {
        auto got = receive_datagram(fd_, timeout_ms, "ScriptedL2tp poll");
        if (!got) return std::nullopt;
        auto& buf = got->bytes;
        const sockaddr_in& from = got->from;
        if (!peer_) peer_ = from;  // a scripted LNS learns its LAC from the first datagram
        Arrival a;
        a.time = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        try {
            L2TP m(buf.data(), static_cast<std::uint32_t>(buf.size()));
            account(m);
            a.message = std::move(m);
        } catch (const dl::proto::ParseError& e) {
            ++malformed_;
            a.error = e.what();
        }
        history_.push_back(a);
        if (history_.size() > 10000) history_.pop_front();
        return a;
    }

    /// RFC 2661 §5.8: Nr advances on each in-order control message (not ZLBs); duplicates are
    /// acknowledged again; peer IDs are learnt from Assigned Tunnel / Session ID AVPs.
    void account(const L2TP& m) {
        if (!m.is_control()) return;
        if (auto t = m.assigned_tunnel_id()) peer_tunnel_id_ = *t;
        if (auto s = m.assigned_session_id()) peer_session_id_ = *s;
        if (m.is_zlb()) return;
        const auto diff = static_cast<std::int16_t>(static_cast<std::uint16_t>(m.ns() - nr_));
        if (diff == 0) ++nr_;
        else if (diff < 0) ++duplicates_;
        else ++out_of_order_;
        if (auto_ack_ && diff <= 0) {
            auto zlb = dl::l2tp::make_zlb(peer_tunnel_id_, 0, ns_, nr_);  // the peer's Tunnel ID (§3.1)
            auto b = zlb.serialize();
            send_bytes(b);
            ++acks_sent_;
        }
    }

    py::object sock_;  // keeps a Python socket object alive while we use its fd
    int fd_ = -1;
    std::optional<sockaddr_in> peer_;
    std::chrono::steady_clock::time_point start_;
    std::deque<L2TP> backlog_;
    std::deque<Arrival> history_;
};

void init_endpoint(py::module_& m) {
    g_expect_timeout = PyErr_NewExceptionWithDoc(
        "dlab._native.ExpectTimeout",
        "ScriptedL2tp.expect() saw no matching message in time. str() and .arrived list what did arrive.",
        PyExc_TimeoutError, nullptr);
    m.attr("ExpectTimeout") = py::handle(g_expect_timeout);

    py::class_<ScriptedL2tp>(m, "ScriptedL2tp", R"(A scripted L2TP endpoint over a UDP socket (the test script is its FSM).

ScriptedL2tp(sock, peer=None, auto_ack=True, peer_tunnel_id=0): sock is a socket object (or fd)
bound where the endpoint lives (e.g. dlab.netns.socket_in(ns) then bind); peer (host, port) or None
to learn it from the first datagram. send(msg) stamps Ns/Nr (RFC 2661 §5.8) and a zero Tunnel ID
with the peer's Assigned Tunnel ID; send_bytes(b) sends anything (malformed tests).
expect(matcher, within=2.0) returns the first L2TP message matching ('OCRP', 'ZLB', 'data', 'any',
a Message Type number, or a callable) or raises ExpectTimeout listing what arrived. With
auto_ack, each new or duplicate control message is acknowledged by a ZLB at once.)")
        .def(py::init<py::object, py::object, bool, std::uint16_t>(), py::arg("sock"), py::arg("peer") = py::none(),
             py::arg("auto_ack") = true, py::arg("peer_tunnel_id") = 0)
        .def("send", &ScriptedL2tp::send, py::arg("message"), py::arg("auto_seq") = true, py::arg("fill_tunnel_id") = true)
        .def("send_bytes", [](ScriptedL2tp& e, const py::handle& b) { auto v = bytes_of(b); e.send_bytes(v); }, py::arg("data"))
        .def("expect", &ScriptedL2tp::expect, py::arg("matcher") = "any", py::arg("within") = 2.0)
        .def("drain", &ScriptedL2tp::drain, py::arg("within") = 0.0,
             "Everything not yet taken, plus what arrives within `within` seconds.")
        .def("ack", [](ScriptedL2tp& e) {
            auto zlb = dl::l2tp::make_zlb(e.peer_tunnel_id_, 0, e.ns_, e.nr_);
            return e.send(zlb, false, false);
        }, "Sends a ZLB acknowledging everything received in order so far.")
        .def_property("peer", &ScriptedL2tp::peer, &ScriptedL2tp::set_peer)
        .def_readwrite("ns", &ScriptedL2tp::ns_, "Next Ns to send.")
        .def_readwrite("nr", &ScriptedL2tp::nr_, "Next Ns expected from the peer (sent as Nr).")
        .def_readwrite("peer_tunnel_id", &ScriptedL2tp::peer_tunnel_id_, "Peer's Assigned Tunnel ID (learnt).")
        .def_readwrite("local_tunnel_id", &ScriptedL2tp::local_tunnel_id_, "Our Assigned Tunnel ID (from what we sent).")
        .def_readwrite("peer_session_id", &ScriptedL2tp::peer_session_id_, "Last Assigned Session ID received.")
        .def_readwrite("auto_ack", &ScriptedL2tp::auto_ack_)
        .def_readonly("duplicates", &ScriptedL2tp::duplicates_)
        .def_readonly("out_of_order", &ScriptedL2tp::out_of_order_)
        .def_readonly("malformed", &ScriptedL2tp::malformed_)
        .def_readonly("acks_sent", &ScriptedL2tp::acks_sent_)
        .def_property_readonly("history", &ScriptedL2tp::history, "One line per datagram received (time, summary).");
}

}  // namespace dl::py_bind
