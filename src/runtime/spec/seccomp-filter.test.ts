import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { koffi } from '../../sys/koffi.ts';
import type { SpecSeccomp, SpecSyscallRule } from './oci.ts';
import { defaultSeccompProfile } from './seccomp-default.ts';
import { toOciSeccomp } from './seccomp.ts';
import { x86_64Syscall } from './syscalls-x86_64.ts';

/**
 * The filter libseccomp (the library runc links) compiles from a spec's rules, as runc adds them: one rule per name,
 * in the order the spec lists them, for x86_64, x86 and x32. The BPF program as libseccomp exports it.
 */
function compile(spec: SpecSeccomp): Buffer {
  const lib = koffi().load('libseccomp.so.2');
  const init = lib.func('void *seccomp_init(uint32_t def_action)');
  const archAdd = lib.func('int seccomp_arch_add(void *ctx, uint32_t arch)');
  const resolve = lib.func('int seccomp_syscall_resolve_name(const char *name)');
  const ruleAdd = lib.func(
    'int seccomp_rule_add_array(void *ctx, uint32_t action, int syscall, unsigned int count, const void *args)',
  );
  const exportBpf = lib.func('int seccomp_export_bpf(void *ctx, int fd)');
  const release = lib.func('void seccomp_release(void *ctx)');
  const OPS = ['', 'SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT'];
  const action = (r: { action: string; errnoRet?: number }): number => {
    if (r.action === 'SCMP_ACT_ALLOW') return 0x7fff0000;
    if (r.action === 'SCMP_ACT_ERRNO') return 0x00050000 | (r.errnoRet ?? 1);
    throw new Error(`no mapping for ${r.action} in this test`);
  };
  const ctx = init(action({ action: spec.defaultAction, errnoRet: spec.defaultErrnoRet ?? 1 }));
  assert.ok(ctx, 'seccomp_init');
  const dir = mkdtempSync(join(tmpdir(), 'berth-seccomp-'));
  try {
    for (const arch of [0x40000003 /* x86 */, 0x4000003e /* x32 */]) assert.equal(archAdd(ctx, arch), 0);
    for (const r of spec.syscalls ?? []) {
      // struct scmp_arg_cmp { unsigned int arg; enum scmp_compare op; uint64_t datum_a; uint64_t datum_b; }
      const args = Buffer.alloc(24 * (r.args?.length ?? 0));
      for (const [i, a] of (r.args ?? []).entries()) {
        const op = a.op === 'SCMP_CMP_MASKED_EQ' ? 7 : OPS.indexOf(a.op);
        assert.ok(op > 0, a.op);
        args.writeUInt32LE(a.index, i * 24);
        args.writeUInt32LE(op, i * 24 + 4);
        args.writeBigUInt64LE(BigInt(a.value), i * 24 + 8);
        args.writeBigUInt64LE(BigInt(a.valueTwo ?? 0), i * 24 + 16);
      }
      for (const name of r.names) {
        const nr = resolve(name) as number;
        if (nr === -1) continue; // unknown to libseccomp: runc skips it too
        const rc = ruleAdd(ctx, action(r), nr, r.args?.length ?? 0, args.length > 0 ? args : null);
        assert.equal(rc, 0, `seccomp_rule_add ${name}: ${rc}`);
      }
    }
    const file = join(dir, 'bpf');
    const fd = openSync(file, 'w');
    try {
      assert.equal(exportBpf(ctx, fd), 0);
    } finally {
      closeSync(fd);
    }
    return readFileSync(file);
  } finally {
    release(ctx);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `spec` with each rule's names put in `order`. */
function reordered(spec: SpecSeccomp, order: (names: string[]) => string[]): SpecSeccomp {
  return {
    ...spec,
    syscalls: spec.syscalls!.map((r): SpecSyscallRule => ({ ...r, names: order([...r.names]) })),
  };
}

test("libseccomp compiles the same filter from the default profile's rules whatever the order of each rule's names", {
  skip: process.arch !== 'x64' && 'the order is changed on x86_64 only',
}, () => {
  const capabilities = ['CAP_CHOWN', 'CAP_KILL', 'CAP_SETUID', 'CAP_SYS_ADMIN', 'CAP_SYS_PTRACE'];
  const spec = toOciSeccomp(defaultSeccompProfile(), { capabilities, arch: 'x64', kernel: '6.1.0-18-amd64' });
  const nr = (n: string) => x86_64Syscall(n) ?? -1;
  const descending = compile(spec);
  assert.ok(descending.length > 8 * 100, `a filter of ${descending.length / 8} instructions`);
  const ascending = compile(reordered(spec, (names) => names.sort((a, b) => nr(a) - nr(b))));
  const byName = compile(reordered(spec, (names) => names.sort()));
  const reversed = compile(reordered(spec, (names) => names.reverse()));
  assert.ok(descending.equals(ascending), 'ascending numbers give another filter');
  assert.ok(descending.equals(byName), 'alphabetical names give another filter');
  assert.ok(descending.equals(reversed), 'reversed names give another filter');
  // The comparison can tell: one name less is another filter.
  const fewer = compile(reordered(spec, (names) => names.filter((n) => n !== 'openat')));
  assert.ok(!descending.equals(fewer), 'openat left out changes nothing');
});
