#!/usr/bin/env bash
# A team deployment on one machine, to try in minutes: PostgreSQL (a throwaway cluster), a development OAuth
# issuer, 3 stateless Easel replicas and haproxy in front. Prints a token per user and the MCP URL; Ctrl-C
# stops everything. Needs: easel-mcp installed with the team extra (pip install -e ".[team]"), Debian's
# postgresql and haproxy packages (apt-get install postgresql haproxy).
#
# Images go to a local S3 server (moto_server, from `pip install "moto[server]"`) when it is installed.
#
# Ports and folders can be changed: EASEL_TEAM_DIR (./easel-team), EASEL_TEAM_PORT (8100; replicas on the next
# three), EASEL_TEAM_PG_PORT (54329), EASEL_TEAM_ISSUER_PORT (9400), EASEL_TEAM_S3_PORT (9500).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mkdir -p "${EASEL_TEAM_DIR:-./easel-team}" && cd "${EASEL_TEAM_DIR:-./easel-team}" && pwd)
port=${EASEL_TEAM_PORT:-8100}
pg_port=${EASEL_TEAM_PG_PORT:-54329}
issuer_port=${EASEL_TEAM_ISSUER_PORT:-9400}
s3_port=${EASEL_TEAM_S3_PORT:-9500}
python=${PYTHON:-python3}
pids=()

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[ -x "$pg_bin/initdb" ] || { echo "PostgreSQL's server is not installed: apt-get install postgresql" >&2; exit 1; }
command -v haproxy >/dev/null || { echo "haproxy is not installed: apt-get install haproxy" >&2; exit 1; }
command -v easel-mcp >/dev/null || { echo "easel-mcp is not on PATH: pip install -e '.[team]'" >&2; exit 1; }
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# PostgreSQL's data folder: $dir/pg, unless (as root) the postgres user cannot reach $dir.
pg_dir="$dir/pg"
if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$dir"; then
    pg_dir="/tmp/easel-team-pg-$(printf '%s' "$dir" | md5sum | cut -c1-12)"
fi

cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    as_postgres "$pg_bin/pg_ctl" -D "$pg_dir" -m fast -w stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 0' INT TERM

# PostgreSQL: a cluster of its own (PostgreSQL refuses to run as root: as root, it runs as postgres).
if [ ! -f "$pg_dir/PG_VERSION" ]; then
    mkdir -p "$pg_dir"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$pg_dir"; fi
    as_postgres "$pg_bin/initdb" -D "$pg_dir" -U easel --auth=trust -E UTF8 >/dev/null
fi
as_postgres "$pg_bin/pg_ctl" -D "$pg_dir" -l "$pg_dir/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_dir" start >/dev/null
as_postgres "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U easel -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'easel'" | grep -q 1 ||
    as_postgres "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U easel easel

# The development issuer (metadata and JWKS on loopback; tokens minted below).
"$python" "$here/dev_issuer.py" serve --port "$issuer_port" --key "$dir/issuer-key.pem" 2>"$dir/issuer.log" &
pids+=($!)

export EASEL_PUBLIC_URL="http://127.0.0.1:$port/mcp"
export EASEL_OAUTH_ISSUER="http://127.0.0.1:$issuer_port"
export EASEL_DATABASE_URL="postgresql://easel@127.0.0.1:$pg_port/easel"
export EASEL_WORKSPACE="${EASEL_WORKSPACE:-$dir/workspace}"

# The S3 server (moto, in memory: its objects last as long as the stack) and a bucket for the images.
if command -v moto_server >/dev/null; then
    moto_server -H 127.0.0.1 -p "$s3_port" >"$dir/s3.log" 2>&1 &
    pids+=($!)
    "$python" - "http://127.0.0.1:$s3_port/easel-team" <<'PY'
import sys, time, urllib.request
for _ in range(600):
    try:
        urllib.request.urlopen(urllib.request.Request(sys.argv[1], method="PUT"), timeout=2)  # CreateBucket
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("the S3 server did not start: see s3.log")
PY
    export EASEL_STORE_URL="s3://easel-team/images" EASEL_S3_ENDPOINT="http://127.0.0.1:$s3_port"
    export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local-team}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local-team}"
    export AWS_REGION="${AWS_REGION:-us-east-1}"
else
    echo "moto_server is not installed (pip install 'moto[server]'): images stay in the shared folder" >&2
fi
for i in 1 2 3; do
    easel-mcp serve --transport http --stateless --host 127.0.0.1 --port $((port + i)) >"$dir/replica-$i.log" 2>&1 &
    pids+=($!)
done

# haproxy with the example configuration, on the chosen ports.
sed -e "s/127.0.0.1:8100/127.0.0.1:$port/" -e "s/127.0.0.1:8101/127.0.0.1:$((port + 1))/" \
    -e "s/127.0.0.1:8102/127.0.0.1:$((port + 2))/" -e "s/127.0.0.1:8103/127.0.0.1:$((port + 3))/" \
    "$here/haproxy.cfg" >"$dir/haproxy.cfg"
haproxy -db -f "$dir/haproxy.cfg" >"$dir/haproxy.log" 2>&1 &
pids+=($!)

for i in 1 2 3; do
    for _ in $(seq 1 600); do
        "$python" -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=2)" \
            "http://127.0.0.1:$((port + i))/healthz" 2>/dev/null && break
        sleep 0.1
    done
done

token() { "$python" "$here/dev_issuer.py" token --port "$issuer_port" --key "$dir/issuer-key.pem" --audience "$EASEL_PUBLIC_URL" "$1"; }
alice=$(token alice) bob=$(token bob)
cat <<MSG
Easel team stack ready
  MCP endpoint (streamable HTTP): $EASEL_PUBLIC_URL
  token for alice: $alice
  token for bob:   $bob
  alice's gallery: ${EASEL_PUBLIC_URL%/mcp}/gallery/?token=$alice
  PostgreSQL: $EASEL_DATABASE_URL   workspace: $EASEL_WORKSPACE   logs: $dir
  images: ${EASEL_STORE_URL:-the workspace folder} ${EASEL_S3_ENDPOINT:+at $EASEL_S3_ENDPOINT}
Clients send 'Authorization: Bearer <token>'. Ctrl-C stops everything.
MSG
wait
