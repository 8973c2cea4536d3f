/**
 * Root filesystems with real package databases, for SBOM and scan tests: a Debian tree whose dpkg status is the
 * host's own (Debian 12, about as many packages as asked for), an Alpine-like tree with an apk database, and a
 * node project with a package-lock.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseStanzas } from './dpkg.ts';

function put(root: string, path: string, text: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
}

export const DEBIAN_OS_RELEASE =
  'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n';

/**
 * A Debian 12 tree whose /var/lib/dpkg/status holds the first `count` installed packages of the host's status
 * file (always including libssl3 and zlib1g when the host has them), stanzas as dpkg wrote them.
 */
export function writeDebianRoot(root: string, count = 100): { packages: number; names: string[] } {
  const text = readFileSync('/var/lib/dpkg/status', 'utf8');
  const blocks = text.split(/\n\n+/).filter((b) => /^Status: install ok installed$/m.test(b));
  const must = blocks.filter((b) => /^Package: (libssl3|zlib1g)$/m.test(b));
  const rest = blocks.filter((b) => !must.includes(b)).slice(0, Math.max(0, count - must.length));
  const chosen = [...must, ...rest];
  put(root, '/var/lib/dpkg/status', `${chosen.join('\n\n')}\n`);
  put(root, '/etc/os-release', DEBIAN_OS_RELEASE);
  return { packages: chosen.length, names: chosen.map((b) => parseStanzas(b)[0]!.Package!) };
}

/** An Alpine 3.19 tree with an apk database of three packages. */
export function writeAlpineRoot(root: string): void {
  put(root, '/etc/os-release', 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n');
  put(root, '/etc/alpine-release', '3.19.1\n');
  put(
    root,
    '/lib/apk/db/installed',
    [
      'C:Q1abc=\nP:musl\nV:1.2.4_git20230717-r4\nA:x86_64\nS:383152\nI:622592\nT:the musl c library\nL:MIT\no:musl\nm:Natanael Copa\nt:1700000000\n',
      'C:Q1def=\nP:busybox\nV:1.36.1-r15\nA:x86_64\nL:GPL-2.0-only\no:busybox\nF:bin\nR:busybox\n',
      'C:Q1ghi=\nP:libcrypto3\nV:3.1.4-r5\nA:x86_64\nL:Apache-2.0\no:openssl\n',
    ].join('\n'),
  );
}

/** A node project at `dir` (a lockfile v3 with a scoped package and a nested copy). */
export function writeNodeProject(root: string, dir = '/app'): void {
  put(
    root,
    `${dir}/package.json`,
    JSON.stringify({ name: 'app', version: '1.0.0', dependencies: { lodash: '^4.17.20' } }),
  );
  put(
    root,
    `${dir}/package-lock.json`,
    JSON.stringify(
      {
        name: 'app',
        version: '1.0.0',
        lockfileVersion: 3,
        requires: true,
        packages: {
          '': { name: 'app', version: '1.0.0', dependencies: { lodash: '^4.17.20', '@babel/code-frame': '7.0.0' } },
          'node_modules/lodash': {
            version: '4.17.20',
            resolved: 'https://registry.npmjs.org/lodash/-/lodash-4.17.20.tgz',
          },
          'node_modules/@babel/code-frame': { version: '7.0.0' },
          'node_modules/@babel/code-frame/node_modules/minimist': { version: '1.2.5' },
          'node_modules/local-thing': { link: true, resolved: '../local' },
        },
      },
      null,
      2,
    ),
  );
}

/** An rpm database made by the machine's rpm, holding one package (name-epoch:version-release). */
export function writeRpmDb(root: string, work: string): void {
  mkdirSync(join(work, 'SPECS'), { recursive: true });
  writeFileSync(
    join(work, 'SPECS', 'p.spec'),
    'Name: openssl-libs\nVersion: 3.0.7\nRelease: 24.el9\nEpoch: 1\nSummary: t\nLicense: Apache-2.0\nBuildArch: noarch\n%description\nt\n%files\n',
  );
  execFileSync('rpmbuild', ['--define', `_topdir ${work}`, '-bb', join(work, 'SPECS', 'p.spec')], { stdio: 'ignore' });
  const db = join(root, 'var/lib/rpm');
  mkdirSync(db, { recursive: true });
  const rpm = (args: string[]) =>
    execFileSync('rpm', ['--dbpath', db, '--define', '_db_backend sqlite', ...args], { stdio: 'ignore' });
  rpm(['--initdb']);
  rpm(['-i', '--justdb', '--nodeps', '--ignorearch', join(work, 'RPMS/noarch/openssl-libs-3.0.7-24.el9.noarch.rpm')]);
  put(root, '/etc/os-release', 'NAME="Rocky Linux"\nID="rocky"\nVERSION_ID="9.3"\n');
}
