/**
 * Inside a running VM, through its QEMU guest agent (../agent.ts): exec (guest-exec),
 * file_push / file_pull (guest-file-open/read/write/close, in chunks), guest_info
 * (guest-get-osinfo, guest-get-host-name, guest-network-get-interfaces) and shutdown
 * (the agent first, then ACPI, then quit). The guest needs qemu-ga running (the full
 * guest of scripts/build-qemu-full-guest.sh has it; the busybox guest does not).
 */
import { commandNotFound, cwdNotFound, EXEC_VARS, execOutput, GUEST_COMMAND_PARAMS, GUEST_SHELL, guestArgv, type GuestArgv } from '../../../shared/guest-exec';
import { isReason, notFound, usageError } from '../../../shared/errors';
import { guestPath, hostPath, regexRule } from '../../../shared/names';
import type { Qmp } from '../../../shared/qmp';
import { stem } from '../../../shared/result';
import { defineVerb, type Ctx } from '../../../shared/verb';
import { agentExec, agentExecOk, ifaceIpv4, withGuestAgent, type GuestIface } from '../agent';
import { agentErrorReason } from '../errors';
import { NAME, timeout } from '../params';
import { isVmProcess, liveness, loadVm, vmPaths, withVmLock } from '../state';
import { clearStale, stopVm, waitUntil } from '../vm';

/**
 * The argv the agent runs for exec: `g.argv`, under `setpriv` for user= (uid and gid
 * both set to it, supplementary groups cleared) and under `/bin/sh -c 'cd …'` for cwd=
 * (guest-exec itself has neither). Pure; the unit tests check it.
 */
export function agentArgv(g: GuestArgv, o: { cwd?: string; user?: number }): string[] {
  let argv = g.argv;
  if (o.cwd) argv = [GUEST_SHELL, '-c', 'cd -- "$1" && shift && exec "$@"', 'sh', o.cwd, ...argv];
  if (o.user !== undefined) argv = ['setpriv', `--reuid=${o.user}`, `--regid=${o.user}`, '--clear-groups', '--', ...argv];
  return argv;
}

/** name=, also as vm= (the key of RexxJS's own ADDRESS QEMU execute / copy_to / copy_from). */
const VM_NAME = { name: { ...NAME.name, aliases: ['vm'] } } as const;

export const exec = defineVerb({
  name: 'exec',
  aliases: ['execute'],
  summary: 'run a command line in a running VM through its guest agent (guest-exec), as its /bin/sh -c runs it; RC = exit status, RESULT = stdout, LINES stem, STDERR',
  params: {
    ...VM_NAME,
    ...GUEST_COMMAND_PARAMS,
    cwd: { ...GUEST_COMMAND_PARAMS.cwd, aliases: ['working_dir'] },
    ...timeout(60_000, 'stop after this long (RC -5): the agent sends the command SIGKILL'),
  },
  positional: ['name', 'command'],
  examples: ['exec name=vm1 command="apt-get install -y nginx"', 'exec name=vm1 command="exit 3"', 'exec name=vm1 arg=cat arg=/etc/hostname'],
  vars: EXEC_VARS,
  exitStatus: true,
  async run(p, ctx) {
    const g = guestArgv('exec', p);
    return withGuestAgent(ctx, p.name, 'exec', async (q) => {
      if (p.cwd) {
        const t = await agentExec(ctx, q, ['test', '-d', p.cwd], { timeoutMs: p.timeout });
        if (t.exitCode !== 0) throw cwdNotFound('exec', p.cwd);
      }
      try {
        const r = await agentExec(ctx, q, agentArgv(g, p), { env: p.env, input: p.input, timeoutMs: p.timeout });
        if (r.truncated) ctx.log(`qemu exec ${p.name}: the agent cut the output at its limit`);
        return execOutput(r);
      } catch (e) {
        if (isReason(e, 'notFound')) throw commandNotFound('exec', g, e.message);
        throw e;
      }
    }, Math.min(p.timeout, 10_000));
  },
});

