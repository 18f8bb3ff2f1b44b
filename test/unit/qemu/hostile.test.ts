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

const VALID: Record<string, string> = { name: 'vm1', base: 'b1', size: '1G', target: 'copy1', snapshot: 's1', file: '/tmp/rexx-hostile-state.tar', keep: '1' };

/** Hostile values a rule legitimately accepts (an explicit absolute path is allowed where a parameter says so). */
const LEGIT: Record<string, (v: string) => boolean> = {
  'absolute path': (v) => v === '/etc/passwd',
  'disk name or absolute path': (v) => v === '/etc/passwd',
  'absolute host path': (v) => v === '/etc/passwd',
  // guest agent verbs: a path inside the guest, a host file (file_push source=, file_pull
  // destination=) and an environment entry whose value has commas are real values, sent
  // as one JSON string to the agent or opened by the handler itself (never a shell)
  'path inside the instance': (v) => v === '/etc/passwd',
  'host path': isHostPath,
  'environment entry': (v) => v === 'file=/etc/passwd,if=none',
};

const suite = hostileSuite({
  table,
  tools: ['qemu-img', 'qemu-system-x86_64', 'qemu-io', 'zfs', 'ip', 'socat', 'lz4', 'zstd', 'tar', 'dd'],
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
    for (const k of ['name', 'base', 'disk', 'target', 'backing', 'source', 'kernel', 'initrd', 'snapshot', 'zvol', 'wait', 'network', 'forward', 'iso', 'id', 'file', 'path', 'destination', 'mode', 'cwd', 'env']) expect(keys).toContain(k);
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

describe('QEMU network and device values (fake binary, fake ip)', () => {
  const badNetworks = [
    'bridge:rexxbr0;rm -rf /', 'bridge:rexxbr0 ', 'bridge:', 'bridge:-x', 'bridge:a/b', 'bridge:a:b',
    'bridge:waytoolongbridgename', 'bridge:rexxbr0,script=/tmp/x', 'bridge:..', 'tap', 'user,hostfwd=tcp::22-:22', 'bridge:$(id)',
  ];
  it.each(['create', 'nic_add'])('%s network=<hostile> → RC 2, nothing runs', async (verb) => {
    for (const v of badNetworks) {
      const r = await suite.h(verb, { name: 'vm1', network: v });
      expect(r.errorCode, `network=${v}: ${r.errorMessage}`).toBe(2);
    }
    expect(suite.fake.calls()).toEqual([]);
  });

  it('forward= with a port 0 or 65536, a bad protocol or an extra option → RC 2', async () => {
    for (const v of ['tcp:0:80', 'tcp:65536:80', 'tcp:80:0', 'tcp:80:65536', 'sctp:80:80', 'tcp:80', 'tcp:80:80,hostfwd=tcp::22-:22', 'tcp:80:80:1', 'tcp:-1:80', 'tcp:99999:80']) {
      const r = await suite.h('create', { name: 'vm1', network: 'user', forward: v });
      expect(r.errorCode, `forward=${v}: ${r.errorMessage}`).toBe(2);
    }
    expect(suite.fake.calls()).toEqual([]);
  });

  it('attach_iso iso=, disk_attach disk=, delete_disk disk= with commas, .. or relative paths → RC 2; ids with QEMU separators → RC 2', async () => {
    const bad = ['/tmp/a,b.iso', '/tmp/../etc/shadow', 'rel/x.iso', '/tmp/x.iso,file.driver=nbd', '-cdrom'];
    for (const v of bad) {
      expect((await suite.h('attach_iso', { name: 'vm1', iso: v })).errorCode, v).toBe(2);
      expect((await suite.h('disk_attach', { name: 'vm1', disk: v })).errorCode, v).toBe(2);
      expect((await suite.h('delete_disk', { disk: v })).errorCode, v).toBe(2);
    }
    for (const v of ['a,b', 'A', 'x y', 'nic1;rm', '../a', 'a'.repeat(17)]) {
      expect((await suite.h('nic_add', { name: 'vm1', id: v })).errorCode, v).toBe(2);
      expect((await suite.h('disk_detach', { name: 'vm1', id: v })).errorCode, v).toBe(2);
    }
    expect(suite.fake.calls()).toEqual([]);
  });
});

describe('migrate target= and the saved-state ids (fake binary)', () => {
  it.each([
    'exec:cat', // QEMU would run it through a shell
    'fd:3',
    'unix:relative.sock',
    'unix:/tmp/a,b.sock', // comma: QEMU option separator
    'unix:/tmp/../etc/x',
    'tcp:10.0.0.1:4444', // another host: the incoming QEMU is started here
    'tcp:127.0.0.1:99999',
    'tcp:127.0.0.1:0',
    'ssh:-oProxyCommand=touch /tmp/x',
    'ssh:host;touch /tmp/x',
    'ssh:host $(id)',
    'ssh:user@-oProxyCommand=x',
    'ssh:@host',
    'ssh:host:0',
    'ssh:host:99999',
    'ssh:host:22:33',
    'ssh:us er@host',
    'ssh:host`id`',
    'ssh:',
    `unix:/tmp/${'x'.repeat(120)}`, // longer than a unix socket path can be
  ])('migrate target=%s → RC 2, nothing run', async (v) => {
    const r = await suite.h('migrate', { name: 'vm1', target: v });
    expect(r.errorCode, `${v}: ${r.errorMessage}`).toBe(2);
    expect(suite.fake.calls()).toEqual([]);
  });

  it.each(['save_state', 'restore_state', 'export_state', 'import_state'])('%s snapshot=<a path or ..> → RC 2', async (verb) => {
    for (const v of ['../x', 'a/b', '.hidden', '-x', 'a..b']) {
      const r = await suite.h(verb, { name: 'vm1', snapshot: v, file: '/tmp/rexx-hostile-state.tar' });
      expect(r.errorCode, `${verb} snapshot=${v}: ${r.errorMessage}`).toBe(2);
    }
    expect(suite.fake.calls()).toEqual([]);
  });

  it('save_state compress= outside lz4|zstd|none, and prune_states keep=-1, are RC 2', async () => {
    expect((await suite.h('save_state', { name: 'vm1', compress: 'gzip;id' })).errorCode).toBe(2);
    expect((await suite.h('prune_states', { name: 'vm1', keep: '-1' })).errorCode).toBe(2);
    expect(suite.fake.calls()).toEqual([]);
  });
});
