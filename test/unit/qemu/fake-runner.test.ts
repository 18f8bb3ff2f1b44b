/**
 * QEMU verbs driven by an injected fake runner (test/helpers/fake-runner.ts) instead of
 * fake binaries on PATH: the argv each verb runs, and failures the fake gives classified
 * by handlers/qemu/errors.ts. Nothing runs; PATH names no folder.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHandler } from '../../../shared/dispatch';
import { table } from '../../../handlers/qemu';
import { fakeRunner, type FakeReply } from '../../helpers/fake-runner';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-qemu-fake-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const img = (n: string, ext = 'qcow2') => path.join(dir, 'images', `${n}.${ext}`);
const handler = (reply?: (argv: string[]) => FakeReply | undefined) => {
  const f = fakeRunner(reply);
  const h = createHandler(table, { env: { PATH: '/nonexistent', REXX_QEMU_DIR: dir, REXX_QEMU_PATHS: '/bin', REXX_ADDRESS_STRICT_VARS: '1' }, runner: f.runner });
  return { h, calls: f.calls };
};
const touch = (f: string) => {
  fs.mkdirSync(path.dirname(f), { recursive: true });
  fs.writeFileSync(f, '');
};

describe('QEMU verbs with an injected runner (fake runner)', () => {
  it('create_disk runs the one qemu-img create it builds, on the file it reserved (fake runner)', async () => {
    const { h, calls } = handler();
    const r = await h('create_disk name=d1 size=1M');
    expect(r.errorCode, r.errorMessage).toBe(0);
    expect(calls).toEqual([['qemu-img', 'create', '-q', '-f', 'qcow2', img('d1'), '1048576']]);
    expect(fs.existsSync(img('d1'))).toBe(true);
    expect(r.rexxVariables).toMatchObject({ DISK: img('d1'), FORMAT: 'qcow2', VIRTUAL_SIZE: 1048576 });
  });

  it('an image another QEMU holds is busy: RC 7, and a failed create gives its reservation back (fake runner)', async () => {
    const locked = () => ({ exitCode: 1, stderr: 'qemu-img: Could not open \'x\': Failed to get "write" lock\nIs another process using the image [x]?' });
    const { h, calls } = handler(locked);
    touch(img('d1'));
    const r = await h('resize name=d1 size=2G');
    expect(r.errorCode).toBe(7);
    expect(calls).toEqual([['qemu-img', 'resize', '-q', '-f', 'qcow2', img('d1'), '2147483648']]);
    const c = await h('create_disk name=d2 size=1M');
    expect(c.errorCode).toBe(7);
    expect(fs.existsSync(img('d2'))).toBe(false);
  });

  it('clone_from_base with qemu-img failing leaves no VM and no disk behind (fake runner)', async () => {
    const { h, calls } = handler(() => ({ exitCode: 1, stderr: "qemu-img: Could not open '/x': No such file or directory" }));
    touch(img('b1'));
    fs.writeFileSync(path.join(dir, 'images', 'b1.base.json'), JSON.stringify({ name: 'b1', kind: 'qcow2', source: img('b1'), virtualSize: 1, checksum: '', created: '', description: '' }));
    const r = await h('clone_from_base base=b1 name=web kernel=/bin/sh');
    expect(r.errorCode).toBe(3);
    expect(calls).toEqual([['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', img('b1'), img('web')]]);
    expect(fs.existsSync(path.join(dir, 'vms', 'web'))).toBe(false);
    expect(fs.existsSync(img('web'))).toBe(false);
  });
});
