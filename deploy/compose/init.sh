#!/bin/sh
# First start of the compose network (deploy/compose.yaml): creates the keys, the witness
# databases and every config in $STATE (the shared volume), then exits. Idempotent: a
# second run changes nothing, so the keys and the witnesses' state survive restarts.
# Private keys are created here, never shipped in the repository.
#
#   STATE   where to write (default /var/lib/witnessnet)
#   ORIGIN  the log's origin (default demo.witnessnet.example/log)
set -eu
STATE=${STATE:-/var/lib/witnessnet}
ORIGIN=${ORIGIN:-demo.witnessnet.example/log}
WITNESSES="witness-1 witness-2 witness-3"
if [ -f "$STATE/.initialised" ]; then
    echo "init: $STATE is already initialised"
    exit 0
fi
umask 077
mkdir -p "$STATE/log"
[ -f "$STATE/log/log.key" ] || witnessnet key generate --name "$ORIGIN" --out "$STATE/log/log.key"
log_vkey=$(witnessnet key vkey "$STATE/log/log.key")
printf '%s\n' "$log_vkey" >"$STATE/log/vkey"

: >"$STATE/network.txt.new"
: >"$STATE/policy.txt.new"
echo "log $log_vkey http://log:8080/" >>"$STATE/policy.txt.new"
for w in $WITNESSES; do
    dir="$STATE/$w"
    [ -f "$dir/witness.key" ] || witnessnet witness init --dir "$dir" --name "$w.witnessnet.example"
    vkey=$(witnessnet key vkey "$dir/witness.key")
    printf '%s\n' "$vkey" >"$dir/vkey"
    echo "witness $w.witnessnet.example $vkey http://$w:7380" >>"$STATE/network.txt.new"
    echo "witness $w $vkey http://$w:7380" >>"$STATE/policy.txt.new"
    cat >"$dir/witness.toml" <<TOML
# Written by deploy/compose/init.sh. Reference: witnessnet witness serve --help.
name = "$w.witnessnet.example"
key_file = "witness.key"
database = "witness.db"
listen = "0.0.0.0:7380"
poll_interval = 10

[[logs]]
origin = "$ORIGIN"
vkeys = ["$log_vkey"]
url = "http://log:8080/"

[gossip]
network_file = "../network.txt"
interval_seconds = 10
TOML
done
echo "group witnesses 2 witness-1 witness-2 witness-3" >>"$STATE/policy.txt.new"
echo "quorum witnesses" >>"$STATE/policy.txt.new"
mv "$STATE/network.txt.new" "$STATE/network.txt"
mv "$STATE/policy.txt.new" "$STATE/policy.txt"

mkdir -p "$STATE/monitor"
cat >"$STATE/monitor/monitor.toml" <<TOML
# Written by deploy/compose/init.sh. Reference: docs/monitor.md.
state = "monitor.db"
listen = "0.0.0.0:7390"
poll_interval = 30

[[logs]]
name = "demo"
origin = "$ORIGIN"
vkey = "$log_vkey"
url = "http://log:8080/"
claims = []
policy = "../policy.txt"
checkpoints = [
$(for w in $WITNESSES; do
    printf '    "http://%s:7380/%s/checkpoint",\n' "$w" \
        "$(printf '%s' "$ORIGIN" | sha256sum | cut -d' ' -f1)"
done)
]
TOML
# Everyone in the network may read the public parts; keys stay 0600.
chmod 0755 "$STATE" "$STATE/log" "$STATE/monitor" "$STATE"/witness-*
chmod 0644 "$STATE/network.txt" "$STATE/policy.txt" "$STATE/log/vkey" "$STATE"/witness-*/vkey
touch "$STATE/.initialised"
echo "init: wrote keys and configs to $STATE"
