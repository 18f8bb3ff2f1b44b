/**
 * Hostile values in every name-like parameter (every string/list param with a `rule`)
 * of every QEMU verb → RC 2, with fake qemu-img / qemu-system-x86_64 / qemu-io / zfs on
 * PATH proving nothing ran and CANARY proving no shell evaluated anything. Plus the
 * QEMU-specific hostile paths: commas (QEMU option separators), `-drive` injection,
 * relative paths and `..`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler, type AddressHandler } from '../../../shared/dispatch';
import type { ParamSpec } from '../../../shared/params';
import { table } from '../../../handlers/qemu';
import { fakeBin, type FakeBin } from '../../helpers/fakebin';
import { CANARY, HOSTILE } from '../../helpers/hostile';

const VALID: Record<string, string> = { name: 'vm1', base: 'b1', size: '1G', target: 'copy1', snapshot: 's1' };

/** Hostile values a rule legitimately accepts (an explicit absolute path is allowed where a parameter says so). */
const LEGIT: Record<string, (v: string) => boolean> = {
  'absolute path': (v) => v === '/etc/passwd',
  'disk name or absolute path': (v) => v === '/etc/passwd',
};

interface Case { verb: string; key: string; spec: ParamSpec }
const CASES: Case[] = table.verbs.flatMap((v) =>
  Object.entries(v.params as Record<string, ParamSpec>)
    .filter(([, s]) => (s.type === 'string' || s.type === 'list') && s.rule)
    .map(([key, spec]) => ({ verb: v.name, key, spec })),
);

function command(c: Case, value: string): [string, Record<string, string>] {
  const verb = table.verbs.find((v) => v.name === c.verb)!;
  const args: Record<string, string> = {};
  for (const [k, s] of Object.entries(verb.params as Record<string, ParamSpec>)) if (s.required) args[k] = VALID[k]!;
  args[c.key] = value;
  return [c.verb, args];
}

let fake: FakeBin;
let h: AddressHandler;
let dir: string;
beforeAll(() => {
  fs.rmSync(CANARY, { force: true });
  fake = fakeBin({ 'qemu-img': {}, 'qemu-system-x86_64': {}, 'qemu-io': {}, zfs: {} });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-qemu-hostile-'));
  h = createHandler(table, { env: { ...fake.env, REXX_QEMU_DIR: dir } });
});
afterAll(() => {
  fake.cleanup();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('hostile values in every name-like parameter → RC 2, nothing ran', () => {
  it('covers the parameters it should', () => {
    const keys = new Set(CASES.map((c) => c.key));
    for (const k of ['name', 'base', 'disk', 'target', 'backing', 'source', 'kernel', 'initrd', 'snapshot', 'zvol', 'wait']) expect(keys).toContain(k);
  });

  it.each(CASES.map((c) => [c.verb, c.key, c] as const))('%s %s=<hostile> (fake binary)', async (_v, _k, c) => {
    for (const value of HOSTILE) {
      if (LEGIT[c.spec.rule!.label]?.(value)) continue;
      const [verb, args] = command(c, value);
      const r = await h(verb, args);
      expect(r.errorCode, `${verb} ${c.key}=${JSON.stringify(value)}: ${r.errorMessage}`).toBe(2);
    }
    expect(fake.calls()).toEqual([]);
    expect(fs.existsSync(CANARY)).toBe(false);
  });
});

describe('QEMU path rules (fake binary)', () => {
  const bad = [
    '/tmp/a,b.qcow2', // comma: QEMU would split the option there
    '/tmp/x.qcow2,file=/etc/shadow', // option injection through file=
    '/tmp/x,if=none,id=d0 -drive file=/etc/passwd', // -drive injection
    'relative/disk.qcow2', // not absolute
    '/tmp/../etc/passwd', // .. segment
    '/tmp/./x', // . segment
    '-drive', // an option
    '/tmp/x\n-drive', // newline
  ];
  it.each(['disk', 'kernel', 'initrd'])('create %s=<bad path> → RC 2', async (key) => {
    for (const v of bad) {
      const r = await h('create', { name: 'vm1', [key]: v });
      expect(r.errorCode, `${key}=${v}: ${r.errorMessage}`).toBe(2);
    }
    expect(fake.calls()).toEqual([]);
  });

  it('a disk name with a comma or slash is refused, both as name= and disk=', async () => {
    for (const v of ['a,b', 'a/b', '../a', 'x,readonly=off']) {
      expect((await h(`info name='${v}'`)).errorCode).toBe(2);
      expect((await h(`create name=vm1 disk='${v}'`)).errorCode).toBe(2);
    }
  });

  it('a state directory with a comma is refused (RC 2) before anything runs', async () => {
    const h2 = createHandler(table, { env: { ...fake.env, REXX_QEMU_DIR: '/tmp/a,b' } });
    const r = await h2('create_disk name=d1 size=1M');
    expect(r.errorCode).toBe(2);
    expect(r.errorMessage).toMatch(/REXX_QEMU_DIR/);
    expect(fake.calls()).toEqual([]);
  });
});
