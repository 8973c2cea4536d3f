import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { emitYaml, formatConfig } from './config.ts';
import { serviceHash } from './hash.ts';
import type { Project } from './model.ts';
import { normalizeService } from './normalize.ts';

const ctx = { workingDir: '/p', home: '/h', error: (_: unknown, r: string) => new Error(r) };
const svc = (raw: Record<string, unknown>) => normalizeService('web', { image: 'busybox', ...raw }, ctx);

function projectOf(services: Record<string, ReturnType<typeof svc>>): Project {
  return {
    name: 'demo',
    workingDir: '/p',
    configFiles: ['/p/compose.yaml'],
    environment: {},
    envFiles: [],
    services,
    disabledServices: {},
    networks: { default: { name: 'demo_default', driver_opts: {}, labels: {} } },
    volumes: {},
    secrets: {},
    configs: {},
    extensions: {},
  };
}

test('config: the canonical document, without empty lists and maps, x- keys kept', () => {
  const text = formatConfig(
    projectOf({ web: svc({ ports: ['8080:80'], environment: ['A=1', 'B'], 'x-berth-ready': { tcp: 80 } }) }),
    'yaml',
  );
  assert.deepEqual(parse(text), {
    name: 'demo',
    services: {
      web: {
        image: 'busybox',
        environment: { A: '1', B: null },
        networks: { default: null },
        ports: [{ mode: 'ingress', target: 80, published: '8080', protocol: 'tcp' }],
        'x-berth-ready': { tcp: 80 },
      },
    },
    networks: { default: { name: 'demo_default' } },
  });
  assert.deepEqual(JSON.parse(formatConfig(projectOf({ web: svc({}) }), 'json')).services.web, {
    image: 'busybox',
    networks: { default: null },
  });
});

test('config hash: stable, changed by what the container runs, not by scale, build, depends_on, profiles', () => {
  const base = serviceHash(svc({ command: 'sleep 1' }));
  assert.match(base, /^[0-9a-f]{64}$/);
  assert.equal(serviceHash(svc({ command: 'sleep 1' })), base);
  assert.notEqual(serviceHash(svc({ command: 'sleep 2' })), base);
  assert.notEqual(serviceHash(svc({ command: 'sleep 1', environment: { A: '1' } })), base);
  for (const same of [
    { scale: 3 },
    { deploy: { replicas: 2 } },
    { build: '.' },
    { depends_on: ['db'] },
    { profiles: ['x'] },
    { pull_policy: 'always' },
  ]) {
    assert.equal(serviceHash(svc({ command: 'sleep 1', ...same })), base, JSON.stringify(same));
  }
  // Key order in the file does not matter.
  assert.equal(
    serviceHash(svc({ environment: { A: '1', B: '2' } })),
    serviceHash(svc({ environment: { B: '2', A: '1' } })),
  );
});

test('the YAML writer: what it writes reads back the same, quoting what would not', () => {
  const doc = {
    plain: 'busybox:1.36',
    trailingColon: 'a:',
    url: 'http://x:80/y',
    spaces: 'sh -c echo',
    numeric: '8080',
    bool: 'true',
    empty: '',
    colon: 'a: b',
    hash: 'x #y',
    lead: '-x',
    star: '*x',
    newline: 'a\nb',
    quote: 'say "hi"',
    n: 3,
    f: 0.5,
    t: false,
    nul: null,
    list: ['a', 1, { k: 'v', m: ['x'] }, [], {}],
    nested: { 'a.b': { c: [{ d: 1, e: [2, 3] }] }, '80': 'port' },
    emptyList: [],
    emptyMap: {},
  };
  assert.deepEqual(parse(emitYaml(doc)), doc);
});
