#include "dl/core/control.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "dl/core/asio_driver.hpp"
#include "dl/core/timer_queue.hpp"

using namespace dl::core;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

/// A ControlServer on a temp socket, its io_context running in a thread.
class ControlTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/dl-core-ctl-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        path_ = dir_ + "/lnsd.sock";
        server_ = std::make_unique<ControlServer>(io_, path_, &bus_);
        server_->add_handler(
            "show l2tp tunnel",
            [](const json& args) {
                return json{{"tunnels", json::array({{{"id", 1}, {"peer", "198.51.100.2"}}})},
                            {"detail", args.value("detail", false)}};
            },
            "list tunnels");
        server_->add_handler("fail", [](const json&) -> json { throw ControlError("tunnel 9 does not exist"); });
        server_->start();
        thread_ = std::thread([this] { io_.run(); });
    }
    void TearDown() override {
        boost::asio::post(io_, [this] { server_->stop(); });
        work_.reset();
        thread_.join();
        server_.reset();
        std::filesystem::remove_all(dir_);
    }
    /// Runs f on the server thread and waits for it.
    template <class F>
    auto on_server(F f) {
        std::packaged_task<decltype(f())()> task(std::move(f));
        auto fut = task.get_future();
        boost::asio::post(io_, [&task] { task(); });
        return fut.get();
    }

    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
    VirtualClock clock_;
    EventBus bus_{clock_};
    std::string dir_, path_;
    std::unique_ptr<ControlServer> server_;
    std::thread thread_;
};

