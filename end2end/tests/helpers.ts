import { expect, type Browser, type BrowserContext, type Page } from '@playwright/test';

/** A text no other test or run has sent. */
export const unique = (label: string) =>
  `${label} ${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

/** The languages the page speaks, and the words of it the tests read. */
export type Lang = 'en' | 'zh-CN';
export const WORDS = {
  en: {
    displayName: 'Display name',
    joinChat: 'Join chat',
    message: 'Message',
    send: 'Send',
    connected: 'Connected',
    disconnected: 'Disconnected',
    connect: 'Connect',
    disconnect: 'Disconnect',
    you: '(you)',
    // en-US writes a time of day as 2:05 PM.
    time: /^\d{1,2}:\d\d\s[AP]M$/,
  },
  'zh-CN': {
    displayName: '显示名称',
    joinChat: '加入聊天',
    message: '消息',
    send: '发送',
    connected: '已连接',
    disconnected: '已断开',
    connect: '连接',
    disconnect: '断开连接',
    you: '（你）',
    // zh-CN writes a time of day on the 24-hour clock, the hour without a leading zero: 0:54, 14:05.
    time: /^\d{1,2}:\d\d$/,
  },
} as const;

const refusedByPolicy = new WeakMap<Page, string[]>();

/** Starts collecting what the page's Content-Security-Policy refuses (Chromium reports each
 * refusal as a console error). */
export function watchPolicy(page: Page) {
  const refused: string[] = [];
  refusedByPolicy.set(page, refused);
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) {
      refused.push(message.text());
    }
  });
}

/** What the page's policy refused so far (see `watchPolicy`): nothing, on a working page. */
export const policyRefusals = (page: Page) => refusedByPolicy.get(page) ?? [];

/** Picks `name` on an open page and waits until its socket is connected. */
export async function pickName(page: Page, name: string, lang: Lang = 'en') {
  const words = WORDS[lang];
  await page.getByRole('textbox', { name: words.displayName }).fill(name);
  await page.getByRole('button', { name: words.joinChat }).click();
  await expect(page.getByRole('textbox', { name: words.message })).toBeVisible();
  await expectConnected(page, lang);
}

/** A fresh browser context (its own cookies) that has picked `name` and is connected. */
export async function joinAs(
  browser: Browser,
  name: string,
  prepare?: (page: Page, context: BrowserContext) => Promise<void>,
  lang: Lang = 'en',
): Promise<Page> {
  // The browser's language: navigator.language and the Accept-Language the server reads.
  const context = await browser.newContext({ locale: lang === 'en' ? 'en-US' : lang });
  const page = await context.newPage();
  watchPolicy(page);
  page.on('dialog', (dialog) => {
    throw new Error(`unexpected dialog: ${dialog.message()}`);
  });
  if (prepare) await prepare(page, context);
  await page.goto('/');
  await pickName(page, name, lang);
  return page;
}

export async function expectConnected(page: Page, lang: Lang = 'en') {
  const status = page.getByRole('status');
  await expect(status).toHaveAttribute('data-ready-state', '1');
  await expect(status).toHaveText(WORDS[lang].connected);
}

/** Types `text` and presses Enter; the box empties once the socket has taken it. */
export async function say(page: Page, text: string, lang: Lang = 'en') {
  const box = page.getByRole('textbox', { name: WORDS[lang].message });
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
