import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { JSONValueScanner, parseJSONStream } from './jsonstream.ts';

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of it) out.push(v);
  return out;
}

describe('parseJSONStream', () => {
  it('splits concatenated values with or without newlines', async () => {
    const src = ['{"a":1}{"b":[1,', '2]}\r\n', '  [3]\n'];
    assert.deepEqual(await collect(parseJSONStream(src)), [{ a: 1 }, { b: [1, 2] }, [3]]);
  });

  it('keeps braces and escaped quotes inside strings', async () => {
    const src = ['{"s":"}{\\"', '"}', '{"t":"\\\\"}'];
    assert.deepEqual(await collect(parseJSONStream(src)), [{ s: '}{"' }, { t: '\\' }]);
  });

  it('decodes multi-byte characters split between chunks', async () => {
    const bytes = Buffer.from('{"x":"é"}');
    const src = [bytes.subarray(0, 7), bytes.subarray(7)];
    assert.deepEqual(await collect(parseJSONStream(src)), [{ x: 'é' }]);
  });

  it('fails on a truncated stream and on garbage between values', async () => {
    await assert.rejects(collect(parseJSONStream(['{"a":'])), SyntaxError);
    assert.throws(() => new JSONValueScanner().push('{} x'), SyntaxError);
  });
});
