#include "dl/radius/dictionary.hpp"

#include "dl/proto/errors.hpp"

#include <charconv>
#include <fstream>
#include <sstream>
#include <unordered_map>

namespace dl::radius {

using dl::proto::ParseError;
using dl::proto::Protocol;

namespace {

constexpr std::string_view kSource = "FreeRADIUS dictionary(5)";
constexpr int kMaxIncludeDepth = 16;

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

std::string lowered(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = lower(c);
    return out;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

std::uint64_t key(std::uint32_t vendor, std::uint32_t number) noexcept {
    return (std::uint64_t{vendor} << 32) | number;
}

// Decimal or 0x-hex, whole token; nullopt otherwise.
std::optional<std::uint64_t> number(std::string_view s) noexcept {
    int base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s.remove_prefix(2);
        base = 16;
    }
    if (s.empty()) return std::nullopt;
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

struct TypeName {
    std::string_view name;
    ValueType type;
};
constexpr TypeName kTypes[] = {
    {"string", ValueType::string},       {"octets", ValueType::octets},
    {"ipaddr", ValueType::ipaddr},       {"ipv4prefix", ValueType::ipv4prefix},
    {"integer", ValueType::integer},     {"date", ValueType::date},
    {"byte", ValueType::byte},           {"short", ValueType::short_},
    {"signed", ValueType::signed_},      {"integer64", ValueType::integer64},
    {"ipv6addr", ValueType::ipv6addr},   {"ipv6prefix", ValueType::ipv6prefix},
    {"ifid", ValueType::ifid},           {"ether", ValueType::ether},
    {"abinary", ValueType::abinary},     {"combo-ip", ValueType::combo_ip},
    {"tlv", ValueType::tlv},             {"vsa", ValueType::vsa},
    {"extended", ValueType::extended},   {"long-extended", ValueType::long_extended},
    {"evs", ValueType::evs},             {"struct", ValueType::struct_},
    // FreeRADIUS v4 spellings
    {"uint8", ValueType::byte},          {"uint16", ValueType::short_},
    {"uint32", ValueType::integer},      {"uint64", ValueType::integer64},
    {"int32", ValueType::signed_},       {"ipv4addr", ValueType::ipaddr},
};

ValueType parse_type(std::string_view t) noexcept {
    if (auto b = t.find('['); b != std::string_view::npos) t = t.substr(0, b);  // octets[16]
    for (const auto& tn : kTypes)
        if (iequals(tn.name, t)) return tn.type;
    return ValueType::octets;  // unknown types are kept as octets
}

// Keywords of later FreeRADIUS versions that this loader skips without failing.
constexpr std::string_view kSkippedKeywords[] = {"STRUCT", "MEMBER", "FLAGS", "PROTOCOL",
                                                 "BEGIN-PROTOCOL", "END-PROTOCOL", "ENUM",
                                                 "DEFINE", "ALIAS", "BEGIN", "END"};

}  // namespace

struct Dictionary::Impl {
    std::vector<AttributeDef> attrs;
    std::unordered_map<std::string, std::size_t> by_name;  // lower-case name -> attrs index
    std::unordered_map<std::uint64_t, std::size_t> by_number;
    std::vector<VendorDef> vendors;
    std::unordered_map<std::string, std::size_t> vendor_by_name;
    std::unordered_map<std::uint32_t, std::size_t> vendor_by_id;
    std::size_t values = 0, files = 0, skipped = 0;

    struct PendingValue {
        std::string attr;
        ValueDef value;
    };
    std::vector<PendingValue> pending;

    // --- parsing ------------------------------------------------------------------------------
    struct FileCtx {
        const std::string& origin;
        const std::string& dir;
        int depth;
        std::size_t line = 0;
        std::size_t offset = 0;
        [[noreturn]] void fail(const std::string& reason) const {
            throw ParseError(Protocol::dictionary, origin + ":" + std::to_string(line), reason,
                             std::string(kSource), offset);
        }
    };

    void load_file(const std::string& path, int depth, bool optional, const FileCtx* from) {
        std::ifstream in(path, std::ios::binary);
        if (!in) {
            if (optional) return;
            const std::string reason = "cannot read dictionary file '" + path + "'";
            if (from) from->fail(reason);
            throw ParseError(Protocol::dictionary, path, reason, std::string(kSource), 0);
        }
        std::ostringstream ss;
        ss << in.rdbuf();
        const std::string text = ss.str();
        std::string dir;
        if (auto slash = path.rfind('/'); slash != std::string::npos) dir = path.substr(0, slash);
        else dir = ".";
        parse(text, path, dir, depth);
    }

