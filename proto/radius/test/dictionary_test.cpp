#include "dl/radius/dictionary.hpp"
#include "dl/radius/radius.hpp"
#include "dl/proto/errors.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>

using namespace dl::radius;
using dl::proto::ParseError;

namespace {
bool have_default() { return std::filesystem::exists(std::string(Dictionary::kDefaultPath)); }

// Expects load_string(text) to fail naming "<memory>:line" and containing `reason`.
void expect_error(std::string_view text, int line, std::string_view reason) {
    try {
        Dictionary::load_string(text);
        ADD_FAILURE() << "accepted: " << text;
    } catch (const ParseError& e) {
        EXPECT_EQ(e.protocol(), dl::proto::Protocol::dictionary);
        EXPECT_EQ(e.field(), "<memory>:" + std::to_string(line)) << e.what();
        EXPECT_NE(e.reason().find(reason), std::string::npos) << e.what();
    }
}

const char* kSample = R"(# comment
ATTRIBUTE	User-Name		1	string
ATTRIBUTE	Service-Type		6	integer
VALUE	Service-Type		Outbound-User		5
VALUE	Service-Type		Framed-User		0x02
ATTRIBUTE	Tunnel-Type		64	integer	has_tag
ATTRIBUTE	Tunnel-Password		69	string	has_tag,encrypt=2
ATTRIBUTE	Tunnel-Server-Endpoint	67	string	has_tag
ATTRIBUTE	Class			0x19	octets
ATTRIBUTE	Odd			77	weird-type   # unknown type: octets
ATTRIBUTE	Fixed			78	octets[16]
VALUE	Later-Attr		Early			3
ATTRIBUTE	Later-Attr		79	integer
VENDOR		ERX			4874
VENDOR		USR			429	format=4,0
BEGIN-VENDOR	ERX
ATTRIBUTE	ERX-Dial-Out-Number	35	string
ATTRIBUTE	ERX-Bearer-Type		41	integer
ATTRIBUTE	ERX-Service-Activate	65	string	has_tag
VALUE	ERX-Bearer-Type		Digital			2
BEGIN-TLV	ERX-Something
ATTRIBUTE	ERX-Inner		1	integer
END-TLV		ERX-Something
END-VENDOR	ERX
ATTRIBUTE	Old-Style		7	integer	USR
ATTRIBUTE	Ext-Attr		241.1	integer
)";
}  // namespace

// req: RADIUS.dictionary
TEST(Dictionary, ParsesTheFormat) {
    Dictionary d = Dictionary::load_string(kSample);
    const AttributeDef* tt = d.attribute("tunnel-type");
    ASSERT_NE(tt, nullptr);
    EXPECT_EQ(tt->number, 64u);
    EXPECT_TRUE(tt->format.has_tag);
    EXPECT_EQ(d.attribute("Tunnel-Password")->format.encrypt, 2);
    EXPECT_EQ(d.attribute(0, 0x19)->name, "Class");
    EXPECT_EQ(d.attribute("Odd")->format.type, ValueType::octets);
    EXPECT_EQ(d.attribute("Odd")->type_name, "weird-type");
    EXPECT_EQ(d.attribute("Fixed")->format.type, ValueType::octets);
    EXPECT_EQ(d.value("Service-Type", "outbound-user"), 5u);
    EXPECT_EQ(d.value("Service-Type", "Framed-User"), 2u);
    EXPECT_EQ(*d.value_name("Service-Type", 5), "Outbound-User");
    EXPECT_EQ(d.value("Later-Attr", "Early"), 3u);  // VALUE before ATTRIBUTE
    EXPECT_EQ(d.attribute(kVendorErx, 35)->name, "ERX-Dial-Out-Number");
    EXPECT_EQ(d.attribute("ERX-Bearer-Type")->vendor, kVendorErx);
    EXPECT_EQ(d.value("ERX-Bearer-Type", "Digital"), 2u);
    EXPECT_EQ(d.vendor("usr")->type_octets, 4);
    EXPECT_EQ(d.vendor("USR")->length_octets, 0);
    EXPECT_EQ(d.vendor(4874u)->name, "ERX");
    EXPECT_EQ(d.attribute("Old-Style")->vendor, 429u);
    EXPECT_EQ(d.attribute("ERX-Inner"), nullptr);  // TLV member skipped
    EXPECT_EQ(d.attribute("Ext-Attr"), nullptr);   // dotted number skipped
    EXPECT_EQ(d.attribute(kVendorErx, 1), nullptr);
    EXPECT_EQ(d.skipped(), 3u);
    EXPECT_EQ(d.attribute("nope"), nullptr);
    EXPECT_EQ(d.value("nope", "x"), std::nullopt);
    EXPECT_EQ(d.vendor_count(), 2u);
}

