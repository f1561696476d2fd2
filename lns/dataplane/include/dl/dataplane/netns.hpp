// Network namespaces for tests and benchmarks (names always start with "dl-").
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace dl::dataplane {

/// A named network namespace created with `ip netns add` and deleted with `ip netns del` on
/// destruction (also after a failed test). run() executes a function in a new thread that has
/// joined the namespace (setns(CLONE_NEWNET) affects only that thread), so sockets, TUN devices
/// and netlink requests made there stay inside it.
class ScopedNetns {
public:
    /// "dl-<8 random hex>-<tag>".
    static std::string random_name(std::string_view tag);
    /// Creates the namespace and sets its "lo" up. std::runtime_error naming the failing step
    /// (needs CAP_SYS_ADMIN). The name must start with "dl-" (std::invalid_argument otherwise).
    explicit ScopedNetns(std::string name);
    ~ScopedNetns();
    ScopedNetns(const ScopedNetns&) = delete;
    ScopedNetns& operator=(const ScopedNetns&) = delete;

    const std::string& name() const noexcept { return name_; }
    /// Runs `fn` in a thread inside the namespace and waits; rethrows its exception.
    void run(const std::function<void()>& fn) const;

private:
    std::string name_;
};

}  // namespace dl::dataplane
