/**
 * CPU time read from /proc (Linux): of one process by its pid (user + system, its own threads, not
 * its children), and of the whole machine (every core's busy time). A benchmark reads both before and
 * after a phase to charge the CPU of the parts it does not run in-process (the simulated tenant, its
 * own Redis) and, on a quiet machine, of the store (what the machine spent beyond the parts it knows).
 * Elsewhere than Linux both read NaN, and the figures built on them say so.
 */
import { readFileSync } from 'node:fs';

// USER_HZ: the kernel reports CPU times in clock ticks of 1/100 s on every Linux architecture node runs on.
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) a process has used, or NaN if it cannot be read. */
export function processCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command name.
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/** CPU seconds the machine's cores have been busy (not idle, not waiting on I/O), or NaN. */
export function machineBusyCpuSeconds(): number {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq (steal: another guest's time, not this machine's work)
    const [user, nice, system, , , irq, softirq] = cpu;
    return (user! + nice! + system! + irq! + softirq!) / TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/** CPU seconds over a phase: the machine's busy time, each named process's, and this process's. */
export interface CpuSplit {
  machine: number;
  processes: Record<string, number>;
  self: number;
}

/** Starts measuring; the returned function gives the CPU used since, per part. */
export function cpuSince(pids: Record<string, number | undefined>): () => CpuSplit {
  const machine = machineBusyCpuSeconds();
  const before = Object.fromEntries(
    Object.entries(pids).map(([name, pid]) => [name, processCpuSeconds(pid)]),
  );
  const self = process.cpuUsage();
  return () => {
    const used = process.cpuUsage(self);
    return {
      machine: machineBusyCpuSeconds() - machine,
      processes: Object.fromEntries(
        Object.entries(pids).map(([name, pid]) => [name, processCpuSeconds(pid) - before[name]!]),
      ),
      self: (used.user + used.system) / 1e6,
    };
  };
}