// req: RADIUS.dictionary
TEST(Dictionary, ReportsErrorsWithFileLineAndRule) {
    expect_error("FOO bar", 1, "unknown keyword");
    expect_error("\nATTRIBUTE X", 2, "ATTRIBUTE needs");
    expect_error("ATTRIBUTE X abc string", 1, "bad attribute number");
    expect_error("ATTRIBUTE X 3 string bogus_flag", 1, "unknown attribute flag");
    expect_error("ATTRIBUTE X 3 string encrypt=4", 1, "encrypt=");
    expect_error("VALUE X Y", 1, "VALUE needs");
    expect_error("VALUE X Y z", 1, "bad VALUE number");
    expect_error("VENDOR V", 1, "VENDOR needs");
    expect_error("VENDOR V 0", 1, "bad vendor number");
    expect_error("VENDOR V 9 format=3,1", 1, "type width");
    expect_error("VENDOR V 9 format=1,3", 1, "length width");
    expect_error("VENDOR V 9 colour=red", 1, "unknown VENDOR option");
    expect_error("BEGIN-VENDOR V", 1, "undefined vendor");
    expect_error("END-VENDOR V", 1, "without BEGIN-VENDOR");
    expect_error("VENDOR V 9\nVENDOR W 10\nBEGIN-VENDOR V\nEND-VENDOR W", 4, "does not match");
    expect_error("VENDOR V 9\nBEGIN-VENDOR V\n", 2, "not closed");
    expect_error("END-TLV x", 1, "END-TLV without");
    expect_error("$INCLUDE dictionary.rfc2865", 1, "$INCLUDE not allowed");
    expect_error("ATTRIBUTE A 1 string\nATTRIBUTE A 2 string", 2, "already defined differently");
    // Identical redefinition is allowed; a new name for a number wins number lookups.
    Dictionary d = Dictionary::load_string("ATTRIBUTE A 1 string\nATTRIBUTE A 1 string\nATTRIBUTE B 1 string");
    EXPECT_EQ(d.attribute(0, 1)->name, "B");
    EXPECT_EQ(d.attribute("A")->number, 1u);
}

// req: RADIUS.dictionary
TEST(Dictionary, IncludesRelativeToTheIncludingFile) {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("dl_radius_dict_" + std::to_string(::getpid()));
    fs::create_directories(dir / "sub");
    std::ofstream(dir / "dictionary") << "$INCLUDE sub/dictionary.a\n$INCLUDE- missing.optional\n";
    std::ofstream(dir / "sub" / "dictionary.a") << "$INCLUDE dictionary.b\nATTRIBUTE A 1 string\n";
    std::ofstream(dir / "sub" / "dictionary.b") << "ATTRIBUTE B 2 integer\n";
    std::ofstream(dir / "loop") << "$INCLUDE loop\n";
    std::ofstream(dir / "broken") << "ATTRIBUTE A 1 string\n$INCLUDE sub/nope\n";
    Dictionary d = Dictionary::load_file((dir / "dictionary").string());
    EXPECT_EQ(d.attribute("A")->file, (dir / "sub" / "dictionary.a").string());
    EXPECT_EQ(d.attribute("B")->line, 1);
    EXPECT_EQ(d.file_count(), 3u);
    try {
        Dictionary::load_file((dir / "broken").string());
        ADD_FAILURE();
    } catch (const ParseError& e) {
        EXPECT_EQ(e.field(), (dir / "broken").string() + ":2");
        EXPECT_NE(e.reason().find("cannot read"), std::string::npos);
    }
    try {
        Dictionary::load_file((dir / "loop").string());
        ADD_FAILURE();
    } catch (const ParseError& e) {
        EXPECT_NE(e.reason().find("nested deeper"), std::string::npos) << e.what();
    }
    EXPECT_THROW(Dictionary::load_file((dir / "absent").string()), ParseError);
    fs::remove_all(dir);
}

