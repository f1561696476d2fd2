// Running tshark from tests and writing the pcaps it reads (Wireshark cross-checks).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace dl::testing {

/// Runs `cmd` through /bin/sh (popen) and returns everything it wrote to stdout; stderr is not
/// captured (append " 2>&1" or " 2>/dev/null" to the command). Returns "" if the shell cannot be
/// started; the exit status is not reported. Blocks until the command ends.
inline std::string run(const std::string& cmd) {
    std::string out;
    FILE* f = ::popen(cmd.c_str(), "r");
    if (f == nullptr) return out;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    ::pclose(f);
    return out;
}

/// True if `tshark` is on PATH. Tests call GTEST_SKIP() with a reason when it is not.
inline bool have_tshark() { return std::system("command -v tshark >/dev/null 2>&1") == 0; }

/// `s` cut at every `sep`, keeping empty fields, including a trailing one: split("a||b|", '|') is
/// {"a", "", "b", ""} (so a `tshark -T fields` row keeps its empty last column); split("", '|') is {}.
inline std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> v;
    std::string cur;
    std::istringstream is(s);
    while (std::getline(is, cur, sep)) v.push_back(cur);
    if (!s.empty() && s.back() == sep) v.emplace_back();
    return v;
}

/// The lines of `s` without their '\n'; a final '\n' does not start an empty line:
/// lines("a\nb\n") is {"a", "b"}, lines("") is {}.
inline std::vector<std::string> lines(const std::string& s) {
    std::vector<std::string> v;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
}

/// Writes `frames` to `path` as a classic pcap file (magic 0xa1b2c3d4 in host byte order, version
/// 2.4, microsecond timestamps, snaplen 65535) with link type `linktype` (pcap LINKTYPE_ value, e.g.
/// 1 Ethernet, 9 PPP — libtins' Tins::PacketWriter has no DataLinkType for some of them). Each frame
/// is one record, whole (caplen = len), timestamped 1700000000 s, +1 s per frame. Overwrites `path`;
/// a write failure leaves a short file, which tshark reports when reading it.
inline void write_pcap(const std::filesystem::path& path, std::uint32_t linktype,
                       const std::vector<std::vector<std::uint8_t>>& frames) {
    std::ofstream o(path, std::ios::binary);
    auto put32 = [&o](std::uint32_t v) { o.write(reinterpret_cast<const char*>(&v), 4); };
    auto put16 = [&o](std::uint16_t v) { o.write(reinterpret_cast<const char*>(&v), 2); };
    put32(0xa1b2c3d4);
    put16(2);
    put16(4);
    put32(0);  // thiszone
    put32(0);  // sigfigs
    put32(65535);
    put32(linktype);
    std::uint32_t t = 1700000000;
    for (const auto& f : frames) {
        put32(t++);
        put32(0);
        put32(static_cast<std::uint32_t>(f.size()));
        put32(static_cast<std::uint32_t>(f.size()));
        o.write(reinterpret_cast<const char*>(f.data()), static_cast<std::streamsize>(f.size()));
    }
}

}  // namespace dl::testing
