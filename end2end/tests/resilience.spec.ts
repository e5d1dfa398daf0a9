import { test, expect, type Browser, type Page } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectConnected, item, itemWith, pickName, say, unique } from './helpers';

// These tests start and kill their own server, on its own port and database.
const port = Number(process.env.E2E_CHAOS_PORT ?? 3192);
const origin = `http://127.0.0.1:${port}`;
const database = join(mkdtempSync(join(tmpdir(), 'huddle-chaos-')), 'huddle.db');

/** Starts the server and resolves once it says it listens. */
function startServer(): Promise<ChildProcess> {
  const server = spawn('../target/debug/huddle', ['--addr', `127.0.0.1:${port}`, '--database', database], {
    env: { ...process.env, LEPTOS_SITE_ROOT: '../target/site', HUDDLE_LOG: 'warn', RUST_BACKTRACE: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    server.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('Huddle is running')) resolve(server);
    });
    server.on('exit', (code) => reject(new Error(`server exited early with ${code}`)));
  });
}

function kill(server: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    server.on('exit', () => resolve());
    server.kill('SIGKILL');
  });
}

let server: ChildProcess;
test.beforeAll(async () => {
  server = await startServer();
});
test.afterAll(async () => {
  if (server.exitCode === null) await kill(server);
});

async function openAs(browser: Browser, name: string): Promise<Page> {
  const context = await browser.newContext({ baseURL: origin });
  const page = await context.newPage();
  await page.goto('/');
  await pickName(page, name);
  return page;
}

test('messages typed while the server is down are pending, then delivered once and in order after it restarts', async ({ browser }) => {
  test.setTimeout(90_000);
  const alice = await openAs(browser, 'Alice');
  const bob = await openAs(browser, 'Bob');

  await kill(server);
  await expect(alice.getByRole('status')).toHaveAttribute('data-ready-state', '3');
  await expect(alice.getByRole('status')).toContainText('reconnecting');
  // Backoff grows while the server stays down: the countdown and "Retry now" show.
  await expect(alice.getByRole('status')).toHaveText(/reconnecting in \d+ s/);
  await expect(alice.getByRole('button', { name: 'Retry now' })).toBeVisible();

  const run = unique('while down');
  const texts = [1, 2, 3].map((n) => `${run} #${n}`);
  for (const text of texts) await say(alice, text);
  for (const text of texts) await expect(item(alice, text)).toHaveAttribute('data-state', 'pending');
  await expect(alice.locator('.outbox')).toContainText('3 messages waiting to send');

  server = await startServer();
  // Both pages come back by themselves (backoff with jitter), without a reload.
  await expectConnected(alice);
  await expectConnected(bob);
  await expect(itemWith(bob, run)).toHaveCount(3, { timeout: 30_000 });
  expect(await itemWith(bob, run).locator('.text').allTextContents()).toEqual(texts);
  for (const text of texts) await expect(item(alice, text)).toHaveAttribute('data-state', 'sent');
  await expect(itemWith(alice, run)).toHaveCount(3);
  await expect(alice.locator('.outbox')).toHaveCount(0);
});

test('ten seconds offline, then back: the page recovers without a reload', async ({ browser }) => {
  test.setTimeout(60_000);
  const alice = await openAs(browser, 'Alice');
  const bob = await openAs(browser, 'Bob');

  await alice.context().setOffline(true);
  await expect(alice.getByRole('status')).toHaveAttribute('data-ready-state', '3');
  const whileOffline = unique('offline typing');
  await say(alice, whileOffline);
  await expect(item(alice, whileOffline)).toHaveAttribute('data-state', 'pending');
  // The scenario itself is ten seconds without a network.
  await alice.waitForTimeout(10_000);
  await alice.context().setOffline(false);

  await expectConnected(alice);
  await expect(item(bob, whileOffline)).toHaveCount(1);
  await expect(item(alice, whileOffline)).toHaveAttribute('data-state', 'sent');
});

test('a reload keeps pending messages and sends them once the socket is through', async ({ browser }) => {
  test.setTimeout(60_000);
  const context = await browser.newContext({ baseURL: origin });
  // The page's timers run on a clock the test can stop, so that "Retry now" is what gets
  // the socket through, not a scheduled retry racing the click.
  await context.clock.install();
  // A socket that cannot get through: every attempt is closed at once, as by a broken proxy.
  let blocked = true;
  const started = Date.now();
  const trace = (what: string) => console.log(`[+${Date.now() - started} ms] ${what}`);
  await context.routeWebSocket(/\/ws$/, (ws) => {
    trace(blocked ? 'socket attempt: blocked' : 'socket attempt: let through');
    if (blocked) ws.close({ code: 1011, reason: 'blocked by the test' });
    else ws.connectToServer();
  });
  const alice = await context.newPage();
  await alice.goto('/');
  await alice.getByRole('textbox', { name: 'Display name' }).fill('Alice');
  await alice.getByRole('button', { name: 'Join chat' }).click();
  await expect(alice.getByRole('textbox', { name: 'Message' })).toBeVisible();
  const bob = await openAs(browser, 'Bob');

  const run = unique('kept across reload');
  const texts = [`${run} #1`, `${run} #2`];
  for (const text of texts) await say(alice, text);
  for (const text of texts) await expect(item(alice, text)).toHaveAttribute('data-state', 'pending');

  trace('reloading');
  await alice.reload();
  trace('reloaded');
  for (const text of texts) await expect(item(alice, text)).toHaveAttribute('data-state', 'pending');
  await expect(alice.locator('.outbox')).toContainText('2 messages waiting to send');

  // From here on no timer fires: the page's next attempt is the one the button starts.
  await alice.clock.pauseAt(Date.now() + 60_000);
  const retry = alice.getByRole('button', { name: 'Retry now' });
  await expect(retry).toBeVisible();
  blocked = false;
  trace('unblocked; clicking Retry now');
  await retry.click();
  await expectConnected(alice);
  await expect(itemWith(bob, run)).toHaveCount(2);
  expect(await itemWith(bob, run).locator('.text').allTextContents()).toEqual(texts);
  for (const text of texts) await expect(item(alice, text)).toHaveAttribute('data-state', 'sent');
});

test('a socket that looks open but has gone silent is noticed and replaced', async ({ browser }) => {
  // The first connection black-holes everything after the welcome, as a dead proxy would,
  // while staying open. Its welcome is edited to a short heartbeat (0.5 s + 0.5 s) so the
  // page's silence limit is reached quickly; the server itself keeps its defaults.
  const context = await browser.newContext();
  let connections = 0;
  await context.routeWebSocket(/\/ws$/, (ws) => {
    connections += 1;
    const blackHoled = connections === 1;
    const server = ws.connectToServer();
    ws.onMessage((message) => server.send(message));
    server.onMessage((message) => {
      if (!blackHoled) return ws.send(message);
      const frame = JSON.parse(String(message));
      if (frame.type === 'welcome') {
        frame.heartbeat = { interval_ms: 500, timeout_ms: 500 };
        ws.send(JSON.stringify(frame));
      }
    });
  });
  const page = await context.newPage();
  await page.goto('/');
  await expect.poll(() => connections, { timeout: 15_000 }).toBe(2);
  await expectConnected(page);
});
