import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NotFoundError } from '../../util/errors.ts';
import type { OutStream } from '../command.ts';
import { inspectObjects } from './inspect.ts';

const IMAGE = JSON.stringify({
  Id: 'sha256:abc',
  RepoTags: ['busybox:latest'],
  Config: { Cmd: ['sh'], Env: null, Labels: null, Hostname: '' },
  GraphDriver: { Data: null, Name: 'overlayfs' },
  Metadata: { LastTagTime: '2026-11-22T10:50:33.262Z' },
  Size: 1983019,
});

function sink(): OutStream & { text(): string } {
  let buf = '';
  return {
    stream: process.stdout,
    isTerminal: false,
    columns: undefined,
    write: (s: string) => void (buf += s),
    text: () => buf,
  };
}

async function inspect(format: string, refs = ['busybox']): Promise<{ out: string; error: string | undefined }> {
  const out = sink();
  let error: string | undefined;
  try {
    await inspectObjects(out, { refs, format }, async (ref) => {
      if (ref !== 'busybox') throw new NotFoundError(`No such image: ${ref}`);
      return IMAGE;
    });
  } catch (err) {
    error = (err as Error).message;
  }
  return { out: out.text(), error };
}

describe('image inspect --format', () => {
  it('prints typed values as docker does: nil maps and slices, times', async () => {
    assert.deepEqual(
      await inspect('{{.Config.Labels}}|{{json .Config.Labels}}|{{.Config.Env}}|{{json .Config.Env}}|{{.Config.Cmd}}'),
      {
        out: 'map[]|null|[]|null|[sh]\n',
        error: undefined,
      },
    );
    assert.deepEqual(await inspect('{{.Config.Labels.x}}|{{.Metadata.LastTagTime}}|{{json .Metadata}}|{{.Size}}'), {
      out: '<no value>|2026-11-22 10:50:33.262 +0000 UTC|{"LastTagTime":"2026-11-22T10:50:33.262Z"}|1983019\n',
      error: undefined,
    });
  });

  it("fails on a missing field, nested or not, with the raw fallback's missingkey=error message", async () => {
    assert.deepEqual(await inspect('{{.Config.Foo}}'), {
      out: '\n',
      error: 'template parsing error: template: :1:9: executing "" at <.Config.Foo>: map has no entry for key "Foo"',
    });
    assert.deepEqual(await inspect('{{.Nope.x}}'), {
      out: '\n',
      error: 'template parsing error: template: :1:7: executing "" at <.Nope.x>: map has no entry for key "Nope"',
    });
  });

  it('prints what it found and reports lookups that failed', async () => {
    assert.deepEqual(await inspect('{{.Id}}', ['busybox', 'nosuch']), {
      out: 'sha256:abc\n',
      error: 'No such image: nosuch',
    });
    assert.deepEqual(await inspect('', ['nosuch']), { out: '[]\n', error: 'No such image: nosuch' });
    const json = await inspect('json');
    assert.equal(json.out, `[${IMAGE}]\n`);
  });
});
