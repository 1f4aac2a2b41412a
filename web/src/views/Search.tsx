// The combined search across files, memory and logs, with its summary counts.

import { useState } from "preact/hooks";
import type { Api } from "../api";
import { count, problem, when } from "../format";
import type { SearchResult } from "../types";

const TYPES = ["files", "memory", "logs"] as const;

export function SearchView({ api }: { api: Api }) {
  const [query, setQuery] = useState("");
  const [types, setTypes] = useState<string[]>([...TYPES]);
  const [result, setResult] = useState<SearchResult | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  const run = async (event: Event) => {
    event.preventDefault();
    if (!query.trim()) return;
    setBusy(true);
    setError("");
    try {
      setResult(await api.get<SearchResult>("/search", { query: query.trim(), types }));
    } catch (failure) {
      setError(problem(failure));
    } finally {
      setBusy(false);
    }
  };

  const toggle = (type: string) =>
    setTypes((current) => current.includes(type) ? current.filter((t) => t !== type) : [...current, type]);
  const files = result?.results.files ?? [];
  const matches = result?.results.memory?.matches ?? [];
  const logs = result?.results.logs ?? [];

  return (
    <section class="search" aria-labelledby="search-title">
      <h2 id="search-title">Search</h2>
      <form role="search" class="searchbox" onSubmit={run}>
        <label for="workspace-search">Search the workspace</label>
        <input id="workspace-search" type="search" value={query} required
          onInput={(e) => setQuery(e.currentTarget.value)} />
        <fieldset class="types">
          <legend>In</legend>
          {TYPES.map((type) => (
            <label key={type}><input type="checkbox" checked={types.includes(type)}
              onChange={() => toggle(type)} /> {type}</label>
          ))}
        </fieldset>
        <button type="submit" disabled={busy || !types.length}>Search</button>
      </form>
      {error && <p class="error" role="alert">{error}</p>}
      {result && (
        <div class="results">
          <p class="summary" role="status">
            {count(result.summary.files_count ?? files.length, "file")},{" "}
            {count(result.summary.memory_matches ?? matches.length, "memory match", "memory matches")},{" "}
            {count(result.summary.logs_count ?? logs.length, "log entry", "log entries")} for “{result.query}”
          </p>
          {types.includes("files") && (
            <section aria-labelledby="found-files"><h3 id="found-files">Files</h3>
              {files.length ? <ul>{files.map((f) => <li key={f.id}><strong>{f.filename}</strong> <span class="path">{f.path}</span>
                {f.description ? ` · ${f.description}` : ""}</li>)}</ul> : <p class="empty">No files match.</p>}</section>
          )}
          {types.includes("memory") && (
            <section aria-labelledby="found-memory"><h3 id="found-memory">Memory</h3>
              {matches.length ? <ul>{matches.map((m) => <li key={m.line_number}>Line {m.line_number}: <q>{m.snippet}</q></li>)}</ul>
                : <p class="empty">No lines of the memory match.</p>}</section>
          )}
          {types.includes("logs") && (
            <section aria-labelledby="found-logs"><h3 id="found-logs">Logs</h3>
              {logs.length ? <ul>{logs.map((l) => <li key={l.id}><span class="op">{l.operation_type}</span> {l.resource_type}
                {l.resource_id ? ` ${l.resource_id}` : ""} · {when(l.timestamp)}</li>)}</ul> : <p class="empty">No log entries match.</p>}</section>
          )}
        </div>
      )}
    </section>
  );
}
