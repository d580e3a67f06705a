import { useEffect, useState } from "preact/hooks";
import type { AccountView, Api } from "./api.js";
import { Unavailable } from "./unavailable.js";

const ACCOUNT_HASH = /^#account=([A-Za-z0-9_-]{1,64})$/;

/** The account a link of the transactions table opened (#account=<name>), kept in the URL so it can be shared. */
function useLinkedAccount(): string | null {
  const read = () => ACCOUNT_HASH.exec(window.location.hash)?.[1] ?? null;
  const [account, setAccount] = useState(read);
  useEffect(() => {
    const onChange = () => setAccount(read());
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return account;
}

export const accountHref = (name: string) => `#account=${encodeURIComponent(name)}`;

/** GET /accounts/{name}: totals per role, then the newest 100 rows, balance mismatches marked. */
export function AccountPanel({ api }: { api: Api }) {
  const account = useLinkedAccount();
  const [view, setView] = useState<AccountView | null>(null);
  const [error, setError] = useState<Error | null>(null);
  useEffect(() => {
    setView(null);
    setError(null);
    if (!account) return;
    api
      .get<AccountView>(`/accounts/${account}`)
      .then(setView)
      .catch((caught: unknown) => setError(caught instanceof Error ? caught : new Error(String(caught))));
  }, [api, account]);
  if (!account) return null;
  const roles = view
    ? ([
        ["as origin", view.totals.asOrigin],
        ["as destination", view.totals.asDestination],
      ] as const)
    : [];
  return (
    <section class="panel account" data-testid="account">
      <div class="panel-head">
        <h2>
          Account <span class="mono">{account}</span>
        </h2>
        <span class="spacer" />
        <button
          type="button"
          class="secondary"
          onClick={() => {
            window.location.hash = "";
          }}
        >
          Close
        </button>
      </div>
      {error ? <Unavailable testId="account-unavailable" what="The account" reason={error.message} /> : null}
      {view ? (
        <>
          <table data-testid="account-totals">
            <thead>
              <tr>
                <th>role</th>
                <th class="num">count</th>
                <th class="num">amount</th>
                <th class="num">fraud</th>
                <th class="num">flagged</th>
                <th class="num">balances off</th>
              </tr>
            </thead>
            <tbody>
              {roles.map(([role, totals]) => (
                <tr key={role}>
                  <td>{role}</td>
                  <td class="num">{totals.count}</td>
                  <td class="num mono">{totals.amount}</td>
                  <td class="num">{totals.fraud.count}</td>
                  <td class="num">{totals.flaggedFraud.count}</td>
                  <td class="num">{totals.balanceMismatches}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <table data-testid="account-items">
            <thead>
              <tr>
                <th>received</th>
                <th>role</th>
                <th>type</th>
                <th class="num">amount</th>
                <th>counterparty</th>
                <th>balance</th>
              </tr>
            </thead>
            <tbody>
              {view.items.map(({ transaction, role, balanceMismatches }) => (
                <tr key={transaction.id} data-id={transaction.id} class={balanceMismatches.length ? "mismatch" : ""}>
                  <td>{transaction.receivedAt.replace("T", " ").slice(0, 19)}</td>
                  <td>{role}</td>
                  <td>{transaction.type}</td>
                  <td class="num mono">{transaction.amount}</td>
                  <td class="mono">{role === "destination" ? transaction.nameOrig : transaction.nameDest}</td>
                  <td data-col="balance">
                    {balanceMismatches.map((mismatch) => (
                      <span key={mismatch.side} class="badge fraud" title={`${mismatch.oldBalance} -> ${mismatch.newBalance}`}>
                        {mismatch.side}: expected {mismatch.expectedNewBalance}, is {mismatch.newBalance}
                      </span>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {view.nextCursor ? <p class="muted">the newest {view.items.length} shown</p> : null}
        </>
      ) : null}
    </section>
  );
}
