import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from '../util/errors.ts';
import { logPolicy } from './logdriver.ts';

const policy = (Type: string, Config: Record<string, string> = {}) => logPolicy({ LogConfig: { Type, Config } });
const refused = (Type: string, Config: Record<string, string>, message: string) =>
  assert.throws(
    () => policy(Type, Config),
    (e: unknown) => e instanceof InvalidArgumentError && e.message === message,
  );

test('json-file (the default), local with its defaults, none', () => {
  assert.deepEqual(logPolicy({}), { driver: 'json-file', maxFiles: 1 });
  assert.deepEqual(policy('json-file', { 'max-size': '1k', 'max-file': '3', labels: 'a', tag: 't' }), {
    driver: 'json-file',
    maxSize: 1024,
    maxFiles: 3,
  });
  assert.deepEqual(policy('local'), { driver: 'local', maxSize: 20 * 2 ** 20, maxFiles: 5 });
  assert.deepEqual(policy('local', { 'max-size': '1m', 'max-file': '2' }), {
    driver: 'local',
    maxSize: 2 ** 20,
    maxFiles: 2,
  });
  assert.deepEqual(policy('none'), { driver: 'none', maxFiles: 1 });
});

test("dockerd's refusals, in its words; drivers Berth lacks are refused, not ignored", () => {
  refused('df-nosuch', {}, 'error looking up logging plugin df-nosuch: plugin "df-nosuch" not found');
  refused('json-file', { 'no-such-opt': 'x' }, "unknown log opt 'no-such-opt' for json-file log driver");
  refused('local', { 'no-such-opt': 'x' }, "unknown log opt 'no-such-opt' for log driver local");
  refused('json-file', { 'max-file': '0' }, 'max-file cannot be less than 1');
  refused('json-file', { mode: 'fast' }, 'logger: logging mode not supported: fast');
  refused(
    'json-file',
    { compress: 'true' },
    'compress cannot be true when max-file is less than 2 or max-size is not set',
  );
  refused('local', { 'max-file': '1' }, 'compression cannot be enabled when max file count is 1');
  assert.throws(() => policy('json-file', { 'max-size': 'lots' }), /invalid max-size "lots"/);
  assert.throws(
    () => policy('syslog', { 'syslog-address': 'udp://127.0.0.1:9' }),
    /"syslog" is not available in Berth/,
  );
  assert.throws(() => policy('journald'), /"journald" is not available in Berth/);
});
