import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../../util/errors.ts';
import { validateSysctls } from './sysctls.ts';

const own = { privateIpc: true, privateNetwork: true };

test('namespaced sysctls are accepted: IPC ones and net.*', () => {
  const ok = {
    'kernel.msgmax': '65536',
    'kernel.msgmnb': '1',
    'kernel.msgmni': '1',
    'kernel.sem': '250 32000 100 128',
    'kernel.shmall': '1',
    'kernel.shmmax': '1',
    'kernel.shmmni': '1',
    'kernel.shm_rmid_forced': '1',
    'fs.mqueue.msg_max': '100',
    'net.ipv4.ip_forward': '1',
    'net.core.somaxconn': '1024',
    'net.ipv4.conf.all.rp_filter': '0',
  };
  assert.deepEqual(validateSysctls(ok, own), ok);
});

test('slashes are accepted for dots', () => {
  assert.deepEqual(validateSysctls({ 'net/ipv4/ip_forward': '1' }, own), { 'net.ipv4.ip_forward': '1' });
});

test('host-wide sysctls are refused', () => {
  for (const key of [
    'kernel.pid_max',
    'vm.swappiness',
    'fs.file-max',
    'kernel.hostname',
    'kernel.domainname',
    'kernel.shm_next_id_x',
  ]) {
    assert.throws(
      () => validateSysctls({ [key]: '1' }, own),
      (e: unknown) => e instanceof InvalidArgumentError && e.message.includes(`"${key}"`),
      key,
    );
  }
});

test('net.* is refused with the host network, IPC ones with the host IPC namespace', () => {
  assert.throws(
    () => validateSysctls({ 'net.ipv4.ip_forward': '1' }, { privateIpc: true, privateNetwork: false }),
    /host's network namespace/,
  );
  assert.throws(
    () => validateSysctls({ 'kernel.shmmax': '1' }, { privateIpc: false, privateNetwork: true }),
    /host's IPC namespace/,
  );
  assert.throws(
    () => validateSysctls({ 'fs.mqueue.msg_max': '1' }, { privateIpc: false, privateNetwork: true }),
    /host's IPC namespace/,
  );
  assert.deepEqual(validateSysctls({ 'kernel.shmmax': '1' }, { privateIpc: true, privateNetwork: false }), {
    'kernel.shmmax': '1',
  });
});

test('malformed keys and values are refused', () => {
  assert.throws(() => validateSysctls({ 'net ipv4': '1' }, own), /not a kernel parameter name/);
  assert.throws(() => validateSysctls({ net: '1' }, own), /not a kernel parameter name/);
  assert.throws(() => validateSysctls({ 'net.ipv4.ip_forward': '' }, own), /non-empty/);
  assert.throws(() => validateSysctls({ 'net.ipv4.ip_forward': '1\n2' }, own), /single line/);
});
