import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from '../util/errors.ts';
import { formatPlatform, formatPlatformAll, parsePlatform } from './platform.ts';

test('platform specifiers are parsed and normalised as containerd does', () => {
  const cases: [string, string][] = [
    ['linux/amd64', 'linux/amd64'],
    ['Linux/X86_64', 'linux/amd64'],
    ['linux/aarch64', 'linux/arm64'],
    ['linux/arm64/v8', 'linux/arm64'],
    ['linux/arm', 'linux/arm/v7'],
    ['linux/arm/6', 'linux/arm/v6'],
    ['linux/armhf', 'linux/arm/v7'],
    ['linux/armel', 'linux/arm/v6'],
    ['linux/i386', 'linux/386'],
    ['arm64', 'linux/arm64'],
    ['windows/amd64', 'windows/amd64'],
    ['linux/riscv64', 'linux/riscv64'],
  ];
  for (const [input, want] of cases) assert.equal(formatPlatform(parsePlatform(input)), want, input);
  assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64' });
  assert.deepEqual(parsePlatform('aarch64'), { os: 'linux', architecture: 'arm64' });
  assert.deepEqual(parsePlatform('linux', { os: 'linux', architecture: 'arm64' }), {
    os: 'linux',
    architecture: 'arm64',
  });
  for (const bad of ['', 'linux/', 'a/b/c/d', 'linux/*', 'nope/amd64', 'linux/am d64']) {
    assert.throws(() => parsePlatform(bad), InvalidArgumentError, bad);
  }
  assert.equal(
    formatPlatformAll({ os: 'windows', 'os.version': '10.0.17763', architecture: 'amd64' }),
    'windows(10.0.17763)/amd64',
  );
});
