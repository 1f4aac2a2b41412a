// The HTTP client: every call to the workspace API goes through `Api`.
//
// The bearer token only ever travels in the Authorization header, never in a URL: previews
// and downloads use the short-lived signed links the API hands out (`?redirect=false`).
// Endpoints that may not exist yet (PATCH /files/{id}, /folders, /files/{id}/versions) are
// detected with a request: a 404 or 405 means "not here", and the UI hides the control.

import type { FileRecord, Folder, LogEntry } from "./types";

export const API_PREFIX = "/api/assistant/workspace";

/** An answer other than 2xx, with the API's `{"error": ...}` body and its extras. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(typeof body.error === "string" ? body.error : `HTTP ${status}`);
  }
}

export type Query = Record<string, string | number | boolean | string[] | undefined | null>;
export type TokenSource = () => Promise<string>;

export interface RequestOptions {
  query?: Query;
  json?: unknown;
  body?: BodyInit;
  headers?: Record<string, string>;
}

export function queryString(query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) params.append(key, String(item));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

async function errorBody(response: Response): Promise<Record<string, unknown>> {
  try {
    const body: unknown = await response.json();
    if (body && typeof body === "object") return body as Record<string, unknown>;
  } catch {
    // not JSON: fall through to a generic message
  }
  return { error: `${response.status} ${response.statusText}`.trim() };
}

/** One page of a cursor-paged listing (`X-Next-Cursor`). */
export interface Page<T> {
  items: T[];
  next: string | null;
}

export class Api {
  private readonly probes = new Map<string, Promise<boolean>>();

  constructor(
    readonly base: string,
    private readonly token: TokenSource,
    private readonly onUnauthorized: () => void,
  ) {}

  url(path: string, query?: Query): string {
    return `${this.base}${API_PREFIX}${path}${queryString(query)}`;
  }

  async authHeader(): Promise<Record<string, string>> {
    return { Authorization: `Bearer ${await this.token()}` };
  }

  /** A raw response; throws `ApiError` on any non-2xx status. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...(await this.authHeader()), ...options.headers };
    let body = options.body;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.json);
    }
    const response = await fetch(this.url(path, options.query), {
      method, headers, body, credentials: "omit", cache: "no-store", redirect: "error",
    });
    if (!response.ok) {
      if (response.status === 401) this.onUnauthorized();
      throw new ApiError(response.status, await errorBody(response));
    }
    return response;
  }

  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    return (await (await this.request(method, path, options)).json()) as T;
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.json<T>("GET", path, { query });
  }

  async page<T>(path: string, query: Query): Promise<Page<T>> {
    const response = await this.request("GET", path, { query });
    return { items: (await response.json()) as T[], next: response.headers.get("X-Next-Cursor") };
  }

  /** True unless the request is answered 404 or 405 (the endpoint does not exist here). */
  probe(key: string, attempt: () => Promise<unknown>): Promise<boolean> {
    let known = this.probes.get(key);
    if (!known) {
      known = attempt().then(
        () => true,
        (error: unknown) => !(error instanceof ApiError && [404, 405].includes(error.status)),
      );
      this.probes.set(key, known);
    }
    return known;
  }

  /** PATCH /files/{id}: probed with a wrong content type, which changes nothing (415 if it
   * exists, 405 if not). */
  canEditFiles(fileId: string): Promise<boolean> {
    return this.probe("patch-file", () =>
      this.request("PATCH", `/files/${fileId}`, {
        body: "", headers: { "Content-Type": "text/plain" },
      }));
  }

  canListFolders(): Promise<boolean> {
    return this.probe("folders", () => this.request("GET", "/folders", { query: { path: "/" } }));
  }

  canListVersions(fileId: string): Promise<boolean> {
    return this.probe("file-versions", () => this.request("GET", `/files/${fileId}/versions`));
  }

  async folders(path: string): Promise<Folder[]> {
    return normalizeFolders(await this.get<unknown>("/folders", { path }), path);
  }

  file(fileId: string): Promise<FileRecord> {
    return this.get<FileRecord>(`/files/${fileId}`);
  }

  fileLogs(fileId: string): Promise<LogEntry[]> {
    return this.get<LogEntry[]>("/logs", { resource_id: fileId, limit: 20 });
  }

  /** A short-lived signed link to a file's bytes: usable as an <img> src or a download. */
  async signedLink(fileId: string, inline: boolean): Promise<string> {
    const link = await this.get<{ url: string }>(`/files/${fileId}/content`,
      { redirect: false, inline });
    return link.url;
  }
}

/** `/folders` answers are read tolerantly: an array (or `{folders: [...]}`) of paths or of
 * objects with a `path` (and optionally `name` and `file_count`). */
export function normalizeFolders(raw: unknown, parent: string): Folder[] {
  const list = Array.isArray(raw) ? raw
    : raw && typeof raw === "object" && Array.isArray((raw as { folders?: unknown }).folders)
      ? (raw as { folders: unknown[] }).folders : [];
  const out: Folder[] = [];
  for (const item of list) {
    const path = typeof item === "string" ? item
      : item && typeof item === "object" && typeof (item as Folder).path === "string"
        ? (item as Folder).path : null;
    if (!path || !path.startsWith(parent)) continue;
    const full = path.endsWith("/") ? path : `${path}/`;
    const count = item && typeof item === "object" ? (item as Folder).file_count : undefined;
    out.push({ path: full, name: full.slice(parent.length).replace(/\/$/, ""), file_count: count });
  }
  return out;
}

/** Subfolders of `parent` seen in a list of paths (the fallback before /folders exists). */
export function foldersFromPaths(paths: string[], parent: string): Folder[] {
  const names = new Set<string>();
  for (const path of paths) {
    if (!path.startsWith(parent)) continue;
    const rest = path.slice(parent.length);
    const slash = rest.indexOf("/");
    if (slash > 0) names.add(rest.slice(0, slash));
  }
  return [...names].sort().map((name) => ({ path: `${parent}${name}/`, name }));
}
