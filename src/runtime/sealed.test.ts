import assert from 'node:assert/strict';
import { readlinkSync } from 'node:fs';
import test from 'node:test';
import { openCopies, RuntimeProgram, SealedHold } from './sealed.ts';

/** What `/proc/self/fd/<fd>` is now: the memfd's name, or undefined once the fd is closed. */
function fdTarget(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

test('SealedHold: one copy per binary per process, closed when the last hold is released', async () => {
  const a = new SealedHold('/bin/echo', 'echo-shared');
  const b = new SealedHold('/bin/echo', 'echo-shared');
  const other = new SealedHold('/bin/cat', 'cat-shared');
  try {
    const pa = await a.path();
    assert.equal(await b.path(), pa, 'a second hold on the same binary gets the same copy');
    assert.equal(await a.path(), pa, 'asking again takes no second hold');
    const po = await other.path();
    assert.notEqual(po, pa);
    const echo = (await openCopies()).find((c) => c.binary === '/bin/echo');
    assert.ok(echo);
    assert.equal(echo.users, 2);
    assert.match(fdTarget(echo.fd) ?? '', /^\/memfd:echo-shared/);

    a.release();
    a.release(); // idempotent: b's hold stands
    assert.match(fdTarget(echo.fd) ?? '', /^\/memfd:echo-shared/, 'still open while b holds it');
    b.release();
    await new Promise((r) => setImmediate(r));
    assert.equal(fdTarget(echo.fd), undefined, 'closed with the last hold');
    assert.equal(
      (await openCopies()).find((c) => c.binary === '/bin/echo'),
      undefined,
    );

    // A hold taken after the close makes a fresh copy.
    const c = new SealedHold('/bin/echo', 'echo-shared');
    assert.match(readlinkSync(await c.path()), /^\/memfd:echo-shared/);
    c.release();
  } finally {
    other.release();
  }
});

test('SealedHold: a binary that cannot be copied rejects, and is tried again on the next ask', async () => {
  const h = new SealedHold('/nonexistent/runc', 'runc');
  await assert.rejects(h.path(), /ENOENT.*\/nonexistent\/runc/);
  h.release();
  assert.equal(
    (await openCopies()).find((c) => c.binary === '/nonexistent/runc'),
    undefined,
  );
  const again = new SealedHold('/nonexistent/runc', 'runc');
  await assert.rejects(again.path(), /ENOENT/);
  again.release();
});

test("RuntimeProgram: containers run the sealed copy unless the trait is 'none'; berthd's own calls only with 'every-call', and only once a container made it", async () => {
  const none = new RuntimeProgram('/bin/echo', 'echo-none', 'none');
  assert.equal(await none.forContainer(), '/bin/echo');
  assert.equal(await none.forCall(), '/bin/echo');
  none.close();

  const containers = new RuntimeProgram('/bin/echo', 'echo-containers', 'containers');
  const every = new RuntimeProgram('/bin/echo', 'echo-containers', 'every-call');
  try {
    assert.equal(await every.forCall(), '/bin/echo', 'no copy is made for a call');
    const copy = await containers.forContainer();
    assert.match(readlinkSync(copy), /^\/memfd:echo-containers/);
    assert.equal(await containers.forCall(), '/bin/echo', "'containers': calls run the installed binary");
    assert.equal(await every.forContainer(), copy, 'the process shares one copy per binary');
    assert.equal(await every.forCall(), copy, "'every-call': calls run the copy once made");
    every.close();
    assert.equal(await every.forCall(), '/bin/echo', 'and the installed binary after close()');
  } finally {
    containers.close();
    every.close();
  }
});

test('RuntimeProgram: a copy that cannot be made is told once, and the installed path runs', async () => {
  const warnings: string[] = [];
  const p = new RuntimeProgram('/nonexistent/crun', 'crun', 'every-call', (m) => warnings.push(m));
  assert.equal(await p.forContainer(), '/nonexistent/crun');
  assert.equal(await p.forContainer(), '/nonexistent/crun');
  assert.equal(await p.forCall(), '/nonexistent/crun');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /crun's sealed copy could not be made .*ENOENT.*: containers run \/nonexistent\/crun/);
  p.close();
});
