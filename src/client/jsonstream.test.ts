import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { exactIntegers, JSONValueScanner, parseJSONStream } from './jsonstream.ts';

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

  it('reads whole lines, and what is not one value a line, alike', async () => {
    // Lines of one value each (the engine's streams), then a value across lines, two values on one line, blank
    // lines, a line cut between chunks, and lines again once the scanner has nothing left.
    const src = [
      '{"a":1}\r\n [2] \n\n',
      '{"b":\n{"c":[3]}\n}\n{"d":4}{"e":5}\n{"f":',
      '6}\n\t\r\n{"g":"{\\""}\n',
      '[7]\n',
    ];
    const expected = [{ a: 1 }, [2], { b: { c: [3] } }, { d: 4 }, { e: 5 }, { f: 6 }, { g: '{"' }, [7]];
    assert.deepEqual(await collect(parseJSONStream(src)), expected);
    // The same text in one chunk, and a byte at a time.
    const text = src.join('');
    assert.deepEqual(await collect(parseJSONStream([text])), expected);
    assert.deepEqual(await collect(parseJSONStream([...text])), expected);
  });

  it('gives the reviver every value, on a line or not', async () => {
    const big = '{"t":1700000000000000001}';
    const values = await collect(parseJSONStream([`${big}\n${big}${big}\n`], exactIntegers));
    assert.deepEqual(values, [{ t: 1700000000000000001n }, { t: 1700000000000000001n }, { t: 1700000000000000001n }]);
  });

  it('fails on a line that is not JSON as the scanner does', async () => {
    await assert.rejects(collect(parseJSONStream(['{"a":1}\n{"a":}\n'])), SyntaxError);
    await assert.rejects(collect(parseJSONStream(['{"a":1}\n"text"\n'])), /looking for beginning of value/);
    await assert.rejects(collect(parseJSONStream(['{"a":1}\n{"a":1} x\n'])), /looking for beginning of value/);
  });

  it('fails on a truncated stream and on garbage between values', async () => {
    await assert.rejects(collect(parseJSONStream(['{"a":'])), SyntaxError);
    assert.throws(() => new JSONValueScanner().push('{} x'), SyntaxError);
  });
});
