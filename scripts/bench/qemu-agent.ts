/**
 * Benchmark (not a test): ADDRESS QEMU through the guest agent, on the full Debian guest
 * (scripts/build-qemu-full-guest.sh) under TCG (KVM where it really works).
 *   1. boot: `cloud_init` (a small NoCloud seed) then `start wait=cloud-init`: ms from
 *      launch to the agent answering (AGENT_MS) and to cloud-init done (CLOUD_INIT_MS);
 *      and a boot without a seed (cloud-init disabled) to the agent.
 *   2. exec: `exec name=VM command=true` back to back (the handler keeps its agent session
 *      open between calls: shared/qmp.ts AgentPool) against the same guest-exec sent by
 *      hand over the agent socket (guest-exec of `/bin/sh -c true`, guest-exec-status every
 *      10 ms until exited), back to back too, two ways: on one session kept open and synced
 *      once (the like-for-like baseline), and on a fresh connection each call (connect,
 *      guest-sync-delimited, …: what the handler did before it kept sessions; it pays
 *      qemu-ga's ~100 ms hang-up sleep). N each, in blocks that alternate, no pause between
 *      calls (BENCH_PAUSE_MS, default 0); between blocks the handler's kept session is let
 *      go idle (the chardev serves one client at a time). Goal: <= 1.10x the kept baseline.
 *   3. the agent channel's cost on the busybox guest: `start wait=serial:MARKER` with
 *      agent=true and agent=false, interleaved (the fast tests boot that guest).
 * Run: npm run bench:qemu-agent  (BENCH_N execs per side, default 20; BENCH_BOOTS busybox boots per side,
 * default 5; BENCH_BUSYBOX_ONLY=1 measures only 3; BENCH_EXEC_ONLY=1 only 1 (seeded) and 2.)
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { createHandler } from '../../shared/dispatch';
import { AGENT_IDLE_MS } from '../../shared/qmp';
import { table } from '../../handlers/qemu';
import { fmt, median, ms, ratio, strict } from './stats';

const N = Number(process.env.BENCH_N ?? 20);
const BOOTS = Number(process.env.BENCH_BOOTS ?? 5);
/** ms between two exec calls (0: back to back, as a script runs them). */
const PAUSE = Number(process.env.BENCH_PAUSE_MS ?? 0);
/** Blocks per side (each N / BLOCKS calls). */
const BLOCKS = Number(process.env.BENCH_BLOCKS ?? 4);
const FULL = process.env.REXX_QEMU_FULL_GUEST_DIR || '/var/lib/rexx-address/qemu-full-guest';
const G = '/var/lib/rexx-address/qemu-guest';
const MARKER = 'REXX-GUEST-READY';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rexx-qga-bench-'));
const q = createHandler(table, { env: { ...process.env, REXX_QEMU_DIR: dir } });
const must = strict(q);
const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

/** An agent session by hand: connect, guest-sync-delimited; `call` sends one command and resolves to its reply. */
async function rawSession(sock: string) {
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
  return { call, close: () => s.destroy() };
}

/** guest-exec of `/bin/sh -c true` by hand on session `call`, guest-exec-status every 10 ms until it exited. */
async function rawExecOn(call: (o: unknown) => Promise<Record<string, unknown>>): Promise<void> {
  const started = await call({ execute: 'guest-exec', arguments: { path: '/bin/sh', arg: ['-c', 'true'], 'capture-output': true } });
  const pid = (started.return as { pid: number }).pid;
  for (;;) {
    const st = (await call({ execute: 'guest-exec-status', arguments: { pid } })).return as { exited: boolean; exitcode?: number };
    if (st.exited) {
      if (st.exitcode !== 0) throw new Error(`raw exec exited ${st.exitcode}`);
      return;
    }
    await sleep(10);
  }
}

/** The same on a fresh connection: connect, sync, exec, status, hang up. */
async function rawExec(sock: string): Promise<void> {
  const r = await rawSession(sock);
  await rawExecOn(r.call);
  r.close();
}

async function main() {
  if (!fs.existsSync(path.join(FULL, '.done'))) throw new Error(`${FULL} missing: run scripts/build-qemu-full-guest.sh`);
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`state ${dir}, N=${N}, busybox boots=${BOOTS}, load average ${load} on ${os.cpus().length} CPUs`);
  const full = process.env.BENCH_BUSYBOX_ONLY !== '1';
  const raw: number[] = [];
  const rawFresh: number[] = [];
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
  await must('exec b1 command=true'); // warm both paths once (page cache in the guest)
  const idle = () => sleep(AGENT_IDLE_MS + 300); // the handler's kept session closes; qemu-ga's hang-up sleep passes
  await idle();
  await rawExec(sock);
  await sleep(250);
  const per = Math.max(1, Math.round(N / BLOCKS));
  for (let b = 0; b < BLOCKS; b++) {
    for (let i = 0; i < per; i++) {
      const t = performance.now();
      await must('exec b1 command=true');
      handler.push(ms(t));
      await sleep(PAUSE);
    }
    await idle();
    const kept = await rawSession(sock);
    for (let i = 0; i < per; i++) {
      const t = performance.now();
      await rawExecOn(kept.call);
      raw.push(ms(t));
      await sleep(PAUSE);
    }
    kept.close();
    await sleep(250);
    for (let i = 0; i < per; i++) {
      const t = performance.now();
      await rawExec(sock);
      rawFresh.push(ms(t));
      await sleep(PAUSE);
    }
    await sleep(250);
  }
  const tDown = performance.now();
  down = (await must('shutdown b1 timeout=120s')).rexxVariables;
  downMs = ms(tDown);
  if (process.env.BENCH_EXEC_ONLY !== '1') {
  // The same guest without a seed: cloud-init stays disabled (recipe 2), so this is boot to agent alone.
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', path.join(FULL, 'disk.qcow2'), path.join(dir, 'images', 'b2.qcow2')]);
  await must(`create name=b2 disk=b2 kernel=${FULL}/vmlinuz initrd=${FULL}/initrd.img append="root=/dev/vda console=ttyS0" memory=512`);
  seedless = Number((await must('start b2 wait=agent timeout=600s')).rexxVariables.AGENT_MS);
  await must('stop b2 force=true');
  }
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
  for (let i = 0; i < (process.env.BENCH_EXEC_ONLY === '1' ? 0 : BOOTS); i++) {
    if (i % 2) { await bootBusybox('bb1', withAgent); await bootBusybox('bb0', without); } else { await bootBusybox('bb0', without); await bootBusybox('bb1', withAgent); }
  }

  console.log('\nmetric                                               median ms   ratio');
  if (full) {
    console.log(`full guest, no seed: launch -> agent answers        ${fmt(seedless)}`);
    console.log(`full guest + seed: launch -> agent answers          ${fmt(Number(v.AGENT_MS))}`);
    console.log(`full guest + seed: launch -> cloud-init done        ${fmt(Number(v.CLOUD_INIT_MS))}   (${String(v.CLOUD_INIT)})`);
    console.log(`raw guest-exec by hand, one session kept (exec, status) ${fmt(median(raw))}   (N=${raw.length}, back to back, pause ${PAUSE} ms)`);
    console.log(`raw guest-exec by hand, a fresh session each (sync, …) ${fmt(median(rawFresh))}   ${ratio(median(rawFresh), median(raw))}x kept`);
    console.log(`exec command=true through the handler               ${fmt(median(handler))}   ${ratio(median(handler), median(raw))}x raw kept   (goal <= 1.10x)   ${ratio(median(handler), median(rawFresh))}x raw fresh`);
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
