import { defineConfig } from '@playwright/test';
import base from './playwright.config';

// The cluster suite: scripts/cluster.sh's three nodes (PostgreSQL + Redis of their own on
// loopback) behind nginx, from what cargo-leptos built. Browsers open nodes directly, so
// two people are on different nodes for certain, and nginx's address as a user would.
const port = Number(process.env.E2E_CLUSTER_PORT ?? 3290);
export const nginxURL = `http://127.0.0.1:${port}`;
export const nodeURL = (n: 1 | 2 | 3) => `http://127.0.0.1:${port + n}`;

export default defineConfig({
  ...base,
  testDir: './cluster',
  use: { ...base.use, baseURL: nginxURL },
  webServer: {
    command: '../scripts/cluster.sh --no-build',
    cwd: '.',
    env: {
      HUDDLE_CLUSTER_PORT: String(port),
      HUDDLE_CLUSTER_PG_PORT: String(Number(process.env.E2E_CLUSTER_PG_PORT ?? 55443)),
      HUDDLE_CLUSTER_REDIS_PORT: String(Number(process.env.E2E_CLUSTER_REDIS_PORT ?? 56380)),
      RUST_BACKTRACE: '0',
    },
    // nginx is started last, once every node answers.
    url: `${nginxURL}/`,
    reuseExistingServer: false,
    // SIGTERM, so the script stops the servers it started (PostgreSQL runs detached).
    gracefulShutdown: { signal: 'SIGTERM', timeout: 20_000 },
    timeout: 120_000,
    stdout: 'pipe',
    stderr: 'pipe',
  },
});
