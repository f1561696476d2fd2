// libFuzzer harness: one control-API request line (JSON parse, validation, dispatch). Every input
// must produce exactly one JSON response object with "ok".
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "dl/core/control.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static boost::asio::io_context io;
    static dl::core::ControlServer* server = [] {
        auto* s = new dl::core::ControlServer(io, "/nonexistent/fuzz.sock");
        s->add_handler("echo", [](const nlohmann::json& args) { return args; });
        s->add_handler("get", [](const nlohmann::json& args) { return args.at("key").get<std::string>(); });
        return s;
    }();
    const std::string_view line(reinterpret_cast<const char*>(data), size);
    const std::string out = server->handle_line(line);
    const auto j = nlohmann::json::parse(out, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("ok")) __builtin_trap();
    return 0;
}
