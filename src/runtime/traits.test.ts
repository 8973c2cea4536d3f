import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OTHER_RUNTIME, runtimeTraits } from './traits.ts';

test('runtimeTraits: runc starts through its exec fifo, seals its copy for containers, updates through stdin, refuses a second pause and runs the build steps', () => {
  assert.deepEqual(runtimeTraits('runc'), {
    startVia: 'runc-fifo',
    sealedCopy: 'containers',
    updateResources: 'stdin',
    refusesRepause: true,
    buildSteps: true,
  });
});

test('runtimeTraits: crun starts through its own fifo, runs every call from the sealed copy, updates through a file and has its pause checked by the driver', () => {
  assert.deepEqual(runtimeTraits('crun'), {
    startVia: 'crun-fifo',
    sealedCopy: 'every-call',
    updateResources: 'file',
    refusesRepause: false,
    buildSteps: false,
  });
});

test('runtimeTraits: any other runtime gets the plain command line, nothing assumed', () => {
  for (const name of ['youki', 'runsc', 'kata-runtime', 'RUNC', 'runc ', ''])
    assert.equal(runtimeTraits(name), OTHER_RUNTIME, name);
  assert.deepEqual(OTHER_RUNTIME, {
    startVia: 'cli',
    sealedCopy: 'none',
    updateResources: 'file',
    refusesRepause: false,
    buildSteps: false,
  });
});

test("runtimeTraits: the records are shared and frozen, so no caller can change another runtime driver's", () => {
  assert.equal(runtimeTraits('runc'), runtimeTraits('runc'));
  for (const name of ['runc', 'crun', 'other']) {
    const t = runtimeTraits(name);
    assert.ok(Object.isFrozen(t), name);
    assert.throws(() => {
      (t as { startVia: string }).startVia = 'cli';
    }, TypeError);
  }
});
