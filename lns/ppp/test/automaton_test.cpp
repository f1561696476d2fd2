// RFC 1661 §4.1: every state × event cell of the table, read from the RFC text itself, is checked
// against the Automaton (next state, observable actions, restart counter for irc/zrc).
#include "dl/ppp/engine/automaton.hpp"
#include "dl/testing/counting_new.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "dl/core/event.hpp"
#include "dl/core/timer_registry.hpp"

#include <atomic>
#include <cstdlib>
#include <new>


using namespace dl::ppp;
using namespace dl::ppp::engine;
using namespace std::chrono_literals;

namespace {

struct RecordingPolicy : CpPolicy {
    std::vector<std::string> actions;
    CrVerdict verdict = CrVerdict::ack;
    std::uint8_t last_req_id = 0;
    void build_request(std::vector<CpOption>& out) override { out.push_back({lcp_opt::magic_number, {1, 2, 3, 4}}); }
    CrVerdict check_request(const std::vector<CpOption>& in, std::vector<CpOption>& reply, bool) override {
        if (verdict != CrVerdict::ack) reply = in;
        return verdict;
    }
    void on_ack(const std::vector<CpOption>&) override {}
    void on_nak(const std::vector<CpOption>&, bool) override {}
    CpEvent classify_extra(const ControlPacket& p) override {
        return p.code() == static_cast<std::uint8_t>(CpCode::protocol_reject) ? CpEvent::rxj_plus : CpEvent::rxr;
    }
    void send_echo_reply(const ControlPacket&) override { actions.push_back("ser"); }
    void this_layer_up() override { actions.push_back("tlu"); }
    void this_layer_down() override { actions.push_back("tld"); }
    void this_layer_started() override { actions.push_back("tls"); }
    void this_layer_finished() override { actions.push_back("tlf"); }
    void send(std::vector<std::uint8_t> p) override {
        static const std::map<int, std::string> names{{1, "scr"}, {2, "sca"}, {3, "scn"}, {4, "scn"},
                                                      {5, "str"}, {6, "sta"}, {7, "scj"}};
        if (p.at(0) == 1) last_req_id = p.at(1);
        auto it = names.find(p.at(0));
        actions.push_back(it == names.end() ? "code" + std::to_string(p[0]) : it->second);
    }
};

struct World {
    dl::core::VirtualTimeLoop loop;
    dl::core::EventBus bus{loop.clock()};
    dl::core::TimerRegistry registry;
    dl::core::FsmEnv env{&bus, &loop.timers(), &registry};
    World() { dl::core::register_well_known_timers(registry); }
};

struct Cell {
    bool permitted = false;
    std::vector<std::string> actions;  // sorted, without irc/zrc
    bool irc = false, zrc = false;
    int next = -1;
};

// Parses the two halves of the §4.1 table from the RFC text: rows "<Event> | cell cell ...".
std::map<std::pair<int, int>, Cell> parse_rfc_table() {
    std::ifstream in(std::string(DL_SHARED_DIR) + "/refs/rfc1661.txt");
    std::map<std::pair<int, int>, Cell> table;
    const std::vector<std::string> events{"Up", "Down", "Open", "Close", "TO+", "TO-", "RCR+", "RCR-",
                                          "RCA", "RCN", "RTR", "RTA", "RUC", "RXJ+", "RXJ-", "RXR"};
    std::string line;
    int first_state = -1;
    bool in_table = false;
    while (std::getline(in, line)) {
        if (line.rfind("Events| Initial", 0) == 0) { first_state = 0; in_table = true; continue; }
        if (line.rfind("Events| Req-Sent", 0) == 0) { first_state = 6; in_table = true; continue; }
        if (!in_table) continue;
        if (line.empty()) { if (first_state == 6) break; in_table = false; continue; }
        auto bar = line.find('|');
        if (bar == std::string::npos) continue;
        std::istringstream name_s(line.substr(0, bar));
        std::string name;
        name_s >> name;
        auto ev = std::find(events.begin(), events.end(), name);
        if (ev == events.end()) continue;
        std::istringstream cells(line.substr(bar + 1));
        std::string tok;
        int st = first_state;
        while (cells >> tok) {
            Cell c;
            if (tok != "-") {
                c.permitted = true;
                auto slash = tok.find('/');
                std::string acts = slash == std::string::npos ? "" : tok.substr(0, slash);
                std::string next = slash == std::string::npos ? tok : tok.substr(slash + 1);
                c.next = next.at(0) - '0';
                std::istringstream as(acts);
                std::string a;
                while (std::getline(as, a, ',')) {
                    if (a == "irc") c.irc = true;
                    else if (a == "zrc") c.zrc = true;
                    else if (!a.empty()) c.actions.push_back(a);
                }
                std::sort(c.actions.begin(), c.actions.end());
            }
            table[{st, static_cast<int>(ev - events.begin())}] = c;
            ++st;
        }
    }
    return table;
}

void drive(Automaton& a, RecordingPolicy& pol, CpEvent e) {
    std::vector<CpOption> opts{{lcp_opt::magic_number, {1, 2, 3, 4}}};
    auto pkt = [&](CpCode code, std::uint8_t id, std::vector<CpOption> o = {}, std::vector<std::uint8_t> data = {}) {
        a.receive(Automaton::build(ControlProtocol::lcp, code, id, o, data));
    };
    switch (e) {
        case CpEvent::rcr_plus: pol.verdict = CrVerdict::ack; pkt(CpCode::configure_request, 77, opts); break;
        case CpEvent::rcr_minus: pol.verdict = CrVerdict::nak; pkt(CpCode::configure_request, 77, opts); break;
        // In Ack-Rcvd/Opened our last request was already answered: a repeated answer is dropped (§5.2),
        // so the table cell is driven as the event itself (a new answer to a new request).
        case CpEvent::rca:
            if (a.state() == CpState::opened || a.state() == CpState::ack_rcvd) { a.dispatch(e, "test"); break; }
            pkt(CpCode::configure_ack, pol.last_req_id, opts); break;
        case CpEvent::rcn:
            if (a.state() == CpState::opened || a.state() == CpState::ack_rcvd) { a.dispatch(e, "test"); break; }
            pkt(CpCode::configure_nak, pol.last_req_id, opts); break;
        case CpEvent::rtr: pkt(CpCode::terminate_request, 9); break;
        case CpEvent::rta: pkt(CpCode::terminate_ack, 9); break;
        case CpEvent::ruc: a.receive(std::vector<std::uint8_t>{0x20, 1, 0, 4}); break;
        case CpEvent::rxj_plus: pkt(CpCode::code_reject, 3, {}, {0x0c, 1, 0, 4}); break;
        case CpEvent::rxj_minus: pkt(CpCode::code_reject, 3, {}, {0x01, 1, 0, 4}); break;
        case CpEvent::rxr: pkt(CpCode::echo_request, 3, {}, {0, 0, 0, 0}); break;
        default: a.dispatch(e, "test"); break;
    }
}

}  // namespace

