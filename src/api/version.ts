/** The Engine API versions Berth serves. */
export const API_VERSION = '1.47';
/** Oldest version accepted: 1.22 so that skopeo's docker-daemon transport (fixed at 1.22) works. */
export const MIN_API_VERSION = '1.22';
/** Newest version accepted on versioned paths; requests above API_VERSION get the same answers. */
export const MAX_API_VERSION = '1.50';

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export function versionAtLeast(v: string, min: string): boolean {
  return compareVersions(v, min) >= 0;
}
