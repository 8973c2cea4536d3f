import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from '../util/errors.ts';
import { applyUpdate, liveLimits, parseSize, resourcesInput } from './resources.ts';

const MiB = 2 ** 20;
const host = { arch: 'x64', cgroupV2: false, limits: { nofile: 20000 }, cpuCount: 2 } as const;

test('resourcesInput: each limit of the host config under its spec name; zeros and absent ones left out', () => {
  assert.deepEqual(resourcesInput({}), {});
  assert.deepEqual(
    resourcesInput({
      Memory: 64 * MiB,
      MemorySwap: 128 * MiB,
      MemoryReservation: 32 * MiB,
      CpuShares: 512,
      NanoCpus: 500_000_000,
      CpuPeriod: 50_000,
      CpuQuota: 25_000,
      CpusetCpus: '0-1',
      CpusetMems: '0',
      PidsLimit: 64,
    }),
    {
      memory: 64 * MiB,
      memorySwap: 128 * MiB,
      memoryReservation: 32 * MiB,
      cpuShares: 512,
      cpus: 0.5,
      cpuPeriod: 50_000,
      cpuQuota: 25_000,
      cpusetCpus: '0-1',
      cpusetMems: '0',
      pidsLimit: 64,
    },
  );
  assert.deepEqual(resourcesInput({ Memory: 0, PidsLimit: -1, CpuShares: 0 }), {}, 'no limit');
  assert.deepEqual(resourcesInput({ PidsLimit: 0 }), {});
});

test('applyUpdate: only the updatable keys; a quota or period replaces --cpus', () => {
  const hc = { Memory: 64 * MiB, NanoCpus: 1e9, Privileged: true };
  assert.deepEqual(applyUpdate(hc, { Memory: 128 * MiB, Privileged: false }), { ...hc, Memory: 128 * MiB });
  assert.deepEqual(applyUpdate(hc, { CpuQuota: 50_000 }), { Memory: 64 * MiB, CpuQuota: 50_000, Privileged: true });
  assert.deepEqual(applyUpdate(hc, { RestartPolicy: { Name: 'always' } }).RestartPolicy, { Name: 'always' });
  assert.deepEqual(applyUpdate(hc, { Memory: null as never }), hc, 'null leaves a key as it was');
  assert.deepEqual(hc, { Memory: 64 * MiB, NanoCpus: 1e9, Privileged: true }, 'the old config is not changed');
});

test('liveLimits: the runtime update body, checked like at start', () => {
  assert.deepEqual(liveLimits({ Memory: 64 * MiB, PidsLimit: 10 }, host), {
    memory: { limit: 64 * MiB, swap: 128 * MiB },
    pids: { limit: 10 },
  });
  assert.equal('devices' in liveLimits({}, host), false);
  assert.throws(() => liveLimits({ NanoCpus: 3e9 }, host), InvalidArgumentError, 'more CPUs than the host has');
});

test('parseSize: go-units RAMInBytes, any case; empty is none; garbage is refused', () => {
  assert.equal(parseSize(undefined), undefined);
  assert.equal(parseSize(''), undefined);
  assert.equal(parseSize('100'), 100);
  assert.equal(parseSize('10k'), 10 * 1024);
  assert.equal(parseSize('10KB'), 10 * 1024);
  assert.equal(parseSize('1.5m'), 1.5 * MiB);
  assert.equal(parseSize(' 2g '), 2 * 1024 * MiB);
  assert.equal(parseSize('3 b'), 3);
  assert.throws(
    () => parseSize('ten'),
    (e: unknown) => e instanceof InvalidArgumentError && e.message === 'invalid max-size "ten"',
  );
  assert.throws(() => parseSize('-1m'), /invalid max-size "-1m"/);
  assert.equal(parseSize('1t'), 1024 ** 4, 'every unit of go-units');
  assert.equal(parseSize('2MiB'), 2 * MiB);
  assert.throws(() => parseSize('1x', 'size'), /invalid size "1x"/);
  assert.throws(() => parseSize('1.2.3m'), /invalid max-size "1.2.3m"/);
});
