import { test, expect } from '@playwright/test';
import { expectConnected, item, itemWith, joinAs, log, say, unique } from './helpers';

test('a page that was offline shows every message it missed, once and in order', async ({ browser }) => {
  const alice = await joinAs(browser, 'Alice');
  const bob = await joinAs(browser, 'Bob');
  const run = unique('offline');

  await bob.context().setOffline(true);
  await expect(bob.getByRole('status')).toHaveAttribute('data-ready-state', '3');

  const texts = [1, 2, 3, 4, 5].map((n) => `${run} #${n}`);
  for (const text of texts) {
    await say(alice, text);
    await expect(item(alice, text)).toHaveAttribute('data-state', 'sent');
  }
  await expect(itemWith(bob, run)).toHaveCount(0);

  await bob.context().setOffline(false);
  await expectConnected(bob);
  await expect(itemWith(bob, run)).toHaveCount(5);
  const shown = await itemWith(bob, run).locator('.text').allTextContents();
  expect(shown).toEqual(texts);
});

test('a reload shows the history, and older pages load on demand', async ({ browser }) => {
  const alice = await joinAs(browser, 'Historian');
  const run = unique('history');
  // More than one page (50) so that "Load older" has something to fetch. A plain WebSocket
  // client in the page posts them one at a time, as any client may: past the server's rate
  // limit it is told `rate_limited` with a wait, and sends the same client_id again after it.
  const texts = Array.from({ length: 55 }, (_, n) => `${run} #${n + 1}`);
  await alice.evaluate(async (texts) => {
    const ws = new WebSocket(`ws://${location.host}/ws`);
    await new Promise((resolve) => ws.addEventListener('open', resolve, { once: true }));
    const answer = () =>
      new Promise<any>((resolve) => {
        const onMessage = (event: MessageEvent) => {
          const frame = JSON.parse(event.data);
          if (frame.type === 'ack' || frame.type === 'error') {
            ws.removeEventListener('message', onMessage);
            resolve(frame);
          }
        };
        ws.addEventListener('message', onMessage);
      });
    for (const [n, text] of texts.entries()) {
      for (;;) {
        const answered = answer();
        ws.send(JSON.stringify({ type: 'send', room: 'lobby', client_id: `seed-${n}`, text }));
        const frame = await answered;
        if (frame.type === 'ack') break;
        if (frame.code !== 'rate_limited') throw new Error(frame.message);
        const wait = Number(/retry in (\d+) ms/.exec(frame.message)?.[1] ?? 100);
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
    ws.close();
  }, texts);
  await expect(item(alice, `${run} #55`)).toHaveCount(1);

  await alice.reload();
  await expectConnected(alice);
  await expect(item(alice, `${run} #55`)).toHaveCount(1);
  await expect(item(alice, `${run} #6`)).toHaveCount(1);
  await expect(item(alice, `${run} #5`)).toHaveCount(0);

  await alice.getByRole('button', { name: 'Load older messages' }).click();
  await expect(item(alice, `${run} #1`)).toHaveCount(1);
  const seqs = await log(alice).getByRole('listitem').evaluateAll((items) =>
    items.map((li) => Number(li.getAttribute('data-seq'))).filter((n) => n > 0),
  );
  expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  expect(new Set(seqs).size).toBe(seqs.length);
});

test('a sent message shows as pending until the server has stored it, then as sent', async ({ browser }) => {
  // Hold the server's answers to our sends (ack and broadcast) until we have looked.
  let holding = true;
  const held: string[] = [];
  let release: () => void = () => {};
  const alice = await joinAs(browser, 'Patience', async (page) => {
    await page.routeWebSocket(/\/ws$/, (ws) => {
      const server = ws.connectToServer();
      ws.onMessage((message) => server.send(message));
      server.onMessage((message) => {
        const frame = JSON.parse(String(message));
        const ours = frame.type === 'ack' || (frame.type === 'message' && frame.user?.name === 'Patience');
        if (holding && ours) held.push(String(message));
        else ws.send(message);
      });
      release = () => {
        holding = false;
        for (const message of held.splice(0)) ws.send(message);
      };
    });
  });
  const text = unique('wait for it');
  await say(alice, text);
  await expect(item(alice, text)).toHaveAttribute('data-state', 'pending');
  await expect(item(alice, text)).toContainText('sending…');

  release();
  await expect(item(alice, text)).toHaveAttribute('data-state', 'sent');
  await expect(item(alice, text)).toContainText('✓ sent');
  await expect(item(alice, text)).toHaveCount(1);
});

test('a message sent between the server render and the socket opening still appears, once', async ({ browser }) => {
  const alice = await joinAs(browser, 'Alice');
  const context = await browser.newContext();
  const late = await context.newPage();
  // Hold the late page's socket back until Alice has spoken; what the page sends meanwhile
  // (its join) is passed on once the socket is through.
  let open: () => void = () => {};
  const gate = new Promise<void>((resolve) => (open = resolve));
  await late.routeWebSocket(/\/ws$/, (ws) => {
    const early: (string | Buffer)[] = [];
    let server: { send: (m: string | Buffer) => void } | null = null;
    ws.onMessage((message) => (server ? server.send(message) : early.push(message)));
    gate.then(() => {
      server = ws.connectToServer();
      for (const message of early.splice(0)) server.send(message);
    });
  });
  await late.goto('/');

  const text = unique('sent in the gap');
  await say(alice, text);
  await expect(item(alice, text)).toHaveAttribute('data-state', 'sent');
  await expect(item(late, text)).toHaveCount(0);

  open();
  await expect(item(late, text)).toHaveCount(1);
  // And it stays once: a later message arrives after it, with no second copy in between.
  const after = unique('after the gap');
  await say(alice, after);
  await expect(item(late, after)).toHaveCount(1);
  await expect(item(late, text)).toHaveCount(1);
});
