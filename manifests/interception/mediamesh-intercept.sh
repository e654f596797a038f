#!/bin/sh
# mediamesh-intercept.sh: sends a pod's media traffic (RTSP over TCP, declared
# UDP ports) to its mediamesh proxy, and nothing else. The injector's init
# container runs it; the end-to-end tests run the same file in network
# namespaces (test/e2e/interception-netns.test.ts, istio-coexistence.test.ts).
# POSIX sh; needs iptables (legacy or nft variant, with -save and -restore)
# and iproute2's `ip`; runs as root (or with NET_ADMIN and NET_RAW) in the
# pod's network namespace. IPv4 only.
#
# Contract with the injector (also in manifests/interception/README.md):
#
#   mediamesh-intercept.sh apply --proxy-uid UID [--proxy-gid GID]
#       [--rtsp-ports LIST] [--udp-ports LIST]
#       [--inbound-rtsp-ports LIST] [--inbound-udp-ports LIST]
#       [--iptables-backend auto|legacy|nft]
#   mediamesh-intercept.sh clean
#
#   LIST is comma separated ports and ranges: 554,8554 or 5004-5005,6000.
#   --rtsp-ports, --udp-ports: TCP/UDP ports the app dials (outbound).
#   --inbound-rtsp-ports, --inbound-udp-ports: ports the app serves (inbound).
#   --proxy-uid (1339 for mediamesh; Istio's proxy is 1337): traffic of this
#   UID is never captured. --proxy-gid does the same by group, for a proxy
#   that runs as root with its own group (as Istio's TPROXY mode does).
#   `apply` is idempotent: applying again with the same flags leaves the same
#   rules; with other flags it converges to what the new flags say.
#   `clean` removes exactly what `apply` added (and nothing when nothing was),
#   from whichever iptables backend holds it.
#   Exit status: 0 done, 1 failed (the reason on stderr), 2 bad usage.
#
# What `apply` installs (names chosen beside Istio's ISTIO_* chains, its
# ports 15001/15006, its mark 0x539 and its route table 133):
#
#   Outbound UDP keeps its destination:
#   mangle MEDIAMESH_OUTBOUND  (from OUTPUT, first)  UDP to the declared ports
#          gets mark 0x10000/0x10000, unless it comes from the proxy's
#          UID/GID, goes to an address of the pod itself, or answers a flow
#          that came in.
#   ip rule pref 1339: fwmark 0x10000/0x10000 lookup table 1339, which holds
#          one route: local 0.0.0.0/0 dev lo. A marked datagram is delivered
#          inside the pod with its destination untouched (a Service's
#          clusterIP:port), where the proxy's listener for that address and
#          port takes it: a transparent socket (IP_TRANSPARENT, Envoy's
#          `transparent: true`) bound to the clusterIP itself, which also
#          answers from it. Two Services on one port (RTP 5004) reach two
#          different listeners.
#   filter MEDIAMESH_DELIVER   (from INPUT, first)  a marked datagram that no
#          transparent socket takes is dropped, never handed to an app socket
#          on that port (the kernel cannot answer ICMP from an address that
#          is not the pod's).
#   Outbound RTSP (TCP), the way Istio does TCP:
#   nat MEDIAMESH_OUTPUT       (from OUTPUT, first)  connections to the
#          declared RTSP ports are redirected to the proxy's 127.0.0.1:15101;
#          Envoy's original_dst listener filter reads the Service's address
#          (SO_ORIGINAL_DST) and use_original_dst hands the connection to that
#          Service's listener, which binds nothing (bind_to_port: false), so
#          an app listening on 554 itself is never in the way. The proxy's
#          own traffic and marked datagrams skip the rest of nat OUTPUT: a
#          later REDIRECT (Istio's, to 15001) never takes what is ours.
#   Inbound, from outside the pod:
#   nat MEDIAMESH_INBOUND      (from PREROUTING, first)  RTSP ports are
#          redirected to the proxy's 15106 (original port from
#          SO_ORIGINAL_DST); each inbound UDP port (sorted, ranges expanded,
#          at most 64) to its own proxy port 15200, 15201, ... in that order,
#          since a UDP listener cannot learn the original port.
#
# The iptables backend (legacy or nft) is the one already in use in the
# pod's namespace, so that our rules and Istio's sit in the same tables:
#   1. the backend holding MEDIAMESH_ chains (an earlier apply);
#   2. else the one holding ISTIO_ chains (istio-iptables ran first);
#   3. else what istio-iptables would pick if it ran next: legacy when
#      iptables-legacy-save shows any table in this namespace, else nft.
# --iptables-backend overrides this.
set -eu

