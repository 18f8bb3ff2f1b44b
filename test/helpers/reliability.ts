/**
 * Counts for the reliability suite (test/reliability/): each check records how many
 * attempts it made and how many held (gave the promised outcome), in
 * `.cache/reliability.jsonl`; `scripts/test.sh` prints the table at the end of
 * `npm test`, so the figures land in CI logs and closing notes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const FILE = path.join(__dirname, '..', '..', '.cache', 'reliability.jsonl');

/** Record one check: `tried` attempts, `held` of them as promised. */
export function recordCounts(check: string, tried: number, held: number): void {
  fs.mkdirSync(path.dirname(FILE), { recursive: true });
  fs.appendFileSync(FILE, `${JSON.stringify({ check, tried, held })}\n`);
}
