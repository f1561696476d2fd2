// lnsctl: the command line of lnsd over its control API (JSON over a Unix socket, docs/architecture.md "Control API").
//   lnsctl [--socket PATH] [--json] show l2tp [summary]
//   lnsctl show l2tp destination|tunnel|session [id] [detail]
//   lnsctl l2tp clear system | l2tp clear destination|tunnel|session <id>      (close)
//   lnsctl l2tp [no] shutdown|drain                                           (system level)
//   lnsctl l2tp [no] shutdown|drain destination <address> | tunnel <id>
//   lnsctl l2tp shutdown session <tunnel>/<session>
//   lnsctl show timers
//   Listings (show l2tp destination|tunnel|session, show l2tp dial-out target|session, show ppp)
//   are fetched in pages of 1000 (args limit / after, docs/lnsd.md "Paging"): lnsd answers each
//   page quickly and serves its peers in between. `limit=N [after=KEY]` asks for one page only.
//   lnsctl subscribe [entity]           (streams events, one JSON line each)
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "dl/core/control.hpp"

namespace {

std::string cell(const nlohmann::json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_null()) return "-";
    if (v.is_number_float()) {
        char b[32];
        std::snprintf(b, sizeof b, "%.1f", v.get<double>());
        return b;
    }
    return v.dump();
}

/// Prints an array of flat objects as a JunosE-like table (nested objects in detail mode as
/// "key: value" blocks instead).
void print_table(const nlohmann::json& rows, const std::vector<std::string>& cols) {
    if (!rows.is_array() || rows.empty()) {
        std::cout << "(none)\n";
        return;
    }
    std::vector<std::size_t> w(cols.size());
    for (std::size_t i = 0; i < cols.size(); ++i) w[i] = cols[i].size();
    for (const auto& r : rows)
        for (std::size_t i = 0; i < cols.size(); ++i) w[i] = std::max(w[i], cell(r.value(cols[i], nlohmann::json())).size());
    auto line = [&](auto get) {
        std::string s;
        for (std::size_t i = 0; i < cols.size(); ++i) {
            std::string c = get(i);
            s += c + std::string(w[i] - c.size() + 2, ' ');
        }
        while (!s.empty() && s.back() == ' ') s.pop_back();
        std::cout << s << "\n";
    };
    line([&](std::size_t i) { return cols[i]; });
    line([&](std::size_t i) { return std::string(w[i], '-'); });
    for (const auto& r : rows) line([&](std::size_t i) { return cell(r.value(cols[i], nlohmann::json())); });
}

