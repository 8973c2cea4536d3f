import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDevice, parseMount, parseVolumeSpec, splitVolumes } from './mountspecs.ts';

describe('--mount', () => {
  it('reads the CSV syntax with defaults and aliases', () => {
    assert.deepEqual(parseMount('type=bind,src=./data,dst=/d,readonly', '/home/u'), {
      Type: 'bind',
      Source: '/home/u/data',
      Target: '/d',
      ReadOnly: true,
    });
    assert.deepEqual(parseMount('target=/v,source=vol,volume-nocopy,volume-label=a=b', '/'), {
      Type: 'volume',
      Source: 'vol',
      Target: '/v',
      VolumeOptions: { Labels: { a: 'b' }, DriverConfig: {}, NoCopy: true },
    });
    assert.deepEqual(parseMount('type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770', '/'), {
      Type: 'tmpfs',
      Target: '/t',
      TmpfsOptions: { SizeBytes: 1024 * 1024, Mode: 0o1770 },
    });
    assert.deepEqual(parseMount('"type=bind","src=/a,b",dst=/x', '/'), { Type: 'bind', Source: '/a,b', Target: '/x' });
  });
  it("fails with docker's messages", () => {
    assert.throws(() => parseMount('type=foo', '/'), { message: 'target is required' });
    assert.throws(() => parseMount('foo', '/'), { message: "invalid field 'foo' must be a key=value pair" });
    assert.throws(() => parseMount('type=bind,dst=/x,volume-nocopy', '/'), {
      message: "cannot mix 'volume-*' options with mount type 'bind'",
    });
    assert.throws(() => parseMount('type=tmpfs,dst=/x,tmpfs-size=abc', '/'), {
      message: 'invalid value for tmpfs-size: abc',
    });
    assert.throws(() => parseMount('dst=/x,ro=maybe', '/'), { message: 'invalid value for ro: maybe' });
    assert.throws(() => parseMount('dst=/x,bogus=1', '/'), { message: "unexpected key 'bogus' in 'bogus=1'" });
  });
});

describe('-v', () => {
  it('splits source, target and mode like the compose loader', () => {
    assert.deepEqual(parseVolumeSpec('/a:/b:ro'), { type: 'bind', source: '/a', target: '/b', readOnly: true });
    assert.deepEqual(parseVolumeSpec('name:/b'), { type: 'volume', source: 'name', target: '/b', readOnly: false });
    assert.deepEqual(parseVolumeSpec('/anon'), { type: 'volume', source: '', target: '/anon', readOnly: false });
    assert.deepEqual(
      parseVolumeSpec('a:b:c:d'),
      { type: 'bind', source: 'a:b', target: 'c:d', readOnly: false },
      'one-letter parts are drives',
    );
  });
  it("refuses empty sections and too many colons with docker's text", () => {
    assert.throws(() => parseVolumeSpec(':/x'), { message: 'invalid spec: :/x: empty section between colons' });
    assert.throws(() => parseVolumeSpec('/a:/b:ro:x'), { message: 'invalid spec: /a:/b:ro:x: too many colons' });
    assert.throws(() => parseVolumeSpec(''), { message: 'invalid empty volume spec' });
  });
  it('makes binds of specs with a source and keeps the rest as anonymous volumes', () => {
    assert.deepEqual(splitVolumes(['./d:/d', 'v:/v:ro', '/anon'], '/home/u'), {
      binds: ['/home/u/d:/d', 'v:/v:ro'],
      volumes: { '/anon': {} },
    });
  });
});

describe('--device', () => {
  it('devices', () => {
    assert.deepEqual(parseDevice('/dev/null'), {
      PathOnHost: '/dev/null',
      PathInContainer: '/dev/null',
      CgroupPermissions: 'rwm',
    });
    assert.deepEqual(parseDevice('/dev/null:/dev/x:r'), {
      PathOnHost: '/dev/null',
      PathInContainer: '/dev/x',
      CgroupPermissions: 'r',
    });
    assert.deepEqual(parseDevice('/dev/null:rw'), {
      PathOnHost: '/dev/null',
      PathInContainer: '/dev/null',
      CgroupPermissions: 'rw',
    });
    assert.throws(() => parseDevice('/dev/null:rel'), { message: 'rel is not an absolute path' });
    assert.throws(() => parseDevice('/dev/null:/x:rwx'), { message: 'bad mode specified: rwx' });
  });
});
