// The shell: sign-in until there is a session, then the navigation and the four views.

import { useEffect, useMemo, useState } from "preact/hooks";
import { Api } from "../api";
import { restoreSession, type Session } from "../session";
import type { AppConfig } from "../types";
import { FilesView } from "./Files";
import { LogsView } from "./Logs";
import { MemoryView } from "./Memory";
import { SearchView } from "./Search";
import { SignIn } from "./SignIn";

const VIEWS = ["files", "memory", "logs", "search"] as const;
type View = (typeof VIEWS)[number];
const TITLES: Record<View, string> = { files: "Files", memory: "Memory", logs: "Logs", search: "Search" };

function currentView(): View {
  const name = location.hash.replace(/^#\/?/, "").split("?")[0];
  return (VIEWS as readonly string[]).includes(name) ? (name as View) : "files";
}

export function App({ config }: { config: AppConfig }) {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [view, setView] = useState<View>(currentView());
  const [notice, setNotice] = useState("");

  useEffect(() => {
    restoreSession(config).then(setSession, () => setSession(null));
    const onHash = () => setView(currentView());
    addEventListener("hashchange", onHash);
    return () => removeEventListener("hashchange", onHash);
  }, [config]);

  useEffect(() => {
    document.title = session ? `${TITLES[view]} · Agent workspace` : "Sign in · Agent workspace";
  }, [view, session]);

  const api = useMemo(() => session ? new Api(config.api_base ?? "", session.token, () => {
    setNotice("Your session has expired. Please sign in again.");
    void session.signOut().then(() => setSession(null));
  }) : null, [session, config]);

  if (session === undefined) return <p class="boot">Loading the workspace…</p>;
  if (!session || !api) {
    return <SignIn config={config} notice={notice} onSession={(s) => { setNotice(""); setSession(s); }} />;
  }
  const signOut = async () => {
    await session.signOut();
    setSession(null);
  };
  return (
    <div class="shell">
      <header class="topbar">
        <h1>Agent workspace</h1>
        <nav aria-label="Main">
          <ul>
            {VIEWS.map((name) => (
              <li key={name}>
                <a href={`#/${name}`} aria-current={view === name ? "page" : undefined}>{TITLES[name]}</a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span>Signed in as <strong>{session.user}</strong></span>
          <button type="button" class="link" onClick={signOut}>Sign out</button>
        </div>
      </header>
      <main id="main">
        {view === "files" && <FilesView api={api} />}
        {view === "memory" && <MemoryView api={api} />}
        {view === "logs" && <LogsView api={api} />}
        {view === "search" && <SearchView api={api} />}
      </main>
    </div>
  );
}