TEST(Automaton, RfcTableParsedCompletely) {
    auto t = parse_rfc_table();
    EXPECT_EQ(t.size(), 160u);
}

// req: PPP.automaton
TEST(Automaton, EveryCellOfRfc1661Table) {
    auto table = parse_rfc_table();
    ASSERT_EQ(table.size(), 160u);
    const std::vector<std::vector<CpEvent>> setup{
        {},
        {CpEvent::open},
        {CpEvent::up},
        {CpEvent::up, CpEvent::open, CpEvent::to_minus},
        {CpEvent::up, CpEvent::open, CpEvent::close},
        {CpEvent::up, CpEvent::open, CpEvent::rca, CpEvent::rcr_plus, CpEvent::rtr},
        {CpEvent::up, CpEvent::open},
        {CpEvent::up, CpEvent::open, CpEvent::rca},
        {CpEvent::up, CpEvent::open, CpEvent::rcr_plus},
        {CpEvent::up, CpEvent::open, CpEvent::rca, CpEvent::rcr_plus}};
    int checked = 0;
    for (auto& [key, cell] : table) {
        auto [st, ev] = key;
        World w;
        RecordingPolicy pol;
        Automaton a("ppp.lcp", ControlProtocol::lcp, pol, w.env, "t");
        for (CpEvent e : setup[st]) drive(a, pol, e);
        ASSERT_EQ(static_cast<int>(a.state()), st) << "setup of state " << st;
        pol.actions.clear();
        const auto np = a.fsm().not_permitted_count();
        drive(a, pol, static_cast<CpEvent>(ev));
        const std::string where = std::string(to_string(static_cast<CpState>(st))) + " × " +
                                  std::string(to_string(static_cast<CpEvent>(ev)));
        if (!cell.permitted) {
            EXPECT_EQ(static_cast<int>(a.state()), st) << where;
            EXPECT_TRUE(pol.actions.empty()) << where;
            EXPECT_EQ(a.fsm().not_permitted_count(), np + 1) << where;
        } else {
            EXPECT_EQ(static_cast<int>(a.state()), cell.next) << where;
            auto got = pol.actions;
            std::sort(got.begin(), got.end());
            EXPECT_EQ(got, cell.actions) << where;
            if (cell.zrc) {
                EXPECT_EQ(a.restart_counter(), 0) << where;
            }
            if (cell.irc) {
                const bool term = std::count(cell.actions.begin(), cell.actions.end(), "str");
                const bool sent = term || std::count(cell.actions.begin(), cell.actions.end(), "scr");
                EXPECT_EQ(a.restart_counter(), (term ? 2 : 10) - (sent ? 1 : 0)) << where;
            }
            EXPECT_EQ(a.fsm().not_permitted_count(), np) << where;
            // §4.6: the Restart timer runs exactly in Closing, Stopping, Req-Sent, Ack-Rcvd, Ack-Sent.
            const bool timer_state = cell.next >= 4 && cell.next <= 8;
            if (!timer_state) {
                EXPECT_TRUE(w.loop.timers().empty()) << where;
            }
        }
        ++checked;
    }
    EXPECT_EQ(checked, 160);
}