/** One guest-file-read / guest-file-write chunk, in bytes (its base64 travels in one JSON line). */
export const FILE_CHUNK = 1024 * 1024;

const GUEST_FILE = { path: { type: 'string', required: true, rule: guestPath, aliases: ['remote'], doc: 'absolute path in the guest' } } as const;


/** guest-file-open, RC 3 when the agent says the file (or its folder) does not exist. */
async function openGuestFile(q: Qmp, file: string, mode: 'r' | 'w'): Promise<number> {
  try {
    return await q.execute<number>('guest-file-open', { path: file, mode });
  } catch (e) {
    if (agentErrorReason(e, 'file') === 'notFound') throw notFound(`${file}${mode === 'w' ? "'s folder" : ''} does not exist in the guest (${(e as Error).message})`);
    throw e;
  }
}

export const filePush = defineVerb({
  name: 'file_push',
  aliases: ['copy_to'],
  summary: 'copy a host file (source=) or text (content=) into a running VM at path= through its guest agent (guest-file-open/write/close, 1 MiB chunks); mode=, uid=, gid= set with chmod/chown in the guest',
  params: {
    ...VM_NAME,
    ...GUEST_FILE,
    source: { type: 'string', rule: hostPath, aliases: ['local'], doc: 'file on this host to push' },
    content: { type: 'string', free: true, doc: 'text to write instead of a host file' },
    mode: { type: 'string', rule: regexRule('file mode', /^0?[0-7]{3,4}$/, 'octal, e.g. 0644'), doc: 'file mode, e.g. 0600 (set before the content is written)' },
    uid: { type: 'int', min: 0, doc: 'owner uid in the guest' },
    gid: { type: 'int', min: 0, doc: 'owner gid in the guest' },
    parents: { type: 'bool', default: false, doc: 'create missing parent directories (mkdir -p in the guest)' },
    ...timeout(300_000, 'give up after this long (RC 5)'),
  },
  positional: ['name'],
  examples: ['file_push name=vm1 source=/srv/site/index.html path=/var/www/index.html', 'file_push name=vm1 path=/etc/motd content="hello" mode=0644'],
  vars: { BYTES: 'bytes written' },
  async run(p, ctx) {
    if ((p.source === undefined) === (p.content === undefined)) throw usageError('file_push: give source= or content= (one of them)');
    let data: Buffer;
    if (p.source !== undefined) {
      const st = ctx.fs.stat(p.source);
      if (!st) throw notFound(`file_push: source=${p.source} not found`);
      if (!st.isFile()) throw usageError(`file_push: source=${p.source} is not a regular file`);
      data = ctx.fs.readHead(p.source, st.size) ?? Buffer.alloc(0);
    } else data = Buffer.from(p.content!, 'utf8');
    return withGuestAgent(ctx, p.name, 'file_push', async (q) => {
      if (p.parents) await agentExecOk(ctx, q, ['mkdir', '-p', '--', p.path.replace(/\/[^/]*$/, '') || '/'], 'file_push parents=true', p.timeout);
      const h = await openGuestFile(q, p.path, 'w');
      try {
        // Mode and owner before the content, so a secret is never readable with the default mode.
        if (p.mode) await agentExecOk(ctx, q, ['chmod', p.mode, '--', p.path], 'file_push mode=', p.timeout);
        if (p.uid !== undefined || p.gid !== undefined) await agentExecOk(ctx, q, ['chown', `${p.uid ?? ''}:${p.gid ?? ''}`, '--', p.path], 'file_push uid=/gid=', p.timeout);
        for (let off = 0; off < data.length; off += FILE_CHUNK) {
          const chunk = data.subarray(off, off + FILE_CHUNK);
          await q.execute('guest-file-write', { handle: h, 'buf-b64': chunk.toString('base64') }, p.timeout);
        }
      } finally {
        await q.execute('guest-file-close', { handle: h }).catch(() => undefined);
      }
      return { result: p.path, vars: { BYTES: data.length } };
    });
  },
});

