import type { ContainerSummary, EngineClient } from '../client/index.ts';
import * as L from './labels.ts';

/**
 * What every compose operation gets: the engine client, where progress goes, and the abort signal. Progress is a
 * stream of events that only the command line draws (` Container demo-web-1  Started`, as Docker Compose's plain
 * progress writes them).
 */

export interface Reporter {
  /** `kind` is Network, Volume, Container or Image; `status` a word such as Creating, Created, Started. */
  event(kind: string, name: string, status: string, detail?: string): void;
  warn(message: string): void;
}

export interface ComposeContext {
  client: EngineClient;
  reporter: Reporter;
  signal?: AbortSignal | undefined;
}

/** A reporter that keeps events (tests) or drops them. */
export function collectingReporter(into: string[] = []): Reporter & { lines: string[] } {
  return {
    lines: into,
    event: (kind, name, status, detail) => void into.push(`${kind} ${name} ${status}${detail ? ` ${detail}` : ''}`),
    warn: (m) => void into.push(`WARN ${m}`),
  };
}

/**
 * Byte order of two names, as Docker Compose sorts them (Go's string comparison); `localeCompare` would load ICU's
 * collator, ~6 ms of every command's CPU.
 */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A container's name without the leading `/`. */
export function containerName(c: { Names?: string[] | null; Name?: string }): string {
  const n = c.Names?.[0] ?? c.Name ?? '';
  return n.startsWith('/') ? n.slice(1) : n;
}

export function serviceOf(c: ContainerSummary): string {
  return c.Labels?.[L.SERVICE] ?? '';
}

export function numberOf(c: ContainerSummary): number {
  return Number.parseInt(c.Labels?.[L.NUMBER] ?? '', 10) || 0;
}

export function isOneoff(c: ContainerSummary): boolean {
  return c.Labels?.[L.ONEOFF] === 'True';
}

/** The project's containers (all states), service containers or one-off ones or both. */
export async function projectContainers(
  ctx: ComposeContext,
  project: string,
  opts: { oneoff?: 'include' | 'exclude' | 'only'; services?: readonly string[]; all?: boolean } = {},
): Promise<ContainerSummary[]> {
  const list = await ctx.client.containerList({
    all: opts.all ?? true,
    filters: { label: [L.projectFilter(project)] },
    signal: ctx.signal,
  });
  const mode = opts.oneoff ?? 'exclude';
  return list
    .filter((c) => (mode === 'include' ? true : mode === 'only' ? isOneoff(c) : !isOneoff(c)))
    .filter((c) => opts.services === undefined || opts.services.length === 0 || opts.services.includes(serviceOf(c)))
    .sort((a, b) => compareNames(serviceOf(a), serviceOf(b)) || numberOf(a) - numberOf(b));
}
