import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../../util/errors.ts';
import { parseDeviceCgroupRule, resolveResources, type ResourcesInput } from './resources.ts';

const MiB = 1024 * 1024;
const host = { swapAccounting: true, cpuCount: 2 };
const refuses = (r: ResourcesInput, message: RegExp, h = host) =>
  assert.throws(
    () => resolveResources(r, h),
    (e: unknown) => e instanceof InvalidArgumentError && message.test(e.message),
    JSON.stringify(r),
  );

test('no limits asked, none set', () => {
  assert.deepEqual(resolveResources({}, host), {});
});

test('memory: swap defaults to twice the memory, like Docker', () => {
  assert.deepEqual(resolveResources({ memory: 32 * MiB }, host).memory, { limit: 32 * MiB, swap: 64 * MiB });
  assert.deepEqual(resolveResources({ memory: 32 * MiB, memorySwap: 0 }, host).memory, {
    limit: 32 * MiB,
    swap: 64 * MiB,
  });
});

test('memory: --memory-swap -1 is unlimited swap; a positive value is memory plus swap', () => {
  assert.deepEqual(resolveResources({ memory: 32 * MiB, memorySwap: -1 }, host).memory, { limit: 32 * MiB, swap: -1 });
  assert.deepEqual(resolveResources({ memory: 32 * MiB, memorySwap: 32 * MiB }, host).memory, {
    limit: 32 * MiB,
    swap: 32 * MiB,
  });
  assert.deepEqual(resolveResources({ memory: 32 * MiB, memorySwap: 100 * MiB }, host).memory, {
    limit: 32 * MiB,
    swap: 100 * MiB,
  });
  assert.deepEqual(resolveResources({ memorySwap: -1 }, host), { memory: { swap: -1 } });
});

test('memory: without swap accounting the swap limit is left out (Docker discards it too)', () => {
  assert.deepEqual(resolveResources({ memory: 32 * MiB, memorySwap: 100 * MiB }, { swapAccounting: false }).memory, {
    limit: 32 * MiB,
  });
});

test('memory: reservation', () => {
  assert.deepEqual(resolveResources({ memory: 64 * MiB, memoryReservation: 32 * MiB }, host).memory, {
    limit: 64 * MiB,
    reservation: 32 * MiB,
    swap: 128 * MiB,
  });
  assert.deepEqual(resolveResources({ memoryReservation: 32 * MiB }, host).memory, { reservation: 32 * MiB });
});

test('memory: the values Docker refuses', () => {
  refuses({ memory: 4 * MiB }, /below the minimum allowed, 6MB/);
  refuses({ memory: -1 }, /invalid memory -1/);
  refuses({ memorySwap: 64 * MiB }, /needs a memory limit/);
  refuses({ memory: 64 * MiB, memorySwap: 32 * MiB }, /below the memory limit/);
  refuses({ memory: 32 * MiB, memoryReservation: 64 * MiB }, /above the memory limit/);
  refuses({ memoryReservation: 1 * MiB }, /reservation .* below the minimum/);
  refuses({ memory: 32 * MiB, memorySwap: -2 }, /invalid memory swap limit -2/);
});

test('--cpus becomes a quota over a 100ms period', () => {
  assert.deepEqual(resolveResources({ cpus: 1.5 }, host).cpu, { period: 100000, quota: 150000 });
  assert.deepEqual(resolveResources({ cpus: 0.01 }, host).cpu, { period: 100000, quota: 1000 });
  assert.deepEqual(resolveResources({ cpus: 2 }, host).cpu, { period: 100000, quota: 200000 });
  assert.deepEqual(resolveResources({ cpus: 0 }, host), {});
});

test('--cpus out of range, or together with period/quota, is refused', () => {
  refuses({ cpus: -1 }, /invalid --cpus -1: the range is 0.01 to 2.00/);
  refuses({ cpus: 3 }, /invalid --cpus 3/);
  refuses({ cpus: 0.001 }, /invalid --cpus 0.001/);
  refuses({ cpus: Number.NaN }, /invalid --cpus NaN/);
  refuses({ cpus: 1, cpuPeriod: 50000 }, /conflicting options/);
  assert.deepEqual(resolveResources({ cpus: 8 }, { swapAccounting: true }).cpu, { period: 100000, quota: 800000 });
});

test('explicit period and quota, shares, cpusets', () => {
  assert.deepEqual(
    resolveResources({ cpuPeriod: 50000, cpuQuota: 25000, cpuShares: 512, cpusetCpus: '0-1', cpusetMems: '0' }, host)
      .cpu,
    {
      shares: 512,
      period: 50000,
      quota: 25000,
      cpus: '0-1',
      mems: '0',
    },
  );
  assert.deepEqual(resolveResources({ cpuQuota: -1 }, host).cpu, { quota: -1 });
  refuses({ cpuPeriod: 999 }, /CPU period 999/);
  refuses({ cpuPeriod: 1_000_001 }, /CPU period 1000001/);
  refuses({ cpuQuota: 500 }, /CPU quota 500/);
  refuses({ cpuShares: -2 }, /CPU shares -2/);
  refuses({ cpusetCpus: '0-' }, /cpuset CPUs "0-"/);
  refuses({ cpusetCpus: '3-1' }, /cpuset CPUs "3-1"/);
  refuses({ cpusetMems: 'a' }, /cpuset memory nodes "a"/);
  assert.equal(resolveResources({ cpusetCpus: '0,2-3,7' }, host).cpu?.cpus, '0,2-3,7');
});

test('pids limit: positive is a limit, 0 and -1 are none', () => {
  assert.deepEqual(resolveResources({ pidsLimit: 50 }, host).pids, { limit: 50 });
  assert.equal(resolveResources({ pidsLimit: 0 }, host).pids, undefined);
  assert.equal(resolveResources({ pidsLimit: -1 }, host).pids, undefined);
  refuses({ pidsLimit: -7 }, /pids limit -7/);
});

test('blkio weight is 10 to 1000', () => {
  assert.deepEqual(resolveResources({ blkioWeight: 500 }, host).blockIO, { weight: 500 });
  refuses({ blkioWeight: 5 }, /blkio weight 5/);
  refuses({ blkioWeight: 1001 }, /blkio weight 1001/);
});

test('device cgroup rules in Docker text form', () => {
  assert.deepEqual(parseDeviceCgroupRule('c 1:3 rwm'), { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' });
  assert.deepEqual(parseDeviceCgroupRule('b 8:* r'), { allow: true, type: 'b', major: 8, access: 'r' });
  assert.deepEqual(parseDeviceCgroupRule('a *:* m'), { allow: true, type: 'a', access: 'm' });
  for (const bad of ['c 1:3', 'x 1:3 r', 'c 1:3 rwx', 'c 1:3 rr', 'c a:3 r'])
    assert.throws(() => parseDeviceCgroupRule(bad), new RegExp(`"${bad}"`));
});
