/**
 * How scripts written for RexxJS's own ADDRESS QEMU (paul-hammant/RexxJS,
 * extras/addresses/qemu-address/qemu-address.js) run here. Verbs with the same meaning
 * are accepted under their original names and keys; those the original only echoed or
 * kept in memory, and those this handler cannot do yet, are RC 2 naming what to use.
 */
import type { CompatRow } from '../../shared/verb';

const NO_GUEST = 'not here: run commands with exec and copy files with file_push (through the QEMU guest agent), or use a kernel+initrd guest whose init does the work';

export const COMPAT: CompatRow[] = [
  { verbs: ['status'], keys: '', ours: 'status', note: 'Runs qemu-img and qemu-system and probes KVM; the original only counted VMs it held in memory.' },
  { verbs: ['verify_host'], keys: '', ours: 'status', note: 'Reports whether KVM really works here (a probe guest), not only that /dev/kvm exists.' },
  { verbs: ['list'], keys: '', ours: 'list', note: 'Reads every VM from the state folder (any process), with its live status.' },
  { verbs: ['create'], keys: 'image, name, memory (2G), cpus (2), disk, network (user)', ours: 'create name= image= memory= cpus= network=', note: 'image= is disk=. It defines the VM; start it with start (the original booted it at once). name= is required; defaults are 256M, 1 CPU, no network.' },
  { verbs: ['start', 'start_if_stopped'], keys: 'name', ours: 'start name=', note: 'Already running is RC 0 (ALREADY=1), so start is start_if_stopped.' },
  { verbs: ['stop', 'stop_if_running'], keys: 'name', ours: 'stop name= force=true', note: 'A stopped VM is RC 0. The original sent SIGTERM; force=true quits at once, the default asks the guest to power off first.' },
  { verbs: ['restart'], keys: 'name', ours: 'restart name=', note: 'Waits for the old QEMU to be gone before the new one starts.' },
  { verbs: ['pause', 'resume'], keys: 'name', ours: 'pause name= / resume name=', note: 'QMP stop/cont on the VM\'s own QEMU (the original called virsh, which does not know these VMs).' },
  { verbs: ['save_state', 'restore_state'], keys: 'name', ours: 'save_state name= stop=true / restore_state name=', note: 'the whole state (RAM and devices through QMP migrate, the disk frozen under an overlay) kept in the VM\'s state catalog; stop=true quits QEMU as virsh managedsave did (without it the VM goes on); restore_state starts the newest saved state, or snapshot=ID (the original called virsh managedsave / start).' },
  { verbs: ['remove'], keys: 'name', ours: 'delete name= force=true keep_disk=true', note: 'A running VM needs force=true (RC 7); without keep_disk=true the VM\'s own clone overlay goes too.' },
  { verbs: ['snapshot', 'restore'], keys: 'name, snapshot_name', ours: 'snapshot / restore name= snapshot_name=', note: 'snapshot_name= is snapshot=. A running VM is snapshotted with its RAM and restored in place, still running (the original killed it first).' },
  { verbs: ['logs'], keys: 'vm, lines (50)', ours: 'console vm= lines=', note: 'The real serial log (the original answered "not available"); 20 lines by default.' },
  { verbs: ['register_base'], keys: 'name, disk, memory (2G), cpus (2), rexxjs_installed', ours: 'register_base name= disk= memory= cpus=', note: 'disk= is source=: the image is copied into the images folder and made read-only. memory= and cpus= become its clones\' defaults. rexxjs_installed= has no meaning here (RC 2).' },
  { verbs: ['clone'], keys: 'base, name, memory, cpus, no_start', ours: 'clone base= name= memory= cpus= no_start=', note: 'Started unless no_start=true, as in the original; clone_from_base also makes count=N at once. The VM is kept in the state folder, so a later start finds it.' },
  { verbs: ['list_bases'], keys: '', ours: 'list_bases', note: 'Reads the base records any process wrote.' },
  { verbs: ['execute'], keys: 'vm, command, timeout, working_dir', ours: 'exec name= command= timeout= cwd=', note: 'Runs through the QEMU guest agent (guest-exec) in a guest that has qemu-ga: the full guest of scripts/build-qemu-full-guest.sh has it. vm= is name=, working_dir= is cwd=. RC is the exit status, as LXD exec.' },
  { verbs: ['execute_rexx', 'deploy_rexx', 'install_guest_agent'], keys: 'vm, script, …', ours: '', note: NO_GUEST },
  { verbs: ['copy_to', 'copy_from'], keys: 'vm, local, remote', ours: 'file_push name= source= path= / file_pull name= path= destination=', note: 'Really copies, through the guest agent (guest-file-*; the original only echoed "Simulated copy"). local= is source= / destination=, remote= is path=.' },
  { verbs: ['provision'], keys: 'script, name, keep_running, snapshot', ours: '', note: 'the original never ran the script ("simulate success"); use clone base= name= (or clone_from_base start=true) and a guest whose init provisions itself' },
  { verbs: ['attach_iso', 'detach_iso'], keys: 'name, iso_path', ours: 'attach_iso name= iso= / detach_iso name=', note: 'iso_path= is iso=. The ISO goes into a real CD drive (scsi-cd), changed in a running VM over QMP and kept for later starts; the original only recorded it in memory.' },
  { verbs: ['configure_network', 'configure_ssh', 'configure_health_check'], keys: 'name, type, host, …', ours: '', note: 'the original only recorded these in memory and never used them; set network= (none, user with forward=, bridge:BRIDGE) on create or clone_from_base, or nic_add' },
  { verbs: ['cleanup'], keys: 'all', ours: '', note: 'VMs are kept on disk, not in memory: list status=stopped, then delete name= keep_disk=true for each' },
  { verbs: ['security_audit', 'process_stats', 'start_monitoring', 'stop_monitoring', 'checkpoint_status'], keys: '', ours: '', note: 'the original reported its own in-memory bookkeeping; use state name= (STATUS, PID, UPTIME) and trace=true' },
  { verbs: ['download_iso', 'list_ostypes', 'setup_permissions'], keys: 'url, destination, username, …', ours: '', note: 'host set-up is not a verb here: fetch images yourself, then register_base source=; scripts/setup-host.sh sets the host up' },
];