// req: RADIUS.dictionary
TEST(Dictionary, LoadsDebianDictionaryQuickly) {
    if (!have_default()) GTEST_SKIP() << "no " << Dictionary::kDefaultPath << " (freeradius-common)";
    const auto t0 = std::chrono::steady_clock::now();
    Dictionary d = Dictionary::load_default();
    const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    RecordProperty("load_ms", std::to_string(ms));
    std::printf("Debian dictionary: %zu files, %zu attributes, %zu vendors, %zu values, %zu skipped, %.1f ms\n",
                d.file_count(), d.attribute_count(), d.vendor_count(), d.value_count(), d.skipped(), ms);
    EXPECT_LT(ms, 1000.0);
    EXPECT_GT(d.file_count(), 100u);
    EXPECT_GT(d.attribute_count(), 5000u);
    // RFC 2868 attributes and their flags.
    const AttributeDef* tp = d.attribute("Tunnel-Password");
    ASSERT_NE(tp, nullptr);
    EXPECT_EQ(tp->number, 69u);
    EXPECT_TRUE(tp->format.has_tag);
    EXPECT_EQ(tp->format.encrypt, 2);
    EXPECT_EQ(d.attribute("User-Password")->format.encrypt, 1);
    EXPECT_EQ(d.value("Tunnel-Type", "L2TP"), 3u);
    EXPECT_EQ(d.value("Tunnel-Medium-Type", "IPv4"), 1u);
    EXPECT_EQ(d.value("Service-Type", "Outbound-User"), 5u);
    EXPECT_EQ(d.attribute(0, 68)->name, "Acct-Tunnel-Connection");
    // ERX (dictionary.erx).
    EXPECT_EQ(d.vendor("ERX")->id, kVendorErx);
    for (int n = 35; n <= 41; ++n) {
        const AttributeDef* a = d.attribute(kVendorErx, static_cast<std::uint32_t>(n));
        ASSERT_NE(a, nullptr) << n;
        const AttributeSpec* s = builtin_attribute(kVendorErx, static_cast<std::uint8_t>(n));
        ASSERT_NE(s, nullptr) << n;
        // The built-in registry agrees with the dictionary.
        EXPECT_EQ(a->name, s->name);
        EXPECT_EQ(a->format.type, s->format.type) << a->name;
    }
    EXPECT_TRUE(d.attribute("ERX-Service-Activate")->format.has_tag);
    EXPECT_EQ(d.value("ERX-PPP-Auth-Protocol", "CHAP"), 2u);
    EXPECT_EQ(d.value("ERX-Bearer-Type", "Digital"), 2u);
    // Every built-in standard attribute matches the dictionary's number, type and flags.
    for (const AttributeSpec& s : builtin_attributes()) {
        const AttributeDef* a = d.attribute(s.vendor, s.number);
        ASSERT_NE(a, nullptr) << s.name;
        EXPECT_EQ(a->format.has_tag, s.format.has_tag) << s.name;
        EXPECT_EQ(a->format.encrypt, s.format.encrypt) << s.name;
        const AttributeDef* by_name = d.attribute(s.name);
        ASSERT_NE(by_name, nullptr) << s.name;
    }
}

// req: RADIUS.dictionary
TEST(Dictionary, PacketAccessByName) {
    if (!have_default()) GTEST_SKIP() << "no " << Dictionary::kDefaultPath;
    Dictionary d = Dictionary::load_default();
    Radius p(Code::Access_Accept, 1);
    p.add(d, "Service-Type", "Outbound-User");
    p.add(d, "Tunnel-Type", "L2TP", 1);
    p.add(d, "Tunnel-Medium-Type", "IPv4", 1);
    p.add(d, "Tunnel-Server-Endpoint", "198.51.100.2", 1);
    p.add(d, "ERX-Dial-Out-Number", "0301234567");
    p.add(d, "ERX-Minimum-BPS", "56000");
    p.add(d, "ERX-Bearer-Type", "Digital");
    p.add(d, "Framed-IP-Address", "198.18.0.2");
    p.add(d, "Class", "0x0102ff");
    auto w = p.serialize();
    Radius q(w.data(), static_cast<std::uint32_t>(w.size()));
    EXPECT_EQ(q.get_integer(d, "Service-Type"), 5u);
    EXPECT_EQ(q.get_integer(d, "Tunnel-Type", 1), 3u);
    EXPECT_EQ(q.get_integer(d, "Tunnel-Type", 2), std::nullopt);
    EXPECT_EQ(q.get_string(d, "Tunnel-Server-Endpoint"), "198.51.100.2");
    EXPECT_EQ(q.get_string(d, "ERX-Dial-Out-Number"), "0301234567");
    EXPECT_EQ(q.get_integer(d, "ERX-Minimum-BPS"), 56000u);
    EXPECT_EQ(q.get_integer(d, "ERX-Bearer-Type"), 2u);
    EXPECT_EQ(q.get_ipaddr(d, "Framed-IP-Address"), (std::array<std::uint8_t, 4>{198, 18, 0, 2}));
    EXPECT_EQ(q.get_octets(AttributeType::Class), (std::vector<std::uint8_t>{1, 2, 0xff}));
    EXPECT_EQ(q.get_string(d, "Reply-Message"), std::nullopt);
    // Same wire bytes as the by-number API.
    Radius r(Code::Access_Accept, 1);
    r.add_integer(AttributeType::Service_Type, 5);
    r.add_integer(AttributeType::Tunnel_Type, 3, 1);
    r.add_integer(AttributeType::Tunnel_Medium_Type, 1, 1);
    r.add_string(AttributeType::Tunnel_Server_Endpoint, "198.51.100.2", 1);
    r.add_string(ErxAttribute::Dial_Out_Number, "0301234567");
    r.add_integer(ErxAttribute::Minimum_BPS, 56000);
    r.add_integer(ErxAttribute::Bearer_Type, 2);
    r.add_ipaddr(AttributeType::Framed_IP_Address, {198, 18, 0, 2});
    r.add_octets(AttributeType::Class, std::vector<std::uint8_t>{1, 2, 0xff});
    EXPECT_EQ(r.serialize(), w);
    EXPECT_THROW(q.get_string(d, "Definitely-Not-An-Attribute"), std::out_of_range);
    EXPECT_THROW(p.add(d, "Service-Type", "Not-A-Value"), std::invalid_argument);
    EXPECT_THROW(p.add(d, "Framed-IP-Address", "1.2.3"), std::invalid_argument);
    EXPECT_THROW(p.add(d, "Class", "0x123"), std::invalid_argument);
}
