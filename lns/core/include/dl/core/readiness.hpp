// A read-readiness wait on a Boost.Asio socket that is re-armed without a system call.
//
// Boost.Asio 1.74's epoll reactor keeps every descriptor registered edge-triggered for input
// (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLPRI | EPOLLET) from open to close, yet issues an
// EPOLL_CTL_MOD for every operation started without "speculation" — every
// `async_wait(wait_read)` (epoll_reactor::start_op) — i.e. one epoll_ctl per re-arm of a
// readiness wait. A speculative operation (a receive) is not re-registered but is first tried at
// once, which is a receive system call, unless the reactor's "try speculative" flag of the
// descriptor is clear: the reactor clears it when an operation reports `done_and_exhausted`, and
// sets it again on the descriptor's next readiness event.
//
// ReadinessWait starts, through the reactor's own interface, one preallocated operation whose
// perform step reports `done_and_exhausted` without a system call: it completes on the next
// readiness event (or at once, if an event came while it was not armed), and re-arming it after
// the caller drained the socket costs no system call and no allocation. The caller must drain
// the descriptor until EAGAIN before arm() (edge-triggered: data left behind raises no new
// event); after stopping early (a budget) use arm_now(), after a receive error arm_polled()
// (epoll_ctl MOD, which re-reads the descriptor's readiness, as async_wait does).
//
// Built on Boost.Asio's detail interface (epoll_reactor::start_op, reactor_op), checked for the
// Boost version this project builds with (1.74, Linux epoll). Any other (or with
// DL_CORE_READINESS_ASYNC_WAIT defined): arm(), arm_now() and arm_polled() are all
// `socket.async_wait(wait_read)`, as before (one epoll_ctl per re-arm).
#pragma once

#include <functional>
#include <memory>
#include <utility>

#include <boost/asio/detail/config.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/system/error_code.hpp>
#include <boost/version.hpp>

#if BOOST_VERSION == 107400 && defined(BOOST_ASIO_HAS_EPOLL) && !defined(DL_CORE_READINESS_ASYNC_WAIT)
#define DL_CORE_READINESS_REACTOR 1
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#else
#define DL_CORE_READINESS_REACTOR 0
#endif

namespace dl::core {

/// A Boost.Asio socket type (e.g. `boost::asio::ip::udp::socket`) whose reactor registration
/// ReadinessWait can reach; otherwise the socket itself, unchanged. A foreign descriptor (a TUN
/// device) can be watched through a raw socket object that `assign`s and `release`s it.
template <class Socket>
class ReactorSocket : public Socket {
public:
    using Socket::Socket;
    /// Boost.Asio's implementation state of the socket (native descriptor, reactor registration).
    auto& reactive_implementation() noexcept { return this->impl_.get_implementation(); }
};

/// One read-readiness wait on `socket` (see the file comment), calling `handler(ec)` once per
/// arm: `ec` is empty on readiness (readable, or an error or hang-up pending on the descriptor),
/// `operation_aborted` when the socket is closed or cancelled while armed, `bad_descriptor`
/// when armed on a closed socket. The handler runs from the io_context like any completion
/// handler, and may arm again, close the socket or destroy this object. Destroying it while
/// armed detaches the handler (never called afterwards). Use from the io_context's thread only;
/// `socket` must outlive every arm().
template <class Socket>
class ReadinessWait {
public:
    using Handler = std::function<void(const boost::system::error_code&)>;

    ReadinessWait(boost::asio::io_context& io, ReactorSocket<Socket>& socket, Handler handler)
        : socket_(socket), op_(new Op(std::move(handler))) {
#if DL_CORE_READINESS_REACTOR
        reactor_ = &boost::asio::use_service<boost::asio::detail::reactor>(static_cast<boost::asio::execution_context&>(io));
#else
        (void)io;
#endif
    }
    ~ReadinessWait() {
        if (op_->pending || op_->in_call)
            op_->orphaned = true;  // deleted by its completion (run, aborted or destroyed)
        else
            delete op_;
    }
    ReadinessWait(const ReadinessWait&) = delete;
    ReadinessWait& operator=(const ReadinessWait&) = delete;

    /// True from an arm until the handler is called.
    bool armed() const noexcept { return op_->pending; }

    /// Waits for the next readiness event (no system call when one was seen and handled since
    /// the last arm: the descriptor must have been drained until EAGAIN). No-op while armed.
    void arm() { start(true); }
    /// The handler runs soon (posted on the io_context, after the handlers already queued): for
    /// a drain that stopped at its budget with data left. No-op while armed.
    void arm_now() {
        if (op_->pending) return;
#if DL_CORE_READINESS_REACTOR
        op_->pending = true;
        op_->ec_ = boost::system::error_code();
        reactor_->post_immediate_completion(op_, true);
#else
        start(false);
#endif
    }
    /// As arm(), but asks the kernel for the descriptor's readiness now (one epoll_ctl): after a
    /// receive error, which may leave data queued without a new event. No-op while armed.
    void arm_polled() { start(false); }

private:
#if DL_CORE_READINESS_REACTOR
    using ReactorOp = boost::asio::detail::reactor_op;
    struct Op : ReactorOp {
        explicit Op(Handler h)
            : ReactorOp(boost::system::error_code(), &Op::perform, &Op::complete), handler(std::move(h)) {}
        // Called by the reactor on a readiness event (or at a speculative start): nothing to
        // read here, the handler drains. "Exhausted" clears the descriptor's try-speculative flag,
        // so the next start queues the operation without a system call.
        static status perform(ReactorOp*) { return done_and_exhausted; }
        // owner == nullptr: the io_context is destroying the operation without running it.
        static void complete(void* owner, boost::asio::detail::operation* base, const boost::system::error_code&,
                             std::size_t) {
            Op* op = static_cast<Op*>(base);
            op->pending = false;
            if (op->orphaned) {
                delete op;
                return;
            }
            if (!owner) return;
            const boost::system::error_code ec = op->ec_;
            op->in_call = true;
            op->handler(ec);
            op->in_call = false;
            if (op->orphaned && !op->pending) delete op;
        }
        Handler handler;
        bool pending = false;
        bool in_call = false;
        bool orphaned = false;
    };

    void start(bool speculative) {
        if (op_->pending) return;
        auto& impl = socket_.reactive_implementation();
        op_->pending = true;
        op_->ec_ = boost::system::error_code();
        reactor_->start_op(boost::asio::detail::reactor::read_op, impl.socket_, impl.reactor_data_, op_, true,
                           speculative);
    }

    boost::asio::detail::reactor* reactor_ = nullptr;
#else
    struct Op {
        explicit Op(Handler h) : handler(std::move(h)) {}
        Handler handler;
        bool pending = false;
        bool in_call = false;
        bool orphaned = false;
    };

    void start(bool) {
        if (op_->pending) return;
        op_->pending = true;
        Op* op = op_;
        socket_.async_wait(boost::asio::socket_base::wait_read, [op](const boost::system::error_code& ec) {
            op->pending = false;
            if (op->orphaned) {
                delete op;
                return;
            }
            op->in_call = true;
            op->handler(ec);
            op->in_call = false;
            if (op->orphaned && !op->pending) delete op;
        });
    }
#endif

    ReactorSocket<Socket>& socket_;
    Op* op_;
};

}  // namespace dl::core
