// The operation log: the API's filters, cursor paging, and a JSON Lines export that is
// fetched with the token in a header and saved from memory (the token never goes in a URL).

import { useEffect, useState } from "preact/hooks";
import type { Api, Query } from "../api";
import { count, problem, saveBlob, when } from "../format";
import { type LogEntry, OPERATIONS, RESOURCE_TYPES } from "../types";

const PAGE_SIZE = 50;

interface Filters {
  operation_type: string;
  resource_type: string;
  resource_id: string;
  agent_id: string;
  task_id: string;
  since: string; // datetime-local values, in the user's time zone
  until: string;
}

const EMPTY: Filters = { operation_type: "", resource_type: "", resource_id: "", agent_id: "",
  task_id: "", since: "", until: "" };

function toQuery(filters: Filters): Query {
  const iso = (local: string) => (local ? new Date(local).toISOString() : "");
  return { ...filters, resource_id: filters.resource_id.trim(), agent_id: filters.agent_id.trim(),
    task_id: filters.task_id.trim(), since: iso(filters.since), until: iso(filters.until) };
}

export function LogsView({ api }: { api: Api }) {
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [cursors, setCursors] = useState<string[]>([""]);
  const [entries, setEntries] = useState<LogEntry[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState("");
  const [loading, setLoading] = useState(true);
  const [exporting, setExporting] = useState(false);
  const cursor = cursors[cursors.length - 1];

  useEffect(() => {
    let live = true;
    setLoading(true);
    setError("");
    api.page<LogEntry>("/logs", { ...toQuery(filters), limit: PAGE_SIZE, cursor }).then((page) => {
      if (!live) return;
      setEntries(page.items);
      setNext(page.next);
    }, (failure) => live && setError(problem(failure))).finally(() => live && setLoading(false));
    return () => { live = false; };
  }, [api, filters, cursor]);

  const field = (name: keyof Filters) => (e: { currentTarget: { value: string } }) =>
    setDraft((d) => ({ ...d, [name]: e.currentTarget.value }));

  const exportJsonl = async () => {
    setExporting(true);
    try {
      const response = await api.request("GET", "/logs", { query: { ...toQuery(filters), format: "jsonl" } });
      saveBlob(await response.blob(), "logs.jsonl");
    } catch (failure) {
      setError(problem(failure));
    } finally {
      setExporting(false);
    }
  };

  return (
    <section class="logs" aria-labelledby="logs-title">
      <h2 id="logs-title">Logs</h2>
      <form class="log-filters" aria-label="Log filters" onSubmit={(e) => {
        e.preventDefault(); setFilters(draft); setCursors([""]);
      }}>
        <div><label for="log-op">Operation</label>
          <select id="log-op" value={draft.operation_type} onChange={field("operation_type")}>
            <option value="">Any operation</option>
            {OPERATIONS.map((op) => <option key={op} value={op}>{op}</option>)}
          </select></div>
        <div><label for="log-resource-type">Resource type</label>
          <select id="log-resource-type" value={draft.resource_type} onChange={field("resource_type")}>
            <option value="">Any resource</option>
            {RESOURCE_TYPES.map((t) => <option key={t} value={t}>{t}</option>)}
          </select></div>
        <div><label for="log-resource-id">Resource id</label>
          <input id="log-resource-id" value={draft.resource_id} onInput={field("resource_id")} /></div>
        <div><label for="log-agent">Agent</label>
          <input id="log-agent" value={draft.agent_id} onInput={field("agent_id")} /></div>
        <div><label for="log-task">Task</label>
          <input id="log-task" value={draft.task_id} onInput={field("task_id")} /></div>
        <div><label for="log-since">Since</label>
          <input id="log-since" type="datetime-local" value={draft.since} onInput={field("since")} /></div>
        <div><label for="log-until">Until</label>
          <input id="log-until" type="datetime-local" value={draft.until} onInput={field("until")} /></div>
        <div class="actions">
          <button type="submit">Apply filters</button>
          <button type="button" class="secondary" onClick={() => { setDraft(EMPTY); setFilters(EMPTY); setCursors([""]); }}>Reset</button>
          <button type="button" class="secondary" disabled={exporting} onClick={exportJsonl}>Export JSONL</button>
        </div>
      </form>
      {error && <p class="error" role="alert">{error}</p>}
      <p class="summary" role="status">{loading ? "Loading…" : `${count(entries.length, "entry", "entries")} on this page`}</p>
      <table class="log-table">
        <caption class="visually-hidden">Log entries, newest first</caption>
        <thead><tr><th scope="col">Time</th><th scope="col">Operation</th><th scope="col">Resource</th>
          <th scope="col">Agent</th><th scope="col">Task</th><th scope="col">Details</th></tr></thead>
        <tbody>
          {entries.map((entry) => (
            <tr key={entry.id}>
              <td>{when(entry.timestamp)}</td>
              <td><span class="op">{entry.operation_type}</span></td>
              <td>{entry.resource_type}{entry.resource_id ? ` ${entry.resource_id}` : ""}</td>
              <td>{entry.agent_id ?? ""}</td>
              <td>{entry.task_id ?? ""}</td>
              <td class="details-cell"><code>{JSON.stringify(entry.details)}</code></td>
            </tr>
          ))}
        </tbody>
      </table>
      <nav class="pager" aria-label="Log pages">
        <button type="button" disabled={cursors.length < 2} onClick={() => setCursors((c) => c.slice(0, -1))}>Previous page</button>
        <span>Page {cursors.length}</span>
        <button type="button" disabled={!next} onClick={() => next && setCursors((c) => [...c, next])}>Next page</button>
      </nav>
    </section>
  );
}
