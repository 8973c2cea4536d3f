import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerSummary } from '../../client/index.ts';
import { renderRows } from '../output.ts';
import { containerLayout, containerRow, displayablePorts, goQuote } from './list.ts';

const NOW = Date.UTC(2024, 0, 1, 12, 0, 0);
const ID = 'accb50bdbcf5'.padEnd(64, '0');

function summary(over: Partial<ContainerSummary> = {}): ContainerSummary {
  return {
    Id: ID,
    Names: ['/web', '/other/alias'],
    Image: 'docker.io/library/busybox:latest',
    ImageID: `sha256:${'7b'.repeat(32)}`,
    Command: 'sh -c "while true; do date; sleep 1; done"',
    Created: NOW / 1000 - 7200,
    Ports: [],
    Labels: { b: '2', a: '1' },
    State: 'running',
    Status: 'Up 2 hours',
    SizeRw: 0,
    SizeRootFs: 1982269,
    Mounts: [{ Name: 'averyveryverylongvolumename', Driver: 'local' }, { Source: '/host' }],
    NetworkSettings: { Networks: { none: {} } },
    ...over,
  };
}

describe('ps rows (docker formatter.ContainerContext)', () => {
  it('truncates IDs, commands, names and mounts, and quotes the command like Go', () => {
    const row = containerRow(summary(), true, NOW);
    assert.equal(row.ID, 'accb50bdbcf5');
    assert.equal(row.Command, '"sh -c \\"while true; …"');
    assert.equal(row.Image, 'busybox:latest');
    assert.equal(row.Names, 'web');
    assert.equal(row.RunningFor, '2 hours ago');
    assert.equal(row.Labels, 'a=1,b=2');
    assert.equal(row.Mounts, 'averyveryveryl…,/host');
    assert.equal(row.LocalVolumes, '1');
    assert.equal(row.Size, '0B (virtual 1.98MB)');
    assert.equal(row.Label?.('a'), '1');
    const full = containerRow(summary(), false, NOW);
    assert.equal(full.ID, ID);
    assert.equal(full.Names, 'web,other/alias');
    assert.equal(full.Image, 'docker.io/library/busybox:latest');
  });

  it('shows an image given by ID as its short ID', () => {
    assert.equal(
      containerRow(summary({ Image: '7b7b7b7b7b7b7b', ImageID: `sha256:${'7b'.repeat(32)}` }), true, NOW).Image,
      '7b7b7b7b7b7b',
    );
    assert.equal(containerRow(summary({ Image: '' }), true, NOW).Image, '<no image>');
  });

  it('groups ports as docker does', () => {
    assert.equal(
      displayablePorts([
        { PrivatePort: 81, Type: 'tcp' },
        { PrivatePort: 80, Type: 'tcp' },
        { PrivatePort: 82, Type: 'tcp' },
        { PrivatePort: 53, Type: 'udp' },
        { IP: '0.0.0.0', PrivatePort: 8080, PublicPort: 8080, Type: 'tcp' },
        { IP: '0.0.0.0', PrivatePort: 22, PublicPort: 2222, Type: 'tcp' },
        { IP: '::', PrivatePort: 443, PublicPort: 8443, Type: 'tcp' },
      ]),
      '53/udp, 80-82/tcp, 0.0.0.0:8080->8080/tcp, 0.0.0.0:2222->22/tcp, [::]:8443->443/tcp',
    );
  });

  it('quotes control and non-ASCII characters like strconv.Quote', () => {
    assert.equal(goQuote('a\tb\x1b"\\é'), '"a\\tb\\x1b\\"\\\\é"');
  });

  it('draws the default table, with sizes when asked', async () => {
    const rows = [
      containerRow(summary(), true, NOW),
      containerRow(summary({ Id: 'b'.repeat(64), Names: ['/db'], Status: 'Exited (0) 1 hour ago' }), true, NOW),
    ];
    const { format, layout } = containerLayout('', false, true);
    const text = await renderRows(rows as Record<string, string>[], format, layout);
    assert.equal(
      text,
      'CONTAINER ID   IMAGE            COMMAND                   CREATED       STATUS                  PORTS     NAMES     SIZE\n' +
        'accb50bdbcf5   busybox:latest   "sh -c \\"while true; …"   2 hours ago   Up 2 hours                        web       0B (virtual 1.98MB)\n' +
        'bbbbbbbbbbbb   busybox:latest   "sh -c \\"while true; …"   2 hours ago   Exited (0) 1 hour ago             db        0B (virtual 1.98MB)\n',
    );
  });

  it('renders json rows with sorted keys and a null Platform, and templates with .Label', async () => {
    const row = containerRow(summary({ Labels: { 'com.x': '<y>' } }), true, NOW);
    const { format, layout } = containerLayout('json', false, false);
    const json = await renderRows([row] as Record<string, string>[], format, layout);
    assert.match(json, /^\{"Command":.*"Labels":"com.x=\\u003cy\\u003e".*"Platform":null,.*"Status":"Up 2 hours"\}\n$/);
    const t = containerLayout('table {{.ID}}\t{{.Label "com.x"}}', false, false);
    assert.equal(
      await renderRows([row] as Record<string, string>[], t.format, t.layout),
      'CONTAINER ID   x\naccb50bdbcf5   <y>\n',
    );
  });
});
