import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Router } from './router.ts';

describe('Router', () => {
  const h = (name: string) => Object.assign(() => {}, { label: name });
  const router = new Router()
    .add('GET', '/images/json', h('list'))
    .add('GET', '/images/{name*}/json', h('inspect'))
    .add('DELETE', '/images/{name*}', h('delete'))
    .add('GET', '/containers/{id}/json', h('container'));
  const match = (method: string, path: string) => {
    const m = router.match(method, path);
    return typeof m === 'object' ? { label: (m.handler as unknown as { label: string }).label, params: m.params } : m;
  };

  it('matches names with slashes, decoded', () => {
    assert.deepEqual(match('GET', '/images/library%2Fbusybox/json'), {
      label: 'inspect',
      params: { name: 'library/busybox' },
    });
    assert.deepEqual(match('GET', '/images/a/b/c:1/json'), { label: 'inspect', params: { name: 'a/b/c:1' } });
    assert.deepEqual(match('GET', '/images/json'), { label: 'list', params: {} });
  });

  it('passes an empty multi-segment name to the handler', () => {
    assert.deepEqual(match('GET', '/images//json'), { label: 'inspect', params: { name: '' } });
    assert.deepEqual(match('DELETE', '/images/'), { label: 'delete', params: { name: '' } });
  });

  it('needs a non-empty single segment', () => {
    assert.equal(match('GET', '/containers//json'), undefined);
    assert.deepEqual(match('GET', '/containers/abc/json'), { label: 'container', params: { id: 'abc' } });
  });

  it('tells a wrong method from an unknown path', () => {
    assert.equal(match('POST', '/images/json'), 'method');
    assert.equal(match('GET', '/nothing'), undefined);
    assert.deepEqual(match('HEAD', '/images/json'), { label: 'list', params: {} });
  });
});
