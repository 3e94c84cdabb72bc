#!/bin/sh
# Programs the test suite runs for real (make test calls this; CI runs as root):
#   ngircd  a standard IRC server, to prove `chinwag connect` is a real IRC client
#   tmux    the end-to-end terminal test of `chinwag connect`
#   ii      a standard IRC client, to prove chinwag's IRC listener serves real clients
#   chromium  the browser tests of the web client (driven by Playwright, a dev extra)
#   irssi, weechat  classic IRC clients under tmux: history replayed on join (tests/client/test_irssi.py)
#   haproxy   a real TCP load balancer sending PROXY headers (tests/transport/test_haproxy.py)
set -eu
missing=""
for prog in ngircd tmux ii chromium irssi weechat haproxy; do
    if ! command -v "$prog" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$prog" ]; then
        missing="$missing $prog"
    fi
done
# Services the storage and cluster tests start themselves (tests/services.py),
# each on 127.0.0.1 and a free port with its data in a temp dir:
#   postgresql    run as the postgres user; its programs are in
#                 /usr/lib/postgresql/N/bin, not on PATH
#   redis-server  nothing saved to disk
# (Installing would also start them as services; the policy-rc.d below forbids it.)
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    missing="$missing postgresql"
fi
if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
    missing="$missing redis-server"
fi
[ -z "$missing" ] && exit 0
echo "test-deps: installing$missing" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
# Install only: the Debian package would also start an ngircd service on port
# 6667 (chinwag's default IRC port); a policy-rc.d of 101 forbids that.
policy=/usr/sbin/policy-rc.d
made_policy=""
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod +x "$policy"
    made_policy=1
fi
cleanup() { [ -z "$made_policy" ] || $sudo rm -f "$policy"; }
trap cleanup EXIT
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
