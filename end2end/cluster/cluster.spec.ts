import { test, expect, type Browser, type Page } from '@playwright/test';
import { nginxURL, nodeURL } from '../cluster.config';
import { pickName, say, item, unique, expectConnected } from '../tests/helpers';

/** A display name no other test (or run) uses. */
const person = (name: string) => `${name}-${Math.random().toString(36).slice(2, 6)}`;

/** A fresh browser (its own cookies) on the node at `url`, having picked `name`. */
async function joinAt(browser: Browser, url: string, name: string): Promise<Page> {
  const context = await browser.newContext({ baseURL: url });
  const page = await context.newPage();
  await page.goto('/');
  await pickName(page, name);
  return page;
}

const online = (page: Page, name: string) =>
  page.getByRole('region', { name: 'Online' }).getByText(name, { exact: true });

const roomLink = (page: Page, label: string) =>
  page.getByRole('navigation', { name: 'Rooms' }).getByRole('link', { name: label });

test('two people on different nodes see each other, chat, type and DM', async ({ browser }) => {
  const [adaName, bobName] = [person('Ada'), person('Bob')];
  const ada = await joinAt(browser, nodeURL(1), adaName);
  const bob = await joinAt(browser, nodeURL(2), bobName);

  // Presence crosses nodes: each is listed online on the other's page.
  await expect(ada.getByTestId('presence-note')).toHaveText(`${bobName} joined`);
  await expect(online(ada, bobName)).toBeVisible();
  await expect(online(bob, adaName)).toBeVisible();

  // Typing on node 2 shows on node 1 (first: a page says it types at most every few
  // seconds, and a message ends the indicator).
  await bob.getByRole('textbox', { name: 'Message' }).fill('half a thought');
  await expect(ada.getByTestId('typing')).toHaveText(`${bobName} is typing…`);
  await expect(ada.getByTestId('typing')).toHaveText('', { timeout: 10_000 });

  // Messages both ways, once each.
  const hello = unique('hello from node 1');
  await say(ada, hello);
  await expect(item(bob, hello)).toHaveCount(1);
  const reply = unique('hi from node 2');
  await bob.getByRole('textbox', { name: 'Message' }).fill('');
  await say(bob, reply);
  await expect(item(ada, reply)).toHaveCount(1);
  await expect(item(ada, hello)).toHaveCount(1);

  // Ada opens a DM with Bob, who is on the other node: it appears in his list live.
  await ada.getByRole('button', { name: `Message ${bobName}` }).click();
  await expect(ada).toHaveURL(/\/r\/dm-[0-9a-f]+$/);
  await expectConnected(ada);
  await expect(roomLink(bob, `@ ${adaName}`)).toBeVisible();
  const secret = unique('just between us');
  await say(ada, secret);
  await expect(bob.getByLabel('1 unread')).toBeVisible();
  await roomLink(bob, `@ ${adaName}`).click();
  await expect(item(bob, secret)).toHaveCount(1);

  // Bob leaves: Ada's node learns it through Redis.
  await bob.context().close();
  await expect(online(ada, bobName)).toHaveCount(0, { timeout: 15_000 });
});

test('through nginx, a reader on any node gets what was said on the others, history included', async ({ browser }) => {
  const early = unique('said before the reader came');
  const writer = await joinAt(browser, nodeURL(3), person('Writer'));
  await say(writer, early);
  // The page rendered by whichever node nginx picks has it already, before any script runs.
  const reader = await browser.newContext({ baseURL: nginxURL, javaScriptEnabled: false });
  const page = await reader.newPage();
  await page.goto('/');
  await expect(item(page, early)).toHaveCount(1);
  await reader.close();

  const live = await joinAt(browser, nginxURL, person('Reader'));
  const later = unique('said after');
  await say(writer, later);
  await expect(item(live, later)).toHaveCount(1);
  await expect(item(live, early)).toHaveCount(1);
});
