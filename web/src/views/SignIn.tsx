// Sign-in: a user name under AUTH_MODE=dev, Firebase email and password under firebase,
// a pasted ID token under jwks (the deployment's own issuer signs users in).

import { useState } from "preact/hooks";
import { problem } from "../format";
import { devSignIn, pastedTokenSession, type Session } from "../session";
import type { AppConfig } from "../types";

interface Props {
  config: AppConfig;
  notice: string;
  onSession: (session: Session) => void;
}

export function SignIn({ config, notice, onSession }: Props) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  const attempt = async (work: () => Promise<Session>) => {
    setBusy(true);
    setError("");
    try {
      onSession(await work());
    } catch (failure) {
      setError(problem(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="signin">
      <h1>Agent workspace</h1>
      {notice && <p class="notice" role="status">{notice}</p>}
      {config.auth_mode === "dev" && <DevForm busy={busy} onSubmit={(user) =>
        attempt(() => devSignIn(config, user))} />}
      {config.auth_mode === "firebase" && <FirebaseForm busy={busy} onSubmit={(email, password, create) =>
        attempt(async () => (await import("../firebase")).signIn(config, email, password, create))} />}
      {config.auth_mode === "jwks" && <TokenForm busy={busy} onSubmit={(token) =>
        attempt(async () => pastedTokenSession(token))} />}
      {error && <p class="error" role="alert">{error}</p>}
    </main>
  );
}

function DevForm({ busy, onSubmit }: { busy: boolean; onSubmit: (user: string) => void }) {
  const [user, setUser] = useState("");
  return (
    <form class="card" onSubmit={(e) => { e.preventDefault(); onSubmit(user.trim()); }}>
      <p class="hint">Local development sign-in: any user name gets its own workspace.</p>
      <label for="signin-user">User</label>
      <input id="signin-user" name="user" autocomplete="username" required value={user}
        onInput={(e) => setUser(e.currentTarget.value)} />
      <button type="submit" disabled={busy}>Sign in</button>
    </form>
  );
}

function FirebaseForm({ busy, onSubmit }: {
  busy: boolean; onSubmit: (email: string, password: string, create: boolean) => void;
}) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  return (
    <form class="card" onSubmit={(e) => { e.preventDefault(); onSubmit(email, password, false); }}>
      <label for="signin-email">Email</label>
      <input id="signin-email" type="email" autocomplete="username" required value={email}
        onInput={(e) => setEmail(e.currentTarget.value)} />
      <label for="signin-password">Password</label>
      <input id="signin-password" type="password" autocomplete="current-password" required
        minLength={6} value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
      <div class="actions">
        <button type="submit" disabled={busy}>Sign in</button>
        <button type="button" class="secondary" disabled={busy}
          onClick={() => onSubmit(email, password, true)}>Create account</button>
      </div>
    </form>
  );
}

function TokenForm({ busy, onSubmit }: { busy: boolean; onSubmit: (token: string) => void }) {
  const [token, setToken] = useState("");
  return (
    <form class="card" onSubmit={(e) => { e.preventDefault(); onSubmit(token.trim()); }}>
      <label for="signin-token">ID token</label>
      <textarea id="signin-token" rows={4} required value={token}
        onInput={(e) => setToken(e.currentTarget.value)} />
      <button type="submit" disabled={busy}>Sign in</button>
    </form>
  );
}
