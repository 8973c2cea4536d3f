import { InvalidArgumentError } from '../util/errors.ts';

export interface DockerfileErrorLocation {
  /** The Dockerfile's name as the user gave it (`Dockerfile`, `sub/Dockerfile.dev`). */
  file: string;
  /** 1-based first line of the instruction, 0 when the error is about the whole file. */
  line: number;
  /** Last line of the instruction (continuations, heredocs), ≥ line. */
  endLine?: number;
  /** The instruction keyword upper-cased (`COPY`), '' when there is none. */
  instruction?: string;
}

/**
 * A Dockerfile that cannot be built as written: a syntax error, an unknown instruction or flag, a bad argument.
 * The message names the file, the line and the instruction, then gives Docker's own text for the fault
 * (`detail`): `dockerfile parse error on line 2 (Dockerfile, COPY): Unknown flag: foo`.
 */
export class DockerfileError extends InvalidArgumentError {
  readonly file: string;
  readonly line: number;
  readonly endLine: number;
  readonly instruction: string;
  /** Docker's message for the fault, without the location. */
  readonly detail: string;

  constructor(detail: string, where: DockerfileErrorLocation, options?: { cause?: unknown }) {
    const instruction = where.instruction ?? '';
    const location = instruction !== '' ? `${where.file}, ${instruction}` : where.file;
    // errors about the whole file (empty, no instructions) name it in their detail
    super(where.line > 0 ? `dockerfile parse error on line ${where.line} (${location}): ${detail}` : detail, options);
    this.file = where.file;
    this.line = where.line;
    this.endLine = Math.max(where.endLine ?? where.line, where.line);
    this.instruction = instruction;
    this.detail = detail;
  }
}
