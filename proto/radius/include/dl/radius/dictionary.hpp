// FreeRADIUS dictionary loader (format of Debian's /usr/share/freeradius/dictionary*).
#pragma once

#include "dl/radius/attribute.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dl::radius {

/// A named value of an integer attribute (`VALUE attr name number`).
struct ValueDef {
    std::string name;
    std::uint64_t number;
};

/// One `ATTRIBUTE name number type [flags]` line.
struct AttributeDef {
    std::string name;
    std::uint32_t vendor = 0;  ///< 0 for standard attributes
    std::uint32_t number = 0;  ///< Type, or vendor type
    AttributeFormat format;    ///< type, has_tag, encrypt=N
    std::string type_name;     ///< type as written ("octets[16]", "uint32"...)
    bool array = false;
    bool concat = false;
    std::vector<ValueDef> values;  ///< VALUE lines, in file order
    std::string file;              ///< where it was defined
    int line = 0;
};

/// `VENDOR name number [format=t,l[,c]]`.
struct VendorDef {
    std::string name;
    std::uint32_t id = 0;
    std::uint8_t type_octets = 1;    ///< octets of the vendor type field (1, 2 or 4)
    std::uint8_t length_octets = 1;  ///< octets of the vendor length field (0, 1 or 2)
    bool continuation = false;       ///< ",c" (WiMAX continuation octet)
};

/// A FreeRADIUS dictionary: attributes by name and by (vendor, number), vendors, VALUE names.
///
/// Supported syntax (FreeRADIUS v3 `dictionary(5)`): comments (#), `$INCLUDE file` and
/// `$INCLUDE- file` (optional; relative to the including file), `ATTRIBUTE name number type
/// [flags]` (flags: has_tag, encrypt=1|2|3, array, concat, virtual, secret, or an old-style
/// vendor name), `VALUE attr name number`, `VENDOR name number [format=t,l[,c]]`,
/// `BEGIN-VENDOR name [format=…]` / `END-VENDOR name`, decimal or 0x-hex numbers. Unknown type
/// names load as octets (type_name keeps the text). Skipped without failing: attributes inside
/// `BEGIN-TLV`/`END-TLV`, dotted (TLV / extended, RFC 6929) numbers, and VALUE lines naming an
/// attribute that is never defined; `skipped()` counts them.
///
/// Errors: dl::proto::ParseError with Protocol::dictionary; field = "file:line", reason = the
/// rule broken (unknown keyword, missing field, bad number, unknown flag, undefined vendor,
/// unmatched END-VENDOR, include depth > 16, unreadable file…), source = "FreeRADIUS dictionary(5)".
/// Names are case-insensitive, as in FreeRADIUS. A later definition of the same (vendor, number)
/// becomes the one returned by number lookups; redefining a name is allowed only identically.
///
/// Loading Debian's full dictionary (225 files, 7149 attributes, 7883 values) takes ~6 ms CPU.
class Dictionary {
public:
    Dictionary();
    ~Dictionary();
    Dictionary(Dictionary&&) noexcept;
    Dictionary& operator=(Dictionary&&) noexcept;
    Dictionary(const Dictionary&) = delete;
    Dictionary& operator=(const Dictionary&) = delete;

    /// Path of Debian's dictionary: /usr/share/freeradius/dictionary.
    static constexpr std::string_view kDefaultPath = "/usr/share/freeradius/dictionary";

    /// Loads `path` and everything it $INCLUDEs.
    static Dictionary load_file(const std::string& path);
    /// load_file(kDefaultPath).
    static Dictionary load_default();
    /// Parses dictionary text held in memory; `origin` names it in errors; `$INCLUDE` resolves
    /// relative to `include_dir`, and is an error when include_dir is empty.
    static Dictionary load_string(std::string_view text, std::string origin = "<memory>",
                                  std::string include_dir = {});

    /// Adds the definitions of another file / text to this dictionary.
    void add_file(const std::string& path);
    void add_string(std::string_view text, std::string origin = "<memory>",
                    std::string include_dir = {});

    /// Attribute by name (case-insensitive), or nullptr. Pointers stay valid until the next add_*.
    const AttributeDef* attribute(std::string_view name) const;
    /// Attribute by (vendor, number), or nullptr (vendor 0 = standard).
    const AttributeDef* attribute(std::uint32_t vendor, std::uint32_t number) const;
    const VendorDef* vendor(std::string_view name) const;
    const VendorDef* vendor(std::uint32_t id) const;

    /// Number of VALUE `value_name` of attribute `attr` (names case-insensitive), or nullopt.
    std::optional<std::uint64_t> value(std::string_view attr, std::string_view value_name) const;
    /// Name of value `number` of attribute `attr` (first defined), or nullptr.
    const std::string* value_name(std::string_view attr, std::uint64_t number) const;

    std::size_t attribute_count() const;
    std::size_t vendor_count() const;
    std::size_t value_count() const;
    std::size_t file_count() const;
    /// Lines skipped on purpose (TLV members, dotted numbers, VALUEs of undefined attributes).
    std::size_t skipped() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace dl::radius