PROG=mediamesh-intercept
MARK=0x10000/0x10000
ROUTE_TABLE=1339
RULE_PREF=1339
OUTBOUND_TCP_PORT=15101
INBOUND_TCP_PORT=15106
INBOUND_UDP_BASE=15200
INBOUND_UDP_MAX=64
# Each chain as table:chain:parent, in the order apply hooks them in (the
# mark last, so that no packet is marked before everything else is there).
CHAINS="filter:MEDIAMESH_DELIVER:INPUT nat:MEDIAMESH_OUTPUT:OUTPUT nat:MEDIAMESH_INBOUND:PREROUTING mangle:MEDIAMESH_OUTBOUND:OUTPUT"
CLEAN_ORDER="mangle:MEDIAMESH_OUTBOUND:OUTPUT nat:MEDIAMESH_INBOUND:PREROUTING nat:MEDIAMESH_OUTPUT:OUTPUT filter:MEDIAMESH_DELIVER:INPUT"
WAIT_SECONDS=10

usage() {
  cat >&2 <<EOF
usage: $0 apply --proxy-uid UID [--proxy-gid GID] [--rtsp-ports LIST] [--udp-ports LIST]
                [--inbound-rtsp-ports LIST] [--inbound-udp-ports LIST] [--iptables-backend auto|legacy|nft]
       $0 clean
LIST: comma separated ports and ranges, e.g. 554,8554 or 5004-5005,6000
EOF
}

die() {
  echo "$PROG: $*" >&2
  exit 1
}

usage_error() {
  echo "$PROG: $*" >&2
  usage
  exit 2
}

say() {
  echo "$PROG: $*"
}

# --- arguments -------------------------------------------------------------

# Prints a port number if $2 is one (1-65535, no sign, no leading zero).
port_number() {
  case $2 in
    '' | *[!0-9]* | 0*) usage_error "$1: \"$2\" is not a port (1-65535)" ;;
  esac
  [ "${#2}" -le 5 ] && [ "$2" -le 65535 ] || usage_error "$1: \"$2\" is not a port (1-65535)"
  echo "$2"
}

# Validates a LIST and prints its items one per line as "from to".
port_items() {
  flag=$1
  list=$2
  [ -n "$list" ] || return 0
  case $list in
    ,* | *, | *,,*) usage_error "$flag: \"$list\" has an empty item" ;;
  esac
  old_ifs=$IFS
  IFS=,
  set -f
  # shellcheck disable=SC2086 # split on commas on purpose
  set -- $list
  set +f
  IFS=$old_ifs
  for item in "$@"; do
    case $item in
      *-*-*) usage_error "$flag: \"$item\" is not a port or a range a-b" ;;
      *-*)
        from=$(port_number "$flag" "${item%-*}") || exit 2
        to=$(port_number "$flag" "${item#*-}") || exit 2
        [ "$from" -le "$to" ] || usage_error "$flag: range \"$item\" ends before it starts"
        ;;
      *)
        from=$(port_number "$flag" "$item") || exit 2
        to=$from
        ;;
    esac
    echo "$from $to"
  done
}

# multiport takes at most 15 ports per rule, a range counting as two: prints
# one --dports value per line ("554,8554" / "5004:5005,6000").
multiport_chunks() {
  printf '%s\n' "$1" | awk '
    NF == 2 {
      item = ($1 == $2) ? $1 : $1 ":" $2
      weight = ($1 == $2) ? 1 : 2
      if (used + weight > 15) { print chunk; chunk = ""; used = 0 }
      chunk = (chunk == "") ? item : chunk "," item
      used += weight
    }
    END { if (chunk != "") print chunk }'
}

# Every port of the items, ascending, once each.
expand_ports() {
  printf '%s\n' "$1" | awk 'NF == 2 { for (p = $1; p <= $2; p++) print p }' | sort -n -u
}

# True if any port of items $2 is in $3..$4.
overlaps() {
  printf '%s\n' "$1" | awk -v lo="$2" -v hi="$3" 'NF == 2 && $1 <= hi && $2 >= lo { found = 1 } END { exit !found }'
}

COMMAND=${1:-}
[ $# -gt 0 ] && shift
case $COMMAND in
  apply | clean) ;;
  -h | --help | help) usage; exit 0 ;;
  '') usage_error "missing command: apply or clean" ;;
  *) usage_error "unknown command \"$COMMAND\": apply or clean" ;;
