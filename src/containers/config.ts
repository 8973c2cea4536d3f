/**
 * The container create request in Docker's shape, and the pure steps from it to what the container runs:
 * name and ID rules, merging the image's config, validating the host config. No I/O here.
 */
import { randomBytes } from 'node:crypto';
import type {
  ContainerCreateRequest,
  HealthConfig as RequestHealthConfig,
  HostConfig,
} from '../engine-api/containers.ts';
import type { HealthConfig, ImageRunConfig } from '../oci/types.ts';
import { InvalidArgumentError } from '../util/errors.ts';

const NAME_RE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Docker's container-name rule; returns the name without a leading '/'. */
export function validateName(name: string): string {
  if (!NAME_RE.test(name))
    throw new InvalidArgumentError(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  return name.startsWith('/') ? name.slice(1) : name;
}

export function newContainerId(): string {
  return randomBytes(32).toString('hex');
}

const LEFT = [
  'brave',
  'calm',
  'clever',
  'eager',
  'fond',
  'gentle',
  'happy',
  'jolly',
  'keen',
  'kind',
  'lucid',
  'merry',
  'nimble',
  'proud',
  'quiet',
  'sharp',
  'steady',
  'swift',
  'tidy',
  'vivid',
  'wise',
  'witty',
  'zealous',
  'bold',
];
const RIGHT = [
  'anchor',
  'beacon',
  'buoy',
  'cargo',
  'compass',
  'crane',
  'dock',
  'ferry',
  'harbor',
  'hull',
  'jetty',
  'keel',
  'lantern',
  'mast',
  'mooring',
  'pier',
  'quay',
  'rudder',
  'sail',
  'schooner',
  'tugboat',
  'wharf',
  'skiff',
  'tiller',
];

/** A random name like docker's `adjective_noun` (Berth's own word lists). `taken` tells which are in use. */
export function generateName(taken: (name: string) => boolean, rand: () => number = Math.random): string {
  for (let i = 0; i < 10; i++) {
    const n = `${LEFT[Math.floor(rand() * LEFT.length)]}_${RIGHT[Math.floor(rand() * RIGHT.length)]}`;
    const name = i < 3 ? n : `${n}${Math.floor(rand() * 10)}`;
    if (!taken(name)) return name;
  }
  return `berth_${randomBytes(6).toString('hex')}`;
}

function envKey(e: string): string {
  const eq = e.indexOf('=');
  return eq < 0 ? e : e.slice(0, eq);
}

/**
 * A process's environment with `request` applied: a key given in both keeps its place and takes the request's value,
 * new keys come after (exec's environment over the container's, as Docker's ReplaceOrAppendEnvValues).
 */
export function mergeEnv(image: readonly string[] = [], request: readonly string[] = []): string[] {
  const out = [...image];
  for (const e of request) {
    const k = envKey(e);
    const i = out.findIndex((x) => envKey(x) === k);
    if (i >= 0) out[i] = e;
    else out.push(e);
  }
  return out;
}

/**
 * A container's environment as dockerd's create merges it (daemon/merge.go): the request's variables first, in its
 * order, then the image's whose key the request does not set.
 */
export function createEnv(image: readonly string[] = [], request: readonly string[] = []): string[] {
  const keys = new Set(request.map(envKey));
  return [...request, ...image.filter((e) => !keys.has(envKey(e)))];
}

/**
 * Docker's rules for what a container runs, from the request and the image (daemon/create.go, merge.go):
 * the request's Entrypoint replaces the image's and then the image's Cmd is dropped; an empty request Cmd takes
 * the image's; env, exposed ports, volumes and labels merge; WorkingDir, User, StopSignal, Healthcheck,
 * Shell and OnBuild come from the image unless given.
 */
export function mergeImageConfig(
  req: ContainerCreateRequest,
  image: ImageRunConfig = {},
): ImageRunConfig & { StopTimeout?: number } {
  const entrypointGiven = req.Entrypoint !== undefined && req.Entrypoint !== null;
  const cmdGiven = Array.isArray(req.Cmd) && req.Cmd.length > 0;
  const out: ImageRunConfig & { StopTimeout?: number } = {
    Hostname: req.Hostname ?? '',
    Domainname: req.Domainname ?? '',
    User: req.User || image.User || '',
    AttachStdin: req.AttachStdin ?? false,
    AttachStdout: req.AttachStdout ?? false,
    AttachStderr: req.AttachStderr ?? false,
    Tty: req.Tty ?? false,
    OpenStdin: req.OpenStdin ?? false,
    StdinOnce: req.StdinOnce ?? false,
    Env: createEnv(image.Env ?? [], req.Env ?? []),
    Cmd: cmdGiven ? req.Cmd! : entrypointGiven ? null : (image.Cmd ?? null),
    Image: req.Image ?? '',
    WorkingDir: req.WorkingDir || image.WorkingDir || '',
    Entrypoint: entrypointGiven ? (req.Entrypoint!.length ? req.Entrypoint! : null) : (image.Entrypoint ?? null),
    OnBuild: req.OnBuild ?? null,
    Labels: { ...(image.Labels ?? {}), ...(req.Labels ?? {}) },
  };
  const ports = { ...(image.ExposedPorts ?? {}), ...(req.ExposedPorts ?? {}) };
  if (Object.keys(ports).length) out.ExposedPorts = ports;
  const volumes = { ...(image.Volumes ?? {}), ...(req.Volumes ?? {}) };
  if (Object.keys(volumes).length) out.Volumes = volumes;
  const stop = req.StopSignal || image.StopSignal;
  if (stop) out.StopSignal = stop;
  const hc = mergeHealthcheck(req.Healthcheck, image.Healthcheck);
  if (hc) out.Healthcheck = hc;
  if (req.Shell ?? image.Shell) out.Shell = (req.Shell ?? image.Shell)!;
  if (req.ArgsEscaped) out.ArgsEscaped = true;
  if (req.StopTimeout !== undefined && req.StopTimeout !== null) out.StopTimeout = req.StopTimeout;
  return out;
}

/** The request's healthcheck fields override the image's one by one; `Test: ["NONE"]` disables it. */
export function mergeHealthcheck(
  req: RequestHealthConfig | null | undefined,
  image: HealthConfig | undefined,
): HealthConfig | undefined {
  if (!req && !image) return undefined;
  if (!req) return image;
  if (!image || (req.Test && req.Test.length > 0)) {
    return {
      ...image,
      ...Object.fromEntries(Object.entries(req).filter(([, v]) => v !== undefined && v !== 0)),
    } as HealthConfig;
  }
  const merged: HealthConfig = { ...image };
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const)
    if (req[k]) merged[k] = req[k];
  return merged;
}

