import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../util/errors.ts';
import { inspectLinks, linkEnv, linkInput, linkNames, parseLink, resolveLinks, withoutLink } from './links.ts';
import type { Row } from './model.ts';
import { initialState } from './state.ts';

function row(name: string, over: Partial<Row> = {}, hostConfig: Row['hostConfig'] = {}): Row {
  return {
    id: `${name.replace(/[^a-f0-9]/g, 'a')}${'0'.repeat(64)}`.slice(0, 64),
    name,
    imageId: 'sha256:x',
    imageRef: 'busybox',
    created: 1,
    config: {
      Config: { Hostname: `${name}-host`, Env: ['PATH=/bin', 'DB=pg', 'HOME=/root'] },
      Path: 'sh',
      Args: [],
      Mounts: [],
    },
    hostConfig,
    state: { ...initialState(), Status: 'running' },
    runtime: 'runc',
    snapshot: name,
    ...over,
  };
}

describe('links', () => {
  const db = row('db');
  const web = row('web', {}, { Links: [`${db.id}:database`] });
  const all = [db, web];
  const byName = (n: string) => all.find((r) => r.name === n || r.id === n);

  it('parses NAME:ALIAS, NAME and the inspect form /child:/parent/alias', () => {
    assert.deepEqual(parseLink('db:database'), { name: 'db', alias: 'database' });
    assert.deepEqual(parseLink('db'), { name: 'db', alias: 'db' });
    assert.deepEqual(parseLink('/db:/web/database'), { name: 'db', alias: 'database' });
    assert.throws(() => parseLink('a:b:c'), /bad format for links: a:b:c/);
  });

  it('create stores the child by ID; a missing child is a 400 in dockerd words; host networking refused', () => {
    assert.deepEqual(resolveLinks({ Links: ['db:database'] }, byName), [`${db.id}:database`]);
    assert.equal(resolveLinks({}, byName), null);
    assert.throws(
      () => resolveLinks({ Links: ['nosuch:x'] }, byName),
      (e: unknown) =>
        e instanceof InvalidArgumentError &&
        e.message === 'could not get container for nosuch: No such container: nosuch',
    );
    assert.throws(() => resolveLinks({ Links: ['db:x'], NetworkMode: 'host' }, byName), /host type networking/);
  });

  it('inspect and ps show the names of today; DELETE ?link=1 removes one link, or answers 404', () => {
    assert.deepEqual(inspectLinks(web, byName), ['/db:/web/database']);
    assert.deepEqual(linkNames(all).get(db.id), ['/web/database']);
    const { parent, hostConfig } = withoutLink('/web/database', byName);
    assert.equal(parent.id, web.id);
    assert.equal(hostConfig.Links, null);
    assert.throws(
      () => withoutLink('web/nolink', byName),
      (e: unknown) => e instanceof NotFoundError && e.message === 'No such container: web/nolink',
    );
    assert.throws(() => withoutLink('db', byName), ConflictError);
  });

  it("gives dockerd's variables: the lowest port (tcp first), each port, ranges, the name, the child's env", () => {
    const env = linkEnv(
      '/web/db-1',
      '10.0.0.2',
      ['PATH=/bin', 'PG=16', 'HOME=/'],
      ['5432/tcp', '53/udp', '8000/tcp', '8001/tcp'],
    );
    assert.deepEqual(env, [
      'DB_1_PORT=tcp://10.0.0.2:5432',
      'DB_1_PORT_5432_TCP=tcp://10.0.0.2:5432',
      'DB_1_PORT_5432_TCP_ADDR=10.0.0.2',
      'DB_1_PORT_5432_TCP_PORT=5432',
      'DB_1_PORT_5432_TCP_PROTO=tcp',
      'DB_1_PORT_8000_TCP=tcp://10.0.0.2:8000',
      'DB_1_PORT_8000_TCP_ADDR=10.0.0.2',
      'DB_1_PORT_8000_TCP_PORT=8000',
      'DB_1_PORT_8000_TCP_PROTO=tcp',
      'DB_1_PORT_8001_TCP=tcp://10.0.0.2:8001',
      'DB_1_PORT_8001_TCP_ADDR=10.0.0.2',
      'DB_1_PORT_8001_TCP_PORT=8001',
      'DB_1_PORT_8001_TCP_PROTO=tcp',
      // The run 8000-8001 is closed by the next port (udp comes after tcp), after that port's own variables.
      'DB_1_PORT_53_UDP=udp://10.0.0.2:53',
      'DB_1_PORT_53_UDP_ADDR=10.0.0.2',
      'DB_1_PORT_53_UDP_PORT=53',
      'DB_1_PORT_53_UDP_PROTO=udp',
      'DB_1_PORT_8000_TCP_START=tcp://10.0.0.2:8000',
      'DB_1_PORT_8000_TCP_PORT_START=8000',
      'DB_1_PORT_8000_TCP_END=tcp://10.0.0.2:8001',
      'DB_1_PORT_8000_TCP_PORT_END=8001',
      'DB_1_NAME=/web/db-1',
      'DB_1_ENV_PG=16',
    ]);
    assert.deepEqual(linkEnv('/web/db', '10.0.0.2', [], []), ['DB_NAME=/web/db']);
  });

  it('start: variables and hosts lines on the bridge, hosts lines only elsewhere; the child must run', () => {
    const onBridge = linkInput('web', [{ alias: 'database', child: db, ip: '10.0.0.2' }], true);
    assert.deepEqual(onBridge.hosts, ['database db-host db:10.0.0.2']);
    assert.ok(onBridge.env.includes('DATABASE_NAME=/web/database'));
    assert.ok(onBridge.env.includes('DATABASE_ENV_DB=pg'));
    const same = linkInput('web', [{ alias: 'db', child: db, ip: '10.0.0.2' }], false);
    assert.deepEqual(same, { env: [], hosts: ['db db-host:10.0.0.2'] });
    const stopped = { ...db, state: { ...db.state, Status: 'exited' as const } };
    assert.throws(
      () => linkInput('web', [{ alias: 'database', child: stopped, ip: undefined }], true),
      /Cannot link to a non running container: \/db AS \/web\/database/,
    );
  });
});
