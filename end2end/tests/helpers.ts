import { expect, type Browser, type BrowserContext, type Page } from '@playwright/test';

/** A text no other test or run has sent. */
export const unique = (label: string) =>
  `${label} ${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

/** Picks `name` on an open page and waits until its socket is connected. */
export async function pickName(page: Page, name: string) {
  await page.getByRole('textbox', { name: 'Display name' }).fill(name);
  await page.getByRole('button', { name: 'Join chat' }).click();
  await expect(page.getByRole('textbox', { name: 'Message' })).toBeVisible();
  await expectConnected(page);
}

/** A fresh browser context (its own cookies) that has picked `name` and is connected. */
export async function joinAs(
  browser: Browser,
  name: string,
  prepare?: (page: Page, context: BrowserContext) => Promise<void>,
): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('dialog', (dialog) => {
    throw new Error(`unexpected dialog: ${dialog.message()}`);
  });
  if (prepare) await prepare(page, context);
  await page.goto('/');
  await pickName(page, name);
  return page;
}

export async function expectConnected(page: Page) {
  const status = page.getByRole('status');
  await expect(status).toHaveAttribute('data-ready-state', '1');
  await expect(status).toHaveText('Connected');
}

/** Types `text` and presses Enter; the box empties once the socket has taken it. */
export async function say(page: Page, text: string) {
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill(text);
  await box.press('Enter');
  await expect(box).toHaveValue('');
}

export const log = (page: Page) => page.getByRole('log');
/** The message whose text is exactly `text`. */
export const item = (page: Page, text: string) =>
  log(page)
    .getByRole('listitem')
    .filter({ has: page.locator('.text').getByText(text, { exact: true }) });
/** Messages whose text contains `fragment`. */
export const itemWith = (page: Page, fragment: string) =>
  log(page).getByRole('listitem').filter({ hasText: fragment });
