import { test, expect } from '@playwright/test';
import { expectConnected, item, joinAs, say, unique } from './helpers';

const person = (name: string) => `${name}-${Math.random().toString(36).slice(2, 6)}`;

test('a mention elsewhere shows as a badge and in the tab title, is marked where it was said, and reading clears it', async ({ browser }) => {
  const [adaName, bobName] = [person('Ada'), person('Bob')];
  const ada = await joinAs(browser, adaName);
  const bob = await joinAs(browser, bobName);
  const room = `/r/side-${Math.random().toString(36).slice(2, 6)}`;
  await bob.goto(room);
  await expectConnected(bob);
  await expect(bob).toHaveTitle('Huddle');

  // Ada calls Bob in the lobby (and writes a look-alike name that is not his).
  const text = `@${bobName} ${unique('look at this')} (not @${bobName}x)`;
  await say(ada, text);
  const lobbyLink = bob.getByRole('navigation', { name: 'Rooms' }).getByRole('listitem')
    .filter({ has: bob.locator('a[data-room="lobby"]') });
  await expect(lobbyLink.getByLabel('1 mention of you')).toHaveText('@1');
  await expect(bob).toHaveTitle('(@1) Huddle');

  // It outlives a reload: the count comes from the stored read positions.
  await bob.reload();
  await expectConnected(bob);
  await expect(lobbyLink.getByLabel('1 mention of you')).toBeVisible();
  await expect(bob).toHaveTitle('(@1) Huddle');

  // In the lobby the mention is marked, only the real one; Ada's own page marks nothing. The
  // page tells the server it has read the room once it has been shown for a moment.
  const readSent = new Promise<void>((resolve) => {
    bob.on('websocket', (socket) =>
      socket.on('framesent', ({ payload }) => {
        if (String(payload).includes('"type":"read","room":"lobby"')) resolve();
      }),
    );
  });
  await lobbyLink.getByRole('link').click();
  await expectConnected(bob);
  await expect(item(bob, text).locator('mark.mention')).toHaveText(`@${bobName}`);
  await expect(item(bob, text)).toHaveClass(/\bmentions-me\b/);
  await expect(item(ada, text).locator('mark')).toHaveCount(0);

  await readSent;

  // Read: back in the other room, no badge and a plain title (the server stores the read
  // position as it takes the frame; a page that loads before that is loaded again).
  await expect(async () => {
    await bob.goto(room);
    await expect(bob.locator('a[data-room="lobby"]')).toBeVisible();
    await expect(bob.getByLabel(/mentions? of you/)).toHaveCount(0, { timeout: 1000 });
  }).toPass();
  await expectConnected(bob);
  await expect(bob).toHaveTitle('Huddle');
});
