import AxeBuilder from '@axe-core/playwright';
import { test, expect, type Page } from '@playwright/test';
import { expectConnected, item, joinAs, log, say, unique } from './helpers';

/** A display name no other test (or run) uses. */
const person = (name: string) => `${name}-${Math.random().toString(36).slice(2, 6)}`;

/** axe-core's serious and critical findings on the page as it is now (WCAG 2.1 A and AA). */
async function seriousViolations(page: Page) {
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'])
    .analyze();
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')) }));
}

test('axe finds nothing serious on the lobby, a room, a DM and the login panel', async ({ browser }) => {
  // The lobby as a first visitor sees it: the name picker.
  const visitor = await (await browser.newContext()).newPage();
  await visitor.goto('/');
  await expectConnected(visitor);
  expect(await seriousViolations(visitor)).toEqual([]);

  // The login panel, open.
  await visitor.getByText('Log in or register').click();
  await expect(visitor.getByRole('textbox', { name: 'Login name' })).toBeVisible();
  expect(await seriousViolations(visitor)).toEqual([]);

  // A room with messages, one's own and another's, as a named person.
  const [adaName, bobName] = [person('Ada'), person('Bob')];
  const ada = await joinAs(browser, adaName);
  const bob = await joinAs(browser, bobName);
  await ada.goto('/r/a11y');
  await expectConnected(ada);
  await bob.goto('/r/a11y');
  await expectConnected(bob);
  await say(ada, unique('hello, accessible world'));
  await say(bob, `@${adaName} ${unique('a mention')}`);
  await expect(ada.locator('mark.mention')).toHaveCount(1);
  expect(await seriousViolations(ada)).toEqual([]);

  // Their DM.
  await ada.getByRole('button', { name: `Message ${bobName}` }).click();
  await expect(ada).toHaveURL(/\/r\/dm-[0-9a-f]+$/);
  await expectConnected(ada);
  await say(ada, unique('privately'));
  expect(await seriousViolations(ada)).toEqual([]);
});

test('keyboard only: tab to the message box, send with Enter, focus stays; Escape closes the login panel', async ({ browser }) => {
  const alice = await joinAs(browser, person('Keys'));
  const bob = await joinAs(browser, person('Ears'));
  await alice.reload();
  await expectConnected(alice);

  // Tab from the top of the page reaches the message box, passing only focusable controls.
  const box = alice.getByRole('textbox', { name: 'Message' });
  let reached = false;
  for (let i = 0; i < 40 && !reached; i++) {
    await alice.keyboard.press('Tab');
    reached = await box.evaluate((el) => el === document.activeElement);
  }
  expect(reached).toBe(true);

  const text = unique('typed without a mouse');
  await alice.keyboard.type(text);
  await alice.keyboard.press('Enter');
  await expect(item(bob, text)).toHaveCount(1);
  await expect(box).toHaveValue('');
  await expect(box).toBeFocused();

  // Tab goes on from the box to its Send button.
  await alice.keyboard.press('Tab');
  await expect(alice.getByRole('button', { name: 'Send' })).toBeFocused();

  // A visitor opens the login panel from the keyboard and closes it with Escape; focus returns
  // to the control that opened it.
  const visitor = await (await browser.newContext()).newPage();
  await visitor.goto('/');
  await expectConnected(visitor);
  const summary = visitor.getByText('Log in or register');
  await summary.focus();
  await visitor.keyboard.press('Enter');
  const name = visitor.getByRole('textbox', { name: 'Login name' });
  await expect(name).toBeVisible();
  await name.focus();
  await visitor.keyboard.press('Escape');
  await expect(name).toBeHidden();
  await expect(summary).toBeFocused();
});

test('the message log is a polite live region that announces only what is added', async ({ browser }) => {
  const alice = await joinAs(browser, person('Talker'));
  const bob = await joinAs(browser, person('Listener'));
  for (let i = 0; i < 3; i++) await say(alice, unique(`earlier ${i}`));

  const region = log(bob);
  await expect(region).toHaveAttribute('aria-live', 'polite');
  await expect(region).toHaveAttribute('aria-relevant', 'additions');
  expect(await region.getAttribute('aria-atomic')).not.toBe('true');

  // Watch the log while one message arrives: the one item is added, none already shown is
  // removed or replaced (which a screen reader would read again).
  await region.evaluate((el) => {
    const list = el.querySelector('ol')!;
    const seen = { added: 0, removed: 0 };
    (window as unknown as { seen: typeof seen }).seen = seen;
    new MutationObserver((records) => {
      for (const r of records) {
        if (r.target !== list) continue;
        r.addedNodes.forEach((n) => { if (n.nodeType === Node.ELEMENT_NODE) seen.added += 1; });
        r.removedNodes.forEach((n) => { if (n.nodeType === Node.ELEMENT_NODE) seen.removed += 1; });
      }
    }).observe(list, { childList: true });
  });
  const text = unique('one more');
  await say(alice, text);
  await expect(item(bob, text)).toHaveCount(1);
  const seen = await bob.evaluate(() => (window as unknown as { seen: { added: number; removed: number } }).seen);
  expect(seen).toEqual({ added: 1, removed: 0 });
});
