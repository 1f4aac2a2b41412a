// Entry point: read /config.json (how users sign in), restore a session, render the app.

import { render } from "preact";
import { App } from "./views/App";
import type { AppConfig } from "./types";
import "./styles.css";

async function start(): Promise<void> {
  const root = document.getElementById("app");
  if (!root) return;
  try {
    const response = await fetch("/config.json", { cache: "no-store", credentials: "omit" });
    if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
    const config = (await response.json()) as AppConfig;
    render(<App config={config} />, root);
  } catch (error) {
    root.textContent = `The app could not start: ${error instanceof Error ? error.message : error}`;
  }
}

void start();
