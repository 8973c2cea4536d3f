import assert from 'node:assert/strict';
import { createHash, randomFillSync } from 'node:crypto';
import { setImmediate as yieldLoop } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { pack, type PackEntry } from '../util/tar/index.ts';
import { handedOver, packList } from './packlist.ts';
import { entryId, MarkedHash } from './tarmarks.ts';

/** Directories, files large and small (one streamed, one empty and streamed), a symbolic link. */
function tree(): { entries: PackEntry[]; bodies: Map<string, Buffer>; records: Map<string, string> } {
  const entries: PackEntry[] = [{ header: { name: 'app/', type: 'directory', mode: 0o755, mtime: 1000 } }];
  const bodies = new Map<string, Buffer>();
  const records = new Map<string, string>();
  for (let f = 0; f < 600; f++) {
    const name = `app/f${f}`;
    const body = randomFillSync(Buffer.alloc(f % 7 === 0 ? 0 : f % 3 === 0 ? 700 : 9000));
    bodies.set(name, body);
    records.set(name, `${createHash('sha256').update(body).digest('hex')} 420 0 0 2000 ${body.length}`);
    entries.push({ header: { name, type: 'file', mode: 0o644, mtime: 2000, size: body.length } });
  }
  entries.push({ header: { name: 'app/link', type: 'symlink', linkname: 'f1', mode: 0o777, mtime: 3000 } });
  return { entries, bodies, records };
}

async function* streamed(b: Buffer): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < b.length; i += 1000) yield b.subarray(i, i + 1000);
}

/** Each file's body as its entry's own: streamed for every fifth file, bytes for the others. */
function withBodies(entries: PackEntry[], bodies: Map<string, Buffer>): PackEntry[] {
  return entries.map((e, i) => {
    const b = bodies.get(e.header.name);
    return b ? { header: e.header, body: i % 5 === 0 ? streamed(b) : b } : e;
  });
}

async function packed(entries: PackEntry[]): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of pack(entries)) out.push(Buffer.from(c));
  return Buffer.concat(out);
}

describe('packList', () => {
  it('writes the bytes pack writes, bodies from the entries or from bodyOf, and counts the content', async () => {
    const { entries, bodies } = tree();
    const want = await packed(withBodies(entries, bodies));
    const own: Buffer[] = [];
    const content = await packList(withBodies(entries, bodies), { out: (c) => void own.push(Buffer.from(c)) });
    assert.deepEqual(Buffer.concat(own), want);
    let files = 0;
    for (const b of bodies.values()) files += b.length;
    assert.equal(content, files + Buffer.byteLength('f1'));
    // bodies asked for (as promises, as a window's are), and the consumer waited for
    const given: Buffer[] = [];
    await packList(entries, {
      bodyOf: async (e) => bodies.get(e.header.name)!,
      out: async (c) => {
        given.push(Buffer.from(c));
        await yieldLoop();
      },
    });
    assert.deepEqual(Buffer.concat(given), want);
  });

  it('hashes with marks, and resumes from them to the digest of the whole tar', async () => {
    const { entries, bodies, records } = tree();
    const bodyOf = (e: PackEntry) => bodies.get(e.header.name)!;
    const ids = entries.map((e) => entryId(e, records));
    const first = MarkedHash.fresh(ids);
    await packList(entries, { hash: first, bodyOf });
    const whole = createHash('sha256')
      .update(await packed(withBodies(entries, bodies)))
      .digest('hex');
    const { digest, marks } = first.digest();
    assert.equal(digest, `sha256:${whole}`);
    // one file near the end changed: resumed past the start, the digest that of the new whole tar
    const name = 'app/f590';
    bodies.set(name, randomFillSync(Buffer.alloc(9000)));
    records.set(name, `${createHash('sha256').update(bodies.get(name)!).digest('hex')} 420 0 0 2000 9000`);
    const again = MarkedHash.resume(
      marks,
      entries.map((e) => entryId(e, records)),
    );
    assert.ok(again.start > 0, 'resumed from a mark');
    await packList(entries, { from: again.start, hash: again, bodyOf });
    const changed = createHash('sha256')
      .update(await packed(withBodies(entries, bodies)))
      .digest('hex');
    assert.equal(again.digest().digest, `sha256:${changed}`);
  });

  it('fails on a body shorter or longer than its header says', async () => {
    const short: PackEntry = { header: { name: 'a', type: 'file', size: 10 }, body: streamed(Buffer.alloc(5)) };
    await assert.rejects(packList([short], {}), /not the 10 bytes listed/);
    const long: PackEntry = { header: { name: 'b', type: 'file', size: 10 }, body: streamed(Buffer.alloc(3000)) };
    await assert.rejects(packList([long], {}), /not the 10 bytes listed/);
  });
});

describe('handedOver', () => {
  it('hands each chunk over before the producer goes on', async () => {
    const log: string[] = [];
    const it = handedOver(async (out) => {
      for (const s of ['a', 'b', 'c']) {
        log.push(`give ${s}`);
        await out(Buffer.from(s));
      }
    });
    for await (const c of it) {
      log.push(`take ${Buffer.from(c).toString()}`);
      await yieldLoop();
      log.push(`done ${Buffer.from(c).toString()}`);
    }
    assert.deepEqual(log, ['give a', 'take a', 'done a', 'give b', 'take b', 'done b', 'give c', 'take c', 'done c']);
  });

  it("gives the producer's failure to the consumer", async () => {
    const it = handedOver(async (out) => {
      await out(Buffer.from('a'));
      throw new Error('the source broke');
    });
    const got: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const c of it) got.push(Buffer.from(c).toString());
      })(),
      /the source broke/,
    );
    assert.deepEqual(got, ['a']);
  });

  it('stops the producer when the consumer stops, waiting or not', async () => {
    for (const busy of [false, true]) {
      let stoppedWith: unknown;
      let gave = 0;
      const it = handedOver(async (out) => {
        try {
          for (;;) {
            // the producer is away (a body's read) when the consumer stops, or waiting on it
            if (busy) await yieldLoop();
            await out(Buffer.from('x'));
            gave++;
          }
        } catch (err) {
          stoppedWith = err;
          throw err;
        }
      });
      for await (const _ of it) if (gave === 2) break;
      assert.match(String(stoppedWith), /no longer read/);
      assert.equal(gave, 2);
    }
  });
});
