import type { Descriptor, Platform } from '../oci/types.ts';

const ARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
};

/** This host's platform in OCI terms. */
export function hostPlatform(): Platform {
  return { os: 'linux', architecture: ARCH[process.arch] ?? process.arch };
}

/** Picks the manifest for `want` from an index's entries; entries without a platform match only when alone. */
export function choosePlatform(
  manifests: readonly Descriptor[],
  want: Platform = hostPlatform(),
): Descriptor | undefined {
  const matching = manifests.filter(
    (m) => m.platform && m.platform.os === want.os && m.platform.architecture === want.architecture,
  );
  if (want.variant) {
    const exact = matching.find((m) => m.platform?.variant === want.variant);
    if (exact) return exact;
  }
  if (matching[0]) return matching[0];
  const untyped = manifests.filter((m) => !m.platform && !m.annotations?.['vnd.docker.reference.type']);
  return untyped.length === 1 ? untyped[0] : undefined;
}
