/**
 * The registry's operations through `berth registry …` and raw HTTP: quotas (DENIED naming the limit and the
 * usage, a blob counted once per project), immutable tags, tag retention (dry run, refusals, then GC frees the
 * space), webhooks delivered to a receiver this test runs (HMAC checked, retries, failures recorded, a hung
 * endpoint never holding up a push) and the audit log.
 */
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  call,
  errorCode,
  pushBlob,
  pushImage,
  registryCli,
  serveRegistry,
  type ServedRegistry,
  sha256,
} from '../src/registry/testkit.ts';
import { waitFor } from './harness.ts';

const ADMIN = { Authorization: `Basic ${Buffer.from('root:rootpw').toString('base64')}` };
const ALICE = { Authorization: `Basic ${Buffer.from('alice:alicepw').toString('base64')}` };

/** A local HTTP receiver: records each request, answers with what `answer` says (or never, for 'hang'). */
interface Receiver {
  url: string;
  seen: { headers: IncomingMessage['headers']; body: string }[];
  hung: ServerResponse[];
  answer: (n: number) => number | 'hang';
  close(): Promise<void>;
}

async function receiver(): Promise<Receiver> {
  const r: Receiver = {
    url: '',
    seen: [],
    hung: [],
    answer: () => 200,
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      r.seen.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const a = r.answer(r.seen.length);
      if (a === 'hang') r.hung.push(res);
      else res.writeHead(a).end();
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  r.close = async () => {
    for (const res of r.hung) res.destroy();
    server.closeAllConnections();
    await new Promise((res) => server.close(res));
  };
  return r;
}

async function cli(args: string[], input?: string) {
  const r = await registryCli(args, input, { BERTH_REGISTRY_PASSWORD: 'rootpw' });
  assert.equal(r.code, 0, `berth registry ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function admin(reg: ServedRegistry, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${reg.url}/admin/v1/${path}`, {
    method,
    headers: { ...ADMIN, 'Content-Type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

describe('registry operations: quotas, immutable tags, retention, webhooks, audit', () => {
  let root: string;
  let reg: ServedRegistry;
  let hooks: Receiver;
  const at = (...a: string[]) => [...a, '--url', reg.url, '-u', 'root'];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-regops-'));
    const config = join(root, 'config.json');
    await writeFile(config, JSON.stringify({ webhooks: { attempts: 3, backoff: '100ms', timeout: '2s' } }));
    const local = ['--root', root];
    await cli(['user', 'add', 'root', '--admin', '--password-stdin', ...local], 'rootpw\n');
    await cli(['user', 'add', 'alice', '--password-stdin', ...local], 'alicepw\n');
    for (const p of ['quota', 'fixed', 'ret', 'hooked'])
      await cli(['project', 'create', p, ...(p === 'quota' ? ['--quota', '3000'] : []), ...local]);
    for (const p of ['quota', 'fixed', 'ret', 'hooked']) await cli(['grant', 'alice', p, 'delete', ...local]);
    hooks = await receiver();
    reg = await serveRegistry(undefined, { root, args: ['--config', config] });
  });
  after(async () => {
    await reg?.stop();
    await hooks?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('quota: a push past the limit is DENIED naming limit and usage; a blob counts once per project', async () => {
    const a = randomBytes(1000);
    await pushBlob(reg, 'quota/one', a, ALICE);
    // The same blob in another repository of the project: no more usage (upload or mount alike).
    await pushBlob(reg, 'quota/two', a, ALICE);
    const ls = await cli(at('project', 'ls'));
    assert.match(ls, /^quota\s+no\s+3000\s+1000\s+-/m);
    // 1000 used + 2500 > 3000.
    const big = randomBytes(2500);
    const post = await call(reg, 'POST', '/v2/quota/one/blobs/uploads/', { headers: ALICE });
    const put = await fetch(new URL(`${post.headers.get('location')}?digest=${sha256(big)}`, reg.url), {
      method: 'PUT',
      headers: { ...ALICE, 'Content-Type': 'application/octet-stream' },
      body: big,
    });
    assert.equal(put.status, 403);
    const body = (await put.json()) as { errors: { code: string; message: string }[] };
    assert.equal(body.errors[0]!.code, 'DENIED');
    assert.match(
      body.errors[0]!.message,
      /quota exceeded: project "quota" may hold 2.9 KiB \(3000 bytes\) and holds 1000 bytes; blob sha256:[0-9a-f]+ of 2.4 KiB \(2500 bytes\)/,
    );
    // Raised through the admin API, the same push goes through.
    assert.equal((await admin(reg, 'PUT', 'projects/quota/settings', { quota: 10_000 })).status, 204);
    await pushBlob(reg, 'quota/one', big, ALICE);
    const info = (await (await admin(reg, 'GET', 'projects/quota/settings')).json()) as {
      quota: number;
      usage: number;
    };
    assert.deepEqual([info.quota, info.usage], [10_000, 3500]);
    // The CLI takes sizes with units, and `none`.
    await cli(at('project', 'set', 'quota', '--quota', '1KiB'));
    assert.match(await cli(at('project', 'ls')), /^quota\s+no\s+1024\s+3500/m);
    await cli(at('project', 'set', 'quota', '--quota', 'none'));
    const bad = await registryCli(at('project', 'set', 'quota', '--quota', 'lots'), undefined, {
      BERTH_REGISTRY_PASSWORD: 'rootpw',
    });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /invalid quota "lots"/);
  });

  it('immutable tags: a push may not move one, a delete may not remove it; other tags move freely', async () => {
    assert.match(await cli(at('immutable', 'add', 'fixed', 'v*')), /^\d+\n$/);
    const v1 = await pushImage(reg, 'fixed/app', 'v1', { headers: ALICE });
    const other = await pushImage(reg, 'fixed/app', 'latest', { headers: ALICE });
    // The same digest again: fine.
    const again = await call(reg, 'PUT', '/v2/fixed/app/manifests/v1', {
      body: v1.manifest,
      headers: { ...ALICE, 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(again.status, 201);
    const moved = await call(reg, 'PUT', '/v2/fixed/app/manifests/v1', {
      body: other.manifest,
      headers: { ...ALICE, 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(moved.status, 403);
    const text = await moved.text();
    assert.match(text, /tag fixed\/app:v1 is immutable \(rule \\"v\*\\" of project \\"fixed\\"\)/);
    for (const ref of ['v1', v1.digest]) {
      const del = await call(reg, 'DELETE', `/v2/fixed/app/manifests/${ref}`, { headers: ALICE });
      assert.equal(del.status, 403, ref);
      assert.equal(await errorCode(del), 'DENIED');
    }
    const latest = await call(reg, 'PUT', '/v2/fixed/app/manifests/latest', {
      body: v1.manifest,
      headers: { ...ALICE, 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(latest.status, 201);
    // Through the admin API: listed, and once removed the tag may move.
    const rules = (await (await admin(reg, 'GET', 'projects/fixed/immutable')).json()) as { pattern: string }[];
    assert.deepEqual(
      rules.map((r) => r.pattern),
      ['v*'],
    );
    assert.equal((await admin(reg, 'DELETE', 'projects/fixed/immutable/v*')).status, 204);
    const now = await call(reg, 'PUT', '/v2/fixed/app/manifests/v1', {
      body: other.manifest,
      headers: { ...ALICE, 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(now.status, 201);
    const badRule = await admin(reg, 'POST', 'projects/fixed/immutable', { pattern: 'v[1' });
    assert.equal(badRule.status, 400);
  });

  it('retention keeps the last N, the recently pulled and the matching; dry run first; GC frees the rest', async () => {
    const pushed: Record<string, string> = {};
    for (const tag of ['t1', 't2', 't3', 'keep-me', 't4', 't5']) {
      pushed[tag] = (await pushImage(reg, 'ret/app', tag, { headers: ALICE, layers: [randomBytes(4096)] })).digest;
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal((await call(reg, 'GET', '/v2/ret/app/manifests/t1', { headers: ALICE })).status, 200);
    const refused = await registryCli(at('retention', 'add', 'ret', '--keep-last', '0'), undefined, {
      BERTH_REGISTRY_PASSWORD: 'rootpw',
    });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /would delete every tag of project "ret"; give --force/);
    await cli(at('retention', 'add', 'ret', '--keep-last', '2', '--keep-pulled', '7', '--match', 'keep-*'));
    // The pull's time is written within a quarter second.
    const dry = await waitFor('the pull to count', async () => {
      const out = await cli(at('retention', 'run', 'ret', '--dry-run'));
      return out.includes('ret/app:t1') ? undefined : out;
    });
    assert.match(dry, /would delete ret\/app:t2/);
    assert.match(dry, /would delete ret\/app:t3/);
    assert.match(dry, /would delete 2 tags; kept 4/);
    assert.equal((await call(reg, 'GET', '/v2/ret/app/tags/list', { headers: ALICE })).status, 200);
    const report = (await (await admin(reg, 'POST', 'projects/ret/retention/run', {})).json()) as {
      deleted: { tag: string }[];
      manifests: number;
    };
    assert.deepEqual(report.deleted.map((d) => d.tag).sort(), ['t2', 't3']);
    assert.equal(report.manifests, 2);
    const tags = (await (await call(reg, 'GET', '/v2/ret/app/tags/list', { headers: ALICE })).json()) as {
      tags: string[];
    };
    assert.deepEqual(tags.tags, ['keep-me', 't1', 't4', 't5']);
    assert.equal((await call(reg, 'GET', `/v2/ret/app/manifests/${pushed.t2}`, { headers: ALICE })).status, 404);
    const gc = await cli(at('gc', '--grace', '0s'));
    assert.match(gc, /freed [1-9]\d* bytes/);
    // A rule that would empty a repository is refused unless forced.
    await cli(at('retention', 'add', 'ret', '--keep-last', '0', '--force'));
    for (const r of (await (await admin(reg, 'GET', 'projects/ret/retention')).json()) as {
      id: number;
      keepLast: number;
    }[])
      if (r.keepLast === 2) await cli(at('retention', 'rm', 'ret', String(r.id)));
    const emptying = await admin(reg, 'POST', 'projects/ret/retention/run', {});
    assert.equal(emptying.status, 412);
    assert.match(((await emptying.json()) as { message: string }).message, /every tag of ret\/app/);
  });

  it('webhooks: signed deliveries, retried, failures recorded, a hung endpoint never holds up a push', async () => {
    const bad = await registryCli(at('webhook', 'add', 'hooked', 'ftp://x/', '--secret', 's'), undefined, {
      BERTH_REGISTRY_PASSWORD: 'rootpw',
    });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid webhook URL "ftp:\/\/x\/": it must be http or https/);
    const id = (
      await cli(at('webhook', 'add', 'hooked', hooks.url, '--secret', 'sesame', '--events', 'push,delete'))
    ).trim();
    // First answer 500, then 200: delivered on the second attempt.
    hooks.answer = (n) => (n === 1 ? 500 : 200);
    const img = await pushImage(reg, 'hooked/app', 'v1', { headers: ALICE });
    await waitFor('a delivery', () => hooks.seen.length >= 2);
    const got = hooks.seen[1]!;
    const expected = `sha256=${createHmac('sha256', 'sesame').update(got.body).digest('hex')}`;
    assert.equal(got.headers['x-berth-signature-256'], expected);
    assert.equal(got.headers['x-berth-event'], 'push');
    const payload = JSON.parse(got.body) as {
      type: string;
      operator: string;
      event_data: { resources: { digest: string; tag: string }[]; repository: { repo_full_name: string } };
    };
    assert.equal(payload.type, 'PUSH_ARTIFACT');
    assert.equal(payload.operator, 'alice');
    assert.deepEqual(payload.event_data.resources[0], {
      digest: img.digest,
      tag: 'v1',
      resource_url: 'hooked/app:v1',
      media_type: 'application/vnd.oci.image.manifest.v1+json',
    });
    assert.equal(payload.event_data.repository.repo_full_name, 'hooked/app');
    // Pulls were not asked for.
    await call(reg, 'GET', '/v2/hooked/app/manifests/v1', { headers: ALICE });
    const deliveries = await waitFor('the delivery to be recorded', async () => {
      const list = (await (await admin(reg, 'GET', 'projects/hooked/webhooks/deliveries')).json()) as {
        state: string;
        attempts: number;
        lastStatus: number;
      }[];
      return list[0]?.state === 'delivered' ? list : undefined;
    });
    assert.equal(deliveries.length, 1);
    assert.deepEqual([deliveries[0]!.attempts, deliveries[0]!.lastStatus], [2, 200]);
    // A hung endpoint: the push is answered while the endpoint still holds the delivery.
    hooks.answer = () => 'hang';
    const before = hooks.seen.length;
    await pushImage(reg, 'hooked/app', 'v2', { headers: ALICE });
    await waitFor('the hung delivery', () => hooks.seen.length > before);
    assert.equal(hooks.hung.length, 1, 'the endpoint has not answered, and the push was done');
    // Always 503: three attempts, then recorded as failed with the last status.
    hooks.answer = () => 503;
    for (const res of hooks.hung.splice(0)) res.destroy();
    const del = await call(reg, 'DELETE', '/v2/hooked/app/manifests/v2', { headers: ALICE });
    assert.equal(del.status, 202);
    const failed = await waitFor(
      'failed deliveries',
      async () => {
        const out = await cli(at('webhook', 'deliveries', 'hooked', '--state', 'failed', '--format', 'json'));
        const list = JSON.parse(out) as {
          event: string;
          attempts: number;
          lastStatus: number | null;
          lastError: string;
        }[];
        return list.find((d) => d.event === 'delete') ? list : undefined;
      },
      60_000,
    );
    const delivery = failed.find((d) => d.event === 'delete')!;
    assert.equal(delivery.attempts, 3);
    assert.equal(delivery.lastStatus, 503);
    assert.match(delivery.lastError, /answered 503/);
    assert.match(
      await cli(at('webhook', 'ls', 'hooked')),
      new RegExp(`^${id}\\s+${hooks.url.replace(/\//g, '\\/')}\\s+push,delete`, 'm'),
    );
  });

  it('audit: who did what to which repository and tag, when, from where; filtered in the CLI and the API', async () => {
    const img = await pushImage(reg, 'hooked/audited', 'a1', { headers: ALICE });
    await call(reg, 'GET', '/v2/hooked/audited/manifests/a1', { headers: ADMIN });
    await call(reg, 'DELETE', '/v2/hooked/audited/manifests/a1', { headers: ALICE });
    const list = await waitFor('three entries', async () => {
      const out = JSON.parse(
        await cli(at('audit', '--repo', 'hooked/audited', '--since', '1h', '--format', 'json')),
      ) as {
        actor: string;
        address: string;
        action: string;
        reference: string;
        digest: string;
      }[];
      return out.length >= 3 ? out : undefined;
    });
    assert.deepEqual(
      list.map((e) => [e.action, e.actor, e.reference, e.digest]),
      [
        ['delete', 'alice', 'a1', img.digest],
        ['pull', 'root', 'a1', img.digest],
        ['push', 'alice', 'a1', img.digest],
      ],
    );
    for (const e of list) assert.match(e.address, /127\.0\.0\.1$/);
    const res = await admin(reg, 'GET', 'audit?repo=hooked/audited&action=push');
    const pushes = (await res.json()) as { action: string }[];
    assert.deepEqual(
      pushes.map((e) => e.action),
      ['push'],
    );
    const none = JSON.parse(
      await cli(at('audit', '--repo', 'hooked/audited', '--until', '2000-01-01', '--format', 'json')),
    );
    assert.deepEqual(none, []);
    // Only administrators (or the project's admins) read the log.
    const denied = await fetch(`${reg.url}/admin/v1/audit`, { headers: ALICE });
    assert.equal(denied.status, 403);
  });
});
