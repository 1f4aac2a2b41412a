// Firebase Auth (AUTH_MODE=firebase), in its own chunk: only that mode downloads the SDK.
// On `make dev` the config names the Auth emulator, and the SDK signs in against it.

import { type FirebaseApp, initializeApp } from "firebase/app";
import {
  type Auth,
  connectAuthEmulator,
  createUserWithEmailAndPassword,
  getAuth,
  signInWithEmailAndPassword,
  signOut,
  type User,
} from "firebase/auth";
import type { Session } from "./session";
import type { AppConfig } from "./types";

let auth: Auth | null = null;

function firebaseAuth(config: AppConfig): Auth {
  if (auth) return auth;
  const settings = config.firebase;
  if (!settings) throw new Error("config.json has no firebase settings");
  const app: FirebaseApp = initializeApp({
    apiKey: settings.api_key, authDomain: settings.auth_domain, projectId: settings.project_id,
  });
  auth = getAuth(app);
  if (settings.emulator_url) connectAuthEmulator(auth, settings.emulator_url, { disableWarnings: true });
  return auth;
}

function userSession(instance: Auth, user: User): Session {
  return {
    user: user.email ?? user.uid,
    token: () => user.getIdToken(),
    signOut: () => signOut(instance),
  };
}

export async function currentSession(config: AppConfig): Promise<Session | null> {
  const instance = firebaseAuth(config);
  await instance.authStateReady();
  return instance.currentUser ? userSession(instance, instance.currentUser) : null;
}

export async function signIn(config: AppConfig, email: string, password: string,
                             create: boolean): Promise<Session> {
  const instance = firebaseAuth(config);
  const credential = create
    ? await createUserWithEmailAndPassword(instance, email, password)
    : await signInWithEmailAndPassword(instance, email, password);
  return userSession(instance, credential.user);
}