/** The argv a container runs: entrypoint + cmd. InvalidArgument when empty, as Docker's "no command specified". */
export function commandLine(c: ImageRunConfig): string[] {
  const argv = [...(c.Entrypoint ?? []), ...(c.Cmd ?? [])];
  if (argv.length === 0) throw new InvalidArgumentError('no command specified');
  return argv;
}

/** What create checks of the request alone, before the image is looked up (dockerd's verifyContainerSettings). */
export interface CreateContext {
  /** The runtimes by name; one `unusable` (it failed its probe) serves only the containers it runs already. */
  runtimes: { get(name: string): { unusable?: string | undefined } | undefined };
  defaultRuntime: string;
  /** An init binary for `--init` is installed. */
  init: boolean;
}

/**
 * The request's own checks: an image is named, the host config is valid, its runtime exists here, `--init` can be
 * honoured. Returns the host config to store (with its runtime). What depends on the image (the command) and the
 * spec's options (`validateSpec`) are checked once the image is known.
 */
export function checkCreateRequest(req: ContainerCreateRequest, ctx: CreateContext): HostConfig {
  if (!req.Image) throw new InvalidArgumentError('config cannot be empty in order to create a container');
  const hc: HostConfig = { ...(req.HostConfig ?? {}) };
  validateHostConfig(hc);
  const runtime = hc.Runtime || ctx.defaultRuntime;
  const driver = ctx.runtimes.get(runtime);
  if (driver === undefined || driver.unusable !== undefined)
    throw new InvalidArgumentError(`unknown or invalid runtime name: ${runtime}`);
  hc.Runtime = runtime;
  if (hc.Init && !ctx.init)
    throw new InvalidArgumentError('--init: no init binary (catatonit or tini) is installed on the host');
  return hc;
}

const POLICIES = new Set(['', 'no', 'always', 'unless-stopped', 'on-failure']);