esac

PROXY_UID=
PROXY_GID=
RTSP_PORTS=
UDP_PORTS=
INBOUND_RTSP_PORTS=
INBOUND_UDP_PORTS=
BACKEND=auto
while [ $# -gt 0 ]; do
  flag=$1
  case $flag in
    --*=*) value=${flag#*=}; flag=${flag%%=*}; shift ;;
    --*)
      [ $# -ge 2 ] || usage_error "$flag needs a value"
      value=$2
      shift 2
      ;;
    *) usage_error "unexpected argument \"$flag\"" ;;
  esac
  case $COMMAND:$flag in
    apply:--proxy-uid) PROXY_UID=$value ;;
    apply:--proxy-gid) PROXY_GID=$value ;;
    apply:--rtsp-ports) RTSP_PORTS=$value ;;
    apply:--udp-ports) UDP_PORTS=$value ;;
    apply:--inbound-rtsp-ports) INBOUND_RTSP_PORTS=$value ;;
    apply:--inbound-udp-ports) INBOUND_UDP_PORTS=$value ;;
    apply:--iptables-backend) BACKEND=$value ;;
    *) usage_error "$COMMAND does not take $flag" ;;
  esac
done

case $BACKEND in
  auto | legacy | nft) ;;
  *) usage_error "--iptables-backend: \"$BACKEND\" is not auto, legacy or nft" ;;
esac

if [ "$COMMAND" = apply ]; then
  case $PROXY_UID in
    '') usage_error "apply needs --proxy-uid (the mediamesh proxy's UID, 1339)" ;;
    *[!0-9]*) usage_error "--proxy-uid: \"$PROXY_UID\" is not a numeric UID" ;;
  esac
  case $PROXY_GID in
    *[!0-9]*) usage_error "--proxy-gid: \"$PROXY_GID\" is not a numeric GID" ;;
  esac
  [ "$PROXY_UID" != 0 ] || usage_error "--proxy-uid 0 would exempt every root process; run the proxy as its own UID, or as root with --proxy-gid"
  [ "$PROXY_GID" != 0 ] || usage_error "--proxy-gid 0 would exempt every process of group root"
  RTSP_ITEMS=$(port_items --rtsp-ports "$RTSP_PORTS") || exit 2
  UDP_ITEMS=$(port_items --udp-ports "$UDP_PORTS") || exit 2
  INBOUND_RTSP_ITEMS=$(port_items --inbound-rtsp-ports "$INBOUND_RTSP_PORTS") || exit 2
  INBOUND_UDP_ITEMS=$(port_items --inbound-udp-ports "$INBOUND_UDP_PORTS") || exit 2
  INBOUND_UDP_LIST=$(expand_ports "$INBOUND_UDP_ITEMS")
  inbound_udp_count=$(printf '%s' "$INBOUND_UDP_LIST" | awk 'END { print NR }')
  [ "$inbound_udp_count" -le "$INBOUND_UDP_MAX" ] \
    || usage_error "--inbound-udp-ports: $inbound_udp_count ports; at most $INBOUND_UDP_MAX (each needs its own proxy port from $INBOUND_UDP_BASE)"
  inbound_udp_last=$((INBOUND_UDP_BASE + INBOUND_UDP_MAX - 1))
  ! overlaps "$INBOUND_UDP_ITEMS" "$INBOUND_UDP_BASE" "$inbound_udp_last" \
    || usage_error "--inbound-udp-ports: $INBOUND_UDP_BASE-$inbound_udp_last are the proxy's own inbound UDP ports"
  ! overlaps "$INBOUND_RTSP_ITEMS" "$INBOUND_TCP_PORT" "$INBOUND_TCP_PORT" \
    || usage_error "--inbound-rtsp-ports: $INBOUND_TCP_PORT is the proxy's own inbound RTSP port"
fi

# --- tools and backend -----------------------------------------------------

[ "$(id -u)" = 0 ] || die "must run as root (uid 0) in the pod's network namespace; it is uid $(id -u)"
command -v ip >/dev/null 2>&1 || die "ip (iproute2) is not installed"

