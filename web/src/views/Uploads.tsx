// Uploads: a file picker ("Upload files") and a drop zone; several files at once, each with
// its own progress bar and live status (pending, then ready or infected), and the choices a
// refusal offers (overwrite on a 409, retry on a 503).

import { useMemo, useRef, useState } from "preact/hooks";
import type { Api } from "../api";
import { bytes } from "../format";
import { type UploadItem, Uploader } from "../upload";

interface Props {
  api: Api;
  folder: string;
  onUploaded: () => void;
}

let nextKey = 1;

export function Uploads({ api, folder, onUploaded }: Props) {
  const [items, setItems] = useState<UploadItem[]>([]);
  const [over, setOver] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const uploader = useMemo(() => new Uploader(api, (item) => {
    setItems((list) => list.map((i) => (i.key === item.key ? { ...item } : i)));
    if (["ready", "infected", "pending"].includes(item.state) && item.progress >= 1) onUploaded();
  }), [api, onUploaded]);

  const start = (files: FileList | File[] | null) => {
    const added = [...(files ?? [])].map((file): UploadItem => ({
      key: nextKey++, file, progress: 0, state: "queued", message: "",
    }));
    if (!added.length) return;
    setItems((list) => [...added, ...list]);
    // One at a time keeps the progress bars honest on a slow link; each still shows its own.
    void added.reduce((done, item) => done.then(() => uploader.run(item, folder)),
      Promise.resolve());
  };

  return (
    <section class="uploads" aria-labelledby="uploads-title">
      <h3 id="uploads-title" class="visually-hidden">Uploads</h3>
      <div class={`dropzone${over ? " over" : ""}`}
        onDragOver={(e) => { e.preventDefault(); setOver(true); }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => { e.preventDefault(); setOver(false); start(e.dataTransfer?.files ?? null); }}>
        <label for="upload-input">Upload files</label>
        <input id="upload-input" ref={input} type="file" multiple
          onChange={(e) => { start(e.currentTarget.files); e.currentTarget.value = ""; }} />
        <span class="hint">or drop files here{folder ? ` (into ${folder})` : ""}</span>
      </div>
      {items.length > 0 && (
        <ul class="upload-list" aria-label="Upload progress">
          {items.map((item) => (
            <li key={item.key} class={`upload upload-${item.state}`}>
              <span class="name">{item.file.name}</span>
              <span class="size">{bytes(item.file.size)}</span>
              <progress max={1} value={item.progress}
                aria-label={`Upload of ${item.file.name}`}>{Math.round(item.progress * 100)}%</progress>
              <span class={`status status-${item.state}`}>{item.state}</span>
              {item.message && <span class="message" role={item.state === "ready" ? undefined : "alert"}>{item.message}</span>}
              {item.state === "conflict" && (
                <button type="button" onClick={() => void uploader.run(item, folder, true)}>
                  Overwrite {item.conflictPath || item.file.name}
                </button>
              )}
              {item.state === "failed" && (
                <button type="button" class="secondary" onClick={() => void uploader.run(item, folder)}>
                  Retry {item.file.name}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
