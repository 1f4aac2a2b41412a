// The details panel: metadata, tags, checksum, versions, the file's log entries, an image
// preview through a short-lived signed link, and editing where the API allows it.

import { useEffect, useState } from "preact/hooks";
import type { Api } from "../api";
import { bytes, problem, when } from "../format";
import type { FileRecord, FileVersion, LogEntry } from "../types";

interface Props {
  api: Api;
  fileId: string;
  onClose: () => void;
  onChanged: () => void;
}

export function FileDetails({ api, fileId, onClose, onChanged }: Props) {
  const [file, setFile] = useState<FileRecord | null>(null);
  const [logs, setLogs] = useState<LogEntry[]>([]);
  const [versions, setVersions] = useState<FileVersion[] | null>(null);
  const [preview, setPreview] = useState("");
  const [editable, setEditable] = useState(false);
  const [error, setError] = useState("");
  const [reload, setReload] = useState(0);

  useEffect(() => {
    let live = true;
    setError("");
    setPreview("");
    api.file(fileId).then(async (record) => {
      if (!live) return;
      setFile(record);
      const image = record.mime_type.startsWith("image/") && record.status === "ready";
      const [entries, link, canEdit, hasVersions] = await Promise.all([
        api.fileLogs(fileId).catch(() => []),
        image ? api.signedLink(fileId, true).catch(() => "") : Promise.resolve(""),
        api.canEditFiles(fileId),
        api.canListVersions(fileId),
      ]);
      if (!live) return;
      setLogs(entries);
      setPreview(link);
      setEditable(canEdit);
      setVersions(hasVersions
        ? await api.get<FileVersion[]>(`/files/${fileId}/versions`).catch(() => null) : null);
    }, (failure) => live && setError(problem(failure)));
    return () => { live = false; };
  }, [api, fileId, reload]);

  return (
    <aside class="details" aria-labelledby="details-title">
      <div class="details-head">
        <h3 id="details-title">{file ? file.filename : "File details"}</h3>
        <button type="button" class="secondary" onClick={onClose}>Close details</button>
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      {file && (
        <>
          {preview && <img class="preview" src={preview} alt={`Preview of ${file.filename}`} />}
          <dl class="meta">
            <dt>Id</dt><dd>{file.id}</dd>
            <dt>Path</dt><dd>{file.path}</dd>
            <dt>Status</dt><dd><span class={`status status-${file.status}`}>{file.status}</span></dd>
            <dt>Type</dt><dd>{file.file_type} ({file.mime_type})</dd>
            <dt>Size</dt><dd>{bytes(file.size_bytes)}</dd>
            <dt>Version</dt><dd>{file.version}</dd>
            <dt>Checksum ({file.checksum_algorithm})</dt><dd class="mono">{file.checksum}</dd>
            <dt>Created by</dt><dd>{file.created_by ?? "—"}</dd>
            <dt>Created</dt><dd>{when(file.created_at)}</dd>
            <dt>Updated</dt><dd>{when(file.updated_at)}</dd>
            <dt>Description</dt><dd>{file.description || "—"}</dd>
            <dt>Tags</dt><dd>{file.tags.length ? file.tags.map((t) => <span class="tag" key={t}>{t}</span>) : "—"}</dd>
          </dl>
          {editable && <EditForm api={api} file={file} onSaved={() => { setReload((n) => n + 1); onChanged(); }} />}
          {versions && (
            <section aria-labelledby="versions-title">
              <h4 id="versions-title">Versions</h4>
              <ul class="versions">
                {versions.map((v) => <li key={v.version}>Version {v.version}
                  {v.created_at ? ` · ${when(v.created_at)}` : ""}
                  {v.size_bytes !== undefined ? ` · ${bytes(v.size_bytes)}` : ""}</li>)}
              </ul>
            </section>
          )}
          <section aria-labelledby="file-log-title">
            <h4 id="file-log-title">Log entries</h4>
            {logs.length ? (
              <ul class="file-log">
                {logs.map((entry) => <li key={entry.id}>
                  <span class="op">{entry.operation_type}</span> {when(entry.timestamp)}
                  {entry.agent_id ? ` · ${entry.agent_id}` : ""}
                </li>)}
              </ul>
            ) : <p class="empty">No log entries.</p>}
          </section>
        </>
      )}
    </aside>
  );
}

/** PATCH /files/{id} (description and tags): shown only where the API answers it. */
function EditForm({ api, file, onSaved }: { api: Api; file: FileRecord; onSaved: () => void }) {
  const [description, setDescription] = useState(file.description);
  const [tags, setTags] = useState(file.tags.join(", "));
  const [status, setStatus] = useState("");
  const save = async (event: Event) => {
    event.preventDefault();
    try {
      await api.request("PATCH", `/files/${file.id}`, { json: {
        description, tags: tags.split(",").map((t) => t.trim()).filter(Boolean),
      } });
      setStatus("Saved.");
      onSaved();
    } catch (failure) {
      setStatus(`Not saved: ${problem(failure)}`);
    }
  };
  return (
    <form class="edit" onSubmit={save}>
      <h4>Edit</h4>
      <label for="edit-description">Description</label>
      <textarea id="edit-description" rows={3} value={description}
        onInput={(e) => setDescription(e.currentTarget.value)} />
      <label for="edit-tags">Tags (comma-separated)</label>
      <input id="edit-tags" value={tags} onInput={(e) => setTags(e.currentTarget.value)} />
      <button type="submit">Save changes</button>
      {status && <p role="status">{status}</p>}
    </form>
  );
}
