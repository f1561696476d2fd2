#include "dl/dataplane/netlink.hpp"

#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <functional>
#include <vector>
#include <system_error>
#include <utility>

namespace dl::dataplane {

namespace {

struct Msg {
    alignas(NLMSG_ALIGNTO) unsigned char buf[512];
    nlmsghdr* h() { return reinterpret_cast<nlmsghdr*>(buf); }

    Msg(std::uint16_t type, std::uint16_t flags, std::size_t body) {
        std::memset(buf, 0, sizeof buf);
        h()->nlmsg_len = static_cast<std::uint32_t>(NLMSG_LENGTH(body));
        h()->nlmsg_type = type;
        h()->nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | NLM_F_ACK | flags);
    }
    template <class T>
    T* body() { return reinterpret_cast<T*>(NLMSG_DATA(h())); }
    void attr(std::uint16_t type, const void* data, std::size_t len) {
        const std::size_t at = NLMSG_ALIGN(h()->nlmsg_len);
        const std::size_t total = RTA_LENGTH(len);
        if (at + RTA_ALIGN(total) > sizeof buf) throw std::length_error("netlink message too long");
        auto* rta = reinterpret_cast<rtattr*>(buf + at);
        rta->rta_type = type;
        rta->rta_len = static_cast<unsigned short>(total);
        std::memcpy(RTA_DATA(rta), data, len);
        h()->nlmsg_len = static_cast<std::uint32_t>(at + RTA_ALIGN(total));
    }
    void attr32(std::uint16_t type, std::uint32_t v) { attr(type, &v, sizeof v); }
};

std::string route_object(core::Ipv4Prefix p, int ifindex, std::uint32_t table) {
    char name[IF_NAMESIZE] = {};
    const char* dev = ::if_indextoname(static_cast<unsigned>(ifindex), name);
    // Built with append(): GCC 12 -O3 warns falsely (-Wrestrict) on "literal" + std::string.
    std::string s = p.network().to_string();
    s.append(" dev ");
    if (dev) {
        s.append(dev);
    } else {
        s.append("#");
        s.append(std::to_string(ifindex));
    }
    s.append(" table ");
    s.append(std::to_string(table));
    return s;
}

}  // namespace

NetlinkError::NetlinkError(std::string operation, std::string object, int error)
    : std::runtime_error(operation + " " + object + ": " + std::strerror(error)),
      operation_(std::move(operation)),
      object_(std::move(object)),
      error_(error) {}

Netlink::Netlink() {
    fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket(NETLINK_ROUTE)");
    sockaddr_nl sa{};
    sa.nl_family = AF_NETLINK;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) {
        const int e = errno;
        ::close(fd_);
        throw std::system_error(e, std::generic_category(), "bind(NETLINK_ROUTE)");
    }
}

Netlink::~Netlink() {
    if (fd_ >= 0) ::close(fd_);
}

Netlink::Netlink(Netlink&& other) noexcept : fd_(std::exchange(other.fd_, -1)), seq_(other.seq_) {}

void Netlink::request(void* msg, std::size_t len, const std::string& op, const std::string& object, bool missing_ok,
                      const std::function<void(const nlmsghdr&)>& on_answer) {
    auto* h = static_cast<nlmsghdr*>(msg);
    h->nlmsg_seq = ++seq_;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(fd_, msg, len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
        throw NetlinkError(op, object, errno);
    alignas(nlmsghdr) unsigned char buf[16384];
    for (;;) {
        const ssize_t r = ::recv(fd_, buf, sizeof buf, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            throw NetlinkError(op, object, errno);
        }
        // Walk the answers by hand (NLMSG_OK mixes signed and unsigned comparisons).
        std::size_t at = 0;
        const std::size_t total = static_cast<std::size_t>(r);
        while (at + sizeof(nlmsghdr) <= total) {
            auto* a = reinterpret_cast<nlmsghdr*>(buf + at);
            if (a->nlmsg_len < sizeof(nlmsghdr) || a->nlmsg_len > total - at) break;
            at += NLMSG_ALIGN(a->nlmsg_len);
            if (a->nlmsg_seq != seq_) continue;  // a stale answer
            if (a->nlmsg_type == NLMSG_ERROR) {
                if (a->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) throw NetlinkError(op, object, EBADMSG);
                const int err = -static_cast<const nlmsgerr*>(NLMSG_DATA(a))->error;
                if (err == 0) return;
                if (missing_ok && (err == ESRCH || err == ENOENT)) return;
                throw NetlinkError(op, object, err);
            }
            if (a->nlmsg_type == NLMSG_DONE) return;
            if (on_answer) on_answer(*a);
        }
    }
}

namespace {
Msg route_add_msg(core::Ipv4Prefix prefix, int ifindex, std::uint32_t table, bool replace) {
    Msg m(RTM_NEWROUTE, static_cast<std::uint16_t>(NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL)),
          sizeof(rtmsg));
    auto* rt = m.body<rtmsg>();
    rt->rtm_family = AF_INET;
    rt->rtm_dst_len = prefix.length;
    rt->rtm_table = table < 256 ? static_cast<unsigned char>(table) : static_cast<unsigned char>(RT_TABLE_UNSPEC);
    rt->rtm_protocol = RTPROT_STATIC;
    rt->rtm_scope = RT_SCOPE_LINK;
    rt->rtm_type = RTN_UNICAST;
    const std::uint32_t dst = htonl(prefix.address.value);
    m.attr(RTA_DST, &dst, 4);
    m.attr32(RTA_OIF, static_cast<std::uint32_t>(ifindex));
    m.attr32(RTA_TABLE, table);
    return m;
}
}  // namespace

