import fc from "fast-check";
import { validate, version } from "uuid";
import { describe, expect, it } from "vitest";
import { transactionId } from "../../lib/ids.js";

/** The 48-bit Unix milliseconds a UUIDv7 starts with. */
const millisecondsOf = (id: string) => Number.parseInt(id.replaceAll("-", "").slice(0, 12), 16);

describe("transactionId", () => {
  it("is a valid UUIDv7 carrying the time it was made", () => {
    const before = Date.now();
    const id = transactionId();
    expect(validate(id)).toBe(true);
    expect(version(id)).toBe(7);
    expect(millisecondsOf(id)).toBeGreaterThanOrEqual(before);
    expect(millisecondsOf(id)).toBeLessThanOrEqual(Date.now());
  });

  it("ascends strictly within a process, many ids in one millisecond included", () => {
    const ids = Array.from({ length: 50_000 }, () => transactionId());
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id, index) => index === 0 || id > (ids[index - 1] as string))).toBe(true);
  });

  it("ascends whatever the clock does between calls, and never carries a time before the clock reading", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 2, maxLength: 200 }), (steps) => {
        let now = Date.now() + 10_000_000;
        const ids: string[] = [];
        for (const step of steps) {
          now += step; // the clock may step back (NTP) or stand still
          const id = transactionId(now);
          expect(validate(id) && version(id) === 7).toBe(true);
          expect(millisecondsOf(id)).toBeGreaterThanOrEqual(now);
          ids.push(id);
        }
        return ids.every((id, index) => index === 0 || id > (ids[index - 1] as string));
      }),
    );
  });
});