    void parse(std::string_view text, const std::string& origin, const std::string& dir, int depth) {
        ++files;
        FileCtx ctx{origin, dir, depth};
        std::optional<VendorDef> block_vendor;  // a copy: vendors may grow meanwhile
        bool block_extended = false;  // BEGIN-VENDOR … format=Extended-Vendor-Specific-N
        int tlv_depth = 0;
        std::size_t pos = 0;
        std::string_view tok[8];
        while (pos < text.size()) {
            std::size_t eol = text.find('\n', pos);
            if (eol == std::string_view::npos) eol = text.size();
            std::string_view line = text.substr(pos, eol - pos);
            ctx.offset = pos;
            ++ctx.line;
            pos = eol + 1;
            if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
            // Tokenise on blanks.
            std::size_t n = 0, i = 0;
            while (i < line.size() && n < 8) {
                while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' ||
                                           line[i] == '\f' || line[i] == '\v'))
                    ++i;
                if (i >= line.size()) break;
                std::size_t s = i;
                while (i < line.size() && !(line[i] == ' ' || line[i] == '\t' || line[i] == '\r' ||
                                            line[i] == '\f' || line[i] == '\v'))
                    ++i;
                tok[n++] = line.substr(s, i - s);
            }
            if (n == 0) continue;
            const std::string_view kw = tok[0];

            if (kw == "$INCLUDE" || kw == "$INCLUDE-") {
                if (n < 2) ctx.fail("$INCLUDE needs a file name");
                if (dir.empty()) ctx.fail("$INCLUDE not allowed in in-memory text without a directory");
                if (depth >= kMaxIncludeDepth)
                    ctx.fail("$INCLUDE nested deeper than " + std::to_string(kMaxIncludeDepth));
                std::string target(tok[1]);
                if (target.front() != '/') target = dir + "/" + target;
                load_file(target, depth + 1, kw == "$INCLUDE-", &ctx);
            } else if (iequals(kw, "ATTRIBUTE")) {
                if (n < 4) ctx.fail("ATTRIBUTE needs: name number type [flags]");
                if (tlv_depth > 0 || block_extended) {  // TLV members / extended vendor space
                    ++skipped;
                    continue;
                }
                if (tok[2].find('.') != std::string_view::npos) {  // dotted OID (TLV, RFC 6929)
                    ++skipped;
                    continue;
                }
                auto num = number(tok[2]);
                if (!num || *num > 0xFFFFFFFFu) ctx.fail("bad attribute number '" + std::string(tok[2]) + "'");
                AttributeDef def;
                def.name = std::string(tok[1]);
                def.number = static_cast<std::uint32_t>(*num);
                def.type_name = std::string(tok[3]);
                def.format.type = parse_type(tok[3]);
                def.vendor = block_vendor ? block_vendor->id : 0;
                def.file = origin;
                def.line = static_cast<int>(ctx.line);
                for (std::size_t f = 4; f < n; ++f) parse_flags(ctx, tok[f], def, block_vendor.has_value());
                add_attribute(ctx, std::move(def));
            } else if (iequals(kw, "VALUE")) {
                if (n < 4) ctx.fail("VALUE needs: attribute name number");
                auto num = number(tok[3]);
                if (!num) ctx.fail("bad VALUE number '" + std::string(tok[3]) + "'");
                if (tlv_depth > 0) {
                    ++skipped;
                    continue;
                }
                ValueDef v{std::string(tok[2]), *num};
                auto it = by_name.find(lowered(tok[1]));
                if (it == by_name.end()) {
                    pending.push_back({std::string(tok[1]), std::move(v)});
                } else {
                    attrs[it->second].values.push_back(std::move(v));
                    ++values;
                }
            } else if (iequals(kw, "VENDOR")) {
                if (n < 3) ctx.fail("VENDOR needs: name number [format=t,l]");
                auto num = number(tok[2]);
                if (!num || *num == 0 || *num > 0xFFFFFFFFu)
                    ctx.fail("bad vendor number '" + std::string(tok[2]) + "'");
                VendorDef v{std::string(tok[1]), static_cast<std::uint32_t>(*num)};
                if (n > 3) parse_vendor_format(ctx, tok[3], v);
                add_vendor(std::move(v));
            } else if (iequals(kw, "BEGIN-VENDOR")) {
                if (n < 2) ctx.fail("BEGIN-VENDOR needs a vendor name");
                if (block_vendor) ctx.fail("BEGIN-VENDOR inside BEGIN-VENDOR " + block_vendor->name);
                const VendorDef* bv = find_vendor(tok[1]);
                if (!bv) ctx.fail("BEGIN-VENDOR of undefined vendor '" + std::string(tok[1]) + "'");
                block_vendor = *bv;
                block_extended = false;
                if (n > 2) {
                    if (tok[2].substr(0, 7) != "format=") ctx.fail("unknown BEGIN-VENDOR option '" + std::string(tok[2]) + "'");
                    block_extended = tok[2].find("Extended-Vendor-Specific") != std::string_view::npos;
                }
            } else if (iequals(kw, "END-VENDOR")) {
                if (!block_vendor) ctx.fail("END-VENDOR without BEGIN-VENDOR");
                if (n >= 2 && !iequals(tok[1], block_vendor->name))
                    ctx.fail("END-VENDOR " + std::string(tok[1]) + " does not match BEGIN-VENDOR " +
                             block_vendor->name);
                block_vendor.reset();
                block_extended = false;
            } else if (iequals(kw, "BEGIN-TLV")) {
                ++tlv_depth;
                ++skipped;
            } else if (iequals(kw, "END-TLV")) {
                if (tlv_depth == 0) ctx.fail("END-TLV without BEGIN-TLV");
                --tlv_depth;
            } else {
                bool known = false;
                for (auto k : kSkippedKeywords) known = known || iequals(k, kw);
                if (!known) ctx.fail("unknown keyword '" + std::string(kw) + "'");
                ++skipped;
            }
        }
        if (block_vendor) ctx.fail("BEGIN-VENDOR " + block_vendor->name + " not closed by END-VENDOR");
        if (tlv_depth) ctx.fail("BEGIN-TLV not closed by END-TLV");
    }

