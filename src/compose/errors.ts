import { InvalidArgumentError } from '../util/errors.ts';

/**
 * Errors in a compose file name the file, the line (and column) and the key, e.g.
 * `/srv/app/compose.yaml:7:5: services.web.ports.0: invalid port "80800"`.
 */

/** Where a key or value was written. */
export interface SourcePos {
  file: string;
  line: number;
  column: number;
}

/** A path into the document: keys and sequence indexes, as ajv's instancePath segments. */
export type KeyPath = readonly (string | number)[];

/** `services.web.ports.0` */
export function dotted(path: KeyPath): string {
  return path.join('.');
}

export class ComposeFileError extends InvalidArgumentError {
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly key: string;
  readonly reason: string;
  constructor(
    pos: SourcePos | { file: string } | undefined,
    key: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    const where = pos === undefined ? '' : 'line' in pos ? `${pos.file}:${pos.line}:${pos.column}: ` : `${pos.file}: `;
    super(`${where}${key === '' ? '' : `${key}: `}${reason}`, options);
    this.file = pos?.file;
    this.line = pos !== undefined && 'line' in pos ? pos.line : undefined;
    this.key = key;
    this.reason = reason;
  }
}

/** A project that loads but cannot run as written (a cycle, an unknown service), Docker Compose's wording. */
export class InvalidProjectError extends InvalidArgumentError {}
