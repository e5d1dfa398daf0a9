import { test, expect } from '@playwright/test';
import { WORDS, expectConnected, item, itemWith, joinAs, log, policyRefusals, say, unique } from './helpers';

// The main conversation, in each language the page speaks: a browser asking for Chinese gets
// the page in Chinese, times as Chinese readers write them, and the same chat.
for (const lang of ['en', 'zh-CN'] as const) {
  test(`two people chat: what one types appears once in the other, with name and time (${lang})`, async ({ browser }) => {
    const words = WORDS[lang];
    const alice = await joinAs(browser, 'Alice', undefined, lang);
    const bob = await joinAs(browser, 'Bob', undefined, lang);
    await expect(alice.locator('html')).toHaveAttribute('lang', lang);
    const text = unique('hello from Alice');

    await say(alice, text, lang);

    await expect(item(bob, text)).toHaveCount(1);
    await expect(item(bob, text)).toContainText('Alice');
    await expect(item(bob, text).locator('time')).toHaveText(words.time);
    await expect(item(alice, text)).toHaveCount(1);
    // One's own messages are marked, others' are not.
    await expect(item(alice, text)).toHaveClass(/\bmine\b/);
    await expect(item(alice, text)).toContainText(words.you);
    await expect(item(bob, text)).not.toHaveClass(/\bmine\b/);

    // The page measures round-trip time with its own pings.
    await expect(alice.locator('.rtt')).toHaveText(/^\d+ ms$/);

    const reply = unique('hi Alice');
    await say(bob, reply, lang);
    await expect(item(alice, reply)).toHaveCount(1);

    await bob.getByRole('button', { name: words.disconnect, exact: true }).click();
    await expect(bob.getByRole('status')).toHaveText(words.disconnected);
    await bob.getByRole('button', { name: words.connect, exact: true }).click();
    await expectConnected(bob, lang);

    // All of it ran under the page's Content-Security-Policy (a nonce, no unsafe-inline),
    // which refused nothing.
    const policy = (await alice.request.get('/')).headers()['content-security-policy'];
    expect(policy).toContain("script-src 'self' 'nonce-");
    expect(policyRefusals(alice)).toEqual([]);
    expect(policyRefusals(bob)).toEqual([]);
  });
}

test('the language switch turns the page to Chinese, and the choice outlives a reload', async ({ browser }) => {
  const alice = await joinAs(browser, 'Lin');
  const text = unique('said in English first');
  await say(alice, text);

  await alice.getByRole('navigation', { name: 'Language' }).getByRole('link', { name: '中文' }).click();
  await expect(alice.locator('html')).toHaveAttribute('lang', 'zh-CN');
  await expectConnected(alice, 'zh-CN');
  await expect(alice.getByRole('button', { name: '发送' })).toBeVisible();
  await expect(item(alice, text)).toHaveCount(1);

  await alice.reload();
  await expectConnected(alice, 'zh-CN');
  await say(alice, unique('然后说中文'), 'zh-CN');
  await alice.getByRole('navigation', { name: '语言' }).getByRole('link', { name: 'English' }).click();
  await expectConnected(alice);
});

test('disconnect shows 3, the other page keeps working, and connect again restores both directions', async ({ browser }) => {
  const alice = await joinAs(browser, 'Alice');
  const bob = await joinAs(browser, 'Bob');

  await alice.getByRole('button', { name: 'Disconnect' }).click();
  await expect(alice.getByRole('status')).toHaveAttribute('data-ready-state', '3');
  await expect(alice.getByRole('status')).toHaveText('Disconnected');
  await expect(alice.getByRole('button', { name: 'Connect' })).toBeVisible();

  const whileAway = unique('while Alice is away');
  await say(bob, whileAway);
  await expect(item(bob, whileAway)).toHaveCount(1);

  await alice.getByRole('button', { name: 'Connect' }).click();
  await expectConnected(alice);

  const fromAlice = unique('Alice is back');
  await say(alice, fromAlice);
  await expect(item(bob, fromAlice)).toHaveCount(1);
  const fromBob = unique('welcome back');
  await say(bob, fromBob);
  await expect(item(alice, fromBob)).toHaveCount(1);
});

test('markup in a message is shown literally, never run', async ({ browser }) => {
  const alice = await joinAs(browser, 'Mallory');
  const bob = await joinAs(browser, 'Bob');
  const attack = '<img src=x onerror=alert(1)>';
  const marker = unique('xss');

  await say(alice, `${attack} ${marker}`);

  await expect(itemWith(bob, marker)).toContainText(attack);
  await expect(log(bob).locator('img')).toHaveCount(0);
  await expect(log(alice).locator('img')).toHaveCount(0);
});

test('Enter during an IME composition and blank messages do not send', async ({ browser }) => {
  const alice = await joinAs(browser, 'Kana');
  const bob = await joinAs(browser, 'Bob');
  const box = alice.getByRole('textbox', { name: 'Message' });

  await box.fill('にほ');
  await box.dispatchEvent('keydown', { key: 'Enter', isComposing: true, bubbles: true, cancelable: true });
  await expect(box).toHaveValue('にほ');

  await box.fill('   ');
  await box.press('Enter');
  await alice.getByRole('button', { name: 'Send' }).click();

  // The next message Bob sees is the marker: nothing was sent before it.
  const marker = unique('日本語 after composing');
  await say(alice, marker);
  await expect(item(bob, marker)).toHaveCount(1);
  const texts = await log(bob).getByRole('listitem').locator('.text').allTextContents();
  const last = texts.slice(-2);
  expect(last[1]).toBe(marker);
  expect(last[0]).not.toMatch(/^\s*$/);
  expect(last[0]).not.toBe('にほ');
});

test('a reload keeps the chosen name and shows the history', async ({ browser }) => {
  const alice = await joinAs(browser, 'Ada');
  const text = unique('before reload');
  await say(alice, text);
  await alice.reload();
  await expect(alice.getByRole('textbox', { name: 'Display name' })).toHaveCount(0);
  await expect(alice.getByRole('textbox', { name: 'Message' })).toBeVisible();
  await expect(item(alice, text)).toHaveCount(1);
  await expect(item(alice, text)).toHaveClass(/\bmine\b/);
  await expectConnected(alice);
});

test('with JavaScript disabled the page shows the room and its recent messages', async ({ browser }) => {
  const alice = await joinAs(browser, 'Alice');
  const text = unique('readable without JavaScript');
  await say(alice, text);
  await expect(item(alice, text)).toHaveCount(1);

  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto('/');
  await expect(page.getByRole('heading', { name: /lobby/ })).toBeVisible();
  await expect(item(page, text)).toHaveCount(1);
  await expect(item(page, text)).toContainText('Alice');

  // Picking a name works as a plain form post, too.
  await page.getByRole('textbox', { name: 'Display name' }).fill('No Script');
  await page.getByRole('button', { name: 'Join chat' }).click();
  await expect(page.getByRole('textbox', { name: 'Message' })).toBeVisible();
});
