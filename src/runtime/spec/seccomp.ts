/**
 * Docker's JSON seccomp profile format (`--security-opt seccomp=FILE`, and Berth's own default profile) and its
 * conversion to the OCI `linux.seccomp` object for one container. A Docker profile is the OCI shape plus
 * conditions on each rule: `includes`/`excludes` by capability, architecture and minimum kernel; the conversion
 * keeps the rules whose conditions hold for this container, the way moby's `profiles/seccomp` does.
 */
import { InvalidArgumentError } from '../../util/errors.ts';
import type { SeccompAction, SeccompArg, SeccompOperator, SpecSeccomp, SpecSyscallRule } from './oci.ts';
import { x86_64Syscall } from './syscalls-x86_64.ts';

export interface SeccompFilter {
  /** Capability names (CAP_*); all of them must be held (includes) / any of them (excludes). */
  caps?: string[];
  /** Go architecture names as Docker writes them: amd64, 386 (or x86), x32, arm64, arm, riscv64, s390x, ppc64le. */
  arches?: string[];
  /** "major.minor": the rule applies from (includes) / below (excludes) this kernel version. */
  minKernel?: string;
}

export interface SeccompProfileRule {
  name?: string;
  names?: string[];
  action: SeccompAction;
  errnoRet?: number;
  args?: SeccompArg[] | null;
  comment?: string;
  includes?: SeccompFilter;
  excludes?: SeccompFilter;
}

