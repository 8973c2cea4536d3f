/**
 * The registry server's access control: Docker's token flow, Basic on the API, users, robots (revocable,
 * expiring), projects and roles, public projects, the admin API and CLI (--root and --url), htpasswd mode, TLS;
 * with skopeo and docker login/push/pull through berthd as peers.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  call,
  errorCode,
  getToken,
  pushImage,
  registryCli,
  serveRegistry,
  sha256,
  type ServedRegistry,
} from '../src/registry/testkit.ts';
import { dir, file, image, layer, legacyArchive, tarOf } from './fixtures.ts';
import { docker, startDaemon, type Daemon } from './harness.ts';
import {
  htpasswdFile,
  makeCa,
  skopeo,
  skopeoPushArchive,
  LOGIN,
  loginArgs,
} from '../src/distribution/remote/testkit.ts';

const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });
const basic = (c: string) => ({ Authorization: `Basic ${Buffer.from(c).toString('base64')}` });

async function tokenOf(
  reg: ServedRegistry,
  scopes: string[],
  creds?: string,
): Promise<{ token: string; access: unknown }> {
  const res = await getToken(reg, scopes, creds);
  assert.equal(res.status, 200, await res.clone().text());
  const body = (await res.json()) as { token: string; access_token: string };
  assert.equal(body.token, body.access_token);
  const claims = JSON.parse(Buffer.from(body.token.split('.')[1]!, 'base64url').toString());
  return { token: body.token, access: claims.access };
}

async function cli(root: string, args: string[], input?: string) {
  const r = await registryCli([...args, '--root', root], input);
  assert.equal(r.code, 0, `berth registry ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

describe('token auth, users, robots, projects and roles', () => {
  let root: string;
  let reg: ServedRegistry;
  let robotSecret: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-regauth-'));
    await cli(root, ['user', 'add', 'admin', '--admin', '--password-stdin'], 'adminpw\n');
    for (const u of ['bob', 'carol', 'dave', 'erin'])
      await cli(root, ['user', 'add', u, '--password-stdin'], `${u}pw\n`);
    await cli(root, ['project', 'create', 'team']);
    await cli(root, ['project', 'create', 'pub', '--public']);
    await cli(root, ['grant', 'bob', 'team', 'delete']);
    await cli(root, ['grant', 'carol', 'team', 'pull']);
    await cli(root, ['grant', 'dave', 'team', 'push']);
    await cli(root, ['grant', 'erin', 'team', 'admin']);
    await cli(root, ['grant', 'bob', 'pub', 'push']);
    robotSecret = (await cli(root, ['robot', 'add', 'ci', '--project', 'team', '--role', 'pull', '-q'])).trim();
    reg = await serveRegistry(undefined, { root });
  });
  after(async () => {
    await reg.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('answers 401 with a Bearer challenge naming /token, the service and the scope', async () => {
    const ping = await call(reg, 'GET', '/v2/');
    assert.equal(ping.status, 401);
    assert.equal(await errorCode(ping), 'UNAUTHORIZED');
    assert.equal(ping.headers.get('www-authenticate'), `Bearer realm="${reg.url}/token",service="berth-registry"`);
    const tags = await call(reg, 'GET', '/v2/team/app/tags/list');
    assert.equal(tags.status, 401);
    assert.match(tags.headers.get('www-authenticate')!, /scope="repository:team\/app:pull"/);
  });

  it('grants what each role allows: push for push, pull only for pull, 403 DENIED beyond', async () => {
    const bob = await tokenOf(reg, ['repository:team/app:pull,push'], 'bob:bobpw');
    assert.deepEqual(bob.access, [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);
    const img = await pushImage(reg, 'team/app', 'v1', { headers: bearer(bob.token) });
    assert.equal((await call(reg, 'GET', '/v2/', { headers: bearer(bob.token) })).status, 200);
    const carol = await tokenOf(reg, ['repository:team/app:pull,push'], 'carol:carolpw');
    assert.deepEqual(carol.access, [{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
    assert.equal((await call(reg, 'GET', '/v2/team/app/manifests/v1', { headers: bearer(carol.token) })).status, 200);
    const denied = await call(reg, 'PUT', '/v2/team/app/manifests/v2', {
      body: img.manifest,
      headers: { ...bearer(carol.token), 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(denied.status, 403);
    assert.equal(await errorCode(denied), 'DENIED');
    // Push may not delete; delete may.
    const dave = await tokenOf(reg, ['repository:team/app:pull,push,delete'], 'dave:davepw');
    assert.deepEqual(dave.access, [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);
    assert.equal(
      (await call(reg, 'DELETE', '/v2/team/app/manifests/v1', { headers: basic('dave:davepw') })).status,
      403,
    );
    assert.equal((await call(reg, 'DELETE', '/v2/team/app/manifests/v1', { headers: basic('bob:bobpw') })).status, 202);
    // No role in a project at all: nothing granted.
    const outside = await tokenOf(reg, ['repository:other/x:pull,push'], 'bob:bobpw');
    assert.deepEqual(outside.access, [{ type: 'repository', name: 'other/x', actions: [] }]);
    // A token lacking the scope asked again (the client should fetch one): 401 with the scope.
    const pullOnly = await tokenOf(reg, ['repository:team/app:pull'], 'bob:bobpw');
    const again = await call(reg, 'POST', '/v2/team/app/blobs/uploads/', { headers: bearer(pullOnly.token) });
    assert.equal(again.status, 401);
    assert.match(again.headers.get('www-authenticate')!, /scope="repository:team\/app:pull,push"/);
  });

  it('refuses wrong passwords, tampered and expired tokens with 401', async () => {
    assert.equal((await getToken(reg, ['repository:team/app:pull'], 'bob:wrong')).status, 401);
    assert.equal((await call(reg, 'GET', '/v2/', { headers: basic('bob:wrong') })).status, 401);
    const { token } = await tokenOf(reg, ['repository:team/app:pull'], 'bob:bobpw');
    const [h, b, s] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(b, 'base64url').toString());
    claims.access = [{ type: 'repository', name: 'team/app', actions: ['pull', 'push', 'delete'] }];
    const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
    assert.equal((await call(reg, 'GET', '/v2/', { headers: bearer(forged) })).status, 401);
    const badSig = `${h}.${b}.${s.slice(0, -4)}AAAA`;
    assert.equal((await call(reg, 'GET', '/v2/', { headers: bearer(badSig) })).status, 401);
    // Tokens of a second process on the same root, with a three-second lifetime: valid here too, then expired.
    // (Times are whole seconds, so a token lives between ttl - 1 and ttl seconds: a lifetime of 1 could end at once.)
    const cfg = join(root, 'short.json');
    await writeFile(cfg, JSON.stringify({ tokenTtl: 3 }));
    const short = await serveRegistry(undefined, { root, args: ['--config', cfg] });
    try {
      const t = await tokenOf(short, ['repository:team/app:pull'], 'bob:bobpw');
      assert.equal((await call(reg, 'GET', '/v2/', { headers: bearer(t.token) })).status, 200);
      await sleep(3100);
      const expired = await call(short, 'GET', '/v2/', { headers: bearer(t.token) });
      assert.equal(expired.status, 401);
    } finally {
      await short.stop();
    }
  });

  it('password checks give their memory back: many concurrent logins leave the anonymous RSS where it was', async () => {
    // Each check is scrypt with a 16 MiB buffer on one of libuv's four pool threads; with glibc's sliding mmap
    // threshold each thread kept its buffer (up to 64 MiB). Wrong passwords are never cached, so every one is checked.
    const anon = async () => Number(/RssAnon:\s+(\d+)/.exec(await readFile(`/proc/${reg.pid}/status`, 'utf8'))![1]);
    const attempt = async (i: number) => {
      const res = await getToken(reg, ['repository:team/app:pull'], `bob:wrong-${i}`);
      assert.equal(res.status, 401);
    };
    await Promise.all([0, 1, 2, 3].map(attempt));
    const base = await anon();
    for (let round = 0; round < 3; round++)
      await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((i) => attempt(round * 8 + i)));
    const grown = (await anon()) - base;
    assert.ok(grown < 32 * 1024, `anonymous RSS grew by ${grown} KiB over 24 password checks`);
  });

  it('robots log in with their secret, pull only; removed or expired, they are refused', async () => {
    const img = await pushImage(reg, 'team/robot', 'v1', { headers: basic('bob:bobpw') });
    const t = await tokenOf(reg, ['repository:team/robot:pull,push'], `robot$ci:${robotSecret}`);
    assert.deepEqual(t.access, [{ type: 'repository', name: 'team/robot', actions: ['pull'] }]);
    assert.equal(
      (await call(reg, 'GET', `/v2/team/robot/manifests/${img.digest}`, { headers: bearer(t.token) })).status,
      200,
    );
    const adminCreds = { BERTH_REGISTRY_PASSWORD: 'adminpw' };
    const rm1 = await registryCli(['robot', 'rm', 'ci', '--url', reg.url, '-u', 'admin'], '', adminCreds);
    assert.equal(rm1.code, 0, rm1.stderr);
    assert.equal((await call(reg, 'GET', '/v2/', { headers: bearer(t.token) })).status, 401, 'a removed robot’s token');
    assert.equal((await getToken(reg, ['repository:team/robot:pull'], `robot$ci:${robotSecret}`)).status, 401);
    const add = await registryCli(
      ['robot', 'add', 'short', '--project', 'team', '--expires', '1500ms', '-q', '--url', reg.url, '-u', 'admin'],
      '',
      adminCreds,
    );
    assert.equal(add.code, 0, add.stderr);
    const secret = add.stdout.trim();
    assert.equal((await getToken(reg, ['repository:team/robot:pull'], `robot$short:${secret}`)).status, 200);
    await sleep(2600);
    assert.equal((await getToken(reg, ['repository:team/robot:pull'], `robot$short:${secret}`)).status, 401);
  });

  it('public projects: anonymous pull through an anonymous token, never push', async () => {
    await pushImage(reg, 'pub/tool', 'v1', { headers: basic('bob:bobpw') });
    const anon = await tokenOf(reg, ['repository:pub/tool:pull,push']);
    assert.deepEqual(anon.access, [{ type: 'repository', name: 'pub/tool', actions: ['pull'] }]);
    assert.equal((await call(reg, 'GET', '/v2/pub/tool/manifests/v1', { headers: bearer(anon.token) })).status, 200);
    assert.equal((await call(reg, 'GET', '/v2/pub/tool/manifests/v1')).status, 200, 'no credentials at all');
    assert.equal((await call(reg, 'POST', '/v2/pub/tool/blobs/uploads/', { headers: bearer(anon.token) })).status, 401);
    const r = await skopeo(['inspect', '--tls-verify=false', `docker://${reg.host}/pub/tool:v1`]);
    assert.equal(r.code, 0, r.stderr);
  });

  it('another user’s upload is unknown (404); the catalog lists what the caller may pull', async () => {
    const post = await call(reg, 'POST', '/v2/team/up/blobs/uploads/', { headers: basic('bob:bobpw') });
    assert.equal(post.status, 202);
    const loc = post.headers.get('location')!;
    const other = await call(reg, 'PATCH', loc, { body: 'x', headers: basic('dave:davepw') });
    assert.equal(other.status, 404);
    assert.equal(await errorCode(other), 'BLOB_UPLOAD_UNKNOWN');
    assert.equal((await call(reg, 'GET', loc, { headers: basic('bob:bobpw') })).status, 204);
    await pushImage(reg, 'secret/x', 'v1', { headers: basic('admin:adminpw') });
    const cat = (await (await call(reg, 'GET', '/v2/_catalog', { headers: basic('carol:carolpw') })).json()) as {
      repositories: string[];
    };
    assert.ok(cat.repositories.includes('team/robot'));
    assert.ok(cat.repositories.includes('pub/tool'));
    assert.ok(!cat.repositories.includes('secret/x'));
    const all = (await (await call(reg, 'GET', '/v2/_catalog', { headers: basic('admin:adminpw') })).json()) as {
      repositories: string[];
    };
    assert.ok(all.repositories.includes('secret/x'));
    assert.equal((await call(reg, 'GET', '/v2/_catalog')).status, 401);
  });

  it('admin API: administrators all, project admins their project, others nothing', async () => {
    assert.equal((await call(reg, 'GET', '/admin/v1/users')).status, 401);
    assert.equal((await call(reg, 'GET', '/admin/v1/users', { headers: basic('bob:bobpw') })).status, 403);
    const users = await call(reg, 'GET', '/admin/v1/users', { headers: basic('admin:adminpw') });
    assert.equal(users.status, 200);
    assert.deepEqual(
      ((await users.json()) as { name: string }[]).map((u) => u.name),
      ['admin', 'bob', 'carol', 'dave', 'erin'],
    );
    const json = { 'Content-Type': 'application/json' };
    const robot = await call(reg, 'POST', '/admin/v1/robots', {
      headers: { ...basic('erin:erinpw'), ...json },
      body: JSON.stringify({ name: 'deploy', project: 'team', role: 'pull' }),
    });
    assert.equal(robot.status, 201);
    assert.equal(((await robot.json()) as { name: string }).name, 'robot$deploy');
    const notHers = await call(reg, 'POST', '/admin/v1/robots', {
      headers: { ...basic('erin:erinpw'), ...json },
      body: JSON.stringify({ name: 'x', project: 'pub', role: 'pull' }),
    });
    assert.equal(notHers.status, 403);
    const proj = await call(reg, 'POST', '/admin/v1/projects', {
      headers: { ...basic('erin:erinpw'), ...json },
      body: '{"name":"new"}',
    });
    assert.equal(proj.status, 403);
    const grant = await call(reg, 'PUT', '/admin/v1/projects/team/members/carol', {
      headers: { ...basic('erin:erinpw'), ...json },
      body: '{"role":"push"}',
    });
    assert.equal(grant.status, 204);
    const members = (await (
      await call(reg, 'GET', '/admin/v1/projects/team/members', { headers: basic('erin:erinpw') })
    ).json()) as {
      account: string;
      role: string;
    }[];
    assert.equal(members.find((m) => m.account === 'carol')?.role, 'push');
    const dup = await call(reg, 'POST', '/admin/v1/users', {
      headers: { ...basic('admin:adminpw'), ...json },
      body: '{"name":"bob","password":"x"}',
    });
    assert.equal(dup.status, 409);
    // The CLI through --url: a user added with --password-stdin can log in at once.
    const add = await registryCli(
      ['user', 'add', 'frank', '--password-stdin', '--url', reg.url, '-u', 'admin'],
      'frankpw\n',
      {
        BERTH_REGISTRY_PASSWORD: 'adminpw',
      },
    );
    assert.equal(add.code, 0, add.stderr);
    assert.equal((await getToken(reg, [], 'frank:frankpw')).status, 200);
    const passwd = await registryCli(
      ['user', 'passwd', 'frank', '--password-stdin', '--url', reg.url, '-u', 'frank'],
      'newpw\n',
      {
        BERTH_REGISTRY_PASSWORD: 'frankpw',
      },
    );
    assert.equal(passwd.code, 0, passwd.stderr);
    assert.equal((await getToken(reg, [], 'frank:frankpw')).status, 401);
    const bad = await registryCli(['grant', 'bob', 'team', 'owner', '--root', root]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /invalid role "owner"/);
  });
});

describe('the administration CLI over --root and --url: ls, revoke and rm, and what they change', () => {
  it('lists users, robots, projects and members; revoke, user rm, robot rm and project rm take access away', async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'berth-regadm-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    await cli(root, ['user', 'add', 'admin', '--admin', '--password-stdin'], 'adminpw\n');
    await cli(root, ['user', 'add', 'bo', '--password-stdin'], 'bopw\n');
    await cli(root, ['project', 'create', 'p1']);
    await cli(root, ['project', 'create', 'open', '--public']);
    await cli(root, ['grant', 'bo', 'p1', 'push']);
    const secret = (await cli(root, ['robot', 'add', 'ci', '--project', 'p1', '--role', 'pull', '-q'])).trim();
    const reg = await serveRegistry(t, { root });
    const url = (args: string[], input = '') =>
      registryCli([...args, '--url', reg.url, '-u', 'admin'], input, { BERTH_REGISTRY_PASSWORD: 'adminpw' });
    await pushImage(reg, 'open/app', 'v1', { headers: basic('admin:adminpw') });
    const pushScope = 'repository:p1/app:pull,push';
    assert.deepEqual((await tokenOf(reg, [pushScope], 'bo:bopw')).access, [
      { type: 'repository', name: 'p1/app', actions: ['pull', 'push'] },
    ]);
    // ls, through the API and on the root.
    const users = await url(['user', 'ls']);
    assert.equal(users.code, 0, users.stderr);
    assert.match(users.stdout, /^admin\s+yes\s/m);
    assert.match(users.stdout, /^bo\s+no\s/m);
    assert.match(await cli(root, ['robot', 'ls']), /^robot\$ci\s+p1:pull\s+never\s/m);
    const projects = await url(['project', 'ls']);
    assert.match(projects.stdout, /^open\s+yes\s/m);
    assert.match(projects.stdout, /^p1\s+no\s/m);
    const members = await url(['project', 'members', 'p1']);
    assert.match(members.stdout, /^bo\s+user\s+push$/m);
    assert.match(members.stdout, /^robot\$ci\s+robot\s+pull$/m);
    // revoke: the next token carries no push; revoking again is an error naming what is missing.
    const revoke = await url(['revoke', 'bo', 'p1', 'push']);
    assert.equal(revoke.code, 0, revoke.stderr);
    const actions = (access: unknown) => (access as { actions: string[] }[]).flatMap((a) => a.actions);
    assert.deepEqual(actions((await tokenOf(reg, [pushScope], 'bo:bopw')).access), []);
    const again = await url(['revoke', 'bo', 'p1', 'push']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /"bo" has no push role in project "p1"/);
    // user rm: the password no longer logs in, over the API or for a token.
    const rmUser = await url(['user', 'rm', 'bo']);
    assert.equal(rmUser.code, 0, rmUser.stderr);
    assert.equal((await getToken(reg, [], 'bo:bopw')).status, 401);
    assert.equal((await call(reg, 'GET', '/v2/', { headers: basic('bo:bopw') })).status, 401);
    assert.doesNotMatch(await cli(root, ['user', 'ls']), /^bo\s/m);
    const noUser = await url(['user', 'rm', 'nobody']);
    assert.equal(noUser.code, 1);
    assert.match(noUser.stderr, /no user "nobody"/);
    // robot rm: its secret is refused.
    assert.equal((await getToken(reg, ['repository:p1/app:pull'], `robot$ci:${secret}`)).status, 200);
    assert.equal((await url(['robot', 'rm', 'ci'])).code, 0);
    assert.equal((await getToken(reg, ['repository:p1/app:pull'], `robot$ci:${secret}`)).status, 401);
    assert.doesNotMatch(await cli(root, ['robot', 'ls']), /robot\$ci/);
    // project rm: a public project's repositories are no longer pullable anonymously.
    const anon = async () => actions((await tokenOf(reg, ['repository:open/app:pull'])).access);
    assert.deepEqual(await anon(), ['pull']);
    assert.equal((await url(['project', 'rm', 'open'])).code, 0);
    assert.deepEqual(await anon(), []);
    assert.doesNotMatch((await url(['project', 'ls'])).stdout, /^open\s/m);
  });
});

describe('htpasswd mode, TLS, and berthd with token auth', () => {
  let work: string;
  let archive: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-regauth2-'));
    const img = image([await layer([dir('a'), file('a/b', 'auth peers')], { gzip: true })]);
    archive = join(work, 'img.tar');
    await writeFile(archive, await tarOf(legacyArchive([{ image: img, tags: ['x:1'] }])));
  });
  after(() => rm(work, { recursive: true, force: true }));

  it('htpasswd (bcrypt) Basic: 401 with a Basic challenge, skopeo with the right credentials', async (t) => {
    await htpasswdFile(join(work, 'htpasswd'), { [LOGIN.user]: LOGIN.password });
    const reg = await serveRegistry(t, { args: ['--auth', `htpasswd=${join(work, 'htpasswd')}`] });
    const res = await call(reg, 'GET', '/v2/');
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Basic realm="berth-registry"');
    assert.equal((await call(reg, 'GET', '/v2/', { headers: basic(`${LOGIN.user}:nope`) })).status, 401);
    assert.equal((await call(reg, 'GET', '/v2/', { headers: basic(LOGIN.creds) })).status, 200);
    const cp = await skopeoPushArchive(archive, `${reg.host}/h/x:1`);
    assert.equal(cp.code, 0, cp.stderr);
    const no = await skopeo(['inspect', '--tls-verify=false', `docker://${reg.host}/h/x:1`]);
    assert.notEqual(no.code, 0);
  });

  it('TLS with token auth: skopeo copies in and out with a CA it trusts', async (t) => {
    const tls = join(work, 'tls');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(tls);
    await makeCa(tls);
    const root = join(work, 'tlsroot');
    await cli(root, ['user', 'add', LOGIN.user, '--password-stdin'], `${LOGIN.password}\n`);
    await cli(root, ['project', 'create', 'sec']);
    await cli(root, ['grant', LOGIN.user, 'sec', 'push']);
    const reg = await serveRegistry(t, {
      root,
      args: ['--tls-cert', join(tls, 'server.crt'), '--tls-key', join(tls, 'server.key')],
    });
    assert.match(reg.url, /^https:/);
    const certs = join(work, 'certs');
    await mkdir(certs);
    await writeFile(join(certs, 'ca.crt'), await (await import('node:fs/promises')).readFile(join(tls, 'ca.crt')));
    const up = await skopeo([
      'copy',
      '-q',
      '--dest-cert-dir',
      certs,
      '--dest-creds',
      LOGIN.creds,
      `docker-archive:${archive}`,
      `docker://${reg.host}/sec/x:1`,
    ]);
    assert.equal(up.code, 0, up.stderr);
    const down = await skopeo([
      'copy',
      '-q',
      '--src-cert-dir',
      certs,
      '--src-creds',
      LOGIN.creds,
      `docker://${reg.host}/sec/x:1`,
      `oci:${join(work, 'out')}:x`,
    ]);
    assert.equal(down.code, 0, down.stderr);
    const anon = await skopeo(['inspect', '--cert-dir', certs, `docker://${reg.host}/sec/x:1`]);
    assert.notEqual(anon.code, 0);
  });

  it('TLS with htpasswd Basic: skopeo and the docker CLI through berthd, with a CA they trust', async (t) => {
    const { mkdir, readFile } = await import('node:fs/promises');
    const tls = join(work, 'tls-basic');
    await mkdir(tls);
    await makeCa(tls);
    await htpasswdFile(join(work, 'htpasswd-tls'), { [LOGIN.user]: LOGIN.password });
    const reg = await serveRegistry(t, {
      args: [
        '--auth',
        `htpasswd=${join(work, 'htpasswd-tls')}`,
        '--tls-cert',
        join(tls, 'server.crt'),
        '--tls-key',
        join(tls, 'server.key'),
      ],
    });
    assert.match(reg.url, /^https:/);
    assert.match(reg.log(), /auth htpasswd/);
    const certs = join(work, 'certs-basic');
    await mkdir(join(certs, reg.host), { recursive: true });
    const ca = await readFile(join(tls, 'ca.crt'));
    await writeFile(join(certs, 'ca.crt'), ca);
    await writeFile(join(certs, reg.host, 'ca.crt'), ca);
    // skopeo: in and out with the right credentials; wrong ones, none, and an untrusted certificate refused.
    const up = await skopeo([
      'copy',
      '-q',
      '--dest-cert-dir',
      certs,
      '--dest-creds',
      LOGIN.creds,
      `docker-archive:${archive}`,
      `docker://${reg.host}/tb/x:1`,
    ]);
    assert.equal(up.code, 0, up.stderr);
    const down = await skopeo([
      'copy',
      '-q',
      '--src-cert-dir',
      certs,
      '--src-creds',
      LOGIN.creds,
      `docker://${reg.host}/tb/x:1`,
      `dir:${join(work, 'out-basic')}`,
    ]);
    assert.equal(down.code, 0, down.stderr);
    // Copied out as stored: the manifest's digest is the one the registry gives.
    const pulledDigest = sha256(await readFile(join(work, 'out-basic', 'manifest.json')));
    const inspect = await skopeo([
      'inspect',
      '--raw',
      '--cert-dir',
      certs,
      '--creds',
      LOGIN.creds,
      `docker://${reg.host}/tb/x:1`,
    ]);
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.equal(pulledDigest, sha256(inspect.stdout));
    const wrong = await skopeo([
      'inspect',
      '--cert-dir',
      certs,
      '--creds',
      `${LOGIN.user}:nope`,
      `docker://${reg.host}/tb/x:1`,
    ]);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /unauthorized|authentication required|401/i);
    const anon = await skopeo(['inspect', '--cert-dir', certs, `docker://${reg.host}/tb/x:1`]);
    assert.notEqual(anon.code, 0);
    const untrusted = await skopeo(['inspect', '--creds', LOGIN.creds, `docker://${reg.host}/tb/x:1`]);
    assert.notEqual(untrusted.code, 0);
    assert.match(untrusted.stderr, /certificate/i);
    // Raw HTTPS: the Basic challenge, then 200.
    const { request } = await import('node:https');
    const get = (auth?: string) =>
      new Promise<{ status: number; challenge: string | undefined }>((resolve, reject) => {
        const req = request(
          `${reg.url}/v2/`,
          { ca, headers: auth ? { Authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {} },
          (res) => {
            res.resume();
            resolve({ status: res.statusCode!, challenge: res.headers['www-authenticate'] });
          },
        );
        req.on('error', reject);
        req.end();
      });
    assert.deepEqual(await get(), { status: 401, challenge: 'Basic realm="berth-registry"' });
    assert.equal((await get(LOGIN.creds)).status, 200);
    // The docker CLI through berthd, which trusts the CA through its certs.d.
    const ddir = await mkdtemp(join(tmpdir(), 'berth-it-regtls-'));
    await writeFile(join(ddir, 'daemon.json'), JSON.stringify({ 'certs-dir': certs }));
    let d: Daemon | undefined;
    try {
      d = await startDaemon({ dir: ddir, seed: true, args: ['--config-file', join(ddir, 'daemon.json')] });
      const bad = await docker(d, ...loginArgs(reg.host, 'nope'));
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /unauthorized/i);
      const login = await docker(d, ...loginArgs(reg.host));
      assert.equal(login.code, 0, `${login.stderr}\n${d.log().slice(-2000)}`);
      assert.match(login.stdout, /Login Succeeded/);
      const ref = `${reg.host}/tb/bb:1`;
      assert.equal((await docker(d, ['tag', 'busybox:latest', ref])).code, 0);
      const push = await docker(d, ['push', ref]);
      assert.equal(push.code, 0, `${push.stderr}\n${d.log().slice(-2000)}`);
      assert.equal((await docker(d, ['rmi', ref])).code, 0);
      const pull = await docker(d, ['pull', ref]);
      assert.equal(pull.code, 0, pull.stderr);
      const pulled = await docker(d, ['pull', `${reg.host}/tb/x:1`]);
      assert.equal(pulled.code, 0, pulled.stderr);
      assert.match(pulled.stdout, new RegExp(`Digest: ${pulledDigest}`));
    } finally {
      await d?.cleanup();
      await rm(ddir, { recursive: true, force: true });
    }
  });

  it('docker login, push and pull through berthd against token auth', async (t) => {
    const root = join(work, 'dockerroot');
    await cli(root, ['user', 'add', LOGIN.user, '--password-stdin'], `${LOGIN.password}\n`);
    await cli(root, ['project', 'create', 'lib']);
    await cli(root, ['grant', LOGIN.user, 'lib', 'push']);
    const reg = await serveRegistry(t, { root });
    let d: Daemon | undefined;
    try {
      d = await startDaemon({ seed: true });
      const wrong = await docker(d, ...loginArgs(reg.host, 'nope'));
      assert.notEqual(wrong.code, 0);
      const login = await docker(d, ...loginArgs(reg.host));
      assert.equal(login.code, 0, `${login.stderr}\n${d.log().slice(-2000)}`);
      assert.match(login.stdout, /Login Succeeded/);
      const ref = `${reg.host}/lib/bb:1`;
      assert.equal((await docker(d, ['tag', 'busybox:latest', ref])).code, 0);
      const push = await docker(d, ['push', ref]);
      assert.equal(push.code, 0, `${push.stderr}\n${d.log().slice(-2000)}`);
      assert.equal((await docker(d, ['rmi', ref])).code, 0);
      const pull = await docker(d, ['pull', ref]);
      assert.equal(pull.code, 0, pull.stderr);
      assert.equal((await docker(d, ['tag', 'busybox:latest', `${reg.host}/other/bb:1`])).code, 0);
      const denied = await docker(d, ['push', `${reg.host}/other/bb:1`]);
      assert.notEqual(denied.code, 0);
      assert.match(denied.stderr, /denied|unauthorized/i);
    } finally {
      await d?.cleanup();
    }
  });
});
