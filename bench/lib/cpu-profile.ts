import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** The parts of V8's .cpuprofile (written by `node --cpu-prof`) the summary reads. */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  samples: number[];
  timeDeltas: number[];
}

export interface FrameTime {
  name: string;
  /** Share of all sampled time (0..1). */
  share: number;
  ms: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  /** Where samples landed (self time), by function. */
  topSelf: FrameTime[];
  /** Time with the function anywhere on the stack (inclusive), by function. */
  topInclusive: FrameTime[];
  /** Self time by owner: an npm package, a project file, node internals, GC, idle. */
  byOwner: FrameTime[];
}

/** "node_modules/kafkajs/src/x.js" -> "kafkajs"; a project file -> its path from the repo; node internals -> "node:". */
export function ownerOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  if (url.startsWith("node:")) return "node:internal";
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (inModules) return inModules[1] as string;
  const project = /\/(lib|plugins|handlers|scripts|bench)\/[^?#]*/.exec(url);
  return project ? project[0].slice(1) : url.replace(/^file:\/\//, "");
}

function frameName(frame: CpuProfile["nodes"][number]["callFrame"]): string {
  const where = frame.url ? ` ${ownerOf(frame.url, frame.functionName)}:${frame.lineNumber + 1}` : "";
  return `${frame.functionName || "(anonymous)"}${where}`;
}

function top(times: Map<string, number>, totalMs: number, count: number): FrameTime[] {
  return [...times.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, ms]) => ({ name, ms: Math.round(ms), share: totalMs ? ms / totalMs : 0 }));
}

/**
 * Self, inclusive and per-owner time of one profile. `lastMs` keeps only the samples of the profile's
 * last `lastMs` milliseconds: the process is stopped right after its measured load, so that is the
 * steady state without start-up (module loading, bundling, connecting).
 */
export function summariseProfile(profile: CpuProfile, file = "", count = 12, lastMs?: number): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const owners = new Map<string, number>();
  const profileMs = profile.timeDeltas.reduce((sum, delta) => sum + delta, 0) / 1000;
  const fromMs = lastMs === undefined ? 0 : profileMs - lastMs;
  let elapsedMs = 0;
  let totalMs = 0;
  profile.samples.forEach((nodeId, index) => {
    const ms = (profile.timeDeltas[index] ?? 0) / 1000;
    elapsedMs += ms;
    if (elapsedMs < fromMs) return;
    totalMs += ms;
    const node = byId.get(nodeId);
    if (!node) return;
    const name = frameName(node.callFrame);
    self.set(name, (self.get(name) ?? 0) + ms);
    const owner = ownerOf(node.callFrame.url, node.callFrame.functionName);
    owners.set(owner, (owners.get(owner) ?? 0) + ms);
    // Inclusive: each distinct function on the stack once, so recursion is not counted twice.
    const seen = new Set<string>();
    for (let id: number | undefined = nodeId; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)?.callFrame;
      if (!frame || frame.functionName === "(root)") continue;
      const frameKey = frameName(frame);
      if (seen.has(frameKey)) continue;
      seen.add(frameKey);
      inclusive.set(frameKey, (inclusive.get(frameKey) ?? 0) + ms);
    }
  });
  return {
    file,
    totalMs: Math.round(totalMs),
    topSelf: top(self, totalMs, count),
    topInclusive: top(inclusive, totalMs, count),
    byOwner: top(owners, totalMs, count),
  };
}

/** Summaries of every .cpuprofile under `dir` (one per process or worker thread), busiest first. */
export function summariseProfiles(dir: string, count = 12, lastMs?: number): ProfileSummary[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((name) => name.endsWith(".cpuprofile"));
  } catch {
    return [];
  }
  return files
    .map((name) => {
      const summary = summariseProfile(
        JSON.parse(readFileSync(join(dir, name), "utf8")) as CpuProfile,
        join(dir, name),
        count,
        lastMs,
      );
      // Busy time: what is not idle.
      const idle = summary.byOwner.find((owner) => owner.name === "(idle)")?.ms ?? 0;
      return { summary, busy: summary.totalMs - idle };
    })
    .sort((a, b) => b.busy - a.busy)
    .map(({ summary }) => summary);
}

export function renderProfile(summary: ProfileSummary, count = 12): string {
  const lines = (title: string, frames: FrameTime[]) => [
    `  ${title}:`,
    ...frames
      .slice(0, count)
      .map((f) => `    ${(f.share * 100).toFixed(1).padStart(5)}%  ${String(f.ms).padStart(7)} ms  ${f.name}`),
  ];
  return [
    `${summary.file} (${summary.totalMs} ms sampled)`,
    ...lines("self time by owner", summary.byOwner),
    ...lines("top self frames", summary.topSelf),
    ...lines("top inclusive frames", summary.topInclusive),
  ].join("\n");
}
