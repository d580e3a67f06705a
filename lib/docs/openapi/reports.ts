import type { RouteConfig } from "@asteasolutions/zod-to-openapi";
import { ReportsQuery } from "../../reports/list.js";
import { storedPaymentExample, summaryExample } from "../../reports/schemas.js";
import { SUMMARY_CACHE_MS, SummaryQuery } from "../../reports/summary.js";
import { databaseUnavailable, invalidQuery, json, missingApiKey, ReportPageRef, SummaryRef } from "./components.js";

/** GET /reports, GET /reports/summary. */
export const reportRoutes: RouteConfig[] = [
  {
    method: "get",
    path: "/reports",
    operationId: "listTransactions",
    tags: ["reports"],
    summary: "Stored transactions, newest first",
    description: "Keyset pagination: pass the previous page's `nextCursor` as `cursor`. Filters combine with AND.",
    request: { query: ReportsQuery },
    responses: {
      200: { description: "One page.", ...json(ReportPageRef, { items: [storedPaymentExample], nextCursor: null }) },
      400: invalidQuery({
        status: 400,
        error: "Bad Request",
        message: "invalid query parameters",
        issues: [{ field: "limit", reason: "at most 1000" }],
      }),
      403: missingApiKey,
      503: databaseUnavailable,
    },
  },
  {
    method: "get",
    path: "/reports/summary",
    operationId: "summarizeTransactions",
    tags: ["reports"],
    summary: "Totals over a filter",
    description:
      "Count and exact sum of amounts overall, by type, by status and per step, plus fraud and flagged-fraud volumes, " +
      "computed by PostgreSQL over the rows matching every given filter (step range inclusive). Identical requests " +
      `share one computation, and its answer for ${SUMMARY_CACHE_MS / 1000} s after it: a summary may be that much older than the rows.`,
    request: { query: SummaryQuery },
    responses: {
      200: { description: "The totals; sums are exact NUMERIC decimal strings.", ...json(SummaryRef, summaryExample) },
      400: invalidQuery({
        status: 400,
        error: "Bad Request",
        message: "invalid query parameters",
        issues: [{ field: "stepFrom", reason: "stepFrom must not be greater than stepTo" }],
      }),
      403: missingApiKey,
      503: databaseUnavailable,
    },
  },
];