TEST_F(ControlTest, SocketIsMode0600) {
    struct stat st{};
    ASSERT_EQ(::stat(path_.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(ControlTest, RequestResponse) {
    ControlClient c(path_);
    const json r = c.request("show l2tp tunnel", {{"detail", true}});
    EXPECT_EQ(r["tunnels"][0]["peer"], "198.51.100.2");
    EXPECT_EQ(r["detail"], true);
    const json full = c.call("show l2tp tunnel");
    EXPECT_EQ(full["ok"], true);
    EXPECT_EQ(full["id"], 2);
    const json help = c.request("help");
    EXPECT_EQ(help["commands"].size(), 5u);
}

TEST_F(ControlTest, ErrorsAreAnsweredAndServerKeepsRunning) {
    ControlClient c(path_);
    const json fail = c.call("fail");
    EXPECT_EQ(fail["ok"], false);
    EXPECT_EQ(fail["error"], "tunnel 9 does not exist");
    EXPECT_THROW(c.request("fail"), ControlError);
    EXPECT_EQ(c.call("no such")["error"], "unknown command 'no such' (try 'help')");

    c.send_line("{this is not json");
    auto bad = c.next_response(2s);
    ASSERT_TRUE(bad);
    EXPECT_EQ((*bad)["ok"], false);
    EXPECT_TRUE((*bad)["id"].is_null());
    EXPECT_EQ((*bad)["error"].get<std::string>().rfind("bad JSON: ", 0), 0u);

    c.send_line("[1,2]");
    EXPECT_EQ((*c.next_response(2s))["error"], "request must be a JSON object");
    c.send_line(R"({"id":"x"})");
    bad = c.next_response(2s);
    EXPECT_EQ((*bad)["id"], "x");
    EXPECT_EQ((*bad)["error"], "request needs a \"cmd\" string");
    c.send_line(R"({"id":7,"cmd":"show l2tp tunnel","args":[1]})");
    EXPECT_EQ((*c.next_response(2s))["error"], "\"args\" must be a JSON object");
    c.send_line("\xff\xfe");  // invalid UTF-8
    EXPECT_EQ((*c.next_response(2s))["ok"], false);

    // Same connection still works, and so does a new one.
    EXPECT_EQ(c.request("show l2tp tunnel")["tunnels"].size(), 1u);
    ControlClient c2(path_);
    EXPECT_EQ(c2.request("show l2tp tunnel")["tunnels"].size(), 1u);
}

TEST_F(ControlTest, SubscriptionStreamsFilteredEvents) {
    ControlClient sub(path_);
    sub.subscribe(EventFilter{"dialout", ""});
    ControlClient all(path_);
    all.subscribe();
    EXPECT_EQ(on_server([&] { return bus_.subscriber_count(); }), 2u);

    on_server([&] {
        Event e;
        e.entity = "l2tp.tunnel";
        e.id = "1";
        e.event = "ignored-by-filter";
        bus_.publish(e);
        e.entity = "dialout.session";
        e.id = "default/10.10.0.0/16/10.10.1.1";
        e.from = "dormant";
        e.to = "authenticating";
        e.event = "trigger";
        e.timer = TimerArmed{"trigger", 30s};
        bus_.publish(e);
        return 0;
    });
    const auto ev = sub.next_event(2s);
    ASSERT_TRUE(ev);
    EXPECT_EQ(ev->entity, "dialout.session");
    EXPECT_EQ(ev->to, "authenticating");
    EXPECT_EQ(ev->timer, (TimerArmed{"trigger", 30s}));
    EXPECT_FALSE(sub.next_event(100ms));  // the l2tp event was filtered out
    EXPECT_EQ(all.next_event(2s)->event, "ignored-by-filter");
    EXPECT_EQ(all.next_event(2s)->event, "trigger");

    // Requests still work on a subscribed connection (events in between are buffered).
    on_server([&] {
        Event e;
        e.entity = "dialout.session";
        e.event = "buffered";
        bus_.publish(e);
        return 0;
    });
    EXPECT_EQ(sub.request("show l2tp tunnel")["tunnels"].size(), 1u);
    EXPECT_EQ(sub.next_event(2s)->event, "buffered");

    EXPECT_EQ(sub.request("unsubscribe")["subscribed"], false);
    EXPECT_EQ(on_server([&] { return bus_.subscriber_count(); }), 1u);
}

TEST_F(ControlTest, DisconnectedClientsAreCleanedUp) {
    {
        ControlClient a(path_);
        a.subscribe();
        ControlClient b(path_);
        b.request("help");
        EXPECT_EQ(on_server([&] { return server_->client_count(); }), 2u);
    }
    // The server notices EOF asynchronously; poll (bounded) instead of sleeping a fixed time.
    for (int i = 0; i < 200 && on_server([&] { return server_->client_count(); }) != 0; ++i)
        std::this_thread::sleep_for(10ms);
    EXPECT_EQ(on_server([&] { return server_->client_count(); }), 0u);
    EXPECT_EQ(on_server([&] { return bus_.subscriber_count(); }), 0u);
    // Publishing after the subscriber left is harmless.
    on_server([&] {
        Event e;
        e.entity = "x";
        bus_.publish(e);
        return 0;
    });
}

TEST_F(ControlTest, ManyClients) {
    std::vector<std::unique_ptr<ControlClient>> clients;
    for (int i = 0; i < 20; ++i) clients.push_back(std::make_unique<ControlClient>(path_));
    for (int round = 0; round < 3; ++round)
        for (auto& c : clients) EXPECT_EQ(c->request("show l2tp tunnel", {{"detail", true}})["detail"], true);
}

TEST_F(ControlTest, OverlongLineIsAnsweredAndDiscarded) {
    ControlClient c(path_);
    const std::string big(2500 * 1024, 'x');  // > 2 x 1 MiB: discarding spans several buffers
    c.send_line(big);
    const auto r = c.next_response(5s);
    ASSERT_TRUE(r);
    EXPECT_EQ((*r)["error"], "request line longer than 1 MiB; ignored");
    EXPECT_EQ(c.request("help")["commands"].size(), 5u);  // same connection, next line is fine
    EXPECT_FALSE(c.next_response(100ms));                 // exactly one error for the long line
}

// The lnsd arrangement: one io_context drives the control socket and the timer queue; a command
// arms a timer whose expiry publishes an event that reaches a subscribed client.
TEST(ControlServer, CommandArmsTimerWhoseEventReachesSubscriber) {
    char tmpl[] = "/tmp/dl-core-ctl3-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    const std::string path = std::string(tmpl) + "/ctl.sock";
    boost::asio::io_context io;
    auto work = boost::asio::make_work_guard(io);
    SystemClock clock;
    TimerQueue timers(clock);
    AsioTimerDriver driver(io, timers);
    EventBus bus(clock);
    ControlServer server(io, path, &bus);
    server.add_handler("arm", [&](const json& args) {
        const auto ms = std::chrono::milliseconds(args.at("ms").get<int>());
        timers.arm(ms, [&bus] {
            Event e;
            e.entity = "test.timer";
            e.id = "t1";
            e.event = "timer-expiry";
            bus.publish(e);
        });
        return json{{"armed", true}};
    });
    server.start();
    std::thread runner([&] { io.run(); });
    {
        ControlClient c(path);
        c.subscribe({"test", ""});
        EXPECT_EQ(c.request("arm", {{"ms", 20}})["armed"], true);
        const auto ev = c.next_event(5s);
        ASSERT_TRUE(ev);
        EXPECT_EQ(ev->entity, "test.timer");
        EXPECT_GT(ev->time_ns, 0);
    }
    boost::asio::post(io, [&] { server.stop(); });
    work.reset();
    runner.join();
    std::filesystem::remove_all(tmpl);
}

TEST(ControlServer, HandleLineWithoutSocketAndStaleSocketFile) {
    boost::asio::io_context io;
    ControlServer s(io, "/tmp/unused.sock");
    s.add_handler("ping", [](const json&) { return json("pong"); });
    EXPECT_EQ(json::parse(s.handle_line(R"({"id":3,"cmd":"ping"})")), (json{{"id", 3}, {"ok", true}, {"result", "pong"}}));
    EXPECT_EQ(json::parse(s.handle_line(R"({"id":4,"cmd":"subscribe"})"))["ok"], false);

    EXPECT_THROW(ControlClient("/nonexistent/dir/x.sock"), ControlError);
    // A regular file at the path is not removed.
    char tmpl[] = "/tmp/dl-core-ctl2-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    const std::string file = std::string(tmpl) + "/not-a-socket";
    { std::ofstream(file) << "x"; }
    ControlServer s2(io, file);
    EXPECT_THROW(s2.start(), std::system_error);
    EXPECT_TRUE(std::filesystem::exists(file));
    // A stale socket file left by a previous run is replaced.
    const std::string sock = std::string(tmpl) + "/ctl.sock";
    {
        ControlServer s3(io, sock);
        s3.start();
    }
    {
        ControlServer s4(io, sock);
        s4.start();
        ::unlink(sock.c_str());
        ControlServer s5(io, sock);
        s5.start();  // path free again
    }
    std::filesystem::remove_all(tmpl);
}

// A second daemon started with the same control socket path must not unlink a live daemon's
// socket (which silently cut the first daemon off from lnsctl): start() refuses with EADDRINUSE.
TEST(ControlServer, LiveSocketOfAnotherServerIsNotTakenOver) {
    boost::asio::io_context io;
    char tmpl[] = "/tmp/dl-core-ctl3-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    const std::string sock = std::string(tmpl) + "/ctl.sock";
    ControlServer first(io, sock);
    first.add_handler("ping", [](const json&) { return json("pong"); });
    first.start();
    struct stat before{};
    ASSERT_EQ(::stat(sock.c_str(), &before), 0);
    ControlServer second(io, sock);
    try {
        second.start();
        FAIL() << "the second server took over a live control socket";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), EADDRINUSE);
        EXPECT_NE(std::string(e.what()).find("control socket " + sock + " is in use"), std::string::npos) << e.what();
    }
    struct stat after{};
    ASSERT_EQ(::stat(sock.c_str(), &after), 0);
    EXPECT_EQ(before.st_ino, after.st_ino) << "the first server's socket file was replaced";
    // The first server still answers on its socket.
    std::thread t([&] { io.run_for(2s); });
    {
        ControlClient c(sock, 2s);
        EXPECT_EQ(c.request("ping"), json("pong"));
    }
    io.stop();
    t.join();
    first.stop();
    std::filesystem::remove_all(tmpl);
}

}  // namespace

