import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineClient } from './index.ts';
import { CanceledError, ConflictError, InvalidArgumentError } from '../util/errors.ts';

/** Checks the requests the container, exec and volume methods send, against a recording fake engine. */
let dir = '';
let server: http.Server;
let api = '1.45';
let seen: string[] = [];
let bodies: string[] = [];
let pendingWait: http.ServerResponse | undefined;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-cc-'));
  server = http.createServer((req, res) => {
    res.setHeader('Api-Version', api);
    if (req.url === '/_ping') return void res.end();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push(`${req.method} ${req.url}`);
      bodies.push(Buffer.concat(chunks).toString());
      const url = req.url ?? '';
      const json = (status: number, body: unknown): void => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (url.includes('/wait')) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.flushHeaders();
        pendingWait = res;
        return;
      }
      if (url.includes('/containers/create')) return json(201, { Id: 'abc', Warnings: [] });
      if (url.includes('/stop')) return void res.writeHead(304).end();
      if (url.includes('/kill')) return json(409, { message: 'Container abc is not running' });
      if (url.includes('/archive') && req.method === 'HEAD') {
        const stat = Buffer.from(
          JSON.stringify({ name: 'tmp', size: 4096, mode: 2147484141, mtime: '2024-01-01T00:00:00Z', linkTarget: '' }),
        ).toString('base64');
        res.writeHead(200, { 'X-Docker-Container-Path-Stat': stat });
        return void res.end();
      }
      if (url.includes('/commit')) return json(201, { Id: 'sha256:1' });
      if (url.includes('/containers/json')) return json(200, []);
      if (url.includes('/volumes/create')) return json(201, { Name: 'v', Driver: 'local' });
      res.writeHead(204);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(join(dir, 'e.sock'), resolve));
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  seen = [];
  bodies = [];
  api = '1.45';
});

function client(): EngineClient {
  return new EngineClient({ host: `unix://${join(dir, 'e.sock')}` });
}

describe('container requests', () => {
  it('create, list, start, kill, remove, resize and logs use docker’s paths and queries', async () => {
    const c = client();
    try {
      assert.deepEqual(await c.containerCreate({ Image: 'busybox', Cmd: ['true'] }, { name: 'web' }), {
        Id: 'abc',
        Warnings: [],
      });
      assert.deepEqual(JSON.parse(bodies[0] ?? ''), { Image: 'busybox', Cmd: ['true'] });
      await c.containerList({ all: true, limit: 2, size: true, filters: { status: ['exited'], label: ['a=1'] } });
      await c.containerStart('abc', { detachKeys: 'ctrl-a' });
      await assert.rejects(c.containerKill('abc', 'HUP'), (e: unknown) => e instanceof ConflictError);
      await c.containerRemove('abc', { force: true, volumes: true });
      await c.containerResize('abc', 30, 100);
      await c.containerRename('abc', 'new name');
      (
        await c.containerLogs('abc', { stdout: true, stderr: true, tail: 'all', follow: true, timestamps: true })
      ).resume();
      assert.deepEqual(seen, [
        'POST /v1.45/containers/create?name=web',
        'GET /v1.45/containers/json?all=1&filters=%7B%22status%22%3A%7B%22exited%22%3Atrue%7D%2C%22label%22%3A%7B%22a%3D1%22%3Atrue%7D%7D&limit=2&size=1',
        'POST /v1.45/containers/abc/start?detachKeys=ctrl-a',
        'POST /v1.45/containers/abc/kill?signal=HUP',
        'DELETE /v1.45/containers/abc?force=1&v=1',
        'POST /v1.45/containers/abc/resize?h=30&w=100',
        'POST /v1.45/containers/abc/rename?name=new+name',
        'GET /v1.45/containers/abc/logs?follow=1&stderr=1&stdout=1&tail=all&timestamps=1',
      ]);
      assert.throws(
        () => c.containerStart('  '),
        (e: unknown) =>
          e instanceof InvalidArgumentError && e.message === 'invalid container name or ID: value is empty',
      );
    } finally {
      c.close();
    }
  });

  it('stop takes 304 as success and sends the signal only from API 1.42', async () => {
    for (const [version, expected] of [
      ['1.45', 'POST /v1.45/containers/abc/stop?signal=USR1&t=3'],
      ['1.41', 'POST /v1.41/containers/abc/stop?t=3'],
    ] as const) {
      api = version;
      seen = [];
      const c = client();
      try {
        await c.containerStop('abc', { timeout: 3, stopSignal: 'USR1' });
        assert.deepEqual(seen, [expected]);
      } finally {
        c.close();
      }
    }
  });

  it('wait resolves once headers arrive, before the container ends; cancel drops it', async () => {
    const c = client();
    try {
      const handle = await c.containerWait('abc', { condition: 'next-exit' });
      assert.deepEqual(seen, ['POST /v1.45/containers/abc/wait?condition=next-exit']);
      let settled = false;
      void handle.result.then(() => (settled = true));
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(settled, false);
      pendingWait?.end('{"StatusCode":7,"Error":null}');
      assert.deepEqual(await handle.result, { StatusCode: 7, Error: null });
      const second = await c.containerWait('abc');
      second.cancel();
      await assert.rejects(second.result, (e: unknown) => e instanceof CanceledError);
    } finally {
      c.close();
    }
  });

  it('decodes the path stat header, and commits with docker’s query', async () => {
    const c = client();
    try {
      const st = await c.containerStatPath('abc', '/tmp');
      assert.equal(st.name, 'tmp');
      assert.equal(Math.floor(st.mode / 2 ** 31), 1, 'a directory');
      assert.deepEqual(
        await c.containerCommit({
          container: 'abc',
          repo: 'docker.io/library/x',
          tag: '1',
          comment: 'm',
          author: 'a',
          changes: ['ENV A=1'],
          pause: false,
        }),
        { Id: 'sha256:1' },
      );
      assert.equal(
        seen[1],
        'POST /v1.45/commit?author=a&changes=ENV+A%3D1&comment=m&container=abc&pause=0&repo=docker.io%2Flibrary%2Fx&tag=1',
      );
      await c.volumeCreate({ Name: 'v', Labels: { a: 'b' } });
      assert.equal(seen[2], 'POST /v1.45/volumes/create');
      assert.deepEqual(JSON.parse(bodies[2] ?? ''), { Name: 'v', Labels: { a: 'b' } });
    } finally {
      c.close();
    }
  });
});
