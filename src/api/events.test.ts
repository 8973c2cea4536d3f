import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventLog } from '../util/events.ts';
import { eventMatches } from './events.ts';

test('eventMatches: type, action, image by ID, prefix or name (and a container by its image), label, scope', () => {
  const log = new EventLog();
  const id = `sha256:${'ab'.repeat(32)}`;
  const tag = log.publish('image', 'tag', id, { name: 'app:1', 'com.example.team': 'web' });
  const run = log.publish('container', 'start', 'c1', { image: 'app:1', name: 'web' });
  const f = (o: Record<string, string[]>) => new Map(Object.entries(o));
  assert.equal(eventMatches(tag, f({})), true);
  assert.equal(eventMatches(tag, f({ type: ['image'] })), true);
  assert.equal(eventMatches(run, f({ type: ['image'] })), false);
  assert.equal(eventMatches(tag, f({ event: ['untag'], action: ['tag'] })), true);
  assert.equal(eventMatches(tag, f({ event: ['untag'] })), false);
  for (const image of [id, 'abab', 'app:1']) assert.equal(eventMatches(tag, f({ image: [image] })), true, image);
  assert.equal(eventMatches(tag, f({ image: ['other'] })), false);
  assert.equal(eventMatches(run, f({ image: ['app:1'] })), true, "a container's image");
  assert.equal(eventMatches(run, f({ image: ['other:1'] })), false);
  assert.equal(eventMatches(tag, f({ label: ['com.example.team'] })), true);
  assert.equal(eventMatches(tag, f({ label: ['com.example.team=web', 'name=app:1'] })), true);
  assert.equal(eventMatches(tag, f({ label: ['com.example.team=db'] })), false);
  assert.equal(eventMatches(tag, f({ scope: ['local'] })), true);
  assert.equal(eventMatches(tag, f({ scope: ['swarm'] })), false);
});

test('eventMatches as dockerd: container, network… by ID or name prefix, excluding other actors; image with or without the tag', () => {
  const log = new EventLog();
  const start = log.publish('container', 'start', 'abc123', { name: 'web', image: 'busybox:latest' });
  const pull = log.publish('image', 'pull', 'busybox:latest', { name: 'busybox:latest' });
  const connect = log.publish('network', 'connect', 'net999', { name: 'front', container: 'abc123' });
  const exec = log.publish('container', 'exec_start: sh -c true', 'abc123', { name: 'web' });
  const f = (o: Record<string, string[]>) => new Map(Object.entries(o));
  assert.equal(eventMatches(start, f({ container: ['web'] })), true);
  assert.equal(eventMatches(start, f({ container: ['abc'] })), true);
  assert.equal(eventMatches(start, f({ container: ['other'] })), false);
  assert.equal(eventMatches(connect, f({ container: ['web'] })), false, 'a network event is not a container event');
  assert.equal(eventMatches(connect, f({ network: ['front'] })), true);
  assert.equal(eventMatches(start, f({ image: ['busybox'] })), true);
  assert.equal(eventMatches(pull, f({ image: ['busybox:latest'] })), true);
  assert.equal(eventMatches(pull, f({ image: ['alpine'] })), false);
  assert.equal(eventMatches(start, f({ type: ['image', 'container'], event: ['die', 'start'] })), true);
  assert.equal(eventMatches(exec, f({ event: ['exec_start'] })), true);
  assert.equal(eventMatches(exec, f({ event: ['start'] })), false);
});
