/**
 * Human units and time formats exactly as the docker CLI prints them (docker/go-units v0.5.0 and Go's
 * fmt/time formatting), so tables match docker's byte for byte.
 */

const DECIMAL_ABBRS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
const BINARY_ABBRS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

/** Go's `fmt.Sprintf("%.<precision>g", x)` for finite x: exponent form when exp < -4 or exp >= precision. */
export function formatG(x: number, precision: number): string {
  if (x === 0) return '0';
  const p = Math.max(precision, 1);
  const e = x.toExponential(p - 1); // rounded to p significant digits
  const at = e.indexOf('e');
  const exp = Number(e.slice(at + 1));
  if (exp < -4 || exp >= p) {
    const mantissa = stripFraction(e.slice(0, at));
    const sign = exp < 0 ? '-' : '+';
    return `${mantissa}e${sign}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return stripFraction(x.toFixed(Math.max(p - 1 - exp, 0)));
}

function stripFraction(s: string): string {
  if (!s.includes('.')) return s;
  return s.replace(/\.?0+$/, '');
}

function sizeAndUnit(size: number, base: number, abbrs: string[]): [number, string] {
  let i = 0;
  while (size >= base && i < abbrs.length - 1) {
    size /= base;
    i++;
  }
  return [size, abbrs[i] ?? ''];
}

/** go-units `HumanSizeWithPrecision`: decimal units, e.g. `1.98MB` at precision 3. */
export function humanSizeWithPrecision(size: number, precision: number): string {
  const [v, unit] = sizeAndUnit(size, 1000, DECIMAL_ABBRS);
  return formatG(v, precision) + unit;
}

/** go-units `HumanSize`: four significant digits, e.g. `3.965MB`. */
export function humanSize(size: number): string {
  return humanSizeWithPrecision(size, 4);
}

/** go-units `BytesSize`: binary units, e.g. `7.763GiB`. */
export function bytesSize(size: number): string {
  const [v, unit] = sizeAndUnit(size, 1024, BINARY_ABBRS);
  return formatG(v, 4) + unit;
}

/** go-units `HumanDuration` of a duration in milliseconds ("About a minute", "2 hours"). */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(ms / 3_600_000) / 24 / 365)} years`;
}

/** "2 hours ago" for a Unix time in seconds, as docker's CreatedSince columns. */
export function timeAgo(unixSeconds: number, nowMs: number = Date.now()): string {
  return `${humanDuration(nowMs - unixSeconds * 1000)} ago`;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

function offsetText(date: Date, colon: boolean, zulu: boolean): string {
  const off = -date.getTimezoneOffset();
  if (off === 0 && zulu) return 'Z';
  const sign = off < 0 ? '-' : '+';
  const abs = Math.abs(off);
  return `${sign}${pad(Math.trunc(abs / 60))}${colon ? ':' : ''}${pad(abs % 60)}`;
}

function dateParts(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function clockParts(d: Date): string {
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Go's `time.RFC3339` in local time: `2024-05-01T10:00:00Z` or `…+02:00`. */
export function formatRFC3339(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  return `${dateParts(d)}T${clockParts(d)}${offsetText(d, true, true)}`;
}

/** Go's `RFC3339NanoFixed` (`2006-01-02T15:04:05.000000000Z07:00`) for a time in nanoseconds. */
export function formatRFC3339NanoFixed(unixNanos: bigint): string {
  const seconds = unixNanos / 1_000_000_000n;
  const nanos = unixNanos % 1_000_000_000n;
  const d = new Date(Number(seconds) * 1000);
  return `${dateParts(d)}T${clockParts(d)}.${nanos.toString().padStart(9, '0')}${offsetText(d, true, true)}`;
}

/** Go's `time.Time.String()` for a Unix time in seconds: `2024-05-01 10:00:00 +0000 UTC`. */
export function formatGoTime(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  return `${dateParts(d)} ${clockParts(d)} ${offsetText(d, false, false)} ${zoneName(d)}`;
}

function zoneName(d: Date): string {
  if (d.getTimezoneOffset() === 0 && (process.env.TZ === undefined || /^(UTC|Etc\/UTC|)$/.test(process.env.TZ ?? ''))) {
    return 'UTC';
  }
  const part = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' })
    .formatToParts(d)
    .find((p) => p.type === 'timeZoneName');
  return part?.value ?? offsetText(d, false, false);
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * docker's `reformatDate`: an RFC 3339 time becomes Go's `time.ANSIC` (`Mon Jan _2 15:04:05 2006`),
 * in the time's own offset; anything else is returned unchanged.
 */
export function reformatDate(text: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.exec(text);
  if (m === null) return text;
  const [, y, mo, da, h, mi, s] = m;
  const utc = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(da)));
  if (Number.isNaN(utc.getTime())) return text;
  const day = DAYS[utc.getUTCDay()] ?? '';
  const month = MONTHS[utc.getUTCMonth()] ?? '';
  return `${day} ${month} ${String(Number(da)).padStart(2, ' ')} ${h}:${mi}:${s} ${y}`;
}

/** Go's `time.Duration.String()` for a whole number of seconds (`1m30s`, `0s`). */
export function goDurationSeconds(totalSeconds: number): string {
  let s = Math.round(totalSeconds);
  if (s === 0) return '0s';
  const neg = s < 0;
  s = Math.abs(s);
  const h = Math.trunc(s / 3600);
  const m = Math.trunc((s % 3600) / 60);
  const sec = s % 60;
  let out = '';
  if (h > 0) out += `${h}h`;
  if (h > 0 || m > 0) out += `${m}m`;
  out += `${sec}s`;
  return (neg ? '-' : '') + out;
}