export const filePull = defineVerb({
  name: 'file_pull',
  aliases: ['copy_from'],
  summary: 'copy a file out of a running VM through its guest agent (guest-file-open/read/close, 1 MiB chunks) to destination=, or into RESULT when no destination is given',
  params: {
    ...VM_NAME,
    ...GUEST_FILE,
    destination: { type: 'string', rule: hostPath, aliases: ['local'], doc: 'file on this host to write (atomically; default: RESULT gets the content)' },
    ...timeout(300_000, 'give up after this long (RC 5)'),
  },
  positional: ['name'],
  examples: ['file_pull name=vm1 path=/etc/os-release', 'file_pull name=vm1 path=/var/log/syslog destination=/tmp/vm1-syslog'],
  vars: { LINES: { stem: 'the content, one line each (when no destination= is given)' }, BYTES: 'bytes read' },
  async run(p, ctx) {
    const data = await withGuestAgent(ctx, p.name, 'file_pull', async (q) => {
      const h = await openGuestFile(q, p.path, 'r');
      const parts: Buffer[] = [];
      try {
        for (;;) {
          const r = await q.execute<{ count?: number; 'buf-b64'?: string; eof?: boolean }>('guest-file-read', { handle: h, count: FILE_CHUNK }, p.timeout);
          if (r['buf-b64']) parts.push(Buffer.from(r['buf-b64'], 'base64'));
          if (r.eof !== false || !r.count) break;
        }
      } finally {
        await q.execute('guest-file-close', { handle: h }).catch(() => undefined);
      }
      return Buffer.concat(parts);
    });
    if (p.destination) {
      ctx.fs.writeText(p.destination, data, { atomic: true });
      return { result: p.destination, vars: { BYTES: data.length, LINES: stem([]) } };
    }
    const text = data.toString('utf8');
    return { result: text, vars: { BYTES: data.length, LINES: stem(text ? text.replace(/\n$/, '').split('\n') : []) } };
  },
});

interface OsInfo { 'pretty-name'?: string; id?: string; 'version-id'?: string; 'kernel-release'?: string; machine?: string }
type Iface = GuestIface;

export const guestInfo = defineVerb({
  name: 'guest_info',
  summary: 'what the guest agent says of the guest: OS, kernel, hostname, agent version, network interfaces and their addresses',
  params: { ...NAME, ...timeout(10_000, 'how long the agent may take to answer (RC 5)') },
  positional: ['name'],
  examples: ['guest_info name=vm1'],
  vars: {
    OS: 'pretty name, e.g. "Debian GNU/Linux 12 (bookworm)"',
    OS_ID: 'e.g. debian',
    OS_VERSION: 'e.g. 12',
    KERNEL: 'kernel release',
    ARCH: 'machine, e.g. x86_64',
    HOSTNAME: 'the guest hostname',
    AGENT_VERSION: 'qemu-ga version',
    INTERFACES: { stem: 'interface names' },
    MACS: { stem: 'the MAC address of each interface' },
    ADDRESSES: { stem: 'every address as "IFACE ADDRESS/PREFIX"' },
    IPV4: 'the first IPv4 address not on loopback (nor link-local 169.254/16), or empty',
  },
  async run(p, ctx) {
    return withGuestAgent(ctx, p.name, 'guest_info', async (q) => {
      const t = p.timeout;
      const os = await q.execute<OsInfo>('guest-get-osinfo', undefined, t);
      const host = await q.execute<{ 'host-name': string }>('guest-get-host-name', undefined, t);
      const info = await q.execute<{ version: string }>('guest-info', undefined, t);
      const ifaces = await q.execute<Iface[]>('guest-network-get-interfaces', undefined, t);
      const addrs = ifaces.flatMap((i) => (i['ip-addresses'] ?? []).map((a) => ({ iface: i.name, ...a })));
      return {
        result: os['pretty-name'] ?? '',
        vars: {
          OS: os['pretty-name'] ?? '', OS_ID: os.id ?? '', OS_VERSION: os['version-id'] ?? '', KERNEL: os['kernel-release'] ?? '', ARCH: os.machine ?? '',
          HOSTNAME: host['host-name'] ?? '', AGENT_VERSION: info.version ?? '',
          INTERFACES: stem(ifaces.map((i) => i.name)),
          MACS: stem(ifaces.map((i) => i['hardware-address'] ?? '')),
          ADDRESSES: stem(addrs.map((a) => `${a.iface} ${a['ip-address']}/${a.prefix}`)),
          IPV4: ifaceIpv4(ifaces) ?? '',
        },
      };
    }, Math.min(p.timeout, 10_000));
  },
});

