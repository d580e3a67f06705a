import type { RouteConfig } from "@asteasolutions/zod-to-openapi";
import { AccountView, accountViewExample } from "../../accounts/schemas.js";
import { AccountParams, AccountQuery } from "../../accounts/view.js";
import { databaseUnavailable, invalidQuery, json, missingApiKey, problem } from "./components.js";

const AccountViewRef = AccountView.meta({ id: "AccountView" });

/** GET /accounts/{name}. */
export const accountRoutes: RouteConfig[] = [
  {
    method: "get",
    path: "/accounts/{name}",
    operationId: "viewAccount",
    tags: ["reports"],
    summary: "One account: its transactions, totals, fraud and balance flags",
    description:
      "The account's transactions as origin (nameOrig) and as destination (nameDest), newest first a keyset page at a time " +
      "(pass `nextCursor` as `cursor`), with totals over all of them per role: count and exact sum, fraud and flagged-fraud " +
      "volumes, and how many do not add up. A transaction is flagged (`balanceMismatches`) where the account's side of " +
      "PaySim's balance columns does not add up: origin old - amount = new (CASH_IN: old + amount), destination " +
      "old + amount = new (CASH_IN: old - amount); merchants (M...) have no balances in PaySim and are not checked. " +
      "`asOf` as in GET /reports.",
    request: { params: AccountParams, query: AccountQuery },
    responses: {
      200: { description: "The account.", ...json(AccountViewRef, accountViewExample) },
      400: invalidQuery({
        status: 400,
        error: "Bad Request",
        message: "invalid path parameters",
        issues: [{ field: "name", reason: "1 to 64 letters, digits, '_' or '-'" }],
      }),
      403: missingApiKey,
      404: problem("No stored transaction names the account (as of `asOf`).", {
        status: 404,
        error: "Not Found",
        message: "no stored transaction names account C0000000000",
      }),
      503: databaseUnavailable,
    },
  },
];
