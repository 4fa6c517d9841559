// The otp_dashboard page in Debian's chromium, driven by playwright-core,
// against the nginx that t/77-dashboard.t started: the page at
// /otp/dashboard reads fixture JSON (/fixture, the 7-day file when asked
// for 7 days), /dash/empty an empty install's, /dash/down a 503, and
// /dash/hostile markup in a provider name and an error code.
//
// Environment: DASH_URL (http://127.0.0.1:PORT), EXPECT (the texts the
// page must show, from the fixtures, and the browser's fixed clock),
// OUT_DIR (screenshots), SCREENSHOT (the README's, from the laptop view),
// CHROMIUM (default /usr/bin/chromium).
//
// Prints one line per scenario, "ok NAME" or "not ok NAME: why".  In every
// scenario: no page error, no console error (but the 503 the unavailable
// scenario asks for), no CSP violation, nothing wider than the viewport.

import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const base = process.env.DASH_URL;
const expect = JSON.parse(readFileSync(process.env.EXPECT, 'utf8'));
const outDir = process.env.OUT_DIR;

const LAPTOP = { viewport: { width: 1280, height: 800 } };
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true,
                hasTouch: true, deviceScaleFactor: 1 };

// the page's text, with its no-break spaces as spaces
async function text(locator) {
    return ((await locator.textContent()) || '').replace(/\u00a0/g, ' ')
        .trim();
}

function same(got, want, what) {
    if (got !== want) {
        throw new Error(`${what}: "${got}", not "${want}"`);
    }
}

// waits for the totals of a fixture, then checks every figure drawn
async function figures(page, want) {
    await page.locator('#content').waitFor({ state: 'visible' });
    await page.waitForFunction(
        (s) => document.getElementById('t-sent').textContent
               .replace(/\u00a0/g, ' ') === s, want.sent);

    for (const [id, key] of [['t-sent', 'sent'],
                             ['t-delivered', 'delivered'],
                             ['t-failed', 'failed'], ['t-rate', 'rate'],
                             ['t-avg', 'avg'], ['t-p95', 'p95'],
                             ['t-cost', 'cost']]) {
        same(await text(page.locator('#' + id)), want[key], id);
    }

    for (const [box, rates] of [['#rate-channel', want.channels],
                                ['#rate-provider', want.providers]]) {
        const rows = page.locator(box + ' .row');
        const n = await rows.count();
        same(n, Object.keys(rates).length, box + ' rows');
        for (let i = 0; i < n; i++) {
            const name = await text(rows.nth(i).locator('.name'));
            same(await text(rows.nth(i).locator('.value')), rates[name],
                 `${box} ${name}`);
        }
    }

    const first = page.locator('#failures tbody tr').first();
    same(await text(first.locator('td').first()), want.top_failure,
         'the top failure code');
    same(await text(first.locator('td').last()), want.top_failure_count,
         'its count');

    const days = await page.locator('#cost-days li').allTextContents();
    same(days.map((d) => d.replace(/\u00a0/g, ' ')).join('; '),
         want.days.join('; '), 'cost per day');

    // one bar per channel+provider's channel and hour with messages: the
    // fixtures' hours all have every channel
    const bars = await page.locator('#volume svg rect').count();
    if (bars < want.hours_with_data) {
        throw new Error(`${bars} bars for ${want.hours_with_data} hours`);
    }
}