/**
 * Ask the agent to power the guest off: `guest-shutdown` (no reply on success), and when
 * it fails (a minbase guest has no logind for `shutdown`), `poweroff` run through
 * guest-exec. Returns how it asked, or '' when the agent did not answer or refused.
 */
async function agentPoweroff(ctx: Ctx, name: string, syncMs: number): Promise<'agent' | 'agent-exec' | ''> {
  return withGuestAgent(ctx, name, 'shutdown', async (q) => {
    try {
      // success-response is false for guest-shutdown: silence means it is on its way.
      await q.execute('guest-shutdown', { mode: 'powerdown' }, 5_000);
      return 'agent';
    } catch (e) {
      if (isReason(e, 'timedOut')) return 'agent';
      ctx.log(`qemu shutdown ${name}: guest-shutdown failed (${e instanceof Error ? e.message : String(e)}); trying poweroff through guest-exec`);
    }
    // The guest may go down before the agent reports the exit: starting it is enough.
    await q.execute('guest-exec', { path: 'poweroff', arg: [] }, 5_000);
    return 'agent-exec' as const;
  }, syncMs).catch((e) => {
    if (isReason(e, 'timedOut', 'unavailable', 'toolFailed', 'refused')) {
      ctx.log(`qemu shutdown ${name}: the guest agent did not help (${e.message}); ACPI next`);
      return '' as const;
    }
    throw e;
  });
}

export const shutdown = defineVerb({
  name: 'shutdown',
  summary: 'power a VM off cleanly: through its guest agent (guest-shutdown, else poweroff via guest-exec), then ACPI (QMP system_powerdown), then QMP quit; METHOD says which worked; a stopped VM is RC 0',
  params: { ...NAME, ...timeout(60_000, 'how long the guest may take to power off, in all: half for the agent, the rest for ACPI, then quit') },
  positional: ['name'],
  examples: ['shutdown name=vm1', 'shutdown name=vm1 timeout=2m'],
  vars: { STATUS: 'stopped', METHOD: 'agent, agent-exec, powerdown, quit, kill or none (it was not running)', WAS: 'running, stopped or crashed before' },
  async run(p, ctx) {
    const def = loadVm(ctx, p.name);
    const l = liveness(ctx, p.name);
    if (l.kind !== 'running') {
      await withVmLock(ctx, p.name, () => clearStale(ctx, p.name));
      return { result: 'stopped', vars: { STATUS: 'stopped', METHOD: 'none', WAS: l.kind } };
    }
    const t0 = ctx.clock.monotonic();
    let method: string = '';
    if (def.agent !== false) {
      method = await agentPoweroff(ctx, p.name, Math.min(10_000, p.timeout / 2));
      // (the agent session kept for the VM: the guest is going away)
      ctx.qga.drop?.(vmPaths(ctx, p.name).qga);
      if (method) {
        // QEMU removes its pidfile before it has finished exiting: gone is when the process is gone too.
        const gone = await waitUntil(ctx, () => liveness(ctx, p.name).kind !== 'running' && !isVmProcess(ctx, p.name, l.pid), { timeoutMs: Math.max(1000, p.timeout / 2 - (ctx.clock.monotonic() - t0)), initialMs: 20, maxMs: 200 });
        if (!gone) method = '';
      }
    }
    if (!method) method = await stopVm(ctx, p.name, false, Math.max(1000, p.timeout - (ctx.clock.monotonic() - t0)));
    await withVmLock(ctx, p.name, () => clearStale(ctx, p.name));
    return { result: 'stopped', vars: { STATUS: 'stopped', METHOD: method, WAS: 'running' } };
  },
});
