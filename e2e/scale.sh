#!/usr/bin/env bash
# scale.sh measures issue 12's CLI scenarios for two builds of ibctl, run
# alternately in the same session so that each ratio compares like with
# like on a noisy machine:
#
#   e2e/scale.sh OLD_BINARY NEW_BINARY [ROUNDS] [SCENARIO...]
#
# Scenarios (all by default except the 32767 ones, which take minutes on
# an old build):
#   create4096   one -b of 4096 `sys write class/net/ib0/create_child` lines
#   delete4096   the same with delete_child
#   create32767  one -b creating every child ib0 can have (0x0001-0x7fff)
#   delete32767  and deleting them
#   linkadd16384 one -b of 16384 `link add link ib0 type ipoib` without a name
#   linkadd4096  the first 4096 of them (with linkadd16384: is it linear?)
#   rss32767     the driver's VmRSS after `link show` of 32767 children
#   linkshow     25 `link show` processes (and ip -d link show, for reference)
#
# Each line gives, per build, the median wall time of the batch (or
# command) and the driver's CPU time (utime+stime) over it, then the
# ratios old/new, then the CLI's CPU time (old-cli, new-cli). Every round
# starts a fresh driver.
set -euo pipefail

old=$(realpath "$1") new=$(realpath "$2")
rounds=${3:-3}
shift $(( $# < 3 ? $# : 3 ))
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(create4096 delete4096 linkadd16384 linkshow)

work=$(mktemp -d /tmp/ibscale.XXXXXX)
chmod 700 "$work"
# Never the default driver: every command names its own socket.
export IBCTL_SOCKET=$work/s.none IBCTL_STATE_DIR=$work/st.none
trap 'for s in "$work"/s.*; do [ -S "$s" ] && IBCTL_SOCKET=$s "$old" driver stop >/dev/null 2>&1; done; rm -rf "$work"' EXIT
tick=$(getconf CLK_TCK)

# batches writes the batch files.
batches() {
	local i
	for i in $(seq 1 32767); do
		printf 'sys write class/net/ib0/create_child 0x%04x\n' "$i" >>"$work/create32767.b"
		printf 'sys write class/net/ib0/delete_child 0x%04x\n' $((i | 0x8000)) >>"$work/delete32767.b"
	done
	head -n 4096 "$work/create32767.b" >"$work/create4096.b"
	head -n 4096 "$work/delete32767.b" >"$work/delete4096.b"
	for i in $(seq 1 16384); do echo 'link add link ib0 type ipoib'; done >"$work/linkadd16384.b"
	head -n 4096 "$work/linkadd16384.b" >"$work/linkadd4096.b"
}

# cpu prints a process's utime+stime in seconds; ccpu this shell's
# waited-for children's (cutime+cstime): the CLI's.
cpu() { awk -v t="$tick" '{printf "%.3f", ($14+$15)/t}' "/proc/$1/stat"; }
ccpu() { awk -v t="$tick" '{printf "%.3f", ($16+$17)/t}' "/proc/$$/stat"; }

# start runs a fresh driver for build $1 and sets pid to its pid.
start() {
	local bin=$1 tag=$2
	export IBCTL_SOCKET=$work/s.$tag IBCTL_STATE_DIR=$work/st.$tag
	rm -rf "$IBCTL_STATE_DIR"
	"$bin" link show >/dev/null
	pid=$("$bin" -j driver status | sed 's/.*"pid":\([0-9]*\).*/\1/')
}

stop() { "$1" driver stop >/dev/null; }

# now prints the monotonic time in seconds.
now() { date +%s.%N; }

# one runs scenario $2 once with build $1 and prints "wall cpu cli-cpu"
# (and the RSS).
one() {
	local bin=$1 sc=$2 tag=$3 t0 t1 c0 c1 extra=""
	start "$bin" "$tag"
	case $sc in
	delete*) "$bin" -b "$work/create${sc#delete}.b" ;;
	rss*) "$bin" -b "$work/create${sc#rss}.b" ;;
	esac
	k0=$(ccpu) c0=$(cpu "$pid") t0=$(now)
	case $sc in
	create* | delete* | linkadd*) "$bin" -b "$work/$sc.b" ;;
	rss*) "$bin" link show >/dev/null ;;
	linkshow) for _ in $(seq 25); do "$bin" link show >/dev/null; done ;;
	esac
	t1=$(now) c1=$(cpu "$pid") k1=$(ccpu)
	case $sc in
	rss*) extra=$(awk '/VmRSS/ {printf " %.1fMiB", $2/1024}' "/proc/$pid/status") ;;
	esac
	stop "$bin"
	echo "$(echo "$t1 - $t0" | bc) $(echo "$c1 - $c0" | bc) $(echo "$k1 - $k0" | bc)$extra"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

batches
printf '%-13s %10s %10s %10s %10s %8s %8s %8s %8s\n' scenario old-wall new-wall old-cpu new-cpu wall× cpu× old-cli new-cli
for sc in "${scenarios[@]}"; do
	: >"$work/old" && : >"$work/new"
	for _ in $(seq "$rounds"); do
		one "$old" "$sc" old >>"$work/old"
		one "$new" "$sc" new >>"$work/new"
	done
	ow=$(cut -d' ' -f1 "$work/old" | median) nw=$(cut -d' ' -f1 "$work/new" | median)
	oc=$(cut -d' ' -f2 "$work/old" | median) nc=$(cut -d' ' -f2 "$work/new" | median)
	ok=$(cut -d' ' -f3 "$work/old" | median) nk=$(cut -d' ' -f3 "$work/new" | median)
	printf '%-13s %10.3f %10.3f %10.3f %10.3f %8.2f %8.2f %8.3f %8.3f' "$sc" "$ow" "$nw" "$oc" "$nc" \
		"$(echo "$ow / $nw" | bc -l)" "$(echo "$oc / ($nc + 0.001)" | bc -l)" "$ok" "$nk"
	case $sc in
	rss*) printf '  RSS old %s new %s' "$(cut -d' ' -f4 "$work/old" | tr '\n' ' ')" "$(cut -d' ' -f4 "$work/new" | tr '\n' ' ')" ;;
	linkshow)
		if command -v ip >/dev/null; then
			t0=$(now)
			for _ in $(seq 25); do ip -d link show >/dev/null; done
			printf '  ip -d link show ×25: %.3f' "$(echo "$(now) - $t0" | bc)"
		fi
		;;
	esac
	echo
done
