/** Docker's stream multiplexing (moby pkg/stdcopy): an 8-byte header [stream, 0, 0, 0, size BE32] per frame. */
export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export const SYSTEMERR = 3;

export function frame(stream: number, data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(8 + data.length);
  out[0] = stream;
  out[1] = 0;
  out[2] = 0;
  out[3] = 0;
  out.writeUInt32BE(data.length, 4);
  out.set(data, 8);
  return out;
}
