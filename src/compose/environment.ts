import { readFileSync } from 'node:fs';
import { DotenvError, parseDotenv } from './dotenv.ts';
import { ComposeFileError } from './errors.ts';
import type { Lookup } from './interpolate.ts';
import type { Service } from './model.ts';
import type { Positions } from './source.ts';

/**
 * A service's final environment: its `env_file`s in order, then `environment` over them; a variable written
 * without a value (`- DEBUG`) takes the value it has where compose runs, and stays unset (null) otherwise.
 * Build args without a value are resolved the same way. `env_file` is then empty: its contents are in.
 */
export function resolveEnvironment(s: Service, lookup: Lookup, positions: Positions): void {
  const env: Record<string, string | null> = {};
  for (const [i, f] of s.env_file.entries()) {
    let text: string;
    try {
      text = readFileSync(f.path, 'utf8');
    } catch (err) {
      if (!f.required && (err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      const code = (err as NodeJS.ErrnoException).code;
      const what = code === 'ENOENT' ? 'not found' : `cannot be read: ${(err as Error).message}`;
      throw positions.error(['services', s.name, 'env_file', i], `env file ${f.path} ${what}`);
    }
    try {
      for (const [k, v] of parseDotenv(text, lookup)) env[k] = v;
    } catch (err) {
      if (err instanceof DotenvError)
        throw new ComposeFileError({ file: f.path, line: err.line, column: 1 }, '', err.message);
      throw err;
    }
  }
  for (const [k, v] of Object.entries(s.environment)) env[k] = v ?? lookup(k) ?? null;
  s.environment = env;
  s.env_file = [];
  if (s.build !== undefined) {
    for (const [k, v] of Object.entries(s.build.args)) if (v === null) s.build.args[k] = lookup(k) ?? null;
  }
}
