/**
 * Differences between berthd and the reference dockerd 20.10 that the differential test expects: deliberate ones
 * (each with its reason; docs/design-notes.md sums them up), data-dependent ones (what the host held when the
 * scenario ran, not what either engine does) and gaps recorded for a later fix (GAPS.md says which scenario shows
 * each and where the fix belongs). Anything not listed here fails the test.
 */
import type { DataDependent, Deliberate, Gap } from './runner.ts';

const ANY = /.*/;

export const DELIBERATE: Deliberate[] = [
  // Versions.
  {
    scenario: /^system\//,
    key: /^header Api-Version$/,
    reason: 'Berth speaks API 1.47 (and answers up to 1.50); dockerd 20.10 stops at 1.41',
  },
  {
    scenario: 'system/versions',
    step: /negotiated|too new/,
    key: ANY,
    reason:
      'the CLI negotiates the server version: 1.47 with Berth, 1.41 with dockerd 20.10; the newest accepted differs likewise',
  },
  {
    scenario: 'system/versions',
    step: /1\.12|1\.0\b/,
    key: ANY,
    reason:
      "Berth's oldest API is 1.22 (skopeo's fixed version); dockerd 20.10 still serves 1.12, moby 25+ refuses below 1.24; Berth's version errors are JSON like every other error",
  },
  {
    scenario: 'system/versions',
    step: /unversioned \/version/,
    key: /Components\[\]\.Name/,
    reason: 'Berth has no containerd, runc shim or docker-init components to list',
  },
  // What Berth is made of.
  {
    scenario: 'system/info',
    key: /^body\.(BerthNetwork|BerthStartedAt|ProductLicense)$/,
    berth: /^(object|string)$/,
    reason: "Berth's additions to /info: the network backend and its firewall chains, the start time, the licence",
  },
  {
    scenario: 'system/info',
    key: /^body\.Runtimes\./,
    reason: "runtimes are named by binary (runc, crun) instead of containerd's shim names",
  },
  {
    scenario: 'system/info',
    key: /^body\.Warnings/,
    reason: 'Berth warns about runtimes that do not work on the host (crun 1.8 on hybrid cgroups here)',
  },
  {
    scenario: ANY,
    key: /GraphDriver\.Data/,
    reason: "Berth's snapshotter is not a graph driver: no overlay directories are shown",
  },
  {
    scenario: ANY,
    key: /^value Driver$/,
    reason: 'the storage driver is named after the snapshotter ("overlayfs"), not "overlay2"',
  },
  {
    scenario: ANY,
    key: /Options\.berth\.firewall\.chains$/,
    berth: /^string$/,
    reason: "Berth's network option naming the firewall chains of the network",
  },
  // Stricter or clearer answers than 20.10's, as newer moby gives them.
  {
    scenario: ANY,
    step: /POST \/auth (without body|invalid JSON)|create: no body|update bad body/,
    key: /^(status|error message)$/,
    reason:
      'a missing or broken JSON body is the client\'s error (400, saying what is wrong), not dockerd 20.10\'s 500 "EOF"',
  },
  {
    scenario: 'containers/create and inspect',
    step: /create: no image/,
    key: ANY,
    reason: 'a container without an image is refused at create (dockerd 20.10 creates it and fails at start)',
  },
  {
    scenario: 'containers/lifecycle',
    step: /wait bad condition/,
    key: ANY,
    reason: 'an unknown wait condition is a 400 at once, as moby 23+ answers (20.10 answers 200 and waits)',
  },
  {
    scenario: 'containers/lifecycle',
    step: /unpause not paused/,
    key: /^status$/,
    reason: 'unpausing a container that is not paused is a conflict (409), as moby 23+ answers, not a 500',
  },
  {
    scenario: ANY,
    step: /start a (missing command|non-executable)|docker run (missing command|not executable)|start (missing command|not executable)|docker exec (missing command|not executable)/,
    key: /^(error message|stderr|stdout)$/,
    reason:
      'runtime errors name Berth\'s path (runc under conmon, no containerd shim); the phrases the docker CLI maps to exit codes 126/127 ("no such file or directory", "permission denied") are the same',
  },
  {
    scenario: ANY,
    key: /^header Content-Type$/,
    step: /logs|^stdout|^tail|^since|^until|^follow|^tty logs/,
    berth: /^application\/vnd\.docker\.raw-stream$/,
    reason: 'logs carry a Content-Type below API 1.42 as moby 22+ sends it (raw-stream); dockerd 20.10 sends none',
  },
  {
    scenario: 'attach',
    step: /attach missing/,
    key: ANY,
    reason: 'an attach to a missing container fails before the hijack with a JSON error, as every other 404',
  },
  {
    scenario: 'docker-py/containers and exec',
    key: /^value attach logs stream=0$/,
    reason:
      "docker-py's attach(logs=True, stream=False) gets the logs so far, as the API reference and the raw HTTP answer of both engines say; through docker-py dockerd 20.10 returns b''",
  },
  {
    scenario: 'system/search',
    key: ANY,
    reason:
      "Berth searches a registry's /v2/_catalog and refuses a bad limit or a missing term as the client's error (400); dockerd 20.10 asks the v1 search API and answers 500",
  },
  {
    scenario: /system\/plugins/,
    step: /unreachable registry|privileges/,
    key: /^status$/,
    reason: 'an unreachable registry is 503 (unavailable) rather than 500; plugin privileges: Berth has no plugins',
  },
  {
    scenario: 'docker CLI/run flags',
    step: /docker search/,
    key: /^stderr$/,
    reason: "Berth searches a registry's catalog (v2), dockerd 20.10 the v1 search API: the failure texts differ",
  },
  {
    scenario: ANY,
    step: /pull from an unreachable registry|create without fromImage or fromSrc|tag bad repo/,
    key: /^(status|error message)$/,
    reason:
      "an unreachable registry is 503 with the URL tried; a request without fromImage or fromSrc, or a bad repository name, is the client's error (400)",
  },
  {
    scenario: 'events',
    step: /bad filter|bad since/,
    key: ANY,
    reason:
      'an unknown filter or unparsable time is refused (400); dockerd 20.10 ignores the filter and streams everything, or answers 500 for the time',
  },
  {
    scenario: ANY,
    key: /memory_stats\.stats\.(total_)?(shmem|swap|swapcached|workingset_refault_anon|workingset_refault_file)$/,
    berth: /^number$/,
    reason: "memory_stats.stats passes every counter of the cgroup's memory.stat through",
  },
  {
    scenario: ANY,
    step: /inspect missing|inspect bad reference|docker-py values/,
    key: /^(error message|value images get missing)$/,
    reason: 'image look-up errors say "No such image: NAME" once, as moby 23+; dockerd 20.10 wraps it twice',
  },
  {
    scenario: 'system/df and prune',
    key: /^body\.BuildCache$/,
    berth: /^array$/,
    reason: 'an empty build cache is [] rather than null',
  },
  {
    scenario: 'docker CLI/run flags',
    step: /unknown image/,
    key: /^stderr$/,
    reason: 'no registry is reachable here: the two engines word the failed pull of a Docker Hub image differently',
  },
  {
    scenario: 'images/load save import',
    step: /^load( quiet)?$|load pre-1\.10 layout/,
    key: /^(line|line\[\]|line\[\]\.(id|status|progressDetail)|value \[\]\.stream)$/,
    reason:
      'a load reports each layer as it goes and names every image it loaded, the pre-1.10 layout too (dockerd 20.10 is silent for small layers and for that layout)',
  },
  {
    scenario: 'images/load save import',
    step: /load not a tar|load empty tar|docker load not a tar/,
    key: ANY,
    reason:
      "a body that is not an image archive is the client's error (400, saying so), as the issue asks; dockerd 20.10 answers 200 and an error line",
  },
  {
    scenario: 'volumes/prune',
    step: /1\.43/,
    key: ANY,
    reason: 'API 1.43 is newer than dockerd 20.10 serves',
  },
  {
    scenario: 'containers/create and inspect',
    step: /bad restart policy/,
    key: /^error message$/,
    reason:
      'a bad restart policy is worded as moby 25+ words it (naming the policies there are); 20.10 says only "invalid restart policy \'X\'"',
  },
  {
    scenario: ANY,
    step: /inspect missing command|docker exec missing command/,
    key: /^(value ExitCode|exit)$/,
    reason:
      'an exec of a command that does not exist ends with 127, as moby 28+ (20.10 overwrote the 127 it had found with 126)',
  },
  { scenario: ANY, key: /^value exec_run missing\.ok$/, reason: 'exec of a missing command: 127, as moby 28+' },
  {
    scenario: ANY,
    key: /RepoDigests/,
    reason:
      "RepoDigests lists name@<manifest digest> for every name of an image, pulled or not, as moby's containerd image store does (Docker 29's default); 20.10's graph-driver store knows no digest for a loaded image",
  },
  {
    scenario: 'archive/put',
    step: /onto a file|not a tar/,
    key: /^status$/,
    reason:
      "extracting onto a file, or a body that is not a tar, is the client's error (400, as moby 23+ answers the first); 20.10 answers 500",
  },
  {
    scenario: 'archive/get and head',
    step: /^GET \/d\/f\/$/,
    key: /^error message$/,
    reason: 'the error names the path in the container, where dockerd names the host path inside its graph driver',
  },
  {
    scenario: 'archive/get and head',
    step: /without path/,
    key: /^error message$/,
    reason: 'moby 23+ wording ("path cannot be empty"; 20.10 lacks the space)',
  },
  {
    scenario: 'containers/log drivers',
    step: /--log-driver syslog/,
    key: /^(exit|stderr)$/,
    reason:
      'Berth has no syslog (nor journald, gelf, …) driver: it refuses them at create, saying so, where dockerd sends the logs away (the issue asks for a clear refusal rather than a driver accepted and ignored)',
  },
  {
    scenario: 'images/list and prune',
    step: /prune dangling|docker images/,
    key: ANY,
    reason:
      'image prune keeps the last tag-history-depth versions of every tag (berth image rollback), untagged or not, as docs/design-notes.md says; `berth image prune --history` or tag-history-depth 0 prunes them as dockerd does',
  },
];

/**
 * Differences that come from the state of the host when the scenario ran, not from a choice of either engine: the
 * same code on both sides may show either value, so a run that shows one says nothing about Berth. Each key is
 * narrow enough that a difference in what both engines do show (a field's name or type) still fails.
 */
export const DATA_DEPENDENT: DataDependent[] = [
  {
    scenario: ANY,
    key: /blkio_stats\.(io_service_bytes|io_serviced)_recursive\[\]$/,
    reason:
      "the blkio lists name the devices the container's cgroup read from or wrote to, which depends on what the page cache held: either engine may list none in a run (both read the cgroup's files the same way); when both list some, the fields of the entries are compared",
  },
];

/** Gaps in the code being restructured (containers/, network/, images/), one id per item of GAPS.md. */
export const GAPS: Gap[] = [];
