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

/**
 * Longest decimal text accepted before any parsing: NUMERIC(18, 2) needs at most 19 digits, a sign, a
 * point and an exponent; the rest of the room is for zeros a client may pad with. Bounds every step below.
 */
export const MAX_DECIMAL_CHARS = 64;

/** `text` without its trailing "0"s: a loop, because /0+$/ retries from every zero (quadratic on long runs). */
function trimTrailingZeros(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 48) end--;
  return text.slice(0, end);
}

function trimLeadingZeros(text: string): string {
  let start = 0;
  while (start < text.length && text.charCodeAt(start) === 48) start++;
  return text.slice(start);
}

/** Canonical plain decimal string, or throws DecimalFormatError. Linear in the input, which is capped first. */
export function toPlainDecimal(input: string | number): string {
  // String(number) is the shortest string that round-trips to the same double, which is the
  // decimal the client wrote in its JSON for every value with up to 15 significant digits.
  const text = typeof input === "number" ? (Number.isFinite(input) ? String(input) : "") : input.trim();
  if (text.length > MAX_DECIMAL_CHARS) {
    throw new DecimalFormatError(`at most ${MAX_DECIMAL_CHARS} characters (got ${text.length})`);
  }
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
  const whole = trimLeadingZeros(digits.slice(0, pointAt)) || "0";
  const fraction = trimTrailingZeros(digits.slice(pointAt));
  const isZero = whole === "0" && fraction === "";
  return `${sign === "-" && !isZero ? "-" : ""}${whole}${fraction ? `.${fraction}` : ""}`;
}

/** Digits after the point of a canonical decimal string. */
export function scaleOf(plain: string): number {
  const point = plain.indexOf(".");
  return point === -1 ? 0 : plain.length - point - 1;
}

/** Digits before the point, sign excluded. */
export function integerDigitsOf(plain: string): number {
  const unsigned = plain.startsWith("-") ? plain.slice(1) : plain;
  const point = unsigned.indexOf(".");
  return point === -1 ? unsigned.length : point;
}

/**
 * Whether the JSON number `text` survives as a double: up to 15 significant digits in the normal range,
 * where String(Number(text)) is the same decimal value (so 181.0 and 9839.64 may stay numbers). Anything
 * else (99999999999999.99, 0.10000000000000000055, 1e400) must keep its text to stay exact.
 */
export function isExactAsDouble(text: string): boolean {
  if (text.length > MAX_DECIMAL_CHARS) return false;
  const match = DECIMAL.exec(text);
  if (!match) return false;
  const significant = trimTrailingZeros(trimLeadingZeros((match[2] ?? "") + (match[3] ?? "")));
  if (significant.length > 15) return false;
  const value = Math.abs(Number(text));
  return value === 0 || (value >= 1e-300 && value <= 1e300);
}
