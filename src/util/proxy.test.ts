import assert from 'node:assert/strict';
import { test } from 'node:test';
import { proxyFor } from './proxy.ts';

const P = 'http://proxy.test:3128';
const via = (url: string, noProxy?: string) => proxyFor(new URL(url), { http: P, https: P, noProxy });

test('the scheme picks the proxy; none set, or another scheme: direct', () => {
  assert.equal(proxyFor(new URL('https://r.example/v2/'), { http: P }), undefined);
  assert.equal(proxyFor(new URL('http://r.example/v2/'), { http: P }), P);
  assert.equal(proxyFor(new URL('https://r.example/v2/'), { https: 'http://s:1' }), 'http://s:1');
  assert.equal(proxyFor(new URL('https://r.example/v2/'), undefined), undefined);
  assert.equal(proxyFor(new URL('ftp://r.example/'), { http: P, https: P }), undefined);
});

test('loopback never goes through a proxy', () => {
  for (const u of ['http://localhost:5000/', 'https://127.0.0.1/', 'http://127.9.8.7:80/', 'https://[::1]:5000/'])
    assert.equal(via(u), undefined, u);
  assert.equal(via('http://[::2]/'), P);
  assert.equal(via('http://128.0.0.1/'), P);
});

test('NO_PROXY as dockerd reads it: names with the names under them, dotted suffixes, IPs, CIDRs, ports, *', () => {
  const list = 'example.com, .suffix.org,*.star.net, 10.0.0.0/8,192.168.1.5,fd00::/8,[2001:db8::1]:5000,port.io:5000';
  const cases: [string, boolean][] = [
    ['https://example.com/', false],
    ['https://registry.example.com:5000/', false],
    ['https://notexample.com/', true],
    ['https://suffix.org/', true],
    ['https://a.suffix.org/', false],
    ['https://star.net/', true],
    ['https://b.star.net/', false],
    ['http://10.1.2.3:5000/', false],
    ['http://11.1.2.3/', true],
    ['http://192.168.1.5/', false],
    ['http://192.168.1.6/', true],
    ['http://[fd12::3]/', false],
    ['http://[fe80::3]/', true],
    ['http://[2001:db8::1]:5000/', false],
    ['http://[2001:db8::1]:5001/', true],
    ['http://port.io:5000/', false],
    ['https://port.io/', true],
    ['https://EXAMPLE.com/', false],
  ];
  for (const [u, proxied] of cases) assert.equal(via(u, list), proxied ? P : undefined, `${u} with ${list}`);
  assert.equal(via('https://anything.test/', ' * '), undefined);
  assert.equal(via('https://anything.test/', 'Anything.TEST'), undefined);
  assert.equal(via('https://port.io/', 'port.io:443'), undefined, "a URL without a port has its scheme's");
  assert.equal(via('https://anything.test/', ',, ,'), P);
});
