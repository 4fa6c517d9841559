/*
 * The OTP demo page: a phone number and a channel -> POST /otp/send ->
 * one long-poll GET /otp/status/{id}?wait=10 -> the code -> POST
 * /otp/verify, which sets the token cookie -> the page the gate sent the
 * user here from (?next=), or the gated page app/.  The JSON shapes are
 * those of the module's HTTP contract (API.md).  No library, no build
 * step.
 */

'use strict';

(function () {

    var API = '/otp';
    var WAIT = 10;                          /* seconds of the long-poll */
    var HOME = 'app/';                      /* after verify, by default */
    var CHANNEL_NAMES = { whatsapp: 'WhatsApp', sms: 'SMS', voice: 'a call' };

    function $(id) {
        return document.getElementById(id);
    }

    /* a POST with a form body; resolves to {status, body} whatever the
     * status, rejects on a network error only */
    function post(path, fields) {
        return fetch(API + path, {
            method: 'POST',
            headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams(fields).toString(),
            credentials: 'same-origin'
        }).then(answer);
    }

    function answer(r) {
        return r.json().catch(function () { return {}; }).then(function (b) {
            return { status: r.status, body: b || {} };
        });
    }

    function plural(n, one, many) {
        return n + ' ' + (n === 1 ? one : many);
    }

    /* Where to go once verified: the gate's ?next= (the URI it refused)
     * if it is a path of this site, else HOME.  Anything else (an absolute
     * URL, "//host", "/\host") is ignored: a sign-in page must not be an
     * open redirector.  The URL parser has the last word, as the browser
     * will when it follows the value. */
    function nextPage() {
        var next = new URLSearchParams(window.location.search).get('next');
        var url;

        if (!next || !/^\/(?![\/\\])/.test(next)
            || /[\u0000-\u001f\u007f]/.test(next))
        {
            return HOME;
        }

        try {
            url = new URL(next, window.location.origin);
        } catch (e) {
            return HOME;
        }

        return url.origin === window.location.origin
               ? url.pathname + url.search + url.hash : HOME;
    }

    /* ------------------------------------------------------------------ */

    function signin() {
        var state = {
            phone: '',
            channel: 'whatsapp',
            messageId: null,
            resendAt: 0,            /* ms: when a new send is allowed */
            poll: null,             /* the long-poll's AbortController */
            timers: {}
        };

        var phoneForm = $('phone-form'), codeForm = $('code-form');
        var phone = $('phone'), code = $('code');

        function say(text) {
            $('status').textContent = text || '';
        }

        function fail(text) {
            $('error').textContent = text || '';
        }

        function show(el, on) {
            el.hidden = !on;
        }

        function focus(el) {
            if (el) {
                el.focus();
            }
        }

        function busy(on) {
            $('send').disabled = on;
            $('verify').disabled = on;
            $('sms-instead').disabled = on;
        }

        /* a live countdown: render(n) each second from n = seconds, then
         * done(); one per name, a new one replaces the old */
        function countdown(name, seconds, render, done) {
            var end = Date.now() + seconds * 1000;

            stop(name);

            function tick() {
                var left = Math.ceil((end - Date.now()) / 1000);
                if (left <= 0) {
                    stop(name);
                    done();
                    return;
                }
                render(left);
            }

            state.timers[name] = setInterval(tick, 250);
            tick();
        }

        function stop(name) {
            if (state.timers[name]) {
                clearInterval(state.timers[name]);
                delete state.timers[name];
            }
        }

        /* 429: said once in the alert, counted down next to it (not in a
         * live region: a screen reader would read every second) */
        function rateLimited(seconds, what, buttons) {
            var cd = $('countdown');

            seconds = Math.max(1, Math.ceil(Number(seconds) || 1));
            fail('Too many requests. ' + what + ' in '
                 + plural(seconds, 'second', 'seconds') + '.');
            buttons.forEach(function (b) { b.disabled = true; });
            show(cd, true);

            countdown('retry', seconds, function (n) {
                cd.textContent = 'You can try again in ' + n + ' s';
            }, function () {
                show(cd, false);
                fail('');
                say('You can try again now.');
                buttons.forEach(function (b) { b.disabled = false; });
                focus(buttons[0]);
            });
        }

        function reset() {
            if (state.poll) {
                state.poll.abort();
                state.poll = null;
            }
            Object.keys(state.timers).forEach(stop);
            show($('countdown'), false);
            show($('wait'), false);
            show($('fallback'), false);
            show(codeForm, false);
            show($('restart-row'), false);
            show(phoneForm, true);
            busy(false);
            code.value = '';
            say('');
            fail('');
            focus(phone);
        }

        function send(channel) {
            var fields = { phone: state.phone, channel: channel };

            fail('');
            busy(true);
            say('Sending the code by ' + CHANNEL_NAMES[channel] + '\u2026');

            post('/send', fields).then(function (r) {
                var b = r.body;

                busy(false);
                phone.removeAttribute('aria-invalid');

                if (r.status === 202) {
                    state.channel = b.channel || channel;
                    state.messageId = b.message_id;
                    state.resendAt = Date.now()
                                     + (Number(b.resend_after) || 0) * 1000;
                    waitForDelivery();
                    return;
                }

                say('');

                switch (r.status === 429 ? 'rate_limited' : b.error) {

                case 'invalid_phone':
                    fail('That is not a phone number we can send to. Enter'
                         + ' it with the country code, e.g. +15551234567.');
                    show(phoneForm, true);
                    phone.setAttribute('aria-invalid', 'true');
                    focus(phone);
                    break;

                case 'opted_out':
                    fail('This number has opted out of our messages (it'
                         + ' replied STOP). Reply START to our number to'
                         + ' receive codes again, or use another number.');
                    show(phoneForm, true);
                    focus(phone);
                    break;

                case 'rate_limited':
                    rateLimited(b.retry_after, 'You can ask for a new code',
                                [ $('send'), $('sms-instead') ]);
                    break;

                case 'delivery_failed':
                    fallback('The code could not be sent by '
                             + CHANNEL_NAMES[channel] + '.', false);
                    break;

                case 'store_unavailable':
                    fail('The service is unavailable right now. Please try'
                         + ' again in a minute.');
                    break;

                default:
                    fail(b.message || 'The code could not be sent (error '
                         + r.status + ').');
                }

            }, function () {
                busy(false);
                say('');
                fail('The server could not be reached. Check your'
                     + ' connection and try again.');
            });
        }

        /* one long-poll: the answer comes when the status is terminal or
         * after WAIT seconds, whichever is first */
        function waitForDelivery() {
            var id = state.messageId, ctl = new AbortController();
            var guard = setTimeout(function () { ctl.abort(); },
                                   (WAIT + 5) * 1000);

            state.poll = ctl;

            show(phoneForm, false);
            show(codeForm, false);
            show($('fallback'), false);
            show($('wait'), true);
            show($('spinner'), true);
            show($('restart-row'), true);
            $('wait-title').textContent =
                'Waiting for delivery confirmation\u2026';
            $('wait-text').textContent = 'A code is on its way to '
                + state.phone + ' by ' + CHANNEL_NAMES[state.channel] + '.';
            say('Code sent. Waiting for delivery confirmation.');
            focus($('wait-title'));

            fetch(API + '/status/' + encodeURIComponent(id) + '?wait='
                  + WAIT, { signal: ctl.signal, cache: 'no-store' })
            .then(answer)
            .then(function (r) {
                return r.status === 200 ? r.body.status : 'unknown';
            }, function () {
                return 'unknown';
            })
            .then(function (status) {
                clearTimeout(guard);

                if (state.poll !== ctl || id !== state.messageId) {
                    return;             /* started over meanwhile */
                }

                state.poll = null;
                show($('spinner'), false);

                if (status === 'delivered' || status === 'read') {
                    show($('wait'), false);
                    askCode('Delivered by ' + CHANNEL_NAMES[state.channel]
                            + ' to ' + state.phone + '.');

                } else if (status === 'failed' || status === 'undelivered') {
                    fallback('The ' + CHANNEL_NAMES[state.channel]
                             + ' message could not be delivered.', false);

                } else {
                    /* no confirmation yet: the message may still have
                     * arrived, so the code can be entered as well */
                    fallback('No delivery confirmation after ' + WAIT
                             + ' seconds.', true);
                }
            });
        }

        /* the user's own fallback choice: SMS (again, if SMS it was) */
        function fallback(text, codeToo) {
            var btn = $('sms-instead'), left;

            show($('wait'), true);
            show($('spinner'), false);
            show($('fallback'), true);
            show($('restart-row'), true);
            show(phoneForm, false);
            $('wait-title').textContent = codeToo
                ? 'Still waiting for the message?' : 'Not delivered';
            $('fallback-text').textContent = text
                + (codeToo ? ' If the code has arrived, enter it below.' : '');

            var label = state.channel === 'sms'
                ? 'Send a new code by SMS' : 'Send by SMS instead';

            btn.textContent = label;
            say(text);

            if (codeToo) {
                show(codeForm, true);
                $('code-hint').textContent = 'The 6-digit code sent to '
                    + state.phone + '.';
            } else {
                show(codeForm, false);
            }

            /* a new send before resend_after would be refused (429):
             * count down to it on the button instead */
            left = Math.ceil((state.resendAt - Date.now()) / 1000);

            if (left > 0) {
                btn.disabled = true;
                countdown('resend', left, function (n) {
                    btn.textContent = label + ' (in ' + n + ' s)';
                }, function () {
                    btn.textContent = label;
                    btn.disabled = false;
                });
            } else {
                btn.disabled = false;
            }

            focus(codeToo ? code : $('wait-title'));
        }

        function askCode(text) {
            show(codeForm, true);
            show($('restart-row'), true);
            $('code-hint').textContent = 'The 6-digit code sent to '
                + state.phone + '.';
            say(text + ' Enter the code.');
            focus(code);
        }

        function verify() {
            var value = code.value.replace(/\s+/g, '');

            fail('');

            if (!/^[0-9]+$/.test(value)) {
                fail('Enter the code from the message: digits only.');
                code.setAttribute('aria-invalid', 'true');
                focus(code);
                return;
            }

            busy(true);
            say('Checking the code\u2026');

            post('/verify', { phone: state.phone, code: value })
            .then(function (r) {
                var b = r.body;

                busy(false);
                say('');

                if (r.status === 200 && b.verified) {
                    /* the token is in the cookie verify set (HttpOnly:
                     * this script never sees it), which the gate reads */
                    say('Verified. Signing you in\u2026');
                    window.location.assign(nextPage());
                    return;
                }

                code.setAttribute('aria-invalid', 'true');

                switch (r.status === 429 ? 'too_many_attempts' : b.error) {

                case 'invalid_code':
                    fail('That code is not right. '
                         + plural(Number(b.attempts_remaining),
                                  'attempt', 'attempts') + ' left.');
                    code.select();
                    focus(code);
                    break;

                case 'expired':
                    fail('This code has expired or was already used.'
                         + ' Ask for a new one.');
                    show(codeForm, false);
                    show($('wait'), false);
                    show(phoneForm, true);
                    focus($('send'));
                    break;

                case 'too_many_attempts':
                    show(codeForm, false);
                    show($('wait'), false);
                    show(phoneForm, true);
                    rateLimited(b.retry_after,
                                'Too many wrong codes: ask for a new code',
                                [ $('send') ]);
                    break;

                case 'invalid_phone':
                case 'invalid_request':
                    fail(b.message || 'The code could not be checked.');
                    focus(code);
                    break;

                case 'store_unavailable':
                    fail('The service is unavailable right now. Please try'
                         + ' again in a minute.');
                    break;

                default:
                    fail(b.message || 'The code could not be checked (error '
                         + r.status + ').');
                }

            }, function () {
                busy(false);
                say('');
                fail('The server could not be reached. Check your'
                     + ' connection and try again.');
            });
        }

        phoneForm.addEventListener('submit', function (ev) {
            var checked = phoneForm.querySelector('input[name=channel]:checked');

            ev.preventDefault();

            state.phone = phone.value.trim();

            if (state.phone === '') {
                fail('Enter your phone number.');
                phone.setAttribute('aria-invalid', 'true');
                focus(phone);
                return;
            }

            send(checked ? checked.value : 'whatsapp');
        });

        codeForm.addEventListener('submit', function (ev) {
            ev.preventDefault();
            verify();
        });

        code.addEventListener('input', function () {
            code.removeAttribute('aria-invalid');
        });

        $('sms-instead').addEventListener('click', function () {
            stop('resend');
            send('sms');
        });

        $('restart').addEventListener('click', reset);

        /* sent here by the gate (or after a sign-out and back) */
        show($('intro'), nextPage() !== HOME);

        focus(phone);
    }

    /* ------------------------------------------------------------------ */

    /* The gated page: nginx wrote the number (SSI) before sending it;
     * served without the gate and SSI, the echo is a bare comment. */
    function app() {
        if ($('who').textContent.trim() === '') {
            $('greeting').textContent = 'You are not signed in';
            $('app-text').textContent = 'This page is meant to be served'
                + ' behind otp_gate, with ssi on (see demo.conf).';
        }

        $('greeting').focus();
    }

    if (document.body.dataset.page === 'app') {
        app();
    } else {
        signin();
    }

}());
