/**
 * Benchmark (not a test): ADDRESS QEMU through the guest agent, on the full Debian guest
 * (scripts/build-qemu-full-guest.sh) under TCG (KVM where it really works).
 *   1. boot: `cloud_init` (a small NoCloud seed) then `start wait=cloud-init`: ms from
 *      launch to the agent answering (AGENT_MS) and to cloud-init done (CLOUD_INIT_MS);
 *      and a boot without a seed (cloud-init disabled) to the agent.
 *   2. exec: `exec name=VM command=true` against the same guest-exec sent by hand over
 *      the agent socket (connect, guest-sync-delimited, guest-exec of `/bin/sh -c true`,
 *      guest-exec-status every 10 ms until exited), interleaved, N each (goal <= 1.10x),
 *      each after a pause (BENCH_PAUSE_MS, default 250) so neither pays qemu-ga's hang-up sleep.
 *   3. the agent channel's cost on the busybox guest: `start wait=serial:MARKER` with
 *      agent=true and agent=false, interleaved (the fast tests boot that guest).
 * Run: npm run bench:qemu-agent  (BENCH_N execs per side, default 20; BENCH_BOOTS busybox boots per side,
 * default 5; BENCH_BUSYBOX_ONLY=1 measures only 3.)
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { createHandler } from '../../shared/dispatch';
import { table } from '../../handlers/qemu';
import { fmt, median, ms, ratio, strict } from './stats';

const N = Number(process.env.BENCH_N ?? 20);
const BOOTS = Number(process.env.BENCH_BOOTS ?? 5);
/**
 * ms between one agent session's end and the next's start. qemu-ga sleeps 100 ms when its
 * virtio-serial port hangs up (qga/main.c), so a session opened right after another closed
 * may wait up to that long for its guest-sync-delimited answer, whichever side it is.
 */
const PAUSE = Number(process.env.BENCH_PAUSE_MS ?? 250);
const FULL = process.env.REXX_QEMU_FULL_GUEST_DIR || '/var/lib/rexx-address/qemu-full-guest';
const G = '/var/lib/rexx-address/qemu-guest';
const MARKER = 'REXX-GUEST-READY';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-qga-bench-'));
const q = createHandler(table, { env: { ...process.env, REXX_QEMU_DIR: dir } });
const must = strict(q);
const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

/** guest-exec of `/bin/sh -c true` by hand: a fresh connection, sync, exec, status every 10 ms. */
async function rawExec(sock: string): Promise<void> {
  const s = net.createConnection({ path: sock });
  let buf = '';
  const waiters: ((m: Record<string, unknown>) => void)[] = [];
  s.on('data', (d) => {
    buf += d.toString('latin1');
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).replace(/^\xff/, '');
      buf = buf.slice(nl + 1);
      if (line.trim()) waiters.shift()?.(JSON.parse(line) as Record<string, unknown>);
    }
  });
  await new Promise((r, j) => (s.once('connect', r), s.once('error', j)));
  const call = (o: unknown) => new Promise<Record<string, unknown>>((r) => (waiters.push(r), s.write(`${JSON.stringify(o)}\n`)));
  const id = Math.floor(Math.random() * 1e9);
  const sync = await call({ execute: 'guest-sync-delimited', arguments: { id } });
  if (sync.return !== id) throw new Error(`sync: ${JSON.stringify(sync)}`);
  const started = await call({ execute: 'guest-exec', arguments: { path: '/bin/sh', arg: ['-c', 'true'], 'capture-output': true } });
  const pid = (started.return as { pid: number }).pid;
  for (;;) {
    const st = (await call({ execute: 'guest-exec-status', arguments: { pid } })).return as { exited: boolean; exitcode?: number };
    if (st.exited) {
      if (st.exitcode !== 0) throw new Error(`raw exec exited ${st.exitcode}`);
      break;
    }
    await sleep(10);
  }
  s.destroy();
}

