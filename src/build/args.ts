/**
 * Build arguments: the predefined ones (the platforms, the target stage, the proxies), the ARGs before the first
 * FROM (which reach FROM lines only), and each stage's own ARG scope. Pure.
 *
 * The rules, as Docker's builders apply them:
 * - `--build-arg K=V` overrides an ARG's default; a K that no ARG declares is not visible (and is reported unused),
 *   except the proxy variables, which reach every RUN without being declared and are kept out of the history.
 * - The platform arguments (BUILDPLATFORM, TARGETARCH, …) and TARGETSTAGE are set in the global scope: FROM lines
 *   see them; a stage sees one after `ARG NAME` without a default.
 * - An ARG without a default inside a stage takes the global value of the same name (a meta ARG or a predefined
 *   one), unless a build argument gives one.
 * - ENV wins over ARG of the same name, whatever their order.
 * - A stage's ARGs end with it: a stage built FROM another starts with no ARG declared (Docker's documented rule;
 *   BuildKit lets the base stage's values through to RUN).
 */
import type { Platform } from '../oci/types.ts';
import { formatPlatform, formatPlatformAll } from '../oci/platform.ts';
import { processShellWord } from '../util/shellwords.ts';
import type { ArgInstruction } from '../dockerfile/index.ts';

/** Proxy variables: usable without an ARG, and never written to the image's history. */
export const PROXY_ARGS: ReadonlySet<string> = new Set([
  'HTTP_PROXY',
  'http_proxy',
  'HTTPS_PROXY',
  'https_proxy',
  'FTP_PROXY',
  'ftp_proxy',
  'NO_PROXY',
  'no_proxy',
  'ALL_PROXY',
  'all_proxy',
]);

export const PLATFORM_ARGS: readonly string[] = [
  'BUILDPLATFORM',
  'BUILDOS',
  'BUILDOSVERSION',
  'BUILDARCH',
  'BUILDVARIANT',
  'TARGETPLATFORM',
  'TARGETOS',
  'TARGETOSVERSION',
  'TARGETARCH',
  'TARGETVARIANT',
  'TARGETSTAGE',
];

export interface PredefinedArgsOptions {
  buildPlatform: Platform;
  targetPlatform: Platform;
  /** The target stage's name ('' when unnamed: TARGETSTAGE is then `default`). */
  target: string;
  buildArgs: ReadonlyMap<string, string>;
}

/** The global scope before the meta ARGs: the platform arguments and TARGETSTAGE, build arguments overriding. */
export function predefinedArgs(o: PredefinedArgsOptions): Map<string, string> {
  const b = o.buildPlatform;
  const t = o.targetPlatform;
  const values: [string, string][] = [
    ['BUILDPLATFORM', formatPlatform(b)],
    ['BUILDOS', b.os],
    ['BUILDOSVERSION', b['os.version'] ?? ''],
    ['BUILDARCH', b.architecture],
    ['BUILDVARIANT', b.variant ?? ''],
    ['TARGETPLATFORM', formatPlatformAll(t)],
    ['TARGETOS', t.os],
    ['TARGETOSVERSION', t['os.version'] ?? ''],
    ['TARGETARCH', t.architecture],
    ['TARGETVARIANT', t.variant ?? ''],
    ['TARGETSTAGE', o.target === '' ? 'default' : o.target],
  ];
  return new Map(values.map(([k, v]) => [k, o.buildArgs.get(k) ?? v]));
}

/**
 * The global scope after the ARGs before the first FROM: each takes its build argument, else its default expanded
 * with the scope so far; one with neither stays unset. Returns the scope and the names the meta ARGs declared.
 */
export function resolveMetaArgs(
  metaArgs: readonly ArgInstruction[],
  predefined: ReadonlyMap<string, string>,
  buildArgs: ReadonlyMap<string, string>,
  escapeToken: string,
): { global: Map<string, string>; declared: Set<string> } {
  const global = new Map(predefined);
  const declared = new Set<string>();
  for (const ins of metaArgs) {
    for (const a of ins.args) {
      declared.add(a.key);
      const given = buildArgs.get(a.key);
      const value =
        given ?? (a.value !== undefined ? processShellWord(a.value, global, { escapeToken }).result : undefined);
      if (value !== undefined) global.set(a.key, value);
      else global.delete(a.key);
    }
  }
  return { global, declared };
}

/** One stage's ARGs: what each resolves to, and what RUN and expansion see. */
export class ArgScope {
  /** Declared so far, in order; undefined for an ARG with no value from anywhere. */
  readonly declared = new Map<string, string | undefined>();
  private readonly global: ReadonlyMap<string, string>;
  private readonly buildArgs: ReadonlyMap<string, string>;

  constructor(global: ReadonlyMap<string, string>, buildArgs: ReadonlyMap<string, string>) {
    this.global = global;
    this.buildArgs = buildArgs;
  }

  /** A copy to declare into, leaving this one as it is. */
  clone(): ArgScope {
    const c = new ArgScope(this.global, this.buildArgs);
    for (const [k, v] of this.declared) c.declared.set(k, v);
    return c;
  }

  /**
   * Declares `ARG key[=default]` (the default already expanded in the stage): the build argument if given, else
   * the default, else the global value of the same name. Returns the value (undefined: unset).
   */
  declare(key: string, defaultValue: string | undefined): string | undefined {
    const value = this.buildArgs.get(key) ?? defaultValue ?? this.global.get(key);
    this.declared.set(key, value);
    return value;
  }

  /** The ARG values RUN and expansion see, in declaration order, then the proxy build arguments. */
  values(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [k, v] of this.declared) if (v !== undefined) out.set(k, v);
    for (const k of PROXY_ARGS) {
      const v = this.buildArgs.get(k);
      if (v !== undefined && !out.has(k)) out.set(k, v);
    }
    return out;
  }

  /** Whether an argument belongs in the history and the cache key: a proxy one only when the stage declared it. */
  isRecorded(key: string): boolean {
    return this.declared.has(key) || !PROXY_ARGS.has(key);
  }
}

/**
 * The variables an instruction's words expand with: the image config's Env, then the ARG values that no ENV of
 * the same name hides.
 */
export function expansionEnv(configEnv: readonly string[], args: ArgScope): Map<string, string> {
  const env = new Map<string, string>();
  for (const e of configEnv) {
    const eq = e.indexOf('=');
    if (eq < 0) env.set(e, '');
    else env.set(e.slice(0, eq), e.slice(eq + 1));
  }
  for (const [k, v] of args.values()) if (!env.has(k)) env.set(k, v);
  return env;
}
