import type { Readable } from 'node:stream';
import type { OutStream } from './command.ts';

export type LineSource = Readable;

/** Reads one line (without its newline); undefined at end of input with nothing read. */
export function readLine(input: LineSource): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const done = (value: string | undefined): void => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onError);
      input.pause();
      resolve(value);
    };
    const onData = (chunk: Buffer | string): void => {
      buf += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        const rest = buf.slice(nl + 1);
        if (rest !== '') input.unshift(Buffer.from(rest));
        done(buf.slice(0, nl).replace(/\r$/, ''));
      }
    };
    const onEnd = (): void => done(buf === '' ? undefined : buf);
    const onError = (err: Error): void => {
      input.off('data', onData);
      input.off('end', onEnd);
      reject(err);
    };
    input.on('data', onData);
    input.once('end', onEnd);
    input.once('error', onError);
    input.resume();
  });
}

/** docker's `prompt.Confirm`: prints `MESSAGE [y/N] ` and accepts only `y`/`Y`. */
export async function confirm(input: LineSource, out: OutStream, message: string): Promise<boolean> {
  out.write(`${message} [y/N] `);
  const answer = await readLine(input);
  return answer !== undefined && answer.trim().toLowerCase() === 'y';
}
