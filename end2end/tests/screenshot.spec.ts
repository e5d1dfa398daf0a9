import { test, expect } from '@playwright/test';
import { item, joinAs, say } from './helpers';

// The README's picture (docs/screenshot.png): two browsers in one room, one reading English,
// the other Chinese, talking. Made by this test on every run, so it shows what Huddle is.
test('the README screenshot: two browsers chatting', async ({ browser }) => {
  const size = { width: 820, height: 560 };
  const ada = await joinAs(browser, 'Ada', async (page) => page.setViewportSize(size));
  const li = await joinAs(browser, '李华', async (page) => page.setViewportSize(size), 'zh-CN');
  const room = `/r/team-${Math.random().toString(36).slice(2, 6)}`;
  await ada.goto(room);
  await li.goto(room);
  const lines: [typeof ada, string, 'en' | 'zh-CN'][] = [
    [ada, 'Morning! Did the deploy go out?', 'en'],
    [li, '早上好！已经上线了，一切正常。', 'zh-CN'],
    [ada, '@李华 great — can you try it from the train? It should survive the tunnels.', 'en'],
    [li, '没问题！断线时打的字会留在发件箱里，重连后只发送一次。', 'zh-CN'],
  ];
  for (const [page, text, lang] of lines) {
    await say(page, text, lang);
    await expect(item(ada, text)).toHaveCount(1);
    await expect(item(li, text)).toHaveCount(1);
  }
  await expect(li.locator('mark.mention')).toHaveCount(1);

  // Side by side on one page, as one image.
  const shots = await Promise.all([ada, li].map((page) => page.screenshot()));
  const sheet = await (await browser.newContext({ viewport: { width: 1680, height: 600 } })).newPage();
  await sheet.setContent(`<body style="margin:0;background:#c9ccd6;display:flex;gap:20px;padding:20px">
    ${shots.map((png) => `<img style="box-shadow:0 2px 12px #0003;border-radius:6px" src="data:image/png;base64,${png.toString('base64')}">`).join('')}
  </body>`);
  await sheet.locator('img').nth(1).evaluate((img: HTMLImageElement) => img.decode());
  await sheet.screenshot({ path: '../docs/screenshot.png' });
});
