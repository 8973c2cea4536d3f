import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { main } from './main.ts';
import type { OutStream, Streams } from './command.ts';

/** A fake engine answering a few image endpoints, to check what the CLI prints and how it exits. */
let dir = '';
let host = '';
let server: http.Server;
const now = Math.floor(Date.now() / 1000);
const ID = `sha256:${'ab'.repeat(32)}`;
/** What the fake engine saves: 300 kB, so the transfer takes several chunks. */
const TAR = Buffer.alloc(300_000, 7);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-cli-'));
  const sock = join(dir, 'engine.sock');
  host = `unix://${sock}`;
  server = http.createServer((req, res) => {
    res.setHeader('Api-Version', '1.41');
    const url = req.url ?? '';
    const json = (status: number, body: unknown): void => {
      res.statusCode = status;
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(body));
    };
    if (url === '/_ping') return void res.end();
    if (url.startsWith('/v1.41/images/json')) {
      // Ages relative to this request, chosen where the text holds for tens of seconds: under load the CLI formats
      // them a second or more after this answer, which once turned "30 seconds ago" into 31.
      const now = Math.floor(Date.now() / 1000);
      return json(200, [
        {
          Id: ID,
          RepoTags: ['busybox:latest', 'docker.io/library/busybox:1'],
          RepoDigests: [],
          Created: now - 7200,
          Size: 1982269,
          SharedSize: -1,
          Containers: -1,
          Labels: null,
          ParentId: '',
        },
        {
          Id: `sha256:${'cd'.repeat(32)}`,
          RepoTags: ['<none>:<none>'],
          RepoDigests: ['<none>@<none>'],
          Created: now - 45 * 60 - 20,
          Size: 4_270_000,
          SharedSize: -1,
          Containers: -1,
          Labels: null,
          ParentId: '',
        },
      ]);
    }
    if (url.startsWith('/v1.41/images/nosuch')) return json(404, { message: 'No such image: nosuch:latest' });
    if (url.startsWith('/v1.41/images/busybox') && req.method === 'DELETE')
      return json(200, [{ Untagged: 'busybox:latest' }, { Deleted: ID }]);
    if (url.startsWith('/v1.41/images/get?names=busybox')) {
      res.setHeader('Content-Type', 'application/x-tar');
      return void res.end(TAR);
    }
    if (url.startsWith('/v1.41/images/load')) {
      let received = 0;
      req.on('data', (c: Buffer) => void (received += c.length));
      req.on('end', () => json(200, { stream: `Loaded image: busybox:latest (${received} bytes)\n` }));
      return;
    }
    if (url.endsWith('/taghistory')) {
      return json(200, [
        {
          Digest: `sha256:${'ef'.repeat(32)}`,
          ImageID: ID,
          Time: new Date((now - 120) * 1000).toISOString(),
          Action: 'set',
        },
      ]);
    }
    json(404, { message: `page not found: ${url}` });
  });
  await new Promise<void>((resolve) => server.listen(sock, resolve));
});

after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

function capture(): OutStream & { text(): string } {
  let buf = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      buf += chunk.toString();
      cb();
    },
  });
  return { stream, isTerminal: false, columns: undefined, write: (s: string) => void (buf += s), text: () => buf };
}

async function run(...argv: string[]): Promise<{ status: number; out: string; err: string }> {
  return runWith({}, ...argv);
}

/** Runs with stderr as a terminal of `columns` columns, when given. */
async function runWith(
  opts: { errColumns?: number },
  ...argv: string[]
): Promise<{ status: number; out: string; err: string }> {
  const out = capture();
  const err = opts.errColumns === undefined ? capture() : { ...capture(), isTerminal: true, columns: opts.errColumns };
  const streams: Streams = { in: new PassThrough(), out, err };
  const status = await main(argv, {}, streams);
  return { status, out: out.text(), err: err.text() };
}

