"""dlab.lnsd_profile's parsers without perf: the cpu-clock split of `perf script -F ip,sym` call
chains into user space, lnsd's own kernel work and the receive softirq it runs for the receivers
(veth delivers in the sender's context), and the `perf trace -s` system call counts."""
from __future__ import annotations

from dlab.lnsd_profile import parse_perf_trace_summary, perf_cpu_split

USER = """\t          16d874 __memmove_avx512_unaligned_erms
\t               0 [unknown]
"""
OWN = """\tffffffff8175bc36 do_timerfd_settime
\tffffffff8175cab8 __x64_sys_timerfd_settime
\tffffffff8223c951 do_syscall_64
\t          1093ea timerfd_settime
"""
RX = """\tffffffff81a00001 udp_queue_rcv_one_skb
\tffffffff81a00002 __netif_receive_skb_one_core
\tffffffff81a00003 process_backlog
\tffffffff81a00004 net_rx_action
\tffffffff81a00005 __do_softirq
\tffffffff81a00006 veth_xmit
\tffffffff81a00007 __x64_sys_sendmmsg
\t          10acb3 sendmmsg
"""
FAULT = """\tffffffff8133cac0 native_set_pte
\tffffffff81000c82 asm_exc_page_fault
\t           98109 _int_malloc
"""


def test_split_by_call_chain():
    split = perf_cpu_split("\n".join([USER, USER, OWN, RX, FAULT]))
    assert split["samples"] == 5
    assert (split["user"], split["own_kernel"], split["rx_softirq"]) == (40.0, 40.0, 20.0)
    # the receive work under sendmmsg is not counted as lnsd's own sendmmsg
    assert split["syscalls"] == {"timerfd_settime": 20.0, "other": 20.0}


def test_split_of_nothing():
    assert perf_cpu_split("")["samples"] == 0


def test_perf_trace_summary_sums_threads():
    text = """
 lnsd (1234), 10 events
   syscall            calls  errors  total       min       avg       max       stddev
   --------------- --------  ------ -------- --------- --------- ---------     ------
   sendmmsg              25      0     1.9     0.010     0.077     0.400      5.00%
   sendto                 6      0     0.2     0.010     0.034     0.100      3.00%
 lnsd (1235), 3 events
   sendto                 2      0     0.1     0.010     0.034     0.100      3.00%
"""
    assert parse_perf_trace_summary(text) == {"sendmmsg": 25, "sendto": 8}
