// Uploads: the direct signed-URL path where the backend has it, multipart POST elsewhere.
//
// Direct (GCS backend): POST /files/upload-url reserves a `pending` record and returns a V4
// signed URL; the bytes go straight to storage in a PUT with exactly the signed headers;
// then the record is polled until the finalize scan marks it `ready` or `infected`.
// Embedded backend: /upload-url answers 501, and the file goes through multipart
// POST /files, which scans inline (a 422 means infected, and nothing is stored).
// Which path applies is learned from the first /upload-url answer, not configured.

import { type Api, ApiError } from "./api";
import type { FileRecord, LogEntry, UploadTicket } from "./types";

export type UploadState = "queued" | "uploading" | "pending" | "ready" | "infected" | "failed"
  | "conflict";

export interface UploadItem {
  key: number;
  file: File;
  progress: number; // 0..1 of the bytes sent
  state: UploadState;
  message: string;
  fileId?: string;
  path?: string;
  conflictPath?: string;
}

interface Sent {
  status: number;
  body: Record<string, unknown>;
}

const POLL_LIMIT_MS = 5 * 60_000;

/** One HTTP request through XMLHttpRequest, for its upload progress events. */
function send(method: string, url: string, headers: Record<string, string>, body: Blob | FormData,
              onProgress: (fraction: number) => void): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      let parsed: Record<string, unknown> = {};
      try {
        const value: unknown = xhr.responseText ? JSON.parse(xhr.responseText) : {};
        if (value && typeof value === "object") parsed = value as Record<string, unknown>;
      } catch {
        parsed = { error: xhr.statusText || `HTTP ${xhr.status}` };
      }
      resolve({ status: xhr.status, body: parsed });
    };
    xhr.onerror = () => reject(new Error("the connection failed (network error or CORS)"));
    xhr.onabort = () => reject(new Error("the upload was cancelled"));
    xhr.send(body);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The words to show for a refused upload. */
export function refusal(status: number, body: Record<string, unknown>, maxMb?: number): string {
  const error = typeof body.error === "string" ? body.error : `HTTP ${status}`;
  switch (status) {
    case 409:
      return `A file already exists at ${String(body.path ?? "this path")}.`;
    case 413: {
      const max = typeof body.max_bytes === "number" ? body.max_bytes / 1048576 : maxMb;
      return max ? `Too large: the limit is ${max.toLocaleString()} MiB.` : `Too large: ${error}`;
    }
    case 422:
      return `Infected: ${String(body.signature ?? "malware found")}. Nothing was stored.`;
    case 503:
      return "The virus scanner or a backend is unavailable; nothing was stored. Try again.";
    default:
      return error;
  }
}

function signatureOf(record: FileRecord): string {
  const scan = record.metadata?.scan as { signature?: unknown } | undefined;
  return typeof scan?.signature === "string" ? scan.signature : "malware found";
}

export class Uploader {
  /** Whether /upload-url exists here; unknown until the first upload asks. */
  private direct: boolean | undefined;

  constructor(private readonly api: Api, private readonly changed: (item: UploadItem) => void) {}

  private update(item: UploadItem, patch: Partial<UploadItem>): void {
    Object.assign(item, patch);
    this.changed(item);
  }

  /** Upload one file into `folder` (a path ending in "/", or "" for the default). */
  async run(item: UploadItem, folder: string, overwrite = false): Promise<void> {
    this.update(item, { state: "uploading", progress: 0, message: "", conflictPath: undefined });
    try {
      if (this.direct !== false) {
        const ticket = await this.ticket(item, folder, overwrite);
        if (ticket) return await this.putDirect(item, ticket);
      }
      await this.multipart(item, folder, overwrite);
    } catch (error) {
      if (error instanceof ApiError) return this.refused(item, error.status, error.body);
      this.update(item, { state: "failed", message: error instanceof Error ? error.message : String(error) });
    }
  }

  private refused(item: UploadItem, status: number, body: Record<string, unknown>): void {
    const state: UploadState = status === 409 && body.file_id ? "conflict"
      : status === 422 ? "infected" : "failed";
    this.update(item, {
      state, message: refusal(status, body),
      conflictPath: state === "conflict" ? String(body.path ?? "") : undefined,
    });
  }

  private async ticket(item: UploadItem, folder: string,
                       overwrite: boolean): Promise<UploadTicket | null> {
    try {
      const ticket = await this.api.json<UploadTicket>("POST", "/files/upload-url", {
        json: {
          filename: item.file.name, size_bytes: item.file.size,
          mime_type: item.file.type || "application/octet-stream",
          ...(folder ? { path: folder } : {}), ...(overwrite ? { overwrite: true } : {}),
        },
      });
      this.direct = true;
      return ticket;
    } catch (error) {
      if (error instanceof ApiError && [404, 405, 501].includes(error.status)) {
        this.direct = false; // the embedded backend: multipart it is
        return null;
      }
      throw error;
    }
  }

  private async putDirect(item: UploadItem, ticket: UploadTicket): Promise<void> {
    this.update(item, { fileId: ticket.file_id, path: ticket.path });
    const sent = await send(ticket.method, ticket.upload_url, ticket.headers, item.file,
      (progress) => this.update(item, { progress }));
    if (sent.status < 200 || sent.status >= 300) {
      this.update(item, { state: "failed", message: `Storage refused the upload (HTTP ${sent.status}).` });
      return;
    }
    this.update(item, { progress: 1, state: "pending", message: "Scanning…" });
    await this.awaitScan(item, ticket);
  }

  /** Poll the record until the finalize scan has decided about this version. */
  private async awaitScan(item: UploadItem, ticket: UploadTicket): Promise<void> {
    const deadline = Date.now() + POLL_LIMIT_MS;
    for (let delay = 500; Date.now() < deadline; delay = Math.min(delay * 1.5, 3000)) {
      await sleep(delay);
      const record = await this.api.file(ticket.file_id);
      if (record.status === "infected") {
        this.update(item, { state: "infected", message: `Infected: ${signatureOf(record)}.` });
        return;
      }
      if (record.status === "ready" && record.version >= ticket.version) {
        this.update(item, { state: "ready", message: "" });
        return;
      }
      if (record.version < ticket.version && (await this.overwriteRejected(ticket))) {
        this.update(item, { state: "infected", message: "Infected: the previous version stays." });
        return;
      }
    }
    this.update(item, { state: "pending", message: "Still scanning; the list will show the outcome." });
  }

  private async overwriteRejected(ticket: UploadTicket): Promise<boolean> {
    const scans = await this.api.get<LogEntry[]>("/logs", {
      resource_id: ticket.file_id, operation_type: "scan", limit: 5,
    });
    return scans.some((entry) => entry.details.version === ticket.version
      && entry.details.verdict === "infected");
  }

  private async multipart(item: UploadItem, folder: string, overwrite: boolean): Promise<void> {
    const form = new FormData();
    // path and overwrite before the file part: the server reserves the path first.
    if (folder) form.append("path", folder);
    if (overwrite) form.append("overwrite", "true");
    form.append("file", item.file, item.file.name);
    const sent = await send("POST", this.api.url("/files"), await this.api.authHeader(), form,
      (progress) => this.update(item, { progress }));
    if (sent.status !== 201) return this.refused(item, sent.status, sent.body);
    const record = sent.body as unknown as FileRecord;
    this.update(item, {
      progress: 1, state: record.status, fileId: record.id, path: record.path, message: "",
    });
  }
}
