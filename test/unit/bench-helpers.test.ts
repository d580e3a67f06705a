import { describe, expect, it } from "vitest";
import { type CpuProfile, ownerOf, summariseProfile } from "../../bench/lib/cpu-profile.js";
import { descendantsOf, parseParentPid, parseProcStatus } from "../../bench/lib/memory.js";
import { cycle, toBody } from "../../bench/lib/paysim.js";
import { meets, percentile, renderNotes, renderTable, row } from "../../bench/lib/report.js";
import { bulkRequestBodies } from "../../bench/stages/http.js";

describe("bench report", () => {
  it("computes the ratio to the reference and whether a ratio target is met", () => {
    const result = row("2", "req/s", 850, "req/s", {
      reference: 1000,
      target: { on: "ratio", comparison: ">=", threshold: 0.85 },
    });
    expect(result.ratio).toBeCloseTo(0.85);
    expect(result.met).toBe(true);
    expect(result.target).toBe(">= 85% of ref");
    expect(
      row("2", "req/s", 849, "req/s", { reference: 1000, target: { on: "ratio", comparison: ">=", threshold: 0.85 } }).met,
    ).toBe(false);
  });

  it("checks value targets in both directions and leaves met unset when nothing can be compared", () => {
    expect(meets({ on: "value", comparison: "<=", threshold: 50 }, { value: 50 })).toBe(true);
    expect(meets({ on: "value", comparison: "<=", threshold: 50 }, { value: 50.1 })).toBe(false);
    expect(meets({ on: "value", comparison: ">=", threshold: 40_000 }, { value: Number.NaN })).toBeUndefined();
    expect(meets({ on: "ratio", comparison: ">=", threshold: 0.85 }, { value: 1 })).toBeUndefined();
  });

  it("lists only the rows that carry a note", () => {
    expect(renderNotes([row("1", "a", 1, "ms", { note: "p99 3 ms" }), row("2", "b", 2, "ms")])).toBe("- 1, a: p99 3 ms");
  });

  it("interpolates percentiles like percentile_cont", () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([10], 99)).toBe(10);
    expect(percentile([5, 1, 3], 0)).toBe(1);
    expect(percentile([5, 1, 3], 100)).toBe(5);
    expect(percentile([], 50)).toBeNaN();
  });

  it("renders an aligned Markdown table with every row", () => {
    const table = renderTable([
      row("1 HTTP ceiling", "no-op", 3712.4, "req/s"),
      row("4 drain", "rows/s", 41_000, "rows/s", {
        reference: 300_000,
        target: { on: "value", comparison: ">=", threshold: 40_000 },
      }),
    ]);
    const lines = table.split("\n");
    expect(lines).toHaveLength(4);
    expect(new Set(lines.map((line) => line.length)).size).toBe(1);
    expect(lines[2]).toContain("3,712 req/s");
    expect(lines[3]).toContain("41,000 rows/s");
    expect(lines[3]).toContain("14%");
    expect(lines[3]).toContain("yes");
  });
});

describe("bench memory sampling", () => {
  it("reads VmRSS and VmHWM in bytes", () => {
    const status = "Name:\tnode\nVmPeak:\t 1000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n";
    expect(parseProcStatus(status)).toEqual({ rss: 100 * 1024 * 1024, peakRss: 200 * 1024 * 1024 });
    expect(parseProcStatus("Name:\tkthreadd\nState:\tS\n")).toBeUndefined();
  });

  it("reads the parent pid even when the command name holds spaces and parentheses", () => {
    expect(parseParentPid("4242 (node (worker) x) S 4200 4242 4242 0 -1")).toBe(4200);
  });

  it("finds every descendant of a process and nothing else", () => {
    const parents = new Map([
      [10, 1],
      [11, 10],
      [12, 11],
      [13, 10],
      [20, 1],
    ]);
    expect(descendantsOf(10, parents).sort()).toEqual([10, 11, 12, 13]);
  });
});

describe("bench CPU profile summary", () => {
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: { functionName: "(root)", url: "", lineNumber: -1 }, children: [2, 4] },
      { id: 2, callFrame: { functionName: "handle", url: "file:///repo/lib/consume.ts", lineNumber: 9 }, children: [3] },
      {
        id: 3,
        callFrame: { functionName: "buildSQL", url: "file:///repo/node_modules/drizzle-orm/pg-core/dialect.js", lineNumber: 99 },
      },
      { id: 4, callFrame: { functionName: "(idle)", url: "", lineNumber: -1 } },
    ],
    samples: [3, 3, 2, 4],
    timeDeltas: [1000, 1000, 1000, 1000],
  };

  it("attributes self time to frames and owners, inclusive time to callers", () => {
    const summary = summariseProfile(profile, "p.cpuprofile");
    expect(summary.totalMs).toBe(4);
    expect(summary.topSelf[0]).toMatchObject({ name: "buildSQL drizzle-orm:100", ms: 2, share: 0.5 });
    expect(summary.byOwner.find((owner) => owner.name === "lib/consume.ts")?.ms).toBe(1);
    expect(summary.byOwner.find((owner) => owner.name === "(idle)")?.ms).toBe(1);
    expect(summary.topInclusive.find((frame) => frame.name.startsWith("handle"))?.ms).toBe(3);
  });

  it("names owners by package, project file or runtime", () => {
    expect(ownerOf("file:///a/node_modules/@middy/core/index.js", "x")).toBe("@middy/core");
    expect(ownerOf("node:internal/streams/readable", "x")).toBe("node:internal");
    expect(ownerOf("", "(garbage collector)")).toBe("(garbage collector)");
  });
});

describe("bench request bodies", () => {
  const csvRow = {
    step: "1",
    type: "TRANSFER",
    amount: "1.916920493E7",
    nameOrig: "C1",
    oldbalanceOrg: "0.0",
    newbalanceOrig: "0.0",
    nameDest: "C2",
    oldbalanceDest: "0.0",
    newbalanceDest: "0.0",
    isFraud: "1",
    isFlaggedFraud: "0",
  };

  it("keeps money as the CSV's exact text and flags as numbers", () => {
    expect(toBody(csvRow)).toMatchObject({ step: 1, amount: "1.916920493E7", isFraud: 1, isFlaggedFraud: 0 });
  });

  it("cycles through the sample to reach any count", () => {
    expect(cycle(["a", "b"], 5)).toEqual(["a", "b", "a", "b", "a"]);
  });

  it("builds bulk bodies as JSON arrays of the requested size", () => {
    const bodies = Array.from({ length: 30 }, (_, i) => JSON.stringify({ i }));
    const bulk = bulkRequestBodies(bodies, 10, 4);
    expect(bulk).toHaveLength(4);
    for (const body of bulk) expect(JSON.parse(body)).toHaveLength(10);
  });
});
