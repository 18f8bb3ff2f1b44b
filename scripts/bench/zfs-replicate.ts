/**
 * Benchmark (not a test): `replicate … target=HOST:pool/ds` over ssh against the raw
 * pipe a script would run, `bash -c 'zfs send SRC@snap | ssh -F CFG HOST zfs receive
 * DST'`, for the same snapshot of a 200 MB dataset of incompressible data (BENCH_MB),
 * full streams into fresh targets, side by side in one run, interleaved (the order
 * rotates each round), medians of N (BENCH_N, default 5). The sshd is a real one on
 * 127.0.0.1 (test/helpers/sshd.ts) and the "other host" a second throwaway pool here.
 * Columns: replicate with its shared ssh connection (ControlMaster, warm after the first
 * call), replicate with REXX_ZFS_SSH_MUX=0 (a handshake per ssh call, as raw has), the
 * raw argv through the runner's pipeline (Node relays the stream and counts its bytes),
 * raw through bash. Also the cost of one ssh session (0.5 s to seconds here: root's
 * ~/.bashrc runs `pyenv init` for every remote command): replicate opens one per dataset,
 * as raw does, which both reads the target and receives the stream (replication.ts,
 * openSession).
 * Everything it made (pools, sshd, the ssh master) is removed at the end, also on failure.
 * Run: npm run bench:zfs-replicate
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { execa } from 'execa';
import { createHandler } from '../../shared/dispatch';
import { table } from '../../handlers/zfs';
import { peerOf, sideOf } from '../../handlers/zfs/verbs/replication';
import { startSshd, type TestSshd } from '../../test/helpers/sshd';
import { Runner } from '../../shared/runner';
import { fmt, median, ratio, strict, timed } from './stats';

const N = Math.max(1, Number(process.env.BENCH_N ?? 5));
const MB = Math.max(1, Number(process.env.BENCH_MB ?? 200));
const TAG = `${process.pid}`;
const SRC = `rexxb-rsrc-${TAG}`;
const DST = `rexxb-rdst-${TAG}`;
const img = (p: string) => `/var/tmp/${p}.img`;

async function sh(argv: string[]): Promise<string> {
  const r = await execa(argv[0]!, argv.slice(1), { reject: false });
  if (r.exitCode !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Destroy a received target (not timed), with zfs-fuse's unmount-and-retry. */
async function drop(ds: string) {
  for (let i = 0; i < 5; i++) {
    const r = await execa('zfs', ['destroy', '-r', ds], { reject: false });
    if (r.exitCode === 0) return;
    await execa('zfs', ['unmount', ds], { reject: false });
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`could not destroy ${ds}`);
}

async function main() {
  let sshd: TestSshd | undefined;
  const made: string[] = [];
  try {
    for (const p of [SRC, DST]) {
      await sh(['truncate', '-s', `${Math.max(512, MB * 2 + 128)}M`, img(p)]);
      await sh(['zpool', 'create', p, img(p)]);
      made.push(p);
    }
    await sh(['zfs', 'create', `${SRC}/data`]);
    const fd = fs.openSync(`/${SRC}/data/blob`, 'w');
    for (let i = 0; i < MB; i++) fs.writeSync(fd, crypto.randomBytes(1 << 20));
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    await sh(['zfs', 'snapshot', `${SRC}/data@b1`]);
    sshd = await startSshd();
    const env = { ...process.env, REXX_ZFS_POOL: SRC, REXX_ZFS_SSH_CONFIG: sshd.config };
    const mux = strict(createHandler(table, { env }));
    const nomux = strict(createHandler(table, { env: { ...env, REXX_ZFS_SSH_MUX: '0' } }));
    const peer = sshd.peer;
    const runner = new Runner();
    let n = 0;
    const runs: Record<string, () => Promise<number>> = {
      replicate: async () => {
        const t = `${DST}/h${++n}`;
        let bytes = 0;
        const ms = await timed(async () => (bytes = Number((await mux(`replicate name=data snapshot=b1 target=${peer}:${t}`)).rexxVariables.BYTES)));
        if (bytes < MB << 20) throw new Error(`replicate sent ${bytes} bytes`);
        await drop(t);
        return ms;
      },
      'replicate, no mux': async () => {
        const t = `${DST}/m${++n}`;
        const ms = await timed(() => nomux(`replicate name=data snapshot=b1 target=${peer}:${t}`));
        await drop(t);
        return ms;
      },
      // The same argv as raw, through the runner's pipeline (which relays and counts the bytes) instead of bash's kernel pipe.
      'raw via runner': async () => {
        const t = `${DST}/p${++n}`;
        const ms = await timed(async () => {
          const r = await runner.runPipeline([['zfs', 'send', `${SRC}/data@b1`], ['ssh', '-o', 'BatchMode=yes', '-F', sshd!.config, peer, 'zfs', 'receive', t]], { timeoutMs: 600_000 });
          if (!r.ok) throw new Error(r.stderr);
        });
        await drop(t);
        return ms;
      },
      raw: async () => {
        const t = `${DST}/r${++n}`;
        const ms = await timed(() => sh(['bash', '-c', `zfs send ${SRC}/data@b1 | ssh -o BatchMode=yes -F ${sshd!.config} ${peer} zfs receive ${t}`]));
        await drop(t);
        return ms;
      },
    };
    const names = Object.keys(runs);
    // One ssh session through the shared connection (what each extra remote step costs here).
    const session = async () => timed(() => sh(['ssh', '-o', 'BatchMode=yes', ...mux0, '-F', sshd!.config, peer, 'true']));
    const mux0 = sideOf(peerOf({ env }, peer)).prefix.filter((a, i, all) => a.startsWith('Control') || (a === '-o' && all[i + 1]?.startsWith('Control')));
    const sessions: number[] = [];
    await runs.replicate!(); // warm-up (and the ssh master of the mux column)
    await runs.raw!();
    const times: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < names.length; j++) {
        const k = names[(i + j) % names.length]!;
        times[k]!.push(await runs[k]!());
      }
      sessions.push(await session());
    }
    const raw = median(times.raw!);
    console.log(`replicate over ssh (127.0.0.1) vs raw zfs send | ssh zfs receive: ${MB} MB incompressible, full stream, median of ${N} (ms)`);
    console.log(`${'variant'.padEnd(20)}${'median'.padStart(9)}${'min'.padStart(9)}${'max'.padStart(9)}   vs raw`);
    for (const k of names) {
      const xs = times[k]!;
      console.log(`${k.padEnd(20)}${fmt(median(xs), 9)}${fmt(Math.min(...xs), 9)}${fmt(Math.max(...xs), 9)}   ${ratio(median(xs), raw)}×`);
    }
    const one = median(sessions);
    console.log(`one ssh session (ssh HOST true over the shared connection): median ${one.toFixed(1)} ms; replicate opens one per dataset, as raw does`);
  } finally {
    if (sshd) {
      // the shared connection the mux column opened (ControlPersist would keep it 60 s)
      const prefix = sideOf(peerOf({ env: { REXX_ZFS_SSH_CONFIG: sshd.config } }, sshd.peer)).prefix;
      const cp = prefix.find((a) => a.startsWith('ControlPath='));
      if (cp) await execa('ssh', ['-o', cp, '-F', sshd.config, '-O', 'exit', sshd.peer], { reject: false });
      await sshd.stop();
    }
    for (const p of made.reverse()) {
      await execa('zpool', ['destroy', '-f', p], { reject: false });
      fs.rmSync(img(p), { force: true });
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
