/** `--security-opt` as the daemon receives it, parsed. Pure. */
import { type SeccompProfile, validateProfile } from '../runtime/index.ts';
import { errorMessage, InvalidArgumentError } from '../util/errors.ts';

export interface SecurityOptions {
  noNewPrivileges: boolean;
  /** Berth's default profile, none, or a profile in Docker's JSON format (already validated). */
  seccomp: 'default' | 'unconfined' | SeccompProfile;
}

/**
 * `no-new-privileges[=true|false]`, `seccomp=unconfined`, `seccomp=builtin`, or `seccomp=<profile JSON>` (the
 * client reads the file and sends its content, as the docker CLI does); label and apparmor options are accepted and
 * have no effect here. `key:value` is read as `key=value`, as dockerd does. The last of repeated options wins.
 */
export function parseSecurityOpts(opts: readonly string[]): SecurityOptions {
  let noNewPrivileges = false;
  let seccomp: SecurityOptions['seccomp'] = 'default';
  for (const o of opts) {
    const sep = o.includes('=') ? o.indexOf('=') : o.indexOf(':');
    const [k, v] = sep < 0 ? [o, ''] : [o.slice(0, sep), o.slice(sep + 1)];
    if (k === 'no-new-privileges') noNewPrivileges = v === '' || v === 'true';
    else if (k === 'seccomp') seccomp = parseSeccomp(v);
    else if (k === 'label' || k === 'apparmor') continue;
    else throw new InvalidArgumentError(`Invalid --security-opt: "${o}"`);
  }
  return { noNewPrivileges, seccomp };
}

function parseSeccomp(v: string): SecurityOptions['seccomp'] {
  if (v === 'unconfined') return 'unconfined';
  if (v === 'builtin' || v === '') return 'default';
  if (!v.trimStart().startsWith('{'))
    throw new InvalidArgumentError(
      `seccomp profiles from files are read by the client: send the profile JSON in SecurityOpt, not the file name (seccomp=${v})`,
    );
  let profile: unknown;
  try {
    profile = JSON.parse(v);
  } catch (err) {
    throw new InvalidArgumentError(`Decoding seccomp profile failed: ${errorMessage(err)}`);
  }
  validateProfile(profile);
  return profile;
}
