/**
 * Platform specifiers (`linux/arm64`, `linux/arm/v7`, `amd64`) parsed, normalised and formatted as containerd's
 * `platforms` package does. Pure.
 */
import { InvalidArgumentError } from '../util/errors.ts';
import type { Platform } from './types.ts';

const KNOWN_OS = new Set(['aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'illumos', 'ios', 'js', 'linux']);
for (const os of ['netbsd', 'openbsd', 'plan9', 'solaris', 'wasip1', 'windows']) KNOWN_OS.add(os);

const ARCH_ALIASES: Record<string, [string, string?]> = {
  i386: ['386'],
  x86_64: ['amd64'],
  'x86-64': ['amd64'],
  aarch64: ['arm64'],
  armhf: ['arm', 'v7'],
  armel: ['arm', 'v6'],
};

/**
 * Parses `os[/arch[/variant]]`, an architecture alone (the OS is then the host's) or an OS alone (the architecture
 * is then the host's); `host` defaults to linux/amd64.
 * Architectures are normalised (`x86_64` → `amd64`, `aarch64` → `arm64`, `arm` gets `v7`, `arm64/v8` loses its
 * variant). Throws InvalidArgumentError quoting the specifier.
 */
export function parsePlatform(specifier: string, host: Platform = { os: 'linux', architecture: 'amd64' }): Platform {
  const invalid = (why: string) => new InvalidArgumentError(`"${specifier}": ${why}: invalid argument`);
  if (specifier.includes('*')) throw invalid('wildcards not yet supported');
  const parts = specifier.split('/');
  if (parts.length > 3 || parts.some((p) => !/^[A-Za-z0-9_.-]+$/.test(p))) {
    throw invalid('invalid platform specifier, must be os[/arch[/variant]]');
  }
  const lower = parts.map((p) => p.toLowerCase());
  let os: string;
  let arch: string | undefined;
  let variant: string | undefined;
  if (lower.length === 1) {
    if (KNOWN_OS.has(lower[0]!)) {
      os = lower[0]!;
      arch = host.architecture;
      variant = host.variant;
    } else {
      os = host.os;
      arch = lower[0];
    }
  } else {
    [os, arch, variant] = lower as [string, string, string | undefined];
    if (!KNOWN_OS.has(os) && os !== 'unknown') throw invalid(`unknown operating system or architecture`);
  }
  if (arch === undefined) throw invalid('unknown operating system or architecture');
  const alias = ARCH_ALIASES[arch];
  if (alias) {
    arch = alias[0];
    variant ??= alias[1];
  }
  if (arch === 'arm64' && (variant === 'v8' || variant === '8')) variant = undefined;
  if (arch === 'arm') {
    if (variant === undefined || variant === '7') variant = 'v7';
    else if (/^[5-8]$/.test(variant)) variant = `v${variant}`;
  }
  if (arch === 'amd64' && variant === 'v1') variant = undefined;
  return variant ? { os, architecture: arch, variant } : { os, architecture: arch };
}

/** `os/arch[/variant]`. */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((x) => x !== undefined && x !== '').join('/');
}

/** containerd's FormatAll: with the OS version in parentheses when there is one (`windows(10.0.17763)/amd64`). */
export function formatPlatformAll(p: Platform): string {
  const os = p['os.version'] ? `${p.os}(${p['os.version']})` : p.os;
  return [os, p.architecture, p.variant].filter((x) => x !== undefined && x !== '').join('/');
}
