// The global memory: an editor with a usage bar, saves guarded by If-Match (a 409 shows the
// conflict, with reload or overwrite), and the version history with revert.

import { useCallback, useEffect, useState } from "preact/hooks";
import { type Api, ApiError } from "../api";
import { count, problem, when } from "../format";
import type { MemoryDocument, MemoryVersion, MemoryWriteResult } from "../types";

interface Conflict {
  current: number;
  mine: string;
}

export function MemoryView({ api }: { api: Api }) {
  const [doc, setDoc] = useState<MemoryDocument | null>(null);
  const [text, setText] = useState("");
  const [versions, setVersions] = useState<MemoryVersion[]>([]);
  const [conflict, setConflict] = useState<Conflict | null>(null);
  const [status, setStatus] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    const [fresh, history] = await Promise.all([
      api.get<MemoryDocument>("/memory"), api.get<MemoryVersion[]>("/memory/versions"),
    ]);
    setDoc(fresh);
    setText(fresh.content);
    setVersions(history);
    return fresh;
  }, [api]);

  useEffect(() => { load().catch((failure) => setError(problem(failure))); }, [load]);

  const write = async (content: string, basedOn: number) => {
    setBusy(true);
    setError("");
    setStatus("");
    try {
      const result = await api.json<MemoryWriteResult>("POST", "/memory", {
        json: { content }, headers: { "If-Match": `"${basedOn}"` },
      });
      setConflict(null);
      await load();
      setStatus(result.truncated && result.message ? result.message
        : `Saved as version ${result.version}.`);
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 409
          && typeof failure.body.current_version === "number") {
        setConflict({ current: failure.body.current_version, mine: content });
      } else {
        setError(problem(failure));
      }
    } finally {
      setBusy(false);
    }
  };

  const revert = async (version: number) => {
    if (!doc) return;
    setBusy(true);
    setError("");
    try {
      await api.request("POST", `/memory/versions/${version}/revert`,
        { headers: { "If-Match": `"${doc.version}"` } });
      await load();
      setStatus(`Reverted to version ${version}.`);
    } catch (failure) {
      setError(failure instanceof ApiError && failure.status === 409
        ? "The memory changed since you loaded it; reload and try again." : problem(failure));
    } finally {
      setBusy(false);
    }
  };

  if (!doc) return <section class="memory"><h2>Memory</h2>{error ? <p class="error" role="alert">{error}</p> : <p>Loading…</p>}</section>;
  const max = doc.info.max_length;
  const over = text.length > max;
  return (
    <section class="memory" aria-labelledby="memory-title">
      <h2 id="memory-title">Memory</h2>
      <p class="hint">Version {doc.version}{doc.updated_at ? `, saved ${when(doc.updated_at)}` : ""}
        {doc.updated_by ? ` by ${doc.updated_by}` : ""}.</p>
      <form class="memory-form" onSubmit={(e) => { e.preventDefault(); void write(text, doc.version); }}>
        <label for="memory-text">Global memory</label>
        <textarea id="memory-text" rows={16} value={text} spellcheck={false}
          onInput={(e) => setText(e.currentTarget.value)} />
        <div class="usage">
          <meter id="memory-usage" min={0} max={max} value={Math.min(text.length, max)}
            high={max * 0.9} optimum={0} aria-label="Memory usage" />
          <span class={over ? "error" : undefined}>{text.length.toLocaleString()} / {max.toLocaleString()} characters</span>
        </div>
        <div class="actions">
          <button type="submit" disabled={busy}>Save</button>
          <button type="button" class="secondary" disabled={busy} onClick={() => { void load(); setStatus(""); }}>Discard changes</button>
        </div>
      </form>
      {conflict && (
        <div class="conflict" role="alert">
          <p><strong>Conflict:</strong> someone else saved version {conflict.current} while you were
            editing version {doc.version}. Your text is not saved.</p>
          <div class="actions">
            <button type="button" onClick={() => { setConflict(null); void load(); }}>Reload their version</button>
            <button type="button" class="danger" disabled={busy}
              onClick={() => void write(conflict.mine, conflict.current)}>Overwrite with mine</button>
          </div>
        </div>
      )}
      {status && <p class="notice" role="status">{status}</p>}
      {error && <p class="error" role="alert">{error}</p>}
      <section aria-labelledby="history-title">
        <h3 id="history-title">Version history</h3>
        {versions.length ? (
          <table class="versions-table">
            <thead><tr><th scope="col">Version</th><th scope="col">Saved</th><th scope="col">By</th>
              <th scope="col">Operation</th><th scope="col">Length</th><th scope="col">Action</th></tr></thead>
            <tbody>
              {versions.map((v) => (
                <tr key={v.version}>
                  <td>{v.version}{v.version === doc.version ? " (current)" : ""}</td>
                  <td>{when(v.created_at)}</td>
                  <td>{v.updated_by ?? ""}</td>
                  <td>{v.operation}</td>
                  <td class="num">{count(v.length, "char")}</td>
                  <td>{v.version !== doc.version && (
                    <button type="button" class="secondary" disabled={busy}
                      onClick={() => void revert(v.version)}>Revert to version {v.version}</button>
                  )}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : <p class="empty">No versions yet.</p>}
      </section>
    </section>
  );
}