/** A seccomp profile in Docker's format. */
export interface SeccompProfile {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  /** OCI-style explicit list; a profile has this or `archMap`, not both. */
  architectures?: string[];
  archMap?: { architecture: string; subArchitectures: string[] | null }[];
  syscalls?: SeccompProfileRule[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
}

export interface SeccompContext {
  /** The container's capabilities (its bounding set) after --cap-add/--cap-drop. */
  capabilities: readonly string[];
  /** Node's `process.arch` of the host: x64, arm64, arm, ia32, riscv64, s390x, ppc64. */
  arch: string;
  /** The host kernel's release (`6.1.0-18-amd64`); absent means new enough for every minKernel. */
  kernel?: string;
}

const ACTIONS: ReadonlySet<string> = new Set<SeccompAction>([
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
  'SCMP_ACT_NOTIFY',
]);
const OPERATORS: ReadonlySet<string> = new Set<SeccompOperator>([
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_EQ',
  'SCMP_CMP_GE',
  'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ',
]);

/** Node's arch → libseccomp's native architecture. */
const NATIVE_ARCH: Record<string, string> = {
  x64: 'SCMP_ARCH_X86_64',
  ia32: 'SCMP_ARCH_X86',
  arm64: 'SCMP_ARCH_AARCH64',
  arm: 'SCMP_ARCH_ARM',
  riscv64: 'SCMP_ARCH_RISCV64',
  s390x: 'SCMP_ARCH_S390X',
  ppc64: 'SCMP_ARCH_PPC64LE',
  loong64: 'SCMP_ARCH_LOONGARCH64',
};
/** Node's arch → the names a Docker profile's `arches` filter may use for it. */
const GO_ARCH: Record<string, string[]> = {
  x64: ['amd64'],
  ia32: ['386', 'x86'],
  arm64: ['arm64'],
  arm: ['arm'],
  riscv64: ['riscv64'],
  s390x: ['s390x'],
  ppc64: ['ppc64le'],
  loong64: ['loong64'],
};

/** Turns a Docker-format profile into the OCI `linux.seccomp` object for one container. */
export function toOciSeccomp(profile: SeccompProfile, ctx: SeccompContext): SpecSeccomp {
  validateProfile(profile);
  const native = NATIVE_ARCH[ctx.arch];
  if (!native) throw new InvalidArgumentError(`seccomp: unsupported host architecture "${ctx.arch}"`);
  const out: SpecSeccomp = { defaultAction: profile.defaultAction };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  if (profile.architectures && profile.architectures.length > 0) {
    out.architectures = [...profile.architectures];
  } else if (profile.archMap) {
    const arches: string[] = [];
    for (const entry of profile.archMap) {
      if (entry.architecture !== native) continue;
      arches.push(entry.architecture, ...(entry.subArchitectures ?? []));
    }
    if (arches.length > 0) out.architectures = arches;
  }
  if (profile.flags && profile.flags.length > 0) out.flags = [...profile.flags];
  if (profile.listenerPath) out.listenerPath = profile.listenerPath;
  if (profile.listenerMetadata) out.listenerMetadata = profile.listenerMetadata;

  const caps = new Set(ctx.capabilities);
  const goArch = GO_ARCH[ctx.arch] ?? [];
  const kernel = ctx.kernel === undefined ? undefined : parseKernel(ctx.kernel, 'host kernel');
  const syscalls: SpecSyscallRule[] = [];
  for (const rule of profile.syscalls ?? []) {
    const inc = rule.includes ?? {};
    const exc = rule.excludes ?? {};
    if (inc.caps?.length && !inc.caps.every((c) => caps.has(c))) continue;
    if (inc.arches?.length && !inc.arches.some((a) => goArch.includes(a))) continue;
    if (inc.minKernel && kernel && compareKernel(kernel, parseKernel(inc.minKernel, 'minKernel')) < 0) continue;
    if (exc.caps?.length && exc.caps.some((c) => caps.has(c))) continue;
    if (exc.arches?.length && exc.arches.some((a) => goArch.includes(a))) continue;
    if (exc.minKernel && (!kernel || compareKernel(kernel, parseKernel(exc.minKernel, 'minKernel')) >= 0)) continue;
    const converted: SpecSyscallRule = {
      names: rule.names ? (ctx.arch === 'x64' ? [...fastInsertOrder(rule.names)] : [...rule.names]) : [rule.name!],
      action: rule.action,
    };
    if (rule.errnoRet !== undefined) converted.errnoRet = rule.errnoRet;
    if (rule.args && rule.args.length > 0) converted.args = rule.args.map((a) => ({ ...a }));
    syscalls.push(converted);
  }
  out.syscalls = syscalls;
  return out;
}

/**
 * A rule's names from the highest x86_64 system call number down (names without one last, by name). runc adds a
 * rule to libseccomp for each name in turn, and libseccomp 2.5 keeps each architecture's rules in a list sorted by
 * number, found by walking it from the lowest: names in ascending order walk the whole list each time (~360 names,
 * three architectures), descending ones stop at its head. The filter is the same either way (libseccomp orders it
 * by number); each container's `runc init` spends ~1.5 ms less CPU compiling it (bench/README.md, issue 9).
 */
function fastInsertOrder(names: readonly string[]): readonly string[] {
  const known = ordered.get(names);
  if (known) return known;
  const keyed = names.map((n) => ({ n, nr: x86_64Syscall(n) ?? -1 }));
  keyed.sort((a, b) => b.nr - a.nr || (a.n < b.n ? -1 : a.n > b.n ? 1 : 0));
  const out = keyed.map((k) => k.n);
  ordered.set(names, out);
  return out;
}

/** Each names array's order, kept while the profile holding it lives (the default profile: for the process). */
const ordered = new WeakMap<readonly string[], readonly string[]>();

/** Checks a profile's shape (it may come from a user's file); an InvalidArgumentError names what is wrong. */
export function validateProfile(profile: unknown): asserts profile is SeccompProfile {
  const bad = (what: string): never => {
    throw new InvalidArgumentError(`invalid seccomp profile: ${what}`);
  };
  if (typeof profile !== 'object' || profile === null || Array.isArray(profile)) bad('not a JSON object');
  const p = profile as Record<string, unknown>;
  if (typeof p.defaultAction !== 'string' || !ACTIONS.has(p.defaultAction)) {
    bad(`defaultAction ${JSON.stringify(p.defaultAction)} is not a seccomp action`);
  }
  if (p.architectures !== undefined && p.architectures !== null) {
    if (!Array.isArray(p.architectures) || !p.architectures.every((a) => typeof a === 'string')) {
      bad('architectures must be a list of strings');
    }
    if ((p.architectures as string[]).length > 0 && Array.isArray(p.archMap) && p.archMap.length > 0) {
      bad('both architectures and archMap are set');
    }
  }
  if (p.syscalls !== undefined && p.syscalls !== null && !Array.isArray(p.syscalls)) bad('syscalls must be a list');
  for (const [i, r] of ((p.syscalls as unknown[] | undefined) ?? []).entries()) {
    if (typeof r !== 'object' || r === null) bad(`syscalls[${i}] is not an object`);
    const rule = r as Record<string, unknown>;
    const hasName = typeof rule.name === 'string' && rule.name !== '';
    const hasNames = Array.isArray(rule.names) && rule.names.length > 0;
    if (hasName && hasNames) bad(`syscalls[${i}] has both name and names`);
    if (!hasName && !hasNames) bad(`syscalls[${i}] names no syscall`);
    if (hasNames && !(rule.names as unknown[]).every((n) => typeof n === 'string' && n !== '')) {
      bad(`syscalls[${i}].names must be non-empty strings`);
    }
    if (typeof rule.action !== 'string' || !ACTIONS.has(rule.action)) {
      bad(`syscalls[${i}].action ${JSON.stringify(rule.action)} is not a seccomp action`);
    }
    if (rule.args !== undefined && rule.args !== null) {
      if (!Array.isArray(rule.args)) bad(`syscalls[${i}].args must be a list`);
      for (const a of rule.args as unknown[]) {
        const arg = a as Record<string, unknown> | null;
        if (
          typeof arg !== 'object' ||
          arg === null ||
          !Number.isInteger(arg.index) ||
          (arg.index as number) < 0 ||
          (arg.index as number) > 5 ||
          !Number.isInteger(arg.value) ||
          typeof arg.op !== 'string' ||
          !OPERATORS.has(arg.op)
        ) {
          bad(`syscalls[${i}].args has a malformed condition ${JSON.stringify(a)}`);
        }
      }
    }
  }
}

type Kernel = [number, number];

function parseKernel(text: string, what: string): Kernel {
  const m = /^(\d+)\.(\d+)/.exec(text);
  if (!m) throw new InvalidArgumentError(`seccomp: ${what} "${text}" is not a kernel version`);
  return [Number(m[1]), Number(m[2])];
}

function compareKernel(a: Kernel, b: Kernel): number {
  return a[0] - b[0] || a[1] - b[1];
}
