/**
 * Sizes as the tools write them (`16k`, `3.97G`, `512M`, `512MiB`, `2GB`, `1024`): one
 * table of binary units (K = 1024), as zfs prints and qemu-img reads them.
 */
import { usageError } from './errors';

const UNITS: Record<string, number> = { '': 1, B: 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40, P: 2 ** 50, E: 2 ** 60 };
const SIZE = /^(\d+(?:\.\d+)?)\s*([KMGTPE]?)(?:i?B)?$/i;

/** Bytes of a size as a tool printed it; NaN when it is not a size. A bare number is bytes. */
export function parseSize(v: string): number {
  const m = SIZE.exec(v.trim());
  if (!m) return Number.NaN;
  return Math.round(Number(m[1]) * UNITS[m[2]!.toUpperCase()]!);
}

/**
 * A size a user gave, in bytes: `defaultUnit` ('M') applies to a bare number; RC 2
 * (usage) when malformed, zero or not a safe integer.
 */
export function toBytes(v: string, defaultUnit = ''): number {
  const m = SIZE.exec(v.trim());
  if (!m) throw usageError(`size ${JSON.stringify(v)}: expected a number with an optional unit (512M, 2G)`);
  const unit = (m[2] || (/B$/i.test(v) ? 'B' : defaultUnit)).toUpperCase();
  const n = Math.round(Number(m[1]) * UNITS[unit]!);
  if (!Number.isSafeInteger(n) || n <= 0) throw usageError(`size ${JSON.stringify(v)} is out of range`);
  return n;
}
