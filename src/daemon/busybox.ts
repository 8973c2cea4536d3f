import { execFile } from 'node:child_process';
import { open, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { promisify } from 'node:util';
import { pack, type PackEntry } from '../util/tar/index.ts';
import { DataLossError, FailedPreconditionError } from '../util/errors.ts';

const run = promisify(execFile);

const PASSWD = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
`;

const GROUP = `root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nobody:x:65534:
`;

const NSSWITCH = `passwd:   files
group:    files
shadow:   files
hosts:    files dns
networks: files
protocols: files
services: files
`;

/** Directories of the root filesystem, with their modes. */
const DIRS: Record<string, number> = {
  bin: 0o755,
  dev: 0o755,
  etc: 0o755,
  home: 0o755,
  proc: 0o555,
  root: 0o700,
  sbin: 0o755,
  sys: 0o555,
  tmp: 0o1777,
  usr: 0o755,
  'usr/bin': 0o755,
  'usr/sbin': 0o755,
  var: 0o755,
  'var/spool': 0o755,
  'var/spool/mail': 0o755,
  'var/www': 0o755,
};

/**
 * A tar of a minimal root filesystem around a static busybox (Debian's busybox-static): `/bin/busybox`, a
 * symlink to it for every applet (`busybox --list-full`), `/etc/passwd`, `/etc/group`, `/etc/nsswitch.conf`
 * and the usual empty directories (`/tmp` 1777, `/root` 0700). The same busybox binary always gives the same
 * bytes: entries are sorted, owned by 0:0 and dated at the epoch.
 *
 * FailedPreconditionError when the binary is missing or does not run.
 */
export async function* busyboxRootfs(busyboxPath = '/bin/busybox'): AsyncGenerator<Buffer> {
  let size: number;
  let applets: string[];
  try {
    size = (await stat(busyboxPath)).size;
    const { stdout } = await run(busyboxPath, ['--list-full'], { maxBuffer: 1 << 20 });
    applets = stdout
      .split('\n')
      .map((l) => posix.normalize(l.trim()).replace(/^\/+/, ''))
      .filter((l) => l !== '' && l !== '.');
  } catch (err) {
    throw new FailedPreconditionError(`cannot use busybox at "${busyboxPath}": ${(err as Error).message}`, {
      cause: err,
    });
  }
  const entries = new Map<string, PackEntry>();
  const dir = (name: string, mode: number) =>
    entries.set(name, { header: { name: `${name}/`, type: 'directory', mode } });
  for (const [name, mode] of Object.entries(DIRS)) dir(name, mode);
  const text = (name: string, body: string, mode = 0o644) =>
    entries.set(name, { header: { name, mode }, body: Buffer.from(body) });
  text('etc/passwd', PASSWD);
  text('etc/group', GROUP);
  text('etc/nsswitch.conf', NSSWITCH);
  for (const applet of applets) {
    if (applet === 'bin/busybox') continue;
    for (let d = posix.dirname(applet); d !== '.' && !entries.has(d); d = posix.dirname(d)) dir(d, 0o755);
    entries.set(applet, { header: { name: applet, type: 'symlink', linkname: '/bin/busybox', mode: 0o777 } });
  }
  entries.set('bin/busybox', {
    header: { name: 'bin/busybox', mode: 0o755, size },
    body: readFileExactly(busyboxPath, size),
  });
  const sorted = [...entries.keys()].sort().map((k) => entries.get(k)!);
  yield* pack(sorted);
}

/** The file's first `size` bytes; DataLossError if it is shorter (changed since it was measured). */
async function* readFileExactly(path: string, size: number): AsyncGenerator<Buffer> {
  const fh = await open(path, 'r');
  try {
    let pos = 0;
    while (pos < size) {
      const buf = Buffer.allocUnsafe(Math.min(1 << 20, size - pos));
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) throw new DataLossError(`"${path}" ended after ${pos} of its ${size} bytes`);
      pos += bytesRead;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}