describe('berth against a fake engine', () => {
  it('lists images in docker columns', async () => {
    const r = await run('-H', host, 'images');
    assert.equal(r.status, 0);
    assert.equal(
      r.out,
      'REPOSITORY   TAG       IMAGE ID       CREATED          SIZE\n' +
        'busybox      latest    abababababab   2 hours ago      1.98MB\n' +
        'busybox      1         abababababab   2 hours ago      1.98MB\n' +
        '<none>       <none>    cdcdcdcdcdcd   45 minutes ago   4.27MB\n',
    );
  });

  it('prints IDs only with -q', async () => {
    const r = await run('-H', host, 'image', 'ls', '-q');
    assert.equal(r.out, 'abababababab\nabababababab\ncdcdcdcdcdcd\n');
  });

  it('reports engine errors with docker wording and exit 1', async () => {
    const r = await run('-H', host, 'rmi', 'nosuch');
    assert.deepEqual(r, { status: 1, out: '', err: 'Error response from daemon: No such image: nosuch:latest\n' });
  });

  it('prints Untagged/Deleted lines for rmi', async () => {
    const r = await run('-H', host, 'image', 'rm', 'busybox');
    assert.equal(r.out, `Untagged: busybox:latest\nDeleted: ${ID}\n`);
  });

  it('shows tag history (Berth addition)', async () => {
    const r = await run('-H', host, 'image', 'history', '--tags', 'busybox:latest');
    assert.equal(r.status, 0);
    assert.equal(
      r.out,
      'DIGEST                                                                    IMAGE ID       SET             ACTION\n' +
        `sha256:${'ef'.repeat(32)}   abababababab   2 minutes ago   set\n`,
    );
  });

  it('fails with usage text on a bad flag (125) or argument count (1)', async () => {
    const flag = await run('-H', host, 'images', '--xyz');
    assert.equal(flag.status, 125);
    assert.equal(
      flag.err,
      "unknown flag: --xyz\n\nUsage:  berth images [OPTIONS] [REPOSITORY[:TAG]]\n\nRun 'berth images --help' for more information\n",
    );
    const args = await run('-H', host, 'tag', 'a');
    assert.equal(args.status, 1);
    assert.match(
      args.err,
      /^berth: 'berth tag' requires 2 arguments\n\nUsage: {2}berth tag SOURCE_IMAGE\[:TAG\] TARGET_IMAGE\[:TAG\]\n/,
    );
    const unknown = await run('-H', host, 'image', 'frob');
    assert.equal(unknown.status, 1);
    assert.match(unknown.err, /^berth: unknown command: berth image frob\n/);
  });

  it('prints command help on stdout', async () => {
    const r = await run('rmi', '--help');
    assert.equal(r.status, 0);
    assert.equal(
      r.out,
      'Usage:  berth rmi [OPTIONS] IMAGE [IMAGE...]\n\nRemove one or more images\n\nAliases:\n' +
        '  berth image rm, berth image remove, berth rmi\n\nOptions:\n' +
        '  -f, --force      Force removal of the image\n      --no-prune   Do not delete untagged parents\n',
    );
  });

  it('says where it could not connect', async () => {
    const missing = `unix://${join(dir, 'absent.sock')}`;
    const r = await run('-H', missing, 'images');
    assert.deepEqual(r, {
      status: 1,
      out: '',
      err: `Cannot connect to the Berth daemon at ${missing}. Is berthd running?\n`,
    });
  });

  it('reads BERTH_HOST but not DOCKER_HOST', async () => {
    const out = capture();
    const err = capture();
    const status = await main(
      ['images', '-q'],
      { BERTH_HOST: host, DOCKER_HOST: 'unix:///nonexistent' },
      { in: new PassThrough(), out, err },
    );
    assert.equal(status, 0);
    assert.equal(out.text().split('\n').length, 4);
  });

  it('draws save -o and load -i progress on a terminal stderr, and nothing elsewhere', async () => {
    const file = join(dir, 'saved.tar');
    const quiet = await run('-H', host, 'save', '-o', file, 'busybox');
    assert.deepEqual(quiet, { status: 0, out: '', err: '' });
    assert.deepEqual(await readFile(file), TAR);
    const saved = await runWith({ errColumns: 150 }, '-H', host, 'save', '-o', file, 'busybox');
    assert.equal(saved.status, 0);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the progress line's escape sequence is what is tested
    assert.match(saved.err, /^\x1b\[2K\rSaving +[\d.]+kB\r/);
    assert.ok(saved.err.endsWith('\x1b[2K\rSaving    300kB\r\n'), JSON.stringify(saved.err.slice(-40)));
    assert.deepEqual(await readFile(file), TAR);

    const loaded = await runWith({ errColumns: 150 }, '-H', host, 'load', '-i', file);
    assert.equal(loaded.out, 'Loaded image: busybox:latest (300000 bytes)\n');
    assert.ok(
      loaded.err.endsWith(`\x1b[2K\rUploading [${'='.repeat(50)}>]    300kB/300kB\r\n`),
      JSON.stringify(loaded.err.slice(-80)),
    );
    const plain = await run('-H', host, 'load', '-i', file);
    assert.deepEqual(plain, { status: 0, out: 'Loaded image: busybox:latest (300000 bytes)\n', err: '' });
    const narrow = await runWith({ errColumns: 80 }, '-H', host, 'load', '-q', '-i', file);
    assert.equal(narrow.err, '', 'quiet');
  });
});