# Sets IPT, IPT_SAVE, IPT_RESTORE for backend $1; false if it is not installed.
use_backend() {
  if command -v "iptables-$1" >/dev/null 2>&1 && command -v "iptables-$1-save" >/dev/null 2>&1 && command -v "iptables-$1-restore" >/dev/null 2>&1; then
    IPT=iptables-$1
    IPT_SAVE=iptables-$1-save
    IPT_RESTORE=iptables-$1-restore
    return 0
  fi
  # An image with only the plain names: they are one backend or the other.
  if command -v iptables >/dev/null 2>&1 && command -v iptables-save >/dev/null 2>&1 && command -v iptables-restore >/dev/null 2>&1; then
    plain=legacy
    case $(iptables --version 2>/dev/null) in *nf_tables*) plain=nft ;; esac
    if [ "$plain" = "$1" ]; then
      IPT=iptables
      IPT_SAVE=iptables-save
      IPT_RESTORE=iptables-restore
      return 0
    fi
  fi
  return 1
}

# The rules of backend $1 in this namespace (empty when it is not installed).
# Reading never creates a table.
dump_backend() {
  if use_backend "$1"; then "$IPT_SAVE" 2>/dev/null || true; fi
}

has_chain_prefix() {
  printf '%s\n' "$1" | grep -q "^:$2"
}

# True if dump $1 declares chain $3 in table $2.
has_chain() {
  printf '%s\n' "$1" | awk -v t="*$2" -v c=":$3 " '
    $0 == t { here = 1; next }
    /^\*/ { here = 0 }
    here && index($0, c) == 1 { found = 1 }
    END { exit !found }'
}

LEGACY_DUMP=$(dump_backend legacy)
NFT_DUMP=$(dump_backend nft)

# Prints the backends whose dump has chains starting with $1.
backends_with() {
  found=
  if has_chain_prefix "$LEGACY_DUMP" "$1"; then found=legacy; fi
  if has_chain_prefix "$NFT_DUMP" "$1"; then found="${found:+$found }nft"; fi
  echo "$found"
}

detect_backend() {
  ours=$(backends_with MEDIAMESH_)
  case $ours in
    legacy | nft) echo "$ours"; return ;;
    "legacy nft") die "mediamesh chains are in both iptables backends (legacy and nft); run \`$0 clean\`, then apply again" ;;
  esac
  istio=$(backends_with ISTIO_)
  case $istio in
    legacy | nft) echo "$istio"; return ;;
    "legacy nft") die "Istio's chains are in both iptables backends (legacy and nft); choose one with --iptables-backend" ;;
  esac
  # What istio-iptables would choose in this namespace if it ran next.
  if [ -n "$LEGACY_DUMP" ] && use_backend legacy; then echo legacy; return; fi
  if use_backend nft; then echo nft; return; fi
  if use_backend legacy; then echo legacy; return; fi
  die "no iptables found: install iptables (iptables-legacy or iptables-nft, with their -save and -restore)"
}

if [ "$COMMAND" = clean ]; then
  BACKENDS=$(backends_with MEDIAMESH_)
elif [ "$BACKEND" = auto ]; then
  BACKENDS=$(detect_backend)
else
  use_backend "$BACKEND" || die "--iptables-backend $BACKEND: iptables-$BACKEND (with -save and -restore) is not installed"
  ours=$(backends_with MEDIAMESH_)
  if [ -n "$ours" ] && [ "$ours" != "$BACKEND" ]; then
    die "mediamesh chains are already in iptables-$ours; run \`$0 clean\` before applying with --iptables-backend $BACKEND"
  fi
  BACKENDS=$BACKEND
fi

# --- iptables and routing steps ---------------------------------------------

ipt() {
  "$IPT" -w "$WAIT_SECONDS" "$@"
}

current_dump() {
  "$IPT_SAVE" 2>/dev/null || true
}

# Removes every jump from $2 (table $1) to $3, then chain $3 itself.
remove_chain() {
  while ipt -t "$1" -C "$2" -j "$3" 2>/dev/null; do
    ipt -t "$1" -D "$2" -j "$3"
  done
  ipt -t "$1" -F "$3"
  ipt -t "$1" -X "$3"
}

ensure_jump() {
  ipt -t "$1" -C "$2" -j "$3" 2>/dev/null || ipt -t "$1" -I "$2" 1 -j "$3"
}

OUR_RULE="fwmark $MARK lookup $ROUTE_TABLE"

rule_lines() {
  ip -4 rule show 2>/dev/null | awk -v pref="$RULE_PREF:" '$1 == pref'
}

our_rule_present() {
  rule_lines | grep -q "fwmark $MARK lookup $ROUTE_TABLE"
}

# Routes of our table, one per line; none when the table is empty.
table_routes() {
  ip -4 route show table "$ROUTE_TABLE" 2>/dev/null || true
}