/** Checks the host config the way dockerd does before anything is created. */
export function validateHostConfig(hc: HostConfig): void {
  const rp = hc.RestartPolicy;
  if (rp) {
    if (!POLICIES.has(rp.Name))
      throw new InvalidArgumentError(
        `invalid restart policy: unknown policy '${rp.Name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`,
      );
    if (rp.MaximumRetryCount && rp.Name !== 'on-failure')
      throw new InvalidArgumentError(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
    if ((rp.MaximumRetryCount ?? 0) < 0)
      throw new InvalidArgumentError('invalid restart policy: maximum retry count cannot be negative');
    if (hc.AutoRemove && rp.Name !== '' && rp.Name !== 'no')
      throw new InvalidArgumentError('conflicting options: cannot specify both --restart and --rm');
  }
  if (hc.Memory !== undefined && hc.Memory !== 0 && hc.Memory < 6 * 1024 * 1024)
    throw new InvalidArgumentError('Minimum memory limit allowed is 6MB');
  if (
    hc.MemorySwap !== undefined &&
    hc.MemorySwap > 0 &&
    hc.Memory !== undefined &&
    hc.Memory > 0 &&
    hc.MemorySwap < hc.Memory
  )
    throw new InvalidArgumentError('Minimum memoryswap limit should be larger than memory limit, see usage');
  if (hc.MemorySwap !== undefined && hc.MemorySwap > 0 && !hc.Memory)
    throw new InvalidArgumentError('You should always set the Memory limit when using Memoryswap limit, see usage');
  if (hc.NanoCpus !== undefined && hc.NanoCpus < 0)
    throw new InvalidArgumentError('invalid CPU value: range of CPUs must be positive');
  if (hc.NanoCpus && (hc.CpuQuota || hc.CpuPeriod))
    throw new InvalidArgumentError('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (hc.CpuShares !== undefined && hc.CpuShares < 0)
    throw new InvalidArgumentError(`invalid CPU shares: ${hc.CpuShares}`);
  if (hc.PidsLimit !== undefined && hc.PidsLimit !== null && hc.PidsLimit < -1)
    throw new InvalidArgumentError(`invalid pids limit: ${hc.PidsLimit}`);
  if (hc.ShmSize !== undefined && hc.ShmSize < 0) throw new InvalidArgumentError('SHM size can not be less than 0');
  if (hc.OomScoreAdj !== undefined && (hc.OomScoreAdj < -1000 || hc.OomScoreAdj > 1000))
    throw new InvalidArgumentError(`Invalid value ${hc.OomScoreAdj}, range for oom score adj is [-1000, 1000]`);
  for (const b of hc.Binds ?? []) parseBind(b);
  for (const m of hc.Mounts ?? []) {
    if (!m.Target) throw new InvalidArgumentError('invalid mount config: Target must not be empty');
    if (!m.Target.startsWith('/'))
      throw new InvalidArgumentError(
        `invalid mount config for type "${m.Type}": invalid mount path: '${m.Target}' mount path must be absolute`,
      );
    if (m.Type === 'bind' && !m.Source)
      throw new InvalidArgumentError(`invalid mount config for type "bind": field Source must not be empty`);
    if (!['bind', 'volume', 'tmpfs'].includes(m.Type))
      throw new InvalidArgumentError(`invalid mount config: mount type unknown: "${m.Type}"`);
  }
}

export interface Bind {
  /** An absolute host path (bind) or a volume name. */
  source: string;
  target: string;
  kind: 'bind' | 'volume';
  readOnly: boolean;
  /** Mode words other than ro/rw: propagation (rprivate, shared, ...), z/Z, nocopy. */
  modes: string[];
}

const VOLUME_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const MODES = new Set(['ro', 'rw', 'z', 'Z', 'nocopy', 'private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave']);

/** `-v SRC:DST[:MODE]` or `-v DST` (anonymous volume, returned with an empty source). */
export function parseBind(spec: string): Bind {
  const parts = spec.split(':');
  if (parts.length === 1) {
    const target = parts[0]!;
    if (!target.startsWith('/'))
      throw new InvalidArgumentError(
        `invalid volume specification: '${spec}': invalid mount config for type "volume": invalid mount path: '${target}' mount path must be absolute`,
      );
    return { source: '', target, kind: 'volume', readOnly: false, modes: [] };
  }
  if (parts.length > 3 || parts.some((p) => p === ''))
    throw new InvalidArgumentError(`invalid volume specification: '${spec}'`);
  const [source, target, mode = ''] = parts as [string, string, string?];
  if (!target.startsWith('/'))
    throw new InvalidArgumentError(
      `invalid volume specification: '${spec}': invalid mount config for type "bind": invalid mount path: '${target}' mount path must be absolute`,
    );
  if (target === '/')
    throw new InvalidArgumentError(
      `invalid volume specification: '${spec}': invalid mount config for type "bind": invalid specification: destination can't be '/'`,
    );
  const modes = mode ? mode.split(',') : [];
  for (const m of modes) if (!MODES.has(m)) throw new InvalidArgumentError(`invalid mode: ${m}`);
  const kind = source.startsWith('/') ? 'bind' : 'volume';
  if (kind === 'volume' && !VOLUME_NAME_RE.test(source))
    throw new InvalidArgumentError(
      `create ${source}: "${source}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  return { source, target, kind, readOnly: modes.includes('ro'), modes: modes.filter((m) => m !== 'ro' && m !== 'rw') };
}
