/**
 * Hostile values in every name-like parameter (every string/list param with a `rule`)
 * of every QEMU verb → RC 2, with fake qemu-img / qemu-system-x86_64 / qemu-io / zfs on
 * PATH proving nothing ran and CANARY proving no shell evaluated anything
 * (test/helpers/hostile-suite.ts). Plus the QEMU-specific hostile paths: commas (QEMU
 * option separators), `-drive` injection, relative paths and `..`.
 */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/qemu';
import { hostileSuite, isHostPath } from '../../helpers/hostile-suite';

const VALID: Record<string, string> = { name: 'vm1', base: 'b1', size: '1G', target: 'copy1', snapshot: 's1' };

/** Hostile values a rule legitimately accepts (an explicit absolute path is allowed where a parameter says so). */
const LEGIT: Record<string, (v: string) => boolean> = {
  'absolute path': (v) => v === '/etc/passwd',
  'disk name or absolute path': (v) => v === '/etc/passwd',
  // guest agent verbs: a path inside the guest, a host file (file_push source=, file_pull
  // destination=) and an environment entry whose value has commas are real values, sent
  // as one JSON string to the agent or opened by the handler itself (never a shell)
  'path inside the instance': (v) => v === '/etc/passwd',
  'host path': isHostPath,
  'environment entry': (v) => v === 'file=/etc/passwd,if=none',
};

const suite = hostileSuite({
  table,
  tools: ['qemu-img', 'qemu-system-x86_64', 'qemu-io', 'zfs'],
  env: (fake) => {
    const dir = `${fake.dir}/qemu-state`;
    fs.mkdirSync(dir);
    return { REXX_QEMU_DIR: dir };
  },
  valid: VALID,
  legit: LEGIT,
});

describe('the name-like parameters of the QEMU table', () => {
  it('covers the parameters it should', () => {
    const keys = new Set(suite.cases.map((c) => c.key));
    for (const k of ['name', 'base', 'disk', 'target', 'backing', 'source', 'kernel', 'initrd', 'snapshot', 'zvol', 'wait', 'path', 'destination', 'mode', 'cwd', 'env']) expect(keys).toContain(k);
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
      const r = await suite.h('create', { name: 'vm1', [key]: v });
      expect(r.errorCode, `${key}=${v}: ${r.errorMessage}`).toBe(2);
    }
    expect(suite.fake.calls()).toEqual([]);
  });

  it('a disk name with a comma or slash is refused, both as name= and disk=', async () => {
    for (const v of ['a,b', 'a/b', '../a', 'x,readonly=off']) {
      expect((await suite.h(`info name='${v}'`)).errorCode).toBe(2);
      expect((await suite.h(`create name=vm1 disk='${v}'`)).errorCode).toBe(2);
    }
  });

  it('a state directory with a comma is refused (RC 2) before anything runs', async () => {
    const h2 = createHandler(table, { env: { ...suite.fake.env, REXX_QEMU_DIR: '/tmp/a,b' } });
    const r = await h2('create_disk name=d1 size=1M');
    expect(r.errorCode).toBe(2);
    expect(r.errorMessage).toMatch(/REXX_QEMU_DIR/);
    expect(suite.fake.calls()).toEqual([]);
  });
});
