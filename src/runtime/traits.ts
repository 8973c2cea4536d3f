/**
 * What differs from one OCI runtime to another, in one record per runtime: the driver (driver.ts), its command line
 * (runtimecli.ts) and the daemon's choice of the builder's runtime ask these, not the runtime's name. A runtime
 * Berth does not know gets the plain command line for everything (`OTHER_RUNTIME`), which any runtime-spec runtime
 * with runc's verbs serves.
 */
export interface RuntimeTraits {
  /**
   * How a created container is started:
   * - `runc-fifo`: runc's exec fifo, without a runc process (execfifo.ts `startThroughFifo`): the created init waits
   *   in an open of `exec.fifo` for writing until someone reads it; a start was a runtime process and a fork of
   *   berthd (~10–17 ms each here, most of what 20 starts at once waited for).
   * - `crun-fifo`: crun's fifo, which works the other way round (execfifo.ts `startThroughCrunFifo`): the created
   *   init waits in a read of it, and the driver writes the byte `crun start` would, sparing a crun process.
   * - `cli`: `<runtime> start`.
   * Either fifo way falls back to `<runtime> start` when there is no fifo (started already, another version of the
   * runtime), which then says why.
   */
  startVia: 'runc-fifo' | 'crun-fifo' | 'cli';
  /**
   * What runs from the driver's sealed in-memory copy of the runtime (sealed.ts, sys/memfd.ts), made on the first
   * create or exec and shared by every driver of the process that runs the same binary:
   * - `containers`: what conmon runs for create and exec. runc copies itself only in `runc init` (CVE-2019-5736):
   *   its other verbs run the installed binary.
   * - `every-call`: berthd's own calls too (state, kill, delete, pause, update, ps) once a create or exec has made
   *   the copy; before (a restarted daemon's calls for its restored containers, which load no FFI for them) and after
   *   the driver's `close()`, the installed binary. crun 1.8 copies itself on every invocation unless it runs from a
   *   sealed copy (into a file under /tmp, then execs that): 3.6 against 1.9 ms for a `crun list` here.
   * - `none`: the installed binary always (a runtime whose protection Berth does not know).
   * The start-up probe runs the installed binary whatever this says (it loads no FFI for one container).
   */
  sealedCopy: 'containers' | 'every-call' | 'none';
  /**
   * How `update --resources` gets the runtime-spec `linux.resources` JSON: `stdin` (runc's `-`), or `file`, a
   * temporary file in the runtime's root (crun 1.8 opens `/dev/stdin`, which a socket as stdin is not; a file works
   * for any runtime).
   */
  updateResources: 'stdin' | 'file';
  /**
   * Whether the runtime itself refuses to pause a paused container (runc does). When not (crun 1.8 pauses it again
   * without a word), the driver asks the runtime's `state` first and refuses it, as runc would.
   */
  refusesRepause: boolean;
  /**
   * Whether the builder's RUN steps use this runtime before the daemon's default: they run it directly (`run` in the
   * foreground, without conmon, so not through runtime-ns either) and read its `--log-format json` log for start
   * failures in runc's logrus shape (build/run.ts). Only runc's is read so; the default runtime is taken otherwise,
   * when it works without a wrapper.
   */
  buildSteps: boolean;
}

/** runc (Go, libcontainer). */
const RUNC: RuntimeTraits = Object.freeze({
  startVia: 'runc-fifo',
  sealedCopy: 'containers',
  updateResources: 'stdin',
  refusesRepause: true,
  buildSteps: true,
});

/** crun (C), 1.8 as Debian 12 ships it. */
const CRUN: RuntimeTraits = Object.freeze({
  startVia: 'crun-fifo',
  sealedCopy: 'every-call',
  updateResources: 'file',
  refusesRepause: false,
  buildSteps: false,
});

/** Any other OCI runtime: the plain command line, nothing assumed of how it works inside. */
export const OTHER_RUNTIME: RuntimeTraits = Object.freeze({
  startVia: 'cli',
  sealedCopy: 'none',
  updateResources: 'file',
  refusesRepause: false,
  buildSteps: false,
});

/** The traits of the runtime picked by `name` (`--runtime runc`); `OTHER_RUNTIME` for a name Berth does not know. */
export function runtimeTraits(name: string): RuntimeTraits {
  if (name === 'runc') return RUNC;
  if (name === 'crun') return CRUN;
  return OTHER_RUNTIME;
}
