import { execFileSync } from 'node:child_process';
import { test, expect, type Page } from '@playwright/test';
import { baseURL } from '../playwright.config';
import { joinAs, say, item, unique, expectConnected } from './helpers';

/** A display name no other test (or run) uses, so pages from other tests never match. */
const person = (name: string) => `${name}-${Math.random().toString(36).slice(2, 6)}`;

const roomLink = (page: Page, label: string) =>
  page.getByRole('navigation', { name: 'Rooms' }).getByRole('link', { name: label });

test('two people talk in a DM that a third can neither see nor open', async ({ browser }) => {
  const [adaName, bobName, eveName] = [person('Ada'), person('Bob'), person('Eve')];
  const ada = await joinAs(browser, adaName);
  const bob = await joinAs(browser, bobName);
  const eve = await joinAs(browser, eveName);

  // Ada finds Bob among the people online and messages him: she lands in their DM.
  await ada.getByRole('button', { name: `Message ${bobName}` }).click();
  await expect(ada).toHaveURL(/\/r\/dm-[0-9a-f]+$/);
  await expect(ada.getByRole('heading', { level: 1 })).toHaveText(`@ ${bobName}`);
  await expectConnected(ada);
  const dmPath = new URL(ada.url()).pathname;

  // Bob's room list gained the DM live, and counts Ada's message as unread.
  await expect(roomLink(bob, `@ ${adaName}`)).toBeVisible();
  const secret = unique('just between us');
  await say(ada, secret);
  await expect(bob.getByLabel('1 unread')).toBeVisible();
  await roomLink(bob, `@ ${adaName}`).click();
  await expect(bob).toHaveURL(new RegExp(`${dmPath}$`));
  await expect(item(bob, secret)).toHaveCount(1);

  // Eve: not in her list, and the URL itself shows her nothing of it.
  await expect(roomLink(eve, `@ ${adaName}`)).toHaveCount(0);
  await expect(roomLink(eve, `@ ${bobName}`)).toHaveCount(0);
  const response = await eve.goto(dmPath);
  expect(response?.status()).toBe(403);
  await expect(eve.getByText('is private')).toBeVisible();
  await expect(eve.getByText(secret)).toHaveCount(0);
});

test('a typing indicator appears for the others and goes away on its own', async ({ browser }) => {
  const typistName = person('Typist');
  const typist = await joinAs(browser, typistName);
  const readerName = person('Reader');
  const reader = await joinAs(browser, readerName);
  // Arrivals are announced, and the newcomer is listed online.
  await expect(typist.getByTestId('presence-note')).toHaveText(`${readerName} joined`);
  await expect(
    typist.getByRole('region', { name: 'Online' }).getByText(readerName, { exact: true }),
  ).toBeVisible();
  const indicator = reader.getByTestId('typing');
  await expect(indicator).toHaveText('');

  await typist.getByRole('textbox', { name: 'Message' }).fill('half a thought');
  await expect(indicator).toHaveText(`${typistName} is typing…`);
  // The typist does not see themself typing.
  await expect(typist.getByTestId('typing')).toHaveText('');
  // No further keystrokes: it expires (5 s after the last typing frame).
  await expect(indicator).toHaveText('', { timeout: 10_000 });
});

test('a notice pushed over HTTP appears on every open page', async ({ browser }) => {
  const first = await joinAs(browser, person('Listener'));
  const second = await joinAs(browser, person('Listener'));
  // An operator creates a token with the CLI; a backend pushes with it.
  const tokenName = `e2e-${Math.random().toString(36).slice(2, 8)}`;
  const token = execFileSync('../target/debug/huddle', [
    'token', 'create', tokenName, '--database', '../target/e2e.db',
  ]).toString().trim();
  const text = unique('Maintenance at noon');
  const response = await fetch(`${baseURL}/api/notify`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ text }),
  });
  expect(response.status).toBe(202);
  expect((await response.json()).delivered).toBeGreaterThanOrEqual(2);
  for (const page of [first, second]) {
    const notice = page.getByTestId('notice').filter({ hasText: text });
    await expect(notice).toHaveCount(1);
    await expect(notice).toContainText(tokenName);
    // Apart from the conversation, and dismissable.
    await expect(item(page, text)).toHaveCount(0);
  }
  await first.getByTestId('notice').filter({ hasText: text })
    .getByRole('button', { name: 'Dismiss notice' }).click();
  await expect(first.getByTestId('notice').filter({ hasText: text })).toHaveCount(0);
  await expect(second.getByTestId('notice').filter({ hasText: text })).toHaveCount(1);
});

test('registering signs in, and logging out in one tab closes the other', async ({ browser }) => {
  const context = await browser.newContext();
  const tab1 = await context.newPage();
  await tab1.goto('/');
  await expectConnected(tab1);
  const name = person('Member');
  await tab1.getByText('Log in or register').click();
  await tab1.getByRole('textbox', { name: 'Register name' }).fill(name);
  await tab1.getByLabel('Register password').fill('correct horse battery');
  await tab1.getByRole('button', { name: 'Register' }).click();
  await expect(tab1.getByTestId('who')).toHaveText(`Signed in as ${name}`);
  await expectConnected(tab1);
  const tab2 = await context.newPage();
  await tab2.goto('/');
  await expect(tab2.getByTestId('who')).toHaveText(`Signed in as ${name}`);
  await expectConnected(tab2);

  await tab1.getByRole('button', { name: 'Log out' }).click();
  await expect(tab1.getByTestId('who')).toHaveText('Not signed in');
  // The other tab's socket was closed by the server, and it shows the signed-out page.
  await expect(tab2.getByTestId('who')).toHaveText('Not signed in');
  await context.close();
});

test('a room opened by name gets its own page and list entry, and leaving takes it off', async ({ browser }) => {
  const page = await joinAs(browser, person('Opener'));
  const room = `e2e-${Math.random().toString(36).slice(2, 8)}`;
  await page.getByRole('textbox', { name: 'Room name' }).fill(room);
  await page.getByRole('button', { name: 'Open', exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/r/${room}`));
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`# ${room}`);
  await expectConnected(page);
  const text = unique('first words');
  await say(page, text);
  await expect(item(page, text)).toHaveCount(1);
  await page.reload();
  await expect(roomLink(page, `# ${room}`)).toHaveAttribute('aria-current', 'page');
  await expect(item(page, text)).toHaveCount(1);
  await expectConnected(page);
  await page.getByRole('button', { name: 'Leave room' }).click();
  await expect(page).toHaveURL(/\/r\/lobby$/);
  await expect(roomLink(page, `# ${room}`)).toHaveCount(0);
});
