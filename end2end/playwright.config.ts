import { defineConfig } from '@playwright/test';

// The server under test: the debug binary cargo-leptos built, serving target/site (or the
// release build: E2E_BINARY=../target/release/huddle, after scripts/release.sh).
const port = Number(process.env.E2E_PORT ?? 3190);
const binary = process.env.E2E_BINARY ?? '../target/debug/huddle';
export const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL,
    trace: 'retain-on-failure',
    // Debian's Chromium, never a downloaded browser.
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  webServer: {
    // Every test's browsers come from 127.0.0.1, dozens of new guests and accounts a minute: the
    // per-address limits on those are off here (tests/abuse_limits.rs tests them).
    command: `rm -f ../target/e2e.db* && ${binary} --addr 127.0.0.1:${port} --database ../target/e2e.db ` +
      '--guests-per-address-per-minute 0 --registrations-per-address-per-minute 0',
    cwd: '.',
    // A panic prints its message, not pages of backtrace that bury the test report.
    env: { LEPTOS_SITE_ROOT: '../target/site', HUDDLE_LOG: 'warn', RUST_BACKTRACE: '0' },
    // Playwright polls this URL until the server answers, so no test starts early.
    url: `${baseURL}/`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe',
    stderr: 'pipe',
  },
});
