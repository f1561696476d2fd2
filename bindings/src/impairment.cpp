// dlab._native.ImpairmentRelay and TriggerInjector: the scenario engine's relay and injector
// (scenarios/engine) for the Python harness. Sockets come from Python (dlab.netns.socket_in), so
// the relay's thread and the injector's sends act inside the lab namespace the sockets were made in.
#include <pybind11/stl.h>

#include <chrono>
#include <cstdio>
#include <system_error>
#include <memory>
#include <optional>

#include "common.hpp"

#include "dl/core/clock.hpp"
#include "dl/proto/decode.hpp"
#include "dl/scenario/impairment.hpp"
#include "dl/scenario/relay.hpp"
#include "dl/scenario/trigger.hpp"

namespace dl::py_bind {

void init_impairment(py::module_& m);

namespace sc = dl::scenario;

namespace {

int fd_of(const py::object& sock) {
    return py::hasattr(sock, "fileno") ? sock.attr("fileno")().cast<int>() : sock.cast<int>();
}

sc::Action action_from(const std::string& s) {
    for (auto a : {sc::Action::drop, sc::Action::delay, sc::Action::duplicate, sc::Action::reorder})
        if (sc::to_string(a) == s) return a;
    throw py::value_error("impairment action '" + s + "' is not one of drop, delay, duplicate, reorder");
}

/// The relay with the objects it needs kept alive (Python sockets, the clock).
struct PyRelay {
    py::object listen_sock, upstream_sock;
    sc::Duration default_hold{};
    std::unique_ptr<core::SystemClock> clock = std::make_unique<core::SystemClock>();
    std::unique_ptr<sc::UdpRelay> relay;
};

py::list rules_of(sc::UdpRelay& r) {
    return r.with_engine([](sc::ImpairmentEngine& e) {
        py::list l;
        for (std::size_t i = 0; i < e.rules().size(); ++i) {
            const auto& rule = e.rules()[i];
            py::dict d;
            d["name"] = rule.name;
            d["action"] = std::string(sc::to_string(rule.action));
            d["matched"] = e.counters()[i].matched;
            d["applied"] = e.counters()[i].applied;
            l.append(d);
        }
        return l;
    });
}

}  // namespace

void init_impairment(py::module_& m) {
    py::class_<PyRelay>(m, "ImpairmentRelay", R"(A UDP relay that drops, delays, duplicates or reorders datagrams by rule.

ImpairmentRelay(listen_sock, upstream_sock, peer): listen_sock is a bound UDP socket on the address the
client (e.g. lnsd) sends to; upstream_sock a bound UDP socket the relay forwards from; peer =
(address, port) of the real peer (lac-emu, FreeRADIUS). Make both with dlab.netns.socket_in(ns) so the
relay works inside that lab namespace. Datagrams from the client go to the peer ("forward"), the
peer's go back to the last client from listen_sock ("reverse"), so the client sees the relay's
address as its peer. start() runs it on a background thread (Boost.Asio; the GIL is not needed),
stop() ends it (also on `with` exit and on garbage collection).

add_rule(name, action, *, protocol="", message="", direction=None, port=None, nth=None, every=None,
probability=None, seed=0, delay=0.0, hold=1.0): action "drop" | "delay" | "duplicate" | "reorder";
protocol "l2tp" | "radius-auth" | ... and message "OCRQ" | "ZLB" | "data" | "Access-Request" | ...
(case-insensitive; "" = any) pick the datagrams (classified with proto/decode); direction "forward" |
"reverse"; port: either UDP port. nth=N acts on the N-th match only, every=K on every K-th,
probability=P on each with probability P (std::mt19937_64 seeded with seed: reproducible); none of
them: every match. delay / hold in seconds (reorder holds a datagram until the next one in its
direction, at most `hold`). Rules apply in order, the first that selects a datagram acts. Rules may
be added while the relay runs. ValueError for a bad rule (naming it).

rules: [{name, action, matched, applied}], counters: {rx_forward, rx_reverse, tx_forward, tx_reverse,
tx_errors, no_client, foreign, received, pending}, history: ["+0.012s forward l2tp OCRQ: dropped by r"].)")
        .def(py::init([](py::object listen_sock, py::object upstream_sock, std::pair<std::string, std::uint16_t> peer) {
                 auto p = std::make_unique<PyRelay>();
                 p->listen_sock = listen_sock;
                 p->upstream_sock = upstream_sock;
                 try {
                     p->relay = std::make_unique<sc::UdpRelay>(fd_of(listen_sock), fd_of(upstream_sock), peer.first,
                                                               peer.second, *p->clock);
                 } catch (const std::invalid_argument& e) {
                     throw py::value_error(e.what());
                 }
                 return p;
             }),
             py::arg("listen_sock"), py::arg("upstream_sock"), py::arg("peer"))
        .def("add_rule",
             [](PyRelay& p, std::string name, const std::string& action, const std::string& protocol,
                const std::string& message, std::optional<std::string> direction, std::optional<std::uint16_t> port,
                std::optional<std::uint64_t> nth, std::optional<std::uint64_t> every, std::optional<double> probability,
                std::uint64_t seed, double delay, double hold) {
                 sc::Rule r;
                 r.name = std::move(name);
                 r.action = action_from(action);
                 r.match.protocol = protocol;
                 r.match.message = message;
                 if (direction) {
                     if (*direction == "forward") r.match.direction = sc::Direction::forward;
                     else if (*direction == "reverse") r.match.direction = sc::Direction::reverse;
                     else throw py::value_error("impairment rule '" + r.name + "': direction '" + *direction +
                                                "' is not forward or reverse");
                 }
                 r.match.port = port;
                 if ((nth ? 1 : 0) + (every ? 1 : 0) + (probability ? 1 : 0) > 1)
                     throw py::value_error("impairment rule '" + r.name + "': give at most one of nth, every, probability");
                 if (nth) r.select = {sc::Select::Kind::nth, *nth, 1.0, seed};
                 if (every) r.select = {sc::Select::Kind::every, *every, 1.0, seed};
                 if (probability) r.select = {sc::Select::Kind::probability, 1, *probability, seed};
                 if (delay < 0 || hold < 0) throw py::value_error("impairment rule '" + r.name + "': delay and hold must be >= 0 seconds");
                 r.delay = std::chrono::duration_cast<sc::Duration>(std::chrono::duration<double>(delay));
                 r.hold = std::chrono::duration_cast<sc::Duration>(std::chrono::duration<double>(hold));
                 try {
                     p.relay->with_engine([&](sc::ImpairmentEngine& e) { e.add_rule(std::move(r)); });
                 } catch (const std::invalid_argument& e) {
                     throw py::value_error(e.what());
                 }
             },
             py::arg("name"), py::arg("action"), py::kw_only(), py::arg("protocol") = "", py::arg("message") = "",
             py::arg("direction") = py::none(), py::arg("port") = py::none(), py::arg("nth") = py::none(),
             py::arg("every") = py::none(), py::arg("probability") = py::none(), py::arg("seed") = 0,
             py::arg("delay") = 0.0, py::arg("hold") = 1.0)
        .def("clear_rules", [](PyRelay& p) { p.relay->with_engine([](sc::ImpairmentEngine& e) { e.clear_rules(); }); })
        .def("start", [](PyRelay& p) { p.relay->start(); })
        .def("stop", [](PyRelay& p) {
            py::gil_scoped_release nogil;
            p.relay->stop();
        })
        .def_property_readonly("running", [](PyRelay& p) { return p.relay->running(); })
        .def("__enter__", [](py::object self) {
            self.cast<PyRelay&>().relay->start();
            return self;
        })
        .def("__exit__", [](PyRelay& p, py::args) {
            py::gil_scoped_release nogil;
            p.relay->stop();
        })
        .def_property_readonly("rules", [](PyRelay& p) { return rules_of(*p.relay); })
        .def_property_readonly("counters", [](PyRelay& p) {
            const auto c = p.relay->counters();
            py::dict d;
            d["rx_forward"] = c.rx_forward;
            d["rx_reverse"] = c.rx_reverse;
            d["tx_forward"] = c.tx_forward;
            d["tx_reverse"] = c.tx_reverse;
            d["tx_errors"] = c.tx_errors;
            d["no_client"] = c.no_client;
            d["foreign"] = c.foreign;
            p.relay->with_engine([&](sc::ImpairmentEngine& e) {
                d["received"] = e.received();
                d["pending"] = e.pending();
            });
            return d;
        })
        .def_property_readonly("history", [](PyRelay& p) {
            return p.relay->with_engine([](sc::ImpairmentEngine& e) {
                py::list l;
                const auto t0 = e.history().empty() ? sc::TimePoint{} : e.history().front().at;
                for (const auto& h : e.history()) {
                    char t[32];
                    std::snprintf(t, sizeof t, "+%.3fs ", std::chrono::duration<double>(h.at - t0).count());
                    l.append(std::string(t) + std::string(sc::to_string(h.dir)) + " " + h.what + ": " + h.outcome);
                }
                return l;
            });
        });

    m.def("impairment_classify", [](std::uint16_t sport, std::uint16_t dport, const py::object& payload) {
        const auto c = sc::classify(sport, dport, bytes_of(payload));
        return std::make_pair(c.protocol, c.message);
    }, py::arg("sport"), py::arg("dport"), py::arg("payload"),
          "(protocol, message) of one UDP payload as the relay's rules see it, e.g. ('l2tp', 'OCRQ').");

    struct PyInjector {
        py::object sock;
        std::string mac;
        std::uint64_t sent = 0;
    };
    py::class_<PyInjector>(m, "TriggerInjector", R"(Crafts IPv4 packets with libtins and sends them from a lab host.

TriggerInjector(sock, next_hop_mac=""): sock is either socket_in(ns, AF_INET, SOCK_RAW, IPPROTO_RAW)
(the kernel routes each packet by its destination and fixes checksum and total length: well-formed
triggers) or socket_in(ns, AF_PACKET, SOCK_DGRAM, htons(0x0800)) bound to (ifname, 0x0800) with
next_hop_mac "aa:bb:cc:dd:ee:ff" (the octets go out unchanged: malformed triggers). send(packet)
returns the octets sent (OSError on failure). Static builders: udp(src, dst, sport, dport, payload=b"",
ttl=64, id=1), icmp_echo(src, dst, ident=1, seq=1, payload=b""), tcp_syn(src, dst, sport, dport,
isn=1), rewrite(packet, src, dst) (a captured IPv4 packet moved to other addresses, checksums
recomputed: dl::proto::rewrite_ipv4) and malform(packet, "bad-ihl" | "truncated" | "bad-checksum")
return bytes.)")
        .def(py::init([](py::object sock, std::string mac) { return PyInjector{std::move(sock), std::move(mac), 0}; }),
             py::arg("sock"), py::arg("next_hop_mac") = "")
        .def("send", [](PyInjector& self, const py::object& packet) {
            const auto b = bytes_of(packet);
            std::size_t n = 0;
            try {
                n = sc::send_ipv4(fd_of(self.sock), b, self.mac);
            } catch (const std::system_error& e) {
                PyErr_SetObject(PyExc_OSError, py::make_tuple(e.code().value(), e.what()).ptr());
                throw py::error_already_set();
            } catch (const std::invalid_argument& e) {
                throw py::value_error(e.what());
            }
            ++self.sent;
            return n;
        }, py::arg("packet"))
        .def_readonly("sent", &PyInjector::sent)
        .def_static("udp", [](const std::string& src, const std::string& dst, std::uint16_t sport, std::uint16_t dport,
                              const py::object& payload, std::uint8_t ttl, std::uint16_t id) {
            try {
                return to_bytes(sc::craft_udp({src, dst, ttl, id}, sport, dport, bytes_of(payload)));
            } catch (const std::invalid_argument& e) { throw py::value_error(e.what()); }
        }, py::arg("src"), py::arg("dst"), py::arg("sport"), py::arg("dport"), py::arg("payload") = py::bytes(),
           py::arg("ttl") = 64, py::arg("id") = 1)
        .def_static("icmp_echo", [](const std::string& src, const std::string& dst, std::uint16_t ident, std::uint16_t seq,
                                    const py::object& payload) {
            try {
                return to_bytes(sc::craft_icmp_echo({src, dst}, ident, seq, bytes_of(payload)));
            } catch (const std::invalid_argument& e) { throw py::value_error(e.what()); }
        }, py::arg("src"), py::arg("dst"), py::arg("ident") = 1, py::arg("seq") = 1, py::arg("payload") = py::bytes())
        .def_static("tcp_syn", [](const std::string& src, const std::string& dst, std::uint16_t sport, std::uint16_t dport,
                                  std::uint32_t isn) {
            try {
                return to_bytes(sc::craft_tcp_syn({src, dst}, sport, dport, isn));
            } catch (const std::invalid_argument& e) { throw py::value_error(e.what()); }
        }, py::arg("src"), py::arg("dst"), py::arg("sport"), py::arg("dport"), py::arg("isn") = 1)
        .def_static("rewrite", [](const py::object& packet, const std::string& src, const std::string& dst) {
            try {
                return to_bytes(dl::proto::rewrite_ipv4(bytes_of(packet), src, dst));
            } catch (const std::invalid_argument& e) { throw py::value_error(e.what()); }
        }, py::arg("packet"), py::arg("src"), py::arg("dst"))
        .def_static("malform", [](const py::object& packet, const std::string& kind) {
            try {
                return to_bytes(sc::malform(bytes_of(packet), sc::malformation_from_string(kind)));
            } catch (const std::invalid_argument& e) { throw py::value_error(e.what()); }
        }, py::arg("packet"), py::arg("kind"));
}

}  // namespace dl::py_bind
