import { toPlainDecimal } from "../../lib/money.js";

/**
 * Formats a decimal the way Java's Double.toString prints the double nearest to it, as PaySim's
 * file does: always a decimal point ("0.0", "170136.0"), plain notation for 1e-3 <= |x| < 1e7 and
 * computerized scientific notation otherwise ("1.916920493E7", "1.0E7", "1.0E-4").
 *
 * Works on the decimal digits, never through floating point. The result equals Java's output when
 * the decimal is the shortest one naming its double, which holds for every value with at most 15
 * significant digits (all PaySim money: at most 2 decimals and below 1e13).
 */
export function formatJavaDouble(value: string | number): string {
  const plain = toPlainDecimal(value);
  const negative = plain.startsWith("-");
  const unsigned = negative ? plain.slice(1) : plain;
  const sign = negative ? "-" : "";
  const [whole = "0", fraction = ""] = unsigned.split(".");
  if (whole === "0" && fraction === "") return "0.0";

  const isPlainRange = whole.length < 8 && (whole !== "0" || /^00?[1-9]/.test(fraction) || /^[1-9]/.test(fraction));
  if (isPlainRange) return `${sign}${whole}.${fraction || "0"}`;

  // Scientific: d.ddddE<n> with the significant digits and the exponent of the first one.
  const digits = (whole === "0" ? "" : whole) + fraction;
  const leadingZeros = whole === "0" ? (/^0*/.exec(fraction)?.[0].length ?? 0) : 0;
  const exponent = whole === "0" ? -(leadingZeros + 1) : whole.length - 1;
  const significant = digits.slice(leadingZeros).replace(/0+$/, "");
  const head = significant.slice(0, 1);
  const tail = significant.slice(1) || "0";
  return `${sign}${head}.${tail}E${exponent}`;
}