void Netlink::add_route(core::Ipv4Prefix prefix, int ifindex, std::uint32_t table, bool replace) {
    prefix = prefix.network();
    Msg m = route_add_msg(prefix, ifindex, table, replace);
    // The object (its device named by if_indextoname: a socket, an ioctl and a close) is only
    // written for an error: per route install it was 3 of lnsd's ~44 system calls per dial-out.
    try {
        request(m.buf, m.h()->nlmsg_len, "add route", {}, false);
    } catch (const NetlinkError& e) {
        throw NetlinkError(e.operation(), route_object(prefix, ifindex, table), e.error());
    }
}

std::vector<std::optional<NetlinkError>> Netlink::add_routes(std::span<const KernelRoute> routes) {
    std::vector<std::optional<NetlinkError>> out(routes.size());
    if (routes.empty()) return out;
    auto refused = [&](std::size_t i, int err) {
        const auto& r = routes[i];
        out[i] = NetlinkError("add route", route_object(r.prefix.network(), r.ifindex, r.table), err);
    };
    // Every request in one datagram, sequence numbers first_seq … first_seq + n - 1.
    std::vector<unsigned char> all;
    const std::uint32_t first_seq = seq_ + 1;
    for (const auto& r : routes) {
        Msg m = route_add_msg(r.prefix.network(), r.ifindex, r.table, r.replace);
        m.h()->nlmsg_seq = ++seq_;
        all.insert(all.end(), m.buf, m.buf + NLMSG_ALIGN(m.h()->nlmsg_len));
    }
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(fd_, all.data(), all.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
        const int e = errno;
        for (std::size_t i = 0; i < routes.size(); ++i) refused(i, e);
        return out;
    }
    // One acknowledgement (NLMSG_ERROR, error 0 = done) per request, each its own datagram; the
    // kernel answers within the sendto, so one recvmmsg normally reads them all.
    // A refusal echoes the request and may carry extended-ACK attributes: 1 KiB holds them; a
    // longer (truncated) answer is still read for its header and error code.
    constexpr std::size_t kAckSize = 1024;
    const std::size_t n = routes.size();
    std::vector<unsigned char> bufs(n * kAckSize);
    std::vector<iovec> iov(n);
    std::vector<mmsghdr> msgs(n);
    std::vector<bool> answered(n, false);
    std::size_t left = n;
    while (left > 0) {
        for (std::size_t i = 0; i < n; ++i) {
            iov[i] = {bufs.data() + i * kAckSize, kAckSize};
            msgs[i] = {};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        const int got = ::recvmmsg(fd_, msgs.data(), static_cast<unsigned>(left), MSG_WAITFORONE, nullptr);
        if (got < 0) {
            if (errno == EINTR) continue;
            const int e = errno;
            for (std::size_t i = 0; i < n; ++i)
                if (!answered[i]) refused(i, e);
            return out;
        }
        for (int k = 0; k < got; ++k) {
            const std::size_t total = msgs[k].msg_len;
            const unsigned char* b = bufs.data() + static_cast<std::size_t>(k) * kAckSize;
            for (std::size_t at = 0; at + sizeof(nlmsghdr) <= total;) {
                nlmsghdr h;
                std::memcpy(&h, b + at, sizeof h);
                if (h.nlmsg_len < sizeof(nlmsghdr)) break;
                const std::uint32_t i = h.nlmsg_seq - first_seq;  // a stale answer: out of range
                if (h.nlmsg_type == NLMSG_ERROR && i < n && !answered[i]) {
                    int err = EBADMSG;
                    if (h.nlmsg_len >= NLMSG_LENGTH(sizeof(nlmsgerr)) &&
                        at + NLMSG_LENGTH(sizeof(nlmsgerr)) <= total) {
                        nlmsgerr e;
                        std::memcpy(&e, b + at + NLMSG_HDRLEN, sizeof e);
                        err = -e.error;
                    }
                    if (err != 0) refused(i, err);
                    answered[i] = true;
                    --left;
                }
                at += NLMSG_ALIGN(h.nlmsg_len);
            }
        }
    }
    return out;
}

std::vector<int> Netlink::route_interfaces(core::Ipv4Prefix prefix, std::uint32_t table) {
    prefix = prefix.network();
    Msg m(RTM_GETROUTE, NLM_F_DUMP, sizeof(rtmsg));
    m.h()->nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | NLM_F_DUMP);  // a dump has no ACK
    m.body<rtmsg>()->rtm_family = AF_INET;
    std::vector<int> found;
    auto on_route = [&](const nlmsghdr& a) {
        if (a.nlmsg_type != RTM_NEWROUTE || a.nlmsg_len < NLMSG_LENGTH(sizeof(rtmsg))) return;
        const auto* rt = static_cast<const rtmsg*>(NLMSG_DATA(&a));
        if (rt->rtm_family != AF_INET || rt->rtm_dst_len != prefix.length) return;
        std::uint32_t rtable = rt->rtm_table, dst = 0;
        int oif = 0;
        // Attributes walked by hand, like the answers (RTA_OK mixes signedness).
        const auto* base = reinterpret_cast<const unsigned char*>(&a);
        for (std::size_t off = NLMSG_LENGTH(sizeof(rtmsg)); off + sizeof(rtattr) <= a.nlmsg_len;) {
            const auto* rta = reinterpret_cast<const rtattr*>(base + off);
            if (rta->rta_len < sizeof(rtattr) || rta->rta_len > a.nlmsg_len - off) break;
            const std::size_t len = rta->rta_len - sizeof(rtattr);
            const unsigned char* data = base + off + RTA_LENGTH(0);
            if (rta->rta_type == RTA_TABLE && len >= 4) std::memcpy(&rtable, data, 4);
            if (rta->rta_type == RTA_DST && len >= 4) std::memcpy(&dst, data, 4);
            if (rta->rta_type == RTA_OIF && len >= 4) std::memcpy(&oif, data, 4);
            off += RTA_ALIGN(rta->rta_len);
        }
        if (rtable == table && ntohl(dst) == prefix.address.value) found.push_back(oif);
    };
    request(m.buf, m.h()->nlmsg_len, "list routes",
            prefix.to_string().append(" table ").append(std::to_string(table)), false, on_route);
    return found;
}

