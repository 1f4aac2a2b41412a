// The API's JSON shapes (openapi.yaml is the contract; these are the fields the app reads).

export type FileStatus = "pending" | "ready" | "infected";

export interface FileRecord {
  id: string;
  filename: string;
  description: string;
  file_type: string;
  file_extension: string;
  path: string;
  session_id: string | null;
  mime_type: string;
  size_bytes: number;
  checksum: string;
  checksum_algorithm: string;
  status: FileStatus;
  version: number;
  created_at: string;
  updated_at: string;
  created_by: string | null;
  tags: string[];
  metadata: Record<string, unknown>;
}

/** The shorter shape of `/files/search` and the combined search's file results. */
export interface FileSearchHit {
  id: string;
  filename: string;
  description: string;
  file_type: string;
  path: string;
  tags: string[];
  created_at: string;
}

export interface FileVersion {
  version: number;
  size_bytes?: number;
  checksum?: string;
  created_at?: string;
  status?: string;
}

export interface Folder {
  path: string;
  name: string;
  file_count?: number | undefined;
}

export interface LogEntry {
  id: string;
  timestamp: string;
  operation_type: string;
  resource_type: string;
  resource_id: string | null;
  details: Record<string, unknown>;
  agent_id: string | null;
  task_id: string | null;
}

export interface MemoryInfo {
  length: number;
  max_length: number;
  usage_percent: number;
  is_full: boolean;
}

export interface MemoryDocument {
  content: string;
  info: MemoryInfo;
  version: number;
  updated_at: string | null;
  updated_by: string | null;
}

export interface MemoryWriteResult extends MemoryInfo {
  version: number;
  truncated: boolean;
  removed_chars: number;
  message?: string;
}

export interface MemoryVersion {
  version: number;
  length: number;
  created_at: string;
  updated_by: string | null;
  operation: string;
}

export interface UploadTicket {
  file_id: string;
  upload_url: string;
  method: "PUT";
  headers: Record<string, string>;
  expires_at: string;
  path: string;
  version: number;
  status: "pending";
}

export interface SearchResult {
  query: string;
  results: {
    files?: FileSearchHit[];
    memory?: { matches: { snippet: string; context: string; line_number: number }[] };
    logs?: LogEntry[];
  };
  summary: { files_count?: number; memory_matches?: number; logs_count?: number };
}

/** What /config.json tells the page: how users sign in. */
export interface AppConfig {
  auth_mode: "dev" | "firebase" | "jwks";
  api_base?: string;
  firebase?: {
    api_key: string;
    auth_domain: string;
    project_id: string;
    emulator_url?: string;
  };
}

export const FILE_TYPES = ["image", "video", "audio", "document", "other"] as const;
export const OPERATIONS = ["create", "read", "update", "delete", "scan"] as const;
export const RESOURCE_TYPES = ["file", "memory", "workspace"] as const;
