import { render } from "preact";
import { useMemo, useState } from "preact/hooks";
import { AccountPanel } from "./account.js";
import { type Api, api, forgetKey, KeyRefusedError, storedKey, storeKey } from "./api.js";
import { PipelinePanels } from "./pipeline.js";
import { SummaryPanels } from "./summary.js";
import { TransactionsTable } from "./transactions.js";
import "./style.css";

/** The page's API base path ("" locally, "/{stage}" behind API Gateway), given by the server in data-base. */
const root = document.getElementById("app") as HTMLElement;
const BASE = root.dataset.base ?? "";

function KeyPrompt({ onKey, refused }: { onKey: (key: string) => void; refused: boolean }) {
  const [value, setValue] = useState("");
  return (
    <main class="prompt">
      <form
        data-testid="key-prompt"
        onSubmit={(event) => {
          event.preventDefault();
          if (value.trim()) onKey(value.trim());
        }}
      >
        <h1>txlog pipeline</h1>
        <p>
          The dashboard reads the API with your API key (header <code>x-api-key</code>). It is kept in this tab only
          (sessionStorage) and never in the page. Locally, <code>npm start</code> prints it.
        </p>
        {refused && (
          <p class="error" role="alert">
            That key was refused (403). Enter the API key again.
          </p>
        )}
        <label for="api-key">API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autocomplete="off"
          minLength={20}
          maxLength={128}
          required
          value={value}
          onInput={(event) => setValue((event.target as HTMLInputElement).value)}
        />
        <button type="submit">Open the dashboard</button>
      </form>
    </main>
  );
}

function Dashboard({ client, onSignOut, onRefused }: { client: Api; onSignOut: () => void; onRefused: () => void }) {
  const [live, setLive] = useState(true);
  // Every reader goes through this: a 403 anywhere means the key is no longer good.
  const guarded = useMemo<Api>(
    () => ({
      async get(path, query) {
        try {
          return await client.get(path, query);
        } catch (error) {
          if (error instanceof KeyRefusedError) onRefused();
          throw error;
        }
      },
      async csv(path, query) {
        try {
          return await client.csv(path, query);
        } catch (error) {
          if (error instanceof KeyRefusedError) onRefused();
          throw error;
        }
      },
    }),
    [client, onRefused],
  );
  return (
    <main class="dashboard">
      <header>
        <h1>txlog pipeline</h1>
        <span class="muted">HTTP API → Kafka → consumer → PostgreSQL</span>
        <span class="spacer" />
        <label class="toggle">
          <input type="checkbox" checked={live} onChange={(event) => setLive((event.target as HTMLInputElement).checked)} />
          live
        </label>
        <a href={`${BASE}/docs`}>API docs</a>
        <button type="button" class="secondary" onClick={onSignOut}>
          Forget key
        </button>
      </header>
      <PipelinePanels api={guarded} live={live} />
      <SummaryPanels api={guarded} live={live} />
      <AccountPanel api={guarded} />
      <TransactionsTable api={guarded} live={live} />
    </main>
  );
}

function App() {
  const [key, setKey] = useState<string | null>(storedKey());
  const [refused, setRefused] = useState(false);
  const client = useMemo(() => (key ? api(BASE, key) : null), [key]);
  const signOut = useMemo(
    () => () => {
      forgetKey();
      setKey(null);
    },
    [],
  );
  const onRefused = useMemo(
    () => () => {
      forgetKey();
      setRefused(true);
      setKey(null);
    },
    [],
  );
  if (!client) {
    return (
      <KeyPrompt
        refused={refused}
        onKey={(entered) => {
          storeKey(entered);
          setRefused(false);
          setKey(entered);
        }}
      />
    );
  }
  return <Dashboard client={client} onSignOut={signOut} onRefused={onRefused} />;
}

root.replaceChildren();
render(<App />, root);
