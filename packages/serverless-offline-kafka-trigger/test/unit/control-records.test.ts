import { describe, expect, it } from "vitest";
import { throughTrailingControlRecords } from "../../src/control-records.js";

describe("throughTrailingControlRecords", () => {
  const chunks = [
    { deliver: ["a", "b"], through: "1" },
    { deliver: ["c"], through: "2" },
  ];

  it("commits the last chunk through the batch's last offset: past the commit marker ending the fetch", () => {
    expect(throughTrailingControlRecords(chunks, "3")).toEqual([chunks[0], { deliver: ["c"], through: "3" }]);
  });

  it("changes nothing when the batch ends with a delivered record, and never moves a commit back", () => {
    expect(throughTrailingControlRecords(chunks, "2")).toBe(chunks);
    expect(throughTrailingControlRecords(chunks, "1")).toBe(chunks);
    expect(throughTrailingControlRecords([], "9")).toEqual([]);
  });

  it("compares offsets as integers, not text", () => {
    expect(throughTrailingControlRecords([{ through: "9" }], "10")).toEqual([{ through: "10" }]);
    expect(throughTrailingControlRecords([{ through: "10" }], "9")).toEqual([{ through: "10" }]);
  });
});
