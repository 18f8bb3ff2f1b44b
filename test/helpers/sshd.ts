/**
 * A real sshd on 127.0.0.1 for tests of "another host" (host-notes: sshd on 127.0.0.1):
 * its own config, host key, client keys and known_hosts in a temporary folder, on a free
 * port, started and stopped by the test. Nothing of the machine's own ssh setup (root's
 * ~/.ssh, /etc/ssh) is read or changed; clients use the ssh_config file written here
 * (`ssh -F CONFIG HOST`). Also a TCP listener that accepts and never speaks, to make ssh hang.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { createEffects } from '../../shared/effects';
import { processTree } from '../../shared/proc-tree';
import { execa, type ResultPromise } from 'execa';

/** Host reads (/proc) for ending sshd's process tree. */
const hostFx = createEffects({ dryrun: false, log: () => undefined });

export interface TestSshd {
  /** ssh_config for clients: host aliases below, each with its port, key and known_hosts. */
  config: string;
  /** Host alias of the sshd: commands run as sent (root, key login). */
  peer: string;
  /** Host alias whose key is forced through a wrapper: `zfs receive …` (also the one a replicate session execs) sleeps 20 s (a stuck receiver), anything else runs. */
  stuck: string;
  /** Host alias pointing at a listener that accepts and never answers (ssh waits for the banner). */
  silent: string;
  stop(): Promise<void>;
}

/** A port nobody listens on right now (the kernel's pick for port 0). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function waitListening(port: number, ms: number): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const up = await new Promise<boolean>((r) => {
      const c = net.connect(port, '127.0.0.1', () => (c.destroy(), r(true)));
      c.on('error', () => r(false));
    });
    if (up) return;
    if (Date.now() > end) throw new Error(`sshd did not listen on 127.0.0.1:${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Start sshd (needs /usr/sbin/sshd: Debian openssh-server, installed by scripts/setup-host.sh). */
export async function startSshd(): Promise<TestSshd> {
  if (!fs.existsSync('/usr/sbin/sshd')) throw new Error('/usr/sbin/sshd is missing: run "bash scripts/setup-host.sh" (it installs openssh-server)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-sshd-'));
  const keygen = (f: string) => execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', f]);
  await Promise.all([keygen(`${dir}/host_key`), keygen(`${dir}/id_peer`), keygen(`${dir}/id_stuck`)]);
  fs.writeFileSync(
    `${dir}/stuck.sh`,
    // (replicate's one session, `sh -c SCRIPT`: its lookup runs, and the receive it execs sleeps instead)
    '#!/bin/sh\ncase "$SSH_ORIGINAL_COMMAND" in\n  "zfs receive"*) exec sleep 20 ;;\n' +
      '  *"exec zfs receive"*) exec /bin/sh -c "$(printf \'%s\' "$SSH_ORIGINAL_COMMAND" | sed \'s/exec zfs receive/exec sleep 20 || zfs receive/g\')" ;;\n' +
      '  *) exec /bin/sh -c "$SSH_ORIGINAL_COMMAND" ;;\nesac\n',
    { mode: 0o755 },
  );
  const pub = (f: string) => fs.readFileSync(`${dir}/${f}.pub`, 'utf8').trim();
  fs.writeFileSync(`${dir}/authorized_keys`, `${pub('id_peer')}\ncommand="${dir}/stuck.sh" ${pub('id_stuck')}\n`, { mode: 0o600 });
  const port = await freePort();
  fs.writeFileSync(
    `${dir}/sshd_config`,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${dir}/host_key`,
      `AuthorizedKeysFile ${dir}/authorized_keys`,
      `PidFile ${dir}/sshd.pid`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'UsePAM no',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  fs.mkdirSync('/run/sshd', { recursive: true }); // sshd's privilege-separation folder
  const sshd: ResultPromise = execa('/usr/sbin/sshd', ['-D', '-e', '-f', `${dir}/sshd_config`], { reject: false, stdin: 'ignore' });

  const silentServer = net.createServer(() => {
    /* accept and never speak */
  });
  const held: net.Socket[] = [];
  silentServer.on('connection', (s) => held.push(s));
  await new Promise<void>((r) => silentServer.listen(0, '127.0.0.1', r));
  const silentPort = (silentServer.address() as net.AddressInfo).port;

  fs.writeFileSync(`${dir}/known_hosts`, `[127.0.0.1]:${port} ${pub('host_key').split(' ').slice(0, 2).join(' ')}\n`);
  const host = (alias: string, p: number, key: string) =>
    [`Host ${alias}`, '  HostName 127.0.0.1', `  Port ${p}`, '  User root', `  IdentityFile ${dir}/${key}`, '  IdentitiesOnly yes', `  UserKnownHostsFile ${dir}/known_hosts`, '  StrictHostKeyChecking yes', ''].join('\n');
  fs.writeFileSync(`${dir}/ssh_config`, [host('rexx-peer', port, 'id_peer'), host('rexx-stuck', port, 'id_stuck'), host('rexx-silent', silentPort, 'id_peer')].join('\n'));
  await waitListening(port, 5000);
  return {
    config: `${dir}/ssh_config`,
    peer: 'rexx-peer',
    stuck: 'rexx-stuck',
    silent: 'rexx-silent',
    async stop() {
      // sshd's per-connection children outlive the master's SIGTERM (a stuck receiver's
      // `sleep 20` holds them), and they hold its stderr: end the whole tree.
      for (const pid of sshd.pid ? processTree(hostFx, sshd.pid).reverse() : []) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone meanwhile */
        }
      }
      await sshd;
      for (const s of held) s.destroy();
      await new Promise((r) => silentServer.close(r));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