our_route_present() {
  table_routes | grep -q '^local default dev lo'
}

ensure_routing() {
  foreign_rule=$(rule_lines | grep -v "fwmark $MARK lookup $ROUTE_TABLE" || true)
  [ -z "$foreign_rule" ] || die "ip rule priority $RULE_PREF is taken by something else: $foreign_rule"
  foreign_routes=$(table_routes | grep -v '^local default dev lo' || true)
  [ -z "$foreign_routes" ] || die "route table $ROUTE_TABLE holds routes that are not mediamesh's: $foreign_routes"
  our_route_present || ip -4 route add local 0.0.0.0/0 dev lo table "$ROUTE_TABLE"
  # shellcheck disable=SC2086 # OUR_RULE is words on purpose
  our_rule_present || ip -4 rule add pref "$RULE_PREF" $OUR_RULE
}

remove_routing() {
  removed=
  while our_rule_present; do
    # shellcheck disable=SC2086
    ip -4 rule del pref "$RULE_PREF" $OUR_RULE
    removed=yes
  done
  if our_route_present; then
    ip -4 route del local 0.0.0.0/0 dev lo table "$ROUTE_TABLE"
    removed=yes
  fi
  [ -z "$removed" ] || say "removed ip rule $RULE_PREF ($OUR_RULE) and the route of table $ROUTE_TABLE"
}

comment() {
  printf -- '-m comment --comment "mediamesh: %s"' "$1"
}

# The iptables-restore input for what the flags ask; a chain declared here is
# emptied and refilled in one step, so a second apply never doubles a rule.
restore_input() {
  udp=$1
  tcp=$2
  inbound=$3
  if [ -n "$udp" ]; then
    cat <<EOF
*filter
:MEDIAMESH_DELIVER - [0:0]
-A MEDIAMESH_DELIVER -m mark ! --mark $MARK -j RETURN
-A MEDIAMESH_DELIVER -m socket --transparent $(comment "a transparent socket of the proxy takes it") -j RETURN
-A MEDIAMESH_DELIVER $(comment "no proxy listener for this address and port") -j DROP
COMMIT
EOF
  fi
  echo '*nat'
  echo ':MEDIAMESH_OUTPUT - [0:0]'
  echo "-A MEDIAMESH_OUTPUT -m owner --uid-owner $PROXY_UID $(comment "traffic of the proxy") -j ACCEPT"
  [ -z "$PROXY_GID" ] || echo "-A MEDIAMESH_OUTPUT -m owner --gid-owner $PROXY_GID $(comment "traffic of the proxy") -j ACCEPT"
  [ -z "$udp" ] || echo "-A MEDIAMESH_OUTPUT -m mark --mark $MARK $(comment "outbound UDP, already routed to the proxy") -j ACCEPT"
  if [ -n "$tcp" ]; then
    echo "-A MEDIAMESH_OUTPUT -p tcp -m addrtype --dst-type LOCAL $(comment "to the pod itself") -j RETURN"
    multiport_chunks "$RTSP_ITEMS" | while read -r ports; do
      echo "-A MEDIAMESH_OUTPUT -p tcp -m multiport --dports $ports $(comment "outbound RTSP") -j REDIRECT --to-ports $OUTBOUND_TCP_PORT"
    done
  fi
  if [ -n "$inbound" ]; then
    echo ':MEDIAMESH_INBOUND - [0:0]'
    echo '-A MEDIAMESH_INBOUND -i lo -j RETURN'
    multiport_chunks "$INBOUND_RTSP_ITEMS" | while read -r ports; do
      echo "-A MEDIAMESH_INBOUND -p tcp -m multiport --dports $ports $(comment "inbound RTSP") -j REDIRECT --to-ports $INBOUND_TCP_PORT"
    done
    port=$INBOUND_UDP_BASE
    for p in $INBOUND_UDP_LIST; do
      echo "-A MEDIAMESH_INBOUND -p udp -m udp --dport $p $(comment "inbound UDP $p") -j REDIRECT --to-ports $port"
      port=$((port + 1))
    done
  fi
  echo 'COMMIT'
  if [ -n "$udp" ]; then
    echo '*mangle'
    echo ':MEDIAMESH_OUTBOUND - [0:0]'
    echo "-A MEDIAMESH_OUTBOUND -m owner --uid-owner $PROXY_UID $(comment "traffic of the proxy") -j RETURN"
    [ -z "$PROXY_GID" ] || echo "-A MEDIAMESH_OUTBOUND -m owner --gid-owner $PROXY_GID $(comment "traffic of the proxy") -j RETURN"
    echo "-A MEDIAMESH_OUTBOUND -m addrtype --dst-type LOCAL $(comment "to the pod itself") -j RETURN"
    echo "-A MEDIAMESH_OUTBOUND -m conntrack --ctdir REPLY $(comment "answers to traffic that came in") -j RETURN"
    multiport_chunks "$UDP_ITEMS" | while read -r ports; do
      echo "-A MEDIAMESH_OUTBOUND -p udp -m multiport --dports $ports $(comment "outbound UDP") -j MARK --set-xmark $MARK"
    done
    echo 'COMMIT'
  fi
}

