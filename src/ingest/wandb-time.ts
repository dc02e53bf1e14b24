/**
 * Times in W&B exports, kept to the microsecond. W&B stamps history rows with epoch seconds that
 * carry microseconds (`_timestamp: 1757941200.123456`) and dr_wandb writes them as Parquet
 * timestamps or ISO text with six fraction digits; a JS `Date` would cut them to milliseconds, so
 * a time is carried as epoch microseconds and written to the lake as ISO text (which the lake's
 * TIMESTAMP WITH TIME ZONE columns take to the microsecond).
 *
 * A time without a zone (a naive Parquet `timestamp`, ISO text without an offset) is marked
 * `naive`: what it means depends on who wrote it (W&B's `createdAt` is UTC; dr_wandb's 2025-09
 * history `timestamp` is the exporting machine's local time).
 */

/** An export's time: epoch microseconds, and whether the source gave a zone. */
export class WandbTime {
  /**
   * @example
   * ```ts
   * new WandbTime(1757941200123456n, false).toIso(); // '2025-09-15T13:00:00.123456Z'
   * ```
   */
  constructor(
    /** Microseconds since 1970-01-01T00:00:00Z (for a naive time: as if its wall clock were UTC). */
    readonly micros: bigint,
    /** True when the source had no zone or offset. */
    readonly naive: boolean,
  ) {}

  /**
   * Whether the time lies in the range a JS `Date` (and so {@link toIso}) can spell: ±8.64e15 ms
   * around 1970, years −271821 to 275760. A Parquet timestamp or epoch number outside it is refused.
   *
   * @example
   * ```ts
   * new WandbTime(10n ** 20n, false).representable; // false
   * ```
   */
  get representable(): boolean {
    return this.micros >= -MAX_MICROS && this.micros <= MAX_MICROS;
  }

  /**
   * ISO-8601 text in UTC with six fraction digits (check {@link representable} first).
   *
   * @example
   * ```ts
   * new WandbTime(0n, false).toIso(); // '1970-01-01T00:00:00.000000Z'
   * ```
   */
  toIso(): string {
    const millis = floorDiv(this.micros, 1000n);
    const extra = this.micros - millis * 1000n;
    const base = new Date(Number(millis)).toISOString(); // …ss.mmmZ
    return `${base.slice(0, -1)}${extra.toString().padStart(3, '0')}Z`;
  }

  /**
   * The same wall-clock time read in an IANA time zone (`America/New_York`): a naive time becomes
   * the instant it names there. A time that has a zone is returned as it is.
   *
   * @example
   * ```ts
   * new WandbTime(1757926800000000n, true).inZone('America/New_York').toIso(); // '2025-09-15T13:00:00.000000Z'
   * ```
   */
  inZone(zone: string): WandbTime {
    if (!this.naive) return this;
    const wallMillis = Number(floorDiv(this.micros, 1000n));
    const rest = this.micros - BigInt(wallMillis) * 1000n;
    // The zone's offset at the instant, found in two steps so that a time near a DST change
    // takes the offset that holds at the instant itself.
    let utc = wallMillis - zoneOffsetMillis(zone, wallMillis);
    const second = zoneOffsetMillis(zone, utc);
    utc = wallMillis - second;
    return new WandbTime(BigInt(utc) * 1000n + rest, false);
  }
}

// 8.64e15 ms, the JS Date limit, less a day of slack for a zone shift.
const MAX_MICROS = 8_640_000_000_000_000_000n - 86_400_000_000n;

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/**
 * Whether `zone` is an IANA time zone this runtime knows (`Europe/Berlin`, `UTC`).
 *
 * @example
 * ```ts
 * isTimeZone('America/New_York'); // true
 * isTimeZone('Mars/Olympus'); // false
 * ```
 */
export function isTimeZone(zone: string): boolean {
  try {
    formatter(zone);
    return true;
  } catch {
    return false;
  }
}

function formatter(zone: string): Intl.DateTimeFormat {
  let found = formatters.get(zone);
  if (!found) {
    found = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(zone, found);
  }
  return found;
}

// How far the zone's wall clock is ahead of UTC at an instant.
function zoneOffsetMillis(zone: string, utcMillis: number): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(zone).formatToParts(new Date(utcMillis))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  const wall = Date.UTC(
    parts.year ?? 1970,
    (parts.month ?? 1) - 1,
    parts.day ?? 1,
    parts.hour ?? 0,
    parts.minute ?? 0,
    parts.second ?? 0,
  );
  const whole = utcMillis - (((utcMillis % 1000) + 1000) % 1000);
  return wall - whole;
}

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * Reads ISO-8601 text (`2025-09-15T13:00:00.123456+00:00`, `2025-09-15 09:00:00.123456`) to the
 * microsecond; `undefined` when it is not such text. Without `Z` or an offset the time is naive.
 *
 * @example
 * ```ts
 * parseIsoTime('2025-09-15T13:00:00.123456Z')?.micros; // 1757941200123456n
 * ```
 */
export function parseIsoTime(text: string): WandbTime | undefined {
  const m = ISO.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', fraction = '', zone] = m;
  const millis = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(millis) || Number(mo) > 12 || Number(d) > 31 || Number(h) > 24 || Number(mi) > 59)
    return undefined;
  let micros = BigInt(millis) * 1000n + BigInt(fraction.slice(0, 6).padEnd(6, '0'));
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1n : 1n;
    const digits = zone.slice(1).replace(':', '');
    const offsetMinutes = BigInt(Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0'));
    micros -= sign * offsetMinutes * 60_000_000n;
  }
  return new WandbTime(micros, zone === undefined);
}

/**
 * Epoch seconds (W&B's `_timestamp`) as a time, rounded to the microsecond; `undefined` for a
 * non-finite number.
 *
 * @example
 * ```ts
 * epochSecondsTime(1757941200.123456)?.toIso(); // '2025-09-15T13:00:00.123456Z'
 * ```
 */
export function epochSecondsTime(seconds: number): WandbTime | undefined {
  if (!Number.isFinite(seconds)) return undefined;
  const whole = Math.floor(seconds);
  const micros = Math.round((seconds - whole) * 1e6);
  return new WandbTime(BigInt(whole) * 1_000_000n + BigInt(micros), false);
}
