import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { ComposeFileError } from './errors.ts';
import { loadProject, type LoadOptions } from './load.ts';

const root = mkdtempSync(join(tmpdir(), 'berth-compose-load-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A fresh directory with these files. */
function project(files: Record<string, string>): string {
  const dir = join(root, `p${n++}`);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}
const load = (dir: string, opts: Partial<LoadOptions> = {}) =>
  loadProject({ cwd: dir, environment: {}, home: '/home/u', ...opts });

test('finds compose.yaml and its override file; the project is named after the directory', () => {
  const dir = project({
    'compose.yaml': 'services:\n  web:\n    image: busybox\n    ports: ["80"]\n',
    'compose.override.yaml': 'services:\n  web:\n    ports: ["81"]\n',
  });
  const { project: p } = load(dir);
  assert.equal(p.name, `p${n - 1}`);
  assert.deepEqual(p.configFiles, [join(dir, 'compose.yaml'), join(dir, 'compose.override.yaml')]);
  assert.deepEqual(
    p.services.web!.ports.map((x) => x.target),
    [80, 81],
  );
  assert.deepEqual(p.networks, { default: { name: `p${n - 1}_default`, driver_opts: {}, labels: {} } });
});

test('also docker-compose.yml, found from a subdirectory', () => {
  const dir = project({ 'docker-compose.yml': 'services:\n  a:\n    image: x\n', 'sub/keep': '' });
  assert.deepEqual(load(join(dir, 'sub')).project.configFiles, [join(dir, 'docker-compose.yml')]);
});

test('no file: a clear error', () => {
  const dir = project({ keep: '' });
  assert.throws(() => load(dir), /no configuration file provided: not found/);
});

test('several -f files merge by the spec: scalars replaced, env merged, command replaced, ports appended', () => {
  const dir = project({
    'a.yaml':
      'services:\n  web:\n    image: busybox:1\n    command: [sleep, "1"]\n    environment: {A: "1", B: "1"}\n' +
      '    ports: ["80:80"]\n    labels: [x=1]\n    depends_on: [db]\n  db:\n    image: db\n',
    'b.yaml':
      'services:\n  web:\n    image: busybox:2\n    command: sleep 2\n    environment: [B=2, C=3]\n' +
      '    ports: ["80:80", "443:443"]\n    labels: {y: "2"}\n    depends_on: {db: {condition: service_healthy}}\n',
  });
  const web = load(dir, { files: ['a.yaml', 'b.yaml'] }).project.services.web!;
  assert.equal(web.image, 'busybox:2');
  assert.deepEqual(web.command, ['sleep', '2']);
  assert.deepEqual(web.environment, { A: '1', B: '2', C: '3' });
  assert.deepEqual(
    web.ports.map((p) => p.published),
    ['80', '443'],
  );
  assert.deepEqual(web.labels, { x: '1', y: '2' });
  assert.equal(web.depends_on.db!.condition, 'service_healthy');
});

test('project name: -p over COMPOSE_PROJECT_NAME over name: over the directory; invalid -p refused', () => {
  const dir = project({ 'compose.yaml': 'name: "My_App-${SUFFIX:-1}"\nservices:\n  a:\n    image: x\n' });
  assert.equal(load(dir).project.name, 'my_app-1');
  assert.equal(load(dir, { environment: { COMPOSE_PROJECT_NAME: 'fromenv' } }).project.name, 'fromenv');
  assert.equal(load(dir, { projectName: 'flag', environment: { COMPOSE_PROJECT_NAME: 'x' } }).project.name, 'flag');
  assert.throws(() => load(dir, { projectName: 'Bad Name' }), /invalid project name "Bad Name"/);
});

test('COMPOSE_PROJECT_NAME can be interpolated in the files', () => {
  const dir = project({ 'compose.yaml': 'services:\n  a:\n    image: x\n    labels: ["p=${COMPOSE_PROJECT_NAME}"]\n' });
  assert.equal(load(dir, { projectName: 'zz' }).project.services.a!.labels.p, 'zz');
});

test('.env in the project directory; the process environment wins; --env-file replaces .env', () => {
  const dir = project({
    'compose.yaml': 'services:\n  a:\n    image: "busybox:${TAG}"\n    environment: ["FROM_ENV=${OTHER}"]\n',
    '.env': 'TAG=fromdotenv\nOTHER=dot\n',
    'alt.env': 'TAG=alt\n',
  });
  assert.equal(load(dir).project.services.a!.image, 'busybox:fromdotenv');
  assert.equal(load(dir, { environment: { TAG: 'proc' } }).project.services.a!.image, 'busybox:proc');
  const alt = load(dir, { envFiles: ['alt.env'] });
  assert.equal(alt.project.services.a!.image, 'busybox:alt');
  assert.deepEqual(alt.warnings, ['The "OTHER" variable is not set. Defaulting to a blank string.']);
  assert.throws(() => load(dir, { envFiles: ['missing.env'] }), /couldn't find env file/);
});

test('env_file and bare environment variables are resolved into environment', () => {
  const dir = project({
    'compose.yaml':
      'services:\n  a:\n    image: x\n    env_file: [common.env, {path: opt.env, required: false}]\n' +
      '    environment: [B=override, HOSTVAR, UNSETVAR]\n',
    'common.env': 'A=1\nB=2\n',
  });
  assert.deepEqual(load(dir, { environment: { HOSTVAR: 'h' } }).project.services.a!.environment, {
    A: '1',
    B: 'override',
    HOSTVAR: 'h',
    UNSETVAR: null,
  });
  const missing = project({ 'compose.yaml': 'services:\n  a:\n    image: x\n    env_file: nope.env\n' });
  assert.throws(() => load(missing), /compose\.yaml:4:5: services\.a\.env_file\.0: env file .*nope\.env not found$/);
});

test('YAML anchors, aliases and merge keys', () => {
  const dir = project({
    'compose.yaml':
      'x-base: &base\n  image: busybox\n  environment: {A: "1"}\nservices:\n  a:\n    <<: *base\n  b:\n    <<: *base\n' +
      '    image: other\n',
  });
  const p = load(dir).project;
  assert.equal(p.services.a!.image, 'busybox');
  assert.equal(p.services.b!.image, 'other');
  assert.deepEqual(p.services.b!.environment, { A: '1' });
  assert.deepEqual(p.extensions, { 'x-base': { image: 'busybox', environment: { A: '1' } } });
});

test('extends: same file and another file (whose relative paths stay relative to it)', () => {
  const dir = project({
    'compose.yaml':
      'services:\n  base:\n    image: busybox\n    environment: [A=1]\n  child:\n    extends: base\n    environment: [B=2]\n' +
      '  remote:\n    extends: {file: lib/common.yaml, service: tmpl}\n    command: ["true"]\n',
    'lib/common.yaml': 'services:\n  tmpl:\n    image: lib\n    build: ./ctx\n    volumes: [./data:/data]\n',
  });
  const p = load(dir).project;
  assert.deepEqual(p.services.child!.environment, { A: '1', B: '2' });
  assert.equal(p.services.child!.image, 'busybox');
  const r = p.services.remote!;
  assert.equal(r.build!.context, join(dir, 'lib/ctx'));
  assert.equal(r.volumes[0]!.source, join(dir, 'lib/data'));
  assert.deepEqual(r.command, ['true']);
});

test('extends: an unknown base and a cycle are errors with their line', () => {
  const a = project({ 'compose.yaml': 'services:\n  a:\n    image: x\n    extends: nope\n' });
  assert.throws(() => load(a), /compose\.yaml:4:5: services\.a\.extends: cannot extend service "a": service "nope"/);
  const b = project({
    'compose.yaml': 'services:\n  a:\n    image: x\n    extends: b\n  b:\n    image: x\n    extends: a\n',
  });
  assert.throws(() => load(b), /circular reference with extends/);
});

test('include: another project merged in with its own directory and .env; conflicts refused', () => {
  const dir = project({
    'compose.yaml': 'include:\n  - sub/compose.yaml\nservices:\n  web:\n    image: web\n    depends_on: [db]\n',
    'sub/compose.yaml': 'services:\n  db:\n    image: "db:${DBTAG}"\n    volumes: [./init:/init]\n',
    'sub/.env': 'DBTAG=15\n',
  });
  const p = load(dir).project;
  assert.equal(p.services.db!.image, 'db:15');
  assert.equal(p.services.db!.volumes[0]!.source, join(dir, 'sub/init'));
  const clash = project({
    'compose.yaml': 'include: [sub.yaml]\nservices:\n  db:\n    image: mine\n',
    'sub.yaml': 'services:\n  db:\n    image: theirs\n',
  });
  assert.throws(
    () => load(clash),
    /compose\.yaml:1:\d+: include\.0: imported compose file .*sub\.yaml defines conflicting service "db"/,
  );
});

test('profiles: off unless active (flag or COMPOSE_PROFILES), or named, or needed by a named service', () => {
  const dir = project({
    'compose.yaml':
      'services:\n  web:\n    image: x\n  debug:\n    image: x\n    profiles: [dev]\n    depends_on: [tool]\n' +
      '  tool:\n    image: x\n    profiles: [tools]\n',
  });
  assert.deepEqual(Object.keys(load(dir).project.services), ['web']);
  assert.deepEqual(Object.keys(load(dir).project.disabledServices).sort(), ['debug', 'tool']);
  assert.deepEqual(Object.keys(load(dir, { profiles: ['dev', 'tools'] }).project.services).sort(), [
    'debug',
    'tool',
    'web',
  ]);
  assert.deepEqual(Object.keys(load(dir, { environment: { COMPOSE_PROFILES: 'dev,tools' } }).project.services).sort(), [
    'debug',
    'tool',
    'web',
  ]);
  assert.deepEqual(Object.keys(load(dir, { services: ['debug'] }).project.services).sort(), ['debug', 'tool', 'web']);
  assert.throws(() => load(dir, { profiles: ['dev'] }), /service "tool" is required by "debug" but is disabled/);
});

test('bad files: errors name the file, line and key, and say what is wrong', () => {
  const cases: [string, RegExp][] = [
    [
      'services:\n  web:\n    image: x\n    imagee: y\n',
      /compose\.yaml:4:5: services\.web: additional property "imagee" is not allowed/,
    ],
    ['services:\n  web:\n    image: [x]\n', /compose\.yaml:3:5: services\.web\.image: must be a string/],
    [
      'services:\n  web:\n    image: x\n    depends_on: [db]\n',
      /compose\.yaml:4:5: .*service "web" depends on undefined service "db"/,
    ],
    [
      'services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n',
      /dependency cycle detected: a -> b -> a/,
    ],
    [
      'services:\n  a:\n    image: ${IMG:?IMG must be set}\n',
      /compose\.yaml:3:5: services\.a\.image: required variable IMG is missing a value: IMG must be set/,
    ],
    [
      'services:\n  a:\n    image: x\n    networks: [back]\n',
      /compose\.yaml:4:\d+: .*refers to undefined network back/,
    ],
    ['services:\n  a:\n    image: x\n    volumes: [data:/d]\n', /refers to undefined volume data/],
    ['services:\n  a:\n    image: x\n  a:\n    image: y\n', /compose\.yaml:4:3: invalid YAML: Map keys must be unique/],
    ['services:\n  a:\n   image: x\n  b: [\n', /compose\.yaml:\d+:\d+: invalid YAML/],
    ['- a\n- b\n', /top-level object must be a mapping/],
  ];
  for (const [text, re] of cases) {
    const dir = project({ 'compose.yaml': text });
    assert.throws(
      () => load(dir),
      (err: unknown) => err instanceof ComposeFileError && re.test(err.message),
      `${JSON.stringify(text)} should fail with ${re}`,
    );
  }
});

test('a -f file that does not exist is named as Go words an open that failed', () => {
  const dir = project({ 'a.yaml': 'services:\n  a:\n    image: x\n' });
  assert.throws(
    () => load(dir, { files: ['a.yaml', 'nosuch.yaml'] }),
    (err: unknown) =>
      err instanceof ComposeFileError &&
      err.message.includes(`open ${join(dir, 'nosuch.yaml')}: no such file or directory`),
  );
});

test('an error in a second -f file names that file', () => {
  const dir = project({ 'a.yaml': 'services:\n  a:\n    image: x\n', 'b.yaml': 'services:\n  a:\n    bogus: 1\n' });
  assert.throws(
    () => load(dir, { files: ['a.yaml', 'b.yaml'] }),
    /b\.yaml:3:5: services\.a: additional property "bogus"/,
  );
});

test('version: is obsolete and ignored, with a warning', () => {
  const dir = project({ 'compose.yaml': 'version: "3.8"\nservices:\n  a:\n    image: x\n' });
  const r = load(dir);
  assert.match(r.warnings[0]!, /the attribute `version` is obsolete/);
});

test('named volumes and networks get the project prefix; external ones keep their names', () => {
  const dir = project({
    'compose.yaml':
      'name: demo\nservices:\n  a:\n    image: x\n    networks: [front, ext]\n    volumes: [data:/d, old:/o]\n' +
      'networks:\n  front: {}\n  ext: {external: true}\nvolumes:\n  data: {}\n  old: {external: true, name: legacy}\n',
  });
  const p = load(dir).project;
  assert.equal(p.networks.front!.name, 'demo_front');
  assert.equal(p.networks.ext!.name, 'ext');
  assert.equal(p.volumes.data!.name, 'demo_data');
  assert.equal(p.volumes.old!.name, 'legacy');
  assert.equal(p.networks.default, undefined);
});
