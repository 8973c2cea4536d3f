import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addHostsEntries, buildHosts, buildResolvConf, hostNames, removeHostsEntries, splitExtraHost } from './etc.ts';

test("hosts: Docker's defaults, then --add-host lines, then the container's own address", () => {
  const h = buildHosts({ hostname: 'abc123', addresses: ['10.201.0.2'], extraHosts: ['db:10.0.0.9', 'v6:[fd00::1]'] });
  assert.equal(
    h,
    '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n' +
      '10.0.0.9\tdb\nfd00::1\tv6\n10.201.0.2\tabc123\n',
  );
  assert.match(
    buildHosts({ hostname: 'h', domainname: 'example.org', addresses: ['10.0.0.2'], extraHosts: [] }),
    /10\.0\.0\.2\th\.example\.org h\n$/,
  );
});

test('hosts follows connect and disconnect: a line per network address added once, removed exactly', () => {
  const start = buildHosts({
    hostname: 'abc123',
    addresses: ['10.201.0.2', 'fd00:201::2'],
    extraHosts: ['db:10.201.1.5'],
  });
  assert.match(start, /\n10\.201\.0\.2\tabc123\nfd00:201::2\tabc123\n$/, 'each address of the start, IPv6 too');
  const names = hostNames('abc123');
  // The user's own line (spaces, not a tab) stays through everything.
  const edited = `${start}10.201.9.9   mine\n`;
  const joined = addHostsEntries(edited, ['10.201.1.5'], names);
  assert.equal(joined, `${edited}10.201.1.5\tabc123\n`);
  assert.equal(addHostsEntries(joined, ['10.201.1.5'], names), joined, 'a second connect adds nothing');
  assert.equal(addHostsEntries(joined, ['10.201.1.5'], 'abc123'), joined);
  const left = removeHostsEntries(joined, ['10.201.1.5'], names);
  assert.equal(left, edited, 'disconnect removes only its line: the --add-host line for the same address stays');
  assert.match(left, /^10\.201\.1\.5\tdb$/m);
  assert.equal(removeHostsEntries(left, ['10.201.1.5'], names), left, 'nothing to remove is fine');
  assert.equal(
    addHostsEntries('127.0.0.1\tlocalhost', ['10.201.0.3'], 'h.example.org h'),
    '127.0.0.1\tlocalhost\n10.201.0.3\th.example.org h\n',
    'a file without a final newline',
  );
  assert.equal(
    removeHostsEntries('a\n10.201.0.3 h.example.org  h\nb', ['10.201.0.3'], hostNames('h', 'example.org')),
    'a\nb',
  );
});

test('splitExtraHost: name:ip, name=ip, IPv6 with colons', () => {
  assert.deepEqual(splitExtraHost('a:1.2.3.4'), ['a', '1.2.3.4']);
  assert.deepEqual(splitExtraHost('a=1.2.3.4'), ['a', '1.2.3.4']);
  assert.deepEqual(splitExtraHost('a:fd00::1'), ['a', 'fd00::1']);
  assert.deepEqual(splitExtraHost('gw:host-gateway'), ['gw', 'host-gateway']);
});

test("resolv.conf: loopback nameservers dropped, --dns/--dns-search/--dns-option replace the host's", () => {
  const host = '# comment\nnameserver 127.0.0.53\nnameserver 9.9.9.9\nsearch corp.example\noptions edns0\n';
  assert.equal(buildResolvConf(host, {}), 'search corp.example\nnameserver 9.9.9.9\noptions edns0\n');
  assert.equal(buildResolvConf('nameserver 127.0.0.1\n', {}), '', 'no nameserver left: none');
  assert.equal(
    buildResolvConf(host, { nameservers: ['10.201.0.1'], search: ['a.example'], options: ['ndots:2'] }),
    'search a.example\nnameserver 10.201.0.1\noptions ndots:2\n',
  );
});
