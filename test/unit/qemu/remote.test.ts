/**
 * migrate target=ssh: (handlers/qemu/remote.ts), its argv with a fake runner: the ssh
 * options come before HOST, the master connection forwards both sockets, and the remote
 * command is each word quoted so that the remote shell reads back exactly our words
 * (checked with `sh -c` printing its arguments), even a hostile kernel command line.
 */
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import type { RunResult } from '../../../shared/runner';
import type { Ctx } from '../../../shared/verb';
import { closeSsh, openSsh, parseSshTarget, runOnPeer, sshTarget } from '../../../handlers/qemu/remote';

function fakeCtx(result: Partial<RunResult> = {}) {
  const calls: string[][] = [];
  const ctx = {
    run: async (argv: string[]) => {
      calls.push(argv);
      return { argv, ok: true, exitCode: 0, signal: null, timedOut: false, missing: false, stdout: '', stderr: '', durationMs: 1, ...result } satisfies RunResult;
    },
  } as unknown as Ctx;
  return { ctx, calls };
}
const peer = { dest: 'root@host2', port: 2222, config: '/etc/rexx/ssh_config', control: '/s/vms/vm1/ssh.ctl' };

describe('migrate over ssh (fake runner)', () => {
  it('ssh:[user@]HOST[:PORT] splits into the destination and port; the rule takes aliases and refuses options, shell characters and bad ports', () => {
    expect(parseSshTarget('ssh:root@host2:2222')).toEqual({ dest: 'root@host2', port: 2222 });
    expect(parseSshTarget('ssh:rexx-peer')).toEqual({ dest: 'rexx-peer', port: undefined });
    for (const ok of ['ssh:host', 'ssh:u_1@h.example.org', 'ssh:10.0.0.2:22', 'ssh:rexx-peer']) expect(sshTarget.check(ok), ok).toBeUndefined();
    for (const bad of ['ssh:-oProxyCommand=x', 'ssh:h;id', 'ssh:h:0', 'ssh:h:70000', 'ssh:[::1]', 'ssh:a@b@c', 'ssh:h:1:2', 'ssh:']) expect(sshTarget.check(bad), bad).toBeDefined();
  });

  it('the master: BatchMode, -F, -p, ControlPath before HOST; both forwards; -f -N; HOST last', async () => {
    const { ctx, calls } = fakeCtx();
    await openSsh(ctx, peer, [['/s/vms/vm1/fwd-qmp.sock', '/s/vms/vm1/qmp.sock.1'], ['/s/vms/vm1/fwd-migrate.sock', '/s/vms/vm1/migrate.sock.1']], 30_000);
    const a = calls[0]!;
    expect(a.slice(0, 9)).toEqual(['ssh', '-o', 'BatchMode=yes', '-F', '/etc/rexx/ssh_config', '-p', '2222', '-o', 'ControlPath=/s/vms/vm1/ssh.ctl']);
    expect(a).toContain('ControlMaster=yes');
    expect(a).toContain('ExitOnForwardFailure=yes');
    expect(a.join(' ')).toContain('-L /s/vms/vm1/fwd-qmp.sock:/s/vms/vm1/qmp.sock.1 -L /s/vms/vm1/fwd-migrate.sock:/s/vms/vm1/migrate.sock.1');
    expect(a.slice(-3)).toEqual(['-f', '-N', 'root@host2']);
    await closeSsh(ctx, peer);
    expect(calls[1]!.slice(-3)).toEqual(['-O', 'exit', 'root@host2']);
  });

  it('a master that fails is asked again in the foreground for ssh\'s reason: Permission denied is RC 6', async () => {
    const { ctx } = fakeCtx({ ok: false, exitCode: 255, stderr: 'root@host2: Permission denied (publickey).' });
    await expect(openSsh(ctx, peer, [], 5_000)).rejects.toMatchObject({ kind: expect.anything(), reason: 'unavailable' });
  });

  it('the remote command: each word quoted, joined with &&; the remote shell reads back exactly the words', async () => {
    const { ctx, calls } = fakeCtx();
    const qemu = ['qemu-system-x86_64', '-append', 'console=ttyS0 $(touch /tmp/x) `id` ; rm -rf / \'q\' "d"', '-qmp', 'unix:/s/vms/vm1/qmp.sock.1,server=on,wait=off'];
    await runOnPeer(ctx, peer, [['mkdir', '-p', '--', '/s/vms/vm1'], qemu], 60_000, 'starting');
    const a = calls[0]!;
    expect(a.at(-2)).toBe('root@host2');
    const cmd = a.at(-1)!;
    // What sshd's shell would run: replace && with a printer of each command's words.
    const words = await execa('sh', ['-c', `p() { for w in "$@"; do printf '%s\\n' "$w"; done; echo ---; }; ${cmd.split(' && ').map((c) => `p ${c}`).join('; ')}`]);
    expect(words.stdout.split('\n')).toEqual(['mkdir', '-p', '--', '/s/vms/vm1', '---', ...qemu, '---']);
  });
});
