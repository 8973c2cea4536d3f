import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../../util/errors.ts';
import { RLIM_INFINITY } from './oci.ts';
import { DEFAULT_NOFILE, parseProcLimits, resolveRlimits } from './rlimits.ts';

const PROC_LIMITS = `Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max file size             unlimited            unlimited            bytes     
Max stack size            8388608              unlimited            bytes     
Max core file size        0                    unlimited            bytes     
Max processes             96365                96365                processes 
Max open files            20000                20000                files     
Max locked memory         8388608              8388608              bytes     
Max nice priority         0                    0                    
Max realtime timeout      unlimited            unlimited            us        
`;

test('parseProcLimits reads the hard column', () => {
  assert.deepEqual(parseProcLimits(PROC_LIMITS), {
    cpu: Infinity,
    fsize: Infinity,
    stack: Infinity,
    core: Infinity,
    nproc: 96365,
    nofile: 20000,
    memlock: 8388608,
    nice: 0,
    rttime: Infinity,
  });
});

test("the default NOFILE is Docker's 1048576, clamped to the host's hard limit", () => {
  assert.equal(DEFAULT_NOFILE, 1048576);
  assert.deepEqual(resolveRlimits([], { nofile: 20000 }), [{ type: 'RLIMIT_NOFILE', soft: 20000, hard: 20000 }]);
  assert.deepEqual(resolveRlimits([], { nofile: Infinity }), [{ type: 'RLIMIT_NOFILE', soft: 1048576, hard: 1048576 }]);
  assert.deepEqual(resolveRlimits([], {}), [{ type: 'RLIMIT_NOFILE', soft: 1048576, hard: 1048576 }]);
});

test('a --ulimit within the host limit is kept, replacing the default of its resource', () => {
  assert.deepEqual(
    resolveRlimits(
      [
        { name: 'nofile', soft: 1024, hard: 4096 },
        { name: 'nproc', soft: 100, hard: 200 },
        { name: 'CORE', soft: -1, hard: -1 },
      ],
      { nofile: 20000, nproc: 96365, core: Infinity },
    ),
    [
      { type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 },
      { type: 'RLIMIT_NPROC', soft: 100, hard: 200 },
      { type: 'RLIMIT_CORE', soft: RLIM_INFINITY, hard: RLIM_INFINITY },
    ],
  );
  // exactly at the host's limit is fine; a later --ulimit for the same resource wins
  assert.deepEqual(
    resolveRlimits(
      [
        { name: 'nofile', soft: 1, hard: 1 },
        { name: 'nofile', soft: 20000, hard: 20000 },
      ],
      { nofile: 20000 },
    ),
    [{ type: 'RLIMIT_NOFILE', soft: 20000, hard: 20000 }],
  );
});

test('a --ulimit above the host hard limit is refused, naming it', () => {
  assert.throws(
    () => resolveRlimits([{ name: 'nofile', soft: 1024, hard: 30000 }], { nofile: 20000 }),
    (e: unknown) => e instanceof InvalidArgumentError && /nofile=1024:30000/.test(e.message) && /20000/.test(e.message),
  );
  assert.throws(() => resolveRlimits([{ name: 'memlock', soft: -1, hard: -1 }], { memlock: 8388608 }), /memlock=-1:-1/);
});

test('malformed --ulimit values are refused', () => {
  assert.throws(() => resolveRlimits([{ name: 'bogus', soft: 1, hard: 1 }], {}), /unknown resource "bogus"/);
  assert.throws(
    () => resolveRlimits([{ name: 'nofile', soft: 10, hard: 5 }], {}),
    /soft limit is above the hard limit/,
  );
  assert.throws(() => resolveRlimits([{ name: 'nofile', soft: -5, hard: 5 }], {}), /nofile=-5:5/);
  assert.throws(() => resolveRlimits([{ name: 'nofile', soft: 1.5, hard: 5 }], {}), /nofile=1.5:5/);
  assert.throws(() => resolveRlimits([{ name: 'nofile', soft: -1, hard: 5 }], {}), /soft limit is above/);
});
