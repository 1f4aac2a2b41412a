// Who is signed in, and where their bearer token comes from.
//
// dev: `POST /auth/dev-token` mints a token for a user name (local AUTH_MODE=dev only).
// firebase: the Firebase Auth web SDK (loaded only in that mode; on `make dev` it talks to
// the Auth emulator). jwks: a token from the deployment's own issuer, pasted in.
// Tokens are kept in sessionStorage (this tab only) and sent only in Authorization headers.

import { API_PREFIX, ApiError } from "./api";
import type { AppConfig } from "./types";

export interface Session {
  user: string;
  token: () => Promise<string>;
  signOut: () => Promise<void>;
}

const STORE_KEY = "workspace.session";

interface Stored {
  user: string;
  token: string;
  expires_at: string;
}

function storedSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(STORE_KEY);
    if (!raw) return null;
    const stored = JSON.parse(raw) as Stored;
    if (Date.parse(stored.expires_at) - Date.now() < 60_000) return null;
    return tokenSession(stored);
  } catch {
    return null;
  }
}

function tokenSession(stored: Stored): Session {
  return {
    user: stored.user,
    token: async () => stored.token,
    signOut: async () => sessionStorage.removeItem(STORE_KEY),
  };
}

export async function devSignIn(config: AppConfig, user: string): Promise<Session> {
  const response = await fetch(`${config.api_base ?? ""}${API_PREFIX}/auth/dev-token`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user }),
    credentials: "omit",
    cache: "no-store",
  });
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok) throw new ApiError(response.status, body);
  const stored = { user, token: String(body.token), expires_at: String(body.expires_at) };
  sessionStorage.setItem(STORE_KEY, JSON.stringify(stored));
  return tokenSession(stored);
}

export function pastedTokenSession(token: string): Session {
  let user = "token user";
  let expires = Date.now() + 3600_000;
  try {
    const claims = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    user = String(claims.email ?? claims.sub ?? user);
    if (typeof claims.exp === "number") expires = claims.exp * 1000;
  } catch {
    // not a JWT we can read: the API will say so on the first call
  }
  const stored = { user, token, expires_at: new Date(expires).toISOString() };
  sessionStorage.setItem(STORE_KEY, JSON.stringify(stored));
  return tokenSession(stored);
}

/** The session restored on page load, if any (Firebase keeps its own). */
export async function restoreSession(config: AppConfig): Promise<Session | null> {
  if (config.auth_mode === "firebase") {
    const firebase = await import("./firebase");
    return firebase.currentSession(config);
  }
  return storedSession();
}