void Netlink::delete_route(core::Ipv4Prefix prefix, int ifindex, std::uint32_t table, bool missing_ok) {
    prefix = prefix.network();
    Msg m(RTM_DELROUTE, 0, sizeof(rtmsg));
    auto* rt = m.body<rtmsg>();
    rt->rtm_family = AF_INET;
    rt->rtm_dst_len = prefix.length;
    rt->rtm_table = table < 256 ? static_cast<unsigned char>(table) : static_cast<unsigned char>(RT_TABLE_UNSPEC);
    rt->rtm_scope = RT_SCOPE_NOWHERE;
    const std::uint32_t dst = htonl(prefix.address.value);
    m.attr(RTA_DST, &dst, 4);
    m.attr32(RTA_OIF, static_cast<std::uint32_t>(ifindex));
    m.attr32(RTA_TABLE, table);
    try {  // the object only for an error, as in add_route
        request(m.buf, m.h()->nlmsg_len, "delete route", {}, missing_ok);
    } catch (const NetlinkError& e) {
        throw NetlinkError(e.operation(), route_object(prefix, ifindex, table), e.error());
    }
}

namespace {
Msg rule_msg(std::uint16_t type, std::uint16_t flags, const std::string& iif, std::uint32_t table,
             std::uint32_t priority, std::uint8_t protocol) {
    Msg m(type, flags, sizeof(fib_rule_hdr));
    auto* fr = m.body<fib_rule_hdr>();
    fr->family = AF_INET;
    fr->table = table < 256 ? static_cast<std::uint8_t>(table) : static_cast<std::uint8_t>(RT_TABLE_UNSPEC);
    fr->action = FR_ACT_TO_TBL;
    m.attr(FRA_IIFNAME, iif.c_str(), iif.size() + 1);
    m.attr32(FRA_TABLE, table);
    m.attr32(FRA_PRIORITY, priority);
    m.attr(FRA_PROTOCOL, &protocol, 1);
    return m;
}
std::string rule_object(const std::string& iif, std::uint32_t table, std::uint32_t priority) {
    std::string s("iif ");
    s.append(iif);
    s.append(" lookup ");
    s.append(std::to_string(table));
    s.append(" priority ");
    s.append(std::to_string(priority));
    return s;
}
}  // namespace

