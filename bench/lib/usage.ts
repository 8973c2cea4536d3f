/** The usage text of bench/run.ts and the names of its benchmarks. */

/** Every benchmark bench/run.ts knows. */
export const BENCHMARKS: readonly string[] = [
  'load',
  'layers',
  'idle',
  'version',
  'phases',
  'profile',
  'registry',
  'network',
  'containers',
  'start',
  'start-memory',
  'start-burst',
  'trust',
  'compose',
  'compose-config',
  'build',
  'datapath',
  'datapath-load',
  'datapath-pull',
  'datapath-rss',
];

/** The benchmarks run when none is named. */
export const DEFAULT_BENCHMARKS: string[] = ['load', 'layers', 'idle', 'version', 'phases', 'registry'];

export const USAGE = `usage: node bench/run.ts [BENCHMARK...] [options]

benchmarks (default: load layers idle version phases registry):
  load      load of a single-layer image of --mib MiB: berthd vs dockerd vs tar
  layers    load of an image of --layers layers of --layer-kib KiB each: berthd vs dockerd vs tar
  idle      idle RSS of berthd vs dockerd + containerd, after start and after one 'images'
  version   'berth version' (bundle, source, --base's) and 'docker version' end to end beside node -e 0 (hyperfine)
  phases    in-process load of both images split into ingest / unpack / register, and unpackLayer alone
  profile   one load of each image into a berthd under 'node --cpu-prof'; prints where its CPU time goes
  registry  pull, push and warm push of both images (gzip layers) via a local docker-registry: berthd vs skopeo
  containers  run --rm busybox true per CLI, the API create+start+wait+delete cycle, 20 run -d in parallel, memory
            per running container: berthd, dockerd, podman (--network none)
  start     the start path in one run: node and runc floors, the API cycle, run --rm, 20 run -d at once, version,
            berth run --rm: berthd, dockerd, podman; berthd's phase breakdown and RSS (not in the default set)
  start-memory  the start benchmark's RSS part alone, --runs times: berthd after a start and after 20 containers,
            and Node's floors (not in the default set)
  start-burst  20 run -d at once (and 20 API create + start) on berthd and dockerd beside the runc and CLI
            floors, with CPU, forks, berthd's main thread and its per-container timeline (--base DIR: a second
            berthd from another tree beside this one; not in the default set)
  trust     berth scan of a Debian image against --advisories OSV records (warm), and the signature policy's cost
            on a pull of a present image (not in the default set; --debian-root DIR: a debootstrap tree)
  compose   up -d and down -v of a three-service app, berth compose → berthd vs docker-compose 1.29.2 → dockerd (and
            crossed), config of a 50-service file (not in the default set)
  compose-config  the compose benchmark's config step alone: berth compose (bundle and source), node -e 0 and
            docker-compose 1.29.2 (no engines; not in the default set)
  build     docker build / berth build of a multi-stage fixture and a 10,000-file context: berthd vs dockerd's
            classic builder and buildah (cold, cached, one file changed; not in the default set)
  network   run --rm on the bridge vs --network none, 20 started in parallel on a user network, wrk through a
            published port vs the container's IP: berthd, dockerd, podman (not in the default set)
  datapath  issue 11 in one run of --rounds rounds: pull (berthd, dockerd, podman, skopeo) of a --mib single-layer
            and a --layers image, docker load into berthd and dockerd (plain and gzip), unpack beside tar -x,
            floors, a pull's timeline, and peak RSS during a --rss-mib load (not in the default set)
  datapath-load  the datapath load step alone as an A/B: docker load of the --mib image (--compression) into this
            tree's berthd, --base's berthd and dockerd (--no-dockerd: without it), --rounds interleaved rounds, CPU by
            thread (not in the default set)
  datapath-pull  the datapath pull step alone as an A/B: the --mib and --layers gzip images pulled through the API
            and by berth pull (warm; after idle: 12 s after the last pull; after start: berthd restarted) into this
            tree's berthd and --base's,
            beside skopeo copy, --rounds interleaved rounds, CPU by thread and the registry's (not in the default set)
  datapath-rss  the datapath memory step alone, --rounds rounds: peak RSS, where its pages are (smaps), time and
            CPU of a docker load of a --rss-mib layer (--compression) into a fresh berthd (and --base's, each
            --rss-variant and --rss-tree) and into dockerd (--no-dockerd: without it) (not in the default set)

options:
  --mib N              size of the single-layer image (default 256)
  --layers N           layers of the many-layer image (default 50)
  --layer-kib N        size of each of those layers (default 1024)
  --compression LIST   layer compression in the archives: none (as docker save writes), gzip, or none,gzip
                       (default none,gzip)
  --runs N             timed runs of each load (default 5; one untimed warm-up before); for start, runs per round
  --rounds N           interleaved rounds of the start and datapath benchmarks (default 3)
  --rss-mib N          size of the image loaded for the datapath memory step (default 1024; 0: skip it)
  --rss-variant NAME=K=V[,K=V]  datapath-rss: also a berthd run with these environment variables (repeatable)
  --rss-tree NAME=DIR[,K=V]  datapath-rss: also the berthd of the Berth tree in DIR, e.g. main's (repeatable; a
                       tree's first start strips its modules cold: discard that round or warm the tree first)
  --idle-runs N        daemon starts for the idle benchmark (default 3)
  --version-runs N     hyperfine runs per command (default 30)
  --json FILE          also write every figure as JSON
  --base DIR           start-burst: also run DIR's berthd (e.g. main before a change) in the same rounds;
                       version: also DIR's bin/berth against the same berthd
                       compose: also DIR's berth compose → DIR's berthd, a fifth pair in the same rounds
                       datapath-load: also DIR's berthd, in the same rounds
                       datapath-pull: also DIR's berthd and bin/berth, in the same rounds
                       datapath-rss: also DIR's berthd, in the same rounds (as --rss-tree base=DIR)
                       build: also DIR's berthd through the docker CLI and DIR's berth build, in the same rounds
  --no-dockerd         datapath-load, datapath-rss: without dockerd
  --after-removal      datapath-load: each engine loads and removes the image once, untimed, right before its timed
                       load, which then lands where a removal just freed inodes
  --only small|large|run  build: only that part (the multi-stage fixture, the large context, the RUN path)
  --no-buildah         build: without buildah (no goal is measured against it)
  --tree DIR           benchmark another Berth tree (e.g. a patched copy): its bin/berth, bin/berthd and src/
  --advisories N       OSV records in the trust benchmark's database (default 50000)
  --debian-root DIR    a Debian root filesystem (debootstrap) to scan in the trust benchmark
`;
