import type { Project, Service } from './model.ts';

/**
 * `compose config`: the model as the Compose Specification's canonical document (empty lists and maps left
 * out, services and resources sorted by name, `x-*` keys back in place), as YAML or JSON.
 */

type Dict = Record<string, unknown>;

function prune(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(prune);
  if (value !== null && typeof value === 'object') {
    const out: Dict = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue;
      if (Array.isArray(v) && v.length === 0) continue;
      if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) {
        // `networks: {default: null}` and friends keep their null values; empty maps go.
        continue;
      }
      out[k] = prune(v);
    }
    return out;
  }
  return value;
}

function sorted<T>(rec: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(rec).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** One service as the document writes it. */
export function serviceDocument(s: Service): Dict {
  const { name: _name, extensions, env_file: _envFile, ...rest } = s;
  const doc = prune(rest) as Dict;
  // `environment: {A: null}` means "unset": keep such keys.
  if (Object.keys(s.environment).length > 0) doc.environment = sorted(s.environment);
  if (Object.keys(s.networks).length > 0) doc.networks = sorted(s.networks);
  return sorted({ ...doc, ...extensions });
}

export function projectDocument(project: Project): Dict {
  const doc: Dict = { name: project.name };
  doc.services = Object.fromEntries(
    Object.keys(project.services)
      .sort()
      .map((n) => [n, serviceDocument(project.services[n]!)]),
  );
  for (const kind of ['networks', 'volumes', 'secrets', 'configs'] as const) {
    if (Object.keys(project[kind]).length > 0) doc[kind] = prune(sorted<unknown>(project[kind]));
  }
  return { ...doc, ...project.extensions };
}

export function formatConfig(project: Project, format: 'yaml' | 'json'): string {
  const doc = projectDocument(project);
  if (format === 'json') return `${JSON.stringify(doc, null, 2)}\n`;
  return emitYaml(doc);
}

const PLAIN = /^[A-Za-z0-9_./][A-Za-z0-9_./@+ =,:-]*$/;
const SPECIAL =
  /^(?:true|false|yes|no|on|off|y|n|null|~|[-+]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?|0x[0-9a-f]+|0o[0-7]+|\.inf|\.nan)$/i;

/** A scalar as YAML: plain when it reads back as the same string, else double-quoted (JSON's quoting is YAML's). */
function scalar(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = String(v);
  if (
    s !== '' &&
    PLAIN.test(s) &&
    !SPECIAL.test(s) &&
    !s.endsWith(' ') &&
    !s.endsWith(':') &&
    !s.includes(': ') &&
    !s.includes(' #')
  ) {
    return s;
  }
  return JSON.stringify(s);
}

function isEmpty(v: unknown): boolean {
  return Array.isArray(v) ? v.length === 0 : v !== null && typeof v === 'object' && Object.keys(v).length === 0;
}

/**
 * Plain data (mappings, lists, strings, numbers, booleans, null) as block YAML, two spaces a level. The `yaml`
 * package's stringify does the same several times slower, which `config` of a large file noticed.
 */
export function emitYaml(value: unknown, indent = ''): string {
  let out = '';
  if (Array.isArray(value)) {
    for (const item of value) {
      if (item !== null && typeof item === 'object' && !isEmpty(item)) {
        const body = emitYaml(item, `${indent}  `);
        out += `${indent}- ${body.slice(indent.length + 2)}`;
      } else {
        out += `${indent}- ${isEmpty(item) ? (Array.isArray(item) ? '[]' : '{}') : scalar(item)}\n`;
      }
    }
    return out;
  }
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const key = scalar(k);
    if (v !== null && typeof v === 'object' && !isEmpty(v)) {
      out += `${indent}${key}:\n${emitYaml(v, Array.isArray(v) ? indent : `${indent}  `)}`;
    } else {
      out += `${indent}${key}: ${isEmpty(v) ? (Array.isArray(v) ? '[]' : '{}') : scalar(v)}\n`;
    }
  }
  return out;
}
