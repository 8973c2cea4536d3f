/**
 * Log drivers as dockerd checks them at create: `json-file` (the default), `local` and `none` are Berth's (conmon
 * writes the log, berthd keeps rotated generations); the other drivers dockerd has (syslog, journald, …) are refused,
 * saying so, rather than accepted and ignored; any other name is dockerd's "error looking up logging plugin". Options
 * are checked as each driver's validator does, with its words. `compress` is taken, but rotated files are kept
 * uncompressed (docker logs reads them the same). Pure.
 */
import type { HostConfig } from '../engine-api/containers.ts';
import { InvalidArgumentError } from '../util/errors.ts';
import { parseSize } from './resources.ts';

/** The log drivers dockerd has built in that Berth does not provide. */
const DOCKER_ONLY = ['syslog', 'journald', 'gelf', 'fluentd', 'awslogs', 'splunk', 'etwlogs', 'gcplogs', 'logentries'];

/** The attributes every file driver takes (labels, env, tag) and the options every driver takes (mode). */
const COMMON = ['labels', 'labels-regex', 'env', 'env-regex', 'tag'];
const FILE_OPTS = new Set(['max-file', 'max-size', 'compress', ...COMMON]);

/** How a container's log is kept. */
export interface LogPolicy {
  driver: 'json-file' | 'local' | 'none';
  /** Bytes after which the log starts a new file (conmon's `--log-size-max`); undefined: no limit. */
  maxSize?: number;
  /** Files kept, the live one included (1: the log starts afresh at `maxSize`). */
  maxFiles: number;
}

/** The `local` driver's defaults, as dockerd's: 20 MB files, five of them. */
const LOCAL_MAX_SIZE = 20 * 1024 * 1024;
const LOCAL_MAX_FILES = 5;

/** Checks `HostConfig.LogConfig` as dockerd does at create (InvalidArgument, dockerd's words) and says how to keep it. */
export function logPolicy(hc: HostConfig): LogPolicy {
  const type = hc.LogConfig?.Type || 'json-file';
  const opts = hc.LogConfig?.Config ?? {};
  if (type === 'none') return { driver: 'none', maxFiles: 1 };
  if (DOCKER_ONLY.includes(type))
    throw new InvalidArgumentError(
      `logging driver "${type}" is not available in Berth: use json-file, local or none (docker logs reads the first two)`,
    );
  if (type !== 'json-file' && type !== 'local')
    throw new InvalidArgumentError(`error looking up logging plugin ${type}: plugin "${type}" not found`);
  const mode = opts.mode ?? '';
  if (mode !== '' && mode !== 'blocking' && mode !== 'non-blocking')
    throw new InvalidArgumentError(`logger: logging mode not supported: ${mode}`);
  if (opts['max-buffer-size'] !== undefined) {
    if (mode !== 'non-blocking')
      throw new InvalidArgumentError("logger: max-buffer-size option is only supported with 'mode=non-blocking'");
    parseSize(opts['max-buffer-size'], 'max-buffer-size');
  }
  for (const key of Object.keys(opts)) {
    if (key === 'mode' || key === 'max-buffer-size' || FILE_OPTS.has(key)) continue;
    throw new InvalidArgumentError(
      type === 'json-file'
        ? `unknown log opt '${key}' for json-file log driver`
        : `unknown log opt '${key}' for log driver local`,
    );
  }
  const local = type === 'local';
  const maxSize = opts['max-size'] !== undefined ? parseSize(opts['max-size']) : local ? LOCAL_MAX_SIZE : undefined;
  if (maxSize !== undefined && maxSize <= 0) throw new InvalidArgumentError('max-size must be a positive number');
  let maxFiles = local ? LOCAL_MAX_FILES : 1;
  if (opts['max-file'] !== undefined) {
    maxFiles = Number(opts['max-file']);
    if (!/^-?\d+$/.test(opts['max-file']))
      throw new InvalidArgumentError(`invalid value for max-file: ${opts['max-file']}`);
    if (maxFiles < 1) throw new InvalidArgumentError('max-file cannot be less than 1');
  }
  // local compresses by default (so one file is refused unless compress=false), json-file does not.
  const compress = parseBool(opts.compress) ?? local;
  if (compress && local && maxFiles <= 1)
    throw new InvalidArgumentError('compression cannot be enabled when max file count is 1');
  if (compress && !local && (maxFiles < 2 || maxSize === undefined))
    throw new InvalidArgumentError('compress cannot be true when max-file is less than 2 or max-size is not set');
  return { driver: type, ...(maxSize !== undefined ? { maxSize } : {}), maxFiles };
}

/** Go's strconv.ParseBool, as the drivers read `compress`; undefined when not given. */
function parseBool(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(v)) return false;
  throw new InvalidArgumentError(`invalid boolean value for compress: ${v}`);
}
