import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { test } from 'node:test';
import { ConflictError, InvalidArgumentError } from '../util/errors.ts';
import { canBind, clash, contends, parsePortKey, resolvePorts, wantedPorts } from './ports.ts';

test('parsePortKey', () => {
  assert.deepEqual(parsePortKey('80'), { port: 80, protocol: 'tcp' });
  assert.deepEqual(parsePortKey('53/udp'), { port: 53, protocol: 'udp' });
  assert.throws(() => parsePortKey('0/tcp'), InvalidArgumentError);
  assert.throws(() => parsePortKey('80/icmp'), /invalid proto: icmp/);
});

test('wantedPorts: bindings, default bind address, -P for exposed ports not bound yet', () => {
  const w = wantedPorts(
    {
      '80/tcp': [
        { HostIp: '', HostPort: '8080' },
        { HostIp: '127.0.0.1', HostPort: '' },
      ],
      '53/udp': null,
    },
    true,
    ['80/tcp', '443/tcp'],
    '0.0.0.0',
  );
  assert.deepEqual(w, [
    { hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' },
    { hostIp: '127.0.0.1', hostPort: 0, containerPort: 80, protocol: 'tcp' },
    { hostIp: '', hostPort: 0, containerPort: 53, protocol: 'udp' },
    { hostIp: '', hostPort: 0, containerPort: 443, protocol: 'tcp' },
  ]);
  assert.equal(wantedPorts({ '80/tcp': [{ HostPort: '1' }] }, false, [], '127.0.0.1')[0]!.hostIp, '127.0.0.1');
  assert.throws(
    () => wantedPorts({ '80/tcp': [{ HostIp: 'nope', HostPort: '1' }] }, false, [], ''),
    /invalid IP address: nope/,
  );
});

test('clash: same port and protocol, and one address covers the other', () => {
  assert.ok(clash({ hostIp: '', hostPort: 1, protocol: 'tcp' }, { hostIp: '127.0.0.1', hostPort: 1, protocol: 'tcp' }));
  assert.ok(
    !clash(
      { hostIp: '127.0.0.2', hostPort: 1, protocol: 'tcp' },
      { hostIp: '127.0.0.1', hostPort: 1, protocol: 'tcp' },
    ),
  );
  assert.ok(!clash({ hostIp: '', hostPort: 1, protocol: 'udp' }, { hostIp: '', hostPort: 1, protocol: 'tcp' }));
});

test('contends: only a fixed port or range that a held binding covers', () => {
  const held = [{ hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' as const }];
  const want = (hostPort: number, more: object = {}) => [
    { hostIp: '', hostPort, containerPort: 80, protocol: 'tcp' as const, ...more },
  ];
  assert.equal(contends(want(8080), held), true);
  assert.equal(contends(want(8081), held), false);
  assert.equal(contends(want(0), held), false, 'a random port never waits');
  assert.equal(contends(want(8070, { hostPortEnd: 8090 }), held), true, 'a range that covers it');
  assert.equal(contends(want(8081, { hostPortEnd: 8090 }), held), false);
  assert.equal(contends(want(8080, { protocol: 'udp' }), held), false, 'another protocol');
  assert.equal(contends(want(8080, { hostIp: '127.0.0.1' }), held), true, 'every address covers 127.0.0.1');
  assert.equal(
    contends(want(8080, { hostIp: '127.0.0.1' }), [{ ...held[0]!, hostIp: '10.0.0.1' }]),
    false,
    'two other addresses',
  );
  assert.equal(contends(want(8080), []), false);
});

test("a port another process listens on is refused with Docker's message; random ports avoid taken ones", async () => {
  const srv: Server = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  try {
    assert.equal(await canBind('127.0.0.1', port, 'tcp'), false);
    await assert.rejects(
      resolvePorts(
        [{ hostIp: '127.0.0.1', hostPort: port, containerPort: 80, protocol: 'tcp' }],
        [],
        [port, port],
        port,
      ),
      (e: unknown) =>
        e instanceof ConflictError && e.message === `Bind for 127.0.0.1:${port} failed: port is already allocated`,
    );
    // Berth's own allocations count too, even when the kernel would allow the bind.
    await assert.rejects(
      resolvePorts(
        [{ hostIp: '', hostPort: 1, containerPort: 80, protocol: 'tcp' }],
        [{ hostIp: '', hostPort: 1, containerPort: 81, protocol: 'tcp' }],
        [1, 1],
        1,
      ),
      /Bind for 0.0.0.0:1 failed/,
    );
    // A range past the taken port (20 wide: tests running beside this one hold ports of their own nearby).
    const ranged = await resolvePorts(
      [{ hostIp: '127.0.0.1', hostPort: port, hostPortEnd: port + 20, containerPort: 80, protocol: 'tcp' }],
      [],
      [1, 1],
      1,
    );
    const first = ranged[0]!.hostPort;
    assert.ok(first > port && first <= port + 20, `a host range skips its taken first port (got ${first})`);
    for (let p = port + 1; p < first; p++)
      assert.equal(await canBind('127.0.0.1', p, 'tcp'), false, `port ${p}, skipped, is taken`);
    assert.deepEqual(wantedPorts({ '80/tcp': [{ HostPort: '8000-8010' }] }, false, [], '')[0], {
      hostIp: '',
      hostPort: 8000,
      hostPortEnd: 8010,
      containerPort: 80,
      protocol: 'tcp',
    });
    const got = await resolvePorts(
      [{ hostIp: '127.0.0.1', hostPort: 0, containerPort: 80, protocol: 'tcp' }],
      [],
      [port, port + 50],
      port,
    );
    assert.notEqual(got[0]!.hostPort, port);
    assert.ok(got[0]!.hostPort > port && got[0]!.hostPort <= port + 50);
  } finally {
    await new Promise((r) => srv.close(r));
  }
});