void print_block(const nlohmann::json& o, int indent = 0) {
    for (auto it = o.begin(); it != o.end(); ++it) {
        std::cout << std::string(static_cast<std::size_t>(indent), ' ') << it.key() << ":";
        if (it->is_object()) {
            std::cout << "\n";
            print_block(*it, indent + 2);
        } else {
            std::cout << " " << cell(*it) << "\n";
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"lnsctl: control lnsd"};
    std::string socket = "/run/lnsd.sock";
    bool json = false;
    std::vector<std::string> words;
    app.add_option("--socket,-s", socket, "lnsd control socket");
    app.add_flag("--json,-j", json, "print the JSON result");
    app.add_option("words", words, "command words")->required();
    app.allow_extras(false);
    CLI11_PARSE(app, argc, argv);

    try {
        dl::core::ControlClient client(socket);
        if (words[0] == "subscribe") {
            dl::core::EventFilter f;
            if (words.size() > 1) f.entity = words[1];
            if (words.size() > 2) f.id = words[2];
            client.subscribe(f);
            std::cerr << "subscribed" << std::endl;
            for (;;) {
                auto e = client.next_event(std::chrono::hours(1));
                if (e) std::cout << e->to_json().dump() << std::endl;
            }
        }
        // Words up to and including an object keyword form the command; then [id] [detail].
        bool detail = false;
        if (words.size() > 1 && words.back() == "detail") {
            detail = true;
            words.pop_back();
        }
        // key=value words are named arguments (e.g. `l2tp dial-out target add prefix=10.20.0.0/16 …`).
        nlohmann::json named = nlohmann::json::object();
        std::erase_if(words, [&](const std::string& w) {
            const auto eq = w.find('=');
            if (eq == std::string::npos || eq == 0) return false;
            named[w.substr(0, eq)] = w.substr(eq + 1);
            return true;
        });
        std::string cmd, id, object;
        std::size_t i = 0;
        for (; i < words.size(); ++i) {
            if (!cmd.empty()) cmd += " ";
            cmd += words[i];
            if (words[i] == "destination" || words[i] == "tunnel" || words[i] == "session" ||
                words[i] == "target" || words[i] == "virtual-router") {
                object = words[i];
                ++i;
                break;
            }
        }
        // Dial-out verbs after the object: `l2tp dial-out session reset KEY`, `… target add|remove`.
        if (i < words.size() && (words[i] == "reset" || words[i] == "add" || words[i] == "remove"))
            cmd += " " + words[i++];
        if (i < words.size()) id = words[i++];
        if (i < words.size()) {
            std::cerr << "lnsctl: unexpected word '" << words[i] << "'\n";
            return 2;
        }
        nlohmann::json args = named;
        if (!id.empty()) args["id"] = id;
        if (detail) args["detail"] = true;
        // A listing without limit / after: fetch it page by page (each answer ≤ 1000 items), so that
        // lnsd never builds one multi-megabyte answer while its peers wait.
        const bool listing = id.empty() && (cmd == "show l2tp destination" || cmd == "show l2tp tunnel" ||
                                            cmd == "show l2tp session" || cmd == "show l2tp dial-out target" ||
                                            cmd == "show l2tp dial-out session" || cmd == "show ppp" ||
                                            cmd == "show ppp session");
        const bool one_page = args.contains("limit") || args.contains("after");
        nlohmann::json result;
        if (listing && !one_page) {
            result = nlohmann::json::array();
            args["limit"] = 1000;
            for (;;) {
                auto page = client.request(cmd, args);
                for (auto& item : page.at("items")) result.push_back(std::move(item));
                if (page.at("next").is_null()) break;
                args["after"] = page["next"];
            }
        } else {
            result = client.request(cmd, args);
        }
        std::string page_note;  // "total N, next KEY" under one page's table
        if (listing && one_page && result.is_object() && result.contains("items") && !json) {
            page_note = "(" + std::to_string(result.value("total", 0)) + " in all" +
                        (result["next"].is_null() ? std::string(", last page)")
                                                  : ", next page: after=" + result["next"].get<std::string>() + ")");
            result = nlohmann::json(result["items"]);
        }
        if (json) {
            std::cout << result.dump(2) << "\n";
            return 0;
        }
        if (cmd == "show l2tp" || cmd == "show l2tp summary") {
            print_block(result);
        } else if (cmd == "show timers") {
            print_table(result, {"name", "value", "default", "min", "max"});
        } else if (result.is_array() && (detail || !id.empty())) {
            for (const auto& r : result) {
                print_block(r);
                std::cout << "\n";
            }
        } else if (cmd == "show l2tp dial-out session" && result.is_array()) {
            auto rows = result;
            for (auto& r : rows)
                if (r.contains("timer") && r["timer"].is_object())
                    r["timer"] = r["timer"].value("name", "") + " " + r["timer"].value("remaining", "");
            print_table(rows, {"session", "state", "timer"});
        } else if (cmd == "show l2tp dial-out target" && result.is_array()) {
            print_table(result, {"target", "state", "domain", "profile", "route_distinguisher", "sessions"});
        } else if (cmd == "show l2tp dial-out virtual-router" && result.is_array()) {
            print_table(result, {"virtual_router", "state", "targets"});
        } else if ((cmd == "show ppp" || cmd == "show ppp session") && result.is_array()) {
            print_table(result, {"id", "virtual-router", "direction", "l2tp-session", "phase", "user", "peer-ip"});
        } else if (object == "destination" && cmd.rfind("show", 0) == 0) {
            print_table(result, {"address", "state", "tunnels", "sessions"});
        } else if (object == "tunnel" && cmd.rfind("show", 0) == 0) {
            print_table(result, {"id", "peer", "state", "direction", "sessions"});
        } else if (object == "session" && cmd.rfind("show", 0) == 0) {
            print_table(result, {"id", "destination", "state", "direction"});
        } else if (result.is_object()) {
            print_block(result);
        } else {
            std::cout << result.dump(2) << "\n";
        }
        if (!page_note.empty()) std::cout << page_note << "\n";
    } catch (const std::exception& e) {
        std::cerr << "lnsctl: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