// req: PPP.automaton
TEST(Automaton, RestartTimerRetransmitsThenGivesUp) {
    World w;
    RecordingPolicy pol;
    dl::core::EventRecorder rec(w.bus);
    Automaton a("ppp.lcp", ControlProtocol::lcp, pol, w.env, "l1", CpLimits{3, 2, 5});
    a.open();
    a.up();
    w.loop.advance(20s);
    EXPECT_EQ(a.state(), CpState::stopped);
    EXPECT_EQ(std::count(pol.actions.begin(), pol.actions.end(), "scr"), 3);
    EXPECT_EQ(rec.text(),
              "+0.000000s ppp.lcp l1: Initial -> Starting on Open (cause=administrative open)\n"
              "+0.000000s ppp.lcp l1: Starting -> Req-Sent on Up (cause=lower layer up)\n"
              "+3.000000s ppp.lcp l1: Req-Sent -> Req-Sent on TO+ (cause=ppp-restart expired)\n"
              "+6.000000s ppp.lcp l1: Req-Sent -> Req-Sent on TO+ (cause=ppp-restart expired)\n"
              "+9.000000s ppp.lcp l1: Req-Sent -> Stopped on TO- (cause=ppp-restart expired, counter exhausted)\n");
}

TEST(Automaton, MalformedAndMismatchedInputIsCountedNotDispatched) {
    World w;
    RecordingPolicy pol;
    Automaton a("ppp.lcp", ControlProtocol::lcp, pol, w.env, "l1");
    a.open();
    a.up();
    a.receive(std::vector<std::uint8_t>{1, 2, 0});
    a.receive(std::vector<std::uint8_t>{1, 2, 0, 9});
    EXPECT_EQ(a.counters().malformed, 2u);
    a.receive(Automaton::build(ControlProtocol::lcp, CpCode::configure_ack, pol.last_req_id + 1, {}));
    EXPECT_EQ(a.counters().bad_identifier, 1u);
    a.receive(Automaton::build(ControlProtocol::lcp, CpCode::configure_ack, pol.last_req_id, {}));
    EXPECT_EQ(a.counters().bad_ack, 1u);
    EXPECT_EQ(a.state(), CpState::req_sent);
}

