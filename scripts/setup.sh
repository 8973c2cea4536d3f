#!/usr/bin/env bash
# Installs what Berth needs on Debian 12, and only what is missing: Debian packages, then npm packages.
#   scripts/setup.sh          what berthd needs to run
#   scripts/setup.sh --test   also what the test suite and benchmarks use
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages, and why each is here:
#   runc, crun        OCI runtimes (crun preferred where it works; berthd probes both)
#   conmon            per-container monitor, so containers outlive the daemon
#   catatonit         the small init behind `run --init`
#   busybox-static    the first image, busybox:latest, made on first start (no registry is reachable here)
#   attr              getfattr/setfattr: xattr checks in tests and by hand
#   netavark          bridge networks, IPAM, firewall rules and port forwarding, driven by JSON
#   aardvark-dns      container name resolution on user networks (started by netavark)
#   iproute2,iptables network namespaces and the firewall netavark writes to
#   gnupg             GPG simple signing: `berth trust sign --gpg-key`, and signedBy policies berthd enforces
#   gcc, libc6-dev    build runtime-ns (src/runtime/runtime-ns.c, static against libc.a), the small program through
#                     which crun runs on a hybrid cgroup host (below)
RUN_PKGS=(runc crun conmon catatonit busybox-static attr netavark aardvark-dns iproute2 iptables gnupg gcc libc6-dev)
#   skopeo, umoci     peers that read and write the same archives (acceptance tests)
#   python3-docker    docker-py, a real Engine API client (acceptance tests)
#   docker-registry   CNCF distribution 2.8, the registry peer of pull/push tests (run on loopback)
#   apache2-utils     htpasswd (bcrypt) for the registry's Basic auth set-up
#   tmux              drives `run -it` as a user would, in the TTY test
#   curl              reaches published ports from the host in network tests
#   openssl           verifies Berth's signatures and makes keys to import (trust tests); the test CA of the TLS tests
#   zip               writes OSV databases as OSV's all.zip downloads are (trust tests)
#   rpm               writes a real rpm database (sqlite backend) for the SBOM test
#   docker-compose    Debian's docker-compose 1.29.2, the compose peer (compose tests and benchmarks)
#   docker.io         a reference dockerd 20.10: the differential test compares berthd with it, the compose tests
#                     run docker-compose and berth compose side by side on it
#   ceph-mon, ceph-osd, radosgw
#                     Ceph's S3 server for the registry's S3 blob backend (one monitor, one in-memory OSD, radosgw)
#   postgresql        the registry's PostgreSQL metadata backend (tests run it on their own data dir and port)
TEST_PKGS=(skopeo umoci python3-docker docker-registry apache2-utils tmux curl openssl zip rpm docker-compose docker.io
  ceph-mon ceph-osd radosgw postgresql)
#   docker.io         also the reference dockerd of the benchmarks
#   hyperfine         command timing in benchmarks
#   wrk               HTTP load through published ports in benchmarks
#   podman            a second peer for container and network benchmarks
#   buildah           a second builder beside dockerd's classic one in the build benchmark
BENCH_PKGS=(hyperfine wrk podman buildah)

want=("${RUN_PKGS[@]}")
case "${1:-}" in
  --test) want+=("${TEST_PKGS[@]}") ;;
  --bench) want+=("${TEST_PKGS[@]}" "${BENCH_PKGS[@]}") ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root, or: apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# npm packages (Node 24 itself is one: the `node` package), when node_modules is missing or older than the lock. A
# node_modules that is a symbolic link (a git worktree sharing another checkout's install) is left alone: `npm ci`
# would empty the directory it points to and install here instead.
if [ -L node_modules ]; then
  :
elif [ ! -x node_modules/.bin/node ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

# runtime-ns, when missing or older than its source: crun in its own mount namespace without the host's cgroup v2
# mount (docs/design-notes.md, "crun on a hybrid cgroup host"), built by scripts/build-runtime-ns.sh.
if [ ! -x build/runtime-ns ] || [ src/runtime/runtime-ns.c -nt build/runtime-ns ]; then
  echo "setup: building build/runtime-ns" >&2
  bash scripts/build-runtime-ns.sh
fi

v=$(node_modules/.bin/node -p 'process.versions.node.split(".")[0]')
if [ "$v" != 24 ]; then
  echo "setup: node_modules/.bin/node is Node $v, expected 24" >&2
  exit 1
fi
