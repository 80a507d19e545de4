// The exporter's logger: pino, writing either its own JSON lines (the default)
// or logfmt as the Go exporters print it (go-kit/log, promslog):
//   ts=2024-05-01T10:00:00.000Z level=info msg="swarmnet-exporter started" app=swarmnet-exporter tls=false
// logfmt is made from pino's JSON line in the destination, so every pino
// feature (child bindings, serializers, fastify's request logger) behaves the
// same in both formats.
import { type DestinationStream, type Logger, pino } from 'pino';

export const LOG_FORMATS = ['json', 'logfmt'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LoggerOptions {
  level: string;
  format: LogFormat;
  /** where lines go; stdout (synchronous writes) when not given */
  destination?: DestinationStream;
}

const BASE = { app: 'swarmnet-exporter' };

export function createLogger(opts: LoggerOptions): Logger {
  if (opts.format === 'json') {
    return opts.destination ? pino({ level: opts.level, base: BASE }, opts.destination) : pino({ level: opts.level, base: BASE });
  }
  const out = opts.destination ?? pino.destination({ dest: 1, sync: true });
  // level names rather than numbers, as logfmt readers expect "level=info"
  return pino({ level: opts.level, base: BASE, formatters: { level: (label) => ({ level: label }) } }, logfmtStream(out));
}

/** A pino destination that turns each JSON line into a logfmt line written to `out`. */
export function logfmtStream(out: DestinationStream): DestinationStream {
  return {
    write(chunk: string) {
      for (const line of chunk.split('\n')) {
        if (line === '') continue;
        let record: Record<string, unknown>;
        try {
          record = JSON.parse(line) as Record<string, unknown>;
        } catch {
          out.write(`${line}\n`); // not pino's JSON: pass it through rather than lose it
          continue;
        }
        out.write(`${logfmtLine(record)}\n`);
      }
    },
  };
}

/** One pino record as logfmt: ts, level and msg first, then the other fields in order, nested objects as dotted keys. */
export function logfmtLine(record: Record<string, unknown>): string {
  const { time, level, msg, ...rest } = record;
  const pairs: string[] = [];
  if (time !== undefined) pairs.push(`ts=${typeof time === 'number' ? new Date(time).toISOString() : logfmtValue(time)}`);
  if (level !== undefined) pairs.push(`level=${logfmtValue(level)}`);
  if (msg !== undefined) pairs.push(`msg=${logfmtValue(msg)}`);
  const add = (prefix: string, obj: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(obj)) {
      if (v === undefined) continue;
      const key = prefix + logfmtKey(k);
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) add(`${key}.`, v as Record<string, unknown>);
      else pairs.push(`${key}=${logfmtValue(v)}`);
    }
  };
  add('', rest);
  return pairs.join(' ');
}

/** Keys cannot hold spaces, '=' or quotes: those become '_'. */
function logfmtKey(k: string): string {
  const clean = k.replace(/[\u0000-\u0020="\u007f]/g, '_');
  return clean === '' ? '_' : clean;
}

/**
 * A value, quoted (with JSON escapes: \" \\ \n ...) when it is empty or holds
 * a space, control character, '=' or '"', as go-logfmt does. Arrays are
 * written as JSON text.
 */
export function logfmtValue(v: unknown): string {
  const s = typeof v === 'string' ? v : v === null ? 'null' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return s === '' || /[\u0000-\u0020="\u007f]/.test(s) ? JSON.stringify(s) : s;
}
