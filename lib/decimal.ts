/**
 * Exact decimal handling for money. PaySim writes numbers the way Java's Double.toString does
 * ("181.0", "1.916920493E7"); JSON clients send numbers or strings. Everything becomes a canonical
 * plain decimal string ("19169204.93") by moving the decimal point in the digit string, never
 * through binary floating point arithmetic.
 */
const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

export class DecimalFormatError extends Error {
  override name = "DecimalFormatError";
}

/** Canonical plain decimal string, or throws DecimalFormatError. */
export function toPlainDecimal(input: string | number): string {
  // String(number) is the shortest string that round-trips to the same double, which is the
  // decimal the client wrote in its JSON for every value with up to 15 significant digits.
  const text = typeof input === "number" ? (Number.isFinite(input) ? String(input) : "") : input.trim();
  const match = DECIMAL.exec(text);
  if (!match || (!match[2] && !match[3])) throw new DecimalFormatError(`not a decimal number: ${JSON.stringify(input)}`);
  const [, sign = "", intPart = "", fracPart = "", exponentText = "0"] = match;
  const exponent = Number(exponentText);
  if (Math.abs(exponent) > 100) throw new DecimalFormatError(`exponent out of range: ${JSON.stringify(input)}`);
  let digits = intPart + fracPart;
  let pointAt = intPart.length + exponent;
  if (pointAt < 0) {
    digits = "0".repeat(-pointAt) + digits;
    pointAt = 0;
  }
  if (pointAt > digits.length) digits += "0".repeat(pointAt - digits.length);
  const whole = digits.slice(0, pointAt).replace(/^0+/, "") || "0";
  const fraction = digits.slice(pointAt).replace(/0+$/, "");
  const isZero = /^0$/.test(whole) && fraction === "";
  return `${sign === "-" && !isZero ? "-" : ""}${whole}${fraction ? `.${fraction}` : ""}`;
}

/** Digits after the point of a canonical decimal string. */
export function scaleOf(plain: string): number {
  const point = plain.indexOf(".");
  return point === -1 ? 0 : plain.length - point - 1;
}

/** Digits before the point, sign excluded. */
export function integerDigitsOf(plain: string): number {
  const unsigned = plain.replace(/^-/, "");
  const point = unsigned.indexOf(".");
  return point === -1 ? unsigned.length : point;
}
