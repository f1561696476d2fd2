#!/bin/sh
# PID 1 of a dlab user-mode Linux guest (dlab.uml). The root is the host's filesystem, read-only
# (hostfs); kernel arguments NAME=value arrive here as environment:
#   DLAB_OUT      host directory mounted writable on /mnt/out (the guest's outputs, logs)
#   DLAB_ETC_PPP  host directory mounted on /etc/ppp (the guest's own pppd options and secrets)
#   DLAB_RUN      shell script sourced once the guest is set up (starts the guest's daemons)
#   DLAB_GUEST    the host directory holding DLAB_RUN and the "run" scripts, mounted on /mnt/guest:
#                 host paths under it are read from there (the guest's own tmpfs /tmp would hide a
#                 run folder under the host's /tmp, e.g. pytest's tmp_path)
# Prints "dlab-guest ready" on the console, then reads console lines: "run FILE" runs the host-
# written script FILE and prints "dlab-guest done FILE STATUS"; "stop" powers the guest off
# cleanly (sysrq o). PID 1 never exits on its own (that would panic the guest kernel).
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev 2>/dev/null   # (the kernel may have mounted it)
mount -t sysfs sys /sys
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /var/run 2>/dev/null
mount -t tmpfs tmpfs /var/lock 2>/dev/null
mount -t tmpfs tmpfs /var/log 2>/dev/null
mount -t tmpfs tmpfs /mnt
mkdir -p /mnt/out /mnt/guest
[ -n "$DLAB_OUT" ] && mount -t hostfs none /mnt/out -o "$DLAB_OUT"
[ -n "$DLAB_GUEST" ] && mount -t hostfs none /mnt/guest -o "$DLAB_GUEST"
# a host path under DLAB_GUEST, as the guest sees it
guest_path() {
    case "$1" in
        "$DLAB_GUEST"/*) [ -n "$DLAB_GUEST" ] && echo "/mnt/guest/${1#"$DLAB_GUEST"/}" && return ;;
    esac
    echo "$1"
}
# the host reads /mnt/out while the guest runs: write dirty pages back within 0.1 s, not 30 s
echo 10 > /proc/sys/vm/dirty_writeback_centisecs
echo 10 > /proc/sys/vm/dirty_expire_centisecs
[ -n "$DLAB_ETC_PPP" ] && mount -t hostfs none /etc/ppp -o "$DLAB_ETC_PPP"
echo 0 > /proc/sys/kernel/ctrl-alt-del
echo 1 > /proc/sys/net/ipv4/ip_forward
ip link set lo up
# The UML kernel's modules: modprobe -d ROOT looks in ROOT/lib/modules/<release>.
mkdir -p /run/modroot/lib/modules
ln -s "/usr/lib/uml/modules/$(uname -r)" "/run/modroot/lib/modules/$(uname -r)"
MODPROBE="modprobe -d /run/modroot"
export MODPROBE
[ -n "$DLAB_RUN" ] && . "$(guest_path "$DLAB_RUN")"
echo "dlab-guest ready"
while :; do
    if ! read -r cmd arg; then
        # console closed (the lab's owner left a persistent lab): run on until signalled
        while :; do sleep 3600; done
    fi
    case "$cmd" in
        stop) break ;;
        run) sh "$(guest_path "$arg")" > /dev/null 2>&1; echo "dlab-guest done $arg $?" ;;
    esac
done
echo "dlab-guest stopping"
echo o > /proc/sysrq-trigger
while :; do sleep 1; done