# Whether chain $1 is needed for outbound UDP $2, outbound TCP $3, inbound $4.
wanted_chain() {
  case $1 in
    MEDIAMESH_DELIVER | MEDIAMESH_OUTBOUND) [ -n "$2" ] ;;
    MEDIAMESH_OUTPUT) [ -n "$2$3$4" ] ;;
    MEDIAMESH_INBOUND) [ -n "$4" ] ;;
    *) return 1 ;;
  esac
}

do_apply() {
  use_backend "$BACKENDS" || die "iptables-$BACKENDS is not installed"
  udp=$UDP_ITEMS
  tcp=$RTSP_ITEMS
  inbound=$INBOUND_RTSP_ITEMS$INBOUND_UDP_ITEMS
  dump=$(current_dump)
  # Chains an earlier apply made that these flags no longer want go first.
  for entry in $CLEAN_ORDER; do
    table=${entry%%:*}; rest=${entry#*:}; chain=${rest%%:*}; parent=${rest#*:}
    if ! wanted_chain "$chain" "$udp" "$tcp" "$inbound" && has_chain "$dump" "$table" "$chain"; then
      remove_chain "$table" "$parent" "$chain"
    fi
  done
  if [ -z "$udp" ]; then remove_routing >/dev/null; fi
  if [ -z "$udp$tcp$inbound" ]; then
    say "no ports given: nothing to capture (iptables backend $BACKENDS)"
    return 0
  fi
  input=$(restore_input "$udp" "$tcp" "$inbound")
  if ! errors=$(printf '%s\n' "$input" | "$IPT_RESTORE" -w "$WAIT_SECONDS" --noflush 2>&1); then
    die "$IPT_RESTORE refused the rules: $errors
the rules were:
$input"
  fi
  [ -z "$udp" ] || ensure_routing
  for entry in $CHAINS; do
    table=${entry%%:*}; rest=${entry#*:}; chain=${rest%%:*}; parent=${rest#*:}
    if wanted_chain "$chain" "$udp" "$tcp" "$inbound"; then ensure_jump "$table" "$parent" "$chain"; fi
  done
  summary=
  [ -z "$tcp" ] || summary="outbound RTSP $RTSP_PORTS to $OUTBOUND_TCP_PORT"
  [ -z "$udp" ] || summary="${summary:+$summary; }outbound UDP $UDP_PORTS marked $MARK, routed by table $ROUTE_TABLE"
  [ -z "$INBOUND_RTSP_ITEMS" ] || summary="${summary:+$summary; }inbound RTSP $INBOUND_RTSP_PORTS to $INBOUND_TCP_PORT"
  port=$INBOUND_UDP_BASE
  for p in $INBOUND_UDP_LIST; do
    summary="${summary:+$summary; }inbound UDP $p to $port"
    port=$((port + 1))
  done
  say "applied with iptables-$BACKENDS, proxy uid $PROXY_UID${PROXY_GID:+ gid $PROXY_GID}: $summary"
}

do_clean() {
  for backend in $BACKENDS; do
    use_backend "$backend" || die "iptables-$backend is not installed"
    dump=$(current_dump)
    removed=
    # The reverse of apply's order: the mark goes first.
    for entry in $CLEAN_ORDER; do
      table=${entry%%:*}; rest=${entry#*:}; chain=${rest%%:*}; parent=${rest#*:}
      if has_chain "$dump" "$table" "$chain"; then
        remove_chain "$table" "$parent" "$chain"
        removed="${removed:+$removed }$table/$chain"
      fi
    done
    [ -z "$removed" ] || say "removed iptables-$backend chains $removed"
  done
  remove_routing
  say "clean: done"
}

case $COMMAND in
  apply) do_apply ;;
  clean) do_clean ;;
esac
