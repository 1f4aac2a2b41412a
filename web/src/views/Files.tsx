// The file list: one server page at a time (cursor paging, so 10,000 files cost no more
// than 50), filters (type, tag, creator, folder), a folder tree, a search box, uploads,
// and the details panel. Rows still `pending` are polled until their scan finishes.

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { type Api, ApiError, foldersFromPaths } from "../api";
import { bytes, count, problem, when } from "../format";
import { FILE_TYPES, type FileRecord, type FileSearchHit, type Folder } from "../types";
import { FileDetails } from "./FileDetails";
import { Uploads } from "./Uploads";

const PAGE_SIZE = 50;
const SEARCH_LIMIT = 25;

interface Filters {
  file_type: string;
  tags: string;
  created_by: string;
  path: string;
}

const NO_FILTERS: Filters = { file_type: "", tags: "", created_by: "", path: "" };

export function FilesView({ api }: { api: Api }) {
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [query, setQuery] = useState("");
  const [searching, setSearching] = useState("");
  const [cursors, setCursors] = useState<string[]>([""]); // cursor of each page seen so far
  const [items, setItems] = useState<FileRecord[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [total, setTotal] = useState<number | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState("");
  const [selected, setSelected] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [message, setMessage] = useState("");
  const [reload, setReload] = useState(0);
  const latest = useRef(0);
  const cursor = cursors[cursors.length - 1];

  const apiFilters = { file_type: filters.file_type, tags: filters.tags.trim(),
    created_by: filters.created_by.trim(), path: filters.path };

  useEffect(() => {
    const ticket = ++latest.current;
    setLoading(true);
    setError("");
    // Search hits are the spec's short shape (no status or size): the rows read each record.
    const listing = searching
      ? api.get<FileSearchHit[]>("/files/search", { query: searching, limit: SEARCH_LIMIT })
        .then((hits) => Promise.all(hits.map((hit) => api.file(hit.id).catch(() => null))))
        .then((found) => ({ items: found.filter((f): f is FileRecord => f !== null), next: null }))
      : api.page<FileRecord>("/files", { ...apiFilters, limit: PAGE_SIZE, cursor });
    listing.then((page) => {
      if (ticket !== latest.current) return;
      setItems(page.items);
      setNext(page.next);
    }, (failure) => ticket === latest.current && setError(problem(failure)))
      .finally(() => ticket === latest.current && setLoading(false));
    if (!searching && cursor === "") {
      api.get<{ count: number }>("/files/count", apiFilters)
        .then((c) => ticket === latest.current && setTotal(c.count), () => setTotal(null));
    }
  }, [api, filters, cursor, searching, reload]);

  usePendingPoll(api, items, setItems);

  const refresh = useCallback(() => setReload((n) => n + 1), []);
  const applyFilters = (patch: Partial<Filters>) => {
    setFilters((current) => ({ ...current, ...patch }));
    setCursors([""]);
    setSearching("");
  };

  const remove = async (file: FileRecord) => {
    setConfirming(null);
    try {
      await api.request("DELETE", `/files/${file.id}`);
      setMessage(`Deleted ${file.filename}.`);
      if (selected === file.id) setSelected(null);
      refresh();
    } catch (failure) {
      setMessage(`Could not delete ${file.filename}: ${problem(failure)}`);
    }
  };

  const download = async (file: FileRecord) => {
    try {
      const link = document.createElement("a");
      link.href = await api.signedLink(file.id, false);
      link.download = file.filename;
      link.rel = "noopener";
      document.body.append(link);
      link.click();
      link.remove();
    } catch (failure) {
      setMessage(`Could not download ${file.filename}: ${problem(failure)}`);
    }
  };

  return (
    <section class="files" aria-labelledby="files-title">
      <div class="files-head">
        <h2 id="files-title">Files</h2>
        <form role="search" class="searchbox" onSubmit={(e) => {
          e.preventDefault(); setCursors([""]); setSearching(query.trim());
        }}>
          <label for="file-search" class="visually-hidden">Search files</label>
          <input id="file-search" type="search" placeholder="Search files" value={query}
            onInput={(e) => setQuery(e.currentTarget.value)} />
          <button type="submit">Search</button>
          {searching && <button type="button" class="secondary" onClick={() => {
            setQuery(""); setSearching("");
          }}>Clear search</button>}
        </form>
      </div>
      <Uploads api={api} folder={filters.path} onUploaded={refresh} />
      <div class="files-body">
        <aside class="sidebar">
          <FolderTree api={api} current={filters.path} items={items}
            onSelect={(path) => applyFilters({ path })} />
          <FilterForm filters={filters} onApply={applyFilters} />
        </aside>
        <div class="listing">
          <p class="summary" role="status">
            {searching ? `${count(items.length, "result")} for “${searching}”`
              : total !== null ? `${count(total, "file")}${filters.path ? ` in ${filters.path}` : ""}` : ""}
            {loading && " · loading…"}
          </p>
          {message && <p class="notice" role="status">{message}</p>}
          {error && <p class="error" role="alert">{error}</p>}
          <FileTable items={items} selected={selected} confirming={confirming}
            onOpen={setSelected} onDownload={download} onAskDelete={setConfirming}
            onDelete={remove} />
          {!searching && (
            <nav class="pager" aria-label="Pages">
              <button type="button" disabled={cursors.length < 2}
                onClick={() => setCursors((c) => c.slice(0, -1))}>Previous page</button>
              <span>Page {cursors.length}</span>
              <button type="button" disabled={!next}
                onClick={() => next && setCursors((c) => [...c, next])}>Next page</button>
            </nav>
          )}
        </div>
        {selected && <FileDetails api={api} fileId={selected} onClose={() => setSelected(null)}
          onChanged={refresh} />}
      </div>
    </section>
  );
}

/** Re-read the rows still being scanned, until none is. */
function usePendingPoll(api: Api, items: FileRecord[],
                        setItems: (update: (items: FileRecord[]) => FileRecord[]) => void) {
  const pending = items.filter((f) => f.status === "pending").map((f) => f.id).join(",");
  useEffect(() => {
    if (!pending) return undefined;
    const timer = setTimeout(async () => {
      const fresh = await Promise.all(pending.split(",").map((id) =>
        api.file(id).catch((e) => (e instanceof ApiError && e.status === 404 ? null : undefined))));
      const byId = new Map(fresh.filter((f): f is FileRecord => !!f).map((f) => [f.id, f]));
      setItems((current) => current.map((f) => byId.get(f.id) ?? f));
    }, 1000);
    return () => clearTimeout(timer);
  }, [api, pending, items, setItems]);
}

interface TableProps {
  items: FileRecord[];
  selected: string | null;
  confirming: string | null;
  onOpen: (id: string) => void;
  onDownload: (file: FileRecord) => void;
  onAskDelete: (id: string | null) => void;
  onDelete: (file: FileRecord) => void;
}

function FileTable({ items, selected, confirming, onOpen, onDownload, onAskDelete, onDelete }: TableProps) {
  if (!items.length) return <p class="empty">No files here yet.</p>;
  return (
    <table class="file-table">
      <caption class="visually-hidden">Files</caption>
      <thead>
        <tr><th scope="col">Name</th><th scope="col">Path</th><th scope="col">Type</th>
          <th scope="col">Size</th><th scope="col">Tags</th><th scope="col">Creator</th>
          <th scope="col">Status</th><th scope="col">Updated</th><th scope="col">Actions</th></tr>
      </thead>
      <tbody>
        {items.map((file) => (
          <tr key={file.id} class={selected === file.id ? "selected" : undefined}>
            <td><button type="button" class="link" aria-label={`Details of ${file.filename}`}
              onClick={() => onOpen(file.id)}>{file.filename}</button></td>
            <td class="path">{file.path}</td>
            <td>{file.file_type}</td>
            <td class="num">{bytes(file.size_bytes)}</td>
            <td>{file.tags.map((t) => <span class="tag" key={t}>{t}</span>)}</td>
            <td>{file.created_by ?? ""}</td>
            <td><span class={`status status-${file.status}`}>{file.status}</span></td>
            <td>{when(file.updated_at)}</td>
            <td class="actions">
              <button type="button" class="secondary" disabled={file.status !== "ready"}
                aria-label={`Download ${file.filename}`} onClick={() => onDownload(file)}>Download</button>
              {confirming === file.id ? (
                <>
                  <button type="button" class="danger" aria-label={`Confirm delete ${file.filename}`}
                    onClick={() => onDelete(file)}>Confirm</button>
                  <button type="button" class="secondary" onClick={() => onAskDelete(null)}>Cancel</button>
                </>
              ) : (
                <button type="button" class="danger" aria-label={`Delete ${file.filename}`}
                  onClick={() => onAskDelete(file.id)}>Delete</button>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function FilterForm({ filters, onApply }: { filters: Filters; onApply: (f: Partial<Filters>) => void }) {
  const [draft, setDraft] = useState(filters);
  useEffect(() => setDraft(filters), [filters]);
  const field = (name: keyof Filters) => (e: { currentTarget: { value: string } }) =>
    setDraft((d) => ({ ...d, [name]: e.currentTarget.value }));
  return (
    <form class="filters" aria-label="Filters" onSubmit={(e) => { e.preventDefault(); onApply(draft); }}>
      <h3>Filters</h3>
      <label for="filter-type">Type</label>
      <select id="filter-type" value={draft.file_type} onChange={field("file_type")}>
        <option value="">Any type</option>
        {FILE_TYPES.map((t) => <option key={t} value={t}>{t}</option>)}
      </select>
      <label for="filter-tag">Tag</label>
      <input id="filter-tag" value={draft.tags} onInput={field("tags")} />
      <label for="filter-creator">Creator</label>
      <input id="filter-creator" value={draft.created_by} onInput={field("created_by")} />
      <div class="actions">
        <button type="submit">Apply filters</button>
        <button type="button" class="secondary" onClick={() => onApply(NO_FILTERS)}>Reset</button>
      </div>
    </form>
  );
}

/** Folders from GET /folders when the API has it; before that, from the listed paths. The
 * served tree is fetched again whenever the listed files change (an upload, a delete). */
function FolderTree({ api, current, items, onSelect }: {
  api: Api; current: string; items: FileRecord[]; onSelect: (path: string) => void;
}) {
  const [served, setServed] = useState<Folder[] | null>(null);
  const parent = current || "/";
  useEffect(() => {
    let live = true;
    api.canListFolders().then(async (exists) => {
      if (live) setServed(exists ? await api.folders(parent) : null);
    }).catch(() => live && setServed(null));
    return () => { live = false; };
  }, [api, parent, items]);
  const folders = served ?? foldersFromPaths(items.map((f) => f.path), parent);
  const trail = parent.split("/").filter(Boolean);
  return (
    <nav class="folders" aria-label="Folders">
      <h3>Folders</h3>
      <ol class="crumbs">
        <li><button type="button" class="link" aria-current={parent === "/" ? "location" : undefined}
          onClick={() => onSelect("")}>All files</button></li>
        {trail.map((name, i) => {
          const path = `/${trail.slice(0, i + 1).join("/")}/`;
          return <li key={path}><button type="button" class="link"
            aria-current={path === parent ? "location" : undefined}
            onClick={() => onSelect(path)}>{name}</button></li>;
        })}
      </ol>
      {folders.length > 0 && (
        <ul class="tree">
          {folders.map((folder) => (
            <li key={folder.path}><button type="button" class="link" onClick={() => onSelect(folder.path)}>
              {folder.name}/{folder.file_count !== undefined ? ` (${folder.file_count})` : ""}
            </button></li>
          ))}
        </ul>
      )}
    </nav>
  );
}
