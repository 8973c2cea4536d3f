import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError, NotFoundError } from '../util/errors.ts';
import { type FilterContext, type ListOptions, nameMatches, selectContainers } from './filters.ts';
import type { Row } from './model.ts';
import { initialState, type ContainerState } from './state.ts';

describe('nameMatches', () => {
  it('matches the name with and without its leading slash', () => {
    assert.equal(nameMatches('^w1$', 'w1'), true);
    assert.equal(nameMatches('^/w1$', 'w1'), true);
    assert.equal(nameMatches('w', 'web'), true);
    assert.equal(nameMatches('^w1$', 'w12'), false);
  });

  it('treats an invalid expression as matching nothing', () => {
    assert.equal(nameMatches('(', 'x('), false);
  });
});

function row(name: string, created: number, state: Partial<ContainerState> = {}, over: Partial<Row> = {}): Row {
  return {
    id: `${name}${'0'.repeat(64 - name.length)}`.replace(/[^0-9a-f]/g, 'a'),
    name,
    imageId: 'sha256:busybox',
    imageRef: 'busybox',
    created,
    config: { Config: { Labels: {} }, Path: 'sh', Args: [], Mounts: [] },
    hostConfig: {},
    state: { ...initialState(), ...state },
    runtime: 'runc',
    snapshot: name,
    ...over,
  };
}

// Newest first, as the records list them.
const web = row(
  'web',
  300,
  { Status: 'running', Health: { Status: 'healthy', FailingStreak: 0, Log: [] } },
  {
    id: `beef${'1'.repeat(60)}`,
    config: {
      Config: { Labels: { tier: 'front', app: 'shop' } },
      Path: 'httpd',
      Args: [],
      Mounts: [
        { Type: 'volume', Name: 'data', Source: '/v/data', Destination: '/data', Mode: '', RW: true, Propagation: '' },
      ],
    },
    imageId: 'sha256:nginx',
    imageRef: 'nginx:1',
  },
);
const job = row('job', 200, { Status: 'exited', ExitCode: 3 }, { id: `cafe${'2'.repeat(60)}` });
const fresh = row('fresh', 100, { Status: 'created' }, { id: `dead${'3'.repeat(60)}` });
const rows = [web, job, fresh];

const ctx: FilterContext = {
  container: (ref) => {
    const r = rows.find((x) => x.name === ref || x.id.startsWith(ref));
    if (!r) throw new NotFoundError(`No such container: ${ref}`);
    return r;
  },
  imageId: (ref) => ({ nginx: 'sha256:nginx', 'nginx:1': 'sha256:nginx', busybox: 'sha256:busybox' })[ref],
  networks: (r) => (r === web ? [{ name: 'front', id: 'f00d1234' }] : [{ name: 'bridge', id: 'b0b0' }]),
  ports: (r) =>
    r === web
      ? [
          { PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
          { PrivatePort: 53, Type: 'udp' },
        ]
      : [],
};
const names = (o: ListOptions) => selectContainers(rows, o, ctx).map((r) => r.name);
const filters = (f: Record<string, string[]>): ListOptions => ({ all: true, filters: new Map(Object.entries(f)) });

describe('selectContainers', () => {
  it('lists running containers only, unless -a, a limit, a status or before/since asks about others', () => {
    assert.deepEqual(names({}), ['web']);
    assert.deepEqual(names({ all: true }), ['web', 'job', 'fresh']);
    assert.deepEqual(names({ limit: 2 }), ['web', 'job'], 'the newest two, whatever their state');
    assert.deepEqual(names({ filters: new Map([['status', ['exited']]]) }), ['job']);
    assert.deepEqual(names({ filters: new Map([['before', ['job']]]) }), ['fresh']);
    assert.deepEqual(names({ filters: new Map([['since', ['fresh']]]) }), ['web', 'job']);
  });

  it('filters by name (a regular expression), ID prefix, label and state', () => {
    assert.deepEqual(names(filters({ name: ['^/?(web|job)$'] })), ['web', 'job']);
    assert.deepEqual(names(filters({ id: ['cafe', 'dead'] })), ['job', 'fresh']);
    assert.deepEqual(names(filters({ label: ['tier'] })), ['web']);
    assert.deepEqual(names(filters({ label: ['tier=front', 'app=shop'] })), ['web'], 'every label must match');
    assert.deepEqual(names(filters({ label: ['tier=back'] })), []);
    assert.deepEqual(names(filters({ exited: ['3'] })), ['job']);
    assert.deepEqual(names(filters({ exited: ['0'] })), []);
    assert.deepEqual(names(filters({ health: ['healthy'] })), ['web']);
    assert.deepEqual(names(filters({ health: ['none'] })), ['job', 'fresh']);
  });

  it('filters by image (ID or the name it was run as), volume (name or destination) and network (name or ID prefix)', () => {
    assert.deepEqual(names(filters({ ancestor: ['nginx'] })), ['web']);
    assert.deepEqual(names(filters({ ancestor: ['nginx:1'] })), ['web']);
    assert.deepEqual(names(filters({ ancestor: ['nosuchimage'] })), []);
    assert.deepEqual(names(filters({ volume: ['data'] })), ['web']);
    assert.deepEqual(names(filters({ volume: ['/data'] })), ['web']);
    assert.deepEqual(names(filters({ network: ['front'] })), ['web']);
    assert.deepEqual(names(filters({ network: ['b0'] })), ['job', 'fresh']);
    assert.deepEqual(names(filters({ network: [''] })), [], 'an empty ID prefix matches nothing');
  });

  it('refuses an unknown status and a before/since container that does not exist', () => {
    assert.throws(
      () => names(filters({ status: ['sleeping'] })),
      (e: unknown) => e instanceof InvalidArgumentError && e.message === "Invalid filter 'status=sleeping'",
    );
    assert.throws(() => names(filters({ before: ['nope'] })), NotFoundError);
  });

  it('filters by published port (the host side) and exposed port (the container side), ranges and protocols', () => {
    assert.deepEqual(names(filters({ publish: ['8080'] })), ['web']);
    assert.deepEqual(names(filters({ publish: ['80'] })), [], 'publish matches the host port');
    assert.deepEqual(names(filters({ publish: ['8000-8100/tcp'] })), ['web']);
    assert.deepEqual(names(filters({ expose: ['80/tcp'] })), ['web']);
    assert.deepEqual(names(filters({ expose: ['53/udp'] })), ['web']);
    assert.deepEqual(names(filters({ expose: ['53'] })), [], 'the protocol defaults to tcp');
    assert.deepEqual(names(filters({ expose: ['81'] })), []);
    assert.throws(() => names(filters({ publish: ['1:80'] })), /filter for 'publish' should not contain ':': 1:80/);
    assert.throws(() => names(filters({ expose: ['http'] })), InvalidArgumentError);
  });
});
