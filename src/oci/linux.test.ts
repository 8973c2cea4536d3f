import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RLIMIT_NAMES, sysctlNamespace } from './linux.ts';

test('sysctlNamespace: IPC, network, or the whole host', () => {
  for (const k of ['kernel.shmmax', 'kernel.sem', 'kernel.shm_rmid_forced', 'fs.mqueue.msg_max']) {
    assert.equal(sysctlNamespace(k), 'ipc', k);
  }
  assert.equal(sysctlNamespace('net.ipv4.ip_forward'), 'net');
  for (const k of ['kernel.hostname', 'kernel.shm', 'vm.swappiness', 'fs.file-max', 'network.x']) {
    assert.equal(sysctlNamespace(k), undefined, k);
  }
});

test('RLIMIT_NAMES: the sixteen setrlimit resources', () => {
  assert.equal(RLIMIT_NAMES.length, 16);
  assert.ok(RLIMIT_NAMES.includes('nofile') && RLIMIT_NAMES.includes('as'));
});