// req: PPP.automaton
TEST(Automaton, MaxFailureTurnsNakIntoReject) {
    World w;
    RecordingPolicy pol;
    std::vector<std::uint8_t> last;
    struct P : RecordingPolicy {
        std::vector<std::uint8_t>* out;
        bool seen_allow_nak_false = false;
        CrVerdict check_request(const std::vector<CpOption>& in, std::vector<CpOption>& reply, bool allow_nak) override {
            reply = in;
            if (!allow_nak) seen_allow_nak_false = true;
            return allow_nak ? CrVerdict::nak : CrVerdict::reject;
        }
        void send(std::vector<std::uint8_t> p) override { *out = p; RecordingPolicy::send(std::move(p)); }
    } p;
    p.out = &last;
    Automaton a("ppp.lcp", ControlProtocol::lcp, p, w.env, "l1", CpLimits{10, 2, 2});
    a.open();
    a.up();
    std::vector<CpOption> opts{{lcp_opt::mru, {0x05, 0xdc}}};
    for (int i = 0; i < 2; ++i) {
        a.receive(Automaton::build(ControlProtocol::lcp, CpCode::configure_request, 40 + i, opts));
        EXPECT_EQ(last.at(0), 3);
    }
    a.receive(Automaton::build(ControlProtocol::lcp, CpCode::configure_request, 50, opts));
    EXPECT_EQ(last.at(0), 4);
    EXPECT_TRUE(p.seen_allow_nak_false);
}

// A packet the automaton sends is written straight from its option list (serialize_control): one
// allocation, the packet's own, not a copy of the list with each option's value and a PDU.
TEST(Automaton, BuildAllocatesOnlyThePacket) {
    const std::vector<CpOption> opts = {{lcp_opt::mru, {0x05, 0xdc}}, {lcp_opt::accm, {0, 0, 0, 0}},
                                        {lcp_opt::auth_protocol, {0xc2, 0x23, 0x05}},
                                        {lcp_opt::magic_number, {0x12, 0x34, 0x56, 0x78}},
                                        {lcp_opt::pfc, {}}, {lcp_opt::acfc, {}}};
    const std::uint64_t n = dl::testing::allocations();
    const auto pkt = Automaton::build(ControlProtocol::lcp, CpCode::configure_request, 1, opts);
    EXPECT_EQ(dl::testing::allocations() - n, 1u);
    LCP golden(CpCode::configure_request, 1);
    golden.options() = opts;
    EXPECT_EQ(pkt, golden.serialize());
    const std::uint64_t m = dl::testing::allocations();
    const auto term = Automaton::build(ControlProtocol::ipcp, CpCode::terminate_request, 2, {});
    EXPECT_EQ(dl::testing::allocations() - m, 1u);
    EXPECT_EQ(term, (std::vector<std::uint8_t>{5, 2, 0, 4}));
}

// A received Configure-Request's option list is allocated once (the options counted first), not
// doubled up from one: one allocation for the list and one per non-empty option value.
// The options of our last Configure-Request live as long as the link (the Ack is checked against
// them, RFC 1661 §5.2): they take exactly their size, whatever the request held before, and the
// first request costs one allocation for the list.
TEST(Automaton, SentRequestKeepsExactlyItsOptions) {
    World w;
    struct ThreeOptions : RecordingPolicy {
        void build_request(std::vector<CpOption>& out) override {
            out.push_back({lcp_opt::mru, {0x05, 0xdc}});
            out.push_back({lcp_opt::magic_number, {1, 2, 3, 4}});
            out.push_back({lcp_opt::pfc, {}});
        }
    } pol;
    Automaton a("ppp.lcp", ControlProtocol::lcp, pol, w.env, "l1");
    a.open();
    a.up();  // scr
    ASSERT_EQ(a.sent_request().size(), 3u);
    EXPECT_EQ(a.sent_request().capacity(), 3u) << "no room for options it did not ask for";
    w.loop.advance(3s);  // the Restart timer: the same request again, in the same list
    EXPECT_EQ(std::count(pol.actions.begin(), pol.actions.end(), "scr"), 2);
    EXPECT_EQ(a.sent_request().capacity(), 3u);
}

TEST(Automaton, ParsedOptionListAllocatedOnce) {
    const std::vector<std::uint8_t> req = {0x01, 0x01, 0x00, 0x1d, 0x01, 0x04, 0x05, 0xdc, 0x02, 0x06,
                                           0x00, 0x00, 0x00, 0x00, 0x03, 0x05, 0xc2, 0x23, 0x05, 0x05,
                                           0x06, 0x12, 0x34, 0x56, 0x78, 0x07, 0x02, 0x08, 0x02};
    const std::uint64_t n = dl::testing::allocations();
    LCP p(req.data(), static_cast<std::uint32_t>(req.size()));
    EXPECT_EQ(dl::testing::allocations() - n, 1u + 4u) << "list + MRU, ACCM, Auth, Magic values";
    EXPECT_EQ(p.options().size(), 6u);
    EXPECT_EQ(p.options().capacity(), 6u);
}
