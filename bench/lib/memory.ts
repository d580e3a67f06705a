import { readdirSync, readFileSync } from "node:fs";

/** Memory of one process from /proc/<pid>/status, in bytes. */
export interface ProcessMemory {
  rss: number;
  /** VmHWM: the peak resident set the kernel recorded for the process's whole life. */
  peakRss: number;
}

/** Parses VmRSS and VmHWM ("VmHWM:	  123456 kB") from the text of /proc/<pid>/status. */
export function parseProcStatus(text: string): ProcessMemory | undefined {
  const kib = (field: string) => {
    const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(text);
    return match ? Number(match[1]) * 1024 : undefined;
  };
  const rss = kib("VmRSS");
  const peakRss = kib("VmHWM");
  // Kernel threads and zombies have no Vm* lines.
  return rss === undefined || peakRss === undefined ? undefined : { rss, peakRss };
}

/** The parent pid from the text of /proc/<pid>/stat ("pid (comm) state ppid ..."; comm may hold spaces and parens). */
export function parseParentPid(statText: string): number | undefined {
  const afterComm = statText.slice(statText.lastIndexOf(")") + 2).split(" ");
  const ppid = Number(afterComm[1]);
  return Number.isInteger(ppid) ? ppid : undefined;
}

/** `root` and every live descendant, from a map of pid -> parent pid. */
export function descendantsOf(root: number, parents: ReadonlyMap<number, number>): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parents) {
    const list = children.get(ppid) ?? [];
    list.push(pid);
    children.set(ppid, list);
  }
  const result: number[] = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift() as number;
    result.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return result;
}

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined; // the process exited between listing and reading
  }
}

function processTable(): Map<number, number> {
  const parents = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProc(`/proc/${name}/stat`);
    const ppid = stat ? parseParentPid(stat) : undefined;
    if (ppid !== undefined) parents.set(Number(name), ppid);
  }
  return parents;
}

function commandOf(pid: number): string {
  return (readProc(`/proc/${pid}/cmdline`) ?? "").replaceAll("\0", " ").trim().slice(0, 200);
}

/** What a sampler saw of one process tree. */
export interface TreePeak {
  /** VmHWM of the process the bench started (the server or worker itself, without helpers it forked). */
  rootPeakRss: number;
  /** The largest VmHWM of any one process of the tree, and which it was. */
  largestProcessPeakRss: number;
  largestProcessCommand: string;
  /** Every process seen, largest peak first; `rss` is its VmRSS at the last sample that saw it. */
  processes: { pid: number; command: string; peakRss: number; rss: number }[];
  /** The largest sum of VmRSS over the tree at one sample (what the tree held at once). */
  treePeakRss: number;
  samples: number;
}

/**
 * Samples the memory of a process and its children (npm -> node -> worker threads are one process;
 * serverless-offline may fork) every `intervalMs`, keeping the peaks. VmHWM is the kernel's own peak,
 * so a spike between samples is still seen for each process that is alive at some sample.
 */
export class TreeMemorySampler {
  private readonly peaks = new Map<number, { peakRss: number; command: string; rss: number }>();
  private treePeakRss = 0;
  private samples = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly rootPid: number,
    private readonly intervalMs = 250,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  sample(): void {
    const pids = descendantsOf(this.rootPid, processTable());
    let total = 0;
    for (const pid of pids) {
      const status = readProc(`/proc/${pid}/status`);
      const memory = status && parseProcStatus(status);
      if (!memory) continue;
      total += memory.rss;
      const known = this.peaks.get(pid);
      this.peaks.set(pid, {
        peakRss: Math.max(memory.peakRss, known?.peakRss ?? 0),
        command: known?.command ?? commandOf(pid),
        rss: memory.rss,
      });
    }
    this.samples += 1;
    this.treePeakRss = Math.max(this.treePeakRss, total);
  }

  stop(): TreePeak {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const processes = [...this.peaks.entries()]
      .map(([pid, { peakRss, command, rss }]) => ({ pid, command, peakRss, rss }))
      .sort((a, b) => b.peakRss - a.peakRss);
    const largest = processes[0] ?? { peakRss: 0, command: "" };
    return {
      rootPeakRss: this.peaks.get(this.rootPid)?.peakRss ?? 0,
      processes,
      largestProcessPeakRss: largest.peakRss,
      largestProcessCommand: largest.command,
      treePeakRss: this.treePeakRss,
      samples: this.samples,
    };
  }
}