void Netlink::add_rule_iif(const std::string& interface, std::uint32_t table, std::uint32_t priority,
                           std::uint8_t protocol) {
    if (interface.empty() || interface.size() >= IF_NAMESIZE)
        throw NetlinkError("add rule", rule_object(interface, table, priority), EINVAL);
    Msg m = rule_msg(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, interface, table, priority, protocol);
    try {
        request(m.buf, m.h()->nlmsg_len, "add rule", rule_object(interface, table, priority), false);
    } catch (const NetlinkError& e) {
        if (e.error() != EEXIST) throw;  // the same rule already there: idempotent
    }
}

void Netlink::delete_rule_iif(const std::string& interface, std::uint32_t table, std::uint32_t priority,
                              bool missing_ok, std::uint8_t protocol) {
    if (interface.empty() || interface.size() >= IF_NAMESIZE)
        throw NetlinkError("delete rule", rule_object(interface, table, priority), EINVAL);
    Msg m = rule_msg(RTM_DELRULE, 0, interface, table, priority, protocol);
    request(m.buf, m.h()->nlmsg_len, "delete rule", rule_object(interface, table, priority), missing_ok);
}

std::vector<RuleIif> Netlink::rules_iif(std::uint8_t protocol) {
    Msg m(RTM_GETRULE, NLM_F_DUMP, sizeof(fib_rule_hdr));
    m.body<fib_rule_hdr>()->family = AF_INET;
    std::vector<RuleIif> out;
    request(m.buf, m.h()->nlmsg_len, "dump rules", "inet", false, [&](const nlmsghdr& a) {
        if (a.nlmsg_type != RTM_NEWRULE || a.nlmsg_len < NLMSG_LENGTH(sizeof(fib_rule_hdr))) return;
        const auto* fr = static_cast<const fib_rule_hdr*>(NLMSG_DATA(&a));
        if (fr->family != AF_INET || fr->action != FR_ACT_TO_TBL) return;
        RuleIif r;
        r.table = fr->table;
        bool has_iif = false;
        const auto* base = reinterpret_cast<const unsigned char*>(&a);
        std::size_t at = NLMSG_LENGTH(sizeof(fib_rule_hdr));
        at = NLMSG_ALIGN(at);
        while (at + sizeof(rtattr) <= a.nlmsg_len) {
            const auto* rta = reinterpret_cast<const rtattr*>(base + at);
            if (rta->rta_len < sizeof(rtattr) || rta->rta_len > a.nlmsg_len - at) break;
            const auto* data = static_cast<const unsigned char*>(RTA_DATA(rta));
            const std::size_t n = rta->rta_len - RTA_LENGTH(0);
            std::uint32_t v32 = 0;
            if (n >= 4) std::memcpy(&v32, data, 4);
            switch (rta->rta_type) {
                case FRA_IIFNAME:
                    r.interface.assign(reinterpret_cast<const char*>(data), ::strnlen(reinterpret_cast<const char*>(data), n));
                    has_iif = true;
                    break;
                case FRA_TABLE: if (n >= 4) r.table = v32; break;
                case FRA_PRIORITY: if (n >= 4) r.priority = v32; break;
                case FRA_PROTOCOL: if (n >= 1) r.protocol = data[0]; break;
                default: break;
            }
            at += RTA_ALIGN(rta->rta_len);
        }
        if (has_iif && r.protocol == protocol) out.push_back(std::move(r));
    });
    return out;
}

void Netlink::add_address(int ifindex, core::Ipv4Prefix address) {
    Msg m(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, sizeof(ifaddrmsg));
    auto* ia = m.body<ifaddrmsg>();
    ia->ifa_family = AF_INET;
    ia->ifa_prefixlen = address.length;
    ia->ifa_scope = RT_SCOPE_UNIVERSE;
    ia->ifa_index = static_cast<std::uint32_t>(ifindex);
    const std::uint32_t a = htonl(address.address.value);
    m.attr(IFA_LOCAL, &a, 4);
    m.attr(IFA_ADDRESS, &a, 4);
    request(m.buf, m.h()->nlmsg_len, "add address", address.to_string().append(" dev #").append(std::to_string(ifindex)), false);
}

void Netlink::set_link_up(int ifindex) {
    Msg m(RTM_NEWLINK, 0, sizeof(ifinfomsg));
    auto* ii = m.body<ifinfomsg>();
    ii->ifi_family = AF_UNSPEC;
    ii->ifi_index = ifindex;
    ii->ifi_flags = IFF_UP;
    ii->ifi_change = IFF_UP;
    request(m.buf, m.h()->nlmsg_len, "set link up", std::string("#").append(std::to_string(ifindex)), false);
}

}  // namespace dl::dataplane