const scenarios = {

    // 24 hours on a laptop, the README's screenshot
    async laptop(page, asked) {
        await page.goto(base + '/otp/dashboard');
        await figures(page, expect.day);
        same(asked.at(-1), `from=${expect.day.from}&to=${expect.day.to}`,
             'the range asked for');
        same(await page.getByRole('button', { name: '24 h' })
                 .getAttribute('aria-pressed'), 'true', '24 h pressed');
        await page.screenshot({ path: process.env.SCREENSHOT,
                                fullPage: true });
    },

    // 7 days: fetched again with the week's from/to, redrawn, and back
    async toggle(page, asked) {
        await page.goto(base + '/otp/dashboard');
        await figures(page, expect.day);
        await page.getByRole('button', { name: '7 d' }).click();
        await figures(page, expect.week);
        same(asked.at(-1), `from=${expect.week.from}&to=${expect.week.to}`,
             'the range asked for');
        same(await page.getByRole('button', { name: '7 d' })
                 .getAttribute('aria-pressed'), 'true', '7 d pressed');
        await page.getByRole('button', { name: '24 h' }).click();
        await figures(page, expect.day);
        same(asked.length, 3, 'fetches');
    },

    // a browser that prefers a dark scheme: the page follows it
    async dark(page) {
        await page.goto(base + '/otp/dashboard');
        await figures(page, expect.day);
        const bg = await page.evaluate(
            () => getComputedStyle(document.body).backgroundColor);
        same(bg, 'rgb(20, 23, 27)', 'the dark background');
    },

    // the same on a phone
    async phone(page) {
        await page.goto(base + '/otp/dashboard');
        await figures(page, expect.day);
        await page.getByRole('button', { name: '7 d' }).click();
        await figures(page, expect.week);
    },

    // a new install: zeros, dashes, and why
    async empty(page) {
        await page.goto(base + '/dash/empty');
        await page.locator('#content').waitFor({ state: 'visible' });
        same(await text(page.locator('#t-sent')), '0', 'sent');
        same(await text(page.locator('#t-rate')), '\u2014', 'rate');
        same(await text(page.locator('#t-p95')), '\u2014', 'p95');
        same(await text(page.locator('#t-cost')), '0.00', 'cost');
        const status = await text(page.getByRole('status'));
        if (!/No messages in this period yet/.test(status)) {
            throw new Error(`the notice: "${status}"`);
        }
        if (await page.locator('#volume svg').count()) {
            throw new Error('a chart of nothing');
        }
    },

    // the endpoint answers 503: a message, no figures
    async unavailable(page) {
        await page.goto(base + '/dash/down');
        const alert = page.getByRole('alert');
        await alert.waitFor({ state: 'visible' });
        const t = await text(alert);
        if (!/unavailable \(HTTP 503, store_unavailable\)\. Try again/
              .test(t)) {
            throw new Error(`the alert: "${t}"`);
        }
        if (await page.locator('#content').isVisible()) {
            throw new Error('figures shown');
        }
        return 'allow-503';
    },

    // the endpoint refuses the range: its sentence shown, as text
    async refused(page) {
        await page.goto(base + '/dash/refused');
        const alert = page.getByRole('alert');
        await alert.waitFor({ state: 'visible' });
        same(await text(alert), 'The analytics are unavailable (HTTP 400, '
             + 'invalid_request). <b>Too long</b>', 'the alert');
        return 'allow-400';
    },

    // markup from a provider: shown as text, never parsed
    async hostile(page) {
        await page.goto(base + '/dash/hostile');
        await page.locator('#content').waitFor({ state: 'visible' });
        const first = page.locator('#failures tbody tr').first();
        await first.waitFor();
        same(await text(first.locator('td').first()), expect.evil_code,
             'the code, as text');
        const names = await page.locator('#rate-provider .name')
            .allTextContents();
        if (!names.includes(expect.evil_provider)) {
            throw new Error('the provider name not shown as text: '
                            + JSON.stringify(names));
        }
        const bad = await page.evaluate(() => ({
            xss: window.__xss,
            img: document.querySelectorAll('img').length,
            scripts: document.querySelectorAll('script').length,
        }));
        same(JSON.stringify(bad), '{"img":0,"scripts":1}',
             'elements from the JSON');
        // this answer was cut short by the store: the page says so
        const status = await text(page.getByRole('status'));
        if (!/Only the newest hours/.test(status)) {
            throw new Error(`the truncated notice: "${status}"`);
        }
    },
};

const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
           '--disable-background-networking', '--disable-component-update',
           '--disable-sync'],
});

let failed = 0;

try {
    for (const [name, run] of Object.entries(scenarios)) {
        const device = name === 'phone' || name === 'empty' ? PHONE : LAPTOP;
        const context = await browser.newContext(Object.assign(
            { colorScheme: name === 'dark' ? 'dark' : 'light' }, device));
        const page = await context.newPage();
        page.setDefaultTimeout(10000);

        // the ranges are those of a fixed "now"
        await page.clock.setFixedTime(new Date(expect.now));

        // a CSP violation is an event in the page, seen from its start
        await page.addInitScript(() => {
            window.__csp = [];
            document.addEventListener('securitypolicyviolation', (e) => {
                window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
            });
        });

        const asked = [];
        page.on('request', (req) => {
            const u = new URL(req.url());
            if (u.pathname.startsWith('/fixture')) {
                asked.push(u.search.slice(1).replace(/%3A/g, ':'));
            }
        });

        const problems = [];
        const consoleErrors = [];
        page.on('pageerror', (e) => problems.push('page error: ' + e.message));
        page.on('console', (m) => {
            if (m.type() === 'error') {
                consoleErrors.push(m.text());
            }
        });

        try {
            const kept = await run(page, asked);
            await page.screenshot({ path: `${outDir}/${name}.png`,
                                    fullPage: true });
            const wide = await page.evaluate(
                () => document.documentElement.scrollWidth);
            if (wide > device.viewport.width) {
                problems.push(`the page is ${wide}px wide at `
                              + `${device.viewport.width}px`);
            }
            const csp = await page.evaluate(() => window.__csp);
            if (csp.length) {
                problems.push('CSP violations: ' + csp.join(', '));
            }
            for (const e of consoleErrors) {
                if (!(kept && /^allow-/.test(kept)
                      && e.includes('status of ' + kept.slice(6)))) {
                    problems.push('console: ' + e);
                }
            }
            if (problems.length) {
                throw new Error(problems.join('; '));
            }
            console.log(`ok ${name}`);
        } catch (e) {
            failed++;
            await page.screenshot({ path: `${outDir}/${name}-failed.png`,
                                    fullPage: true }).catch(() => {});
            console.log(`not ok ${name}: ${String(e.message).split('\n')[0]}`);
        }

        await context.close();
    }
} finally {
    await browser.close();
}

process.exit(failed ? 1 : 0);
