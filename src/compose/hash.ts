import { serviceDocument } from './config.ts';
import type { Service } from './model.ts';

/**
 * A service's config hash (label `com.docker.compose.config-hash`): sha256 of its canonical document with the
 * keys Docker Compose leaves out (build, pull_policy, scale, deploy.replicas, depends_on, profiles), so that
 * scaling or rebuilding alone recreates nothing. Keys are sorted at every level, so the hash is stable.
 */
export function serviceHash(s: Service): string {
  const doc = serviceDocument(s);
  delete doc.build;
  delete doc.pull_policy;
  delete doc.scale;
  delete doc.depends_on;
  delete doc.profiles;
  if (doc.deploy !== undefined) {
    const { replicas: _r, ...deploy } = doc.deploy as Record<string, unknown>;
    if (Object.keys(deploy).length > 0) doc.deploy = deploy;
    else delete doc.deploy;
  }
  // node:crypto is loaded here, on first use, not by every command that loads compose.
  const { createHash } = process.getBuiltinModule('node:crypto');
  return createHash('sha256').update(stableJSON(doc)).digest('hex');
}

/** JSON with object keys sorted at every level. */
export function stableJSON(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJSON).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJSON((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
