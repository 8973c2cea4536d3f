/**
 * Berth's structured build progress: what `POST /build?berthprogress=1` sends beside the classic lines, as
 * `{"berth": BuildEvent}`, for `berth build`'s display. Types only.
 */
export type BuildEvent =
  /** A step starts: its number in the build (`Step N/M`) and in its stage (`[name n/m]`, as BuildKit shows it). */
  | {
      kind: 'step';
      stage: number;
      step: number;
      total: number;
      text: string;
      name?: string;
      index?: number;
      count?: number;
    }
  | { kind: 'triggers'; stage: number; count: number }
  | { kind: 'cached'; stage: number; step: number }
  | { kind: 'run-start'; stage: number; step: number; id: string }
  | { kind: 'output'; stage: number; step: number; stream: 'stdout' | 'stderr'; data: string }
  | { kind: 'run-end'; stage: number; step: number; id: string }
  /** The step's image (` ---> <id>`), with how long the step took. */
  | { kind: 'result'; stage: number; step: number; id: string; ms: number; cached: boolean }
  | { kind: 'stage-done'; stage: number; id: string }
  /** A registry's progress while a base image is pulled (Docker's JSON message). */
  | { kind: 'pull'; stage: number; message: Record<string, unknown> }
  | { kind: 'warning'; text: string };

/**
 * Berth: one entry of a build context as `berth build` describes it in `POST /build/context`, so the engine can say
 * which paths its kept copy of the context lacks.
 */
export interface ContextManifestEntry {
  path: string;
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  size: number;
  /** Milliseconds since the epoch, as `lstat` gives them; `ctime` tells a change that kept the mtime. */
  mtime: number;
  ctime?: number;
  linkname?: string;
}
