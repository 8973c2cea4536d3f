import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from '../util/errors.ts';
import { normalSignal, signalFor, signalName, signalNumber } from './signals.ts';

test('normalSignal: names upper-cased with their SIG prefix, digits as numbers', () => {
  assert.equal(normalSignal('term'), 'SIGTERM');
  assert.equal(normalSignal('SIGkill'), 'SIGKILL');
  assert.equal(normalSignal('rtmin+3'), 'SIGRTMIN+3');
  assert.equal(normalSignal('15'), 15);
  assert.equal(normalSignal(9), 9);
});

test('signalName accepts names, short names, numbers and real-time signals, and refuses the rest', () => {
  assert.equal(signalName('SIGTERM'), 'SIGTERM');
  assert.equal(signalName('kill'), 'SIGKILL');
  assert.equal(signalName(9), '9');
  assert.equal(signalName('15'), '15');
  assert.equal(signalName('SIGRTMIN+3'), '37');
  assert.equal(signalName('rtmin'), '34');
  assert.equal(signalName('SIGRTMAX-1'), '63');
  assert.equal(signalName('RTMAX'), '64');
  assert.throws(() => signalName('SIGRTMIN+16'), InvalidArgumentError);
  assert.throws(() => signalName('SIGRTMAX+1'), InvalidArgumentError);
  assert.throws(() => signalName('SIGRTMIN-1'), InvalidArgumentError);
  assert.equal(signalName(40), '40');
  assert.throws(() => signalName('SIGNOPE'), InvalidArgumentError);
  assert.throws(() => signalName(999), InvalidArgumentError);
});

test('signalFor: names and numbers as process.kill takes them; unknown ones are left to the runtime', () => {
  assert.equal(signalFor('SIGTERM'), 'SIGTERM');
  assert.equal(signalFor('term'), 'SIGTERM');
  assert.equal(signalFor('KILL'), 'SIGKILL');
  assert.equal(signalFor('9'), 9);
  assert.equal(signalFor('SIGRTMIN+3'), undefined);
  assert.equal(signalFor('NOPE'), undefined);
  assert.equal(signalFor('999'), undefined);
});

test('signalNumber gives the number Docker reports in its events', () => {
  assert.equal(signalNumber('SIGTERM'), 15);
  assert.equal(signalNumber('usr1'), 10);
  assert.equal(signalNumber('9'), 9);
  assert.equal(signalNumber('SIGRTMIN+3'), 37);
  assert.throws(() => signalNumber('SIGNOPE'), InvalidArgumentError);
});