TEST(ListPage, UnpagedListingsOverTheCapAreRefusedPagesAreNot) {
    // Without limit / after a listing answers its plain array, up to kMaxItems items; a larger
    // one is refused with an error naming `limit` (the daemon never builds one huge answer).
    const auto unpaged = ListPage::parse(nlohmann::json::object());
    EXPECT_FALSE(unpaged.paged);
    {
        ListPageBuilder b(unpaged, 2, "show x");
        b.add(1, "a");
        b.add(2, "b");
        EXPECT_EQ(std::move(b).finish(), nlohmann::json::array({1, 2}));
    }
    try {
        ListPageBuilder b(unpaged, ListPage::kMaxItems + 1, "show x");
        FAIL() << "a listing of kMaxItems + 1 items was answered unpaged";
    } catch (const ControlArgError& e) {
        EXPECT_EQ(e.param(), "limit");
        EXPECT_NE(std::string(e.what()).find("10001 items"), std::string::npos) << e.what();
    }
    // A page of that listing is fine; `next` is the key of the last item while more follow.
    const auto page = ListPage::parse({{"limit", 2}});
    ListPageBuilder b(page, ListPage::kMaxItems + 1, "show x");
    b.add(1, "a");
    b.add(2, "b");
    EXPECT_FALSE(b.room());
    b.more();
    EXPECT_EQ(std::move(b).finish(),
              (nlohmann::json{{"items", {1, 2}}, {"total", ListPage::kMaxItems + 1}, {"next", "b"}}));
    EXPECT_EQ(ListPage::parse({{"after", "k"}}).limit, ListPage::kDefaultLimit);
    EXPECT_EQ(ListPage::parse({{"limit", "10000"}}).limit, 10000u);
    for (const auto& bad : {nlohmann::json{{"limit", 0}}, nlohmann::json{{"limit", 1.5}}, nlohmann::json{{"limit", "1x"}},
                            nlohmann::json{{"limit", ""}}, nlohmann::json{{"limit", nullptr}}}) {
        try {
            ListPage::parse(bad);
            ADD_FAILURE() << bad.dump() << " was accepted";
        } catch (const ControlArgError& e) {
            EXPECT_EQ(e.param(), "limit");
        }
    }
    EXPECT_THROW(ListPage::parse({{"after", ""}}), ControlArgError);
    EXPECT_THROW(ListPage::parse({{"after", 3}}), ControlArgError);
}

TEST(ControlServer, ArgumentErrorsNameTheParameter) {
    boost::asio::io_context io;
    ControlServer server(io, "/nonexistent/x.sock");
    server.add_handler("show x", [](const nlohmann::json& a) {
        ListPageBuilder b(ListPage::parse(a), 0, "show x");
        return std::move(b).finish();
    });
    const auto r = nlohmann::json::parse(server.handle_line(R"({"id":1,"cmd":"show x","args":{"limit":0}})"));
    EXPECT_FALSE(r["ok"].get<bool>());
    EXPECT_EQ(r["param"], "limit");
    EXPECT_EQ(r["error"], "limit: '0' is not an integer 1..10000");
    const auto ok = nlohmann::json::parse(server.handle_line(R"({"id":2,"cmd":"show x","args":{"limit":5}})"));
    EXPECT_EQ(ok["result"], (nlohmann::json{{"items", nlohmann::json::array()}, {"total", 0}, {"next", nullptr}}));
}
