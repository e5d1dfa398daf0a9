import { test, expect } from '@playwright/test';
import { item, joinAs, say, unique } from './helpers';

// Huddle with scripting off: plain forms that post and redirect back (the same forms the
// page enhances when JavaScript runs).
test('with JavaScript disabled a person posts, opens another room and pages back through history', async ({ browser }) => {
  const reader = await joinAs(browser, 'Reader');
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto('/');
  await page.getByRole('textbox', { name: 'Display name' }).fill('No Script');
  await page.getByRole('button', { name: 'Join chat' }).click();

  // Posting: the form goes to the server, the browser comes back to the room with it.
  const text = unique('posted without JavaScript');
  await page.getByRole('textbox', { name: 'Message' }).fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(item(page, text)).toHaveCount(1);
  await expect(item(page, text)).toContainText('No Script');
  // A reader with JavaScript gets it live.
  await expect(item(reader, text)).toHaveCount(1);

  // Opening another room.
  const room = `nojs-${Date.now().toString(36)}`;
  await page.getByRole('textbox', { name: 'Room name' }).fill(room);
  await page.getByRole('button', { name: 'Open' }).click();
  await expect(page).toHaveURL(new RegExp(`/r/${room}$`));
  await expect(page.getByRole('heading', { name: new RegExp(room) })).toBeVisible();

  // More than a page of history there, posted the same way (the browser's own form posts),
  // then paging back.
  const origin = new URL(page.url()).origin;
  for (let n = 1; n <= 55; n++) {
    const response = await context.request.post('/api/post_message', {
      form: { room, text: `${room} #${n}`, client_id: `${room}-${n}` },
      headers: { accept: 'text/html', origin, referer: page.url() },
      maxRedirects: 0,
    });
    expect([302, 303]).toContain(response.status());
  }
  await page.reload();
  await expect(item(page, `${room} #55`)).toHaveCount(1);
  await expect(item(page, `${room} #5`)).toHaveCount(0);
  await page.getByRole('button', { name: 'Load older messages' }).click();
  await expect(page).toHaveURL(/\?before=\d+$/);
  await expect(item(page, `${room} #1`)).toHaveCount(1);
  await expect(item(page, `${room} #5`)).toHaveCount(1);

  // With JavaScript on, the same composer form sends through the socket instead.
  const back = unique('sent with JavaScript');
  await say(reader, back);
  await expect(item(reader, back)).toHaveCount(1);
  await context.close();
});
