import type { ServerResponse } from 'node:http';
import type { Request } from './http.ts';

export type Handler = (req: Request, res: ServerResponse) => Promise<void> | void;

interface Route {
  method: string;
  re: RegExp;
  names: string[];
  handler: Handler;
}

/**
 * Method + path routing. Patterns use `{name}` for one segment and `{name*}` for any number of segments (image
 * names contain slashes: `/images/{name*}/json`). `{name*}` also matches nothing, so that an empty name reaches
 * the handler, which rejects it as Docker does ("invalid reference format") rather than as an unknown path.
 * Routes are tried in the order they were added.
 */
export class Router {
  readonly #routes: Route[] = [];

  add(method: string, pattern: string, handler: Handler): this {
    const names: string[] = [];
    const src = pattern
      .replace(/[.+?^$()[\]\\|]/g, '\\$&')
      .replace(/\{(\w+)(\*?)\}/g, (_m, name: string, star: string) => {
        names.push(name);
        return star ? '(.*)' : '([^/]+)';
      });
    this.#routes.push({ method, re: new RegExp(`^${src}$`), names, handler });
    return this;
  }

  /** The handler and path parameters for a request, or 'method' when only the method is wrong, or undefined. */
  match(method: string, path: string): { handler: Handler; params: Record<string, string> } | 'method' | undefined {
    let pathMatched = false;
    for (const r of this.#routes) {
      const m = r.re.exec(path);
      if (!m) continue;
      if (r.method !== method && !(method === 'HEAD' && r.method === 'GET')) {
        pathMatched = true;
        continue;
      }
      const params: Record<string, string> = {};
      r.names.forEach((n, i) => {
        params[n] = decodeURIComponent(m[i + 1]!);
      });
      return { handler: r.handler, params };
    }
    return pathMatched ? 'method' : undefined;
  }
}
