import type { RouteConfig } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import { CSV_HEADER, csvLine, MAX_CSV_BYTES, MAX_CSV_ROWS, NEXT_CURSOR_HEADER } from "../../reports/csv.js";
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
    description:
      "Keyset pagination: pass the previous page's `nextCursor` as `cursor`. Filters combine with AND. `asOf` answers as the " +
      "log stood at that instant (rows stored by then). `format=csv` (or `Accept: text/csv`) answers the same rows as CSV: " +
      `a bounded export of at most ${MAX_CSV_ROWS} rows (\`limit\`) and about ${MAX_CSV_BYTES / 1024 / 1024} MiB a response, because ` +
      "API Gateway and Lambda buffer a response (6 MB at most); when more rows match, the `Next-Cursor` header is the `cursor` of the " +
      "next response, and every response is a whole CSV file with its header row. Money columns are exact decimals as stored; text " +
      "cells starting with = + - @ tab or CR are prefixed with a single quote so spreadsheets never run them as formulas.",
    request: { query: ReportsQuery },
    responses: {
      200: {
        description: "One page (JSON), or a CSV export of the matching rows.",
        content: {
          ...json(ReportPageRef, { items: [storedPaymentExample], nextCursor: null }).content,
          "text/csv": { schema: z.string(), example: `${CSV_HEADER}${csvLine(storedPaymentExample)}\r\n` },
        },
        headers: z.object({
          [NEXT_CURSOR_HEADER]: z.string().optional().meta({
            description: "CSV only, when more rows match: pass it as `cursor` (with the same filters) for the next part.",
          }),
        }),
      },
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