    void parse_flags(FileCtx& ctx, std::string_view flags, AttributeDef& def, bool in_block) {
        std::size_t start = 0;
        while (start <= flags.size()) {
            std::size_t comma = flags.find(',', start);
            if (comma == std::string_view::npos) comma = flags.size();
            std::string_view f = flags.substr(start, comma - start);
            start = comma + 1;
            if (f.empty()) continue;
            if (f == "has_tag") def.format.has_tag = true;
            else if (f == "array") def.array = true;
            else if (f == "concat") def.concat = true;
            else if (f == "virtual" || f == "secret" || f == "internal") {
            } else if (f.substr(0, 8) == "encrypt=") {
                auto v = number(f.substr(8));
                if (!v || *v < 1 || *v > 3) ctx.fail("encrypt= must be 1, 2 or 3");
                def.format.encrypt = static_cast<std::uint8_t>(*v);
            } else if (const VendorDef* v = in_block ? nullptr : find_vendor(f)) {
                def.vendor = v->id;  // old-style "ATTRIBUTE name number type Vendor"
            } else {
                ctx.fail("unknown attribute flag '" + std::string(f) + "'");
            }
        }
    }

    static void parse_vendor_format(FileCtx& ctx, std::string_view opt, VendorDef& v) {
        if (opt.substr(0, 7) != "format=") ctx.fail("unknown VENDOR option '" + std::string(opt) + "'");
        std::string_view f = opt.substr(7);
        // t,l[,c]
        if (f.size() < 3 || f[1] != ',') ctx.fail("VENDOR format must be t,l[,c]");
        const int t = f[0] - '0', l = f[2] - '0';
        if (t != 1 && t != 2 && t != 4) ctx.fail("VENDOR format type width must be 1, 2 or 4");
        if (l < 0 || l > 2) ctx.fail("VENDOR format length width must be 0, 1 or 2");
        if (f.size() > 3) {
            if (f.substr(3) != ",c" || t != 1 || l != 1) ctx.fail("VENDOR format continuation must be 1,1,c");
            v.continuation = true;
        }
        v.type_octets = static_cast<std::uint8_t>(t);
        v.length_octets = static_cast<std::uint8_t>(l);
    }

    const VendorDef* find_vendor(std::string_view name) const {
        auto it = vendor_by_name.find(lowered(name));
        return it == vendor_by_name.end() ? nullptr : &vendors[it->second];
    }