async function main() {
  if (!fs.existsSync(path.join(FULL, '.done'))) throw new Error(`${FULL} missing: run scripts/build-qemu-full-guest.sh`);
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`state ${dir}, N=${N}, busybox boots=${BOOTS}, load average ${load} on ${os.cpus().length} CPUs`);
  const full = process.env.BENCH_BUSYBOX_ONLY !== '1';
  const raw: number[] = [];
  const handler: number[] = [];
  let v: Record<string, unknown> = {};
  let down: Record<string, unknown> = {};
  let downMs = 0;
  let seedless = 0;
  if (full) {
  fs.mkdirSync(path.join(dir, 'images'), { recursive: true });
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', path.join(FULL, 'disk.qcow2'), path.join(dir, 'images', 'b1.qcow2')]);
  await must(`create name=b1 disk=b1 kernel=${FULL}/vmlinuz initrd=${FULL}/initrd.img append="root=/dev/vda console=ttyS0" memory=512`);
  await must('cloud_init b1 user_data="#cloud-config\nwrite_files:\n  - path: /etc/bench.txt\n    content: bench\n"');
  const boot = await must('start b1 wait=cloud-init timeout=600s');
  v = boot.rexxVariables;
  console.log(`accel ${v.ACCEL} (${v.ACCEL_REASON})`);

  const sock = path.join(dir, 'vms', 'b1', 'qga.sock');
  await rawExec(sock); // warm both paths once (page cache in the guest)
  await must('exec b1 command=true');
  for (let i = 0; i < N; i++) {
    const runRaw = async () => {
      await sleep(PAUSE);
      const t = performance.now();
      await rawExec(sock);
      raw.push(ms(t));
    };
    const runHandler = async () => {
      await sleep(PAUSE);
      const t = performance.now();
      await must('exec b1 command=true');
      handler.push(ms(t));
    };
    if (i % 2) { await runRaw(); await runHandler(); } else { await runHandler(); await runRaw(); }
  }
  const tDown = performance.now();
  down = (await must('shutdown b1 timeout=120s')).rexxVariables;
  downMs = ms(tDown);
  // The same guest without a seed: cloud-init stays disabled (recipe 2), so this is boot to agent alone.
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', path.join(FULL, 'disk.qcow2'), path.join(dir, 'images', 'b2.qcow2')]);
  await must(`create name=b2 disk=b2 kernel=${FULL}/vmlinuz initrd=${FULL}/initrd.img append="root=/dev/vda console=ttyS0" memory=512`);
  seedless = Number((await must('start b2 wait=agent timeout=600s')).rexxVariables.AGENT_MS);
  await must('stop b2 force=true');
  }

  const withAgent: number[] = [];
  const without: number[] = [];
  const hw = `kernel=${G}/vmlinuz initrd=${G}/initrd.img append="console=ttyS0 rexx.halt=1 quiet" memory=192`;
  await must(`create name=bb1 ${hw}`);
  await must(`create name=bb0 ${hw} agent=false`);
  const bootBusybox = async (vm: string, into: number[]) => {
    const r = await must(`start ${vm} wait=serial:${MARKER} timeout=120s`);
    into.push(Number(r.rexxVariables.READY_MS));
    await must(`stop ${vm} force=true`);
  };
  for (let i = 0; i < BOOTS; i++) {
    if (i % 2) { await bootBusybox('bb1', withAgent); await bootBusybox('bb0', without); } else { await bootBusybox('bb0', without); await bootBusybox('bb1', withAgent); }
  }

  console.log('\nmetric                                               median ms   ratio');
  if (full) {
    console.log(`full guest, no seed: launch -> agent answers        ${fmt(seedless)}`);
    console.log(`full guest + seed: launch -> agent answers          ${fmt(Number(v.AGENT_MS))}`);
    console.log(`full guest + seed: launch -> cloud-init done        ${fmt(Number(v.CLOUD_INIT_MS))}   (${String(v.CLOUD_INIT)})`);
    console.log(`raw guest-exec by hand (sync, exec, status)         ${fmt(median(raw))}`);
    console.log(`exec command=true through the handler               ${fmt(median(handler))}   ${ratio(median(handler), median(raw))}x raw   (goal <= 1.10x)`);
    console.log(`shutdown through the agent (METHOD ${String(down.METHOD).padEnd(10)})        ${fmt(downMs)}`);
  }
  console.log(`busybox boot to marker, agent=false                 ${fmt(median(without))}`);
  console.log(`busybox boot to marker, agent=true (default)        ${fmt(median(withAgent))}   ${ratio(median(withAgent), median(without))}x`);
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const vm of ['b1', 'b2', 'bb0', 'bb1']) await q(`delete ${vm} force=true`).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });
