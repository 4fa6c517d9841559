// The demo page (conf-examples/demo/) in Debian's chromium, driven by
// playwright-core, against the nginx that t/61-browser.t started with
// conf-examples/demo.conf and the tests' mock Twilio, which posts signed
// status callbacks for every message it accepts (failed for the WhatsApp
// message of FALLBACK, delivered for all others).
//
// Environment: DEMO_URL (http://127.0.0.1:PORT), MOCK_LOG (the mock's
// request log, where the codes are read from), OUT_DIR (screenshots),
// CHROMIUM (default /usr/bin/chromium).
//
// Prints one line per scenario, "ok NAME" or "not ok NAME: why", which
// the Perl test turns into its tests; the elements are found by their
// labels and roles, as a screen reader finds them.

import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const base = process.env.DEMO_URL;
const mockLog = process.env.MOCK_LOG;
const outDir = process.env.OUT_DIR;

const HAPPY = '+15550100010';
const WRONG = '+15550100020';
const FALLBACK = '+15550100030';
const LIMITED = '+15550100040';
const SIGNOUT = '+15550100050';

// where the gate sends a browser without a token: the sign-in page, with
// the refused URI in next=
const LOGIN = /\/demo\/\?next=%2Fdemo%2Fapp%2F$/;

// the code of the last message the mock accepted for a number (and a
// channel: "whatsapp" or "sms"), from its Body or ContentVariables
function codeFor(phone, channel) {
    const want = channel === 'whatsapp' ? 'whatsapp:' + phone : phone;
    let code = null;

    for (const line of readFileSync(mockLog, 'utf8').split('\n')) {
        if (!line) {
            continue;
        }
        const r = JSON.parse(line);
        if (r.method !== 'POST' || !/\/Messages\.json$/.test(r.path)) {
            continue;
        }
        const f = new URLSearchParams(r.body);
        if (f.get('To') !== want) {
            continue;
        }
        const text = f.get('Body') || f.get('ContentVariables') || '';
        const m = text.match(/(?<![0-9+])([0-9]{6})(?![0-9])/);
        if (m) {
            code = m[1];
        }
    }

    if (!code) {
        throw new Error(`no ${channel} message to ${phone} in the mock's log`);
    }
    return code;
}

async function start(page, phone, channel, path) {
    if (path !== null) {
        await page.goto(base + (path || '/demo/'));
    }
    await page.getByLabel('Phone number').fill(phone);
    await page.getByLabel(channel === 'sms' ? 'SMS' : 'WhatsApp').check();
    await page.getByRole('button', { name: 'Send code' }).click();
}

async function expectText(locator, re, what) {
    await locator.waitFor({ state: 'visible' });
    const deadline = Date.now() + 15000;
    let text = '';
    while (Date.now() < deadline) {
        text = (await locator.textContent()) || '';
        if (re.test(text)) {
            return text;
        }
        await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${what}: "${text}" does not match ${re}`);
}

// the token cookie verify set, as the browser keeps it (null if none)
async function tokenCookie(page) {
    const all = await page.context().cookies(base);
    return all.find((c) => c.name === 'otp_token') || null;
}

// the gated page, greeting PHONE: the number nginx wrote into it (SSI,
// $otp_phone), from the token the gate accepted
async function expectGreeting(page, phone) {
    await page.waitForURL(/\/demo\/app\/$/);
    await expectText(page.getByRole('heading', { level: 1 }),
                     new RegExp('^Hello \\' + phone + '$'), 'the greeting');
}

const scenarios = {

    // WhatsApp, delivered, the right code: the gated page greets the
    // number.  The page was opened with an off-site next=, which it does
    // not follow.
    async happy(page) {
        await start(page, HAPPY, 'whatsapp',
                    '/demo/?next=' + encodeURIComponent('//evil.example/'));
        await expectText(page.getByRole('status'),
                         /Waiting for delivery confirmation/,
                         'while waiting');
        const code = page.getByLabel('Code', { exact: true });
        await code.waitFor({ state: 'visible' });
        await expectText(page.getByRole('status'),
                         /Delivered by WhatsApp/, 'after the callback');
        if (!(await code.evaluate((el) => el === document.activeElement))) {
            throw new Error('the code field is not focused');
        }
        await code.fill(codeFor(HAPPY, 'whatsapp'));
        await page.getByRole('button', { name: 'Verify' }).click();
        await expectGreeting(page, HAPPY);
        const c = await tokenCookie(page);
        if (!c || !c.httpOnly || c.sameSite !== 'Lax') {
            throw new Error('no HttpOnly, SameSite=Lax token cookie: '
                            + JSON.stringify(c));
        }
    },

    // the gated page without a token: the gate redirects to the sign-in
    // page, which says why
    async gate_redirect(page) {
        await page.goto(base + '/demo/app/');
        await page.waitForURL(LOGIN);
        await expectText(page.locator('#intro'), /sign in first/,
                         'the sign-in page\'s note');
        if (await page.locator('#who').count()) {
            throw new Error('the gated page was shown');
        }
    },

    // sent to sign in by the gate, back to the gated page once verified
    // (next=); "Sign out" clears the cookie, and the gated page then
    // redirects again
    async sign_out(page) {
        await page.goto(base + '/demo/app/');
        await page.waitForURL(LOGIN);
        await start(page, SIGNOUT, 'sms', null);
        const code = page.getByLabel('Code', { exact: true });
        await code.waitFor({ state: 'visible' });
        await code.fill(codeFor(SIGNOUT, 'sms'));
        await page.getByRole('button', { name: 'Verify' }).click();
        await expectGreeting(page, SIGNOUT);
        if (!(await tokenCookie(page))) {
            throw new Error('no token cookie after verify');
        }
        await page.getByRole('link', { name: 'Sign out' }).click();
        await page.waitForURL(/\/demo\/$/);
        if (await tokenCookie(page)) {
            throw new Error('the token cookie is still there after sign-out');
        }
        await page.goto(base + '/demo/app/');
        await page.waitForURL(LOGIN);
        await expectText(page.locator('#intro'), /sign in first/,
                         'the sign-in page\'s note');
    },

    // SMS, a wrong code: the attempts left
    async wrong_code(page) {
        await start(page, WRONG, 'sms');
        const code = page.getByLabel('Code', { exact: true });
        await code.waitFor({ state: 'visible' });
        const right = codeFor(WRONG, 'sms');
        const wrong = right.slice(0, 5) + ((+right[5] + 1) % 10);
        await code.fill(wrong);
        await page.getByRole('button', { name: 'Verify' }).click();
        await expectText(page.getByRole('alert'),
                         /not right\. 4 attempts left/, 'the alert');
    },

    // WhatsApp reported failed: "Send by SMS instead" (once resend_after
    // has passed: the button counts down to it), then SMS, delivered, the
    // code, the greeting
    async sms_fallback(page) {
        await start(page, FALLBACK, 'whatsapp');
        await expectText(page.getByRole('status'),
                         /WhatsApp message could not be delivered/,
                         'after the failed callback');
        const btn = page.getByRole('button', { name: /Send by SMS instead/ });
        await btn.waitFor({ state: 'visible' });
        await expectText(btn, /^Send by SMS instead$/, 'the button');
        await btn.click();
        const code = page.getByLabel('Code', { exact: true });
        await code.waitFor({ state: 'visible' });
        await expectText(page.getByRole('status'), /Delivered by SMS/,
                         'after the SMS');
        await code.fill(codeFor(FALLBACK, 'sms'));
        await page.getByRole('button', { name: 'Verify' }).click();
        await expectGreeting(page, FALLBACK);
    },

    // a send too early (another tab sent a code a moment ago): 429, and a
    // countdown from retry_after that runs down and gives the button back
    async rate_limited(page) {
        await page.goto(base + '/demo/');
        const first = await page.request.post(base + '/otp/send', {
            form: { phone: LIMITED, channel: 'sms' } });
        if (first.status() !== 202) {
            throw new Error(`the first send answered ${first.status()}`);
        }
        await start(page, LIMITED, 'sms');
        await expectText(page.getByRole('alert'),
                         /Too many requests\. You can ask for a new code in \d+ seconds?\./,
                         'the alert');
        const cd = page.locator('#countdown');
        await expectText(cd, /You can try again in \d+ s/, 'the countdown');
        const send = page.getByRole('button', { name: 'Send code' });
        if (!(await send.isDisabled())) {
            throw new Error('the send button is enabled during the countdown');
        }
        await page.screenshot({ path: `${outDir}/rate_limited.png`,
                                fullPage: true });
        await send.waitFor({ state: 'visible' });
        await page.waitForFunction(
            () => !document.getElementById('send').disabled, null,
            { timeout: 15000 });
        await expectText(page.getByRole('status'), /try again now/,
                         'after the countdown');
        return 'countdown';
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
        // a phone-sized viewport, a context (cookies, storage) of its own
        const context = await browser.newContext({
            viewport: { width: 375, height: 740 }, deviceScaleFactor: 1,
            isMobile: true, hasTouch: true });
        const page = await context.newPage();
        page.setDefaultTimeout(15000);

        const problems = [];
        page.on('pageerror', (e) => problems.push('page error: ' + e.message));
        page.on('console', (m) => {
            if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) {
                problems.push('console: ' + m.text());
            }
        });

        try {
            const kept = await run(page);
            if (kept !== 'countdown') {
                await page.screenshot({ path: `${outDir}/${name}.png`,
                                        fullPage: true });
            }
            // the page is no wider than the phone: nothing to scroll
            // sideways
            const wide = await page.evaluate(
                () => document.documentElement.scrollWidth);
            if (wide > 375) {
                problems.push(`the page is ${wide}px wide at 375px`);
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
