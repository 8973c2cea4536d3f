/** Helpers for this folder's tests: fixed host facts and a seccomp filter evaluator. */
import type { SeccompArg, SpecSeccomp } from './oci.ts';
import type { HostFacts, SpecInput } from './spec.ts';

/** A host like the one Berth is developed on: x86_64, hybrid cgroups, hard NOFILE 20000, no CAP_SYS_RESOURCE. */
export function testHost(over: Partial<HostFacts> = {}): HostFacts {
  return {
    arch: 'x64',
    kernel: '6.1.0-18-amd64',
    cgroupV2: false,
    limits: { nofile: 20000, nproc: 96365, core: Infinity, stack: Infinity, memlock: 8388608 },
    swapAccounting: true,
    cpuCount: 2,
    ...over,
  };
}

/** A minimal valid input, to be overridden field by field. */
export function testInput(over: Partial<SpecInput> = {}): SpecInput {
  return { id: 'c1', rootfs: '/var/lib/berth/c1/rootfs', process: { args: ['/bin/sh'] }, host: testHost(), ...over };
}

export interface Verdict {
  action: string;
  errno?: number;
}

/**
 * What a filter does with one call, by libseccomp's rules for the filters Berth writes: the rules naming the
 * syscall whose conditions all hold decide; none → the default action. Two matching rules that disagree are
 * an error (the profile would be ambiguous).
 */
export function evaluateSeccomp(filter: SpecSeccomp, syscall: string, args: readonly number[] = []): Verdict {
  const verdicts: Verdict[] = [];
  for (const rule of filter.syscalls ?? []) {
    if (!rule.names.includes(syscall)) continue;
    if (!(rule.args ?? []).every((c) => holds(c, args))) continue;
    verdicts.push(
      rule.errnoRet === undefined ? { action: rule.action } : { action: rule.action, errno: rule.errnoRet },
    );
  }
  const distinct = new Set(verdicts.map((v) => JSON.stringify(v)));
  if (distinct.size > 1) throw new Error(`ambiguous filter for ${syscall}: ${[...distinct].join(' vs ')}`);
  if (verdicts[0]) {
    const v = verdicts[0];
    return v.action === 'SCMP_ACT_ERRNO' && v.errno === undefined
      ? { action: v.action, errno: filter.defaultErrnoRet ?? 1 }
      : v;
  }
  return filter.defaultErrnoRet === undefined
    ? { action: filter.defaultAction }
    : { action: filter.defaultAction, errno: filter.defaultErrnoRet };
}

function holds(c: SeccompArg, args: readonly number[]): boolean {
  const a = BigInt(args[c.index] ?? 0);
  const v = BigInt(c.value);
  switch (c.op) {
    case 'SCMP_CMP_EQ':
      return a === v;
    case 'SCMP_CMP_NE':
      return a !== v;
    case 'SCMP_CMP_LT':
      return a < v;
    case 'SCMP_CMP_LE':
      return a <= v;
    case 'SCMP_CMP_GT':
      return a > v;
    case 'SCMP_CMP_GE':
      return a >= v;
    case 'SCMP_CMP_MASKED_EQ':
      return (a & v) === BigInt(c.valueTwo ?? 0);
  }
}

export const ALLOW: Verdict = { action: 'SCMP_ACT_ALLOW' };
export const EPERM_VERDICT: Verdict = { action: 'SCMP_ACT_ERRNO', errno: 1 };