    void add_vendor(VendorDef v) {
        auto lname = lowered(v.name);
        if (auto it = vendor_by_name.find(lname); it != vendor_by_name.end()) {
            VendorDef& old = vendors[it->second];
            vendor_by_id.erase(old.id);
            old = std::move(v);  // redefinition (e.g. Starent, WiMAX): the latest wins
            vendor_by_id[old.id] = it->second;
            return;
        }
        vendors.push_back(std::move(v));
        vendor_by_name.emplace(std::move(lname), vendors.size() - 1);
        vendor_by_id[vendors.back().id] = vendors.size() - 1;
    }

    void add_attribute(FileCtx& ctx, AttributeDef def) {
        auto lname = lowered(def.name);
        if (auto it = by_name.find(lname); it != by_name.end()) {
            AttributeDef& old = attrs[it->second];
            if (old.vendor != def.vendor || old.number != def.number || old.format.type != def.format.type)
                ctx.fail("attribute '" + def.name + "' already defined differently at " + old.file +
                         ":" + std::to_string(old.line));
            by_number[key(def.vendor, def.number)] = it->second;
            return;
        }
        attrs.push_back(std::move(def));
        const std::size_t idx = attrs.size() - 1;
        by_name.emplace(std::move(lname), idx);
        by_number[key(attrs[idx].vendor, attrs[idx].number)] = idx;
    }

    void resolve_pending() {
        for (auto& p : pending) {
            auto it = by_name.find(lowered(p.attr));
            if (it == by_name.end()) {
                ++skipped;  // VALUE of an attribute never defined (e.g. inside a TLV)
                continue;
            }
            attrs[it->second].values.push_back(std::move(p.value));
            ++values;
        }
        pending.clear();
    }

    const AttributeDef* attr(std::string_view name) const {
        auto it = by_name.find(lowered(name));
        return it == by_name.end() ? nullptr : &attrs[it->second];
    }
};

Dictionary::Dictionary() : impl_(std::make_unique<Impl>()) {}
Dictionary::~Dictionary() = default;
Dictionary::Dictionary(Dictionary&&) noexcept = default;
Dictionary& Dictionary::operator=(Dictionary&&) noexcept = default;

Dictionary Dictionary::load_file(const std::string& path) {
    Dictionary d;
    d.add_file(path);
    return d;
}

Dictionary Dictionary::load_default() { return load_file(std::string(kDefaultPath)); }

Dictionary Dictionary::load_string(std::string_view text, std::string origin, std::string include_dir) {
    Dictionary d;
    d.add_string(text, std::move(origin), std::move(include_dir));
    return d;
}

void Dictionary::add_file(const std::string& path) {
    impl_->load_file(path, 0, false, nullptr);
    impl_->resolve_pending();
}

void Dictionary::add_string(std::string_view text, std::string origin, std::string include_dir) {
    impl_->parse(text, origin, include_dir, 0);
    impl_->resolve_pending();
}

const AttributeDef* Dictionary::attribute(std::string_view name) const { return impl_->attr(name); }

const AttributeDef* Dictionary::attribute(std::uint32_t vendor, std::uint32_t number) const {
    auto it = impl_->by_number.find(key(vendor, number));
    return it == impl_->by_number.end() ? nullptr : &impl_->attrs[it->second];
}

const VendorDef* Dictionary::vendor(std::string_view name) const { return impl_->find_vendor(name); }

const VendorDef* Dictionary::vendor(std::uint32_t id) const {
    auto it = impl_->vendor_by_id.find(id);
    return it == impl_->vendor_by_id.end() ? nullptr : &impl_->vendors[it->second];
}

std::optional<std::uint64_t> Dictionary::value(std::string_view attr, std::string_view value_name) const {
    const AttributeDef* a = impl_->attr(attr);
    if (!a) return std::nullopt;
    for (const auto& v : a->values)
        if (iequals(v.name, value_name)) return v.number;
    return std::nullopt;
}

const std::string* Dictionary::value_name(std::string_view attr, std::uint64_t number) const {
    const AttributeDef* a = impl_->attr(attr);
    if (!a) return nullptr;
    for (const auto& v : a->values)
        if (v.number == number) return &v.name;
    return nullptr;
}

std::size_t Dictionary::attribute_count() const { return impl_->attrs.size(); }
std::size_t Dictionary::vendor_count() const { return impl_->vendors.size(); }
std::size_t Dictionary::value_count() const { return impl_->values; }
std::size_t Dictionary::file_count() const { return impl_->files; }
std::size_t Dictionary::skipped() const { return impl_->skipped; }

}  // namespace dl::radius
